//! Matching revisions to the versions of a manifest in real repositories made with git itself,
//! with the versions read loose and then from packs.

// A test states what it expects with unwrap: a failure there is the test failing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use gitrollout_test_git::GitRepo;
use rollout_core::{Current, History, Revision, WorkloadKind};
use rollout_git::{GitError, ManifestHistory, Repo, map_commits, workload_template};
use serde_json::Value;

/// A file with the workload `app` and another Deployment, `other`.
fn manifest(app_image: &str, other_image: &str) -> String {
    let deployment = |name: &str, image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  \
             template:\n    spec:\n      containers:\n      - name: c\n        image: {image}\n"
        )
    };
    format!(
        "{}---\n{}",
        deployment("app", app_image),
        deployment("other", other_image)
    )
}

fn history(templates: &[Value]) -> History {
    let revisions = (1..).zip(templates).map(|(number, template)| Revision {
        number,
        created_at: None,
        template: template.clone(),
        change_cause: None,
        earlier_numbers: Vec::new(),
        object: format!("app-{number}"),
        pods: None,
        annotations: BTreeMap::new(),
    });
    let revisions = revisions.collect();
    History::new(
        WorkloadKind::Deployment,
        "ns",
        "app",
        revisions,
        Current::Unknown,
    )
}

fn template(app_image: &str) -> Value {
    let text = manifest(app_image, "x");
    workload_template(text.as_bytes(), "Deployment", "app")
        .unwrap()
        .unwrap()
}

/// The commit each revision maps to, by number.
fn mapped(repo: &GitRepo, path: &str, history: &History) -> (BTreeMap<u64, String>, Vec<String>) {
    let git = Repo::discover(repo.path()).unwrap();
    let manifests = ManifestHistory::read(&git, path, history).unwrap();
    let mapping = map_commits(history, Some(&git), Some(&manifests));
    let commits = mapping.commits.into_iter().map(|(n, c)| (n, c.sha));
    (commits.collect(), manifests.warnings())
}

#[test]
fn revisions_map_to_the_commits_that_changed_their_workload() {
    let repo = GitRepo::new();
    let path = "deploy/all.yaml";
    let app_17 = repo.commit(path, &manifest("nginx:1.17", "a"), "app 1.17");
    repo.commit(path, &manifest("nginx:1.17", "b"), "other b");
    // Two broken versions in a row, the workload's document the same in both.
    let broken = "kind: Deployment\nname: app\n  bad: [\n---\nkind: ConfigMap\n";
    let broken = repo.commit(path, &format!("{broken}data: 1\n"), "Break it");
    repo.commit(
        path,
        "kind: Deployment\nname: app\n  bad: [\n---\nkind: ConfigMap\ndata: 2\n",
        "Break it again",
    );
    let app_18 = repo.commit(path, &manifest("nginx:1.18", "b"), "app 1.18");
    repo.commit(path, &manifest("nginx:1.18", "c"), "other c");
    repo.commit("README.md", "docs\n", "Docs");
    // 1.17 and 1.18 from commits, then a revert to 1.17, then one made by hand.
    let history = history(&[
        template("nginx:1.17"),
        template("nginx:1.18"),
        template("nginx:1.17"),
        template("nginx:1.19-handmade"),
    ]);
    let expected = BTreeMap::from([(1, app_17.clone()), (2, app_18), (3, app_17)]);
    for packed in [false, true] {
        if packed {
            repo.git(&["gc", "--quiet", "--aggressive"]);
        }
        let (commits, warnings) = mapped(&repo, path, &history);
        assert_eq!(commits, expected, "packed: {packed}");
        // Each broken version is named, in the order of the walk.
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("(Break it again)"), "{warnings:?}");
        assert!(warnings[1].starts_with(&format!("skipping commit {}", &broken[..7])));
    }
}

#[test]
fn a_file_that_never_defines_the_workload_or_is_not_there_is_an_error() {
    let repo = GitRepo::new();
    repo.commit(
        "deploy/other.yaml",
        &manifest("x", "y").replace("app", "web"),
        "web",
    );
    let history = history(&[template("nginx:1.17")]);
    let git = Repo::discover(repo.path()).unwrap();
    let err = ManifestHistory::read(&git, "deploy/other.yaml", &history).unwrap_err();
    assert!(
        matches!(err, GitError::NotDefined { commits: 1, .. }),
        "{err}"
    );
    let err = ManifestHistory::read(&git, "deploy/missing.yaml", &history).unwrap_err();
    assert!(matches!(err, GitError::NotInRepository { .. }), "{err}");
}
