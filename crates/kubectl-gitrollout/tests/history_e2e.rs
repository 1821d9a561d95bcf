//! `history` and `diff` end to end: the real binary against the real control plane.

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::output::{changed_lines, failure};
use gitrollout_tests::{
    TestNamespace, play_daemonset_story, play_deployment_story, play_statefulset_story, workload,
};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

#[tokio::test]
async fn deployment_story_history_and_diff() {
    let ns = TestNamespace::new("history-deployment").await;
    play_deployment_story(&ns);

    let doc = run_json(&ns, &["history", "deployment/team-app", "-o", "json"]);
    assert_eq!(doc["kind"], "Deployment");
    assert_eq!(doc["name"], "team-app");
    assert_eq!(doc["namespace"], ns.name.as_str());
    assert_eq!(doc["currentRevision"], 3);
    assert_eq!(
        revisions_of(&doc),
        [
            (1, "nginx:1.16".to_owned(), false),
            (2, "nginx:1.17".to_owned(), false),
            (3, "nginx:1.18".to_owned(), true),
        ]
    );

    // Both spellings of the workload, and a kubectl alias.
    let table = gitrollout(&ns)
        .args(["history", "deploy", "team-app"])
        .assert()
        .success();
    let table = stdout(&table);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 4, "{table}");
    assert!(rows[0].contains("REVISION") && rows[0].contains("CHANGE-CAUSE"));
    assert!(
        rows[3].starts_with('*') && rows[3].contains("nginx:1.18"),
        "{table}"
    );

    let diff = gitrollout(&ns)
        .args(["diff", "deployment/team-app"])
        .assert()
        .success();
    let diff = stdout(&diff);
    let changed: Vec<&str> = changed_lines(&diff);
    assert_eq!(
        changed,
        ["-  - image: nginx:1.17", "+  - image: nginx:1.18"],
        "{diff}"
    );

    let diff = gitrollout(&ns)
        .args(["diff", "deployment.apps/team-app", "1", "3"])
        .assert()
        .success();
    let diff = stdout(&diff);
    assert_eq!(
        changed_lines(&diff),
        ["-  - image: nginx:1.16", "+  - image: nginx:1.18"]
    );

    // An external diff tool gets two directories, as from kubectl diff.
    let external = gitrollout(&ns)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECTL_EXTERNAL_DIFF", "diff -u")
        .args(["diff", "deployment/team-app", "2", "3"])
        .assert()
        .success();
    let external = stdout(&external);
    assert!(
        external.contains("/revision-2/deployment.apps.team-app.yaml")
            && external.contains("/revision-3/deployment.apps.team-app.yaml"),
        "{external}"
    );
    assert_eq!(
        changed_lines(&external),
        ["-  - image: nginx:1.17", "+  - image: nginx:1.18"]
    );

    // A revision against itself, with an external tool too: two directories, no difference.
    let same_external = gitrollout(&ns)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECTL_EXTERNAL_DIFF", "diff -u")
        .args(["diff", "deployment/team-app", "2", "2", "--exit-code"])
        .assert()
        .success();
    assert_eq!(stdout(&same_external), "");

    let same = gitrollout(&ns)
        .args(["diff", "deployment/team-app", "2", "2"])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&same.get_output().stdout),
        "revisions 2 and 2 of deployment.apps/team-app have the same pod template\n"
    );
    ns.delete().await;
}

#[tokio::test]
async fn history_makes_exactly_two_api_requests() {
    let ns = TestNamespace::new("history-requests").await;
    play_deployment_story(&ns);
    let run = gitrollout(&ns)
        .args(["-v=6", "history", "deployment/team-app"])
        .assert()
        .success();
    let stderr = stderr(&run);
    let requests: Vec<&str> = stderr.lines().collect();
    assert_eq!(requests.len(), 2, "{stderr}");
    let deployments = format!("/apis/apps/v1/namespaces/{}/deployments/team-app", ns.name);
    assert!(
        requests[0].starts_with("GET https://") && requests[0].contains(&deployments),
        "{stderr}"
    );
    assert!(requests[0].contains(" 200 OK in "), "{stderr}");
    let replicasets = format!("/apis/apps/v1/namespaces/{}/replicasets?", ns.name);
    assert!(requests[1].contains(&replicasets), "{stderr}");
    assert!(
        requests[1].contains("labelSelector=app%3Dteam-app"),
        "{stderr}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn statefulset_history_and_diff() {
    let ns = TestNamespace::new("history-statefulset").await;
    play_statefulset_story(&ns).await;
    assert_three_releases(&ns, "statefulset/team-db", "sts");
    ns.delete().await;
}

#[tokio::test]
async fn daemonset_history_and_diff() {
    let ns = TestNamespace::new("history-daemonset").await;
    play_daemonset_story(&ns).await;
    assert_three_releases(&ns, "daemonset/team-agent", "ds");
    ns.delete().await;
}

/// History and diff of a workload whose three revisions ran nginx 1.16, 1.17 and 1.18.
fn assert_three_releases(ns: &TestNamespace, workload: &str, alias: &str) {
    let doc = run_json(ns, &["history", workload, "-o", "json"]);
    assert_eq!(doc["currentRevision"], 3);
    assert_eq!(
        revisions_of(&doc),
        [
            (1, "nginx:1.16".to_owned(), false),
            (2, "nginx:1.17".to_owned(), false),
            (3, "nginx:1.18".to_owned(), true),
        ]
    );
    let name = workload.split_once('/').map_or(workload, |(_, name)| name);
    let one = run_json(
        ns,
        &["history", alias, name, "--revision", "2", "-o", "json"],
    );
    assert_eq!(one["revision"], 2);
    assert_eq!(
        one["containers"],
        json!([{"name": "nginx", "image": "nginx:1.17"}])
    );
    assert_eq!(
        one["template"]["spec"]["containers"][0]["image"],
        "nginx:1.17"
    );

    let diff = gitrollout(ns)
        .args(["diff", workload, "1"])
        .assert()
        .success();
    let diff = stdout(&diff);
    assert_eq!(
        changed_lines(&diff),
        ["-  - image: nginx:1.16", "+  - image: nginx:1.18"],
        "{diff}"
    );
}

#[tokio::test]
async fn errors_name_the_object_and_the_next_step() {
    let ns = TestNamespace::new("history-errors").await;
    let mut paused = workload("Deployment", "fresh", "nginx:1.16", Some(1));
    paused["spec"]["paused"] = json!(true);
    ns.create::<Deployment>(paused).await;

    let fail = |args: &[&str], code: i32| failure(gitrollout(&ns).args(args), code);

    let missing = fail(&["history", "deployment/nope"], 1);
    assert_eq!(
        missing,
        format!(
            "error: deployment \"nope\" not found in namespace \"{0}\"\nhint: list them with \
             `kubectl get deployments -n {0}`, or pass -n/--namespace\n",
            ns.name
        )
    );

    let no_history = fail(&["history", "deployment/fresh"], 1);
    assert!(
        no_history.starts_with("error: deployment.apps/fresh has no rollout history yet"),
        "{no_history}"
    );

    play_deployment_story(&ns);
    let not_there = fail(&["history", "deploy/team-app", "--revision", "7"], 1);
    assert_eq!(
        not_there,
        "error: revision 7 is not in the history of deployment.apps/team-app; it has revisions \
         1, 2, 3\n"
    );
    let not_there = fail(&["diff", "deploy/team-app", "9"], 1);
    assert!(
        not_there.contains("it has revisions 1, 2, 3"),
        "{not_there}"
    );

    let bad_type = fail(&["history", "pods/team-app"], 2);
    assert!(
        bad_type.contains("unknown workload type \"pods\""),
        "{bad_type}"
    );
    let bad_revision = fail(&["diff", "deploy/team-app", "two"], 2);
    assert!(
        bad_revision.contains("a revision is a positive integer, not \"two\""),
        "{bad_revision}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn a_forbidden_list_names_the_verb_and_resource() {
    let ns = TestNamespace::new("history-forbidden").await;
    play_deployment_story(&ns);
    // A ServiceAccount that may read Deployments but not list their ReplicaSets.
    ns.kubectl_ok(&["create", "serviceaccount", "reader"]);
    ns.kubectl_ok(&[
        "create",
        "role",
        "reader",
        "--verb=get",
        "--resource=deployments.apps",
    ]);
    let account = format!("{}:reader", ns.name);
    ns.kubectl_ok(&[
        "create",
        "rolebinding",
        "reader",
        "--role=reader",
        &format!("--serviceaccount={account}"),
    ]);
    let kubeconfig = ns.token_kubeconfig("reader");

    let run = gitrollout(&ns)
        .env("KUBECONFIG", kubeconfig.path())
        .args(["history", "deployment/team-app"])
        .assert()
        .code(1);
    let stderr = stderr(&run);
    assert!(
        stderr.starts_with(&format!(
            "error: forbidden: RBAC does not allow list on replicasets.apps in namespace \"{}\"",
            ns.name
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("system:serviceaccount:") && stderr.contains("hint: ask"),
        "{stderr}"
    );
    ns.delete().await;
}
