//! `kubectl gitrollout`: a rollout history for Kubernetes workloads that behaves like git.
//!
//! Each command ([`commands`]) resolves its arguments and reads the cluster
//! ([`workload::fetch`]), turns API objects into core values ([`workload::Workload::history`]),
//! plans with `rollout_core` and `rollout_git`, makes its writes through the one write path
//! (`write`), and renders the outcome through the one output handle, [`ui::Ui`].

pub mod cli;
mod client;
pub mod commands;
mod complete;
mod config;
mod deployers;
mod external_diff;
mod git;
mod guard;
pub mod hints;
mod identity;
mod jsonpath;
mod kustomize;
pub mod listing;
mod pods;
pub mod render;
mod snapshot;
mod targets;
pub mod ui;
mod wait;
pub mod workload;
mod write;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::commands::{apply, completion, diff, history, log, record, revert, version};
use crate::ui::Ui;

/// Bad usage: exit code 2, as for an unknown flag.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub hint: Option<hints::Hint>,
}

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            hint: None,
        }
    }
}

/// Not an error but an answer: `diff --exit-code` found a difference. Exit code 1, no message.
#[derive(Debug, thiserror::Error)]
#[error("the revisions differ")]
pub struct Differs;

/// Runs one command, writing through `ui`.
pub async fn run(cli: Cli, ui: &mut Ui<'_>) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::History(args) => history::run(global, args, ui).await,
        Command::Diff(args) => diff::run(global, args, ui).await,
        Command::Log(args) => log::run(global, args, ui).await,
        Command::Revert(args) => revert::run(global, args, ui).await,
        Command::Record(args) => record::run(global, args, ui).await,
        Command::Apply(args) => apply::run(global, args, ui).await,
        Command::Completion(args) => completion::run(&args, ui),
        Command::Version => version::run(ui),
        Command::Complete(args) => complete::run(args, ui).await,
    }
}
