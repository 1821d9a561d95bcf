//! `KUBECTL_EXTERNAL_DIFF`, honoured as `kubectl diff` honours it: the command (with optional
//! arguments of letters, digits, `-` and `=`) is run on two directories, one file in each.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result, bail};
use rollout_core::{History, TemplateDiff};

const VARIABLE: &str = "KUBECTL_EXTERNAL_DIFF";

/// The external diff command, when the variable names one.
pub fn command() -> Option<String> {
    std::env::var(VARIABLE)
        .ok()
        .filter(|c| !c.trim().is_empty())
}

pub fn run(command: &str, diff: &TemplateDiff, history: &History) -> Result<()> {
    let mut words = command.split_whitespace();
    let program = words.next().context("KUBECTL_EXTERNAL_DIFF is empty")?;
    let args: Vec<&str> = words.collect();
    if let Some(bad) = args.iter().find(|a| {
        !a.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '=')
    }) {
        bail!(
            "{VARIABLE} argument {bad:?} is not allowed: arguments may hold only letters, digits, \
             '-' and '=', as for kubectl diff"
        );
    }
    let dir = tempfile::tempdir().context("could not make a temporary directory")?;
    let file = format!("{}.{}.yaml", history.kind, history.name);
    let mut dirs = Vec::new();
    for (label, yaml) in [
        (&diff.from_label, &diff.from_yaml),
        (&diff.to_label, &diff.to_yaml),
    ] {
        let side = dir.path().join(
            label
                .rsplit(' ')
                .next()
                .map_or("x".to_owned(), |n| format!("revision-{n}")),
        );
        fs::create_dir(&side)?;
        fs::write(side.join(&file), yaml)?;
        dirs.push(side);
    }
    let status = Command::new(program)
        .args(&args)
        .args(&dirs)
        .status()
        .with_context(|| format!("could not run {VARIABLE}={command:?}"))?;
    // Like diff(1): 0 when the same, 1 when different, more on trouble.
    match status.code() {
        Some(0 | 1) => Ok(()),
        _ => bail!("{VARIABLE}={command:?} failed ({status})"),
    }
}
