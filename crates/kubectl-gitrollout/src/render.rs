//! Rendering histories and diffs to any `Write`. Never prints and never reads the clock itself:
//! `now` comes from the caller.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};

use jiff::Timestamp;
use rollout_core::change::summary;
use rollout_core::log::{Entry, Image};
use rollout_core::{
    Change, ConfigDiff, Conflict, Container, DeployedBy, History, Made, Match, Reference, Restored,
    Revision, TemplateDiff, diff_templates, human_age, references,
};
use rollout_git::MappedCommit;
use serde::Serialize;
use serde_json::Value;
use tabwriter::TabWriter;

use crate::commands::apply::{Applied, ObjectOutcome};
use crate::commands::record::RecordOutcome;
use crate::commands::revert::{GitOutcome, RevertOutcome};
use crate::listing::TableStyle;
use crate::ui::Ui;

/// The commit of each revision that has one, by revision number.
pub type Commits = BTreeMap<u64, MappedCommit>;

/// The `-o json` / `-o yaml` document of a history. Field names are a stable contract.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryDoc {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub current_revision: Option<u64>,
    pub revisions: Vec<RevisionDoc>,
}

/// One revision in `-o json` / `-o yaml`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionDoc {
    pub revision: u64,
    /// RFC 3339.
    pub created_at: Option<String>,
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
    /// The ConfigMaps and Secrets the pod template reads, by kind and name.
    pub references: Vec<Reference>,
    /// Those whose content changed (or that are gone) since the revision was applied or
    /// recorded, by name.
    pub config_changed: Vec<String>,
    pub change_cause: Option<String>,
    /// Whether the cause is the previous revision's, copied rather than written for this one.
    pub change_cause_inherited: bool,
    /// What this revision changed against the previous existing one; empty for the first.
    pub changes: Vec<Change>,
    /// One line made from `changes`; null for the first revision.
    pub summary: Option<String>,
    /// The revision this one restored, when `revert` made it (not when it inherited the markers).
    pub revert_of: Option<u64>,
    /// The revision whose change this one undid, when `revert --change` made it.
    pub reverted_change: Option<u64>,
    /// The commit this revision was made from, when known.
    pub commit: Option<CommitDoc>,
    /// The tool that deployed it (Helm, Argo CD, Flux, a CI action), from that tool's records,
    /// and how sure that is; null when none is known.
    pub deployed_by: Option<DeployedBy>,
    pub current: bool,
    /// Numbers this revision had before the controller re-used it (`kubectl rollout undo`).
    pub earlier_revisions: Vec<u64>,
    /// Commits recorded on it under those earlier numbers, oldest first.
    pub earlier_commits: Vec<EarlierCommitDoc>,
    /// The ReplicaSet or ControllerRevision that keeps it.
    pub object: ObjectDoc,
    /// Pods the ReplicaSet runs; null for ControllerRevisions.
    pub pods: Option<i32>,
    /// The pod template, in `--revision N` output only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<Value>,
}

/// A revision's commit in `-o json` / `-o yaml`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitDoc {
    /// The full 40-digit SHA.
    pub sha: String,
    pub short_sha: String,
    /// Where it was found: `recorded`, `annotation KEY`, `label KEY`, `image IMAGE`,
    /// `manifest PATH`.
    pub source: String,
    /// Subject, author and date, when a repository is at hand.
    pub subject: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
}

impl CommitDoc {
    fn new(commit: &MappedCommit) -> Self {
        let info = commit.info.as_ref();
        CommitDoc {
            sha: commit.sha.clone(),
            short_sha: commit.sha[..7.min(commit.sha.len())].to_owned(),
            source: commit.source.to_string(),
            subject: info.map(|i| i.subject.clone()),
            author: info.map(|i| i.author.clone()),
            date: info.map(|i| i.time.to_string()),
        }
    }
}

/// A commit recorded on a revision under a number it had before it was renumbered.
#[derive(Debug, Serialize)]
pub struct EarlierCommitDoc {
    pub revision: u64,
    /// The full 40-digit SHA.
    pub sha: String,
}

#[derive(Debug, Serialize)]
pub struct ObjectDoc {
    pub kind: &'static str,
    pub name: String,
}

impl HistoryDoc {
    pub fn new(history: &History, commits: &Commits) -> Self {
        HistoryDoc {
            kind: history.kind.kind(),
            namespace: history.namespace.clone(),
            name: history.name.clone(),
            current_revision: history.current,
            revisions: history
                .revisions
                .iter()
                .map(|r| RevisionDoc::new(history, commits, r, false))
                .collect(),
        }
    }
}

impl RevisionDoc {
    pub fn new(
        history: &History,
        commits: &Commits,
        revision: &Revision,
        with_template: bool,
    ) -> Self {
        let changes = history.changes(revision);
        RevisionDoc {
            revision: revision.number,
            created_at: revision.created_at.map(|t| t.to_string()),
            containers: revision.containers(),
            init_containers: revision.init_containers(),
            references: references(&revision.template),
            config_changed: history.config_changed(revision),
            change_cause: revision.change_cause.clone(),
            change_cause_inherited: history.change_cause_inherited(revision),
            summary: changes.as_deref().map(summary),
            changes: changes.unwrap_or_default(),
            revert_of: history.revert_of(revision),
            reverted_change: history.reverted_change(revision),
            commit: commits.get(&revision.number).map(CommitDoc::new),
            deployed_by: history.deployed.get(&revision.number).cloned(),
            current: history.current == Some(revision.number),
            earlier_revisions: revision.earlier_numbers.clone(),
            earlier_commits: rollout_git::earlier_commits(revision)
                .into_iter()
                .map(|(revision, sha)| EarlierCommitDoc { revision, sha })
                .collect(),
            object: ObjectDoc {
                kind: history.kind.history_kind(),
                name: revision.object.clone(),
            },
            pods: revision.pods,
            template: with_template.then(|| revision.template.clone()),
        }
    }
}

/// One revision on `log`'s timeline, with the commit it was made from when known.
#[derive(Debug, Clone)]
pub struct LogItem {
    pub entry: Entry,
    pub commit: Option<MappedCommit>,
}

/// The `-o json` / `-o yaml` document of `log`: every revision shown, newest first. Field names
/// are a stable contract.
#[derive(Debug, Serialize)]
pub struct LogDoc {
    pub kind: &'static str,
    pub items: Vec<LogEntryDoc>,
}

/// One revision in `log -o json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntryDoc {
    /// RFC 3339: when the revision's object was made.
    pub time: Option<String>,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub revision: u64,
    pub images: Vec<Image>,
    /// The images that differ from the previous existing revision's; all of them for the first.
    pub changed_images: Vec<Image>,
    pub commit: Option<CommitDoc>,
    /// The field manager that made the revision, when that can be told.
    pub by: Option<String>,
    pub change_cause: Option<String>,
    pub change_cause_inherited: bool,
    pub summary: Option<String>,
    pub revert_of: Option<u64>,
    pub reverted_change: Option<u64>,
    pub current: bool,
    pub object: ObjectDoc,
}

impl LogDoc {
    pub fn new(items: &[LogItem]) -> Self {
        LogDoc {
            kind: "List",
            items: items.iter().map(LogEntryDoc::new).collect(),
        }
    }
}

impl LogEntryDoc {
    fn new(item: &LogItem) -> Self {
        let entry = &item.entry;
        LogEntryDoc {
            time: entry.time.map(|t| t.to_string()),
            kind: entry.kind.kind(),
            namespace: entry.namespace.clone(),
            name: entry.name.clone(),
            revision: entry.revision,
            images: entry.images.clone(),
            changed_images: entry.changed_images.clone(),
            commit: item.commit.as_ref().map(CommitDoc::new),
            by: entry.by.clone(),
            change_cause: entry.change_cause.clone(),
            change_cause_inherited: entry.change_cause_inherited,
            summary: entry.summary.clone(),
            revert_of: entry.revert_of,
            reverted_change: entry.reverted_change,
            current: entry.current,
            object: ObjectDoc {
                kind: entry.kind.history_kind(),
                name: entry.object.clone(),
            },
        }
    }
}

/// `log`'s table, newest first: AGE, WORKLOAD, REVISION, the images it changed, COMMIT, BY and
/// CHANGE-CAUSE, after NAMESPACE for `-A`; `wide` adds the time, the object, and full images.
pub fn log_table(
    out: &mut dyn Write,
    items: &[LogItem],
    now: Timestamp,
    style: TableStyle,
) -> io::Result<()> {
    let mut tw = TabWriter::new(out).padding(3);
    if style.headers {
        if style.namespaces {
            write!(tw, "NAMESPACE\t")?;
        }
        write!(
            tw,
            "AGE\tWORKLOAD\tREVISION\tIMAGES\tCOMMIT\tBY\tCHANGE-CAUSE"
        )?;
        if style.wide {
            write!(tw, "\tTIME\tOBJECT")?;
        }
        writeln!(tw)?;
    }
    for item in items {
        writeln!(tw, "{}", log_row(item, now, style).join("\t"))?;
    }
    tw.flush()
}

/// The cells of one `log` row. Text from the cluster is escaped.
fn log_row(item: &LogItem, now: Timestamp, style: TableStyle) -> Vec<String> {
    let entry = &item.entry;
    let image = |i: &Image| {
        let text = match style.wide {
            true => format!("{}={}", i.name, i.image),
            false => short_image(&i.image),
        };
        if i.init { format!("init:{text}") } else { text }
    };
    let images: Vec<String> = entry.changed_images.iter().map(image).collect();
    let images = match images.is_empty() {
        true => "-".to_owned(),
        false => escape(&images.join(",")).into_owned(),
    };
    let mut cells = Vec::with_capacity(10);
    if style.namespaces {
        cells.push(entry.namespace.clone());
    }
    cells.extend([
        entry
            .time
            .map_or("<unknown>".to_owned(), |t| human_age(t, now)),
        entry.workload(),
        entry_number(entry),
        images,
        item.commit
            .as_ref()
            .map_or("-".to_owned(), |c| c.sha[..7.min(c.sha.len())].to_owned()),
        entry
            .by
            .as_deref()
            .map_or("-".to_owned(), |b| escape(b).into_owned()),
        entry_cause(entry),
    ]);
    if style.wide {
        cells.push(entry.time.map_or("-".to_owned(), |t| t.to_string()));
        cells.push(escape(&entry.object).into_owned());
    }
    cells
}

/// `-o name` of `log`: the object of each revision, `replicaset.apps/team-app-5d4f8c7b9`.
pub fn log_names(out: &mut dyn Write, items: &[LogItem]) -> io::Result<()> {
    for item in items {
        let kind = item.entry.kind.history_kind().to_lowercase();
        writeln!(out, "{kind}.apps/{}", escape(&item.entry.object))?;
    }
    Ok(())
}

/// A revision's number with its origin, as [`number_with_origin`] writes it, and `*` for the
/// current revision.
fn entry_number(entry: &Entry) -> String {
    let mut text = entry.revision.to_string();
    if entry.current {
        text += "*";
    }
    if !entry.earlier_revisions.is_empty() {
        text += &format!(" (was {})", numbers(&entry.earlier_revisions));
    }
    if let Some(restored) = entry.revert_of {
        text += &format!(" (revert of {restored})");
    }
    if let Some(reverted) = entry.reverted_change {
        text += &format!(" (revert of change {reverted})");
    }
    text
}

/// The cause written for the revision, or its computed summary, as [`cause`] shows it.
fn entry_cause(entry: &Entry) -> String {
    if let Some(cause) = entry.own_change_cause() {
        return escape(cause).into_owned();
    }
    match &entry.summary {
        Some(summary) => format!("{COMPUTED} {}", escape(summary)),
        None => "<none>".to_owned(),
    }
}

/// Writes a document as pretty JSON or as YAML that reads back equal to the JSON, whether the
/// reader speaks YAML 1.1 or 1.2 (see [`rollout_core::yaml`]).
pub fn document(out: &mut dyn Write, doc: &impl Serialize, yaml: bool) -> io::Result<()> {
    if yaml {
        let value = serde_json::to_value(doc).map_err(io::Error::other)?;
        out.write_all(rollout_core::yaml::to_yaml(&value).as_bytes())
    } else {
        serde_json::to_writer_pretty(&mut *out, doc)?;
        writeln!(out)
    }
}

/// The history as a table, kubectl style; `wide` adds full images, the object and its pods.
pub fn table(
    out: &mut dyn Write,
    history: &History,
    commits: &Commits,
    now: Timestamp,
    wide: bool,
) -> io::Result<()> {
    let mut tw = TabWriter::new(out).padding(3);
    write!(tw, "CURRENT\tREVISION\tAGE\tIMAGES\tCOMMIT\tCHANGE-CAUSE")?;
    if wide {
        write!(tw, "\t{}\tPODS", history.kind.history_kind().to_uppercase())?;
    }
    writeln!(tw)?;
    for revision in &history.revisions {
        writeln!(
            tw,
            "{}",
            row(history, commits, revision, now, wide).join("\t")
        )?;
    }
    tw.flush()
}

/// The cells of one revision's table row: CURRENT, REVISION, AGE, IMAGES, COMMIT, CHANGE-CAUSE,
/// and with `wide` the object and its pods. Text from the cluster is escaped.
pub(crate) fn row(
    history: &History,
    commits: &Commits,
    revision: &Revision,
    now: Timestamp,
    wide: bool,
) -> Vec<String> {
    let current = if history.current == Some(revision.number) {
        "*"
    } else {
        ""
    };
    let image = |c: &Container| {
        if wide {
            c.to_string()
        } else {
            short_image(&c.image)
        }
    };
    let init = revision.init_containers();
    let images: Vec<String> = init
        .iter()
        .map(|c| format!("init:{}", image(c)))
        .chain(revision.containers().iter().map(image))
        .collect();
    // Where no commit is known, the tool's own revision: `helm web 3`.
    let commit = match (
        commits.get(&revision.number),
        history.deployed.get(&revision.number),
    ) {
        (Some(c), _) => c.sha[..7.min(c.sha.len())].to_owned(),
        (None, Some(by)) => escape(&by.short()).into_owned(),
        (None, None) => "-".to_owned(),
    };
    let mut cells = vec![
        current.to_owned(),
        number_with_origin(history, revision),
        age(revision, now),
        escape(&images.join(",")).into_owned(),
        commit,
        cause_with_config(history, revision),
    ];
    if wide {
        cells.push(escape(&revision.object).into_owned());
        cells.push(revision.pods.map_or("-".to_owned(), |p| p.to_string()));
    }
    cells
}

/// One revision in full, like `git show`: metadata, pod template, diff against the previous one.
pub fn show(
    out: &mut dyn Write,
    history: &History,
    commits: &Commits,
    revision: &Revision,
    now: Timestamp,
    color: bool,
) -> io::Result<()> {
    let current = if history.current == Some(revision.number) {
        " (current)"
    } else {
        ""
    };
    writeln!(
        out,
        "revision {}{current} of {} in namespace {}",
        revision.number,
        history.workload(),
        history.namespace
    )?;
    let mut tw = TabWriter::new(&mut *out).padding(2);
    let created = revision.created_at.map_or("-".to_owned(), |t| {
        format!("{t} ({} ago)", human_age(t, now))
    });
    writeln!(tw, "Created:\t{created}")?;
    writeln!(tw, "Change-Cause:\t{}", cause(history, revision))?;
    if let Some(restored) = history.revert_of(revision) {
        writeln!(tw, "Restores:\trevision {restored}")?;
    }
    if let Some(reverted) = history.reverted_change(revision) {
        writeln!(tw, "Reverts:\tthe change of revision {reverted}")?;
    }
    if !revision.earlier_numbers.is_empty() {
        writeln!(
            tw,
            "Earlier:\twas revision {}",
            numbers(&revision.earlier_numbers)
        )?;
    }
    commit_lines(&mut tw, commits.get(&revision.number))?;
    deployed_lines(&mut tw, history.deployed.get(&revision.number))?;
    earlier_commit_lines(&mut tw, revision)?;
    content_lines(&mut tw, history, revision)?;
    let pods = revision
        .pods
        .map_or(String::new(), |p| format!(" ({p} pods)"));
    writeln!(
        tw,
        "{}:\t{}{pods}",
        history.kind.history_kind(),
        escape(&revision.object)
    )?;
    tw.flush()?;

    template_and_diff(out, history, revision, color)
}

/// Who deployed a revision: the tool's object and revision, how sure the match is, and what its
/// record says (chart, app version, status, description, who started the sync).
fn deployed_lines(tw: &mut dyn Write, by: Option<&DeployedBy>) -> io::Result<()> {
    let Some(by) = by else {
        return Ok(());
    };
    let object = match &by.namespace {
        Some(namespace) => format!("{} {namespace}/{}", by.kind, by.name),
        None => by.name.clone(),
    };
    let revision = match &by.revision {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let matched = match by.matched {
        Match::Exact => "exact",
        Match::Window => "by time",
    };
    writeln!(
        tw,
        "Deployed By:\t{} {} revision {} ({matched})",
        by.tool.name(),
        escape(&object),
        escape(&revision)
    )?;
    for (key, value) in &by.details {
        writeln!(tw, "  {key}:\t{}", escape(value))?;
    }
    Ok(())
}

/// What a revision runs: its images, and the ConfigMaps and Secrets it reads.
fn content_lines(tw: &mut dyn Write, history: &History, revision: &Revision) -> io::Result<()> {
    for container in revision.init_containers() {
        writeln!(tw, "Init Image:\t{}", escape(&container.to_string()))?;
    }
    for container in revision.containers() {
        writeln!(tw, "Image:\t{}", escape(&container.to_string()))?;
    }
    let changed = history.config_changed(revision);
    for reference in references(&revision.template) {
        let kind = crate::config::kind_name(reference.kind);
        let mut notes = Vec::new();
        if reference.optional {
            notes.push("optional");
        }
        if changed.contains(&reference.name) {
            notes.push("changed since");
        }
        let notes = match notes.is_empty() {
            true => String::new(),
            false => format!(" ({})", notes.join(", ")),
        };
        writeln!(tw, "Reads:\t{kind}/{}{notes}", escape(&reference.name))?;
    }
    Ok(())
}

/// The pod template of `show`, and its diff against the previous revision.
fn template_and_diff(
    out: &mut dyn Write,
    history: &History,
    revision: &Revision,
    color: bool,
) -> io::Result<()> {
    writeln!(out, "\nPod Template:")?;
    let yaml =
        rollout_core::template::to_yaml(&rollout_core::template::normalize(&revision.template));
    for line in yaml.lines() {
        writeln!(out, "  {}", escape(line))?;
    }
    match history.previous(revision.number) {
        Some(previous) => {
            writeln!(out, "\nDiff against revision {}:", previous.number)?;
            let diff = revision_diff(history, previous, revision);
            if diff.is_empty() {
                writeln!(out, "  (same pod template)")
            } else {
                unified(out, &diff, color)
            }
        }
        None => writeln!(out, "\nNo earlier revision to compare with."),
    }
}

/// The note for stderr when revision `asked` was found under a later number, which
/// `kubectl rollout undo` gave it.
pub fn renumbered(history: &History, asked: u64) -> Option<String> {
    let found = history.find(asked).ok()?;
    let from = found.renumbered_from?;
    Some(format!(
        "revision {from} of {} is now revision {}: `kubectl rollout undo` re-used it",
        history.workload(),
        found.revision.number
    ))
}

/// The `Commit:` line of `show`, with the author and date when a repository is at hand.
fn commit_lines(tw: &mut impl Write, commit: Option<&MappedCommit>) -> io::Result<()> {
    let Some(commit) = commit else {
        return writeln!(tw, "Commit:\t-");
    };
    let subject = commit
        .info
        .as_ref()
        .map_or(String::new(), |i| format!(" {}", escape(&i.subject)));
    let source = commit.source.to_string();
    writeln!(tw, "Commit:\t{}{subject} ({})", commit.sha, escape(&source))?;
    if let Some(info) = &commit.info {
        writeln!(tw, "Author:\t{}", escape(&info.author))?;
        writeln!(tw, "Date:\t{}", info.time)?;
    }
    Ok(())
}

/// The commits recorded on `revision` under numbers it had before it was renumbered.
fn earlier_commit_lines(tw: &mut impl Write, revision: &Revision) -> io::Result<()> {
    for (number, sha) in rollout_git::earlier_commits(revision) {
        writeln!(tw, "Earlier Commit:\t{sha} (recorded as revision {number})")?;
    }
    Ok(())
}

/// The diff between two revisions of a history, labelled with their numbers.
pub fn revision_diff(history: &History, from: &Revision, to: &Revision) -> TemplateDiff {
    let label = |r: &Revision| format!("{} revision {}", history.workload(), r.number);
    diff_templates(&from.template, label(from), &to.template, label(to))
}

/// How the content of a ConfigMap or Secret changed between two revisions: a ConfigMap's data
/// as a unified diff, a Secret's key names alone.
pub fn config_diff(out: &mut dyn Write, change: &ConfigDiff, color: bool) -> io::Result<()> {
    match change {
        ConfigDiff::Data(diff) => unified(out, diff, color),
        ConfigDiff::Keys {
            from,
            to,
            added,
            removed,
            changed,
        } => {
            let parts: Vec<String> = [("changed", changed), ("added", added), ("removed", removed)]
                .into_iter()
                .filter(|(_, keys)| !keys.is_empty())
                .map(|(what, keys)| format!("{what} {}", keys.join(", ")))
                .collect();
            let line = format!("{from} -> {to}: keys {}", parts.join("; "));
            writeln!(out, "{}", escape(&line))
        }
    }
}

/// A unified diff, coloured like `git diff` when `color` is on.
pub fn unified(out: &mut dyn Write, diff: &TemplateDiff, color: bool) -> io::Result<()> {
    for line in diff.unified().lines() {
        let paint = match line.as_bytes().first() {
            _ if !color => None,
            Some(b'+') if line.starts_with("+++") => Some("\x1b[1m"),
            Some(b'-') if line.starts_with("---") => Some("\x1b[1m"),
            Some(b'+') => Some("\x1b[32m"),
            Some(b'-') => Some("\x1b[31m"),
            Some(b'@') => Some("\x1b[36m"),
            _ => None,
        };
        let line = escape(line);
        match paint {
            Some(code) => writeln!(out, "{code}{line}\x1b[0m")?,
            None => writeln!(out, "{line}")?,
        }
    }
    Ok(())
}

/// What a revert did: `deployment.apps/team-app reverted to revision 2 as revision 4`, then what
/// the pod template came from when its revision was pruned, and what `--git` committed.
pub fn revert_outcome(out: &mut dyn Write, outcome: &RevertOutcome) -> io::Result<()> {
    let reverted = match &outcome.target {
        Restored::Change(_) => outcome.target.to_string(),
        target => format!("to {target}"),
    };
    writeln!(
        out,
        "{} reverted {reverted} as revision {}",
        outcome.workload, outcome.revision
    )?;
    if let (Restored::Commit(sha), Some(path)) = (&outcome.target, &outcome.manifest) {
        let short = &sha[..7.min(sha.len())];
        writeln!(
            out,
            "its revision was pruned: the pod template comes from {path} at {short}"
        )?;
    }
    match &outcome.git {
        Some(GitOutcome::Committed { short, subject }) => {
            writeln!(out, "committed {short} {}", escape(subject))
        }
        Some(GitOutcome::Unchanged { path, short }) => {
            writeln!(out, "{path} already matches commit {short}: no commit")
        }
        None => Ok(()),
    }
}

/// What `apply` did to one object, as kubectl says it (`service/team-app unchanged`), and for a
/// workload the revision: `deployment.apps/team-app configured: revision 5 (revert of 2) from
/// commit d5c020c`. A dry run's workload shows its diff first, and says what it would make.
pub fn apply_outcome(out: &mut dyn Write, outcome: &ObjectOutcome, color: bool) -> io::Result<()> {
    let applied = match outcome.applied {
        Applied::Created => "created",
        Applied::Configured => "configured",
        Applied::Unchanged => "unchanged",
    };
    let dry_run = outcome.diff.is_some();
    if let Some(diff) = &outcome.diff {
        unified(out, diff, color)?;
    }
    let dry = if dry_run { " (server dry run)" } else { "" };
    write!(out, "{} {applied}{dry}", outcome.name)?;
    let Some(revision) = &outcome.revision else {
        return writeln!(out);
    };
    let number = revision.number;
    let made = match (revision.made, dry_run) {
        (Made::Current(_), true) => format!("would keep revision {number}"),
        (Made::Current(_), false) => format!("revision {number}, kept"),
        (Made::New, true) => format!("would make revision {number}"),
        (Made::New, false) => format!("revision {number}"),
        (Made::Restores(of), true) => format!("would make revision {number} (revert of {of})"),
        (Made::Restores(of), false) => format!("revision {number} (revert of {of})"),
    };
    match &revision.commit {
        Some(short) => writeln!(out, ": {made} from commit {short}"),
        None => writeln!(out, ": {made}"),
    }
}

/// What `record` did: `deployment.apps/team-app revision 3 recorded as commit 0123456 (subject)`.
pub fn record_outcome(out: &mut dyn Write, outcome: &RecordOutcome) -> io::Result<()> {
    writeln!(
        out,
        "{} revision {} recorded as commit {} ({})",
        outcome.workload,
        outcome.revision,
        outcome.short,
        escape(&outcome.subject)
    )
}

/// The fields of a change that cannot be reverted, each with its three values, as notes before
/// the error that says so.
pub fn conflicts(ui: &mut Ui<'_>, before: u64, at: u64, conflicts: &[Conflict]) -> io::Result<()> {
    let value = |v: &Option<Value>| v.as_ref().map_or("(absent)".to_owned(), Value::to_string);
    for conflict in conflicts {
        ui.note(format_args!(
            "conflict: {}\n  before: {} (revision {before})\n  at:     {} (revision {at})\n  live:   \
             {}",
            conflict.path,
            escape(&value(&conflict.before)),
            escape(&value(&conflict.at)),
            escape(&value(&conflict.live))
        ))?;
    }
    Ok(())
}

/// `4`, `4 (was 2)` for a revision the controller renumbered, `5 (revert of 3)` for one made by
/// `revert`, `6 (revert of change 4)` for one made by `revert --change`.
fn number_with_origin(history: &History, revision: &Revision) -> String {
    let mut text = revision.number.to_string();
    if !revision.earlier_numbers.is_empty() {
        text += &format!(" (was {})", numbers(&revision.earlier_numbers));
    }
    if let Some(restored) = history.revert_of(revision) {
        text += &format!(" (revert of {restored})");
    }
    if let Some(reverted) = history.reverted_change(revision) {
        text += &format!(" (revert of change {reverted})");
    }
    text
}

fn numbers(numbers: &[u64]) -> String {
    let numbers: Vec<String> = numbers.iter().map(u64::to_string).collect();
    numbers.join(", ")
}

fn age(revision: &Revision, now: Timestamp) -> String {
    revision
        .created_at
        .map_or("<unknown>".to_owned(), |t| human_age(t, now))
}

/// What marks a change cause computed from the changes rather than written by someone.
pub const COMPUTED: &str = "(computed)";

/// The revision's own change cause, escaped; without one, what it changed, marked as computed;
/// `<none>` for a first revision without a cause. A cause copied from the previous revision is
/// never shown as this revision's.
/// The cause, and when configuration it read has changed since, a mark naming it:
/// `Release 1.17 [config changed: app-cfg]`.
fn cause_with_config(history: &History, revision: &Revision) -> String {
    let cause = cause(history, revision);
    let changed = history.config_changed(revision);
    match changed.is_empty() {
        true => cause,
        false => format!("{cause} [config changed: {}]", escape(&changed.join(", "))),
    }
}

fn cause(history: &History, revision: &Revision) -> String {
    if let Some(cause) = history.own_change_cause(revision) {
        return escape(cause).into_owned();
    }
    match history.changes(revision) {
        Some(changes) => format!("{COMPUTED} {}", escape(&summary(&changes))),
        None => "<none>".to_owned(),
    }
}

/// Text from the cluster made safe for a terminal: control characters (newline, tab, ESC, ...)
/// shown escaped, `\n`, `\t`, `\u{1b}`, so they can neither start a fake row nor drive the
/// terminal.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if c.is_control() => escaped.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// An image without its registry and repository path, and with a digest cut to 12 digits:
/// `registry.example.com/team/app@sha256:0123...` becomes `app@sha256:0123456789ab`.
fn short_image(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let name = name.rsplit('/').next().unwrap_or(name);
    match digest {
        Some(digest) => {
            // The API server does not check image syntax: cut by characters, not bytes.
            let (algorithm, hex) = digest.split_once(':').unwrap_or(("", digest));
            let hex: String = hex.chars().take(12).collect();
            format!("{name}@{algorithm}:{hex}")
        }
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(escape("release 1.2"), "release 1.2");
        assert_eq!(
            escape("fix\n3\tfake row\x1b[31mred\u{9b}"),
            "fix\\n3\\tfake row\\u{1b}[31mred\\u{9b}"
        );
    }

    #[test]
    fn shortens_images_for_the_table() {
        for (image, short) in [
            ("nginx:1.17", "nginx:1.17"),
            ("registry.example.com:5000/team/app:v2", "app:v2"),
            (
                "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef",
                "app@sha256:0123456789ab",
            ),
            // Not a digest the registry would take, but the API server keeps it.
            ("app@sha256:01234567890é12345", "app@sha256:01234567890é"),
            ("app@ééééééééééééé", "app@:éééééééééééé"),
        ] {
            assert_eq!(short_image(image), short, "{image}");
        }
    }
}
