//! The command line, as kubectl users expect it: kubectl's global flags, `TYPE/NAME` or
//! `TYPE NAME`, and `--help` with examples.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use rollout_core::{RevisionSpec, WorkloadKind};

use crate::UsageError;
use crate::commands::{apply, completion, diff, history, log, record, revert};
use crate::complete;
use crate::hints::Hint;
use crate::identity::IdentityArgs;
use crate::jsonpath::JsonPathTemplate;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-gitrollout",
    bin_name = "kubectl gitrollout",
    version,
    about = "A rollout history for Deployments, StatefulSets and DaemonSets that behaves like git",
    after_help = "Examples:
  # Every revision of a Deployment, with age, images and cause
  kubectl gitrollout history deployment/team-app

  # One revision in full, with its diff against the one before
  kubectl gitrollout history deployment/team-app --revision 2

  # What changed between the previous revision and the current one
  kubectl gitrollout diff deployment/team-app"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's global flags, spelled as kubectl spells them, listed under their own heading.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Path to the kubeconfig file to use
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The name of the kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace of the workload (default: the context's namespace)
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE", value_parser = parse_namespace)]
    pub namespace: Option<String>,
    /// How long to wait for one API request (0: no limit), e.g. 1s, 2m, 3h
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_timeout)]
    pub request_timeout: Option<Duration>,
    /// Log level; 6 or more logs every API request to stderr
    #[arg(
        short = 'v',
        long = "v",
        global = true,
        value_name = "LEVEL",
        default_value_t = 0
    )]
    pub verbosity: u8,
    /// Never colour the output (also: the NO_COLOR variable)
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a workload's revisions, or show one in full
    #[command(after_help = "Examples:
  kubectl gitrollout history deployment/team-app
  kubectl gitrollout history sts team-db -o wide
  kubectl gitrollout history ds/team-agent --revision 2
  kubectl gitrollout history deploy/team-app -o json | jq '.revisions[].containers'
  # The revision before the current one, in full
  kubectl gitrollout history deploy/team-app --revision -1
  # Several workloads; every Deployment labelled tier=web; every StatefulSet in the cluster
  kubectl gitrollout history deploy/team-app sts/team-db
  kubectl gitrollout history deploy -l tier=web
  kubectl gitrollout history sts -A
  # The current revision of each, for scripts
  kubectl gitrollout history deploy -l tier=web \\
    -o jsonpath='{range .items[*]}{.name} {.currentRevision}{\"\\n\"}{end}'")]
    History(history::HistoryArgs),
    /// What changed, across workloads: every revision in time order, newest first
    #[command(after_help = "Examples:
  # Every revision made in the namespace in the last 24 hours, newest first
  kubectl gitrollout log
  # The last two hours, anywhere in the cluster, near payments
  kubectl gitrollout log -A --since 2h -l team=payments
  # Deployments and StatefulSets since a given time, with commits from the manifests' repository
  kubectl gitrollout log deploy,sts --since-time 2026-01-02T01:00:00Z --repo ~/src/manifests
  # Two workloads, then every new revision as it is made
  kubectl gitrollout log deploy/team-app sts/team-db -w
  kubectl gitrollout log -o json | jq '.items[] | select(.by == \"kubectl-set\")'

Then look at a revision in full, and undo it:
  kubectl gitrollout history deploy/team-app --revision 7
  kubectl gitrollout revert deploy/team-app --to-revision 6 --dry-run")]
    Log(log::LogArgs),
    /// Show what changed in the pod template between two revisions
    #[command(after_help = "Examples:
  # The previous revision against the current one
  kubectl gitrollout diff deployment/team-app
  # Revision 2 against the current one
  kubectl gitrollout diff deployment/team-app 2
  # Revision 1 against revision 3
  kubectl gitrollout diff statefulset team-db 1 3
  # The two revisions before the current one, of two workloads
  kubectl gitrollout diff deploy team-app team-web -2 -1
  # In a script: exit 1 when the revisions differ
  kubectl gitrollout diff deploy/team-app 2 3 --exit-code
  # With a diff tool of your own, as kubectl diff honours it
  KUBECTL_EXTERNAL_DIFF=\"colordiff -u\" kubectl gitrollout diff deploy/team-app")]
    Diff(diff::DiffArgs),
    /// Restore an earlier revision as a new revision, keeping history append-only
    #[command(after_help = "Examples:
  # Back to the revision before the current one
  kubectl gitrollout revert deployment/team-app
  # See what reverting to revision 2 would change, without changing anything
  kubectl gitrollout revert deployment/team-app --to-revision 2 --dry-run
  # Revert, say why, and wait until the rollout completes
  kubectl gitrollout revert deployment/team-app --to-revision 2 -m \"payments fail on 1.18\" --wait

Revision 2 keeps its number: the revert becomes a new revision, marked as a revert of 2.")]
    Revert(revert::RevertArgs),
    /// Apply the manifests of a commit as a new revision of each workload (for CI), git style
    #[command(after_help = "Examples:
  # In CI, after each commit: the manifests at the checked-out commit
  kubectl gitrollout apply -f deploy/ --commit HEAD --wait
  # A kustomize overlay
  kubectl gitrollout apply -k overlays/prod --commit HEAD
  # What it would do: each workload's diff and the revision it would make
  kubectl gitrollout apply -f deploy/app.yaml --commit HEAD --dry-run

A workload whose template equals an older revision's (a `git revert`) becomes a new revision
marked as a revert of it: no revision is renumbered. The commit is recorded on the revision
each workload's apply made.")]
    Apply(apply::ApplyArgs),
    /// Record the commit the current revision was made from (for CI, after it rolls out)
    #[command(after_help = "Examples:
  # In CI, after kubectl apply of the manifests at the checked-out commit
  kubectl gitrollout record deployment/team-app --commit HEAD
  kubectl gitrollout record deployment/team-app --commit v1.18 -m \"release 1.18\"")]
    Record(record::RecordArgs),
    /// Print a shell completion script, or kubectl's for the plugin
    #[command(after_help = "Examples:
  source <(kubectl-gitrollout completion bash)
  kubectl-gitrollout completion zsh > \"${fpath[1]}/_kubectl-gitrollout\"
  # For kubectl gitrollout <TAB>: an executable beside the plugin (here krew's)
  kubectl gitrollout completion kubectl > ~/.krew/bin/kubectl_complete-gitrollout
  chmod +x ~/.krew/bin/kubectl_complete-gitrollout")]
    Completion(completion::CompletionArgs),
    /// Print the version of kubectl-gitrollout
    Version,
    /// Completion for kubectl: `kubectl_complete-gitrollout` calls it with the words typed
    #[command(name = "__complete", hide = true)]
    Complete(complete::CompleteArgs),
}

/// The command line as clap should read it: after `__complete`, every word is one typed by the
/// user, to complete, and never a flag of this invocation.
pub fn argv(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "__complete") {
        args.insert(2, "--".into());
    }
    args
}

/// The manifests' repository, spelled the same for every command that reads git.
#[derive(Debug, Args)]
pub struct RepoArgs {
    /// The git repository of the manifests (default: the one around the current directory)
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

/// The repository and the workload's manifest in it, to map revisions to commits.
#[derive(Debug, Args)]
pub struct GitArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The workload's manifest in the repository, to match revisions to commits by content
    #[arg(long, value_name = "FILE")]
    pub path: Option<PathBuf>,
}

/// `-o`: how a result is printed, as kubectl's `-o` where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Table,
    Wide,
    Json,
    Yaml,
    /// `deployment.apps/team-app`, one line per workload.
    Name,
    /// `jsonpath=TEMPLATE`, over the `-o json` document.
    JsonPath(JsonPathTemplate),
}

/// Every `-o` value, for `--help` and errors.
pub const OUTPUTS: &str = "table, wide, json, yaml, name, jsonpath=TEMPLATE";

/// Parses `-o`: a format name, or `jsonpath=TEMPLATE` (also `jsonpath='{...}'`).
pub fn parse_output(s: &str) -> Result<Output, String> {
    if let Some(template) = s.strip_prefix("jsonpath=") {
        return JsonPathTemplate::parse(template).map(Output::JsonPath);
    }
    Ok(match s {
        "table" => Output::Table,
        "wide" => Output::Wide,
        "json" => Output::Json,
        "yaml" => Output::Yaml,
        "name" => Output::Name,
        "jsonpath" => {
            return Err("jsonpath needs a template: -o jsonpath='{.revisions[*].revision}'".into());
        }
        _ => return Err(format!("unknown output format {s:?}: use one of {OUTPUTS}")),
    })
}

/// A workload named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    pub name: String,
}

/// `deployment.apps/team-app`, as kubectl names what it changed.
impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// Splits `TYPE/NAME [rest...]` or `TYPE NAME [rest...]` into the workload and the rest.
pub fn split_workload(args: &[String]) -> Result<(WorkloadRef, &[String]), UsageError> {
    let (kind, name, rest) = match args {
        [first, rest @ ..] if first.contains('/') => {
            let (kind, name) = first.split_once('/').unwrap_or_default();
            (kind, name, rest)
        }
        [kind, name, rest @ ..] => (kind.as_str(), name.as_str(), rest),
        _ => {
            return Err(UsageError::new(
                "name the workload as TYPE/NAME or TYPE NAME, e.g. deployment/team-app",
            ));
        }
    };
    let kind: WorkloadKind = kind
        .parse()
        .map_err(|e: rollout_core::UnknownKind| UsageError::new(e.to_string()))?;
    if !valid_name(kind, name) {
        return Err(UsageError::new(format!(
            "{name:?} is not a {} name: {}; name the workload as TYPE/NAME, e.g. {}/team-app",
            kind.singular(),
            name_rule(kind),
            kind.singular()
        )));
    }
    let workload = WorkloadRef {
        kind,
        name: name.to_owned(),
    };
    Ok((workload, rest))
}

/// Whether `name` is one the API server accepts for `kind`, checked before any request so that
/// nothing the user did not name reaches a URL. Deployments and DaemonSets take DNS-1123
/// subdomains, StatefulSets DNS-1123 labels (their pods' hostnames), as the kube-apiserver
/// v1.36 validates them; such names hold only `[a-z0-9.-]` and need no escaping in a path.
pub fn valid_name(kind: WorkloadKind, name: &str) -> bool {
    match kind {
        WorkloadKind::StatefulSet => is_dns1123_label(name),
        WorkloadKind::Deployment | WorkloadKind::DaemonSet => {
            name.len() <= 253 && name.split('.').all(is_dns1123_label)
        }
    }
}

fn name_rule(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::StatefulSet => {
            "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        }
        WorkloadKind::Deployment | WorkloadKind::DaemonSet => {
            "at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter \
             or digit"
        }
    }
}

/// A DNS-1123 label: 1 to 63 lowercase letters, digits and `-`, not starting or ending with `-`.
fn is_dns1123_label(s: &str) -> bool {
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = s.as_bytes();
    matches!((bytes.first(), bytes.last()), (Some(&a), Some(&z)) if ok(a) && ok(z))
        && bytes.len() <= 63
        && bytes.iter().all(|&c| ok(c) || c == b'-')
}

/// A namespace as `-n` takes it: a DNS-1123 label, checked before any request.
pub fn parse_namespace(s: &str) -> Result<String, String> {
    if is_dns1123_label(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a namespace name: at most 63 lowercase letters, digits and '-', \
             starting and ending with a letter or digit"
        ))
    }
}

/// A revision: a positive number, or a negative one counting back from the current revision
/// (`-1` is the one before it).
pub fn parse_revision(s: &str) -> Result<RevisionSpec, String> {
    s.parse()
        .map_err(|e| format!("{e}; list them with `kubectl gitrollout history`"))
}

/// A revision to restore: as [`parse_revision`], and `0` for the one before the current one, as
/// `kubectl rollout undo --to-revision 0`.
pub fn parse_to_revision(s: &str) -> Result<RevisionSpec, String> {
    match s {
        "0" => Ok(RevisionSpec::BeforeCurrent(1)),
        _ => parse_revision(s),
    }
}

/// The one workload `revert` and `record` act on: more is bad usage, never ignored.
pub fn one_workload(args: &[String], command: &'static str) -> Result<WorkloadRef, UsageError> {
    let (workload, rest) = split_workload(args)?;
    if !rest.is_empty() {
        return Err(UsageError {
            message: format!(
                "{command} acts on exactly one workload, and {} named more ({})",
                args.join(" "),
                rest.join(" ")
            ),
            hint: Some(Hint::OncePerWorkload { command }),
        });
    }
    Ok(workload)
}

/// The longest duration a flag takes: Go's `time.Duration`, which kubectl parses durations
/// into, holds at most 2^63 - 1 nanoseconds (about 292 years).
const MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// A duration as kubectl's `--request-timeout` takes it: a bare number of seconds, or what Go's
/// `time.ParseDuration` reads, numbers (fractions too) with units, one or several: `30s`,
/// `1.5s`, `500ms`, `1m30s`, `.5h`, `100us`. `0` means no limit. One too long for kubectl is
/// refused, never wrapped.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration: use e.g. 30s, 1.5s, 2m or 1h (0 for no limit)");
    let too_long = || format!("{s:?} is too long a duration: the most is 2562047h");
    if let Ok(seconds) = s.parse::<u64>() {
        let duration = Duration::from_secs(seconds);
        return (duration <= MAX_DURATION)
            .then_some(duration)
            .ok_or_else(too_long);
    }
    let mut nanos: u128 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let (part, after) = duration_part(rest).ok_or_else(bad)?;
        nanos = nanos
            .checked_add(part.ok_or_else(too_long)?)
            .ok_or_else(too_long)?;
        rest = after;
    }
    u64::try_from(nanos)
        .ok()
        .map(Duration::from_nanos)
        .filter(|d| *d <= MAX_DURATION)
        .ok_or_else(too_long)
}

/// One `<number>[.<fraction>]<unit>` at the start of `text`, in nanoseconds (`None` when too
/// large), and the rest of the text; `None` when it is not one.
fn duration_part(text: &str) -> Option<(Option<u128>, &str)> {
    let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let whole_len = digits(text);
    let (whole, rest) = text.split_at(whole_len);
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(digits(after)),
        None => ("", rest),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let unit_len = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_len);
    let per_unit: u128 = match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    let whole = if whole.is_empty() {
        Some(0)
    } else {
        whole.parse::<u128>().ok()
    };
    // Digits of the fraction beyond what a nanosecond resolves are dropped, as Go drops them;
    // 20 are more than any unit needs, and few enough that nothing below overflows.
    let mut fraction_nanos: u128 = 0;
    let mut scale: u128 = 1;
    for digit in fraction.bytes().take(20) {
        fraction_nanos = fraction_nanos * 10 + u128::from(digit - b'0');
        scale *= 10;
    }
    let value = whole
        .and_then(|w| w.checked_mul(per_unit))
        .and_then(|v| v.checked_add(fraction_nanos * per_unit / scale));
    Some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &str) -> Vec<String> {
        words.split_whitespace().map(String::from).collect()
    }

    fn check(words: &str, expect: Result<(WorkloadKind, &str, &str), &str>) {
        let args = args(words);
        let got = split_workload(&args)
            .map(|(w, rest)| (w.kind, w.name, rest.join(" ")))
            .map_err(|e| e.message);
        let expect = expect
            .map(|(k, n, r)| (k, n.to_owned(), r.to_owned()))
            .map_err(String::from);
        assert_eq!(got, expect, "{words}");
    }

    #[test]
    fn splits_both_workload_forms() {
        use WorkloadKind::*;
        check("deployment/team-app", Ok((Deployment, "team-app", "")));
        check("deploy team-app", Ok((Deployment, "team-app", "")));
        check("sts/db 1 3", Ok((StatefulSet, "db", "1 3")));
        check("daemonset.apps agent 2", Ok((DaemonSet, "agent", "2")));
        check(
            "pods/x",
            Err(
                "unknown workload type \"pods\": use deployment (deploy), statefulset (sts) or \
                 daemonset (ds)",
            ),
        );
        check(
            "deployment",
            Err("name the workload as TYPE/NAME or TYPE NAME, e.g. deployment/team-app"),
        );
        check(
            "deployment/",
            Err(
                "\"\" is not a deployment name: at most 253 lowercase letters, digits, '-' and \
                 '.', starting and ending with a letter or digit; name the workload as TYPE/NAME, \
                 e.g. deployment/team-app",
            ),
        );
    }

    #[test]
    fn names_are_checked_before_any_request() {
        use WorkloadKind::*;
        for (kind, name) in [
            (Deployment, "team-app"),
            (Deployment, "a.b-1"),
            (DaemonSet, "x"),
        ] {
            assert!(valid_name(kind, name), "{name}");
        }
        let long = "a".repeat(254);
        for name in [
            "app?labelSelector=zz",
            "app?dryRun=All&x=",
            "team app",
            "a#b",
            "a/b",
            "App",
            "-a",
            "a-",
            "a..b",
            "",
            &long,
        ] {
            assert!(!valid_name(Deployment, name), "{name}");
        }
        assert!(!valid_name(StatefulSet, "a.b"));
        assert!(!valid_name(StatefulSet, &"a".repeat(64)));
        assert!(valid_name(Deployment, &"a".repeat(63)));
        assert_eq!(parse_namespace("team-1"), Ok("team-1".into()));
        assert!(parse_namespace("Team").is_err());
        assert!(parse_namespace("a.b").is_err());
    }

    #[test]
    fn revisions_are_numbers_or_counts_back() {
        assert_eq!(parse_revision("3"), Ok(RevisionSpec::Number(3)));
        assert_eq!(parse_revision("-2"), Ok(RevisionSpec::BeforeCurrent(2)));
        assert_eq!(parse_to_revision("0"), Ok(RevisionSpec::BeforeCurrent(1)));
        for bad in ["0", "two", "1.5", ""] {
            assert!(parse_revision(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn revert_and_record_take_one_workload() {
        assert!(one_workload(&args("deploy/a"), "revert").is_ok());
        assert!(one_workload(&args("deploy a"), "revert").is_ok());
        let err = one_workload(&args("deploy/a deploy/b"), "revert").unwrap_err();
        assert!(
            err.message
                .starts_with("revert acts on exactly one workload"),
            "{}",
            err.message
        );
    }

    #[test]
    fn outputs_are_kubectl_s() {
        assert_eq!(parse_output("wide"), Ok(Output::Wide));
        assert_eq!(parse_output("name"), Ok(Output::Name));
        assert!(matches!(
            parse_output("jsonpath={.name}"),
            Ok(Output::JsonPath(_))
        ));
        assert!(parse_output("jsonpath").is_err());
        assert!(parse_output("jsonpath={.name").is_err());
        assert!(parse_output("custom-columns=A:.a").is_err());
    }

    #[test]
    fn timeouts_read_as_kubectl_reads_them() {
        assert_eq!(parse_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_timeout("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_timeout("2h"), Ok(Duration::from_secs(7200)));
        // Fractions and small units, as Go's time.ParseDuration reads them for kubectl.
        assert_eq!(parse_timeout("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("1.s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_timeout("0.25m"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_timeout("1h0.5m"), Ok(Duration::from_secs(3630)));
        assert_eq!(parse_timeout("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_timeout("100\u{b5}s"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_timeout("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_timeout("1.0000000001s"), Ok(Duration::from_secs(1)));
        for bad in [
            "s", "5x", "m5", "", ".s", "1..5s", "-1s", "1.5", "5 s", "1e3s",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_too_long_for_kubectl_are_refused_not_wrapped() {
        assert_eq!(
            parse_timeout("2562047h"),
            Ok(Duration::from_secs(2562047 * 3600))
        );
        for long in [
            "18446744073709551615",
            "9999999999999999999h",
            "99999999999999999999s",
            "2562048h",
            "5124094h5124094h",
        ] {
            let err = parse_timeout(long).unwrap_err();
            assert!(err.contains("too long a duration"), "{long}: {err}");
        }
    }

    proptest::proptest! {
        // Whatever is typed, the parsers answer; none panics, and what they accept is sound.
        #[test]
        fn no_workload_reference_panics(words in proptest::collection::vec(".{0,300}", 0..4)) {
            if let Ok((workload, _)) = split_workload(&words) {
                proptest::prop_assert!(valid_name(workload.kind, &workload.name));
                let safe = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
                proptest::prop_assert!(workload.name.chars().all(safe));
            }
        }

        #[test]
        fn no_duration_panics(text in "[0-9hmsun.]{0,40}|.{0,40}") {
            if let Ok(duration) = parse_timeout(&text) {
                proptest::prop_assert!(duration <= MAX_DURATION);
            }
        }

        #[test]
        fn durations_add_up(h in 0u64..100_000, m in 0u64..100_000, s in 0u64..100_000) {
            let text = format!("{h}h{m}m{s}s");
            let seconds = h * 3600 + m * 60 + s;
            proptest::prop_assert_eq!(parse_timeout(&text), Ok(Duration::from_secs(seconds)));
        }

        #[test]
        fn no_revision_or_namespace_panics(text in ".{0,80}") {
            match parse_revision(&text) {
                Ok(RevisionSpec::Number(n) | RevisionSpec::BeforeCurrent(n)) => {
                    proptest::prop_assert!(n > 0);
                }
                Err(_) => {}
            }
            if let Ok(namespace) = parse_namespace(&text) {
                proptest::prop_assert!(namespace.len() <= 63);
            }
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
