//! `kubectl gitrollout record`: for CI, after it rolls out, record the commit the current
//! revision was made from on that revision's object alone.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use kube::Api;
use kube::api::{Patch, PatchParams};
use rollout_core::{Revision, WorkloadKind, template};
use rollout_git::RECORDED_COMMIT;
use serde_json::json;

use crate::cli::{RecordArgs, WorkloadRef};
use crate::client::{Call, Cluster};
use crate::git::GitContext;
use crate::workload::{self, CHANGE_CAUSE, Workload};

const POLL: Duration = Duration::from_millis(250);

pub async fn run(
    cluster: &Cluster,
    target: &WorkloadRef,
    args: &RecordArgs,
    git: &GitContext,
    out: &mut dyn Write,
) -> Result<()> {
    let commit = git.resolve(&args.commit)?;
    let (workload, revision) = wait_for_current_revision(cluster, target, args.timeout).await?;
    let cause = args
        .message
        .clone()
        .unwrap_or_else(|| format!("{} ({})", commit.subject, commit.short()));
    let annotations = json!({"metadata": {"annotations": {
        RECORDED_COMMIT: commit.sha,
        CHANGE_CAUSE: cause,
    }}});
    let params = PatchParams::default();
    let (client, ns) = (cluster.client.clone(), cluster.namespace.as_str());
    let call = Call {
        verb: "patch",
        resource: target.kind.history_resource(),
        namespace: ns,
        name: None,
    };
    let patched = match target.kind {
        WorkloadKind::Deployment => Api::<ReplicaSet>::namespaced(client.clone(), ns)
            .patch(&revision.object, &params, &Patch::Merge(&annotations))
            .await
            .map(drop),
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
            Api::<ControllerRevision>::namespaced(client.clone(), ns)
                .patch(&revision.object, &params, &Patch::Merge(&annotations))
                .await
                .map(drop)
        }
    };
    patched.map_err(|e| cluster.explain(call, e))?;

    // A Deployment's own change cause is copied onto its newest ReplicaSet on every sync, and
    // would replace the one just recorded: keep the two the same.
    let inherited = workload
        .metadata()
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CHANGE_CAUSE));
    if let (Workload::Deployment(_), true) = (&workload, inherited) {
        let cause = json!({"metadata": {"annotations": {CHANGE_CAUSE: cause}}});
        let call = Call {
            resource: target.kind.resource(),
            ..call
        };
        Api::<Deployment>::namespaced(client, ns)
            .patch(&target.name, &params, &Patch::Merge(&cause))
            .await
            .map_err(|e| cluster.explain(call, e))?;
    }
    writeln!(
        out,
        "{}/{} revision {} recorded as commit {} ({})",
        target.kind,
        target.name,
        revision.number,
        commit.short(),
        commit.subject
    )?;
    Ok(())
}

/// Waits until the controller has seen the workload's spec and made the revision for its
/// current pod template.
async fn wait_for_current_revision(
    cluster: &Cluster,
    target: &WorkloadRef,
    timeout: Duration,
) -> Result<(Workload, Revision)> {
    let deadline = Instant::now() + timeout;
    loop {
        let (workload, owned) = workload::fetch(cluster, target).await?;
        let progress = workload.progress();
        let live = workload.template_value();
        let history = workload.history(owned);
        let current = history
            .current()
            .ok()
            .filter(|r| template::same_content(&r.template, &live));
        if let Some(revision) = current
            && progress.observed_generation >= progress.generation
        {
            let revision = revision.clone();
            return Ok((workload, revision));
        }
        if Instant::now() > deadline {
            bail!(
                "the controller has not made a revision for the current pod template of {} \
                 within {timeout:?}\nhint: see what holds it up with `kubectl rollout status {}`",
                history.workload(),
                history.workload()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
