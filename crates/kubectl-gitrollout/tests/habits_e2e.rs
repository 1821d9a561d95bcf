//! kubectl habits end to end, on the real control plane: several workloads, selectors and `-A`,
//! relative revisions, `-o name|jsonpath`, `--no-headers`, `diff --exit-code`, and kubectl's
//! identity flags against real RBAC.

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::{
    TestNamespace, play_daemonset_story, play_deployment_story, play_statefulset_story,
};
use serde_json::Value;

/// `team-app` with revisions 1 to 3 (nginx 1.16, 1.17, 1.18), and `team-web` with revisions 1
/// and 2 (nginx 1.20, 1.21), both labelled `tier=front` by the test, `app=NAME` by kubectl.
fn two_deployments(ns: &TestNamespace) {
    play_deployment_story(ns);
    let status = ["rollout", "status", "deployment/team-web", "--timeout=120s"];
    ns.kubectl_ok(&["create", "deployment", "team-web", "--image=nginx:1.20"]);
    ns.kubectl_ok(&status);
    ns.kubectl_ok(&["set", "image", "deployment/team-web", "nginx=nginx:1.21"]);
    ns.kubectl_ok(&status);
    ns.kubectl_ok(&["label", "deployment", "team-app", "team-web", "tier=front"]);
}

fn names(list: &Value) -> Vec<String> {
    assert_eq!(list["kind"], "List", "{list}");
    let items = list["items"].as_array().expect("items");
    items
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn several_workloads_selectors_and_all_namespaces() {
    let ns = TestNamespace::new("habits-several").await;
    two_deployments(&ns);

    // Both spellings; a block per workload, each headed by its name.
    for args in [
        &["history", "deploy/team-app", "deployment/team-web"][..],
        &["history", "deploy", "team-app", "team-web"][..],
    ] {
        let run = gitrollout(&ns).args(args).assert().success();
        let text = stdout(&run);
        let titles: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("deployment.apps/"))
            .collect();
        assert_eq!(
            titles,
            ["deployment.apps/team-app", "deployment.apps/team-web"],
            "{text}"
        );
        assert_eq!(text.matches("CHANGE-CAUSE").count(), 2, "{text}");
    }

    // -o json of several is a List of the one-workload documents.
    let list = run_json(
        &ns,
        &[
            "history",
            "deploy/team-app",
            "deploy/team-web",
            "-o",
            "json",
        ],
    );
    assert_eq!(names(&list), ["team-app", "team-web"]);
    assert_eq!(revisions_of(&list["items"][1]).len(), 2);
    assert_eq!(list["items"][0]["namespace"], ns.name.as_str());

    // A selector with a TYPE: one table with a NAME column, and a List even for one match.
    let selected = run_json(
        &ns,
        &["history", "deploy", "-l", "app=team-web", "-o", "json"],
    );
    assert_eq!(names(&selected), ["team-web"]);
    let both = run_json(
        &ns,
        &[
            "history",
            "deployments",
            "--selector",
            "tier=front",
            "-o",
            "json",
        ],
    );
    assert_eq!(names(&both), ["team-app", "team-web"]);
    let table = gitrollout(&ns)
        .args(["history", "deploy", "-l", "tier=front"])
        .assert()
        .success();
    let table = stdout(&table);
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("NAME ") && rows[0].contains("REVISION"),
        "{table}"
    );
    assert_eq!(rows.len(), 1 + 3 + 2, "{table}");
    assert!(
        rows[5].starts_with("deployment.apps/team-web") && rows[5].contains('*'),
        "{table}"
    );

    // Whatever matches, a selection costs one LIST of the workloads and one of their ReplicaSets.
    let run = gitrollout(&ns)
        .args(["-v=6", "history", "deploy", "-l", "tier=front"])
        .assert()
        .success();
    let log = stderr(&run);
    let requests: Vec<&str> = log.lines().collect();
    assert_eq!(requests.len(), 2, "{log}");
    assert!(
        requests[0].contains("/deployments?") && requests[0].contains("labelSelector=tier%3Dfront"),
        "{log}"
    );
    assert!(requests[1].contains("/replicasets"), "{log}");

    // -A: every namespace, with a NAMESPACE column.
    let all = run_json(&ns, &["history", "deploy", "-A", "-o", "json"]);
    let ours: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["namespace"] == ns.name.as_str())
        .collect();
    assert_eq!(ours.len(), 2, "{all}");
    let table = gitrollout(&ns)
        .args(["history", "deploy", "-A", "-l", "app=team-web"])
        .assert()
        .success();
    let table = stdout(&table);
    assert!(
        table.starts_with("NAMESPACE ") && table.contains(&ns.name),
        "{table}"
    );

    // A selection that matches nothing says so, as kubectl does.
    let none = gitrollout(&ns)
        .args(["history", "deploy", "-l", "app=nothing"])
        .assert()
        .success();
    assert_eq!(stdout(&none), "");
    assert!(
        stderr(&none).contains("No resources found"),
        "{}",
        stderr(&none)
    );

    // diff of several: one diff each.
    let diff = gitrollout(&ns)
        .args(["diff", "deploy", "team-app", "team-web"])
        .assert()
        .success();
    let diff = stdout(&diff);
    assert!(
        diff.contains("+  - image: nginx:1.18") && diff.contains("+  - image: nginx:1.21"),
        "{diff}"
    );

    // One that cannot be compared (a single revision) is said, the others are still compared,
    // and the command fails.
    ns.kubectl_ok(&["create", "deployment", "team-new", "--image=nginx:1.16"]);
    ns.rollout_status("deployment/team-new");
    let run = gitrollout(&ns)
        .args(["diff", "deploy", "team-new", "team-app"])
        .assert()
        .code(1);
    assert!(
        stdout(&run).contains("+  - image: nginx:1.18"),
        "{}",
        stdout(&run)
    );
    let err = stderr(&run);
    assert!(
        err.contains("is the first in the history of deployment.apps/team-new")
            && err.ends_with("error: could not compare revisions of deployment.apps/team-new\n"),
        "{err}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn nothing_given_is_silently_ignored() {
    let ns = TestNamespace::new("habits-refusals").await;
    two_deployments(&ns);
    let before = run_json(&ns, &["history", "deploy/team-app", "-o", "json"]);

    for (args, expect) in [
        (
            &["revert", "deploy/team-app", "deploy/team-web"][..],
            "revert acts on exactly one workload",
        ),
        (
            &["revert", "deploy/team-app", "deploy/team-web", "--dry-run"][..],
            "exactly one workload",
        ),
        (
            &[
                "record",
                "deploy/team-app",
                "deploy/team-web",
                "--commit",
                "HEAD",
            ][..],
            "record acts on exactly one workload",
        ),
        (
            &["history", "deploy/team-app", "team-web"][..],
            "is neither TYPE/NAME nor a revision",
        ),
        (
            &["history", "deploy", "team-app", "2"][..],
            "too many arguments",
        ),
        (
            &["diff", "deploy/team-app", "1", "2", "3"][..],
            "at most 2 revisions",
        ),
        (
            &["history", "deploy/team-app", "-l", "app=x"][..],
            "give the TYPE alone",
        ),
        (
            &[
                "history",
                "deploy/team-app",
                "deploy/team-web",
                "--revision",
                "1",
            ][..],
            "name a single workload",
        ),
        (
            &["history", "deploy/team-app", "-o", "jsonpath={.name"][..],
            "a { without its }",
        ),
    ] {
        let run = gitrollout(&ns).args(args).assert().code(2);
        assert!(stderr(&run).contains(expect), "{args:?}: {}", stderr(&run));
    }
    // Nothing was written.
    let after = run_json(&ns, &["history", "deploy/team-app", "-o", "json"]);
    assert_eq!(revisions_of(&before), revisions_of(&after));
    ns.delete().await;
}

#[tokio::test]
async fn revisions_count_back_from_the_current_one() {
    let ns = TestNamespace::new("habits-relative").await;
    play_deployment_story(&ns);

    let one = run_json(
        &ns,
        &[
            "history",
            "deploy/team-app",
            "--revision",
            "-1",
            "-o",
            "json",
        ],
    );
    assert_eq!(one["revision"], 2);
    let one = run_json(
        &ns,
        &["history", "deploy/team-app", "--revision=-2", "-o", "json"],
    );
    assert_eq!(one["revision"], 1);

    let diff = gitrollout(&ns)
        .args(["diff", "deploy/team-app", "-2", "-1"])
        .assert()
        .success();
    let diff = stdout(&diff);
    assert!(
        diff.contains("--- deployment.apps/team-app revision 1")
            && diff.contains("+++ deployment.apps/team-app revision 2"),
        "{diff}"
    );

    // --to-revision 0 is the previous one, as kubectl's; -2 the one before it.
    for (to, restored) in [
        ("0", "revision 2"),
        ("-1", "revision 2"),
        ("-2", "revision 1"),
    ] {
        let run = gitrollout(&ns)
            .args([
                "revert",
                "deploy/team-app",
                "--to-revision",
                to,
                "--dry-run",
            ])
            .assert()
            .success();
        let note = stderr(&run);
        assert!(
            note.contains(&format!("would be reverted to {restored}")),
            "{to}: {note}"
        );
    }

    let run = gitrollout(&ns)
        .args(["history", "deploy/team-app", "--revision", "-3"])
        .assert()
        .code(1);
    assert!(
        stderr(&run).contains("revision -3 of deployment.apps/team-app does not exist: revision 3 is current and only 2 revisions exist before it"),
        "{}",
        stderr(&run)
    );
    ns.delete().await;
}

#[tokio::test]
async fn output_formats_as_kubectl_s() {
    let ns = TestNamespace::new("habits-output").await;
    two_deployments(&ns);

    let name = gitrollout(&ns)
        .args(["history", "deploy", "team-app", "team-web", "-o", "name"])
        .assert()
        .success();
    assert_eq!(
        stdout(&name),
        "deployment.apps/team-app\ndeployment.apps/team-web\n"
    );

    let path = gitrollout(&ns)
        .args([
            "history",
            "deploy/team-app",
            "-o",
            "jsonpath={.revisions[*].revision}",
        ])
        .assert()
        .success();
    assert_eq!(stdout(&path), "1 2 3");
    let template = r#"jsonpath={range .items[*]}{.name}{"\t"}{.revisions[?(@.current==true)].containers[0].image}{"\n"}{end}"#;
    let path = gitrollout(&ns)
        .args(["history", "deploy", "-l", "tier=front", "-o", template])
        .assert()
        .success();
    assert_eq!(
        stdout(&path),
        "team-app\tnginx:1.18\nteam-web\tnginx:1.21\n"
    );

    let table = gitrollout(&ns)
        .args(["history", "deploy/team-app", "--no-headers"])
        .assert()
        .success();
    let table = stdout(&table);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[2].starts_with('*') && !table.contains("REVISION"),
        "{table}"
    );
    let table = gitrollout(&ns)
        .args([
            "history",
            "deploy",
            "team-app",
            "team-web",
            "-o",
            "wide",
            "--no-headers",
        ])
        .assert()
        .success();
    let table = stdout(&table);
    assert_eq!(table.lines().count(), 5, "{table}");
    assert!(
        table
            .lines()
            .all(|l| l.starts_with("deployment.apps/team-")),
        "{table}"
    );

    // diff --exit-code: 1 when the revisions differ, 0 when they do not.
    let differ = gitrollout(&ns)
        .args(["diff", "deploy/team-app", "--exit-code"])
        .assert()
        .code(1);
    assert!(stdout(&differ).contains("+  - image: nginx:1.18"));
    assert_eq!(stderr(&differ), "");
    gitrollout(&ns)
        .args(["diff", "deploy/team-app", "2", "2", "--exit-code"])
        .assert()
        .success();
    ns.delete().await;
}

/// A ServiceAccount, and a Role and RoleBinding that let it read rollout history, or nothing.
fn service_account(ns: &TestNamespace, name: &str, can_read: bool) -> String {
    ns.kubectl_ok(&["create", "serviceaccount", name]);
    if can_read {
        let role = format!("{name}-history");
        ns.kubectl_ok(&[
            "create",
            "role",
            &role,
            "--verb=get,list",
            "--resource=deployments.apps,replicasets.apps",
        ]);
        let subject = format!("--serviceaccount={}:{name}", ns.name);
        ns.kubectl_ok(&[
            "create",
            "rolebinding",
            &role,
            &format!("--role={role}"),
            &subject,
        ]);
    }
    format!("system:serviceaccount:{}:{name}", ns.name)
}

#[tokio::test]
async fn identity_flags_act_as_another_user() {
    let ns = TestNamespace::new("habits-identity").await;
    play_deployment_story(&ns);
    let restricted = service_account(&ns, "restricted", false);
    let reader = service_account(&ns, "reader", true);

    let refused = gitrollout(&ns)
        .args(["--as", &restricted, "history", "deploy/team-app"])
        .assert()
        .code(1);
    let err = stderr(&refused);
    assert!(
        err.contains("forbidden: RBAC does not allow get on deployments.apps")
            && err.contains(&ns.name)
            && err.contains(&restricted),
        "{err}"
    );

    let allowed = run_json(
        &ns,
        &["--as", &reader, "history", "deploy/team-app", "-o", "json"],
    );
    assert_eq!(revisions_of(&allowed).len(), 3);

    // Groups are repeatable, and a binding to a group lets its members read.
    ns.kubectl_ok(&[
        "create",
        "rolebinding",
        "readers",
        "--role=reader-history",
        "--group=history-readers",
    ]);
    let allowed = run_json(
        &ns,
        &[
            "--as=someone",
            "--as-group=other",
            "--as-group=history-readers",
            "history",
            "deploy/team-app",
            "-o",
            "json",
        ],
    );
    assert_eq!(allowed["name"], "team-app");
    let refused = gitrollout(&ns)
        .args([
            "--as=someone",
            "--as-group=other",
            "history",
            "deploy/team-app",
        ])
        .assert()
        .code(1);
    assert!(
        stderr(&refused).contains("forbidden"),
        "{}",
        stderr(&refused)
    );

    // --as-group alone is bad usage, as for kubectl.
    gitrollout(&ns)
        .args(["--as-group=x", "history", "deploy/team-app"])
        .assert()
        .code(2);
    ns.delete().await;
}

#[tokio::test]
async fn helm_and_gitops_guards_refuse_only_on_sure_marks() {
    let ns = TestNamespace::new("habits-guards").await;
    play_deployment_story(&ns);
    let revert = |extra: &[&str]| {
        let mut cmd = gitrollout(&ns);
        cmd.args(["revert", "deploy/team-app"]).args(extra);
        cmd
    };

    // The stock ingress-nginx labels, applied with plain kubectl: a warning, and the revert.
    ns.kubectl_ok(&[
        "label",
        "deployment",
        "team-app",
        "app.kubernetes.io/instance=team-app",
    ]);
    let run = revert(&[]).assert().success();
    assert!(
        stdout(&run).contains("reverted to revision 2 as revision 4"),
        "{}",
        stdout(&run)
    );
    assert!(
        stderr(&run).contains("warning: deployment.apps/team-app carries a label of Argo CD or a Helm chart (label app.kubernetes.io/instance)"),
        "{}",
        stderr(&run)
    );

    // A Helm release: refused, pointing to helm; a dry run only warns.
    ns.kubectl_ok(&[
        "label",
        "deployment",
        "team-app",
        "app.kubernetes.io/managed-by=Helm",
    ]);
    ns.kubectl_ok(&[
        "annotate",
        "deployment",
        "team-app",
        "meta.helm.sh/release-name=team",
        &format!("meta.helm.sh/release-namespace={}", ns.name),
    ]);
    let run = revert(&[]).assert().code(1);
    let err = stderr(&run);
    assert!(
        err.contains("error: deployment.apps/team-app is managed by Helm (release team): its next `helm upgrade` would keep")
            && err.contains(&format!("hint: see the release's revisions with `helm history team -n {}`", ns.name))
            && err.contains("`helm rollback team REVISION"),
        "{err}"
    );
    let run = revert(&["--dry-run"]).assert().success();
    assert!(
        stdout(&run).starts_with("--- deployment.apps/team-app (live)"),
        "{}",
        stdout(&run)
    );
    assert!(
        stderr(&run).contains("without --dry-run this revert is refused unless --force"),
        "{}",
        stderr(&run)
    );

    // Argo CD's tracking annotation: refused, pointing to git.
    ns.kubectl_ok(&[
        "annotate",
        "deployment",
        "team-app",
        "argocd.argoproj.io/tracking-id=app:apps/Deployment:x/team-app",
    ]);
    let run = revert(&[]).assert().code(1);
    assert!(
        stderr(&run).contains("is managed by Argo CD (annotation argocd.argoproj.io/tracking-id)"),
        "{}",
        stderr(&run)
    );

    // Nothing was written by the refusals: revision 4 is still the last.
    let doc = run_json(&ns, &["history", "deploy/team-app", "-o", "json"]);
    assert_eq!(doc["currentRevision"], 4);

    // A dry run honours KUBECTL_EXTERNAL_DIFF, as diff does.
    let run = revert(&["--dry-run", "--to-revision", "1"])
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECTL_EXTERNAL_DIFF", "diff -u")
        .assert()
        .success();
    let out = stdout(&run);
    assert!(
        out.contains("/live/deployment.apps.team-app.yaml")
            && out.contains("/reverted/deployment.apps.team-app.yaml"),
        "{out}"
    );
    assert!(
        out.contains("-  - image: nginx:1.17") && out.contains("+  - image: nginx:1.16"),
        "{out}"
    );
    ns.delete().await;
}

/// `kubectl __complete gitrollout WORDS...` with the plugin and `kubectl_complete-gitrollout`
/// on PATH, as kubectl's shell completion calls it: the candidates, without the directive.
fn complete(ns: &TestNamespace, kubeconfig: &std::path::Path, words: &[&str]) -> Vec<String> {
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_kubectl-gitrollout"),
        bin.path().join("kubectl-gitrollout"),
    )
    .unwrap();
    // Installed as the user is told to: what `completion kubectl` prints (the shipped file).
    let script = bin.path().join("kubectl_complete-gitrollout");
    let printed = gitrollout(ns)
        .args(["completion", "kubectl"])
        .assert()
        .success();
    std::fs::write(&script, &printed.get_output().stdout).unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, executable).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    let output = std::process::Command::new(&ns.kubectl)
        .env_clear()
        .env("PATH", path)
        .env("HOME", bin.path())
        .env("KUBECONFIG", kubeconfig)
        .args(["__complete", "gitrollout"])
        .args(words)
        .output()
        .unwrap();
    gitrollout_tests::assert_success("kubectl __complete", &output);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    assert_eq!(lines.pop().as_deref(), Some(":4"), "{text}");
    lines
}

#[tokio::test]
async fn kubectl_completes_through_the_plugin() {
    let ns = TestNamespace::new("habits-complete").await;
    two_deployments(&ns);
    // A kubeconfig whose context works in the test namespace, as `kubens` leaves one.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::copy(&ns.kubeconfig, &kubeconfig).unwrap();
    let ns_flag = format!("--namespace={}", ns.name);
    let set = std::process::Command::new(&ns.kubectl)
        .args(["config", "set-context", "--current", &ns_flag])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    gitrollout_tests::assert_success("kubectl config set-context", &set);

    // Live names, from the context's namespace, then from -n.
    let names = complete(&ns, &kubeconfig, &["history", "deploy/"]);
    assert_eq!(names, ["deploy/team-app", "deploy/team-web"]);
    let names = complete(&ns, &kubeconfig, &["log", "sts/team-db", "deploy/"]);
    assert_eq!(names, ["deploy/team-app", "deploy/team-web"]);
    let names = complete(
        &ns,
        &ns.kubeconfig,
        &["-n", &ns.name, "diff", "deployment", "team-w"],
    );
    assert_eq!(names, ["team-web"]);
    let names = complete(&ns, &ns.kubeconfig, &["history", "deploy/"]);
    assert!(
        !names.iter().any(|n| n.starts_with("deploy/team-")),
        "{names:?}"
    );

    // Namespaces for -n.
    let prefix = &ns.name[..ns.name.len() - 4];
    let namespaces = complete(&ns, &kubeconfig, &["-n", prefix]);
    assert_eq!(namespaces, std::slice::from_ref(&ns.name));

    // Revision numbers of the named workload, newest first, with their images.
    let revisions = complete(
        &ns,
        &kubeconfig,
        &["history", "deploy/team-app", "--revision", ""],
    );
    assert_eq!(
        revisions,
        ["3\tnginx:1.18 (current)", "2\tnginx:1.17", "1\tnginx:1.16"]
    );

    // Subcommands and flags, from the command line's definition.
    let subcommands = complete(&ns, &kubeconfig, &[""]);
    let subcommands: Vec<&str> = subcommands
        .iter()
        .filter_map(|s| s.split('\t').next())
        .collect();
    assert_eq!(
        subcommands,
        [
            "history",
            "log",
            "diff",
            "revert",
            "apply",
            "record",
            "completion",
            "version"
        ]
    );
    let flags = complete(&ns, &kubeconfig, &["revert", "deploy/team-app", "--to-"]);
    let flags: Vec<&str> = flags.iter().filter_map(|s| s.split('\t').next()).collect();
    assert_eq!(flags, ["--to-commit", "--to-revision"]);
    ns.delete().await;
}

#[tokio::test]
async fn server_token_and_certificate_flags_connect_as_kubectl_does() {
    let ns = TestNamespace::new("habits-connection").await;
    play_deployment_story(&ns);
    service_account(&ns, "reader", true);
    let restricted = service_account(&ns, "restricted", false);
    let token = |sa: &str| ns.kubectl_ok(&["create", "token", sa]).trim().to_owned();

    // A kubeconfig that points nowhere and holds no credentials: the flags say everything.
    let real: Value = serde_json::from_slice(&std::fs::read(&ns.kubeconfig).unwrap()).unwrap();
    let cluster = &real["clusters"][0]["cluster"];
    let server = cluster["server"].as_str().unwrap().to_owned();
    let ca = cluster["certificate-authority"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("kubeconfig");
    let config = serde_json::json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "nobody", "user": {}}],
        "contexts": [{"name": "x", "context": {"cluster": "nowhere", "user": "nobody", "namespace": ns.name}}],
        "current-context": "x",
    });
    std::fs::write(&empty, config.to_string()).unwrap();
    let run = |extra: &[&str]| {
        let mut cmd = gitrollout(&ns);
        cmd.env("KUBECONFIG", &empty)
            .args(["-s", &server])
            .args(extra);
        cmd.args(["history", "deploy/team-app", "-o", "name"]);
        cmd.assert()
    };

    let reader_token = token("reader");
    let ok = run(&["--token", &reader_token, "--certificate-authority", &ca]).success();
    assert_eq!(stdout(&ok), "deployment.apps/team-app\n");
    let ok = run(&["--token", &reader_token, "--insecure-skip-tls-verify"]).success();
    assert_eq!(stdout(&ok), "deployment.apps/team-app\n");
    let refused = run(&[
        "--token",
        &token("restricted"),
        "--insecure-skip-tls-verify",
    ])
    .code(1);
    assert!(
        stderr(&refused).contains("forbidden: RBAC does not allow get on deployments.apps"),
        "{}",
        stderr(&refused)
    );
    // The server saw the token's ServiceAccount, not the kubeconfig's (empty) user.
    assert!(
        stderr(&refused).contains(&restricted),
        "{}",
        stderr(&refused)
    );
    // No kubeconfig at all, as in a pod: the server, the token and -n are enough.
    let bare = gitrollout(&ns)
        .env_remove("KUBECONFIG")
        .args([
            "-s",
            &server,
            "--token",
            &reader_token,
            "--certificate-authority",
            &ca,
        ])
        .args(["history", "deploy/team-app", "-o", "name"])
        .assert()
        .success();
    assert_eq!(stdout(&bare), "deployment.apps/team-app\n");
    // Without the CA, the server's certificate is not trusted.
    let untrusted = run(&["--token", &reader_token]).code(1);
    assert!(
        stderr(&untrusted).contains("cannot reach the Kubernetes API"),
        "{}",
        stderr(&untrusted)
    );
    ns.delete().await;
}

/// The PODS column of `history -o wide`, by revision, and the API requests it made.
fn pods_column(ns: &TestNamespace, workload: &str) -> (Vec<(String, String)>, usize) {
    let run = gitrollout(ns)
        .args(["-v=6", "history", workload, "-o", "wide"])
        .assert()
        .success();
    let table = stdout(&run);
    let rows = table.lines().skip(1).map(|row| {
        let cells: Vec<&str> = row.split_whitespace().collect();
        let revision = cells.iter().find(|c| c.parse::<u64>().is_ok()).unwrap();
        ((*revision).to_owned(), (*cells.last().unwrap()).to_owned())
    });
    (rows.collect(), stderr(&run).lines().count())
}

#[tokio::test]
async fn wide_counts_pods_per_revision_of_statefulsets_and_daemonsets() {
    let ns = TestNamespace::new("habits-pods").await;
    play_statefulset_story(&ns).await;
    play_daemonset_story(&ns).await;
    let expect = |current: &str| {
        [("1", "0"), ("2", "0"), ("3", current)].map(|(r, p)| (r.to_owned(), p.to_owned()))
    };
    // One more request than the table, a LIST of the workload's pods, for wide only.
    assert_eq!(pods_column(&ns, "sts/team-db"), (expect("2").to_vec(), 3));
    assert_eq!(pods_column(&ns, "ds/team-agent"), (expect("1").to_vec(), 3));
    let table = gitrollout(&ns)
        .args(["-v=6", "history", "sts/team-db"])
        .assert()
        .success();
    assert_eq!(stderr(&table).lines().count(), 2, "{}", stderr(&table));
    ns.delete().await;
}
