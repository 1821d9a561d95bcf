//! `kubectl gitrollout revert`: a new revision with an old revision's pod template, or, with
//! `--change N`, with the live template less what revision N changed.
//!
//! resolve (`resolve`: the target and the commit of each revision, from the first read, with its
//! notes and warnings as data) -> plan (`plan`: pure, made once from that read) -> either the dry
//! run, or the write loop (`crate::write::conditional` with `execute`'s JSON patch, conditional on
//! the resourceVersion read, planned again after a conflict) -> the revision the controller made
//! (`crate::write::revision_made`) -> `--git` (`git`) -> the outcome, rendered by
//! `render::revert_outcome` -> `--wait`.

mod execute;
mod git;
mod plan;
mod resolve;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use rollout_core::{Reference, Restored, RevertError, RevisionSpec, made_by, recorded_digests};
use serde_json::Value;

use crate::cli::{
    GitArgs, Global, WorkloadRef, one_workload, parse_revision, parse_timeout, parse_to_revision,
};
use crate::client::{self, Cluster};
use crate::commands::record;
use crate::config;
use crate::external_diff;
use crate::git::GitContext;
use crate::hints::{Hint, hinted};
use crate::render;
use crate::snapshot::{self, Copies, Restore, SnapshotArgs};
use crate::targets::Fetched;
use crate::ui::Ui;
use crate::wait;
use crate::workload;
use crate::write::{self, Writing};

use plan::{Planned, Planner};
use resolve::Target;

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
    /// Restore the ConfigMaps and Secrets changed or deleted since the revision restored, from
    /// its snapshots (see --snapshot-config), before the template
    #[arg(long)]
    pub with_config: bool,
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
}

/// What a revert did: rendered by [`render::revert_outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertOutcome {
    /// `deployment.apps/team-app`.
    pub workload: String,
    pub target: Restored,
    /// The revision the controller made for it.
    pub revision: u64,
    /// The manifest a pruned revision's template was restored from.
    pub manifest: Option<String>,
    /// What `--git` committed.
    pub git: Option<GitOutcome>,
}

/// What `revert --git` did in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitOutcome {
    Committed {
        short: String,
        subject: String,
    },
    /// The manifest already had the content: no commit.
    Unchanged {
        path: String,
        short: String,
    },
}

pub async fn run(global: &Global, args: RevertArgs, ui: &mut Ui<'_>) -> Result<()> {
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
        git::ensure_committable(&git)?;
    }
    let cluster = client::connect(global).await?;
    let first = workload::fetch(&cluster, &target).await?;
    let resolved = resolve::resolve(&git, commit, args.to_revision, args.change, &first)?;
    for warning in &resolved.warnings {
        ui.warn(warning)?;
    }
    for note in &resolved.notes {
        ui.note(note)?;
    }
    if args.git
        && let Target::Change(revision) = resolved.target
    {
        // A conflict in git is refused before anything is written to the cluster.
        git::inverse_of(&git, &resolved.commits, revision)?;
    }
    let planner = Planner {
        args: &args,
        to: &resolved.target,
        commits: &resolved.commits,
        now: ui.now,
    };
    let planned = planner
        .plan(&first)
        .map_err(|err| show_conflicts(err, ui))?;
    if let Some(warning) = &planned.warning {
        ui.warn(warning)?;
    }
    let checked = check_config(&cluster, &args, &first, &planned, ui).await?;
    if args.dry_run {
        for line in snapshot::describe(&checked.restores) {
            ui.note(format_args!("dry run: {line} would be"))?;
        }
        return show_dry_run(&target, &planned, ui);
    }
    let restored = snapshot::restore_all(&cluster, &checked.restores, ui).await?;
    for line in restored.lines() {
        ui.note(line)?;
    }
    let written = write_template(&cluster, &target, planner, (first, planned), ui).await;
    let (planned, generation) = match written {
        Ok(written) => written,
        Err(err) => {
            // The template was not written: neither stays restored.
            if !write::may_have_landed(&err) {
                restored.put_back(&cluster, ui).await?;
            }
            return Err(err);
        }
    };
    let outcome = wait_and_record(
        &cluster, &target, planner, &planned, generation, &checked, ui,
    )
    .await?;
    finish(&git, &planned, outcome, ui)?;
    if args.wait {
        wait::rollout(&cluster, &target, args.timeout, "revert", ui).await?;
    }
    Ok(())
}

/// What the revert found of the configuration its pods will read, before anything is written.
struct Checked {
    /// The objects `--with-config` restores from the restored revision's snapshots.
    restores: Vec<Restore>,
    /// The digests of the configuration once restored: what the revision the revert makes
    /// records.
    digests: BTreeMap<String, String>,
    /// The snapshots `--snapshot-config` asks for of that configuration.
    after: Vec<(Reference, Value)>,
}

/// Before anything is written: a revert whose pods would read a ConfigMap or Secret that is
/// gone is refused (unless `--force`; a dry run warns), and one whose configuration changed
/// since the restored revision recorded it is warned about, since the pods will read today's.
/// With `--with-config`, both are restored from that revision's snapshots instead, or refused
/// when it has none.
async fn check_config(
    cluster: &Cluster,
    args: &RevertArgs,
    (workload, owned): &Fetched,
    planned: &Planned,
    ui: &mut Ui<'_>,
) -> Result<Checked> {
    let restored = match &planned.plan.target {
        Restored::Revision(number) => workload.history(owned.clone()).get(*number).ok().cloned(),
        _ => None,
    };
    let recorded = restored.as_ref().map(|r| recorded_digests(&r.annotations));
    let template = &planned.plan.template;
    let found = config::check(
        cluster,
        &cluster.namespace,
        template,
        &recorded.unwrap_or_default(),
    )
    .await?;
    let restores = if args.with_config {
        let wanted: Vec<Reference> = found
            .missing
            .iter()
            .chain(&found.changed)
            .cloned()
            .collect();
        let Some(revision) = restored.as_ref() else {
            let message = format!(
                "{} has no snapshots for --with-config to restore from: only a revision kept by an apply, record or revert with --snapshot-config has them",
                planned.plan.target
            );
            return Err(anyhow::anyhow!(message));
        };
        snapshot::restores(cluster, revision, &wanted, &found.read).await?
    } else {
        refuse_missing(cluster, args, &found, planned, ui)?;
        Vec::new()
    };
    let after = snapshot::after(&found.read, &restores);
    let digests = config::digests(&after);
    Ok(Checked {
        restores,
        digests,
        after,
    })
}

/// Without `--with-config`: warns of each object changed since, and refuses a revert whose pods
/// would read an object that is gone (a warning with `--force` or in a dry run).
fn refuse_missing(
    cluster: &Cluster,
    args: &RevertArgs,
    found: &config::Found,
    planned: &Planned,
    ui: &mut Ui<'_>,
) -> Result<()> {
    for reference in &found.changed {
        ui.warn(format_args!(
            "{} has changed since {} recorded it: the new pods will read its content of today \
             (--with-config restores it from a snapshot)",
            config::display(reference),
            planned.plan.target
        ))?;
    }
    if found.missing.is_empty() {
        return Ok(());
    }
    let objects: Vec<String> = found.missing.iter().map(config::display).collect();
    let objects = objects.join(", ");
    let message = format!(
        "the pods of the revert would read {objects}, which {} not in namespace {}",
        if found.missing.len() == 1 {
            "is"
        } else {
            "are"
        },
        cluster.namespace
    );
    if args.force || args.dry_run {
        ui.warn(message)?;
        return Ok(());
    }
    let route = Hint::RestoreConfig {
        objects,
        namespace: cluster.namespace.clone(),
    };
    let hint = Hint::OrForce {
        route: Box::new(route),
        change: "revert",
    };
    Err(hinted(message, hint))
}

/// Writes the plan made from the first read (planned again after a conflict): the plan written,
/// and the workload's generation after it.
async fn write_template(
    cluster: &Cluster,
    target: &WorkloadRef,
    planner: Planner<'_>,
    first: (Fetched, Planned),
    ui: &mut Ui<'_>,
) -> Result<(Planned, i64)> {
    let writing = Writing {
        target,
        change: "revert",
    };
    write::conditional(
        writing,
        first,
        |(workload, _)| workload.metadata().generation,
        async || workload::fetch(cluster, target).await,
        |read| planner.plan(read),
        async |(workload, _), planned| {
            execute::send(cluster, writing, workload, &planned.plan).await
        },
        ui,
    )
    .await
    .map_err(|err| show_conflicts(err, ui))
}

/// Waits for the revision the controller makes of the written template, and records on it the
/// digests of the configuration it reads (and its snapshots, asked for).
async fn wait_and_record(
    cluster: &Cluster,
    target: &WorkloadRef,
    planner: Planner<'_>,
    planned: &Planned,
    generation: i64,
    checked: &Checked,
    ui: &mut Ui<'_>,
) -> Result<RevertOutcome> {
    let snapshots = planner.args.snapshot;
    let writing = Writing {
        target,
        change: "revert",
    };
    let plan = &planned.plan;
    let has = format!("the pod template of {}", plan.target);
    let ours = |template: &Value| made_by(plan, template);
    let made = write::revision_made(cluster, writing, generation, ours, &has).await?;
    let revision = made.number;
    let recorded = match made.history.get(revision) {
        Ok(made_as) => {
            let copies = Copies::new(&made.workload, made_as, &checked.after, snapshots);
            record::record_digests(cluster, &made.workload, made_as, &checked.digests, &copies)
                .await
        }
        Err(err) => Err(err.into()),
    };
    match recorded {
        Ok(kept) => {
            for line in kept {
                ui.note(format_args!("snapshot: {line}"))?;
            }
        }
        Err(err) => ui.warn(format_args!(
            "revision {revision} is made, but the digests of the configuration it reads were not \
             recorded: {err:#}"
        ))?,
    }
    let outcome = RevertOutcome {
        workload: writing.name(),
        target: plan.target.clone(),
        revision,
        manifest: None,
        git: None,
    };
    Ok(outcome)
}

/// Commits to git with `--git`, and renders what was done; a git failure comes after what the
/// cluster now runs.
fn finish(
    git: &GitContext,
    planned: &Planned,
    mut outcome: RevertOutcome,
    ui: &mut Ui<'_>,
) -> Result<()> {
    if let Restored::Commit(_) = outcome.target {
        outcome.manifest = git.path.clone();
    }
    if let Some(sha) = planned.commit.as_deref().filter(|_| planned.git) {
        match git::commit(git, sha, &outcome) {
            Ok(committed) => outcome.git = Some(committed),
            Err(err) => {
                render::revert_outcome(ui.out(), &outcome)?;
                return Err(err);
            }
        }
    }
    render::revert_outcome(ui.out(), &outcome)?;
    Ok(ui.flush()?)
}

/// A dry run: the diff the revert would make (through `KUBECTL_EXTERNAL_DIFF` when set), and a
/// note that nothing changed.
fn show_dry_run(target: &WorkloadRef, planned: &Planned, ui: &mut Ui<'_>) -> Result<()> {
    let plan = &planned.plan;
    let name = target.to_string();
    if let Some(command) = external_diff::command() {
        let file = format!("{}.{}.yaml", target.kind, target.name);
        external_diff::run(&command, &plan.diff, &file, ["live", "reverted"])?;
    } else {
        let color = ui.color;
        render::unified(ui.out(), &plan.diff, color)?;
    }
    let would = match &plan.target {
        Restored::Change(n) => format!("the change of revision {n} of {name} would be reverted"),
        restored => format!("{name} would be reverted to {restored}"),
    };
    ui.note(format_args!("dry run: {would}; nothing was changed"))?;
    Ok(())
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
    match render::conflicts(ui, *before, *revision, conflicts) {
        Ok(()) => err,
        Err(io) => io.into(),
    }
}
