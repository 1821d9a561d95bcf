//! The configuration each revision reads, on the real control plane: the ConfigMaps and Secrets
//! its pod template references, listed per revision, and a renamed one (a kustomize or Helm
//! generator's hash-named ConfigMap) summarized as such.

use serde_json::Value;

use crate::common::{gitrollout, run_json, stderr, stdout};
use gitrollout_tests::TestNamespace;
use gitrollout_tests::git::GitRepo;

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
    let ns = TestNamespace::new("config-references").await;
    for name in ["app-cfg-7d", "app-cfg-9f"] {
        ns.kubectl_ok(&["create", "configmap", name, "--from-literal=level=info"]);
    }
    ns.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=s3cret",
    ]);
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
    let ns = TestNamespace::new("config-digests").await;
    ns.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=s3cret",
    ]);
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

    ns.kubectl_ok(&[
        "patch",
        "configmap",
        "app-cfg",
        "-p",
        r#"{"data":{"level":"debug"}}"#,
    ]);
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
    let ns = TestNamespace::new("config-revert").await;
    ns.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=s3cret",
    ]);
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
    ns.kubectl_ok(&[
        "patch",
        "configmap",
        "app-cfg-7d",
        "-p",
        r#"{"data":{"level":"debug"}}"#,
    ]);
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
