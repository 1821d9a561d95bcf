//! `revert --change N` end to end on the real control plane: one revision's change undone,
//! every later change kept, for each kind of workload.

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::git::GitRepo;
use gitrollout_tests::output::{changed_lines, failure};
use gitrollout_tests::{
    TestNamespace, play_daemonset_story, play_deployment_story, play_statefulset_story,
};
use serde_json::Value;

/// The workload, then its revision objects, each as `name=resourceVersion`: what a command that
/// writes nothing leaves equal.
fn versions(ns: &TestNamespace, workload: &str) -> String {
    let range = "-o=jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}";
    let own = ns.kubectl_ok(&["get", workload, "-o=jsonpath={.metadata.resourceVersion}"]);
    let revisions = ns.kubectl_ok(&["get", "replicasets,controllerrevisions", range]);
    format!("{own} {revisions}")
}

/// The live pod template's `nginx` container.
fn nginx(ns: &TestNamespace, workload: &str) -> Value {
    let object: Value = serde_json::from_str(&ns.kubectl_ok(&["get", workload, "-o", "json"]))
        .expect("kubectl prints JSON");
    object["spec"]["template"]["spec"]["containers"][0].clone()
}

/// After the story's releases 1.17 (revision 2) and 1.18 (revision 3), a config change
/// (revision 4); then the release of 1.18 is reverted alone, keeping the config change.
fn revert_the_release_and_keep_the_config(ns: &TestNamespace, workload: &str, name: &str) {
    ns.kubectl_ok(&["set", "env", workload, "LOG_LEVEL=debug"]);
    ns.rollout_status(workload);
    let untouched = versions(ns, workload);

    // A dry run prints the diff and changes nothing.
    let run = gitrollout(ns)
        .args(["revert", workload, "--change", "3", "--dry-run"])
        .assert()
        .success();
    let diff = stdout(&run);
    let changed = changed_lines(&diff);
    assert_eq!(changed.len(), 5, "{diff}");
    assert_eq!(changed[0], "+  annotations:");
    assert!(
        changed[1].starts_with("+    gitrollout.dev/reverted-at: "),
        "{diff}"
    );
    assert_eq!(changed[2], "+    gitrollout.dev/reverted-change: \"3\"");
    assert_eq!(
        changed[3..5],
        ["-    image: nginx:1.18", "+    image: nginx:1.17"]
    );
    assert_eq!(
        stderr(&run),
        format!(
            "dry run: the change of revision 3 of {name} would be reverted; nothing was changed\n"
        )
    );
    assert_eq!(versions(ns, workload), untouched);

    // Revision 2's image was changed again by revision 3: a conflict, with its three values,
    // in a dry run as in a write, and nothing is written.
    for dry_run in [&["--dry-run"][..], &[]] {
        let said = failure(
            gitrollout(ns)
                .args(["revert", workload, "--change", "2"])
                .args(dry_run),
            1,
        );
        assert_eq!(
            said,
            format!(
                "conflict: containers[nginx].image\n  before: \"nginx:1.16\" (revision 1)\n  \
                 at:     \"nginx:1.17\" (revision 2)\n  live:   \"nginx:1.18\"\nerror: cannot \
                 revert the change of revision 2 of {name}: 1 field it changed was changed again \
                 since\nhint: restore the whole revision before it with `--to-revision 1`, or \
                 edit the fields by hand\n"
            )
        );
        assert_eq!(versions(ns, workload), untouched);
    }

    let run = gitrollout(ns)
        .args(["revert", workload, "--change", "3", "--wait"])
        .assert()
        .success();
    assert_eq!(
        stdout(&run),
        format!("{name} reverted change of revision 3 as revision 5\n")
    );
    let container = nginx(ns, workload);
    assert_eq!(container["image"], "nginx:1.17");
    assert_eq!(container["env"][0]["name"], "LOG_LEVEL");
    assert_eq!(container["env"][0]["value"], "debug");

    let doc = run_json(ns, &["history", workload, "-o", "json"]);
    let images: Vec<(u64, String, bool)> = revisions_of(&doc);
    assert_eq!(
        images.last(),
        Some(&(5, "nginx:1.17".to_owned(), true)),
        "{doc:#}"
    );
    let reverted: Vec<(u64, Option<u64>)> = doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap(),
                r["revertedChange"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        reverted,
        [(1, None), (2, None), (3, None), (4, None), (5, Some(3))]
    );
    let table = gitrollout(ns)
        .args(["history", workload])
        .assert()
        .success();
    let table = stdout(&table);
    let row = table
        .lines()
        .find(|l| l.trim_start_matches(['*', ' ']).starts_with("5 "))
        .unwrap_or_default();
    assert!(row.contains("(revert of change 3)"), "{table}");
    let revision = &doc["revisions"][4];
    assert_eq!(
        revision["changeCause"], "revert change of revision 3: nginx 1.17 -> 1.18",
        "{revision:#}"
    );
}

/// `kubectl rollout history` tells the story through the change cause.
fn kubectl_tells_the_story(ns: &TestNamespace, workload: &str) {
    let kubectl = ns.kubectl_ok(&["rollout", "history", workload]);
    let last = kubectl.lines().rfind(|l| !l.is_empty()).unwrap();
    assert!(last.starts_with("5 "), "{kubectl}");
    assert!(
        last.contains("revert change of revision 3: nginx 1.17 -> 1.18"),
        "{kubectl}"
    );
}

#[tokio::test]
async fn a_deployment_release_is_reverted_alone() {
    let ns = TestNamespace::new("change-deploy").await;
    play_deployment_story(&ns);
    let workload = "deployment/team-app";
    // A change and a whole revision at once is bad usage, refused before any request.
    for other in [&["--to-revision", "2"][..], &["--to-commit", "HEAD"]] {
        let said = failure(
            gitrollout(&ns)
                .args(["revert", workload, "--change", "3"])
                .args(other),
            2,
        );
        assert!(said.contains("cannot be used with"), "{said}");
    }
    assert!(
        failure(
            gitrollout(&ns).args(["revert", workload, "--change", "0"]),
            2
        )
        .contains("a revision is a positive integer")
    );
    revert_the_release_and_keep_the_config(&ns, workload, "deployment.apps/team-app");
    kubectl_tells_the_story(&ns, workload);
    ns.delete().await;
}

#[tokio::test]
async fn a_statefulset_release_is_reverted_alone() {
    let ns = TestNamespace::new("change-sts").await;
    play_statefulset_story(&ns).await;
    let workload = "statefulset/team-db";
    revert_the_release_and_keep_the_config(&ns, workload, "statefulset.apps/team-db");
    kubectl_tells_the_story(&ns, workload);
    ns.delete().await;
}

#[tokio::test]
async fn a_daemonset_release_is_reverted_alone() {
    let ns = TestNamespace::new("change-ds").await;
    play_daemonset_story(&ns).await;
    let workload = "daemonset/team-agent";
    revert_the_release_and_keep_the_config(&ns, workload, "daemonset.apps/team-agent");
    kubectl_tells_the_story(&ns, workload);
    ns.delete().await;
}

const FILE: &str = "deploy/app.yaml";

/// The manifest of `team-app` on nginx `version`, logging at `level`.
fn manifest(version: &str, level: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: team-app\nspec:\n  replicas: \
         1\n  selector:\n    matchLabels:\n      app: team-app\n  template:\n    metadata:\n      \
         labels:\n        app: team-app\n    spec:\n      containers:\n      - name: nginx\n        \
         image: nginx:{version}\n        env:\n        - name: LOG_LEVEL\n          value: {level}\n"
    )
}

/// Commits the manifest (and, when given, another file in the same commit) and applies it.
fn release(ns: &TestNamespace, repo: &GitRepo, content: &str, other: Option<&str>, subject: &str) {
    if let Some(other) = other {
        std::fs::write(repo.path().join("NOTES.md"), other).unwrap();
        repo.git(&["add", "NOTES.md"]);
    }
    repo.commit(FILE, content, subject);
    let file = repo.path().join(FILE).display().to_string();
    ns.kubectl_ok(&["apply", "-f", &file]);
    ns.rollout_status("deployment/team-app");
}

#[tokio::test]
async fn git_reverts_only_what_the_commit_did_to_the_manifest() {
    let ns = TestNamespace::new("change-git").await;
    let repo = GitRepo::new();
    release(
        &ns,
        &repo,
        &manifest("1.16", "info"),
        Some("1.16\n"),
        "Start",
    );
    let notes = "1.16\n1.17: faster\n";
    release(
        &ns,
        &repo,
        &manifest("1.17", "info"),
        Some(notes),
        "Release nginx 1.17",
    );
    let released = repo.git(&["rev-parse", "HEAD"]);
    release(&ns, &repo, &manifest("1.17", "debug"), None, "Debug logs");
    let (repo_arg, file_arg) = (repo.path().display().to_string(), repo.path().join(FILE));
    let file_arg = file_arg.display().to_string();
    let revert = |change: &str| {
        let mut cmd = gitrollout(&ns);
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["revert", "deployment/team-app", "--change", change, "--git"])
            .args(["--repo", &repo_arg, "--path", &file_arg]);
        cmd
    };

    // Revision 2 (the release) is undone in the cluster and in the manifest only: the notes
    // the same commit changed stay, and so does the later debug level.
    let run = revert("2").assert().success();
    let head = repo.git(&["rev-parse", "--short", "HEAD"]);
    assert_eq!(
        stdout(&run),
        format!(
            "deployment.apps/team-app reverted change of revision 2 as revision 4\ncommitted \
             {head} Revert \"Release nginx 1.17\"\n"
        )
    );
    assert_eq!(
        repo.git(&["log", "-1", "--format=%B"]),
        format!("Revert \"Release nginx 1.17\"\n\nThis reverts commit {released}.")
    );
    assert_eq!(
        repo.git(&["show", "--name-only", "--format=", "HEAD"]),
        FILE
    );
    let read = |path: &str| std::fs::read_to_string(repo.path().join(path)).unwrap();
    assert_eq!(read(FILE), manifest("1.16", "debug"));
    assert_eq!(read("NOTES.md"), notes);
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    let container = nginx(&ns, "deployment/team-app");
    assert_eq!(container["image"], "nginx:1.16");
    assert_eq!(container["env"][0]["value"], "debug");

    // The manifest moved on to trace in git: undoing the debug level conflicts there, and is
    // refused before the cluster is touched.
    let moved = repo.commit(FILE, &manifest("1.16", "trace"), "Trace logs");
    ns.rollout_status("deployment/team-app");
    let untouched = versions(&ns, "deployment/team-app");
    let said = failure(&mut revert("3"), 1);
    let debug = repo.git(&["rev-parse", "--short", "HEAD~2"]);
    assert_eq!(
        said,
        format!(
            "error: reverting commit {debug} (Debug logs) conflicts with later changes to {FILE} \
             (1 conflict); nothing was changed\nhint: revert it by hand with `git revert \
             --no-commit {debug}`, or restore a whole revision with --to-revision\n"
        )
    );
    assert_eq!(versions(&ns, "deployment/team-app"), untouched);
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), moved);
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    ns.delete().await;
}

#[tokio::test]
async fn reverting_a_restart_drops_the_restart_annotation_only() {
    let ns = TestNamespace::new("change-restart").await;
    let workload = "deployment/team-app";
    ns.kubectl_ok(&["create", "deployment", "team-app", "--image=nginx:1.16"]);
    ns.rollout_status(workload);
    ns.kubectl_ok(&["rollout", "restart", workload]);
    ns.rollout_status(workload);
    ns.release(workload, "nginx=nginx:1.17");

    let run = gitrollout(&ns)
        .args(["revert", workload, "--change", "2", "--wait"])
        .assert()
        .success();
    assert_eq!(
        stdout(&run),
        "deployment.apps/team-app reverted change of revision 2 as revision 4\n"
    );
    let object: Value = serde_json::from_str(&ns.kubectl_ok(&["get", workload, "-o", "json"]))
        .expect("kubectl prints JSON");
    let annotations = &object["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["kubectl.kubernetes.io/restartedAt"],
        Value::Null
    );
    assert_eq!(annotations["gitrollout.dev/reverted-change"], "2");
    assert_eq!(nginx(&ns, workload)["image"], "nginx:1.17");
    let doc = run_json(&ns, &["history", workload, "-o", "json"]);
    assert_eq!(
        doc["revisions"][3]["changeCause"], "revert change of revision 2: restart",
        "{doc:#}"
    );
    ns.delete().await;
}
