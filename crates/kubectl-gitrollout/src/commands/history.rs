//! `kubectl gitrollout history`: every revision of one or several workloads, or one in full.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use rollout_core::{History, Origin, RevisionSpec, kustomize_origin, resolve_revision};

use crate::UsageError;
use crate::cli::{GitArgs, Global, Output, parse_output, parse_revision};
use crate::client::{self, Cluster};
use crate::config;
use crate::deployers;
use crate::git::GitContext;
use crate::kustomize;
use crate::listing::{self, ListDoc, TableStyle};
use crate::pods;
use crate::render::{self, Commits, HistoryDoc, RevisionDoc};
use crate::targets::{self, SelectorArgs, Targets};
use crate::ui::Ui;
use crate::workload::{Owned, Workload};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// TYPE/NAME..., TYPE NAME..., or a TYPE alone with -l or -A
    #[arg(value_name = "WORKLOAD", required = true, num_args = 1..)]
    pub workload: Vec<String>,
    /// Show this revision in full, with its diff against the previous one; -1 is the one before
    /// the current one
    #[arg(long, value_name = "N", value_parser = parse_revision, allow_negative_numbers = true)]
    pub revision: Option<RevisionSpec>,
    /// Output format: table, wide, json, yaml, name or jsonpath=TEMPLATE (kubectl's
    /// {.path}, {range .items[*]}...{end} and {"\n"}; JSONPath as RFC 9535)
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = parse_output, default_value = "table")]
    pub output: Output,
    /// Leave out the table's header line
    #[arg(long)]
    pub no_headers: bool,
    #[command(flatten)]
    pub select: SelectorArgs,
    /// The workloads of TYPE in every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[command(flatten)]
    pub git: GitArgs,
    /// The namespace of the Argo CD Applications that track workloads, for those whose tracking
    /// mark does not name one
    #[arg(long, value_name = "NAMESPACE", default_value = "argocd")]
    pub argocd_namespace: String,
    /// A kustomize overlay directory in --repo: trace revisions by rendering it at the commits
    /// that changed it or its local bases
    #[arg(
        long,
        value_name = "OVERLAY",
        requires = "repo",
        conflicts_with = "path"
    )]
    pub kustomize: Option<PathBuf>,
}

pub async fn run(global: &Global, args: HistoryArgs, ui: &mut Ui<'_>) -> Result<()> {
    // Resolve: the arguments, the repository, then the reads (one workload: a GET and a LIST).
    let selector = args.select.selector.as_deref();
    let (targets, _) = targets::parse(&args.workload, 0, selector, args.all_namespaces)?;
    if !targets.is_one() && args.revision.is_some() {
        return Err(UsageError::new(
            "--revision shows one revision of one workload: name a single workload",
        )
        .into());
    }
    let mut git = GitContext::open(args.git.repo.repo.as_ref(), args.git.path.as_ref())?;
    if let Some(overlay) = &args.kustomize {
        git.overlay(overlay)?;
    }
    let cluster = client::connect(global).await?;
    let mut fetched = targets::fetch(&cluster, &targets).await?;
    if targets.is_one()
        && let Some((workload, owned)) = fetched.pop()
    {
        let mut history = workload.history(owned);
        for warning in &history.warnings {
            ui.warn(warning)?;
        }
        history.ensure_not_empty()?;
        if args.output == Output::Wide {
            pods::count(&cluster, &workload, &mut history).await?;
        }
        config::read_today(&cluster, &mut [&mut history], ui).await?;
        deployers::attribute(
            &cluster,
            &workload,
            &mut history,
            &args.argocd_namespace,
            ui,
        )
        .await?;
        let commits = commits(&git, &history, origin(&workload).as_ref(), ui)?;
        return match args.revision {
            Some(spec) => show_one(&args, &history, &commits, spec, ui),
            None => list_one(&args, &history, &commits, ui),
        };
    }
    // A selection keeps to one LIST per kind, however many workloads it finds: who deployed
    // them is read for workloads named.
    let sources = !matches!(targets, Targets::Selected { .. });
    let items = several(&cluster, &git, fetched, &args, sources, ui).await?;
    if items.is_empty()
        && let Targets::Selected { all_namespaces, .. } = targets
    {
        let scope = match all_namespaces {
            true => String::new(),
            false => format!(" in {} namespace", cluster.namespace),
        };
        ui.note(format_args!("No resources found{scope}."))?;
    }
    list_several(&args, &targets, &items, ui)
}

/// The histories of several workloads with their commits, and with `sources` who deployed
/// them; one without history yet is named in a warning and left out, the others are still
/// shown.
async fn several(
    cluster: &Cluster,
    git: &GitContext,
    fetched: Vec<(Workload, Owned)>,
    args: &HistoryArgs,
    sources: bool,
    ui: &mut Ui<'_>,
) -> Result<Vec<(History, Commits)>> {
    let mut histories = Vec::with_capacity(fetched.len());
    let mut origins = Vec::with_capacity(fetched.len());
    for (workload, owned) in fetched {
        let mut history = workload.history(owned);
        for warning in &history.warnings {
            ui.warn(format_args!("{}: {warning}", history.workload()))?;
        }
        if let Err(empty) = history.ensure_not_empty() {
            ui.warn(empty)?;
            continue;
        }
        if args.output == Output::Wide {
            pods::count(cluster, &workload, &mut history).await?;
        }
        if sources {
            let argocd = &args.argocd_namespace;
            deployers::attribute(cluster, &workload, &mut history, argocd, ui).await?;
        }
        histories.push(history);
        origins.push(origin(&workload));
    }
    let mut all: Vec<&mut History> = histories.iter_mut().collect();
    config::read_today(cluster, &mut all, ui).await?;
    histories
        .into_iter()
        .zip(origins)
        .map(|(history, origin)| {
            let commits = commits(git, &history, origin.as_ref(), ui)?;
            Ok((history, commits))
        })
        .collect()
}

/// The file kustomize took `workload` from, by its origin annotation.
fn origin(workload: &Workload) -> Option<Origin> {
    kustomize_origin(workload.metadata().annotations.as_ref()?)
}

/// Which commit made each revision, with the mapping's warnings shown. Without `--path`, the
/// file kustomize recorded as the workload's origin is traced; one that cannot be is a warning.
fn commits(
    git: &GitContext,
    history: &History,
    origin: Option<&Origin>,
    ui: &mut Ui<'_>,
) -> Result<Commits> {
    if let (Some(repo), Some(overlay)) = (&git.repo, &git.overlay) {
        let manifests = kustomize::trace(repo, overlay, history)?;
        let mapping = git.map(history, Some(&manifests));
        for warning in &mapping.warnings {
            ui.warn(warning)?;
        }
        return Ok(mapping.commits);
    }
    let manifests = match git.origin_manifests(history, origin) {
        Ok(Some(found)) => Some(found),
        Ok(None) => git.manifests(history)?,
        Err(err) => {
            ui.warn(format_args!(
                "{}: cannot trace the file kustomize recorded as its origin: {err:#}",
                history.workload()
            ))?;
            None
        }
    };
    let mapping = git.map(history, manifests.as_ref());
    for warning in &mapping.warnings {
        ui.warn(warning)?;
    }
    Ok(mapping.commits)
}

fn show_one(
    args: &HistoryArgs,
    history: &History,
    commits: &Commits,
    spec: RevisionSpec,
    ui: &mut Ui<'_>,
) -> Result<()> {
    let number = resolve_revision(history, spec)?;
    if let Some(note) = render::renumbered(history, number) {
        ui.note(note)?;
    }
    let revision = history.get(number)?;
    let doc = RevisionDoc::new(history, commits, revision, true);
    if listing::document(ui.out(), &doc, &args.output)? {
        return Ok(());
    }
    let (now, color) = (ui.now, ui.color);
    match args.output {
        Output::Name => writeln!(ui.out(), "{}", history.workload())?,
        _ => render::show(ui.out(), history, commits, revision, now, color)?,
    }
    Ok(())
}

fn list_one(
    args: &HistoryArgs,
    history: &History,
    commits: &Commits,
    ui: &mut Ui<'_>,
) -> Result<()> {
    if listing::document(ui.out(), &HistoryDoc::new(history, commits), &args.output)? {
        return Ok(());
    }
    if args.output == Output::Name {
        writeln!(ui.out(), "{}", history.workload())?;
        return Ok(());
    }
    let (now, wide) = (ui.now, args.output == Output::Wide);
    let mut table = Vec::new();
    render::table(&mut table, history, commits, now, wide)?;
    let table = match args.no_headers {
        true => listing::without_header(&table),
        false => &table,
    };
    ui.out().write_all(table)?;
    Ok(())
}

/// Several workloads: one list document, one table (for a selection, or without headers), or a
/// block per workload, as `kubectl rollout history` prints several.
fn list_several(
    args: &HistoryArgs,
    targets: &Targets,
    items: &[(History, Commits)],
    ui: &mut Ui<'_>,
) -> Result<()> {
    if listing::document(ui.out(), &ListDoc::new(items), &args.output)? {
        return Ok(());
    }
    let (now, wide) = (ui.now, args.output == Output::Wide);
    match args.output {
        Output::Name => {
            for (history, _) in items {
                writeln!(ui.out(), "{}", history.workload())?;
            }
        }
        // Nothing found is said on stderr; an empty table says nothing more.
        _ if items.is_empty() => {}
        _ if matches!(targets, Targets::Selected { .. }) || args.no_headers => {
            let style = TableStyle {
                wide,
                headers: !args.no_headers,
                namespaces: args.all_namespaces,
            };
            listing::table(ui.out(), items, now, style)?;
        }
        _ => {
            for (index, (history, commits)) in items.iter().enumerate() {
                if index > 0 {
                    writeln!(ui.out())?;
                }
                writeln!(ui.out(), "{}", history.workload())?;
                render::table(ui.out(), history, commits, now, wide)?;
            }
        }
    }
    Ok(())
}
