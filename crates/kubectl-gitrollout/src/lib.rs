//! `kubectl gitrollout`: a rollout history for Kubernetes workloads that behaves like git.
//!
//! Each command does four things in order: fetch from the API ([`workload::fetch`]), turn API
//! objects into core values ([`workload::Workload::history`]), ask `rollout_core`, and render to
//! a `Write` ([`render`]).

pub mod cli;
mod client;
mod external_diff;
mod git;
mod record;
pub mod render;
pub mod revert;
pub mod workload;

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;
use jiff::Timestamp;

use crate::cli::{Cli, Command, DiffArgs, HistoryArgs, Output, parse_revision, split_workload};
use crate::git::GitContext;
use crate::render::{HistoryDoc, RevisionDoc};

/// Bad usage: exit code 2, as for an unknown flag.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// How the output looks: the clock reading and whether to colour.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub now: Timestamp,
    pub color: bool,
}

/// Runs one command, writing its output to `out`.
pub async fn run(cli: Cli, out: &mut dyn Write, look: Look) -> Result<()> {
    run_with(cli, out, look, &mut || Box::pin(async {})).await
}

/// Runs one command; a revert calls `before_write` between reading the workload and writing it.
pub async fn run_with(
    cli: Cli,
    out: &mut dyn Write,
    look: Look,
    before_write: revert::BeforeWrite<'_>,
) -> Result<()> {
    match cli.command {
        Command::History(args) => history(&cli.global, args, out, look).await,
        Command::Diff(args) => diff(&cli.global, args, out, look).await,
        Command::Record(args) => {
            let (target, _) = split_workload(&args.workload)?;
            let git = GitContext::open(args.repo.as_ref(), None)?;
            let cluster = client::connect(&cli.global).await?;
            record::run(&cluster, &target, &args, &git, out).await
        }
        Command::Revert(args) => {
            let (target, _) = split_workload(&args.workload)?;
            let cluster = client::connect(&cli.global).await?;
            revert::run(&cluster, &target, &args, out, look, before_write).await
        }
        Command::Completion { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "kubectl-gitrollout", out);
            Ok(())
        }
        Command::Version => {
            writeln!(
                out,
                "kubectl-gitrollout v{} (commit {})",
                env!("CARGO_PKG_VERSION"),
                env!("GITROLLOUT_COMMIT")
            )?;
            Ok(())
        }
    }
}

async fn history(
    global: &cli::Global,
    args: HistoryArgs,
    out: &mut dyn Write,
    look: Look,
) -> Result<()> {
    let (target, _) = split_workload(&args.workload)?;
    let git = GitContext::open(args.git.repo.as_ref(), args.git.path.as_ref())?;
    let cluster = client::connect(global).await?;
    let (workload, owned) = workload::fetch(&cluster, &target).await?;
    let history = workload.history(owned);
    history.ensure_not_empty()?;
    let manifests = git.manifests(&history)?;
    let commits = git.map(&history, manifests.as_ref()).commits;
    let yaml = args.output == Output::Yaml;
    match (args.revision, args.output) {
        (Some(number), Output::Json | Output::Yaml) => {
            let revision = history.get(number)?;
            let doc = RevisionDoc::new(&history, &commits, revision, true);
            render::document(out, &doc, yaml)?;
        }
        (Some(number), Output::Table | Output::Wide) => {
            let revision = history.get(number)?;
            render::show(out, &history, &commits, revision, look.now, look.color)?;
        }
        (None, Output::Json | Output::Yaml) => {
            render::document(out, &HistoryDoc::new(&history, &commits), yaml)?;
        }
        (None, Output::Table | Output::Wide) => {
            let wide = args.output == Output::Wide;
            render::table(out, &history, &commits, look.now, wide)?;
        }
    }
    Ok(())
}

async fn diff(global: &cli::Global, args: DiffArgs, out: &mut dyn Write, look: Look) -> Result<()> {
    let (target, rest) = split_workload(&args.args)?;
    let numbers = rest
        .iter()
        .map(|r| parse_revision(r).map_err(UsageError))
        .collect::<Result<Vec<u64>, _>>()?;
    let (from, to) = match numbers[..] {
        [] => (None, None),
        [from] => (Some(from), None),
        [from, to] => (Some(from), Some(to)),
        _ => {
            return Err(UsageError(
                "diff takes a workload and at most two revisions, FROM and TO".into(),
            )
            .into());
        }
    };
    let cluster = client::connect(global).await?;
    let (workload, owned) = workload::fetch(&cluster, &target).await?;
    let history = workload.history(owned);
    let (from, to) = history.diff_pair(from, to)?;
    let diff = render::revision_diff(&history, from, to);
    if let Some(command) = external_diff::command() {
        return external_diff::run(&command, &diff, &history);
    }
    if diff.is_empty() {
        writeln!(
            out,
            "revisions {} and {} of {} have the same pod template",
            from.number,
            to.number,
            history.workload()
        )?;
        return Ok(());
    }
    render::unified(out, &diff, look.color)?;
    Ok(())
}
