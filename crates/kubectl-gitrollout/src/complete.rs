//! `kubectl gitrollout <TAB>`: kubectl runs `kubectl_complete-gitrollout` with the words after
//! `gitrollout` (the last one being completed, maybe empty), which calls the hidden
//! `__complete` command here. The answer is cobra's: one candidate a line (`value\tdescription`),
//! then `:DIRECTIVE`. Subcommands and flags come from the command line's own definition;
//! workload names from one LIST in the namespace (`-n`, else the context's); revision numbers
//! from the named workload's history (a GET and a LIST); namespaces for `-n` (one LIST).

use anyhow::Result;
use clap::{Args, CommandFactory, Parser};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::ListParams;
use rollout_core::{History, RevisionSpec, WorkloadKind};

use crate::cli::{Cli, WorkloadRef, split_workload};
use crate::client::{self, Cluster};
use crate::ui::Ui;
use crate::workload;

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CompleteArgs {
    /// The words after `kubectl gitrollout`, the last one being completed
    #[arg(num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true)]
    pub words: Vec<String>,
}

/// Cobra's directives: complete no files; complete files; complete directories.
const NO_FILES: u32 = 4;
const DEFAULT: u32 = 0;
const DIRECTORIES: u32 = 16;

/// The flags of a command, `--long` and `-s`: those that take a value, or all of them.
fn flag_names(command: &clap::Command, with_values_only: bool) -> Vec<String> {
    let mut flags = Vec::new();
    for arg in command.get_arguments().filter(|a| !a.is_positional()) {
        if !with_values_only || arg.get_action().takes_values() {
            flags.extend(arg.get_long().map(|l| format!("--{l}")));
            flags.extend(arg.get_short().map(|s| format!("-{s}")));
        }
    }
    flags
}

/// The words read so far: the subcommand, its positional words, global flags (to connect as the
/// command would), and a flag whose value is being completed.
#[derive(Debug, Default)]
struct Line {
    subcommand: Option<String>,
    positionals: Vec<String>,
    global: Vec<String>,
    pending_flag: Option<String>,
}

fn read_line(words: &[String]) -> Line {
    let root = Cli::command();
    // Every flag of the root is global: kubectl's connection flags, -n, -v.
    let globals = flag_names(&root, false);
    let mut takes_value = flag_names(&root, true);
    let mut line = Line::default();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if !word.starts_with('-') || is_revision(word) {
            if line.subcommand.is_none() {
                if let Some(sub) = root.find_subcommand(word) {
                    takes_value.extend(flag_names(sub, true));
                }
                line.subcommand = Some(word.clone());
            } else {
                line.positionals.push(word.clone());
            }
            continue;
        }
        let (flag, inline) = match word.split_once('=') {
            Some((flag, _)) => (flag, true),
            None => (word.as_str(), false),
        };
        let global = globals.iter().any(|g| g == flag);
        if global {
            line.global.push(word.clone());
        }
        if takes_value.iter().any(|f| f == flag) && !inline {
            match words.next() {
                Some(value) if global => line.global.push(value.clone()),
                Some(_) => {}
                None => {
                    // Its value is being typed: not yet a flag to connect with.
                    if global {
                        line.global.pop();
                    }
                    line.pending_flag = Some(flag.to_owned());
                }
            }
        }
    }
    line
}

/// A word that reads as a revision (`-1` counts back) is no flag.
fn is_revision(word: &str) -> bool {
    word.parse::<RevisionSpec>().is_ok()
}

/// Candidates and a directive.
type Answer = (Vec<String>, u32);

pub async fn run(args: CompleteArgs, ui: &mut Ui<'_>) -> Result<()> {
    let (to_complete, before) = match args.words.split_last() {
        Some((last, before)) => (last.clone(), before.to_vec()),
        None => (String::new(), Vec::new()),
    };
    let line = read_line(&before);
    let (candidates, directive) = answer(&line, &to_complete).await;
    let out = ui.out();
    for candidate in candidates {
        let value = candidate.split('\t').next().unwrap_or_default();
        if value.starts_with(&to_complete) {
            writeln!(out, "{candidate}")?;
        }
    }
    writeln!(out, ":{directive}")?;
    Ok(())
}

async fn answer(line: &Line, to_complete: &str) -> Answer {
    if let Some(flag) = &line.pending_flag {
        return flag_values(line, flag).await;
    }
    let Some(sub) = &line.subcommand else {
        if to_complete.starts_with('-') {
            return (flags(&Cli::command()), NO_FILES);
        }
        return (subcommands(), NO_FILES);
    };
    let Some(command) = Cli::command().find_subcommand(sub).cloned() else {
        return (Vec::new(), NO_FILES);
    };
    if to_complete.starts_with('-') && !is_revision(to_complete) {
        let mut all = flags(&command);
        all.extend(flags(&Cli::command()));
        all.sort();
        return (all, NO_FILES);
    }
    if !["history", "diff", "log", "revert", "record"].contains(&sub.as_str()) {
        return (Vec::new(), NO_FILES);
    }
    positional(line, sub, to_complete).await
}

fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| {
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            format!("{}\t{about}", c.get_name())
        })
        .collect()
}

fn flags(command: &clap::Command) -> Vec<String> {
    let mut flags: Vec<String> = command
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter_map(|a| {
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            a.get_long().map(|l| format!("--{l}\t{help}"))
        })
        .collect();
    flags.sort();
    flags
}

async fn flag_values(line: &Line, flag: &str) -> Answer {
    match flag {
        "-o" | "--output" => (
            ["table", "wide", "json", "yaml", "name", "jsonpath="]
                .map(String::from)
                .to_vec(),
            NO_FILES,
        ),
        "--revision" | "--to-revision" => match named(line) {
            Some(target) => (revisions(line, &target).await, NO_FILES),
            None => (Vec::new(), NO_FILES),
        },
        "-n" | "--namespace" => (namespaces(line).await, NO_FILES),
        "--repo" => (Vec::new(), DIRECTORIES),
        "--path"
        | "--kubeconfig"
        | "--certificate-authority"
        | "--client-certificate"
        | "--client-key" => (Vec::new(), DEFAULT),
        _ => (Vec::new(), NO_FILES),
    }
}

/// The workload named so far, TYPE/NAME or TYPE NAME.
fn named(line: &Line) -> Option<WorkloadRef> {
    split_workload(&line.positionals).ok().map(|(w, _)| w)
}

async fn positional(line: &Line, sub: &str, to_complete: &str) -> Answer {
    let first = line.positionals.first();
    let type_name_form = first.is_some_and(|k| !k.contains('/'));
    // TYPE/NAME being typed: the names of that TYPE (history, diff and log take several).
    let more = matches!(sub, "history" | "diff" | "log") && !type_name_form;
    if to_complete.contains('/') && (first.is_none() || more) {
        let (kind, _) = to_complete.split_once('/').unwrap_or_default();
        return (names_of(line, kind, &format!("{kind}/")).await, NO_FILES);
    }
    let candidates = match line.positionals.as_slice() {
        [] => WorkloadKind::ALL
            .map(|k| format!("{}\tTYPE, or {}/NAME", k.singular(), k.singular()))
            .to_vec(),
        // TYPE NAME: the names of that TYPE.
        [kind] if type_name_form => names_of(line, kind, "").await,
        // After the workload, diff takes revisions, FROM and TO.
        _ if sub == "diff" => match named(line) {
            Some(target) => revisions(line, &target).await,
            None => Vec::new(),
        },
        // history TYPE NAME NAME..., log TYPE NAME NAME...
        [kind, ..] if matches!(sub, "history" | "log") && type_name_form => {
            names_of(line, kind, "").await
        }
        _ => Vec::new(),
    };
    (candidates, NO_FILES)
}

async fn names_of(line: &Line, kind: &str, prefix: &str) -> Vec<String> {
    match kind.parse::<WorkloadKind>() {
        Ok(kind) => names(line, kind, prefix).await,
        Err(_) => Vec::new(),
    }
}

/// Connects as the command line would; no candidates when it cannot.
async fn connect(line: &Line) -> Option<Cluster> {
    let argv = ["kubectl-gitrollout".to_owned()]
        .into_iter()
        .chain(line.global.iter().cloned())
        .chain(["version".to_owned()]);
    let cli = Cli::try_parse_from(argv).ok()?;
    client::connect(&cli.global).await.ok()
}

/// `PREFIX` + the name of each workload of `kind` in the namespace: one LIST.
async fn names(line: &Line, kind: WorkloadKind, prefix: &str) -> Vec<String> {
    let Some(cluster) = connect(line).await else {
        return Vec::new();
    };
    let names = match kind {
        WorkloadKind::Deployment => list_names(cluster.api::<Deployment>()).await,
        WorkloadKind::StatefulSet => list_names(cluster.api::<StatefulSet>()).await,
        WorkloadKind::DaemonSet => list_names(cluster.api::<DaemonSet>()).await,
    };
    names.into_iter().map(|n| format!("{prefix}{n}")).collect()
}

/// The names of the objects `api` lists: one LIST of their metadata; none when it fails.
async fn list_names<K>(api: Api<K>) -> Vec<String>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    match api.list_metadata(&ListParams::default()).await {
        Ok(list) => list
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The namespaces of the cluster: one LIST.
async fn namespaces(line: &Line) -> Vec<String> {
    let Some(cluster) = connect(line).await else {
        return Vec::new();
    };
    list_names(Api::<Namespace>::all(cluster.client.clone())).await
}

/// The revision numbers of a workload, newest first, each with its images.
async fn revisions(line: &Line, target: &WorkloadRef) -> Vec<String> {
    let Some(cluster) = connect(line).await else {
        return Vec::new();
    };
    let Ok((workload, owned)) = workload::fetch(&cluster, target).await else {
        return Vec::new();
    };
    describe(&workload.history(owned))
}

fn describe(history: &History) -> Vec<String> {
    history
        .revisions
        .iter()
        .rev()
        .map(|r| {
            let images: Vec<String> = r.containers().iter().map(|c| c.image.clone()).collect();
            let current = if history.current == Some(r.number) {
                " (current)"
            } else {
                ""
            };
            format!("{}\t{}{current}", r.number, images.join(","))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(words: &str) -> Line {
        let words: Vec<String> = words.split_whitespace().map(String::from).collect();
        read_line(&words)
    }

    #[test]
    fn reads_the_words_as_the_command_would() {
        let read = line("-n prod --insecure-skip-tls-verify history -o yaml deploy/a --as=x");
        assert_eq!(read.subcommand.as_deref(), Some("history"));
        assert_eq!(read.positionals, ["deploy/a"]);
        assert_eq!(
            read.global,
            ["-n", "prod", "--insecure-skip-tls-verify", "--as=x"]
        );
        assert_eq!(read.pending_flag, None);
        assert_eq!(
            line("diff deploy/a -2 -1").positionals,
            ["deploy/a", "-2", "-1"]
        );
        let read = line("history deploy/a --revision");
        assert_eq!(read.pending_flag.as_deref(), Some("--revision"));
        let read = line("-v 6 --context");
        assert_eq!(read.pending_flag.as_deref(), Some("--context"));
        assert_eq!(read.global, ["-v", "6"]);
    }
}
