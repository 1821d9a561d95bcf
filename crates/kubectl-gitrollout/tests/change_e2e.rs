//! `revert --change N` end to end on the real control plane: one revision's change undone,
//! every later change kept, for each kind of workload.

// A test states what it expects with unwrap: a failure there is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{gitrollout, revisions_of, run_json, stderr, stdout};
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
    assert_eq!(changed[2], "+    gitrollout.dev/reverted-change: '3'");
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
