//! `kubectl gitrollout revert`: a new revision with an old revision's pod template, or, with
//! `--change N`, with the live template less what revision N changed.
//!
//! Resolve the target once (a revision, or a commit's manifest, with the commit each revision
//! came from), then read, plan (`rollout_core::plan_revert`, `plan_change_revert` for a change;
//! its conflicts are printed field by field) and write conditionally on the
//! resourceVersion that was read; after a conflict `rollout_core::ConflictRetry` decides whether
//! to read and plan again. Then watch for the controller's new revision, commit to git with
//! `--git`, and with `--wait` watch the rollout.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{Patch, PatchParams};
use rollout_core::{
    ChangeRevertRequest, ConflictRetry, History, Restored, Retry, RevertError, RevertPlan,
    RevertRequest, RevertTo, RevisionSpec, made_by, plan_change_revert, plan_revert,
    resolve_revision,
};
use rollout_git::{
    CommitInfo, CommitSource, GitError, InverseError, MappedCommit, Repo, Written as GitWritten,
    revision_with_content, workload_template,
};
use serde_json::{Value, json};

use crate::cli::{
    GitArgs, Global, WorkloadRef, one_workload, parse_revision, parse_timeout, parse_to_revision,
};
use crate::client::{self, Call, Cluster};
use crate::external_diff;
use crate::git::GitContext;
use crate::guard;
use crate::render::{self, Commits};
use crate::ui::Ui;
use crate::wait::{self, Watched};
use crate::workload::{self, CHANGE_CAUSE, Owned, Workload};

#[derive(Debug, Args)]
pub struct RevertArgs {
    /// TYPE/NAME or TYPE NAME, e.g. deployment/team-app
    #[arg(value_name = "WORKLOAD", required = true, num_args = 1..=2)]
    pub workload: Vec<String>,
    /// The revision to restore (default, and 0: the one before the current one; -2 is the one
    /// before that)
    #[arg(long, value_name = "N", value_parser = parse_to_revision, allow_negative_numbers = true, conflicts_with = "to_commit")]
    pub to_revision: Option<RevisionSpec>,
    /// Undo only what revision N changed against the revision before it, keeping every later
    /// change, as `git revert` does; a field changed again since is a conflict (-1: the one
    /// before the current one)
    #[arg(long, value_name = "N", value_parser = parse_revision, allow_negative_numbers = true,
          conflicts_with_all = ["to_revision", "to_commit"])]
    pub change: Option<RevisionSpec>,
    /// Restore the revision made from this commit (SHA, short SHA, tag, HEAD~2), or, when it
    /// was pruned, the pod template of --path at that commit
    #[arg(long, value_name = "REF")]
    pub to_commit: Option<String>,
    /// Also commit --path restored to the target's content (with --change: less what the
    /// revision's commit did to it, as `git revert` does), so git and the cluster agree; the
    /// commit runs the repository's hooks, as `git commit` does
    #[arg(long, requires = "path")]
    pub git: bool,
    #[command(flatten)]
    pub manifests: GitArgs,
    /// Print the diff the revert would make, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until the rollout completes, as `kubectl rollout status` judges it
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits before failing (0: no limit)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout, requires = "wait")]
    pub timeout: Duration,
    /// The change cause to record (default: the revision restored and its images, or the
    /// change undone)
    #[arg(short = 'm', long, value_name = "MSG")]
    pub message: Option<String>,
    /// Revert even a workload that Argo CD, Flux or Helm manages
    #[arg(long)]
    pub force: bool,
}

/// Spec changes by someone else before giving up on a workload that keeps changing.
const ATTEMPTS: usize = 3;
/// Reads before giving up on a workload that keeps changing in any way.
const MAX_READS: usize = 10;
/// How long the controller may take to record the new revision.
const RECORD_TIMEOUT: Duration = Duration::from_secs(60);

/// Called between reading the workload and writing it; tests make a concurrent change here.
pub type BeforeWrite<'a> = &'a mut (dyn FnMut() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send);

/// What the revert restores, resolved once from the first read.
#[derive(Debug)]
enum Target {
    Previous,
    Revision(u64),
    /// A pruned revision's pod template, from the manifest at a commit.
    Commit {
        sha: String,
        template: Value,
    },
    /// The change revision N made, undone (`--change`).
    Change(u64),
}

/// `to revision 2`, `to commit 0123456`, `change of revision 2`: what a revert did.
fn reverted(target: &Restored) -> String {
    match target {
        Restored::Change(_) => target.to_string(),
        _ => format!("to {target}"),
    }
}

/// Prints each field of a change that cannot be reverted with its three values, before the
/// error that says so.
fn show_conflicts(err: anyhow::Error, ui: &mut Ui<'_>) -> anyhow::Error {
    let Some(RevertError::Conflicts {
        revision,
        before,
        conflicts,
        ..
    }) = err.downcast_ref::<RevertError>()
    else {
        return err;
    };
    let value = |v: &Option<Value>| v.as_ref().map_or("(absent)".to_owned(), Value::to_string);
    for conflict in conflicts {
        let shown = ui.note(format_args!(
            "conflict: {}\n  before: {} (revision {before})\n  at:     {} (revision \
             {revision})\n  live:   {}",
            conflict.path,
            value(&conflict.before),
            value(&conflict.at),
            value(&conflict.live)
        ));
        if let Err(io) = shown {
            return io.into();
        }
    }
    err
}

/// A revert the server accepted.
#[derive(Debug)]
struct Written {
    plan: RevertPlan,
    /// The workload's generation after the write.
    generation: i64,
    /// The commit the restored content came from, for `--git`.
    commit: Option<String>,
}

pub async fn run(
    global: &Global,
    args: RevertArgs,
    ui: &mut Ui<'_>,
    before_write: BeforeWrite<'_>,
) -> Result<()> {
    let target = one_workload(&args.workload, "revert")?;
    let git = GitContext::open(
        args.manifests.repo.repo.as_ref(),
        args.manifests.path.as_ref(),
    )?;
    let commit = match &args.to_commit {
        Some(reference) => Some(git.resolve(reference)?),
        None => None,
    };
    if args.git {
        // Refuse before anything changes in the cluster, not halfway.
        let (repo, path) = git_file(&git)?;
        repo.ensure_writable(path)?;
        repo.ensure_clean(path)?;
    }
    let cluster = client::connect(global).await?;
    let Some(written) = write_revert(&cluster, &target, &args, &git, commit, ui, before_write)
        .await
        .map_err(|err| show_conflicts(err, ui))?
    else {
        return Ok(());
    };

    let revision = recorded_revision(&cluster, &target, &written).await?;
    let name = format!("{}/{}", target.kind, target.name);
    writeln!(
        ui.out(),
        "{name} reverted {} as revision {revision}",
        reverted(&written.plan.target)
    )?;
    if let (Restored::Commit(sha), Some(path)) = (&written.plan.target, &git.path) {
        writeln!(
            ui.out(),
            "its revision was pruned: the pod template comes from {path} at {}",
            &sha[..7]
        )?;
    }
    if args.git
        && let Some(sha) = &written.commit
    {
        commit_to_git(&git, sha, &name, &written.plan.target, revision, ui)?;
    }
    ui.flush()?;
    if args.wait {
        wait::rollout(&cluster, &target, args.timeout, ui).await?;
    }
    Ok(())
}

/// Reads, plans and writes until the server accepts the write, or the workload keeps changing.
/// `None` for a dry run, which writes nothing.
async fn write_revert(
    cluster: &Cluster,
    target: &WorkloadRef,
    args: &RevertArgs,
    git: &GitContext,
    commit: Option<CommitInfo>,
    ui: &mut Ui<'_>,
    before_write: BeforeWrite<'_>,
) -> Result<Option<Written>> {
    let first = workload::fetch(cluster, target).await?;
    let (to, commits) = resolve_target(git, commit, args.to_revision, args.change, &first, ui)?;
    if args.git
        && let Target::Change(revision) = to
    {
        // A conflict in git is refused before anything is written to the cluster.
        inverse_of(git, &commits, revision)?;
    }
    let mut read = Some(first);
    let mut retry = ConflictRetry::new(ATTEMPTS, MAX_READS);
    let mut warned = false;
    loop {
        let (workload, owned) = match read.take() {
            Some(first) => first,
            None => workload::fetch(cluster, target).await?,
        };
        match retry.observe(workload.metadata().generation) {
            Retry::Plan => {}
            Retry::Replan => ui.note(format_args!(
                "{}/{} changed while reverting; planning again",
                target.kind, target.name
            ))?,
            Retry::GiveUp => return Err(kept_changing(target)),
        }
        let asked = guard::Asked {
            force: args.force,
            dry_run: args.dry_run,
        };
        // Warned about once, however often the revert is planned again after a conflict.
        if let Some(warning) = guard::check(&workload, asked)?
            && !std::mem::replace(&mut warned, true)
        {
            ui.warn(warning)?;
        }
        let (plan, commit) = plan(args, &to, &commits, &workload, owned, ui.now)?;
        if args.dry_run {
            show_dry_run(target, &plan, ui)?;
            return Ok(None);
        }
        before_write().await;
        if let Some(generation) = execute(cluster, target, &workload, &plan).await? {
            return Ok(Some(Written {
                plan,
                generation,
                commit,
            }));
        }
    }
}

/// Writes the plan: the workload's generation after the write, or `None` when the server
/// refused it for a conflict (someone wrote since the read) and the loop should read again.
async fn execute(
    cluster: &Cluster,
    target: &WorkloadRef,
    workload: &Workload,
    plan: &RevertPlan,
) -> Result<Option<i64>> {
    match patch(cluster, target, workload, plan).await {
        Ok(generation) => Ok(Some(generation)),
        Err(kube::Error::Api(status)) if status.is_conflict() => Ok(None),
        Err(err @ kube::Error::Api(_)) => Err(cluster.explain(patch_call(cluster, target), err)),
        // No answer: the write may or may not have landed. Find out, and say which.
        Err(err) => {
            let landed = find_out(cluster, target, plan).await;
            Err(lost(cluster, target, &err, landed))
        }
    }
}

/// A dry run: the diff the revert would make (through `KUBECTL_EXTERNAL_DIFF` when set), and a
/// note that nothing changed.
fn show_dry_run(target: &WorkloadRef, plan: &RevertPlan, ui: &mut Ui<'_>) -> Result<()> {
    if let Some(command) = external_diff::command() {
        let file = format!("{}.{}.yaml", target.kind, target.name);
        external_diff::run(&command, &plan.diff, &file, ["live", "reverted"])?;
    } else {
        let color = ui.color;
        render::unified(ui.out(), &plan.diff, color)?;
    }
    let name = format!("{}/{}", target.kind, target.name);
    let would = match &plan.target {
        Restored::Change(n) => format!("the change of revision {n} of {name} would be reverted"),
        restored => format!("{name} would be reverted to {restored}"),
    };
    ui.note(format_args!("dry run: {would}; nothing was changed"))?;
    Ok(())
}

/// Whether a write whose answer was lost landed, found by its unique revert markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Landed {
    /// Applied, and recorded by the controller as this revision.
    Recorded(u64),
    /// Applied; the controller has not made its revision yet.
    Applied,
    NotApplied,
    /// The cluster did not answer the re-reads either.
    Unknown,
}

/// Reads the workload again, with backoff, until it answers, and looks for the plan's markers in
/// its history and its live template.
async fn find_out(cluster: &Cluster, target: &WorkloadRef, plan: &RevertPlan) -> Landed {
    let mut delay = Duration::from_millis(500);
    for _ in 0..5 {
        tokio::time::sleep(delay).await;
        delay *= 2;
        let Ok((workload, owned)) = workload::fetch(cluster, target).await else {
            continue;
        };
        let history = workload.history(owned);
        if let Some(revision) = history
            .revisions
            .iter()
            .find(|r| made_by(plan, &r.template))
        {
            return Landed::Recorded(revision.number);
        }
        return if made_by(plan, &workload.template_value()) {
            Landed::Applied
        } else {
            Landed::NotApplied
        };
    }
    Landed::Unknown
}

/// The error for a write whose answer was lost: what is known of it, and how to check.
fn lost(
    cluster: &Cluster,
    target: &WorkloadRef,
    err: &kube::Error,
    landed: Landed,
) -> anyhow::Error {
    let what = match landed {
        Landed::Recorded(revision) => format!("the revert was applied as revision {revision}"),
        Landed::Applied => {
            "the revert was applied, and the controller has not recorded it as a revision yet"
                .to_owned()
        }
        Landed::NotApplied => "the revert was not applied; nothing was changed".to_owned(),
        Landed::Unknown => {
            "it could not be found out whether the revert was applied: the cluster did not answer \
             again"
                .to_owned()
        }
    };
    anyhow!(
        "lost the answer of the Kubernetes API at {} to the revert of {}/{} ({}): {what}\nhint: \
         check with `kubectl gitrollout history {}/{}`",
        cluster.server,
        target.kind,
        target.name,
        client::error_chain(err),
        target.kind.singular(),
        target.name
    )
}

/// One plan from one read: the refusals first, then the write and the commit it restores.
fn plan(
    args: &RevertArgs,
    to: &Target,
    commits: &Commits,
    workload: &Workload,
    owned: Owned,
    now: jiff::Timestamp,
) -> Result<(RevertPlan, Option<String>)> {
    let history = workload.history(owned);
    let (live, message, paused) = (
        workload.template_value(),
        args.message.as_deref(),
        workload.paused(),
    );
    let restore = |target| {
        let request = RevertRequest {
            target,
            message,
            paused,
            now,
        };
        plan_revert(&history, &live, &request)
    };
    let plan = match to {
        Target::Previous => restore(RevertTo::Previous)?,
        Target::Revision(n) => restore(RevertTo::Revision(*n))?,
        Target::Commit { sha, template } => restore(RevertTo::Commit { sha, template })?,
        Target::Change(revision) => {
            let request = ChangeRevertRequest {
                revision: *revision,
                message,
                paused,
                now,
            };
            plan_change_revert(&history, &live, &request)?
        }
    };
    let commit = match &plan.target {
        Restored::Revision(n) | Restored::Change(n) => commits.get(n).map(|m| m.sha.clone()),
        Restored::Commit(sha) => Some(sha.clone()),
    };
    if args.git && commit.is_none() {
        bail!(
            "cannot commit the revert: no commit is known for {} of {}\nhint: pass the manifest \
             with --path so revisions are matched to its commits, or revert without --git",
            plan.target,
            history.workload()
        );
    }
    Ok((plan, commit))
}

/// What `--to-revision`/`--to-commit` name, and the commit of each revision, from the first read.
fn resolve_target(
    git: &GitContext,
    commit: Option<CommitInfo>,
    to_revision: Option<RevisionSpec>,
    change: Option<RevisionSpec>,
    (workload, owned): &(Workload, Owned),
    ui: &mut Ui<'_>,
) -> Result<(Target, Commits)> {
    let history = workload.history(owned.clone());
    for warning in &history.warnings {
        ui.warn(warning)?;
    }
    let resolve =
        |spec: Option<RevisionSpec>| spec.map(|s| resolve_revision(&history, s)).transpose();
    let (to_revision, change) = (resolve(to_revision)?, resolve(change)?);
    if let Some(note) = to_revision
        .or(change)
        .and_then(|n| render::renumbered(&history, n))
    {
        ui.note(note)?;
    }
    let manifests = git.manifests(&history)?;
    let mapping = git.map(&history, manifests.as_ref());
    for warning in &mapping.warnings {
        ui.warn(warning)?;
    }
    let mut commits = mapping.commits;
    let target = match commit {
        // The revision made from the commit, or, when it was pruned, the manifest at the commit.
        Some(commit) => commit_target(git, commit, &history, &mut commits)?,
        None => match change {
            // By its number now, when `kubectl rollout undo` renumbered it.
            Some(n) => Target::Change(history.get(n).map_or(n, |r| r.number)),
            None => to_revision.map_or(Target::Previous, Target::Revision),
        },
    };
    Ok((target, commits))
}

/// What `--to-commit` restores: the revision made from the commit; else, when an older commit
/// had the content of an existing revision (the history shows the newest commit that made it),
/// that revision, now known to come from this commit too; else, when the revision was pruned,
/// the manifest's template at the commit.
fn commit_target(
    git: &GitContext,
    commit: CommitInfo,
    history: &History,
    commits: &mut Commits,
) -> Result<Target> {
    if let Some((number, _)) = commits.iter().rev().find(|(_, m)| m.sha == commit.sha) {
        return Ok(Target::Revision(*number));
    }
    let template = template_at(git, &commit, history)?;
    let Some(number) = revision_with_content(history, &template) else {
        return Ok(Target::Commit {
            template,
            sha: commit.sha,
        });
    };
    let source = CommitSource::Manifest(git.path.clone().unwrap_or_default());
    let mapped = MappedCommit {
        sha: commit.sha.clone(),
        source,
        info: Some(commit),
    };
    commits.insert(number, mapped);
    Ok(Target::Revision(number))
}

/// Waits, watching, until the controller has acted on the write, and returns the number of the
/// revision it recorded for it. A write that someone else's replaced before the controller
/// recorded it is said to be overtaken, naming what replaced it.
async fn recorded_revision(
    cluster: &Cluster,
    target: &WorkloadRef,
    written: &Written,
) -> Result<u64> {
    let plan = &written.plan;
    let work = async {
        let observed = wait::workload_until(cluster, target, Duration::ZERO, |workload| {
            let progress = workload.progress();
            (progress.observed_generation >= written.generation).then(|| workload.clone())
        });
        let Watched::Done(workload) = observed.await? else {
            return Ok(Watched::TimedOut);
        };
        let ours = made_by(plan, &workload.template_value());
        wait::history_until(cluster, &workload, Duration::ZERO, |history| match history
            .revisions
            .iter()
            .find(|r| made_by(plan, &r.template))
        {
            Some(revision) => Some(Ok(revision.number)),
            None if !ours => Some(Err(overtaken(target, history))),
            None => None,
        })
        .await
    };
    match wait::bounded(RECORD_TIMEOUT, work).await {
        Some(Ok(Watched::Done(found))) => found,
        Some(Err(err)) => Err(err),
        None | Some(Ok(Watched::TimedOut)) => Err(anyhow!(
            "{}/{} now has the pod template of {}, but its controller has not recorded a new \
             revision within {}\nhint: check that kube-controller-manager runs",
            target.kind,
            target.name,
            plan.target,
            wait::humantime(RECORD_TIMEOUT)
        )),
    }
}

/// The error for a revert that a newer write replaced before the controller recorded it.
fn overtaken(target: &WorkloadRef, history: &History) -> anyhow::Error {
    let newer = match history.current() {
        Ok(revision) => {
            let cause = revision
                .change_cause
                .as_deref()
                .unwrap_or("no change cause");
            format!("revision {} ({cause})", revision.number)
        }
        Err(_) => "a change the controller has not recorded yet".to_owned(),
    };
    anyhow!(
        "the revert of {}/{} was applied, but a newer change replaced it before the controller \
         recorded it: the workload now runs {newer}\nhint: see what happened with `kubectl \
         gitrollout history {}/{}`, then revert again if needed",
        target.kind,
        target.name,
        target.kind.singular(),
        target.name
    )
}

/// Fails when the change of the commit that made `revision` cannot be undone in `--path`: no
/// commit is known for it, or its inverse conflicts with later changes of the file.
fn inverse_of(git: &GitContext, commits: &Commits, revision: u64) -> Result<()> {
    let (repo, path) = git_file(git)?;
    let Some(made) = commits.get(&revision) else {
        bail!(
            "cannot revert the change of revision {revision} in git: no commit is known to have \
             made it\nhint: pass the manifest with --path so revisions are matched to its \
             commits, or revert without --git"
        );
    };
    rollout_git::inverse(repo, &repo.resolve(&made.sha)?, path)?;
    Ok(())
}

/// `--git`: commits in `--path` what the cluster now runs (the target's content, or the inverse
/// of the reverted change), and says what it did; a git failure says what each side holds.
fn commit_to_git(
    git: &GitContext,
    sha: &str,
    name: &str,
    target: &Restored,
    revision: u64,
    ui: &mut Ui<'_>,
) -> Result<()> {
    let committed = match target {
        Restored::Change(_) => commit_change_revert(git, sha),
        _ => commit_revert(git, sha, name, target, revision),
    };
    match committed {
        Ok(GitWritten::Committed(made)) => {
            writeln!(ui.out(), "committed {} {}", made.short(), made.subject)?;
        }
        Ok(GitWritten::Unchanged) => writeln!(
            ui.out(),
            "{} already matches commit {}: no commit",
            git.path.as_deref().unwrap_or_default(),
            &sha[..7]
        )?,
        Err(err) => {
            let done = format!("{name} was reverted to {target} as revision {revision}");
            return Err(git_failed(&done, revision, git.path.as_deref(), err));
        }
    }
    Ok(())
}

/// Commits in `--path` the inverse of what commit `sha` did to it, with git's revert message.
fn commit_change_revert(git: &GitContext, sha: &str) -> Result<GitWritten> {
    let (repo, path) = git_file(git)?;
    rollout_git::commit_inverse(repo, &repo.resolve(sha)?, path).map_err(|err| match err {
        // A git failure is reported as one, with what the repository now holds.
        InverseError::Git(git) => anyhow::Error::new(git),
        other => anyhow::Error::new(other),
    })
}

/// Commits `--path` as of `sha`, with a message naming the revert; nothing when FILE already has
/// that content.
fn commit_revert(
    git: &GitContext,
    sha: &str,
    workload: &str,
    target: &Restored,
    revision: u64,
) -> Result<GitWritten> {
    let (repo, path) = git_file(git)?;
    let content = repo
        .file_at(sha, path)?
        .with_context(|| format!("{path} does not exist at commit {}", &sha[..7]))?;
    let info = repo.resolve(sha)?;
    let message = format!(
        "Revert {path} to {} ({})\n\nkubectl gitrollout reverted {workload} to {target} as \
         revision {revision}.\nThis restores {path} as of commit {}.",
        info.short(),
        info.subject,
        info.sha
    );
    Ok(repo.write_commit(path, &content, &message)?)
}

/// A git failure after the cluster changed: one line saying what happened, and a hint saying
/// what the cluster and the repository now hold.
fn git_failed(done: &str, revision: u64, path: Option<&str>, err: anyhow::Error) -> anyhow::Error {
    let path = path.unwrap_or("the manifest");
    match err.downcast_ref::<GitError>() {
        Some(GitError::CommitFailed { reason, .. }) => anyhow!(
            "{done}, but git did not commit {path}: {reason}\nhint: the cluster runs revision \
             {revision}; {path} holds its content uncommitted, nothing staged: fix what stopped \
             the commit (often a hook), then `git commit {path}`"
        ),
        _ => {
            let reason = err.to_string();
            let reason = reason.lines().next().unwrap_or_default();
            anyhow!(
                "{done}, but {path} was not committed: {reason}\nhint: the cluster runs \
                 revision {revision}; the repository is as it was: commit {path} yourself"
            )
        }
    }
}

fn kept_changing(target: &WorkloadRef) -> anyhow::Error {
    anyhow!(
        "{}/{} kept changing while reverting ({ATTEMPTS} attempts): someone else is changing it, \
         and their change was not overwritten\nhint: find out who with `kubectl get {} {} -o \
         yaml --show-managed-fields`, then try again",
        target.kind,
        target.name,
        target.kind.singular(),
        target.name
    )
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

/// The write, named by its object: a workload deleted since it was read is "not found".
fn patch_call<'a>(cluster: &'a Cluster, target: &'a WorkloadRef) -> Call<'a> {
    Call::patch(cluster, target.kind.resource(), &target.name)
}

/// Replaces the pod template and sets the change cause, as one JSON patch that carries the
/// resourceVersion that was read: the server refuses it (409) if the workload changed since.
/// Returns the workload's generation after the write.
async fn patch(
    cluster: &Cluster,
    target: &WorkloadRef,
    workload: &Workload,
    plan: &RevertPlan,
) -> kube::Result<i64> {
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
    let name = &target.name;
    let meta = match workload {
        Workload::Deployment(_) => {
            cluster
                .api::<Deployment>()
                .patch(name, &params, &patch)
                .await?
                .metadata
        }
        Workload::StatefulSet(_) => {
            cluster
                .api::<StatefulSet>()
                .patch(name, &params, &patch)
                .await?
                .metadata
        }
        Workload::DaemonSet(_) => {
            cluster
                .api::<DaemonSet>()
                .patch(name, &params, &patch)
                .await?
                .metadata
        }
    };
    Ok(meta.generation.unwrap_or_default())
}
