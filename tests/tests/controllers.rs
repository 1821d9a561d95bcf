//! The controller behaviour the product is built on, observed on the real control plane.

use std::collections::BTreeMap;

use gitrollout_tests::{
    TestNamespace, deployment_complete, play_daemonset_story, play_deployment_story,
    play_statefulset_story, set_image, workload,
};
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use kube::api::ListParams;
use serde_json::json;

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";

/// The first half of the 2 AM story, through the API: each release becomes a new revision.
#[tokio::test]
async fn deployment_story_makes_revisions_1_2_3() {
    let ns = TestNamespace::new("deployment-story").await;
    ns.create::<Deployment>(workload("Deployment", "team-app", "nginx:1.16", Some(1)))
        .await;
    ns.wait_rollout("team-app", deployment_complete(1)).await;

    ns.patch::<Deployment>("team-app", json!({"spec": {"replicas": 10}}))
        .await;
    ns.wait_rollout("team-app", deployment_complete(10)).await;
    for image in ["nginx:1.17", "nginx:1.18"] {
        ns.patch::<Deployment>("team-app", set_image(image)).await;
        let deployment = ns.wait_rollout("team-app", deployment_complete(10)).await;
        let status = deployment.status.expect("a status");
        assert_eq!(
            (
                status.updated_replicas,
                status.ready_replicas,
                status.available_replicas
            ),
            (Some(10), Some(10), Some(10))
        );
    }

    assert_eq!(
        replicaset_revisions(&ns).await,
        BTreeMap::from([
            (1, ("nginx:1.16".to_owned(), None)),
            (2, ("nginx:1.17".to_owned(), None)),
            (3, ("nginx:1.18".to_owned(), None)),
        ])
    );
    ns.delete().await;
}

/// The problem the product solves, with the real kubectl: `rollout undo` renumbers revision 2 as
/// revision 4 and hides the old number in an annotation.
#[tokio::test]
async fn kubectl_rollout_undo_rewrites_history() {
    let ns = TestNamespace::new("kubectl-undo").await;
    play_deployment_story(&ns);
    let before = ns.kubectl_ok(&["rollout", "history", "deployment/team-app"]);
    assert_eq!(history_numbers(&before), [1, 2, 3], "{before}");

    let undo = "rollout undo deployment/team-app --to-revision 2";
    ns.kubectl_ok(&undo.split(' ').collect::<Vec<_>>());
    ns.rollout_status("deployment/team-app");

    let after = ns.kubectl_ok(&["rollout", "history", "deployment/team-app"]);
    assert_eq!(history_numbers(&after), [1, 3, 4], "{after}");
    assert_eq!(
        replicaset_revisions(&ns).await,
        BTreeMap::from([
            (1, ("nginx:1.16".to_owned(), None)),
            (3, ("nginx:1.18".to_owned(), None)),
            (4, ("nginx:1.17".to_owned(), Some("2".to_owned()))),
        ])
    );
    ns.delete().await;
}

#[tokio::test]
async fn statefulset_releases_make_controller_revisions_1_2_3() {
    let ns = TestNamespace::new("statefulset-story").await;
    play_statefulset_story(&ns).await;
    assert_eq!(
        controller_revisions(&ns).await,
        images_by_revision(["nginx:1.16", "nginx:1.17", "nginx:1.18"])
    );
    ns.delete().await;
}

#[tokio::test]
async fn daemonset_releases_make_controller_revisions_1_2_3() {
    let ns = TestNamespace::new("daemonset-story").await;
    play_daemonset_story(&ns).await;
    assert_eq!(
        controller_revisions(&ns).await,
        images_by_revision(["nginx:1.16", "nginx:1.17", "nginx:1.18"])
    );
    ns.delete().await;
}

/// Revision number -> (image, revision-history) of the namespace's ReplicaSets.
async fn replicaset_revisions(ns: &TestNamespace) -> BTreeMap<u32, (String, Option<String>)> {
    let api = ns.api::<ReplicaSet>();
    let sets = api.list(&ListParams::default()).await;
    sets.expect("could not list ReplicaSets")
        .into_iter()
        .map(|rs| {
            let annotations = rs.metadata.annotations.clone().unwrap_or_default();
            let revision = annotations[REVISION].parse().expect("a numeric revision");
            let template = rs.spec.and_then(|s| s.template).and_then(|t| t.spec);
            let image = template.and_then(|s| s.containers[0].image.clone());
            let history = annotations.get(REVISION_HISTORY).cloned();
            (revision, (image.expect("an image"), history))
        })
        .collect()
}

/// Revision number -> image of the namespace's ControllerRevisions, decoded from their `data`.
async fn controller_revisions(ns: &TestNamespace) -> BTreeMap<i64, String> {
    let api = ns.api::<ControllerRevision>();
    let revisions = api.list(&ListParams::default()).await;
    revisions
        .expect("could not list ControllerRevisions")
        .into_iter()
        .map(|cr| {
            let data = cr.data.expect("a ControllerRevision carries data").0;
            let image = data["spec"]["template"]["spec"]["containers"][0]["image"].as_str();
            (cr.revision, image.expect("an image").to_owned())
        })
        .collect()
}

fn images_by_revision(images: [&str; 3]) -> BTreeMap<i64, String> {
    (1..).zip(images.map(String::from)).collect()
}

/// The revision numbers of `kubectl rollout history` output.
fn history_numbers(output: &str) -> Vec<u32> {
    output
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}
