//! `kubectl gitrollout revert`: a new revision with an old revision's pod template.
//!
//! Read, plan (in `rollout_core`), write conditionally on the resourceVersion that was read; on a
//! conflict, read and plan again. Then wait for the controller to record the new revision, and,
//! with `--wait`, for the rollout to complete.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::Api;
use kube::api::{Patch, PatchParams};
use rollout_core::{
    History, Restored, RevertPlan, RevertRequest, RevertTo, RolloutStatus, gitops_manager, made_by,
    plan_revert,
};
use rollout_git::{CommitInfo, Repo, workload_template};
use serde_json::{Value, json};

use crate::cli::{RevertArgs, WorkloadRef};
use crate::client::{Call, Cluster};
use crate::git::GitContext;
use crate::workload::{self, CHANGE_CAUSE, Workload};
use crate::{Look, render};

/// Plans made before giving up on a workload whose spec keeps changing under us.
const ATTEMPTS: usize = 3;
/// Reads before giving up on a workload that keeps changing in any way.
const MAX_READS: usize = 10;
/// How long the controller may take to record the new revision.
const RECORD_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

/// Called between reading the workload and writing it; tests make a concurrent change here.
pub type BeforeWrite<'a> = &'a mut (dyn FnMut() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send);

pub async fn run(
    cluster: &Cluster,
    target: &WorkloadRef,
    args: &RevertArgs,
    out: &mut dyn Write,
    look: Look,
    before_write: BeforeWrite<'_>,
) -> Result<()> {
    let git = GitContext::open(args.repo.repo.as_ref(), args.repo.path.as_ref())?;
    let commit = match &args.to_commit {
        Some(reference) => Some(git.resolve(reference)?),
        None => None,
    };
    if args.git {
        // Refuse before anything changes in the cluster, not halfway.
        let (repo, path) = git_file(&git)?;
        repo.ensure_clean(path)?;
    }
    // A conflict only means someone else wrote the workload; their write matters only if it
    // changed the spec (the generation). Status updates by the controller just cost a re-read.
    let mut spec_changes = 0;
    let mut read_generation = None;
    let mut written = None;
    for _ in 0..MAX_READS {
        let (workload, owned) = workload::fetch(cluster, target).await?;
        let generation = workload.metadata().generation;
        if read_generation.is_some_and(|g| g != generation) {
            spec_changes += 1;
            if spec_changes >= ATTEMPTS {
                break;
            }
            eprintln!(
                "{}/{} changed while reverting; planning again",
                target.kind, target.name
            );
        }
        read_generation = Some(generation);
        if !args.force {
            refuse_gitops(&workload)?;
        }
        let history = workload.history(owned);
        let manifests = git.manifests(&history)?;
        let mapping = git.map(&history, manifests.as_ref());
        // The revision made from the commit, or, when it was pruned, the manifest at the commit.
        let made_from_commit = commit.as_ref().map(|c| {
            let made = mapping.commits.iter().rev().find(|(_, m)| m.sha == c.sha);
            (c, made.map(|(n, _)| *n))
        });
        let pruned_template = match made_from_commit {
            Some((commit, None)) => Some(template_at(&git, commit, &history)?),
            _ => None,
        };
        let to = match (made_from_commit, &pruned_template) {
            (Some((_, Some(number))), _) => RevertTo::Revision(number),
            (Some((commit, None)), Some(template)) => RevertTo::Commit {
                sha: &commit.sha,
                template,
            },
            _ => args
                .to_revision
                .map_or(RevertTo::Previous, RevertTo::Revision),
        };
        let request = RevertRequest {
            target: to,
            message: args.message.as_deref(),
            paused: workload.paused(),
            now: look.now,
        };
        let plan = plan_revert(&history, &workload.template_value(), &request)?;
        let target_commit = match &plan.target {
            Restored::Revision(n) => mapping.commits.get(n).map(|m| m.sha.clone()),
            Restored::Commit(sha) => Some(sha.clone()),
        };
        if args.git && target_commit.is_none() {
            bail!(
                "cannot commit the revert: no commit is known for {} of {}\nhint: pass the \
                 manifest with --path so revisions are matched to its commits, or revert \
                 without --git",
                plan.target,
                history.workload()
            );
        }
        if args.dry_run {
            render::unified(out, &plan.diff, look.color)?;
            eprintln!(
                "dry run: {} would be reverted to {}; nothing was changed",
                history.workload(),
                plan.target
            );
            return Ok(());
        }
        before_write().await;
        match write(cluster, target, &workload, &plan).await {
            Ok(()) => {
                written = Some((plan, workload, target_commit));
                break;
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(err) => return Err(cluster.explain(patch_call(cluster, target), err)),
        }
    }
    let Some((plan, workload, target_commit)) = written else {
        bail!(
            "{}/{} kept changing while reverting ({ATTEMPTS} attempts): someone else is changing \
             it, and their change was not overwritten\nhint: find out who with `kubectl get {} {} \
             -o yaml --show-managed-fields`, then try again",
            target.kind,
            target.name,
            target.kind.singular(),
            target.name
        );
    };

    let revision = wait_for_revision(cluster, target, &plan).await?;
    let workload_name = format!("{}/{}", target.kind, target.name);
    writeln!(
        out,
        "{workload_name} reverted to {} as revision {revision}",
        plan.target
    )?;
    if let (Restored::Commit(sha), Some(path)) = (&plan.target, &git.path) {
        writeln!(
            out,
            "its revision was pruned: the pod template comes from {path} at {}",
            &sha[..7]
        )?;
    }
    if args.git
        && let Some(sha) = target_commit
    {
        let (repo, path) = git_file(&git)?;
        let content = repo
            .file_at(&sha, path)?
            .with_context(|| format!("{path} does not exist at commit {}", &sha[..7]))?;
        let info = repo.resolve(&sha)?;
        let message = format!(
            "Revert {path} to {} ({})\n\nkubectl gitrollout reverted {workload_name} to {} as \
             revision {revision}.\nThis restores {path} as of commit {}.",
            info.short(),
            info.subject,
            plan.target,
            info.sha
        );
        let made = repo.commit_file(path, &content, &message)?;
        writeln!(out, "committed {} {}", made.short(), made.subject)?;
    }
    out.flush()?;
    if args.wait {
        wait_for_rollout(cluster, target, &workload, args.timeout).await?;
    }
    Ok(())
}

/// The repository and manifest `--git` commits to.
fn git_file(git: &GitContext) -> Result<(&Repo, &str)> {
    let repo = git.require_repo("--git")?;
    let path = git
        .path
        .as_deref()
        .context("--git needs the manifest's --path")?;
    Ok((repo, path))
}

/// The workload's pod template in the manifest at `commit`, to restore a pruned revision.
fn template_at(git: &GitContext, commit: &CommitInfo, history: &History) -> Result<Value> {
    let Some(path) = &git.path else {
        bail!(
            "no revision of {} was made from commit {} ({})\nhint: pass the manifest with --path \
             to restore its pod template from that commit",
            history.workload(),
            commit.short(),
            commit.subject
        );
    };
    let repo = git.require_repo("--to-commit")?;
    let content = repo
        .file_at(&commit.sha, path)?
        .with_context(|| format!("{path} does not exist at commit {}", commit.short()))?;
    let template = workload_template(&content, history.kind.kind(), &history.name)
        .map_err(|e| anyhow!("{path} at commit {} is not valid YAML: {e}", commit.short()))?;
    template.with_context(|| {
        format!(
            "{path} at commit {} does not define {}",
            commit.short(),
            history.workload()
        )
    })
}

fn refuse_gitops(workload: &Workload) -> Result<()> {
    let meta = workload.metadata();
    let labels = meta.labels.clone().unwrap_or_default();
    let annotations = meta.annotations.clone().unwrap_or_default();
    let Some(manager) = gitops_manager(&labels, &annotations) else {
        return Ok(());
    };
    bail!(
        "{}/{} is managed by {manager}, which would undo a revert made in the cluster\nhint: \
         revert the change in git and let {} sync it, or pass --force to revert in the cluster \
         anyway",
        workload.kind(),
        meta.name.as_deref().unwrap_or_default(),
        manager.tool
    )
}

fn patch_call<'a>(cluster: &'a Cluster, target: &WorkloadRef) -> Call<'a> {
    Call {
        verb: "patch",
        resource: target.kind.resource(),
        namespace: &cluster.namespace,
        name: None,
    }
}

/// Replaces the pod template and sets the change cause, as one JSON patch that carries the
/// resourceVersion that was read: the server refuses it (409) if the workload changed since.
async fn write(
    cluster: &Cluster,
    target: &WorkloadRef,
    workload: &Workload,
    plan: &RevertPlan,
) -> kube::Result<()> {
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
    let params = PatchParams::default();
    let (client, ns, name) = (cluster.client.clone(), &cluster.namespace, &target.name);
    match workload {
        Workload::Deployment(_) => {
            let api: Api<Deployment> = Api::namespaced(client, ns);
            api.patch(name, &params, &patch).await.map(drop)
        }
        Workload::StatefulSet(_) => {
            let api: Api<StatefulSet> = Api::namespaced(client, ns);
            api.patch(name, &params, &patch).await.map(drop)
        }
        Workload::DaemonSet(_) => {
            let api: Api<DaemonSet> = Api::namespaced(client, ns);
            api.patch(name, &params, &patch).await.map(drop)
        }
    }
}

/// Waits until the controller has recorded the revision the plan wrote, and returns its number.
async fn wait_for_revision(
    cluster: &Cluster,
    target: &WorkloadRef,
    plan: &RevertPlan,
) -> Result<u64> {
    let deadline = Instant::now() + RECORD_TIMEOUT;
    loop {
        let (workload, owned) = workload::fetch(cluster, target).await?;
        let history = workload.history(owned);
        if let Some(revision) = history
            .revisions
            .iter()
            .find(|r| made_by(plan, &r.template))
        {
            return Ok(revision.number);
        }
        if Instant::now() > deadline {
            bail!(
                "{} now has the pod template of revision {}, but its controller has not recorded \
                 a new revision within {RECORD_TIMEOUT:?}\nhint: check that \
                 kube-controller-manager runs",
                history.workload(),
                plan.target
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the rollout is complete as `kubectl rollout status` judges it, showing progress:
/// one line rewritten in place on a terminal, a line per change otherwise.
async fn wait_for_rollout(
    cluster: &Cluster,
    target: &WorkloadRef,
    written: &Workload,
    timeout: Duration,
) -> Result<()> {
    let workload_name = format!("{}/{}", written.kind(), target.name);
    let terminal = std::io::stderr().is_terminal();
    let deadline = Instant::now() + timeout;
    let mut shown = String::new();
    loop {
        let workload = workload::fetch_workload(cluster, target).await?;
        let progress = workload.progress();
        let line = format!("waiting for {workload_name}: {progress}");
        if line != shown {
            if terminal {
                eprint!("\r\x1b[K{line}");
            } else {
                eprintln!("{line}");
            }
            shown = line;
        }
        match progress.status(target.kind) {
            RolloutStatus::Complete => {
                if terminal {
                    eprintln!();
                }
                eprintln!("{workload_name} successfully rolled out");
                return Ok(());
            }
            RolloutStatus::Failed(reason) => {
                if terminal {
                    eprintln!();
                }
                return Err(anyhow!(
                    "{workload_name} will not finish rolling out: {reason}"
                ));
            }
            RolloutStatus::Waiting => {}
        }
        if Instant::now() > deadline {
            if terminal {
                eprintln!();
            }
            bail!(
                "timed out after {timeout:?} waiting for the rollout of {workload_name} ({progress})\n\
                 hint: the revert is in place; see what holds it up with `kubectl describe {} {}`",
                target.kind.singular(),
                target.name
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
