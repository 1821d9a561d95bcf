//! `kubectl gitrollout diff`: what changed in the pod template between two revisions.

use anyhow::Result;
use clap::Args;

use crate::UsageError;
use crate::cli::{Global, parse_revision, split_workload};
use crate::client;
use crate::external_diff;
use crate::render;
use crate::ui::Ui;
use crate::workload;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// TYPE/NAME or TYPE NAME, then FROM and TO revisions (default: previous and current)
    #[arg(value_name = "WORKLOAD [FROM [TO]]", required = true, num_args = 1..=4)]
    pub args: Vec<String>,
}

pub async fn run(global: &Global, args: DiffArgs, ui: &mut Ui<'_>) -> Result<()> {
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
    for warning in &history.warnings {
        ui.warn(warning)?;
    }
    for asked in [from, to].into_iter().flatten() {
        if let Some(note) = render::renumbered(&history, asked) {
            ui.note(note)?;
        }
    }
    let (from, to) = history.diff_pair(from, to)?;
    let diff = render::revision_diff(&history, from, to);
    if let Some(command) = external_diff::command() {
        return external_diff::run(&command, &diff, &history);
    }
    if diff.is_empty() {
        writeln!(
            ui.out(),
            "revisions {} and {} of {} have the same pod template",
            from.number,
            to.number,
            history.workload()
        )?;
        return Ok(());
    }
    let color = ui.color;
    render::unified(ui.out(), &diff, color)?;
    Ok(())
}
