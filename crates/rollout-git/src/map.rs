//! Which commit each revision came from, from the most trusted source to the least:
//!
//! 1. a commit recorded on the revision object itself by `kubectl gitrollout record`
//!    ([`RECORDED_COMMIT`]), which no controller copies anywhere else, or the commit a revert
//!    restored the template from (the `gitrollout.dev/restored-from` pod template annotation),
//!    on the oldest revision that carries it: the marker stays in the template of later ones;
//! 2. an exact source: the commit a Helm release names (in its labels or description) when the
//!    release's manifest holds the revision's content ([`rollout_core::deployed`]), then the
//!    commit of the manifest file that changed the workload's template to the revision's,
//!    compared exactly once the server's defaults are applied (see [`ManifestHistory`]);
//! 3. a known annotation the controller copied from the workload (`gitrollout.dev/commit`,
//!    `app.openshift.io/vcs-ref`, `jkube.io/git-commit`, and the CI actions' of
//!    [`rollout_core::deployed::CI_ANNOTATIONS`]) or an `app.kubernetes.io/version` pod label,
//!    when it holds a SHA. Workload annotations are copied onto every later revision, so an
//!    annotated SHA belongs only to the oldest revision that carries it: a later revision with
//!    the same value was made by a change that did not update it;
//! 4. an image tag that names a commit of the repository;
//! 5. the source revision of the Argo CD or Flux sync that ran when the revision was created.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use rollout_core::template::{RESTORED_FROM, annotation};
use rollout_core::{History, Match, Revision, Tool};
use serde_json::Value;

use crate::manifest::{Changed, Content, Parsed, Parser, Scanner, Version, parse_documents};
use crate::repo::{CommitInfo, GitError, Repo};

/// The annotation `record` writes on a ReplicaSet or ControllerRevision.
pub const RECORDED_COMMIT: &str = "gitrollout.dev/recorded-commit";
/// The revision number the object had when its commit was recorded.
pub const RECORDED_REVISION: &str = "gitrollout.dev/recorded-revision";
/// The commits recorded on the object under numbers it had before the controller renumbered it
/// (`kubectl rollout undo`, a re-apply): `2=<sha>,5=<sha>`, oldest first.
pub const EARLIER_COMMITS: &str = "gitrollout.dev/earlier-commits";

/// The commits `revision`'s object had recorded under its earlier numbers, oldest first.
pub fn earlier_commits(revision: &Revision) -> Vec<(u64, String)> {
    let Some(list) = revision.annotations.get(EARLIER_COMMITS) else {
        return Vec::new();
    };
    list.split(',')
        .filter_map(|entry| {
            let (number, sha) = entry.trim().split_once('=')?;
            Some((number.parse().ok()?, sha.to_owned()))
        })
        .filter(|(_, sha)| is_sha(sha) && sha.len() == 40)
        .collect()
}

/// The annotations that record commit `sha` on `revision`'s object without losing one recorded
/// before: when the object holds another commit, recorded under an earlier number, that commit
/// joins [`EARLIER_COMMITS`]. A commit recorded is never lost.
pub fn recording(revision: &Revision, sha: &str) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([
        (RECORDED_COMMIT.to_owned(), sha.to_owned()),
        (RECORDED_REVISION.to_owned(), revision.number.to_string()),
    ]);
    let Some(before) = revision
        .annotations
        .get(RECORDED_COMMIT)
        .filter(|b| *b != sha)
    else {
        return annotations;
    };
    // The number it was recorded under: said by the object, else the last it had before now.
    let number = revision
        .annotations
        .get(RECORDED_REVISION)
        .and_then(|n| n.parse().ok())
        .or_else(|| revision.earlier_numbers.last().copied())
        .unwrap_or(revision.number);
    let mut earlier = earlier_commits(revision);
    if !earlier.contains(&(number, before.clone())) {
        earlier.push((number, before.clone()));
    }
    let list: Vec<String> = earlier
        .iter()
        .map(|(n, sha)| format!("{n}={sha}"))
        .collect();
    annotations.insert(EARLIER_COMMITS.to_owned(), list.join(","));
    annotations
}

/// Annotations that conventionally name the commit a workload was built from.
const COMMIT_ANNOTATIONS: [&str; 3] = [
    "gitrollout.dev/commit",
    "app.openshift.io/vcs-ref",
    "jkube.io/git-commit",
];
const VERSION_LABEL: &str = "app.kubernetes.io/version";

/// Where a revision's commit was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitSource {
    /// Recorded on the revision object by `record`.
    Recorded,
    /// Restored by `revert` from the manifest at that commit.
    RestoredFrom,
    /// An annotation copied from the workload, or a pod template label.
    Annotation(String),
    Label(String),
    /// The tag of a container image.
    ImageTag(String),
    /// The manifest file at that commit.
    Manifest(String),
    /// The record of the tool that deployed the revision: `helm web 3 (label commit)`.
    Deployed(String),
}

impl std::fmt::Display for CommitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitSource::Recorded => write!(f, "recorded"),
            CommitSource::RestoredFrom => write!(f, "restored from"),
            CommitSource::Annotation(key) => write!(f, "annotation {key}"),
            CommitSource::Label(key) => write!(f, "label {key}"),
            CommitSource::ImageTag(image) => write!(f, "image {image}"),
            CommitSource::Manifest(path) => write!(f, "manifest {path}"),
            CommitSource::Deployed(record) => write!(f, "{record}"),
        }
    }
}

/// A revision's commit: its full SHA, where it was found, and its metadata when a repository is
/// at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedCommit {
    pub sha: String,
    pub source: CommitSource,
    pub info: Option<CommitInfo>,
}

/// The commit of every revision that has one, and warnings about what was skipped.
#[derive(Debug, Default)]
pub struct Mapping {
    pub commits: BTreeMap<u64, MappedCommit>,
    pub warnings: Vec<String>,
}

/// The commits of a manifest file that the revisions of one workload were made from.
///
/// Matching is exact: the manifest's pod template with the server's defaults applied
/// ([`crate::workload_template`]) must equal the live one, bookkeeping aside. Each revision gets
/// the commit that changed the workload's template to its content: the oldest commit of the
/// newest run of versions with that template, not newer than the revision, so a commit that
/// changed only another document of the file never takes a revision. Revisions (by number) and
/// commits are matched as two ordered sequences, newest first, so each revision searches only
/// the commits between its neighbours' commits: a version matching a revision decides every
/// newer revision still unmatched (made by hand, or by `kubectl rollout undo`) as having no
/// commit. The walk stops as soon as every revision is decided, and reads one version at a
/// time.
#[derive(Debug)]
pub struct ManifestHistory {
    pub path: String,
    commits: BTreeMap<u64, CommitInfo>,
    warnings: Vec<String>,
}

impl ManifestHistory {
    /// Matches the revisions of `history` to the commits of `path`. A file no commit has is an
    /// error, and so is one that never defines the workload; a version that is not valid YAML
    /// is skipped with a warning.
    pub fn read(repo: &Repo, path: &str, history: &History) -> Result<Self, GitError> {
        let mut matcher = Matcher::new(history);
        let mut tally = Tally::default();
        if !matcher.done() {
            read_versions(repo, path, history, &mut matcher, &mut tally)?;
        }
        let commits = matcher.finish();
        let Tally {
            versions,
            defined,
            invalid,
            warnings,
        } = tally;
        if versions == 0 && !history.revisions.is_empty() {
            return Err(GitError::NotInRepository {
                path: path.to_owned(),
                repo: repo.workdir().to_path_buf(),
            });
        }
        if versions > 0 && !defined && invalid < versions {
            return Err(GitError::NotDefined {
                path: path.to_owned(),
                workload: history.workload(),
                commits: versions,
            });
        }
        Ok(ManifestHistory {
            path: path.to_owned(),
            commits,
            warnings,
        })
    }

    /// The commits of `path` (a file, or a kustomize overlay) matched some other way: each
    /// revision's, by number.
    pub fn from_commits(
        path: String,
        commits: BTreeMap<u64, CommitInfo>,
        warnings: Vec<String>,
    ) -> Self {
        ManifestHistory {
            path,
            commits,
            warnings,
        }
    }

    /// Warnings about the versions that had to be skipped.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn commit_for(&self, revision: &Revision) -> Option<&CommitInfo> {
        self.commits.get(&revision.number)
    }
}

/// What reading the versions of a file found, beyond the match.
#[derive(Debug, Default)]
struct Tally {
    /// Versions matched (the walk may read a few more before it hears the match is decided).
    versions: usize,
    /// Whether any version defines the workload.
    defined: bool,
    /// Versions that are not valid YAML, each with a warning.
    invalid: usize,
    warnings: Vec<String>,
}

/// How many versions the walk may read ahead of the matching.
const READ_AHEAD: usize = 16;

/// Feeds the versions of `path` to `matcher` until it is decided, on two threads: this one
/// walks the history and finds the workload's documents in each version; the other parses
/// them when they changed (the YAML is most of the work on a large manifest) and matches, in
/// the walk's order, and says when the match is decided. When the other thread has changed
/// documents waiting behind those it is parsing, the walk parses the next ones itself, so both
/// cores parse; a walk that is the slower side (without a commit-graph) leaves the parsing to
/// it. It reads only a few versions ahead: what it reads past the decision is wasted.
fn read_versions(
    repo: &Repo,
    path: &str,
    history: &History,
    matcher: &mut Matcher,
    tally: &mut Tally,
) -> Result<(), GitError> {
    let (kind, name) = (history.kind.kind(), history.name.as_str());
    let decided = AtomicBool::new(false);
    // Documents sent unparsed that the other thread has not parsed yet.
    let unparsed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (sender, versions) = mpsc::sync_channel::<(CommitInfo, Changed)>(READ_AHEAD);
        let (decided, unparsed) = (&decided, &unparsed);
        let matching = scope.spawn(move || {
            let mut parser = Parser::new(kind, name);
            for (commit, changed) in versions {
                let found = matches!(changed, Changed::Found(_));
                let version = parser.parse(changed);
                if found {
                    unparsed.fetch_sub(1, Ordering::AcqRel);
                }
                if feed(matcher, tally, path, commit, version).is_break() {
                    decided.store(true, Ordering::Release);
                    break;
                }
            }
        });
        let mut scanner = Scanner::new(kind, name);
        let walked = repo.for_each_version(path, |commit, content| {
            if decided.load(Ordering::Acquire) {
                return Ok(ControlFlow::Break(()));
            }
            let changed = match scanner.scan(content) {
                None => Changed::Same,
                Some(documents) if unparsed.load(Ordering::Acquire) > 1 => {
                    Changed::Parsed(parse_documents(&documents, kind, name))
                }
                Some(documents) => {
                    unparsed.fetch_add(1, Ordering::AcqRel);
                    Changed::Found(documents)
                }
            };
            // The other side hangs up only once the match is decided.
            match sender.send((commit, changed)) {
                Ok(()) => Ok(ControlFlow::Continue(())),
                Err(_) => Ok(ControlFlow::Break(())),
            }
        });
        drop(sender);
        if let Err(panic) = matching.join() {
            std::panic::resume_unwind(panic);
        }
        walked
    })
}

/// Feeds one version, the workload's content there as parsed, to `matcher`, counting it (and
/// warning of it when it is not valid YAML) in `tally`.
fn feed(
    matcher: &mut Matcher,
    tally: &mut Tally,
    path: &str,
    commit: CommitInfo,
    version: Parsed,
) -> ControlFlow<()> {
    tally.versions += 1;
    let version = version.unwrap_or_else(|err| {
        tally.invalid += 1;
        tally.warnings.push(format!(
            "skipping commit {} ({}): {path} is not valid YAML there: {err}",
            commit.short(),
            commit.subject
        ));
        None
    });
    tally.defined |= version.is_some();
    matcher.feed(commit, version.as_ref())
}

/// One revision to match, in the order revisions were made.
#[derive(Debug)]
struct Target {
    number: u64,
    created_at: Option<jiff::Timestamp>,
    content: Content,
    /// The revision before it, whose values the server keeps where a manifest sets none: the
    /// index in the targets of its content (every revision's content is a target's).
    previous: Option<usize>,
}

/// The ordered match of revisions (newest first) to versions of the file (newest first).
#[derive(Debug)]
struct Matcher {
    /// Revisions in the order they were made, without those whose content repeats an older
    /// one's (a revert): they get the older one's commit at the end.
    targets: Vec<Target>,
    /// Revisions whose content repeats an older one's: (revision, index in `targets`).
    repeats: Vec<(u64, usize)>,
    /// `targets[..open]` are still undecided; every later one is decided.
    open: usize,
    /// The run of versions that made the same target being followed back: (index in
    /// `targets`, its oldest commit).
    run: Option<(usize, CommitInfo)>,
    found: BTreeMap<u64, CommitInfo>,
    /// The last version fed, and for each target whether applying it over the target's
    /// previous revision gives the target, once asked: consecutive versions mostly share their
    /// documents, and so the same [`Version`], told by its pointer.
    kept: Option<(Arc<Version>, Vec<Option<bool>>)>,
}

impl Matcher {
    fn new(history: &History) -> Self {
        let mut targets: Vec<Target> = Vec::new();
        let mut repeats = Vec::new();
        // By number: a revision `kubectl rollout undo` or a re-apply re-used takes the place of
        // its newest use, and its object's creation time is that of its first use, so it does
        // not bound its commit's time.
        let mut previous = None;
        for revision in &history.revisions {
            let content = Content::new(revision.template.clone());
            let created_at = revision
                .created_at
                .filter(|_| revision.earlier_numbers.is_empty());
            let index = match targets.iter().position(|t| t.content == content) {
                Some(older) => {
                    repeats.push((revision.number, older));
                    older
                }
                None => {
                    targets.push(Target {
                        number: revision.number,
                        created_at,
                        content,
                        previous,
                    });
                    targets.len() - 1
                }
            };
            previous = Some(index);
        }
        Matcher {
            open: targets.len(),
            targets,
            repeats,
            run: None,
            found: BTreeMap::new(),
            kept: None,
        }
    }

    /// Whether `version` made the target `index`: its content, or a template that differs
    /// only where the server kept the values of the revision before.
    fn made(&mut self, index: usize, version: &Arc<Version>) -> bool {
        let target = &self.targets[index];
        if target.content == version.content {
            return true;
        }
        let Some(previous) = target.previous.map(|p| &self.targets[p].content) else {
            return false;
        };
        if !self
            .kept
            .as_ref()
            .is_some_and(|(kept, _)| Arc::ptr_eq(kept, version))
        {
            self.kept = Some((version.clone(), vec![None; self.targets.len()]));
        }
        let (_, kept) = self.kept.as_mut().expect("set above");
        *kept[index].get_or_insert_with(|| version.kept(&target.content, previous))
    }

    fn done(&self) -> bool {
        self.open == 0 && self.run.is_none()
    }

    /// Takes the next older version of the file: its commit and the workload's template there.
    fn feed(&mut self, commit: CommitInfo, version: Option<&Arc<Version>>) -> ControlFlow<()> {
        if let Some((target, _)) = self.run {
            if version.is_some_and(|v| self.made(target, v)) {
                if let Some((_, oldest)) = &mut self.run {
                    *oldest = commit;
                }
                return ControlFlow::Continue(());
            }
            self.close_run();
        }
        if let Some(version) = version {
            // The newest undecided revision this version made that the commit is not newer
            // than; the revisions made after it are decided: they came from no commit.
            let target = (0..self.open).rev().find(|&t| {
                self.targets[t]
                    .created_at
                    .is_none_or(|made| commit.time <= made)
                    && self.made(t, version)
            });
            if let Some(target) = target {
                self.open = target;
                self.run = Some((target, commit));
            }
        }
        if self.done() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn close_run(&mut self) {
        if let Some((target, oldest)) = self.run.take() {
            self.found.insert(self.targets[target].number, oldest);
        }
    }

    /// The commit of each revision that has one.
    fn finish(mut self) -> BTreeMap<u64, CommitInfo> {
        self.close_run();
        for (number, older) in &self.repeats {
            if let Some(commit) = self.found.get(&self.targets[*older].number).cloned() {
                self.found.insert(*number, commit);
            }
        }
        self.found
    }
}

/// The newest revision whose pod template has the content of `template` (a manifest's template
/// as [`crate::workload_template`] gives it), bookkeeping aside: the revision a commit's manifest made,
/// whichever commit the history shows for it.
pub fn revision_with_content(history: &History, template: &Value) -> Option<u64> {
    let content = Content::new(template.clone());
    history
        .revisions
        .iter()
        .rev()
        .find(|r| Content::new(r.template.clone()) == content)
        .map(|r| r.number)
}

/// Maps every revision of `history` to its commit. `repo` expands short SHAs, checks image tags
/// and gives commit metadata; `manifests` adds matching by content.
pub fn map_commits(
    history: &History,
    repo: Option<&Repo>,
    manifests: Option<&ManifestHistory>,
) -> Mapping {
    let mut mapping = Mapping::default();
    let owners = annotation_owners(history);
    let restorers = restored_owners(history);
    let lookup = |sha: &str| -> Option<CommitInfo> { repo.and_then(|r| r.resolve(sha).ok()) };
    let resolve = |(sha, source): (String, CommitSource)| match repo {
        Some(_) => lookup(&sha).map(|info| MappedCommit {
            sha: info.sha.clone(),
            source,
            info: Some(info),
        }),
        None => (sha.len() == 40).then_some(MappedCommit {
            sha,
            source,
            info: None,
        }),
    };
    for revision in &history.revisions {
        let deployed = |level: Trust| deployed_commit(history, revision, level);
        let found = recorded(revision)
            .or_else(|| restored(revision, &restorers))
            .or_else(|| deployed(Trust::Exact))
            .and_then(resolve)
            .or_else(|| {
                let manifests = manifests?;
                let info = manifests.commit_for(revision)?.clone();
                Some(MappedCommit {
                    sha: info.sha.clone(),
                    source: CommitSource::Manifest(manifests.path.clone()),
                    info: Some(info),
                })
            })
            .or_else(|| {
                annotated(revision, &owners)
                    .or_else(|| deployed(Trust::Annotation))
                    .and_then(resolve)
            })
            .or_else(|| image_tag(revision, repo?))
            .or_else(|| deployed(Trust::Window).and_then(resolve));
        if let Some(commit) = found {
            mapping.commits.insert(revision.number, commit);
        }
    }
    if let Some(manifests) = manifests {
        mapping.warnings = manifests.warnings();
    }
    mapping
}

/// How far a source of a commit is trusted, beside a recorded commit and the manifest's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// A record that holds the revision's content (a Helm release's manifest).
    Exact,
    /// An annotation a CI action wrote on the workload.
    Annotation,
    /// A sync that ran when the revision was created.
    Window,
}

/// The commit the tool that deployed `revision` names, when it is trusted as far as `level`.
fn deployed_commit(
    history: &History,
    revision: &Revision,
    level: Trust,
) -> Option<(String, CommitSource)> {
    let by = history.deployed.get(&revision.number)?;
    let trust = match (by.tool, by.matched) {
        (Tool::Ci, _) => Trust::Annotation,
        (_, Match::Exact) => Trust::Exact,
        (_, Match::Window) => Trust::Window,
    };
    let (sha, found) = by.commit.clone().filter(|_| trust == level)?;
    let source = match by.tool {
        Tool::Ci => CommitSource::Annotation(found.trim_start_matches("annotation ").to_owned()),
        _ => CommitSource::Deployed(format!("{} ({found})", by.short())),
    };
    Some((sha, source))
}

fn recorded(revision: &Revision) -> Option<(String, CommitSource)> {
    let sha = revision.annotations.get(RECORDED_COMMIT)?;
    is_sha(sha).then(|| (sha.clone(), CommitSource::Recorded))
}

/// For each `restored-from` SHA, the oldest revision whose template carries it: the one the
/// revert made.
fn restored_owners(history: &History) -> HashMap<&str, u64> {
    let mut owners: HashMap<&str, (Option<jiff::Timestamp>, u64)> = HashMap::new();
    for revision in &history.revisions {
        let Some(sha) = annotation(&revision.template, RESTORED_FROM).filter(|v| is_sha(v)) else {
            continue;
        };
        let candidate = (revision.created_at, revision.number);
        owners
            .entry(sha)
            .and_modify(|owner| *owner = (*owner).min(candidate))
            .or_insert(candidate);
    }
    owners.into_iter().map(|(k, (_, n))| (k, n)).collect()
}

fn restored(revision: &Revision, owners: &HashMap<&str, u64>) -> Option<(String, CommitSource)> {
    let sha = annotation(&revision.template, RESTORED_FROM)?;
    (owners.get(sha) == Some(&revision.number))
        .then(|| (sha.to_owned(), CommitSource::RestoredFrom))
}

/// For each (annotation, value) that holds a SHA, the oldest revision that carries it.
fn annotation_owners(history: &History) -> HashMap<(&'static str, String), u64> {
    let mut owners: HashMap<(&'static str, String), (Option<jiff::Timestamp>, u64)> =
        HashMap::new();
    for revision in &history.revisions {
        for key in COMMIT_ANNOTATIONS {
            let Some(value) = revision.annotations.get(key).filter(|v| is_sha(v)) else {
                continue;
            };
            let candidate = (revision.created_at, revision.number);
            owners
                .entry((key, value.clone()))
                .and_modify(|owner| *owner = (*owner).min(candidate))
                .or_insert(candidate);
        }
    }
    owners.into_iter().map(|(k, (_, n))| (k, n)).collect()
}

fn annotated(
    revision: &Revision,
    owners: &HashMap<(&'static str, String), u64>,
) -> Option<(String, CommitSource)> {
    for key in COMMIT_ANNOTATIONS {
        let Some(value) = revision.annotations.get(key) else {
            continue;
        };
        if owners.get(&(key, value.clone())) == Some(&revision.number) {
            return Some((value.clone(), CommitSource::Annotation(key.to_owned())));
        }
    }
    // A pod template label belongs to the template, so it cannot be stale.
    let label = revision
        .template
        .pointer("/metadata/labels")?
        .get(VERSION_LABEL)?
        .as_str()?;
    is_sha(label).then(|| {
        (
            label.to_owned(),
            CommitSource::Label(VERSION_LABEL.to_owned()),
        )
    })
}

fn image_tag(revision: &Revision, repo: &Repo) -> Option<MappedCommit> {
    revision.containers().into_iter().find_map(|container| {
        let image = container.image.split('@').next()?;
        let (name, tag) = image.rsplit_once(':')?;
        if name.ends_with('/') || tag.contains('/') || !is_sha(tag) {
            return None;
        }
        let info = repo.resolve(tag).ok()?;
        Some(MappedCommit {
            sha: info.sha.clone(),
            source: CommitSource::ImageTag(container.image.clone()),
            info: Some(info),
        })
    })
}

/// 7 to 40 hex digits: how SHAs appear in tags and annotations.
fn is_sha(text: &str) -> bool {
    (7..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn revision(number: u64, image: &str, annotations: &[(&str, &str)]) -> Revision {
        Revision {
            number,
            created_at: Some(jiff::Timestamp::from_second(1_000 + number as i64).unwrap()),
            template: json!({"spec": {"containers": [{"name": "app", "image": image}]}}),
            change_cause: None,
            earlier_numbers: Vec::new(),
            object: format!("app-{number}"),
            pods: None,
            annotations: annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_stale_inherited_commit_is_not_shown() {
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        let history = History::new(
            rollout_core::WorkloadKind::Deployment,
            "ns",
            "app",
            vec![
                revision(1, "app:1", &[("gitrollout.dev/commit", &a)]),
                // `kubectl set image` after a CI deploy: the annotation was copied, not updated.
                revision(2, "app:2", &[("gitrollout.dev/commit", &a)]),
                revision(
                    3,
                    "app:3",
                    &[("gitrollout.dev/commit", &b), (RECORDED_COMMIT, &a)],
                ),
                revision(4, "app:4", &[("app.openshift.io/vcs-ref", "1234567")]),
            ],
            rollout_core::Current::Number(3),
        );
        let mapping = map_commits(&history, None, None);
        let found: Vec<(u64, String, String)> = mapping
            .commits
            .iter()
            .map(|(n, c)| (*n, c.sha.clone(), c.source.to_string()))
            .collect();
        assert_eq!(
            found,
            [
                (1, a.clone(), "annotation gitrollout.dev/commit".to_owned()),
                // What record wrote on the revision itself wins over the copied annotation.
                (3, a.clone(), "recorded".to_owned()),
            ]
        );
    }

    fn history(revisions: Vec<Revision>) -> History {
        let current = rollout_core::Current::Number(revisions.len() as u64);
        History::new(
            rollout_core::WorkloadKind::Deployment,
            "ns",
            "app",
            revisions,
            current,
        )
    }

    /// Feeds versions (newest first, by image; `None` where the file lacks the workload) to a
    /// matcher; returns the commit of each revision and how many versions were read.
    fn check(history: &History, versions: &[Option<&str>]) -> (Vec<(u64, String)>, usize) {
        let mut matcher = Matcher::new(history);
        let mut read = 0;
        for (i, image) in versions.iter().enumerate() {
            // Stored as written: these templates need no defaults.
            let content = image.map(|image| {
                let written = json!({"spec": {"containers": [{"name": "app", "image": image}]}});
                Arc::new(Version {
                    content: Content::new(written.clone()),
                    written,
                })
            });
            read += 1;
            let commit = CommitInfo {
                sha: format!("c{}", versions.len() - i),
                subject: String::new(),
                author: String::new(),
                time: jiff::Timestamp::from_second(500).unwrap(),
            };
            if matcher.feed(commit, content.as_ref()).is_break() {
                break;
            }
        }
        let found = matcher.finish();
        (found.into_iter().map(|(n, c)| (n, c.sha)).collect(), read)
    }

    fn found(pairs: &[(u64, &str)]) -> Vec<(u64, String)> {
        pairs.iter().map(|(n, c)| (*n, (*c).to_owned())).collect()
    }

    #[test]
    fn each_revision_gets_the_commit_that_changed_its_workload() {
        let h = history(vec![
            revision(1, "a:1", &[]),
            revision(2, "a:2", &[]),
            revision(3, "a:3", &[]),
        ]);
        // c3 and c5 changed only another document of the file.
        let versions = [
            Some("a:3"),
            Some("a:3"),
            Some("a:2"),
            Some("a:2"),
            Some("a:1"),
            Some("a:1"),
        ];
        let (commits, read) = check(&h, &versions);
        assert_eq!(commits, found(&[(1, "c1"), (2, "c3"), (3, "c5")]));
        assert_eq!(read, 6);
    }

    #[test]
    fn a_hand_made_revision_gets_no_commit_and_the_walk_stops_early() {
        let h = history(vec![
            revision(1, "a:1", &[]),
            revision(2, "a:2", &[]),
            revision(3, "a:hand", &[]),
        ]);
        let versions = [Some("a:2"), Some("a:1"), Some("a:0"), Some("a:hand"), None];
        let (commits, read) = check(&h, &versions);
        // The version with the hand-made content is older than revision 2's commit: not taken.
        assert_eq!(commits, found(&[(1, "c4"), (2, "c5")]));
        assert_eq!(read, 3, "the walk stops once revision 1's run has ended");
    }

    #[test]
    fn a_revision_keeps_what_the_server_kept_and_a_hand_made_one_gets_no_commit() {
        // Captured: `kubectl apply` of the two manifests below, then `kubectl set env`.
        let fixture: Value = serde_json::from_str(include_str!(
            "../../kubectl-gitrollout/tests/fixtures/deployment-kept-defaults.json"
        ))
        .unwrap();
        let revisions = fixture["owned"].as_array().unwrap().iter().map(|rs| {
            let annotations = &rs["metadata"]["annotations"];
            let number = annotations["deployment.kubernetes.io/revision"].as_str();
            let mut revision = revision(number.unwrap().parse().unwrap(), "", &[]);
            revision.template = rs["spec"]["template"].clone();
            revision.created_at = None;
            revision
        });
        let mut revisions: Vec<Revision> = revisions.collect();
        revisions.sort_by_key(|r| r.number);
        let mut matcher = Matcher::new(&history(revisions));
        let manifest = |init: &str, account: bool| {
            let mut spec = json!({
                "containers": [{"name": "nginx", "image": "nginx:1.16"}],
                "initContainers": [{"name": "init", "image": init, "command": ["true"]}],
            });
            if account {
                spec["serviceAccountName"] = json!("default");
            }
            Arc::new(Version::new(
                json!({"metadata": {"labels": {"app": "team-app"}}, "spec": spec}),
            ))
        };
        let pinned = "busybox:1.38.0@sha256:\
            0000000000000000000000000000000000000000000000000000000000000000";
        let versions = [manifest(pinned, false), manifest("busybox:latest", true)];
        for (sha, version) in ["c2", "c1"].into_iter().zip(&versions) {
            let commit = CommitInfo {
                sha: sha.to_owned(),
                subject: String::new(),
                author: String::new(),
                time: jiff::Timestamp::from_second(500).unwrap(),
            };
            let _ = matcher.feed(commit, Some(version));
        }
        let commits: Vec<(u64, String)> = matcher
            .finish()
            .into_iter()
            .map(|(n, c)| (n, c.sha))
            .collect();
        assert_eq!(commits, found(&[(1, "c1"), (2, "c2")]));
    }

    #[test]
    fn a_revision_made_out_of_order_gets_no_commit() {
        // Revision 3 re-applied an old manifest: the newer revision 2 was matched further back.
        let h = history(vec![
            revision(1, "a:1", &[]),
            revision(2, "a:3", &[]),
            revision(3, "a:2", &[]),
        ]);
        let (commits, _) = check(&h, &[Some("a:3"), Some("a:2"), Some("a:1")]);
        assert_eq!(commits, found(&[(1, "c1"), (2, "c3")]));
    }

    #[test]
    fn a_revert_gets_the_commit_of_the_revision_it_restored() {
        let mut revert = revision(3, "a:1", &[]);
        revert.template["metadata"] = json!({"annotations": {"gitrollout.dev/revert-of": "1"}});
        let h = history(vec![
            revision(1, "a:1", &[]),
            revision(2, "a:2", &[]),
            revert,
        ]);
        let (commits, _) = check(&h, &[Some("a:2"), Some("a:1")]);
        assert_eq!(commits, found(&[(1, "c1"), (2, "c2"), (3, "c1")]));
    }

    #[test]
    fn a_commit_newer_than_the_revision_is_not_its_commit() {
        let mut late = revision(1, "a:1", &[]);
        late.created_at = Some(jiff::Timestamp::from_second(100).unwrap());
        let (commits, read) = check(&history(vec![late]), &[Some("a:1")]);
        assert_eq!((commits, read), (found(&[]), 1));
    }

    #[test]
    fn a_restore_from_a_commit_is_attributed_as_recorded() {
        let sha = "c".repeat(40);
        let mut restored = revision(2, "a:1", &[]);
        restored.template["metadata"] =
            json!({"annotations": {"gitrollout.dev/restored-from": sha.clone()}});
        // The marker stays in the template of the next revision, which must not inherit it.
        let mut inherited = revision(3, "a:3", &[]);
        inherited.template["metadata"] = restored.template["metadata"].clone();
        let h = history(vec![revision(1, "a:0", &[]), restored, inherited]);
        let mapping = map_commits(&h, None, None);
        let found: Vec<(u64, String, String)> = mapping
            .commits
            .iter()
            .map(|(n, c)| (*n, c.sha.clone(), c.source.to_string()))
            .collect();
        assert_eq!(found, [(2, sha, "restored from".to_owned())]);
    }

    #[test]
    fn a_recorded_commit_is_never_lost_when_the_object_is_renumbered() {
        let (a, b, c) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
        // Revision 2, recorded before `record` knew to say under which number.
        let mut renumbered = revision(4, "app:2", &[(RECORDED_COMMIT, &a)]);
        renumbered.earlier_numbers = vec![2];
        let written = recording(&renumbered, &b);
        assert_eq!(written[RECORDED_COMMIT], b);
        assert_eq!(written[RECORDED_REVISION], "4");
        assert_eq!(written[EARLIER_COMMITS], format!("2={a}"));

        // Renumbered again, to 6, and recorded once more: both earlier commits are kept.
        renumbered.annotations.extend(written);
        renumbered.number = 6;
        renumbered.earlier_numbers = vec![2, 4];
        let written = recording(&renumbered, &c);
        assert_eq!(written[EARLIER_COMMITS], format!("2={a},4={b}"));
        renumbered.annotations.extend(written);
        assert_eq!(
            earlier_commits(&renumbered),
            [(2, a.clone()), (4, b.clone())]
        );

        // Recording the same commit again changes nothing earlier.
        let again = recording(&renumbered, &c);
        assert!(!again.contains_key(EARLIER_COMMITS));
        // A first recording has no earlier commits.
        assert!(!recording(&revision(1, "app:1", &[]), &a).contains_key(EARLIER_COMMITS));
    }

    #[test]
    fn shas_are_7_to_40_hex_digits() {
        assert!(is_sha("abc1234"));
        assert!(is_sha(&"f".repeat(40)));
        for not in ["abc123", "1.17", "latest", "abc123g", &"f".repeat(41)] {
            assert!(!is_sha(not), "{not}");
        }
    }
}
