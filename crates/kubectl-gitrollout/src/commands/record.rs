//! `kubectl gitrollout record`: for CI, after it rolls out, record the commit the current
//! revision was made from on that revision's object alone.

use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Args;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use kube::api::{Patch, PatchParams};
use rollout_core::{Revision, WorkloadKind, template};
use rollout_git::RECORDED_COMMIT;
use serde_json::json;

use crate::cli::{Global, RepoArgs, WorkloadRef, one_workload, parse_timeout};
use crate::client::{self, Call, Cluster};
use crate::git::GitContext;
use crate::ui::Ui;
use crate::wait::{self, Watched};
use crate::workload::{CHANGE_CAUSE, Workload};

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// TYPE/NAME or TYPE NAME, e.g. deployment/team-app
    #[arg(value_name = "WORKLOAD", required = true, num_args = 1..=2)]
    pub workload: Vec<String>,
    /// The commit the current pod template was made from
    #[arg(long, value_name = "REF")]
    pub commit: String,
    /// The change cause to record (default: the commit's subject and short SHA)
    #[arg(short = 'm', long, value_name = "MSG")]
    pub message: Option<String>,
    /// How long to wait for the controller to make the revision (0: no limit)
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_timeout)]
    pub timeout: Duration,
    #[command(flatten)]
    pub repo: RepoArgs,
}

pub async fn run(global: &Global, args: RecordArgs, ui: &mut Ui<'_>) -> Result<()> {
    let target = one_workload(&args.workload, "record")?;
    let git = GitContext::open(args.repo.repo.as_ref(), None)?;
    let commit = git.resolve(&args.commit)?;
    let cluster = client::connect(global).await?;
    let (workload, revision) = current_revision(&cluster, &target, args.timeout).await?;
    let cause = args
        .message
        .clone()
        .unwrap_or_else(|| format!("{} ({})", commit.subject, commit.short()));
    let annotations = json!({"metadata": {"annotations": {
        RECORDED_COMMIT: commit.sha,
        CHANGE_CAUSE: cause,
    }}});
    let params = PatchParams::default();
    let ns = cluster.namespace.as_str();
    let call = Call {
        verb: "patch",
        resource: target.kind.history_resource(),
        namespace: ns,
        name: Some(&revision.object),
    };
    let patch = Patch::Merge(&annotations);
    let patched = match target.kind {
        WorkloadKind::Deployment => cluster
            .api::<ReplicaSet>()
            .patch(&revision.object, &params, &patch)
            .await
            .map(drop),
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => cluster
            .api::<ControllerRevision>()
            .patch(&revision.object, &params, &patch)
            .await
            .map(drop),
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
            name: Some(&target.name),
            ..call
        };
        cluster
            .api::<Deployment>()
            .patch(&target.name, &params, &Patch::Merge(&cause))
            .await
            .map_err(|e| cluster.explain(call, e))?;
    }
    writeln!(
        ui.out(),
        "{}/{} revision {} recorded as commit {} ({})",
        target.kind,
        target.name,
        revision.number,
        commit.short(),
        commit.subject
    )?;
    Ok(())
}

/// Waits, watching, until the controller has seen the workload's spec and made the revision for
/// its current pod template.
async fn current_revision(
    cluster: &Cluster,
    target: &WorkloadRef,
    timeout: Duration,
) -> Result<(Workload, Revision)> {
    let timed_out = || {
        let name = format!("{}/{}", target.kind, target.name);
        anyhow!(
            "the controller has not made a revision for the current pod template of {name} \
             within {}\nhint: see what holds it up with `kubectl rollout status {name}`",
            wait::humantime(timeout)
        )
    };
    let work = async {
        let observed = wait::workload_until(cluster, target, Duration::ZERO, |workload| {
            let progress = workload.progress();
            (progress.observed_generation >= progress.generation).then(|| workload.clone())
        });
        let Watched::Done(workload) = observed.await? else {
            return Err(timed_out());
        };
        let live = workload.template_value();
        let made = wait::history_until(cluster, &workload, Duration::ZERO, |history| {
            let current = history.current().ok();
            current
                .filter(|r| template::same_content(&r.template, &live))
                .cloned()
        });
        match made.await? {
            Watched::Done(revision) => Ok((workload, revision)),
            Watched::TimedOut => Err(timed_out()),
        }
    };
    wait::bounded(timeout, work)
        .await
        .unwrap_or_else(|| Err(timed_out()))
}
