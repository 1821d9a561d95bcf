//! The configuration each revision reads, on the real control plane: the ConfigMaps and Secrets
//! its pod template references, listed per revision, and a renamed one (a kustomize or Helm
//! generator's hash-named ConfigMap) summarized as such.

use std::sync::Arc;

use http::Method;
use serde_json::{Value, json};

use crate::common::{gitrollout, run_json, stderr, stdout};
use gitrollout_tests::TestNamespace;
use gitrollout_tests::git::GitRepo;
use gitrollout_tests::proxy::{Fault, FaultProxy, Meddler, Trigger};

/// A Deployment reading `config` through envFrom and a volume, and the Secret `db` for one
/// variable.
fn manifest(config: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    \
         matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    \
         spec:\n      containers:\n      - name: nginx\n        image: nginx:1.16\n        \
         envFrom: [{{configMapRef: {{name: {config}}}}}]\n        env:\n        - name: PASSWORD\n          \
         valueFrom: {{secretKeyRef: {{name: db, key: password}}}}\n        volumeMounts: [{{name: cfg, \
         mountPath: /etc/app}}]\n      volumes:\n      - name: cfg\n        configMap: {{name: \
         {config}, optional: true}}\n"
    )
}

#[tokio::test]
async fn each_revision_lists_the_config_it_reads_and_a_rename_is_summarized() {
    let ns = with_db_secret("config-references").await;
    for name in ["app-cfg-7d", "app-cfg-9f"] {
        ns.kubectl_ok(&["create", "configmap", name, "--from-literal=level=info"]);
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().display().to_string();
    for config in ["app-cfg-7d", "app-cfg-9f"] {
        std::fs::write(file.path(), manifest(config)).unwrap();
        ns.kubectl_ok(&["apply", "-f", &path]);
        ns.rollout_status("deployment/web");
    }

    let doc = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    let revisions = doc["revisions"].as_array().unwrap();
    let reference =
        |kind: &str, name: &str| serde_json::json!({"kind": kind, "name": name, "optional": false});
    assert_eq!(
        revisions[0]["references"],
        Value::from(vec![
            reference("ConfigMap", "app-cfg-7d"),
            reference("Secret", "db")
        ])
    );
    assert_eq!(
        revisions[1]["references"],
        Value::from(vec![
            reference("ConfigMap", "app-cfg-9f"),
            reference("Secret", "db")
        ])
    );
    assert_eq!(revisions[1]["summary"], "config app-cfg-7d -> app-cfg-9f");

    let show = gitrollout(&ns)
        .args(["history", "deploy/web", "--revision", "2"])
        .assert()
        .success();
    let show = stdout(&show);
    assert!(
        show.contains("Reads:         configmap/app-cfg-9f\n"),
        "{show}"
    );
    assert!(show.contains("Reads:         secret/db\n"), "{show}");
    // A Secret is named, never read: its value is nowhere in the output.
    assert!(!show.contains("s3cret"), "{show}");
    ns.delete().await;
}

/// CI's step applies the Deployment with the ConfigMap it reads; the ConfigMap is then edited
/// by hand. History marks the revision whose configuration changed since, with one LIST of
/// ConfigMaps and one of Secrets, and never shows a Secret's value.
#[tokio::test]
async fn a_config_map_edited_by_hand_marks_the_revisions_that_read_it() {
    let ns = with_db_secret("config-digests").await;
    let repo = GitRepo::new();
    let config = |level: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-cfg}}\ndata: {{level: {level}}}\n"
        )
    };
    let apply = |ns: &TestNamespace| {
        let (file, dir) = (
            repo.path().join("app.yaml").display().to_string(),
            repo.path().display().to_string(),
        );
        let run = gitrollout(ns)
            .args([
                "-v=6", "apply", "-f", &file, "--commit", "HEAD", "--repo", &dir, "--wait",
            ])
            .assert()
            .success();
        for text in [stdout(&run), stderr(&run)] {
            assert!(
                !text.contains("s3cret") && !text.contains("czNjcmV0"),
                "{text}"
            );
        }
    };
    let deployment = manifest("app-cfg");
    repo.commit(
        "app.yaml",
        &format!("{}---\n{deployment}", config("info")),
        "Release 1",
    );
    apply(&ns);
    let release = deployment.replace("nginx:1.16", "nginx:1.17");
    repo.commit(
        "app.yaml",
        &format!("{}---\n{release}", config("info")),
        "Release 2",
    );
    apply(&ns);

    let changed = |ns: &TestNamespace| -> Vec<Value> {
        let doc = run_json(ns, &["history", "deploy/web", "-o", "json"]);
        let revisions = doc["revisions"].as_array().unwrap();
        revisions
            .iter()
            .map(|r| r["configChanged"].clone())
            .collect()
    };
    assert_eq!(changed(&ns), [serde_json::json!([]), serde_json::json!([])]);

    set_level(&ns, "app-cfg", "debug");
    assert_eq!(
        changed(&ns),
        [
            serde_json::json!(["app-cfg"]),
            serde_json::json!(["app-cfg"])
        ]
    );
    let table = gitrollout(&ns)
        .args(["-v=6", "history", "deploy/web"])
        .assert()
        .success();
    assert!(
        stdout(&table).contains("Release 2 (")
            && stdout(&table).contains("[config changed: app-cfg]"),
        "{}",
        stdout(&table)
    );
    let log = stderr(&table);
    let lists = |resource: &str| {
        log.lines()
            .filter(|l| l.starts_with("GET ") && l.contains(&format!("/{resource}?")))
            .count()
    };
    assert_eq!((lists("configmaps"), lists("secrets")), (1, 1), "{log}");
    assert!(
        !log.contains("s3cret") && !log.contains("czNjcmV0"),
        "{log}"
    );
    let show = gitrollout(&ns)
        .args(["history", "deploy/web", "--revision", "2"])
        .assert()
        .success();
    assert!(
        stdout(&show).contains("configmap/app-cfg (changed since)\n"),
        "{}",
        stdout(&show)
    );
    assert!(stdout(&show).contains("secret/db\n"), "{}", stdout(&show));

    // A revert records the digests of today's configuration on the revision it makes.
    let revert = gitrollout(&ns)
        .args(["revert", "deploy/web", "--to-revision", "1", "--wait"])
        .assert()
        .success();
    assert!(
        stderr(&revert).contains("warning: configmap/app-cfg has changed since revision 1"),
        "{}",
        stderr(&revert)
    );
    assert_eq!(
        changed(&ns),
        [
            serde_json::json!(["app-cfg"]),
            serde_json::json!(["app-cfg"]),
            serde_json::json!([])
        ]
    );
    ns.delete().await;
}

/// A revert to a revision whose ConfigMap was pruned (a generator's old hash-named one) is
/// refused before anything is written; a dry run and --force only warn. One whose ConfigMap
/// changed since the revision recorded it is warned about.
#[tokio::test]
async fn a_revert_checks_the_config_its_pods_would_read() {
    let ns = with_db_secret("config-revert").await;
    let repo = GitRepo::new();
    let config = |name: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{level: info}}\n"
        )
    };
    let (file, dir) = (
        repo.path().join("app.yaml").display().to_string(),
        repo.path().display().to_string(),
    );
    for name in ["app-cfg-7d", "app-cfg-9f"] {
        let text = format!("{}---\n{}", config(name), manifest(name));
        repo.commit("app.yaml", &text, &format!("Config {name}"));
        gitrollout(&ns)
            .args([
                "apply", "-f", &file, "--commit", "HEAD", "--repo", &dir, "--wait",
            ])
            .assert()
            .success();
    }
    let revert = ["revert", "deploy/web", "--to-revision", "1"];

    // Changed since revision 1 recorded it: a warning, in the dry run as in the revert.
    set_level(&ns, "app-cfg-7d", "debug");
    let dry = gitrollout(&ns)
        .args(revert)
        .arg("--dry-run")
        .assert()
        .success();
    assert!(
        stderr(&dry).contains(
            "warning: configmap/app-cfg-7d has changed since revision 1 recorded it: the new \
             pods will read its content of today"
        ),
        "{}",
        stderr(&dry)
    );

    // Gone: refused, nothing written; a dry run warns.
    ns.kubectl_ok(&["delete", "configmap", "app-cfg-7d"]);
    let before = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    let refused = gitrollout(&ns).args(revert).assert().code(1);
    assert_eq!(
        stderr(&refused),
        format!(
            "error: the pods of the revert would read configmap/app-cfg-7d, which is not in \
             namespace {0}\nhint: create configmap/app-cfg-7d in namespace {0} again (from git, \
             or a copy) before reverting, or pass --force to revert in the cluster anyway\n",
            ns.name
        )
    );
    let after = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    assert_eq!(before["currentRevision"], after["currentRevision"]);
    assert_eq!(before["revisions"], after["revisions"]);
    let dry = gitrollout(&ns)
        .args(revert)
        .arg("--dry-run")
        .assert()
        .success();
    assert!(
        stderr(&dry).contains("warning: the pods of the revert would read"),
        "{}",
        stderr(&dry)
    );
    let forced = gitrollout(&ns)
        .args(revert)
        .arg("--force")
        .assert()
        .success();
    assert_eq!(
        stdout(&forced),
        "deployment.apps/web reverted to revision 1 as revision 3\n"
    );
    ns.delete().await;
}

/// A namespace with the Secret `db` that [`manifest`]'s Deployment reads.
async fn with_db_secret(name: &str) -> TestNamespace {
    let ns = TestNamespace::new(name).await;
    ns.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=s3cret",
    ]);
    ns
}

/// Runs the plugin in `ns`, which must succeed: its stdout and stderr.
fn ok(ns: &TestNamespace, args: &[&str]) -> (String, String) {
    let run = gitrollout(ns).args(args).assert().success();
    (stdout(&run), stderr(&run))
}

/// `apply -f FILE --commit HEAD --repo DIR --wait` and `extra`.
fn apply_head<'a>(file: &'a str, dir: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let apply = [
        "apply", "-f", file, "--commit", "HEAD", "--repo", dir, "--wait",
    ];
    [&apply[..], extra].concat()
}

/// Edits the ConfigMap `name` by hand: its `level` is set to `level`.
fn set_level(ns: &TestNamespace, name: &str, level: &str) {
    let patch = format!(r#"{{"data":{{"level":"{level}"}}}}"#);
    ns.kubectl_ok(&["patch", "configmap", name, "-p", &patch]);
}

/// The current revision and the object of each revision in a history document: what a write
/// would change.
fn revisions_made(doc: &Value) -> (Value, Vec<Value>) {
    let revisions = doc["revisions"].as_array().unwrap();
    let objects = revisions.iter().map(|r| r["object"].clone()).collect();
    (doc["currentRevision"].clone(), objects)
}

/// The names of the snapshots in `ns`, and whether each is immutable and owned by a revision.
fn snapshots(ns: &TestNamespace, resource: &str) -> Vec<(String, bool, String)> {
    let doc = ns.kubectl_ok(&[
        "get",
        resource,
        "-l",
        "gitrollout.dev/snapshot",
        "-o",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let items = doc["items"].as_array().unwrap();
    items
        .iter()
        .map(|item| {
            let owner = &item["metadata"]["ownerReferences"][0];
            (
                item["metadata"]["name"].as_str().unwrap().to_owned(),
                item["immutable"] == true,
                format!(
                    "{}/{}",
                    owner["kind"].as_str().unwrap(),
                    owner["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

/// The issue's story: three releases through `apply --snapshot-config`, each with its own
/// ConfigMap content, then the ConfigMap edited by hand. History marks every revision, diff
/// shows the data each release ran with, the dry run warns and names it, and `revert
/// --with-config` restores the ConfigMap's data with the template.
#[tokio::test]
async fn a_revert_with_config_restores_the_config_map_from_its_snapshot() {
    let ns = with_db_secret("config-snapshots").await;
    let repo = GitRepo::new();
    let (file, dir) = (
        repo.path().join("app.yaml").display().to_string(),
        repo.path().display().to_string(),
    );
    let config = |level: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-cfg}}\ndata: {{level: {level}}}\n"
        )
    };
    for (level, image) in [
        ("info", "nginx:1.16"),
        ("warn", "nginx:1.17"),
        ("error", "nginx:1.18"),
    ] {
        let deployment = manifest("app-cfg").replace("nginx:1.16", image);
        repo.commit(
            "app.yaml",
            &format!("{}---\n{deployment}", config(level)),
            &format!("Release {image}"),
        );
        let run = ok(&ns, &apply_head(&file, &dir, &["--snapshot-config"]));
        assert!(
            run.1
                .contains(" keeps configmap/app-cfg for replicaset web-"),
            "{}",
            run.1
        );
    }
    // Recording the same revision again keeps its snapshot: the same content, the same copy.
    let again = [
        "record",
        "deploy/web",
        "--commit",
        "HEAD",
        "--repo",
        &dir,
        "--snapshot-config",
    ];
    ok(&ns, &again);
    // One immutable copy per revision, owned by its ReplicaSet; the Secret is not copied.
    let kept = snapshots(&ns, "configmaps");
    assert_eq!(kept.len(), 3, "{kept:?}");
    for (name, immutable, owner) in &kept {
        assert!(*immutable, "{name}");
        assert_eq!(
            format!("ReplicaSet/{}", name.trim_end_matches(".app-cfg")),
            *owner
        );
    }
    assert_eq!(snapshots(&ns, "secrets"), []);

    // Diff shows the data each revision ran with, from their snapshots.
    let diff = ok(&ns, &["diff", "deploy/web", "2", "3"]).0;
    assert!(
        diff.contains("+++ configmap/app-cfg (deployment.apps/web revision 3)\n"),
        "{diff}"
    );
    assert!(diff.contains("-  level: warn\n+  level: error\n"), "{diff}");
    let plain = ok(&ns, &["diff", "deploy/web", "2", "3", "--config=false"]);
    assert!(!plain.0.contains("configmap/app-cfg"), "{}", plain.0);

    set_level(&ns, "app-cfg", "debug");
    let doc = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    let changed: Vec<Value> = doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["configChanged"].clone())
        .collect();
    assert_eq!(changed, vec![serde_json::json!(["app-cfg"]); 3]);

    let revert = ["revert", "deploy/web", "--to-revision", "2"];
    let dry = ok(&ns, &[&revert[..], &["--dry-run"]].concat());
    assert!(
        dry.1
            .contains("warning: configmap/app-cfg has changed since revision 2 recorded it"),
        "{}",
        dry.1
    );
    let dry = ok(
        &ns,
        &[&revert[..], &["--dry-run", "--with-config"]].concat(),
    );
    assert!(
        dry.1
            .contains("configmap/app-cfg restored from its snapshot would be"),
        "{}",
        dry.1
    );
    let level = |ns: &TestNamespace| {
        ns.kubectl_ok(&[
            "get",
            "configmap",
            "app-cfg",
            "-o",
            "jsonpath={.data.level}",
        ])
    };
    assert_eq!(level(&ns), "debug");

    let run = ok(&ns, &[&revert[..], &["--with-config", "--wait"]].concat());
    assert!(
        run.1
            .contains("configmap/app-cfg restored from its snapshot\n"),
        "{}",
        run.1
    );
    assert_eq!(
        run.0,
        "deployment.apps/web reverted to revision 2 as revision 4\n"
    );
    assert_eq!(level(&ns), "warn");
    let doc = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    let revisions = doc["revisions"].as_array().unwrap();
    let newest = &revisions[3];
    assert_eq!(
        (newest["revision"].as_u64(), newest["revertOf"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(newest["images"], revisions[1]["images"]);
    assert_eq!(newest["references"][0]["name"], "app-cfg");
    // Revision 2 and the revert read what they recorded again; 1 and 3 did not.
    let changed: Vec<Value> = revisions
        .iter()
        .map(|r| r["configChanged"].clone())
        .collect();
    let (none, cfg) = (serde_json::json!([]), serde_json::json!(["app-cfg"]));
    assert_eq!(changed, [cfg.clone(), none.clone(), cfg, none]);

    // A revision the controller prunes takes its snapshot with it: the garbage collector
    // deletes what the ReplicaSet owned. Revisions 1 and 2 go; 3 stays, the one old one kept.
    ns.kubectl_ok(&[
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"revisionHistoryLimit":1}}"#,
    ]);
    let owners = |ns: &TestNamespace| -> Vec<String> {
        snapshots(ns, "configmaps")
            .into_iter()
            .map(|(_, _, owner)| owner)
            .collect()
    };
    let third = format!(
        "ReplicaSet/{}",
        revisions[2]["object"]["name"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while owners(&ns) != [third.clone()] && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(owners(&ns), [third]);
    let doc = run_json(&ns, &["history", "deploy/web", "-o", "json"]);

    // Without a snapshot of what changed, --with-config is refused before anything is written.
    ns.kubectl_ok(&["delete", "configmap", "-l", "gitrollout.dev/snapshot"]);
    set_level(&ns, "app-cfg", "debug");
    let refused = gitrollout(&ns)
        .args([
            "revert",
            "deploy/web",
            "--to-revision",
            "3",
            "--with-config",
        ])
        .assert()
        .code(1);
    assert!(
        stderr(&refused).contains("revision 3 has no snapshot of configmap/app-cfg"),
        "{}",
        stderr(&refused)
    );
    let after = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    assert_eq!(revisions_made(&after), revisions_made(&doc));
    assert_eq!(level(&ns), "debug");

    // The next ordinary release, over the restore's write and the edit by hand: git's content
    // is applied, and the new revision is snapshotted with it.
    let deployment = manifest("app-cfg").replace("nginx:1.16", "nginx:1.19");
    let sha = repo.commit(
        "app.yaml",
        &format!("{}---\n{deployment}", config("fatal")),
        "Release nginx:1.19",
    );
    ok(&ns, &apply_head(&file, &dir, &["--snapshot-config"]));
    assert_eq!(level(&ns), "fatal");
    let doc = run_json(
        &ns,
        &["history", "deploy/web", "--repo", &dir, "-o", "json"],
    );
    let newest = doc["revisions"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (&doc["currentRevision"], &newest["revision"]),
        (&serde_json::json!(5), &serde_json::json!(5)),
        "{doc}"
    );
    assert_eq!(newest["containers"][0]["image"], "nginx:1.19", "{doc}");
    assert_eq!(newest["commit"]["sha"], sha, "{doc}");
    assert_eq!(newest["configChanged"], serde_json::json!([]), "{doc}");
    let owner = format!("ReplicaSet/{}", newest["object"]["name"].as_str().unwrap());
    let kept = snapshots(&ns, "configmaps");
    assert!(kept.iter().any(|(_, _, by)| *by == owner), "{kept:?}");
    ns.delete().await;
}

/// A Secret renamed between releases: `--snapshot-config=secrets` keeps copies of it, and diff
/// names the keys added, removed and changed, with no value anywhere, `-v=6` included.
#[tokio::test]
async fn a_secret_is_compared_by_its_keys_and_never_shown() {
    let ns = TestNamespace::new("config-secret").await;
    let repo = GitRepo::new();
    let (file, dir) = (
        repo.path().join("app.yaml").display().to_string(),
        repo.path().display().to_string(),
    );
    ns.kubectl_ok(&[
        "create",
        "configmap",
        "app-cfg",
        "--from-literal=level=info",
    ]);
    let secret = |name: &str, data: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {{{data}}}\n"
        )
    };
    let releases = [
        ("db-1", "user: app, password: hunter1, old: gone1"),
        ("db-2", "user: app, password: hunter2, token: tok3n"),
    ];
    let mut said = String::new();
    for (name, data) in releases {
        let deployment = manifest("app-cfg").replace("name: db,", &format!("name: {name},"));
        repo.commit(
            "app.yaml",
            &format!("{}---\n{deployment}", secret(name, data)),
            name,
        );
        let run = ok(
            &ns,
            &apply_head(&file, &dir, &["-v=6", "--snapshot-config=secrets"]),
        );
        said.push_str(&run.0);
        said.push_str(&run.1);
    }
    let kept = snapshots(&ns, "secrets");
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept.iter().all(|(name, immutable, _)| *immutable
            && (name.ends_with(".db-1") || name.ends_with(".db-2"))),
        "{kept:?}"
    );
    assert_eq!(snapshots(&ns, "configmaps").len(), 2);

    let diff = ok(&ns, &["-v=6", "diff", "deploy/web", "1", "2"]);
    assert!(
        diff.0.contains(
            "secret/db-1 (deployment.apps/web revision 1) -> secret/db-2 (deployment.apps/web \
             revision 2): keys changed password; added token; removed old\n"
        ),
        "{}",
        diff.0
    );
    // One LIST of Secrets, for the pair that changed; the ConfigMap read alike by both is not
    // listed.
    let requests: Vec<&str> = diff.1.lines().filter(|l| l.starts_with("GET ")).collect();
    let lists = |resource: &str| {
        requests
            .iter()
            .filter(|l| l.contains(&format!("/{resource}?")))
            .count()
    };
    assert_eq!(
        (lists("secrets"), lists("configmaps")),
        (1, 0),
        "{requests:?}"
    );
    said.push_str(&diff.0);
    said.push_str(&diff.1);
    let history = ok(&ns, &["-v=6", "history", "deploy/web", "-o", "json"]);
    said.push_str(&history.0);
    said.push_str(&history.1);
    for value in [
        "hunter1",
        "hunter2",
        "gone1",
        "tok3n",
        "aHVudGVyMQ==",
        "aHVudGVyMg==",
        "dG9rM24=",
    ] {
        assert!(!said.contains(value), "{value} in {said}");
    }
    ns.delete().await;
}

/// A kustomize configMapGenerator overlay: each release makes a hash-named ConfigMap, diff shows
/// the data change between the two, and a revert to a revision whose ConfigMap was pruned is
/// refused before anything is written.
#[tokio::test]
async fn a_generated_config_map_is_diffed_and_its_pruning_guarded() {
    let ns = with_db_secret("config-generator").await;
    let repo = GitRepo::new();
    repo.commit("base/app.yaml", &manifest("app-cfg"), "Base");
    repo.commit(
        "base/kustomization.yaml",
        "resources: [app.yaml]\n",
        "Base kustomization",
    );
    let overlay = repo.path().join("overlays/prod").display().to_string();
    let dir = repo.path().display().to_string();
    let path = format!(
        "{}:{}",
        ns.kubectl.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for level in ["info", "debug"] {
        let kustomization = format!(
            "resources: [../../base]\nconfigMapGenerator:\n- name: app-cfg\n  literals: [level={level}]\n"
        );
        repo.commit(
            "overlays/prod/kustomization.yaml",
            &kustomization,
            &format!("Level {level}"),
        );
        gitrollout(&ns)
            .env("PATH", &path)
            .args([
                "apply", "-k", &overlay, "--commit", "HEAD", "--repo", &dir, "--wait",
            ])
            .assert()
            .success();
    }
    let doc = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    let names: Vec<String> = doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["references"][0]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names[0].starts_with("app-cfg-")
            && names[1].starts_with("app-cfg-")
            && names[0] != names[1],
        "{names:?}"
    );

    let diff = ok(&ns, &["diff", "deploy/web", "1", "2"]).0;
    assert!(
        diff.contains(&format!(
            "--- configmap/{} (deployment.apps/web revision 1)\n",
            names[0]
        )),
        "{diff}"
    );
    assert!(diff.contains("-  level: info\n+  level: debug\n"), "{diff}");

    // Without the right to list ConfigMaps and Secrets: a warning each, and the rest as before.
    ns.kubectl_ok(&["create", "serviceaccount", "reader"]);
    let (verbs, resources) = ("--verb=get,list", "--resource=deployments,replicasets");
    ns.kubectl_ok(&["create", "role", "reader", verbs, resources]);
    let subject = format!("--serviceaccount={}:reader", ns.name);
    ns.kubectl_ok(&["create", "rolebinding", "reader", "--role=reader", &subject]);
    let reader = ns.token_kubeconfig("reader");
    let as_reader = |args: &[&str]| {
        let run = gitrollout(&ns)
            .env("KUBECONFIG", reader.path())
            .args(args)
            .assert()
            .success();
        (stdout(&run), stderr(&run))
    };
    let (table, warned) = as_reader(&["history", "deploy/web"]);
    assert!(table.contains("Level debug ("), "{table}");
    assert!(
        warned.contains("warning: cannot tell whose configuration changed since"),
        "{warned}"
    );
    let (diff, warned) = as_reader(&["diff", "deploy/web", "1", "2"]);
    assert!(diff.contains("+        name: app-cfg-"), "{diff}");
    assert!(!diff.contains("level: info"), "{diff}");
    assert!(
        warned.contains("warning: the configuration the revisions read was not compared: "),
        "{warned}"
    );

    ns.kubectl_ok(&["delete", "configmap", &names[0]]);
    let refused = gitrollout(&ns)
        .args(["revert", "deploy/web", "--to-revision", "1"])
        .assert()
        .code(1);
    assert!(
        stderr(&refused).contains(&format!(
            "would read configmap/{}, which is not in namespace",
            names[0]
        )),
        "{}",
        stderr(&refused)
    );
    let after = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    assert_eq!(revisions_made(&after), revisions_made(&doc));
    ns.delete().await;
}

/// Two releases through `apply --snapshot-config` of a Deployment reading the ConfigMaps
/// `app-cfg` (envFrom) and `app-extra` (a volume), each with the release's level; then both
/// edited by hand to `debug`.
async fn two_configs_edited_by_hand(test: &str) -> TestNamespace {
    let ns = with_db_secret(test).await;
    let repo = GitRepo::new();
    let (file, dir) = (
        repo.path().join("app.yaml").display().to_string(),
        repo.path().display().to_string(),
    );
    for (level, image) in [("info", "nginx:1.16"), ("warn", "nginx:1.17")] {
        let configs: String = ["app-cfg", "app-extra"]
            .iter()
            .map(|name| {
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n\
                     data: {{level: {level}}}\n---\n"
                )
            })
            .collect();
        let deployment = manifest("app-cfg")
            .replace("nginx:1.16", image)
            .replace("configMap: {name: app-cfg", "configMap: {name: app-extra");
        repo.commit(
            "app.yaml",
            &format!("{configs}{deployment}"),
            &format!("Release {image}"),
        );
        ok(&ns, &apply_head(&file, &dir, &["--snapshot-config"]));
    }
    for name in ["app-cfg", "app-extra"] {
        set_level(&ns, name, "debug");
    }
    ns
}

/// The `level` of the ConfigMap `name`.
fn level_of(ns: &TestNamespace, name: &str) -> String {
    ns.kubectl_ok(&["get", "configmap", name, "-o", "jsonpath={.data.level}"])
}

/// The numbers of the revisions of deploy/web, and the current one.
fn numbers(ns: &TestNamespace) -> (Vec<Value>, Value) {
    let doc = run_json(ns, &["history", "deploy/web", "-o", "json"]);
    let revisions = doc["revisions"].as_array().unwrap();
    let numbers = revisions.iter().map(|r| r["revision"].clone()).collect();
    (numbers, doc["currentRevision"].clone())
}

const REVERT_WITH_CONFIG: [&str; 5] = [
    "revert",
    "deploy/web",
    "--to-revision",
    "1",
    "--with-config",
];

/// The template's write lost before it reached the server: the ConfigMaps restored for it are
/// put back, so the error's "nothing was changed" holds; the next try restores both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_whose_template_was_not_written_puts_the_config_back() {
    let ns = two_configs_edited_by_hand("config-put-back").await;
    let trigger = Trigger::first(Method::PATCH, Fault::DropBefore);
    let proxy = FaultProxy::start(ns.client.clone(), trigger).await.unwrap();
    let run = gitrollout(&ns)
        .env("KUBECONFIG", &proxy.kubeconfig)
        .args(REVERT_WITH_CONFIG)
        .assert()
        .code(1);
    let err = stderr(&run);
    assert!(
        err.contains("configmap/app-cfg restored from its snapshot\n")
            && err.contains("configmap/app-extra restored from its snapshot\n"),
        "{err}"
    );
    let put_back = err.find("configmap/app-extra put back as it was\n");
    assert!(
        put_back.is_some() && err.contains("configmap/app-cfg put back as it was\n"),
        "{err}"
    );
    let lost = err.find("the revert was not applied; nothing was changed");
    assert!(lost > put_back, "{err}");
    assert!(stdout(&run).is_empty());
    assert_eq!(
        (level_of(&ns, "app-cfg"), level_of(&ns, "app-extra")),
        ("debug".to_owned(), "debug".to_owned())
    );
    assert_eq!(numbers(&ns), (vec![json!(1), json!(2)], json!(2)));

    let run = ok(&ns, &[&REVERT_WITH_CONFIG[..], &["--wait"]].concat());
    assert_eq!(
        run.0,
        "deployment.apps/web reverted to revision 1 as revision 3\n"
    );
    assert_eq!(
        (level_of(&ns, "app-cfg"), level_of(&ns, "app-extra")),
        ("info".to_owned(), "info".to_owned())
    );
    ns.delete().await;
}

/// Someone changes the second ConfigMap just before its restore is written: that write is
/// refused, the first is put back, and the template is not written; their change stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refused_halfway_puts_back_the_ones_before_it() {
    let ns = two_configs_edited_by_hand("config-halfway").await;
    // Each restore is sent as a dry run, then for real: the fourth PUT is the second real one.
    let meddler = Meddler {
        method: Method::PUT,
        change: Arc::new(|n| (n == 3).then(|| json!({"data": {"level": "theirs"}}))),
    };
    let proxy = FaultProxy::meddling(ns.client.clone(), meddler)
        .await
        .unwrap();
    let run = gitrollout(&ns)
        .env("KUBECONFIG", &proxy.kubeconfig)
        .args(REVERT_WITH_CONFIG)
        .assert()
        .code(1);
    let err = stderr(&run);
    let meddled: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with('!'))
        .collect();
    assert_eq!(meddled.len(), 1, "{:?}", proxy.requests());
    let (theirs, first) = if meddled[0].contains("/configmaps/app-cfg") {
        ("app-cfg", "app-extra")
    } else {
        ("app-extra", "app-cfg")
    };
    assert!(err.contains("the object has been modified"), "{err}");
    assert!(
        err.contains(&format!("configmap/{first} put back as it was\n"))
            && err.contains("; the template was not changed"),
        "{err}"
    );
    assert_eq!(level_of(&ns, first), "debug");
    assert_eq!(level_of(&ns, theirs), "theirs");
    assert_eq!(numbers(&ns), (vec![json!(1), json!(2)], json!(2)));
    assert!(!proxy.requests().iter().any(|r| r.starts_with("PATCH ")));
    ns.delete().await;
}
