//! `kubectl gitrollout log`: what changed, across workloads. Every revision of the selected
//! workloads in time order, newest first, with who made it when that can be told; with `-w`,
//! then every new revision as it is made.
//!
//! The reads cost one paged LIST per kind of workload and one per kind of revision object
//! (ReplicaSets, ControllerRevisions), however many workloads there are.

mod follow;

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use jiff::{SignedDuration, Timestamp};
use rollout_core::WorkloadKind;
use rollout_core::log::{self, Window};

use crate::UsageError;
use crate::cli::{Global, Output, RepoArgs, WorkloadRef, parse_output, parse_timeout};
use crate::cli::{split_workload, valid_name};
use crate::client::{self, Cluster};
use crate::git::GitContext;
use crate::hints::{Hint, hinted};
use crate::listing::{self, TableStyle};
use crate::render::{self, LogDoc, LogItem};
use crate::targets::{self, Fetched, Scope, SelectorArgs};
use crate::ui::Ui;
use crate::workload::{Owned, Workload};

#[derive(Debug, Args)]
pub struct LogArgs {
    /// TYPE (deploy, sts, ds, or several as deploy,sts), TYPE/NAME, or TYPE NAME...; default:
    /// every Deployment, StatefulSet and DaemonSet
    #[arg(value_name = "TYPE[/NAME]")]
    pub workloads: Vec<String>,
    #[command(flatten)]
    pub select: SelectorArgs,
    /// The workloads in every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only revisions made this long ago or later, e.g. 30m, 2h (default 24h; 0 for all)
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, conflicts_with = "since_time")]
    pub since: Option<Duration>,
    /// Only revisions made at this time or later (RFC 3339, e.g. 2026-01-02T15:04:05Z)
    #[arg(long, value_name = "TIME", value_parser = parse_since_time)]
    pub since_time: Option<Timestamp>,
    /// After the list, print each new revision as it is made, until interrupted
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Output format: table, wide, json, yaml, name or jsonpath=TEMPLATE (over the json list)
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = parse_output, default_value = "table")]
    pub output: Output,
    /// Leave out the table's header line
    #[arg(long)]
    pub no_headers: bool,
    #[command(flatten)]
    pub repo: RepoArgs,
}

/// A time as `--since-time` takes it.
fn parse_since_time(s: &str) -> Result<Timestamp, String> {
    s.parse().map_err(|_| {
        format!("{s:?} is not an RFC 3339 time: use e.g. 2026-01-02T15:04:05Z or 2026-01-02T17:04:05+02:00")
    })
}

/// Which workloads a `log` shows: kinds whole, and workloads named one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picked {
    pub whole: Vec<WorkloadKind>,
    pub named: Vec<WorkloadRef>,
}

impl Picked {
    /// The kinds to list, in a fixed order.
    pub fn kinds(&self) -> Vec<WorkloadKind> {
        let named = |k: WorkloadKind| self.named.iter().any(|n| n.kind == k);
        (WorkloadKind::ALL.into_iter())
            .filter(|k| self.whole.contains(k) || named(*k))
            .collect()
    }

    /// Whether `workload` is one of those picked.
    pub fn wants(&self, workload: &Workload) -> bool {
        let kind = workload.kind();
        let name = workload.metadata().name.as_deref().unwrap_or_default();
        self.whole.contains(&kind) || self.named.iter().any(|n| n.kind == kind && n.name == name)
    }
}

/// Reads `[TYPE[/NAME]...]`: `deploy`, `deploy,sts`, `deploy/a`, `deploy a b`; nothing for every
/// kind. Names cannot be combined with `-l` or `-A`, as in kubectl.
pub fn pick(words: &[String], selecting: bool) -> Result<Picked, UsageError> {
    let mut picked = Picked::default();
    if words.is_empty() {
        picked.whole = WorkloadKind::ALL.to_vec();
    }
    // The TYPE a bare name after it belongs to (`deploy a b`), and whether it was listed whole.
    let mut naming: Option<(WorkloadKind, bool)> = None;
    for word in words {
        if word.contains('/') {
            picked
                .named
                .push(split_workload(std::slice::from_ref(word))?.0);
            naming = None;
        } else if let Ok(kinds) = word
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
        {
            naming = match kinds.as_slice() {
                [kind] => Some((*kind, true)),
                _ => None,
            };
            picked.whole.extend(kinds);
        } else if let Some((kind, whole)) = naming {
            if whole && let Some(at) = picked.whole.iter().rposition(|k| *k == kind) {
                picked.whole.remove(at);
            }
            if !valid_name(kind, word) {
                return Err(split_workload(&[kind.singular().to_owned(), word.clone()])
                    .err()
                    .unwrap_or_else(|| UsageError::new(format!("{word:?} is not a name"))));
            }
            let name = word.clone();
            picked.named.push(WorkloadRef { kind, name });
            naming = Some((kind, false));
        } else {
            return Err(UsageError::new(format!(
                "{word:?} is neither a TYPE nor TYPE/NAME: use deployment (deploy), statefulset \
                 (sts) or daemonset (ds), e.g. `log deploy`, `log deploy/team-app`"
            )));
        }
    }
    if selecting && !picked.named.is_empty() {
        return Err(UsageError::new(
            "-l/--selector and -A/--all-namespaces select workloads of a TYPE: give the TYPE \
             alone, e.g. `log deploy -l app=web`, not TYPE/NAME",
        ));
    }
    Ok(picked)
}

/// The window `--since`/`--since-time` give, by default the last 24 hours before `now`.
fn window(args: &LogArgs, now: Timestamp) -> Window {
    if let Some(since) = args.since_time {
        return Window { since: Some(since) };
    }
    let back = args.since.unwrap_or(Duration::from_secs(24 * 3600));
    // Zero is no limit; so is a duration reaching further back than any time can.
    let since = SignedDuration::try_from(back)
        .ok()
        .filter(|d| !d.is_zero())
        .and_then(|d| now.checked_sub(d).ok());
    Window { since }
}

pub async fn run(global: &Global, args: LogArgs, ui: &mut Ui<'_>) -> Result<()> {
    // Resolve: the arguments and the repository, before any request.
    let selector = args.select.selector.as_deref();
    let picked = pick(&args.workloads, selector.is_some() || args.all_namespaces)?;
    let window = window(&args, ui.now);
    let git = GitContext::open(args.repo.repo.as_ref(), None)?;
    let cluster = client::connect(global).await?;
    let scope = Scope {
        cluster: &cluster,
        selector,
        all_namespaces: args.all_namespaces,
    };
    // Read: one paged LIST per kind.
    let selection = targets::select_kinds(scope, &picked.kinds(), args.watch).await?;
    let mut fetched: Vec<Fetched> = selection.fetched;
    fetched.retain(|(workload, _)| picked.wants(workload));
    ensure_found(&cluster, &picked, &fetched)?;
    // Plan: the timeline. A watch keeps the objects, to tell what changes next.
    let kept = args.watch.then(|| fetched.clone());
    let mut items = Vec::new();
    for (workload, owned) in fetched {
        items.extend(timeline_of(&workload, owned, &git, ui)?);
    }
    let mut shown: Vec<LogItem> = Vec::with_capacity(items.len());
    let mut seen = follow::Seen::default();
    for item in items {
        seen.insert(&item.entry);
        if window.contains(&item.entry) {
            shown.push(item);
        }
    }
    shown.sort_by(|a, b| log::newest_first(&a.entry, &b.entry));
    // Render.
    if shown.is_empty() && !args.watch {
        ui.note(nothing_found(&scope))?;
    }
    print(&args, &shown, true, ui)?;
    if let Some(fetched) = kept {
        ui.flush()?;
        let follow = follow::Follow::new(&picked, fetched, seen);
        return follow
            .run(
                scope,
                &selection.versions,
                &git,
                |items, ui| print(&args, items, false, ui),
                ui,
            )
            .await;
    }
    Ok(())
}

/// The entries of one workload's history, with their commits, oldest first; warnings about its
/// objects are shown.
fn timeline_of(
    workload: &Workload,
    owned: Owned,
    git: &GitContext,
    ui: &mut Ui<'_>,
) -> Result<Vec<LogItem>> {
    let history = workload.history(owned);
    for warning in &history.warnings {
        ui.warn(format_args!("{}: {warning}", history.workload()))?;
    }
    Ok(items_of(&history, workload, git, ui)?)
}

/// The items of `history` (of `workload`), each with its commit.
pub(crate) fn items_of(
    history: &rollout_core::History,
    workload: &Workload,
    git: &GitContext,
    ui: &mut Ui<'_>,
) -> std::io::Result<Vec<LogItem>> {
    let mapping = git.map(history, None);
    for warning in &mapping.warnings {
        ui.warn(warning)?;
    }
    let entries = log::entries(history, &workload.template_writer());
    Ok(entries
        .into_iter()
        .map(|entry| LogItem {
            commit: mapping.commits.get(&entry.revision).cloned(),
            entry,
        })
        .collect())
}

/// A workload named on the command line that the cluster does not have is an error.
fn ensure_found(cluster: &Cluster, picked: &Picked, fetched: &[Fetched]) -> Result<()> {
    for named in &picked.named {
        let found = fetched.iter().any(|(w, _)| {
            w.kind() == named.kind && w.metadata().name.as_deref() == Some(named.name.as_str())
        });
        if !found {
            return Err(hinted(
                format_args!(
                    "{} {:?} not found in namespace {:?}",
                    named.kind.singular(),
                    named.name,
                    cluster.namespace
                ),
                Hint::ListObjects {
                    kind: named.kind.plural().to_owned(),
                    namespace: cluster.namespace.clone(),
                },
            ));
        }
    }
    Ok(())
}

/// What `kubectl get` says when there is nothing to list, for revisions in the window.
fn nothing_found(scope: &Scope<'_>) -> String {
    match scope.all_namespaces {
        true => "No revisions found in the time window.".to_owned(),
        false => format!(
            "No revisions found in {} namespace in the time window.",
            scope.cluster.namespace
        ),
    }
}

/// Prints items as `-o` says: the list (`first`), or the lines a watch adds, which have no
/// header and, in machine formats, are one list document each.
fn print(args: &LogArgs, items: &[LogItem], first: bool, ui: &mut Ui<'_>) -> Result<()> {
    if listing::document(ui.out(), &LogDoc::new(items), &args.output)? {
        return Ok(());
    }
    let style = TableStyle {
        wide: args.output == Output::Wide,
        headers: first && !args.no_headers && !items.is_empty(),
        namespaces: args.all_namespaces,
    };
    let now = ui.now;
    match args.output {
        Output::Name => render::log_names(ui.out(), items)?,
        _ => render::log_table(ui.out(), items, now, style)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    fn check(text: &str, selecting: bool, expect: Result<(&[WorkloadKind], &[&str]), &str>) {
        let got = pick(&words(text), selecting);
        match expect {
            Ok((whole, named)) => {
                let got = got.unwrap_or_else(|e| panic!("{text}: {}", e.message));
                let names: Vec<String> = got.named.iter().map(ToString::to_string).collect();
                assert_eq!(
                    (got.whole.as_slice(), names),
                    (whole, named.iter().map(|n| (*n).to_owned()).collect()),
                    "{text}"
                );
            }
            Err(part) => {
                let err = got.expect_err(text).message;
                assert!(err.contains(part), "{text}: {err}");
            }
        }
    }

    #[test]
    fn picks_kinds_and_names_as_kubectl_get_does() {
        use WorkloadKind::*;
        check("", false, Ok((&[Deployment, StatefulSet, DaemonSet], &[])));
        check("deploy,sts", true, Ok((&[Deployment, StatefulSet], &[])));
        check(
            "ds deploy/a",
            false,
            Ok((&[DaemonSet], &["deployment.apps/a"])),
        );
        check(
            "deploy a b sts",
            false,
            Ok((&[StatefulSet], &["deployment.apps/a", "deployment.apps/b"])),
        );
        check("deploy/a", true, Err("give the TYPE alone"));
        check("deploy/a b", false, Err("neither a TYPE nor TYPE/NAME"));
        check("pods", false, Err("neither a TYPE nor TYPE/NAME"));
        check("sts a.b", false, Err("is not a statefulset name"));
    }

    #[test]
    fn the_window_is_a_day_by_default() {
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let args = |line: &str| {
            use clap::Parser;
            let cli = crate::cli::Cli::parse_from(
                ["kubectl-gitrollout", "log"]
                    .into_iter()
                    .chain(line.split_whitespace()),
            );
            match cli.command {
                crate::cli::Command::Log(args) => args,
                _ => unreachable!("log parses as log"),
            }
        };
        let since = |line: &str| window(&args(line), now).since.map(|t| t.to_string());
        assert_eq!(since(""), Some("2026-01-01T00:00:00Z".into()));
        assert_eq!(since("--since 2h"), Some("2026-01-01T22:00:00Z".into()));
        assert_eq!(since("--since 0"), None);
        // The longest duration a flag takes reaches back 292 years, and no further.
        assert_eq!(
            since("--since 2562047h"),
            Some("1733-09-23T01:00:00Z".into())
        );
        assert_eq!(
            since("--since-time 2025-12-31T10:00:00+02:00"),
            Some("2025-12-31T08:00:00Z".into())
        );
    }
}
