//! `kubectl gitrollout`: a rollout history for Kubernetes workloads that behaves like git.
//!
//! Each command ([`commands`]) resolves its arguments and reads the cluster
//! ([`workload::fetch`]), turns API objects into core values ([`workload::Workload::history`]),
//! plans with `rollout_core` and `rollout_git`, makes its writes, and renders the outcome through
//! the one output handle, [`ui::Ui`].

pub mod cli;
mod client;
pub mod commands;
mod complete;
mod external_diff;
mod git;
mod guard;
pub mod hints;
mod identity;
mod jsonpath;
mod listing;
mod pods;
pub mod render;
mod targets;
pub mod ui;
mod wait;
pub mod workload;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::commands::{completion, diff, history, record, revert, version};
use crate::ui::Ui;

pub use crate::commands::revert::BeforeWrite;

/// Bad usage: exit code 2, as for an unknown flag.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Not an error but an answer: `diff --exit-code` found a difference. Exit code 1, no message.
#[derive(Debug, thiserror::Error)]
#[error("the revisions differ")]
pub struct Differs;

/// Runs one command, writing through `ui`.
pub async fn run(cli: Cli, ui: &mut Ui<'_>) -> Result<()> {
    run_with(cli, ui, &mut || Box::pin(async {})).await
}

/// Runs one command; a revert calls `before_write` between reading the workload and writing it.
pub async fn run_with(cli: Cli, ui: &mut Ui<'_>, before_write: BeforeWrite<'_>) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::History(args) => history::run(global, args, ui).await,
        Command::Diff(args) => diff::run(global, args, ui).await,
        Command::Revert(args) => revert::run(global, args, ui, before_write).await,
        Command::Record(args) => record::run(global, args, ui).await,
        Command::Completion(args) => completion::run(&args, ui),
        Command::Version => version::run(ui),
        Command::Complete(args) => complete::run(args, ui).await,
    }
}
