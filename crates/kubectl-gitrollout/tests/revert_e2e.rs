//! `revert` end to end on the real control plane: history stays append-only.

use std::sync::Arc;

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::output::{changed_lines, failure};
use gitrollout_tests::proxy::{FaultProxy, Meddler};
use gitrollout_tests::{
    TestNamespace, deployment_complete, play_daemonset_story, play_deployment_story,
    play_statefulset_story, workload,
};
use http::Method;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::ListParams;
use serde_json::{Value, json};

/// (revision, image, revertOf) of every revision, ascending.
fn revisions(ns: &TestNamespace, workload: &str) -> Vec<(u64, String, Option<u64>)> {
    let doc = run_json(ns, &["history", workload, "-o", "json"]);
    let revert_of = |r: &Value| r["revertOf"].as_u64();
    let docs = doc["revisions"].as_array().cloned().unwrap_or_default();
    revisions_of(&doc)
        .into_iter()
        .zip(docs.iter().map(revert_of))
        .map(|((number, image, _), of)| (number, image, of))
        .collect()
}

fn revert(ns: &TestNamespace, args: &[&str]) -> String {
    let run = gitrollout(ns).arg("revert").args(args).assert().success();
    stdout(&run)
}

fn expect(rows: &[(u64, &str, Option<u64>)]) -> Vec<(u64, String, Option<u64>)> {
    rows.iter()
        .map(|(n, image, of)| (*n, (*image).to_owned(), *of))
        .collect()
}

#[tokio::test]
async fn revert_adds_a_revision_and_keeps_the_old_ones() {
    let ns = TestNamespace::new("revert-story").await;
    play_deployment_story(&ns);

    let said = revert(&ns, &["deployment/team-app", "--to-revision", "2"]);
    assert_eq!(
        said,
        "deployment.apps/team-app reverted to revision 2 as revision 4\n"
    );
    assert_eq!(
        revisions(&ns, "deployment/team-app"),
        expect(&[
            (1, "nginx:1.16", None),
            (2, "nginx:1.17", None),
            (3, "nginx:1.18", None),
            (4, "nginx:1.17", Some(2)),
        ])
    );
    // kubectl's own history tells the same story, with a cause naming revision 2.
    let kubectl = ns.kubectl_ok(&["rollout", "history", "deployment/team-app"]);
    let rows: Vec<&str> = kubectl.lines().skip(2).filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 4, "{kubectl}");
    assert!(rows[3].starts_with("4 "), "{kubectl}");
    assert!(
        rows[3].contains("revert to revision 2: nginx=nginx:1.17"),
        "{kubectl}"
    );

    // Back to 1.18, then a revert of a revert, then revision 2 once more: every revision keeps
    // its number.
    revert(&ns, &["deploy/team-app", "--to-revision", "3", "--wait"]);
    revert(&ns, &["deploy", "team-app", "--to-revision", "4"]);
    revert(&ns, &["deploy/team-app", "--to-revision", "3"]);
    revert(
        &ns,
        &[
            "deploy/team-app",
            "--to-revision",
            "2",
            "-m",
            "payments fail on 1.18",
        ],
    );
    assert_eq!(
        revisions(&ns, "deployment/team-app"),
        expect(&[
            (1, "nginx:1.16", None),
            (2, "nginx:1.17", None),
            (3, "nginx:1.18", None),
            (4, "nginx:1.17", Some(2)),
            (5, "nginx:1.18", Some(3)),
            (6, "nginx:1.17", Some(4)),
            (7, "nginx:1.18", Some(3)),
            (8, "nginx:1.17", Some(2)),
        ])
    );
    let eight = run_json(
        &ns,
        &[
            "history",
            "deploy/team-app",
            "--revision",
            "8",
            "-o",
            "json",
        ],
    );
    assert_eq!(eight["changeCause"], "payments fail on 1.18");
    ns.delete().await;
}

#[tokio::test]
async fn dry_run_prints_the_diff_and_changes_nothing() {
    let ns = TestNamespace::new("revert-dry-run").await;
    play_deployment_story(&ns);
    let before = snapshot(&ns).await;

    let diff = revert(
        &ns,
        &["deployment/team-app", "--to-revision", "2", "--dry-run"],
    );
    let changed = changed_lines(&diff);
    assert_eq!(changed.len(), 5, "{diff}");
    assert_eq!(changed[0], "+  annotations:");
    assert_eq!(changed[1], "+    gitrollout.dev/revert-of: \"2\"");
    assert!(
        changed[2].starts_with("+    gitrollout.dev/reverted-at: "),
        "{diff}"
    );
    assert_eq!(
        changed[3..],
        ["-  - image: nginx:1.18", "+  - image: nginx:1.17"]
    );

    assert_eq!(snapshot(&ns).await, before);
    ns.delete().await;
}

/// The Deployment's resourceVersion and the names and versions of its ReplicaSets.
async fn snapshot(ns: &TestNamespace) -> (String, Vec<(String, String)>) {
    let deployment = ns.api::<Deployment>().get("team-app").await.unwrap();
    let sets = ns
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let mut sets: Vec<(String, String)> = sets
        .into_iter()
        .map(|rs| {
            (
                rs.metadata.name.unwrap(),
                rs.metadata.resource_version.unwrap(),
            )
        })
        .collect();
    sets.sort();
    (deployment.metadata.resource_version.unwrap(), sets)
}

/// Runs `revert deploy/team-app` through a proxy that makes `change(n)` to the Deployment just
/// before the `n`th PATCH reaches the server; returns the run and how many PATCHes it sent.
async fn revert_racing(
    ns: &TestNamespace,
    change: impl Fn(usize) -> Option<Value> + Send + Sync + 'static,
) -> (assert_cmd::assert::Assert, usize) {
    let meddler = Meddler {
        method: Method::PATCH,
        change: Arc::new(change),
    };
    let proxy = FaultProxy::meddling(ns.client.clone(), meddler)
        .await
        .unwrap();
    let run = gitrollout(ns)
        .env("KUBECONFIG", &proxy.kubeconfig)
        .args(["revert", "deploy/team-app"])
        .assert();
    let patches = proxy
        .requests()
        .iter()
        .filter(|r| r.trim_start_matches('!').starts_with("PATCH "))
        .count();
    (run, patches)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_change_is_never_overwritten() {
    let ns = TestNamespace::new("revert-race").await;
    play_deployment_story(&ns);

    // Someone scales the Deployment between our read and our write: the write is refused, we
    // read again, and the revert goes through on top of their change.
    let (run, patches) = revert_racing(&ns, |call| {
        (call == 0).then(|| json!({"spec": {"replicas": 4}}))
    })
    .await;
    run.success();
    // The controller updating the status after their change may cost another conflict.
    assert!(patches >= 2, "{patches}");
    let deployment = ns.wait_rollout("team-app", deployment_complete(4)).await;
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(4));
    assert_eq!(
        spec.template.spec.unwrap().containers[0].image.as_deref(),
        Some("nginx:1.17")
    );

    // Someone who keeps changing it wins: we give up and write nothing, and say which limit
    // gave up.
    let (run, patches) =
        revert_racing(&ns, |call| Some(json!({"spec": {"replicas": 5 + call}}))).await;
    let err = stderr(&run.code(1));
    assert!(
        err.starts_with("deployment.apps/team-app changed while reverting; planning again\n")
            && err.contains(
                "\nerror: deployment.apps/team-app kept changing while reverting (its spec \
                 changed 3 times): someone else is changing it"
            ),
        "{err}"
    );
    assert!(
        err.contains("hint: find out who with `kubectl get deployment team-app -o yaml"),
        "{err}"
    );
    assert_eq!(patches, 3);
    let deployment = ns.api::<Deployment>().get("team-app").await.unwrap();
    assert_eq!(deployment.spec.as_ref().unwrap().replicas, Some(7));
    let image = deployment.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("nginx:1.17"));
    ns.delete().await;
}

#[tokio::test]
async fn statefulset_and_daemonset_revert_to_a_new_controller_revision() {
    let ns = TestNamespace::new("revert-sts-ds").await;
    play_statefulset_story(&ns).await;
    play_daemonset_story(&ns).await;
    for (workload, kind) in [
        ("statefulset/team-db", "statefulset"),
        ("ds/team-agent", "daemonset"),
    ] {
        let said = revert(&ns, &[workload, "--to-revision", "1", "--wait"]);
        let name = workload.split_once('/').map_or("", |(_, n)| n);
        assert_eq!(
            said,
            format!("{kind}.apps/{name} reverted to revision 1 as revision 4\n")
        );
        assert_eq!(
            revisions(&ns, workload),
            expect(&[
                (1, "nginx:1.16", None),
                (2, "nginx:1.17", None),
                (3, "nginx:1.18", None),
                (4, "nginx:1.16", Some(1)),
            ]),
            "{workload}"
        );
        let doc = run_json(&ns, &["history", workload, "-o", "json"]);
        assert_eq!(doc["currentRevision"], 4, "{workload}");
    }
    ns.delete().await;
}

#[tokio::test]
async fn refusals_say_what_to_do() {
    let ns = TestNamespace::new("revert-refusals").await;
    let fail = |args: &[&str], code: i32| failure(gitrollout(&ns).arg("revert").args(args), code);

    // Only one revision: nothing before it.
    ns.create::<Deployment>(workload("Deployment", "single", "nginx:1.16", Some(1)))
        .await;
    ns.wait_rollout("single", deployment_complete(1)).await;
    assert_eq!(
        fail(&["deployment/single"], 1),
        "error: deployment.apps/single has no revision before the current one (1) to revert to\n\
         hint: name one with --to-revision\n"
    );
    assert!(
        fail(&["deployment/missing"], 1).starts_with("error: deployment \"missing\" not found")
    );
    assert!(fail(&["deployment/single", "--to-revision", "abc"], 2).contains("--to-revision"));
    assert!(fail(&["cronjob/single"], 2).contains("unknown workload type \"cronjob\""));

    play_deployment_story(&ns);
    assert_eq!(
        fail(&["deployment/team-app", "--to-revision", "3"], 1),
        "error: deployment.apps/team-app already runs the pod template of revision 3; nothing to \
         revert\nhint: see what each revision ran with `kubectl gitrollout history \
         deployment.apps/team-app`\n"
    );

    ns.kubectl_ok(&["rollout", "pause", "deployment/team-app"]);
    assert!(
        fail(&["deployment/team-app", "--to-revision", "2"], 1)
            .starts_with("error: deployment.apps/team-app is paused"),
    );
    ns.kubectl_ok(&["rollout", "resume", "deployment/team-app"]);

    // Flux manages it: refused unless --force.
    ns.kubectl_ok(&[
        "label",
        "deployment/team-app",
        "kustomize.toolkit.fluxcd.io/name=apps",
    ]);
    assert_eq!(
        fail(&["deployment/team-app", "--to-revision", "2"], 1),
        "error: deployment.apps/team-app is managed by Flux (label \
         kustomize.toolkit.fluxcd.io/name), which would undo a revert made in the cluster\nhint: \
         revert the change in git and let Flux sync it, or pass --force to revert in the cluster \
         anyway\n"
    );
    revert(
        &ns,
        &[
            "deployment/team-app",
            "--to-revision",
            "2",
            "--force",
            "--wait",
        ],
    );

    // revisionHistoryLimit prunes old ReplicaSets: the target is gone, and what exists is listed.
    ns.patch::<Deployment>("team-app", json!({"spec": {"revisionHistoryLimit": 1}}))
        .await;
    ns.release("deployment/team-app", "nginx=nginx:1.19");
    let pruned = ns
        .wait_for(
            "old ReplicaSets to be pruned",
            gitrollout_tests::ROLLOUT_TIMEOUT,
            || async { revisions(&ns, "deployment/team-app").len() },
            |n| *n == 2,
        )
        .await;
    assert_eq!(pruned, 2);
    assert_eq!(
        fail(&["deployment/team-app", "--to-revision", "1", "--force"], 1),
        "error: revision 1 is not in the history of deployment.apps/team-app; it has revisions 4, 5\n"
    );
    ns.delete().await;
}

#[tokio::test]
async fn wait_ends_with_the_rollout_or_fails_at_the_timeout() {
    let ns = TestNamespace::new("revert-wait").await;
    ns.kubectl_ok(&[
        "create",
        "deployment",
        "stuck",
        "--image=nginx:1.16",
        "--replicas=2",
    ]);
    ns.rollout_status("deployment/stuck");
    // The kubelet stand-in never makes this image Ready: revision 2 cannot finish rolling out.
    ns.kubectl_ok(&[
        "set",
        "image",
        "deployment/stuck",
        "nginx=nginx:never-ready",
    ]);
    ns.release("deployment/stuck", "nginx=nginx:1.17");

    let run = gitrollout(&ns)
        .args([
            "revert",
            "deployment/stuck",
            "--to-revision",
            "2",
            "--wait",
            "--timeout",
            "3s",
        ])
        .assert()
        .code(1);
    assert_eq!(
        stdout(&run),
        "deployment.apps/stuck reverted to revision 2 as revision 4\n"
    );
    let err = stderr(&run);
    assert!(
        err.contains("error: timed out after 3s waiting for the rollout of deployment.apps/stuck"),
        "{err}"
    );

    let run = gitrollout(&ns)
        .args(["revert", "deployment/stuck", "--to-revision", "3", "--wait"])
        .assert()
        .success();
    let err = stderr(&run);
    assert!(
        err.contains("waiting for deployment.apps/stuck: ")
            && err.ends_with("deployment.apps/stuck successfully rolled out\n"),
        "{err}"
    );
    ns.wait_rollout("stuck", deployment_complete(2)).await;
    ns.delete().await;
}
