//! `kubectl gitrollout record`: for CI, after it rolls out, record the commit the current
//! revision was made from on that revision's object alone.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Args;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use kube::api::{Patch, PatchParams};
use rollout_core::{Revision, template};
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

    let writes = plan(&workload, &revision, &commit.sha, cause);

    // Execute: all or nothing. With two writes, the server first judges both without keeping
    // them (a dry run checks RBAC and admission), so a refusal leaves nothing half-done.
    if writes.len() > 1 {
        for write in &writes {
            write
                .send(&cluster, true)
                .await
                .map_err(|e| refused(&cluster, write, e))?;
        }
    }
    for (done, write) in writes.iter().enumerate() {
        if let Err(err) = write.send(&cluster, false).await {
            return Err(failed(&cluster, &writes[..done], write, err).await);
        }
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

/// The commit and cause on the revision object; and, for a Deployment that has a change cause of
/// its own, the same cause there, since the controller copies the Deployment's onto its newest
/// ReplicaSet on every sync and would replace the one just recorded.
fn plan(workload: &Workload, revision: &Revision, sha: &str, cause: String) -> Vec<Write> {
    let meta = workload.metadata();
    let mut writes = vec![Write {
        object: match workload {
            Workload::Deployment(_) => Object::ReplicaSet,
            Workload::StatefulSet(_) | Workload::DaemonSet(_) => Object::ControllerRevision,
        },
        name: revision.object.clone(),
        annotations: BTreeMap::from([
            (RECORDED_COMMIT.to_owned(), sha.to_owned()),
            (CHANGE_CAUSE.to_owned(), cause.clone()),
        ]),
    }];
    let own_cause = meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CHANGE_CAUSE));
    if let (Workload::Deployment(_), true) = (workload, own_cause) {
        writes.push(Write {
            object: Object::Deployment,
            name: meta.name.clone().unwrap_or_default(),
            annotations: BTreeMap::from([(CHANGE_CAUSE.to_owned(), cause)]),
        });
    }
    writes
}

/// The kinds of object `record` writes annotations on.
#[derive(Debug, Clone, Copy)]
enum Object {
    ReplicaSet,
    ControllerRevision,
    Deployment,
}

impl Object {
    fn resource(self) -> &'static str {
        match self {
            Object::ReplicaSet => "replicasets.apps",
            Object::ControllerRevision => "controllerrevisions.apps",
            Object::Deployment => "deployments.apps",
        }
    }
}

/// Annotations to set on one object.
#[derive(Debug)]
struct Write {
    object: Object,
    name: String,
    annotations: BTreeMap<String, String>,
}

impl Write {
    fn call<'a>(&'a self, cluster: &'a Cluster) -> Call<'a> {
        Call::patch(cluster, self.object.resource(), &self.name)
    }

    /// `replicaset team-app-5d4f`.
    fn describe(&self) -> String {
        let kind = self.object.resource().trim_end_matches(".apps");
        format!("{} {}", kind.trim_end_matches('s'), self.name)
    }

    /// Sends the merge patch; a dry run is judged by the server and not kept.
    async fn send(&self, cluster: &Cluster, dry_run: bool) -> kube::Result<()> {
        let patch = json!({"metadata": {"annotations": self.annotations}});
        let patch = Patch::Merge(&patch);
        let params = PatchParams {
            dry_run,
            ..PatchParams::default()
        };
        let name = &self.name;
        match self.object {
            Object::ReplicaSet => cluster
                .api::<ReplicaSet>()
                .patch(name, &params, &patch)
                .await
                .map(drop),
            Object::ControllerRevision => cluster
                .api::<ControllerRevision>()
                .patch(name, &params, &patch)
                .await
                .map(drop),
            Object::Deployment => cluster
                .api::<Deployment>()
                .patch(name, &params, &patch)
                .await
                .map(drop),
        }
    }

    /// Whether the object carries the annotations now, read with backoff after a lost answer;
    /// `None` when the cluster does not answer.
    async fn landed(&self, cluster: &Cluster) -> Option<bool> {
        let mut delay = Duration::from_millis(500);
        for _ in 0..5 {
            tokio::time::sleep(delay).await;
            delay *= 2;
            let meta = match self.object {
                Object::ReplicaSet => cluster
                    .api::<ReplicaSet>()
                    .get(&self.name)
                    .await
                    .map(|o| o.metadata),
                Object::ControllerRevision => cluster
                    .api::<ControllerRevision>()
                    .get(&self.name)
                    .await
                    .map(|o| o.metadata),
                Object::Deployment => cluster
                    .api::<Deployment>()
                    .get(&self.name)
                    .await
                    .map(|o| o.metadata),
            };
            let Ok(meta) = meta else { continue };
            let have = meta.annotations.unwrap_or_default();
            return Some(self.annotations.iter().all(|(k, v)| have.get(k) == Some(v)));
        }
        None
    }
}

/// A write the server refused in the dry run: nothing was written.
fn refused(cluster: &Cluster, write: &Write, err: kube::Error) -> anyhow::Error {
    anyhow!(
        "{:#}; nothing was recorded",
        cluster.explain(write.call(cluster), err)
    )
}

/// A write that failed after `done` succeeded: what was written, exactly, and what is not known.
async fn failed(
    cluster: &Cluster,
    done: &[Write],
    write: &Write,
    err: kube::Error,
) -> anyhow::Error {
    let written: Vec<String> = done.iter().map(Write::describe).collect();
    let before = if written.is_empty() {
        "nothing was written before".to_owned()
    } else {
        format!("{} was already written", written.join(" and "))
    };
    if let kube::Error::Api(_) = err {
        let message = cluster.explain(write.call(cluster), err);
        return anyhow!("{message:#} ({before})");
    }
    let outcome = match write.landed(cluster).await {
        Some(true) => format!("{} was written", write.describe()),
        Some(false) => format!("{} was not written", write.describe()),
        None => format!("it is not known whether {} was written", write.describe()),
    };
    anyhow!(
        "lost the answer of the Kubernetes API at {} to the write of {} ({}): {outcome}; {before}",
        cluster.server,
        write.describe(),
        client::error_chain(&err)
    )
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
