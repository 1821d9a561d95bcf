//! `kubectl gitrollout record`: for CI, after it rolls out, record the commit the current
//! revision was made from on that revision's object alone.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Args;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use kube::api::{Patch, PatchParams};
use rollout_core::{CONFIG_DIGESTS, Revision};
use serde_json::json;

use crate::cli::{Global, RepoArgs, one_workload, parse_timeout};
use crate::client::{self, Call, Cluster};
use crate::config;
use crate::git::GitContext;
use crate::render;
use crate::snapshot::{Copies, SnapshotArgs};
use crate::ui::Ui;
use crate::workload::{CHANGE_CAUSE, Workload};
use crate::write::{self, Landed};

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
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// What `record` did: rendered by [`render::record_outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOutcome {
    /// `deployment.apps/team-app`.
    pub workload: String,
    pub revision: u64,
    pub short: String,
    pub subject: String,
}

pub async fn run(global: &Global, args: RecordArgs, ui: &mut Ui<'_>) -> Result<()> {
    let target = one_workload(&args.workload, "record")?;
    let git = GitContext::open(args.repo.repo.as_ref(), None)?;
    let commit = git.resolve(&args.commit)?;
    let cluster = client::connect(global).await?;
    let (workload, revision) = write::current_revision(&cluster, &target, args.timeout).await?;
    let cause = args
        .message
        .clone()
        .unwrap_or_else(|| format!("{} ({})", commit.subject, commit.short()));

    let kept = record_commit(
        &cluster,
        &workload,
        &revision,
        (&commit.sha, cause),
        args.snapshot,
    )
    .await?;
    for line in kept {
        ui.note(format_args!("snapshot: {line}"))?;
    }
    let outcome = RecordOutcome {
        workload: target.to_string(),
        revision: revision.number,
        short: commit.short().to_owned(),
        subject: commit.subject.clone(),
    };
    render::record_outcome(ui.out(), &outcome)?;
    Ok(())
}

/// Records commit `sha` and `cause` on `revision`'s object, all or nothing, keeping a commit
/// recorded there under an earlier number (see [`rollout_git::recording`]), with the digests of
/// the configuration it reads and, asked for, their snapshots. Returns a line for each snapshot.
pub(crate) async fn record_commit(
    cluster: &Cluster,
    workload: &Workload,
    revision: &Revision,
    (sha, cause): (&str, String),
    snapshots: SnapshotArgs,
) -> Result<Vec<String>> {
    let namespace = workload.metadata().namespace.clone();
    let namespace = namespace.as_deref().unwrap_or(&cluster.namespace);
    let read = config::read(cluster, namespace, &revision.template).await?;
    let digests = config::digests(&read);
    let copies = Copies::new(workload, revision, &read, snapshots);
    let writes = plan(workload, revision, sha, cause, &digests);
    execute(cluster, &writes, &copies).await
}

/// Records on `revision` (one a revert made) `digests`, those of the ConfigMaps and Secrets it
/// reads, as `record` does, and the `copies` asked for; nothing when it reads none.
pub(crate) async fn record_digests(
    cluster: &Cluster,
    workload: &Workload,
    revision: &Revision,
    digests: &BTreeMap<String, String>,
    copies: &Copies,
) -> Result<Vec<String>> {
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    let digests = serde_json::to_string(digests).unwrap_or_default();
    let write = Write {
        object: Object::of_revisions(workload),
        name: revision.object.clone(),
        annotations: BTreeMap::from([(CONFIG_DIGESTS.to_owned(), digests)]),
    };
    execute(cluster, &[write], copies).await
}

/// All or nothing: with two writes, the server first judges all without keeping them (a dry
/// run checks RBAC and admission), so a refusal leaves nothing half-done. The first write is on
/// the revision object, which owns the snapshots made after it.
async fn execute(cluster: &Cluster, writes: &[Write], copies: &Copies) -> Result<Vec<String>> {
    if writes.len() + copies.len() > 1 {
        let mut uid = None;
        for write in writes {
            let sent = write.send(cluster, true).await;
            uid = uid.or(sent.map_err(|e| refused(cluster, write, e))?);
        }
        let uid = uid.unwrap_or_default();
        let judged = copies.make(cluster, &uid, true).await;
        judged.map_err(|(e, _)| anyhow!("{e:#}; nothing was recorded"))?;
    }
    let mut uid = None;
    for (done, write) in writes.iter().enumerate() {
        match write.send(cluster, false).await {
            Ok(sent) => uid = uid.or(sent),
            Err(err) => return Err(failed(cluster, &writes[..done], write, err).await),
        }
    }
    let made = copies.make(cluster, &uid.unwrap_or_default(), false).await;
    made.map_err(|(err, made)| {
        let written: Vec<String> = writes.iter().map(Write::describe).chain(made).collect();
        anyhow!("{err:#} ({} already written)", written.join(", "))
    })
}

/// The commit, cause and the digests of the configuration it reads (when it reads any) on the
/// revision object; and, for a Deployment that has another change cause of its own, the same
/// cause there, since the controller copies the Deployment's onto its newest ReplicaSet on
/// every sync and would replace the one just recorded.
fn plan(
    workload: &Workload,
    revision: &Revision,
    sha: &str,
    cause: String,
    digests: &BTreeMap<String, String>,
) -> Vec<Write> {
    let meta = workload.metadata();
    let mut annotations = rollout_git::recording(revision, sha);
    annotations.insert(CHANGE_CAUSE.to_owned(), cause.clone());
    if !digests.is_empty() {
        let digests = serde_json::to_string(digests).unwrap_or_default();
        annotations.insert(CONFIG_DIGESTS.to_owned(), digests);
    }
    let mut writes = vec![Write {
        object: Object::of_revisions(workload),
        name: revision.object.clone(),
        annotations,
    }];
    let other_cause = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(CHANGE_CAUSE))
        .is_some_and(|own| *own != cause);
    if let (Workload::Deployment(_), true) = (workload, other_cause) {
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

impl Object {
    /// The kind of object that keeps `workload`'s revisions.
    fn of_revisions(workload: &Workload) -> Object {
        match workload {
            Workload::Deployment(_) => Object::ReplicaSet,
            Workload::StatefulSet(_) | Workload::DaemonSet(_) => Object::ControllerRevision,
        }
    }
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

    /// Sends the merge patch; a dry run is judged by the server and not kept. Returns the
    /// object's uid.
    async fn send(&self, cluster: &Cluster, dry_run: bool) -> kube::Result<Option<String>> {
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
                .map(|o| o.metadata.uid),
            Object::ControllerRevision => cluster
                .api::<ControllerRevision>()
                .patch(name, &params, &patch)
                .await
                .map(|o| o.metadata.uid),
            Object::Deployment => cluster
                .api::<Deployment>()
                .patch(name, &params, &patch)
                .await
                .map(|o| o.metadata.uid),
        }
    }

    /// Whether the object carries the annotations now, read again after a lost answer.
    async fn landed(&self, cluster: &Cluster) -> Landed {
        write::find_out(|| async {
            let meta = match self.object {
                Object::ReplicaSet => cluster.api::<ReplicaSet>().get(&self.name).await?.metadata,
                Object::ControllerRevision => {
                    let api = cluster.api::<ControllerRevision>();
                    api.get(&self.name).await?.metadata
                }
                Object::Deployment => cluster.api::<Deployment>().get(&self.name).await?.metadata,
            };
            let have = meta.annotations.unwrap_or_default();
            let all = self.annotations.iter().all(|(k, v)| have.get(k) == Some(v));
            Ok(if all {
                Landed::Applied
            } else {
                Landed::NotApplied
            })
        })
        .await
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
        Landed::Applied | Landed::Recorded(_) => format!("{} was written", write.describe()),
        Landed::NotApplied => format!("{} was not written", write.describe()),
        Landed::Unknown => format!("it is not known whether {} was written", write.describe()),
    };
    anyhow!(
        "lost the answer of the Kubernetes API at {} to the write of {} ({}): {outcome}; {before}",
        cluster.server,
        write.describe(),
        client::error_chain(&err)
    )
}
