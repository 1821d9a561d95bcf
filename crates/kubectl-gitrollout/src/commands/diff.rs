//! `kubectl gitrollout diff`: what changed in the pod template between two revisions, for one
//! workload or several.

use anyhow::Result;
use clap::Args;
use rollout_core::{History, Revision, RevisionSpec, resolve_revision};

use crate::Differs;
use crate::cli::Global;
use crate::client::{self, Cluster};
use crate::config;
use crate::external_diff;
use crate::render;
use crate::targets::{self, SelectorArgs};
use crate::ui::Ui;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// TYPE/NAME... or TYPE NAME... (or a TYPE with -l), then FROM and TO revisions (default:
    /// previous and current; -1 is the one before the current one)
    #[arg(
        value_name = "WORKLOAD... [FROM [TO]]",
        required = true,
        num_args = 1..,
        allow_negative_numbers = true
    )]
    pub args: Vec<String>,
    #[command(flatten)]
    pub select: SelectorArgs,
    /// Exit with 1 when the revisions differ, as `git diff --exit-code`
    #[arg(long)]
    pub exit_code: bool,
    /// Also compare the ConfigMaps and Secrets the revisions read: a ConfigMap's data as a diff,
    /// a Secret's key names (never a value); --config=false for the pod template alone
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub config: bool,
}

pub async fn run(global: &Global, args: DiffArgs, ui: &mut Ui<'_>) -> Result<()> {
    let selector = args.select.selector.as_deref();
    let (targets, revisions) = targets::parse(&args.args, 2, selector, false)?;
    let (from, to) = (revisions.first().copied(), revisions.get(1).copied());
    let cluster = client::connect(global).await?;
    let fetched = targets::fetch(&cluster, &targets).await?;
    if fetched.is_empty() {
        ui.note(format_args!(
            "No resources found in {} namespace.",
            cluster.namespace
        ))?;
    }
    // Of several workloads, one that cannot be compared is said, and the others still are; the
    // command then fails, as kubectl does.
    let several = !targets.is_one();
    let (mut differ, mut failed) = (false, Vec::new());
    for (workload, owned) in fetched {
        let history = workload.history(owned);
        let pair = (from, to);
        match diff_one(&cluster, &history, pair, args.config, ui).await {
            Ok(different) => differ |= different,
            Err(err) if several => {
                ui.note(format_args!("error: {err:#}"))?;
                failed.push(history.workload());
            }
            Err(err) => return Err(err),
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("could not compare revisions of {}", failed.join(", "));
    }
    if args.exit_code && differ {
        return Err(Differs.into());
    }
    Ok(())
}

/// Prints one workload's diff (with `config`, its configuration's too); true when the two
/// revisions differ.
async fn diff_one(
    cluster: &Cluster,
    history: &History,
    (from, to): (Option<RevisionSpec>, Option<RevisionSpec>),
    config: bool,
    ui: &mut Ui<'_>,
) -> Result<bool> {
    for warning in &history.warnings {
        ui.warn(warning)?;
    }
    let number =
        |spec: Option<RevisionSpec>| spec.map(|s| resolve_revision(history, s)).transpose();
    let (from, to) = (number(from)?, number(to)?);
    for asked in [from, to].into_iter().flatten() {
        if let Some(note) = render::renumbered(history, asked) {
            ui.note(note)?;
        }
    }
    let (from, to) = history.diff_pair(from, to)?;
    let diff = render::revision_diff(history, from, to);
    if let Some(command) = external_diff::command() {
        let file = format!("{}.{}.yaml", history.kind, history.name);
        let sides = [from.number, to.number].map(|n| format!("revision-{n}"));
        let sides = [sides[0].as_str(), sides[1].as_str()];
        return external_diff::run(&command, &diff, &file, sides);
    }
    let color = ui.color;
    if diff.is_empty() {
        writeln!(
            ui.out(),
            "revisions {} and {} of {} have the same pod template",
            from.number,
            to.number,
            history.workload()
        )?;
    } else {
        render::unified(ui.out(), &diff, color)?;
    }
    let config_differs = config && diff_config(cluster, history, (from, to), ui).await?;
    Ok(!diff.is_empty() || config_differs)
}

/// Prints how the configuration the two revisions read differs; true when it does. Without the
/// right to list it, a warning says the comparison was left out.
async fn diff_config(
    cluster: &Cluster,
    history: &History,
    (from, to): (&Revision, &Revision),
    ui: &mut Ui<'_>,
) -> Result<bool> {
    let (changes, unknown) = match config::changes(cluster, history, from, to).await {
        Ok(found) => found,
        Err(err) => {
            ui.warn(format_args!(
                "the configuration the revisions read was not compared: {err:#}"
            ))?;
            return Ok(false);
        }
    };
    for line in &unknown {
        ui.note(line)?;
    }
    let color = ui.color;
    for change in &changes {
        render::config_diff(ui.out(), change, color)?;
    }
    Ok(!changes.is_empty())
}
