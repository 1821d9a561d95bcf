//! `kubectl gitrollout history`: every revision of a workload, or one in full.

use anyhow::Result;
use clap::Args;

use crate::cli::{GitArgs, Global, Output, parse_revision, split_workload};
use crate::client;
use crate::git::GitContext;
use crate::render::{self, HistoryDoc, RevisionDoc};
use crate::ui::Ui;
use crate::workload;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// TYPE/NAME or TYPE NAME, e.g. deployment/team-app
    #[arg(value_name = "WORKLOAD", required = true, num_args = 1..=2)]
    pub workload: Vec<String>,
    /// Show this revision in full, with its diff against the previous one
    #[arg(long, value_name = "N", value_parser = parse_revision)]
    pub revision: Option<u64>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(flatten)]
    pub git: GitArgs,
}

pub async fn run(global: &Global, args: HistoryArgs, ui: &mut Ui<'_>) -> Result<()> {
    // Resolve: the arguments, the repository, then exactly two reads (GET and LIST).
    let (target, _) = split_workload(&args.workload)?;
    let git = GitContext::open(args.git.repo.repo.as_ref(), args.git.path.as_ref())?;
    let cluster = client::connect(global).await?;
    let (workload, owned) = workload::fetch(&cluster, &target).await?;
    let history = workload.history(owned);
    for warning in &history.warnings {
        ui.warn(warning)?;
    }
    history.ensure_not_empty()?;
    if let Some(note) = args.revision.and_then(|n| render::renumbered(&history, n)) {
        ui.note(note)?;
    }
    // Plan: which commit made each revision.
    let manifests = git.manifests(&history)?;
    let mapping = git.map(&history, manifests.as_ref());
    for warning in &mapping.warnings {
        ui.warn(warning)?;
    }
    let commits = mapping.commits;
    // Render.
    let yaml = args.output == Output::Yaml;
    let (now, color) = (ui.now, ui.color);
    match (args.revision, args.output) {
        (Some(number), Output::Json | Output::Yaml) => {
            let revision = history.get(number)?;
            let doc = RevisionDoc::new(&history, &commits, revision, true);
            render::document(ui.out(), &doc, yaml)?;
        }
        (Some(number), Output::Table | Output::Wide) => {
            let revision = history.get(number)?;
            render::show(ui.out(), &history, &commits, revision, now, color)?;
        }
        (None, Output::Json | Output::Yaml) => {
            render::document(ui.out(), &HistoryDoc::new(&history, &commits), yaml)?;
        }
        (None, Output::Table | Output::Wide) => {
            let wide = args.output == Output::Wide;
            render::table(ui.out(), &history, &commits, now, wide)?;
        }
    }
    Ok(())
}
