//! `apply` end to end on the real control plane: CI's step after each commit, the git half of the
//! promise. A `git revert` applied becomes a new revision that restores the old one; nothing is
//! renumbered, every revision keeps its commit, and the next ordinary release is ordinary.

use serde_json::Value;

use crate::common::{gitrollout, run_json, stderr, stdout};
use gitrollout_tests::TestNamespace;
use gitrollout_tests::git::GitRepo;

/// A workload manifest of `kind` named `name`, one container `nginx` on `image`.
fn manifest(kind: &str, name: &str, image: &str) -> String {
    let extra = match kind {
        "StatefulSet" => format!("  serviceName: {name}\n  replicas: 2\n"),
        "Deployment" => "  replicas: 2\n".to_owned(),
        _ => String::new(),
    };
    format!(
        "apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{extra}  selector:\n    \
         matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    \
         spec:\n      containers:\n      - name: nginx\n        image: {image}\n"
    )
}

/// `gitrollout apply -f FILE --commit HEAD --wait` in `repo`.
fn apply(ns: &TestNamespace, repo: &GitRepo, file: &str, extra: &[&str]) -> String {
    let path = repo.path().join(file).display().to_string();
    let repo_dir = repo.path().display().to_string();
    let run = gitrollout(ns)
        .args([
            "apply", "-f", &path, "--commit", "HEAD", "--repo", &repo_dir, "--wait",
        ])
        .args(extra)
        .assert()
        .success();
    stdout(&run)
}

/// (revision, image, revertOf, commit SHA, earlier commits) of every revision.
type Row = (u64, String, Option<u64>, Option<String>, Vec<(u64, String)>);

fn rows(ns: &TestNamespace, workload: &str, repo: &GitRepo) -> Vec<Row> {
    let repo_dir = repo.path().display().to_string();
    let doc = run_json(
        ns,
        &["history", workload, "-o", "json", "--repo", &repo_dir],
    );
    let revisions = doc["revisions"].as_array().cloned().unwrap_or_default();
    revisions
        .iter()
        .map(|r| {
            let earlier = r["earlierCommits"].as_array().cloned().unwrap_or_default();
            (
                r["revision"].as_u64().unwrap(),
                r["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["revertOf"].as_u64(),
                r["commit"]["sha"].as_str().map(str::to_owned),
                earlier
                    .iter()
                    .map(|e| {
                        (
                            e["revision"].as_u64().unwrap(),
                            e["sha"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

/// The three releases and the `git revert` of the last, each applied; then an ordinary release.
async fn the_pledge(kind: &str, workload: &str, name: &str) {
    let ns = TestNamespace::new(&format!("apply-{}", kind.to_lowercase())).await;
    let repo = GitRepo::new();
    let file = "deploy/app.yaml";
    let mut shas = Vec::new();
    for version in ["1.16", "1.17", "1.18"] {
        let text = manifest(kind, name, &format!("nginx:{version}"));
        shas.push(repo.commit(file, &text, &format!("Release nginx {version}")));
        apply(&ns, &repo, file, &[]);
    }
    repo.git(&["revert", "--no-edit", "HEAD"]);
    let revert = repo.git(&["rev-parse", "HEAD"]);
    let said = apply(&ns, &repo, file, &[]);
    let resource = format!("{}.apps/{name}", kind.to_lowercase());
    assert_eq!(
        said,
        format!(
            "{resource} configured: revision 4 (revert of 2) from commit {}\n",
            &revert[..7]
        )
    );
    let expected: Vec<Row> = vec![
        (1, "nginx:1.16".into(), None, Some(shas[0].clone()), vec![]),
        (2, "nginx:1.17".into(), None, Some(shas[1].clone()), vec![]),
        (3, "nginx:1.18".into(), None, Some(shas[2].clone()), vec![]),
        (
            4,
            "nginx:1.17".into(),
            Some(2),
            Some(revert.clone()),
            vec![],
        ),
    ];
    assert_eq!(rows(&ns, workload, &repo), expected);
    // kubectl's own history agrees: four revisions, none renumbered.
    let kubectl = ns.kubectl_ok(&["rollout", "history", workload]);
    let numbers: Vec<&str> = kubectl
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(numbers, ["1", "2", "3", "4"], "{kubectl}");

    // The same commit applied again keeps the revision as it is, markers included.
    let again = apply(&ns, &repo, file, &[]);
    assert_eq!(again, format!("{resource} unchanged: revision 4, kept\n"));

    // The next ordinary release is an ordinary revision.
    let text = manifest(kind, name, "nginx:1.19");
    let release = repo.commit(file, &text, "Release nginx 1.19");
    apply(&ns, &repo, file, &[]);
    let last = rows(&ns, workload, &repo).pop().unwrap();
    assert_eq!(last, (5, "nginx:1.19".into(), None, Some(release), vec![]));
    let doc = run_json(&ns, &["history", workload, "-o", "json"]);
    let causes: Vec<&str> = doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["changeCause"].as_str())
        .collect();
    assert!(
        causes.contains(
            &format!(
                "Revert \"Release nginx 1.18\" ({}), reverting {}",
                &revert[..7],
                &shas[2][..7]
            )
            .as_str()
        ),
        "{causes:?}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn a_git_revert_applied_is_a_new_deployment_revision() {
    the_pledge("Deployment", "deployment/team-app", "team-app").await;
}

#[tokio::test]
async fn a_git_revert_applied_is_a_new_statefulset_revision() {
    the_pledge("StatefulSet", "sts/team-db", "team-db").await;
}

#[tokio::test]
async fn a_git_revert_applied_is_a_new_daemonset_revision() {
    the_pledge("DaemonSet", "ds/team-agent", "team-agent").await;
}

#[tokio::test]
async fn a_directory_and_a_kustomization_are_applied_object_by_object() {
    let ns = TestNamespace::new("apply-dir").await;
    let repo = GitRepo::new();
    repo.commit(
        "deploy/app.yaml",
        &manifest("Deployment", "web", "nginx:1.16"),
        "App",
    );
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  \
                   ports: [{port: 80}]\n";
    repo.commit("deploy/service.yaml", service, "Service");
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {mode: blue}\n";
    repo.commit("deploy/config.yml", config, "Config");
    repo.commit("deploy/README.md", "not a manifest\n", "Docs");
    let said = apply(&ns, &repo, "deploy", &[]);
    let sha = repo.git(&["rev-parse", "--short=7", "HEAD"]);
    assert_eq!(
        said,
        format!(
            "configmap/web created\ndeployment.apps/web created: revision 1 from commit {sha}\n\
             service/web created\n"
        )
    );
    let again = apply(&ns, &repo, "deploy", &[]);
    assert_eq!(
        again,
        "configmap/web unchanged\ndeployment.apps/web unchanged: revision 1, kept\nservice/web unchanged\n"
    );

    // The same as an overlay whose base is another directory, rendered by kustomize.
    repo.commit(
        "base/app.yaml",
        &manifest("Deployment", "web", "nginx:1.16"),
        "Base app",
    );
    repo.commit("base/config.yml", config, "Base config");
    repo.commit(
        "base/kustomization.yaml",
        "resources: [app.yaml, config.yml]\n",
        "Base",
    );
    repo.commit(
        "overlays/prod/kustomization.yaml",
        "resources: [../../base]\npatches:\n- patch: |-\n    \
         apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: web}\n    data: {mode: green}\n",
        "Prod overlay",
    );
    let overlay = repo.path().join("overlays/prod").display().to_string();
    let repo_dir = repo.path().display().to_string();
    let path = format!(
        "{}:{}",
        ns.kubectl.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = gitrollout(&ns)
        .env("PATH", path)
        .args([
            "apply", "-k", &overlay, "--commit", "HEAD", "--repo", &repo_dir,
        ])
        .assert()
        .success();
    assert_eq!(
        stdout(&run),
        "configmap/web configured\ndeployment.apps/web unchanged: revision 1, kept\n"
    );
    let mode = ns.kubectl_ok(&["get", "configmap", "web", "-o", "jsonpath={.data.mode}"]);
    assert_eq!(mode, "green");
    ns.delete().await;
}

#[tokio::test]
async fn an_object_last_applied_client_side_is_taken_over() {
    let ns = TestNamespace::new("apply-takeover").await;
    let repo = GitRepo::new();
    let with_env = manifest("Deployment", "web", "nginx:1.16").replace(
        "        image: nginx:1.16\n",
        "        image: nginx:1.16\n        env: [{name: DEBUG, value: \"1\"}]\n",
    );
    repo.commit("app.yaml", &with_env, "With DEBUG");
    let path = repo.path().join("app.yaml").display().to_string();
    ns.kubectl_ok(&["apply", "-f", &path]);
    ns.rollout_status("deployment/web");

    // DEBUG removed from the manifest is removed from the object, as kubectl apply --server-side
    // would remove it after taking the object over.
    repo.commit(
        "app.yaml",
        &manifest("Deployment", "web", "nginx:1.16"),
        "Without DEBUG",
    );
    let said = apply(&ns, &repo, "app.yaml", &[]);
    assert!(
        said.starts_with("deployment.apps/web configured: revision 2 from commit"),
        "{said}"
    );
    let env = ns.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env}",
    ]);
    assert_eq!(env, "");
    let managers = ns.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert!(
        !managers.contains("kubectl-client-side-apply"),
        "{managers}"
    );
    assert!(managers.contains("kubectl-gitrollout"), "{managers}");
    // kubectl's last applied configuration is kept, under its own manager, as kubectl keeps it.
    assert!(managers.contains("kubectl-last-applied"), "{managers}");
    ns.delete().await;
}

#[tokio::test]
async fn the_old_path_after_a_git_revert_keeps_both_commits() {
    let ns = TestNamespace::new("apply-old-path").await;
    let repo = GitRepo::new();
    let mut shas = Vec::new();
    let path = repo.path().join("app.yaml").display().to_string();
    let repo_dir = repo.path().display().to_string();
    let ci = |ns: &TestNamespace| {
        ns.kubectl_ok(&["apply", "-f", &path]);
        ns.rollout_status("deployment/team-app");
        gitrollout(ns)
            .args([
                "record",
                "deploy/team-app",
                "--commit",
                "HEAD",
                "--repo",
                &repo_dir,
            ])
            .assert()
            .success();
    };
    for version in ["1.16", "1.17", "1.18"] {
        let text = manifest("Deployment", "team-app", &format!("nginx:{version}"));
        shas.push(repo.commit("app.yaml", &text, &format!("Release nginx {version}")));
        ci(&ns);
    }
    repo.git(&["revert", "--no-edit", "HEAD"]);
    let revert = repo.git(&["rev-parse", "HEAD"]);
    ci(&ns);
    // The controller re-used revision 2 as 4; record kept the commit 2 had.
    let rows = rows(&ns, "deploy/team-app", &repo);
    let last = rows.last().unwrap();
    assert_eq!(
        last,
        &(
            4,
            "nginx:1.17".into(),
            None,
            Some(revert),
            vec![(2, shas[1].clone())]
        )
    );
    let show = gitrollout(&ns)
        .args(["history", "deploy/team-app", "--revision", "4"])
        .assert()
        .success();
    assert!(
        stdout(&show).contains(&format!(
            "Earlier Commit:  {} (recorded as revision 2)",
            shas[1]
        )),
        "{}",
        stdout(&show)
    );
    ns.delete().await;
}

#[tokio::test]
async fn a_dry_run_shows_the_revision_it_would_make_and_changes_nothing() {
    let ns = TestNamespace::new("apply-dry-run").await;
    let repo = GitRepo::new();
    for version in ["1.16", "1.17"] {
        let text = manifest("Deployment", "team-app", &format!("nginx:{version}"));
        repo.commit("app.yaml", &text, &format!("Release nginx {version}"));
        apply(&ns, &repo, "app.yaml", &[]);
    }
    repo.git(&["revert", "--no-edit", "HEAD"]);
    let before = ns.kubectl_ok(&[
        "get",
        "deploy/team-app",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    let path = repo.path().join("app.yaml").display().to_string();
    let repo_dir = repo.path().display().to_string();
    let run = gitrollout(&ns)
        .args([
            "apply",
            "-f",
            &path,
            "--commit",
            "HEAD",
            "--repo",
            &repo_dir,
            "--dry-run",
        ])
        .assert()
        .success();
    let out = stdout(&run);
    assert!(
        out.contains("-  - image: nginx:1.17") && out.contains("+  - image: nginx:1.16"),
        "{out}"
    );
    assert!(
        out.contains("+    gitrollout.dev/revert-of: \"1\""),
        "{out}"
    );
    assert!(
        out.ends_with("deployment.apps/team-app configured (server dry run): would make revision 3 (revert of 1)\n"),
        "{out}"
    );
    assert_eq!(stderr(&run), "dry run: nothing was changed\n");
    let after = ns.kubectl_ok(&[
        "get",
        "deploy/team-app",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    assert_eq!(before, after);
    ns.delete().await;
}

#[tokio::test]
async fn an_object_flux_manages_is_refused_before_anything_is_written() {
    let ns = TestNamespace::new("apply-guard").await;
    let repo = GitRepo::new();
    let service =
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n---\n";
    let flux = manifest("Deployment", "web", "nginx:1.16");
    repo.commit("all.yaml", &format!("{service}{flux}"), "Both");
    apply(&ns, &repo, "all.yaml", &[]);
    ns.kubectl_ok(&[
        "label",
        "deploy/web",
        "kustomize.toolkit.fluxcd.io/name=apps",
    ]);
    let text = format!("{service}{}", manifest("Deployment", "web", "nginx:1.17"))
        .replace("ports: [{port: 80}]", "ports: [{port: 81}]");
    repo.commit("all.yaml", &text, "Release");
    let path = repo.path().join("all.yaml").display().to_string();
    let repo_dir = repo.path().display().to_string();
    let run = gitrollout(&ns)
        .args([
            "apply", "-f", &path, "--commit", "HEAD", "--repo", &repo_dir,
        ])
        .assert()
        .code(1);
    let err = stderr(&run);
    assert!(
        err.starts_with(
            "error: deployment.apps/web is managed by Flux (label kustomize.toolkit.fluxcd.io/name)"
        ),
        "{err}"
    );
    assert!(
        err.contains("or pass --force to apply in the cluster anyway"),
        "{err}"
    );
    // Not even the Service, which comes first, was written.
    let port = ns.kubectl_ok(&["get", "svc", "a", "-o", "jsonpath={.spec.ports[0].port}"]);
    assert_eq!(port, "80");
    let forced = apply(&ns, &repo, "all.yaml", &["--force"]);
    assert!(forced.contains("service/a configured"), "{forced}");
    let doc: Value = run_json(&ns, &["history", "deploy/web", "-o", "json"]);
    assert_eq!(doc["currentRevision"], 2);
    ns.delete().await;
}

#[tokio::test]
async fn an_object_the_server_refuses_is_reported_and_the_others_applied() {
    let ns = TestNamespace::new("apply-refused").await;
    let repo = GitRepo::new();
    let refused =
        "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: 99999}]}\n";
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\ndata: {mode: blue}\n";
    repo.commit("all.yaml", &format!("{refused}---\n{config}"), "Both");
    let path = repo.path().join("all.yaml").display().to_string();
    let repo_dir = repo.path().display().to_string();
    let run = gitrollout(&ns)
        .args([
            "apply", "-f", &path, "--commit", "HEAD", "--repo", &repo_dir,
        ])
        .assert()
        .code(1);
    assert_eq!(stdout(&run), "configmap/good created\n");
    let err = stderr(&run);
    assert!(err.starts_with("error: service/bad: "), "{err}");
    assert!(err.contains("99999"), "{err}");
    assert!(
        err.trim_end()
            .ends_with("error: 1 of 2 objects were not applied: service/bad"),
        "{err}"
    );
    let mode = ns.kubectl_ok(&["get", "configmap", "good", "-o", "jsonpath={.data.mode}"]);
    assert_eq!(mode, "blue");
    ns.delete().await;
}
