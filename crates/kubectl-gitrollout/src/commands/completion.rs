//! `kubectl gitrollout completion SHELL`: a completion script for the shell, or, with `kubectl`,
//! the `kubectl_complete-gitrollout` executable that makes `kubectl gitrollout <TAB>` complete
//! (krew puts only the plugin itself on PATH, so it is printed for the user to install).

use anyhow::Result;
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::ui::Ui;

/// The executable kubectl runs to complete this plugin, as shipped beside the binary.
pub const KUBECTL_COMPLETE: &str = include_str!("../../kubectl_complete-gitrollout");

#[derive(Debug, Args)]
pub struct CompletionArgs {
    #[arg(value_enum)]
    pub shell: Target,
}

/// A shell, or kubectl's plugin completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Bash,
    Zsh,
    Fish,
    Elvish,
    #[value(name = "powershell")]
    PowerShell,
    /// `kubectl_complete-gitrollout`, for `kubectl gitrollout <TAB>` (kubectl 1.26+)
    Kubectl,
}

pub fn run(args: &CompletionArgs, ui: &mut Ui<'_>) -> Result<()> {
    let shell = match args.shell {
        Target::Bash => Shell::Bash,
        Target::Zsh => Shell::Zsh,
        Target::Fish => Shell::Fish,
        Target::Elvish => Shell::Elvish,
        Target::PowerShell => Shell::PowerShell,
        Target::Kubectl => {
            ui.out().write_all(KUBECTL_COMPLETE.as_bytes())?;
            return Ok(());
        }
    };
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "kubectl-gitrollout", ui.out());
    Ok(())
}
