//! `KUBECTL_EXTERNAL_DIFF`, honoured as `kubectl diff` honours it: the command (with optional
//! arguments of letters, digits, `-` and `=`) is run on two directories, one file in each.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result, bail};
use rollout_core::TemplateDiff;

const VARIABLE: &str = "KUBECTL_EXTERNAL_DIFF";

/// The external diff command, when the variable names one.
pub fn command() -> Option<String> {
    std::env::var(VARIABLE)
        .ok()
        .filter(|c| !c.trim().is_empty())
}

/// Runs the command on two directories named `sides` (told apart by `-from` and `-to` when the
/// two are one name, as for `diff 2 2`), each holding `file` with one side of `diff`. True when
/// the command says they differ.
pub fn run(command: &str, diff: &TemplateDiff, file: &str, sides: [&str; 2]) -> Result<bool> {
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
    let sides = match sides {
        [from, to] if from == to => [format!("{from}-from"), format!("{to}-to")],
        sides => sides.map(str::to_owned),
    };
    let mut dirs = Vec::new();
    for (side, yaml) in sides.iter().zip([&diff.from_yaml, &diff.to_yaml]) {
        let side = dir.path().join(side);
        fs::create_dir(&side)?;
        fs::write(side.join(file), yaml)?;
        dirs.push(side);
    }
    let status = Command::new(program)
        .args(&args)
        .args(&dirs)
        .status()
        .with_context(|| format!("could not run {VARIABLE}={command:?}"))?;
    // Like diff(1): 0 when the same, 1 when different, more on trouble.
    match status.code() {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => bail!("{VARIABLE}={command:?} failed ({status})"),
    }
}
