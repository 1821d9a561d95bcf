//! The revert's one write: a JSON patch of the pod template and the change cause, conditional on
//! the resourceVersion that was read.

use anyhow::Result;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{Patch, PatchParams};
use rollout_core::{RevertPlan, made_by};
use serde_json::json;

use crate::client::{Call, Cluster};
use crate::commands::apply::FIELD_MANAGER;
use crate::workload::{self, CHANGE_CAUSE, Workload};
use crate::write::{self, Writing};

/// Sends the plan: the workload's generation after the write, or `None` when the server refused
/// it for a conflict (someone wrote since the read) and it should be planned again. When the
/// answer is lost, reads again to say whether the revert landed.
pub(super) async fn send(
    cluster: &Cluster,
    writing: Writing<'_>,
    workload: &Workload,
    plan: &RevertPlan,
) -> Result<Option<i64>> {
    let target = writing.target;
    match patch(cluster, workload, plan).await {
        Ok(generation) => Ok(Some(generation)),
        Err(kube::Error::Api(status)) if status.is_conflict() => Ok(None),
        Err(err @ kube::Error::Api(_)) => {
            let call = Call::patch(cluster, target.kind.resource(), &target.name);
            Err(cluster.explain(call, err))
        }
        // No answer: the write may or may not have landed. Find out, and say which.
        Err(err) => {
            let landed = write::find_out(|| async {
                let (workload, owned) = workload::fetch(cluster, target).await?;
                let history = workload.history(owned);
                Ok(write::judge_template(&workload, &history, |t| {
                    made_by(plan, t)
                }))
            })
            .await;
            Err(write::lost(cluster, writing, &err, landed))
        }
    }
}

/// Replaces the pod template and sets the change cause, as one JSON patch that carries the
/// resourceVersion that was read: the server refuses it (409) if the workload changed since.
/// Returns the workload's generation after the write.
async fn patch(cluster: &Cluster, workload: &Workload, plan: &RevertPlan) -> kube::Result<i64> {
    let meta = workload.metadata();
    let resource_version = meta.resource_version.clone().unwrap_or_default();
    let cause = if meta.annotations.is_some() {
        let key = CHANGE_CAUSE.replace('~', "~0").replace('/', "~1");
        json!({"op": "add", "path": format!("/metadata/annotations/{key}"), "value": plan.change_cause})
    } else {
        json!({"op": "add", "path": "/metadata/annotations", "value": {CHANGE_CAUSE: plan.change_cause}})
    };
    let patch = json!([
        {"op": "replace", "path": "/metadata/resourceVersion", "value": resource_version},
        {"op": "replace", "path": "/spec/template", "value": plan.template},
        cause,
    ]);
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    let patch = Patch::Json::<()>(patch);
    // Named as apply names its writes, so the managed fields tell who changed the template.
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let name = meta.name.as_deref().unwrap_or_default();
    let meta = match workload {
        Workload::Deployment(_) => {
            let api = cluster.api::<Deployment>();
            api.patch(name, &params, &patch).await?.metadata
        }
        Workload::StatefulSet(_) => {
            let api = cluster.api::<StatefulSet>();
            api.patch(name, &params, &patch).await?.metadata
        }
        Workload::DaemonSet(_) => {
            let api = cluster.api::<DaemonSet>();
            api.patch(name, &params, &patch).await?.metadata
        }
    };
    Ok(meta.generation.unwrap_or_default())
}
