//! Pods per revision for StatefulSets and DaemonSets, for `-o wide`: their ControllerRevisions do
//! not count pods as ReplicaSets do, so one LIST of the workload's pods (only for `wide`) is
//! counted by each pod's `controller-revision-hash` label.

use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use rollout_core::{History, WorkloadKind};

use crate::client::{Call, Cluster};
use crate::workload::Workload;

const REVISION_HASH: &str = "controller-revision-hash";

/// Sets the pod count of each revision of a StatefulSet or DaemonSet; a Deployment's
/// ReplicaSets already count theirs.
pub async fn count(cluster: &Cluster, workload: &Workload, history: &mut History) -> Result<()> {
    if workload.kind() == WorkloadKind::Deployment {
        return Ok(());
    }
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &history.namespace);
    let params = ListParams::default().labels(&workload.selector_string());
    let call = Call {
        verb: "list",
        resource: "pods",
        namespace: &history.namespace,
        name: None,
    };
    let pods = api
        .list_metadata(&params)
        .await
        .map_err(|e| cluster.explain(call, e))?;
    let uid = workload.metadata().uid.clone();
    let hashes: Vec<String> = pods
        .items
        .into_iter()
        .filter(|pod| {
            let owners = pod.metadata.owner_references.iter().flatten();
            owners
                .filter(|o| o.controller == Some(true))
                .any(|o| Some(&o.uid) == uid.as_ref())
        })
        .filter_map(|pod| pod.metadata.labels?.remove(REVISION_HASH))
        .collect();
    for revision in &mut history.revisions {
        let count = hashes
            .iter()
            .filter(|hash| is_revision(&revision.object, hash))
            .count();
        revision.pods = Some(i32::try_from(count).unwrap_or(i32::MAX));
    }
    Ok(())
}

/// Whether a pod's `controller-revision-hash` names this ControllerRevision: a StatefulSet's
/// pods carry the object's name, a DaemonSet's the hash its name ends with.
fn is_revision(object: &str, hash: &str) -> bool {
    object == hash
        || object
            .strip_suffix(hash)
            .is_some_and(|prefix| prefix.ends_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_name_revisions_either_way() {
        assert!(is_revision("team-db-5d8f9c7b6", "team-db-5d8f9c7b6"));
        assert!(is_revision("team-agent-6c9b8f7d4", "6c9b8f7d4"));
        assert!(!is_revision("team-agent-6c9b8f7d4", "9b8f7d4"));
        assert!(!is_revision("team-agent-6c9b8f7d4", "team-agent-1"));
    }
}
