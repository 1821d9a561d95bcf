//! `kubectl gitrollout completion SHELL`: a completion script for the shell.

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::ui::Ui;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &CompletionArgs, ui: &mut Ui<'_>) -> Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "kubectl-gitrollout", ui.out());
    Ok(())
}
