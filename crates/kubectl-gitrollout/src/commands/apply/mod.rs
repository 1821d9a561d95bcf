//! `kubectl gitrollout apply`: CI's step after a commit, in place of `kubectl apply` + `record`.
//!
//! resolve (`manifests`: the objects, Namespaces and CRDs first; `resources`: where each lives;
//! then one GET of each) -> the guards, for every object before anything is written -> each
//! object in turn (`object`: taken over from client-side apply, applied server-side with the
//! field manager `kubectl-gitrollout`; `workload`: a Deployment, StatefulSet or DaemonSet, whose
//! apply is planned against its history so that a template an older revision had makes a new
//! revision, never a renumbered one, and whose commit is recorded on the revision made) -> the
//! outcome of each, rendered by `render::apply_outcome` -> `--wait`.

pub(crate) mod manifests;
mod object;
mod resources;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::{ArgGroup, Args};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::DynamicObject;
use kube::runtime::wait::{await_condition, conditions};
use rollout_core::{Made, TemplateDiff, WorkloadKind};
use rollout_git::CommitInfo;
use serde_json::Value;

use crate::cli::{Global, RepoArgs, WorkloadRef, parse_timeout};
use crate::client::{self, Cluster};
use crate::git::GitContext;
use crate::guard;
use crate::render;
use crate::snapshot::SnapshotArgs;
use crate::ui::Ui;
use crate::wait;

use manifests::Manifest;
use object::Target;
use resources::Resources;

pub(crate) use object::FIELD_MANAGER;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("manifests").required(true).args(["files", "kustomize"])))]
pub struct ApplyArgs {
    /// A manifest file, a directory of them (.yaml, .yml, .json), or - for stdin; repeatable
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A kustomization directory, rendered with `kubectl kustomize` (or `kustomize build`)
    #[arg(short = 'k', long, value_name = "DIR", conflicts_with = "files")]
    pub kustomize: Option<PathBuf>,
    /// The commit the manifests come from (SHA, short SHA, tag, HEAD)
    #[arg(long, value_name = "REF")]
    pub commit: String,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The change cause to record (default: the commit's subject and short SHA)
    #[arg(short = 'm', long, value_name = "MSG")]
    pub message: Option<String>,
    /// Apply as a server-side dry run: print each workload's diff and the revision it would
    /// make, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until every workload's rollout completes, as `kubectl rollout status` judges it
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits for each workload before failing (0: no limit)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout, requires = "wait")]
    pub timeout: Duration,
    /// Apply even objects that Argo CD, Flux or Helm manages
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// How an object was applied, as kubectl says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Configured,
    Unchanged,
}

/// The revision a workload's apply made or kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionOutcome {
    pub number: u64,
    pub made: Made,
    /// The short SHA recorded on it; `None` for a revision kept, or in a dry run.
    pub commit: Option<String>,
}

/// What `apply` did to one object: rendered by [`render::apply_outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectOutcome {
    /// `deployment.apps/team-app`.
    pub name: String,
    pub applied: Applied,
    /// For a workload: its revision.
    pub revision: Option<RevisionOutcome>,
    /// For a workload in a dry run: the diff of its pod template.
    pub diff: Option<TemplateDiff>,
}

/// One object to apply, where it lives (once its kind is known) and what the server holds.
#[derive(Debug)]
struct Item {
    manifest: Manifest,
    target: Option<Target>,
    existing: Option<DynamicObject>,
}

pub async fn run(global: &Global, args: ApplyArgs, ui: &mut Ui<'_>) -> Result<()> {
    let manifests = manifests::read(&args.files, args.kustomize.as_deref())?;
    let git = GitContext::open(args.repo.repo.as_ref(), None)?;
    let commit = git.resolve(&args.commit)?;
    let reverted = git.require_repo("--commit")?.reverted_by(&commit)?;
    let cause = args
        .message
        .clone()
        .unwrap_or_else(|| cause_of(&commit, reverted.as_ref()));
    let cluster = client::connect(global).await?;
    let mut resources = Resources::default();
    let items = resolve(&cluster, &mut resources, &manifests).await?;
    guard_all(&items, &args, ui)?;

    let mut failed = Vec::new();
    let mut applied = Vec::new();
    let total = items.len();
    for item in items {
        let name = format!(
            "{}/{}",
            item.manifest.kind.to_lowercase(),
            item.manifest.name
        );
        let context = Context {
            cluster: &cluster,
            commit: &commit.sha,
            cause: &cause,
            dry_run: args.dry_run,
            snapshots: args.snapshot,
        };
        match apply_one(context, &mut resources, item, ui).await {
            Ok((outcome, workload)) => {
                let color = ui.color;
                render::apply_outcome(ui.out(), &outcome, color)?;
                applied.extend(workload.filter(|_| !args.dry_run).map(|w| (w, outcome)));
            }
            Err(err) => {
                ui.note(format_args!("error: {name}: {err:#}"))?;
                failed.push(name);
            }
        }
    }
    ui.flush()?;
    if args.dry_run {
        ui.note("dry run: nothing was changed")?;
    }
    if args.wait {
        wait_all(&applied, args.timeout, ui).await?;
    }
    if !failed.is_empty() {
        return Err(anyhow!(
            "{} of {total} objects were not applied: {}",
            failed.len(),
            failed.join(", ")
        ));
    }
    Ok(())
}

/// `Release nginx 1.18 (63f6e68)`, and for a commit git's revert made, what it reverts:
/// `Revert "Release nginx 1.18" (d5c020c), reverting 63f6e68`.
fn cause_of(commit: &CommitInfo, reverted: Option<&CommitInfo>) -> String {
    let own = format!("{} ({})", commit.subject, commit.short());
    match reverted {
        Some(reverted) => format!("{own}, reverting {}", reverted.short()),
        None => own,
    }
}

/// What every object's apply shares.
#[derive(Debug, Clone, Copy)]
struct Context<'a> {
    cluster: &'a Cluster,
    commit: &'a str,
    cause: &'a str,
    dry_run: bool,
    snapshots: SnapshotArgs,
}

/// Where each object lives, and what the server holds of it. An object of a kind that one of the
/// manifests' CustomResourceDefinitions defines is resolved once that definition is applied.
async fn resolve(
    cluster: &Cluster,
    resources: &mut Resources,
    manifests: &[Manifest],
) -> Result<Vec<Item>> {
    let mut items = Vec::with_capacity(manifests.len());
    for manifest in manifests {
        let target = match locate(cluster, resources, manifest).await {
            Ok(target) => Some(target),
            Err(_) if defined_here(manifests, manifest) => None,
            Err(err) => {
                return Err(err.context(format!(
                    "{} {} in {}",
                    manifest.kind, manifest.name, manifest.source
                )));
            }
        };
        let existing = match &target {
            Some(target) => target.get().await?,
            None => None,
        };
        items.push(Item {
            manifest: manifest.clone(),
            target,
            existing,
        });
    }
    Ok(items)
}

async fn locate(
    cluster: &Cluster,
    resources: &mut Resources,
    manifest: &Manifest,
) -> Result<Target> {
    let resource = resources
        .of(cluster, &manifest.api_version, &manifest.kind)
        .await?;
    let namespace = resource.namespaced.then(|| {
        manifest
            .namespace
            .clone()
            .unwrap_or_else(|| cluster.namespace.clone())
    });
    let cluster = Cluster {
        namespace: namespace
            .clone()
            .unwrap_or_else(|| cluster.namespace.clone()),
        ..cluster.clone()
    };
    Ok(Target {
        resource,
        name: manifest.name.clone(),
        namespace,
        cluster,
    })
}

/// Whether one of `manifests` is the CustomResourceDefinition of `manifest`'s kind.
fn defined_here(manifests: &[Manifest], manifest: &Manifest) -> bool {
    let group = manifest.api_version.split_once('/').map_or("", |(g, _)| g);
    manifests.iter().any(|m| {
        m.kind == "CustomResourceDefinition"
            && m.object.pointer("/spec/group").and_then(Value::as_str) == Some(group)
            && m.object.pointer("/spec/names/kind").and_then(Value::as_str) == Some(&manifest.kind)
    })
}

/// Refuses, before anything is written, to apply over objects that Argo CD, Flux or Helm
/// manages (unless `--force`); a dry run only warns.
fn guard_all(items: &[Item], args: &ApplyArgs, ui: &mut Ui<'_>) -> Result<()> {
    let asked = guard::Asked {
        change: "apply",
        force: args.force,
        dry_run: args.dry_run,
    };
    for item in items {
        let (Some(target), Some(existing)) = (&item.target, &item.existing) else {
            continue;
        };
        if let Some(warning) = guard::check_object(&target.display(), &existing.metadata, asked)? {
            ui.warn(warning)?;
        }
    }
    Ok(())
}

/// Applies one object: the outcome, and for a workload the reference to wait for.
async fn apply_one(
    context: Context<'_>,
    resources: &mut Resources,
    item: Item,
    ui: &mut Ui<'_>,
) -> Result<(ObjectOutcome, Option<(Cluster, WorkloadRef)>)> {
    let Item {
        manifest,
        target,
        existing,
    } = item;
    let target = match target {
        Some(target) => target,
        None => locate(context.cluster, resources, &manifest).await?,
    };
    let existing = match existing {
        Some(object) if !context.dry_run => Some(target.take_over(object).await?),
        other => other,
    };
    let kind = (manifest.api_version == "apps/v1")
        .then(|| manifest.kind.parse::<WorkloadKind>().ok())
        .flatten();
    let Some(kind) = kind else {
        let outcome = apply_plain(&target, &manifest, existing, context.dry_run).await?;
        if manifest.kind == "CustomResourceDefinition" && !context.dry_run {
            established(&target).await?;
        }
        return Ok((outcome, None));
    };
    let apply = workload::Apply {
        target: &target,
        kind,
        manifest: &manifest.object,
        commit: context.commit,
        cause: context.cause,
        snapshots: context.snapshots,
        now: ui.now,
    };
    let outcome = apply.run(existing, context.dry_run, ui).await?;
    let reference = WorkloadRef {
        kind,
        name: target.name.clone(),
    };
    Ok((outcome, Some((target.cluster.clone(), reference))))
}

/// Applies an object that keeps no rollout history, and says as kubectl does how.
async fn apply_plain(
    target: &Target,
    manifest: &Manifest,
    existing: Option<DynamicObject>,
    dry_run: bool,
) -> Result<ObjectOutcome> {
    let result = match target.apply(&manifest.object, dry_run).await {
        Ok(result) => result,
        Err(err @ kube::Error::Api(_)) => return Err(target.explain("patch", err)),
        Err(err) => return Err(lost(target, manifest, err).await),
    };
    let applied = match &existing {
        None => Applied::Created,
        Some(before) if same_object(before, &result) => Applied::Unchanged,
        Some(_) => Applied::Configured,
    };
    Ok(ObjectOutcome {
        name: target.display(),
        applied,
        revision: None,
        diff: None,
    })
}

/// The error for an apply whose answer was lost: whether the object now holds what the
/// manifest sets (a dry run of it would change nothing), read again until the cluster answers.
async fn lost(target: &Target, manifest: &Manifest, err: kube::Error) -> anyhow::Error {
    let landed = crate::write::find_out(|| async {
        let now = target.get().await?;
        let would = target.apply(&manifest.object, true).await?;
        Ok(match now {
            Some(now) if same_object(&now, &would) => crate::write::Landed::Applied,
            _ => crate::write::Landed::NotApplied,
        })
    })
    .await;
    let what = match landed {
        crate::write::Landed::Applied | crate::write::Landed::Recorded(_) => "it was applied",
        crate::write::Landed::NotApplied => "it was not applied",
        crate::write::Landed::Unknown => "it is not known whether it was applied",
    };
    anyhow!(
        "lost the answer of the Kubernetes API at {} to the apply of {} ({}): {what}",
        target.cluster.server,
        target.display(),
        client::error_chain(&err)
    )
}

/// Whether two versions of an object hold the same, bookkeeping aside.
fn same_object(a: &DynamicObject, b: &DynamicObject) -> bool {
    let strip = |object: &DynamicObject| {
        let mut value = serde_json::to_value(object).unwrap_or_default();
        if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("managedFields");
            metadata.remove("resourceVersion");
        }
        value
    };
    strip(a) == strip(b)
}

/// Waits, watching, until a CustomResourceDefinition just applied is established, so the objects
/// of its kind that follow can be applied.
async fn established(target: &Target) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(target.cluster.client.clone());
    let condition = await_condition(api, &target.name, conditions::is_crd_established());
    match tokio::time::timeout(Duration::from_secs(60), condition).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(anyhow!("could not watch {}: {err}", target.display())),
        Err(_) => Err(anyhow!(
            "{} was not established within 60s",
            target.display()
        )),
    }
}

/// `--wait`: each workload's rollout, as `kubectl rollout status` judges it.
async fn wait_all(
    applied: &[((Cluster, WorkloadRef), ObjectOutcome)],
    timeout: Duration,
    ui: &mut Ui<'_>,
) -> Result<()> {
    for ((cluster, reference), _) in applied {
        wait::rollout(cluster, reference, timeout, "apply", ui).await?;
    }
    Ok(())
}
