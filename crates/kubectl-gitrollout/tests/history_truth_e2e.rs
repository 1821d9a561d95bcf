//! History that tells the truth after reverts and hand changes, end to end on the real control
//! plane, for each workload kind: revert markers and change causes are copied forward by
//! kubectl and the controllers, and `history` must not take them for this revision's own.

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::{TestNamespace, workload};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use serde_json::{Value, json};

/// kubectl's `TYPE/NAME`, e.g. `deployment/team-app`.
struct Target {
    kind: &'static str,
    name: &'static str,
}

impl Target {
    fn resource(&self) -> String {
        format!("{}/{}", self.kind.to_lowercase(), self.name)
    }
}

fn rollout_status(ns: &TestNamespace, target: &Target) {
    ns.kubectl_ok(&["rollout", "status", &target.resource(), "--timeout=120s"]);
}

fn set_image(ns: &TestNamespace, target: &Target, version: &str) {
    let image = format!("nginx=nginx:{version}");
    ns.kubectl_ok(&["set", "image", &target.resource(), &image]);
    rollout_status(ns, target);
}

fn revert(ns: &TestNamespace, target: &Target, revision: &str) {
    gitrollout(ns)
        .args([
            "revert",
            &target.resource(),
            "--to-revision",
            revision,
            "--wait",
        ])
        .assert()
        .success();
}

/// Revisions 1-3 (nginx 1.16, 1.17, 1.18); 4 reverts to 1; 5 is `kubectl set image` 1.19 by
/// hand; 6 reverts to 1 again; 7 reverts the revert 6, back to 5.
async fn play(ns: &TestNamespace, target: &Target) {
    let mut object = workload(target.kind, target.name, "nginx:1.16", None);
    match target.kind {
        "Deployment" => drop(ns.create::<Deployment>(object).await),
        "StatefulSet" => {
            object["spec"]["serviceName"] = json!(target.name);
            drop(ns.create::<StatefulSet>(object).await);
        }
        _ => drop(ns.create::<DaemonSet>(object).await),
    }
    rollout_status(ns, target);
    set_image(ns, target, "1.17");
    set_image(ns, target, "1.18");
    revert(ns, target, "1");
    set_image(ns, target, "1.19");
    revert(ns, target, "1");
    revert(ns, target, "5");
}

fn revision(doc: &Value, number: u64) -> &Value {
    let revisions = doc["revisions"].as_array().unwrap();
    revisions
        .iter()
        .find(|r| r["revision"] == number)
        .unwrap_or_else(|| panic!("no revision {number} in {doc:#}"))
}

/// What the history says of each revision, and of the hand change in detail.
async fn check(test: &str, target: Target) {
    let ns = TestNamespace::new(test).await;
    play(&ns, &target).await;
    let doc = run_json(&ns, &["history", &target.resource(), "-o", "json"]);
    let image = |v: &str| format!("nginx:{v}");
    let versions = ["1.16", "1.17", "1.18", "1.16", "1.19", "1.16", "1.19"];
    let expected: Vec<(u64, String, bool)> = (1..=7)
        .zip(versions)
        .map(|(n, v)| (n, image(v), n == 7))
        .collect();
    assert_eq!(revisions_of(&doc), expected, "{doc:#}");
    let reverts: Vec<(u64, Value)> = (1..=7)
        .map(|n| (n, revision(&doc, n)["revertOf"].clone()))
        .collect();
    assert_eq!(
        reverts,
        [
            (1, Value::Null),
            (2, Value::Null),
            (3, Value::Null),
            (4, json!(1)),
            (5, Value::Null),
            (6, json!(1)),
            (7, json!(5)),
        ],
        "{doc:#}"
    );
    let hand = revision(&doc, 5);
    assert_eq!(
        hand["changes"],
        json!([{"path": "containers[nginx].image", "op": "replace",
                "from": "nginx:1.16", "to": "nginx:1.19"}]),
        "{doc:#}"
    );
    assert_eq!(hand["summary"], "nginx 1.16 -> 1.19");
    assert_eq!(revision(&doc, 4)["changeCauseInherited"], false);
    if target.kind == "Deployment" {
        // The controller copied the revert's cause from the Deployment onto revision 5.
        assert_eq!(
            hand["changeCause"],
            "revert to revision 1: nginx=nginx:1.16"
        );
        assert_eq!(hand["changeCauseInherited"], true, "{doc:#}");
    }
    let table = gitrollout(&ns)
        .args(["history", &target.resource()])
        .assert()
        .success();
    let table = stdout(&table);
    let row = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some("5"))
        .unwrap_or_else(|| panic!("no row for revision 5:\n{table}"));
    assert!(
        row.ends_with("(computed) nginx 1.16 -> 1.19") && !row.contains("revert"),
        "{table}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn deployment_hand_change_after_a_revert_is_no_revert() {
    let target = Target {
        kind: "Deployment",
        name: "team-app",
    };
    check("truth-deployment", target).await;
}

#[tokio::test]
async fn statefulset_hand_change_after_a_revert_is_no_revert() {
    let target = Target {
        kind: "StatefulSet",
        name: "team-db",
    };
    check("truth-statefulset", target).await;
}

#[tokio::test]
async fn daemonset_hand_change_after_a_revert_is_no_revert() {
    let target = Target {
        kind: "DaemonSet",
        name: "team-agent",
    };
    check("truth-daemonset", target).await;
}

#[tokio::test]
async fn renumbered_revisions_are_found_and_history_still_makes_two_requests() {
    let ns = TestNamespace::new("truth-undo").await;
    let target = Target {
        kind: "Deployment",
        name: "team-app",
    };
    ns.create::<Deployment>(workload("Deployment", "team-app", "nginx:1.16", None))
        .await;
    rollout_status(&ns, &target);
    set_image(&ns, &target, "1.17");
    set_image(&ns, &target, "1.18");
    ns.kubectl_ok(&["rollout", "undo", "deployment/team-app", "--to-revision=2"]);
    rollout_status(&ns, &target);

    // Revision 2 is now 4.
    let run = gitrollout(&ns)
        .args([
            "history",
            "deployment/team-app",
            "--revision",
            "2",
            "-o",
            "json",
        ])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(doc["revision"], 4);
    assert_eq!(doc["earlierRevisions"], json!([2]));
    assert_eq!(
        stderr(&run).trim(),
        format!(
            "revision 2 of deployment.apps/team-app is now revision 4: `kubectl rollout undo` \
             re-used it"
        )
    );

    let run = gitrollout(&ns)
        .args(["-v=6", "history", "deployment/team-app"])
        .assert()
        .success();
    let log = stderr(&run);
    assert_eq!(log.lines().count(), 2, "{log}");

    // Two ReplicaSets that claim one number are both named, and the older one is used, as by
    // `kubectl rollout undo`. (Claiming the current number would make the controller renumber
    // the current ReplicaSet instead.)
    let name_of = |revision: &str| {
        let path = "{.items[?(@.metadata.annotations.deployment\\.kubernetes\\.io/revision==\"REV\")].metadata.name}";
        let jsonpath = format!("--output=jsonpath={}", path.replace("REV", revision));
        ns.kubectl_ok(&["get", "replicasets", &jsonpath])
    };
    let annotate = |name: &str, revision: &str| {
        let annotation = format!("deployment.kubernetes.io/revision={revision}");
        ns.kubectl_ok(&[
            "annotate",
            "--overwrite",
            &format!("replicaset/{name}"),
            &annotation,
        ]);
    };
    let history = |args: &[&str]| {
        let run = gitrollout(&ns).args(args).assert().success();
        (stdout(&run), stderr(&run))
    };
    let (first, third) = (name_of("1"), name_of("3"));
    annotate(&first, "3");
    let (out, warnings) = history(&[
        "history",
        "deployment/team-app",
        "--revision",
        "3",
        "-o",
        "json",
    ]);
    assert_eq!(
        warnings.trim(),
        format!(
            "warning: revision 3 is claimed by two ReplicaSets, {first} and {third}; using \
             {first}, as `kubectl rollout undo` would"
        )
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["object"]["name"], first.as_str());

    // One whose revision is not a number is named, never dropped in silence.
    annotate(&third, "three");
    let (_, warnings) = history(&["history", "deployment/team-app"]);
    assert_eq!(
        warnings.trim(),
        format!(
            "warning: ReplicaSet {third} has the revision number \"three\", which is not a \
             number; it is left out of the history and is never a revert target"
        )
    );
    ns.delete().await;
}
