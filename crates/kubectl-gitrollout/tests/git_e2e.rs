//! Revisions traced to git commits, end to end: a manifests repository whose commits are applied
//! with real `kubectl apply` to the real control plane.

use std::path::{Path, PathBuf};

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::TestNamespace;
use gitrollout_tests::git::GitRepo;
use gitrollout_tests::output::failure;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Value, json};

const FILE: &str = "deploy/app.yaml";

/// A manifests repository with `deploy/app.yaml`.
struct Manifests(GitRepo);

impl Manifests {
    fn new() -> Self {
        Manifests(GitRepo::new())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn repo_arg(&self) -> String {
        self.path().display().to_string()
    }

    fn git(&self, args: &[&str]) -> String {
        self.0.git(args)
    }

    fn commit(&self, path: &str, content: &str, message: &str) -> String {
        self.0.commit(path, content, message)
    }

    fn file(&self) -> PathBuf {
        self.path().join(FILE)
    }
}

/// The manifest of `team-app` on nginx `version`: a Service and the Deployment, two documents.
fn manifest(version: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: team-app\nspec:\n  selector:\n    \
         app: team-app\n  ports:\n  - port: 80\n---\napiVersion: apps/v1\nkind: Deployment\n\
         metadata:\n  name: team-app\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      \
         app: team-app\n  template:\n    metadata:\n      labels:\n        app: team-app\n    \
         spec:\n      containers:\n      - name: nginx\n        image: nginx:{version}\n        \
         ports:\n        - containerPort: 80\n"
    )
}

fn apply(ns: &TestNamespace, file: &Path) {
    let file = file.display().to_string();
    ns.kubectl_ok(&["apply", "-f", &file]);
    ns.rollout_status("deployment/team-app");
}

/// (revision, commit SHA or "-", commit source or "-") of each revision.
fn commits(ns: &TestNamespace, args: &[&str]) -> Vec<(u64, String, String)> {
    let mut all = vec!["history", "deployment/team-app", "-o", "json"];
    all.extend(args);
    let doc = run_json(ns, &all);
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let commit = &r["commit"];
            (
                r["revision"].as_u64().unwrap(),
                text(&commit["sha"]),
                text(&commit["source"]),
            )
        })
        .collect()
}

/// The plugin with PATH, so it can run git.
fn with_path(ns: &TestNamespace) -> assert_cmd::Command {
    let mut cmd = gitrollout(ns);
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

#[tokio::test]
async fn revisions_trace_to_the_commits_that_made_them() {
    let repo = Manifests::new();
    let by_path = TestNamespace::new("git-by-path").await;
    let recorded = TestNamespace::new("git-recorded").await;
    let pruned = TestNamespace::new("git-pruned").await;
    repo.commit("README.md", "manifests\n", "Start the manifests");
    let mut shas = Vec::new();
    for version in ["1.16", "1.17", "1.18"] {
        let sha = repo.commit(
            FILE,
            &manifest(version),
            &format!("Release nginx {version}"),
        );
        for ns in [&by_path, &recorded, &pruned] {
            apply(ns, &repo.file());
        }
        let run = with_path(&recorded)
            .args(["record", "deployment/team-app", "--commit", "HEAD"])
            .args(["--repo", &repo.repo_arg()])
            .assert()
            .success();
        assert_eq!(
            stdout(&run),
            format!(
                "deployment.apps/team-app revision {} recorded as commit {} (Release nginx \
                 {version})\n",
                shas.len() + 1,
                &sha[..7]
            )
        );
        if shas.is_empty() {
            pruned
                .patch::<Deployment>("team-app", json!({"spec": {"revisionHistoryLimit": 1}}))
                .await;
        }
        shas.push(sha);
    }
    let repo_arg = repo.repo_arg();
    let file_arg = repo.file().display().to_string();
    let by_manifest = |n: u64| (n, shas[n as usize - 1].clone(), format!("manifest {FILE}"));
    let by_record = |n: u64| (n, shas[n as usize - 1].clone(), "recorded".to_owned());

    assert_eq!(
        commits(&by_path, &["--repo", &repo_arg, "--path", &file_arg]),
        [by_manifest(1), by_manifest(2), by_manifest(3)]
    );
    assert_eq!(
        commits(&recorded, &["--repo", &repo_arg]),
        [by_record(1), by_record(2), by_record(3)]
    );
    let causes = recorded.kubectl_ok(&["rollout", "history", "deployment/team-app"]);
    assert!(
        causes.contains(&format!("Release nginx 1.18 ({})", &shas[2][..7])),
        "{causes}"
    );

    // A change by hand afterwards has no commit, and is not given a stale one.
    for ns in [&by_path, &recorded] {
        ns.release("deployment/team-app", "nginx=nginx:1.19");
    }
    let none = |n: u64| (n, "-".to_owned(), "-".to_owned());
    assert_eq!(
        commits(&by_path, &["--repo", &repo_arg, "--path", &file_arg])[3],
        none(4)
    );
    assert_eq!(commits(&recorded, &["--repo", &repo_arg])[3], none(4));

    // The table and --revision name the commit.
    let table = with_path(&by_path)
        .args([
            "history",
            "deploy/team-app",
            "--repo",
            &repo_arg,
            "--path",
            &file_arg,
        ])
        .assert()
        .success();
    assert!(
        stdout(&table).contains(&format!(" {} ", &shas[1][..7])),
        "{}",
        stdout(&table)
    );
    let show = with_path(&by_path)
        .args(["history", "deploy/team-app", "--revision", "2"])
        .args(["--repo", &repo_arg, "--path", &file_arg])
        .assert()
        .success();
    let show = stdout(&show);
    assert!(
        show.contains(&format!("Commit:        {} Release nginx 1.17", shas[1]))
            && show.contains("Author:        Ada Operator <ada@example.com>"),
        "{show}"
    );

    // Revert to a commit: the revision made from it comes back as a new revision.
    let run = with_path(&by_path)
        .args(["revert", "deploy/team-app", "--to-commit", &shas[1][..9]])
        .args(["--repo", &repo_arg, "--path", &file_arg])
        .assert()
        .success();
    assert_eq!(
        stdout(&run),
        "deployment.apps/team-app reverted to revision 2 as revision 5\n"
    );
    assert_eq!(
        commits(&by_path, &["--repo", &repo_arg, "--path", &file_arg])[4],
        (5, shas[1].clone(), format!("manifest {FILE}"))
    );

    // With revisionHistoryLimit 1 the revision of 1.16 is gone: it comes back from git.
    let run = with_path(&pruned)
        .args(["revert", "deploy/team-app", "--to-commit", "HEAD~2"])
        .args(["--repo", &repo_arg, "--path", &file_arg])
        .assert()
        .success();
    assert_eq!(
        stdout(&run),
        format!(
            "deployment.apps/team-app reverted to commit {0} as revision 4\nits revision was \
             pruned: the pod template comes from {FILE} at {0}\n",
            &shas[0][..7]
        )
    );
    let doc = run_json(&pruned, &["history", "deploy/team-app", "-o", "json"]);
    assert_eq!(
        revisions_of(&doc),
        [
            (2, "nginx:1.17".to_owned(), false),
            (3, "nginx:1.18".to_owned(), false),
            (4, "nginx:1.16".to_owned(), true),
        ]
    );

    // --git: the cluster goes back to 1.17, and so does the manifest, in a commit of its own.
    let run = with_path(&recorded)
        .args([
            "revert",
            "deploy/team-app",
            "--to-commit",
            &shas[1],
            "--git",
        ])
        .args(["--repo", &repo_arg, "--path", &file_arg])
        .assert()
        .success();
    let said = stdout(&run);
    assert!(
        said.starts_with("deployment.apps/team-app reverted to revision 2 as revision 5\n"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.file()).unwrap(),
        manifest("1.17")
    );
    let message = repo.git(&["log", "-1", "--format=%B"]);
    assert!(
        message.starts_with(&format!(
            "Revert {FILE} to {} (Release nginx 1.17)",
            &shas[1][..7]
        )) && message.contains("to revision 2 as revision 5")
            && message.contains(&shas[1]),
        "{message}"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");

    for ns in [by_path, recorded, pruned] {
        ns.delete().await;
    }
}

#[tokio::test]
async fn git_errors_name_the_ref_the_path_and_the_repository() {
    let repo = Manifests::new();
    let ns = TestNamespace::new("git-errors").await;
    repo.commit(
        FILE,
        "kind: Deployment\nmetadata: {name: team-app\n",
        "Break the manifest",
    );
    let good = repo.commit(FILE, &manifest("1.16"), "Release nginx 1.16");
    repo.commit(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n",
        "Add a service",
    );
    apply(&ns, &repo.file());
    let repo_arg = repo.repo_arg();
    let fail = |args: &[&str]| failure(with_path(&ns).args(args), 1);

    let err = fail(&[
        "revert",
        "deploy/team-app",
        "--to-commit",
        "nope",
        "--repo",
        &repo_arg,
    ]);
    assert!(
        err.starts_with("error: \"nope\" does not name a commit in "),
        "{err}"
    );

    let not_a_repo = tempfile::tempdir().unwrap();
    let not_a_repo = not_a_repo.path().display().to_string();
    let err = fail(&["history", "deploy/team-app", "--repo", &not_a_repo]);
    assert!(err.contains("is not in a git repository"), "{err}");

    let missing = repo.path().join("missing.yaml").display().to_string();
    let err = fail(&[
        "history",
        "deploy/team-app",
        "--repo",
        &repo_arg,
        "--path",
        &missing,
    ]);
    assert!(
        err.contains("missing.yaml is not in the repository"),
        "{err}"
    );

    let service = repo.path().join("svc.yaml").display().to_string();
    let err = fail(&[
        "history",
        "deploy/team-app",
        "--repo",
        &repo_arg,
        "--path",
        &service,
    ]);
    assert!(
        err.contains("svc.yaml never defines deployment.apps/team-app"),
        "{err}"
    );

    // A commit whose manifest is not YAML is skipped with a warning; the rest still maps.
    // Revision 2 (by hand) matches no version; the broken version is read to end the run of
    // versions that made revision 1.
    ns.release("deployment/team-app", "nginx=nginx:1.17");
    let file = repo.file().display().to_string();
    let run = with_path(&ns)
        .args([
            "history",
            "deploy/team-app",
            "-o",
            "json",
            "--repo",
            &repo_arg,
            "--path",
            &file,
        ])
        .assert()
        .success();
    assert!(
        stderr(&run).starts_with("warning: skipping commit ")
            && stderr(&run).contains("(Break the manifest): deploy/app.yaml is not valid YAML"),
        "{}",
        stderr(&run)
    );
    let doc: Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(doc["revisions"][0]["commit"]["sha"], good.as_str());

    assert_eq!(doc["revisions"][1]["commit"], Value::Null);

    // --git refuses a manifest with uncommitted changes before changing anything.
    std::fs::write(repo.file(), "edited\n").unwrap();
    let before = ns.kubectl_ok(&[
        "get",
        "deployment/team-app",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);
    let err = fail(&[
        "revert",
        "deploy/team-app",
        "--git",
        "--repo",
        &repo_arg,
        "--path",
        &file,
    ]);
    assert!(
        err.starts_with("error: deploy/app.yaml has uncommitted changes"),
        "{err}"
    );
    let after = ns.kubectl_ok(&[
        "get",
        "deployment/team-app",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);
    assert_eq!(before, after);
    ns.delete().await;
}
