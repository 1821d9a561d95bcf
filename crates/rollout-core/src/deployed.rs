//! Who deployed each revision: Helm, Argo CD, Flux or a CI action, joined from the records those
//! tools keep on their own objects (the binary reads them; this module only matches).
//!
//! A revision is matched to the sync that made it in one of two ways:
//! - exactly, when the sync says what it applied (a Helm release record holds the rendered
//!   manifest): the newest run of syncs that applied the revision's content, and its oldest sync,
//!   as a manifest's commits are matched;
//! - by time, when it does not (Argo CD's and Flux's histories): a revision created inside a sync's
//!   window. A window match never overrides an exact one, and a sync whose content is known is
//!   never matched by time.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::Value;

use crate::history::{History, Revision};
use crate::template;

/// Which tool deployed a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    Helm,
    #[serde(rename = "argocd")]
    ArgoCd,
    Flux,
    Ci,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Helm => "helm",
            Tool::ArgoCd => "argocd",
            Tool::Flux => "flux",
            Tool::Ci => "ci",
        }
    }
}

/// How sure the match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// The sync's record holds this revision's content, or the revision carries the mark.
    Exact,
    /// The revision was created while the sync ran.
    Window,
}

/// One object that records syncs: a Helm release, an Argo CD Application, a Flux Kustomization
/// or HelmRelease.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub tool: Tool,
    /// `Release`, `Application`, `Kustomization`, `HelmRelease`.
    pub kind: &'static str,
    pub name: String,
    pub namespace: String,
    /// Oldest first.
    pub syncs: Vec<Sync>,
}

/// One sync of a [`Source`]: a Helm release revision, an Argo CD history entry, a Flux snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Sync {
    /// The release revision (a number), the history id (a number) or the source revision.
    pub revision: Value,
    /// When it started and ended, as far as the record says.
    pub started: Timestamp,
    pub ended: Timestamp,
    /// The workload's pod template as the sync applied it, server defaults included, when the
    /// record holds it.
    pub template: Option<Value>,
    /// A commit the record names, and where in the record it was found.
    pub commit: Option<(String, String)>,
    /// What else the record says, shown as is: chart, app version, status, description,
    /// initiator, source. Never values or secrets.
    pub details: BTreeMap<&'static str, String>,
    /// The Helm release revision a Flux HelmRelease snapshot installed.
    pub release: Option<u64>,
}

/// Who deployed one revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedBy {
    pub tool: Tool,
    pub kind: &'static str,
    pub name: String,
    pub namespace: Option<String>,
    pub revision: Value,
    #[serde(rename = "match")]
    pub matched: Match,
    #[serde(flatten)]
    pub details: BTreeMap<&'static str, String>,
    /// The commit this source names, and where it was found.
    #[serde(skip)]
    pub commit: Option<(String, String)>,
}

impl DeployedBy {
    fn of(source: &Source, sync: &Sync, matched: Match) -> Self {
        DeployedBy {
            tool: source.tool,
            kind: source.kind,
            name: source.name.clone(),
            namespace: Some(source.namespace.clone()),
            revision: sync.revision.clone(),
            matched,
            details: sync.details.clone(),
            commit: sync.commit.clone(),
        }
    }

    /// `helm web 3`, `argocd guestbook 4`: what the table shows where no commit is known.
    pub fn short(&self) -> String {
        let revision = match &self.revision {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        format!("{} {} {revision}", self.tool.name(), self.name)
    }
}

/// Creation times are kept to the second, and so are most records' times.
const SLACK: SignedDuration = SignedDuration::from_secs(1);

/// Who deployed each revision of `history`, from `sources` and the CI annotations on the
/// revisions. A Flux HelmRelease names the Helm release revision it installed, so a revision
/// matched exactly to that release is Flux's, exactly.
pub fn attribute(history: &History, sources: &[Source]) -> BTreeMap<u64, DeployedBy> {
    let mut found: BTreeMap<u64, DeployedBy> = BTreeMap::new();
    for source in sources.iter().filter(|s| s.kind != "HelmRelease") {
        for (number, by) in exact(history, source) {
            found.insert(number, by);
        }
    }
    for source in sources.iter().filter(|s| s.kind == "HelmRelease") {
        lift_to_helm_release(&mut found, source);
    }
    for (number, by) in ci(history) {
        found.entry(number).or_insert(by);
    }
    for source in sources {
        for revision in &history.revisions {
            if found.contains_key(&revision.number) {
                continue;
            }
            if let Some(sync) = in_window(source, revision) {
                found.insert(revision.number, DeployedBy::of(source, sync, Match::Window));
            }
        }
    }
    found
}

/// The revisions `source`'s syncs applied, by content: for each, the oldest sync of the newest
/// run of syncs that applied it.
fn exact(history: &History, source: &Source) -> Vec<(u64, DeployedBy)> {
    let mut found = Vec::new();
    for revision in &history.revisions {
        let applied = |sync: &Sync| {
            sync.template
                .as_ref()
                .is_some_and(|t| template::same_content(t, &revision.template))
        };
        let Some(newest) = source.syncs.iter().rposition(applied) else {
            continue;
        };
        let oldest = source.syncs[..newest]
            .iter()
            .rposition(|s| !applied(s))
            .map_or(0, |i| i + 1);
        let sync = &source.syncs[oldest];
        found.push((revision.number, DeployedBy::of(source, sync, Match::Exact)));
    }
    found
}

/// A revision Helm made exactly, whose release revision a Flux HelmRelease installed, is the
/// HelmRelease's: the commit and details of the release stay, Flux's are added.
fn lift_to_helm_release(found: &mut BTreeMap<u64, DeployedBy>, source: &Source) {
    for by in found.values_mut().filter(|b| b.tool == Tool::Helm) {
        let Some(sync) = source
            .syncs
            .iter()
            .find(|s| s.release.map(Value::from).as_ref() == Some(&by.revision))
        else {
            continue;
        };
        let mut details = std::mem::take(&mut by.details);
        details.extend(sync.details.clone());
        details.insert("release", by.revision.to_string());
        let commit = by.commit.take().or_else(|| sync.commit.clone());
        *by = DeployedBy {
            details,
            commit,
            ..DeployedBy::of(source, sync, Match::Exact)
        };
    }
}

/// The sync whose window holds the revision's creation, the latest one starting if several do;
/// never one whose content is known.
fn in_window<'a>(source: &'a Source, revision: &Revision) -> Option<&'a Sync> {
    let created = revision.created_at?;
    source
        .syncs
        .iter()
        .filter(|s| s.template.is_none())
        .filter(|s| s.started - SLACK <= created && created <= s.ended + SLACK)
        .max_by_key(|s| s.started)
}

/// The annotations CI actions write on a workload (copied onto its ReplicaSets), with the commit
/// each holds: Azure/k8s-deploy's JSON, werf's and fabric8's plain SHAs.
pub const CI_ANNOTATIONS: [&str; 3] = [
    "actions.github.com/k8s-deploy",
    "ci.werf.io/commit",
    "fabric8.io/git-commit",
];

/// The commit a CI annotation holds, and who wrote it.
pub fn ci_commit(key: &str, value: &str) -> Option<(String, &'static str)> {
    let (commit, tool) = match key {
        "actions.github.com/k8s-deploy" => {
            let parsed: Value = serde_json::from_str(value).ok()?;
            (parsed.get("commit")?.as_str()?.to_owned(), "k8s-deploy")
        }
        "ci.werf.io/commit" => (value.to_owned(), "werf"),
        "fabric8.io/git-commit" => (value.to_owned(), "fabric8"),
        _ => return None,
    };
    is_sha(&commit).then_some((commit, tool))
}

/// Revisions a CI annotation names the commit of: only the oldest revision carrying a value, as
/// later ones inherited it from the workload.
fn ci(history: &History) -> Vec<(u64, DeployedBy)> {
    let mut owners: BTreeMap<(&str, String), &Revision> = BTreeMap::new();
    for revision in &history.revisions {
        for key in CI_ANNOTATIONS {
            let Some(value) = revision.annotations.get(key) else {
                continue;
            };
            let owner = owners.entry((key, value.clone())).or_insert(revision);
            if (revision.created_at, revision.number) < (owner.created_at, owner.number) {
                *owner = revision;
            }
        }
    }
    owners
        .into_iter()
        .filter_map(|((key, value), revision)| {
            let (sha, tool) = ci_commit(key, &value)?;
            let by = DeployedBy {
                tool: Tool::Ci,
                kind: "Annotation",
                name: tool.to_owned(),
                namespace: None,
                revision: Value::String(sha.clone()),
                matched: Match::Exact,
                details: BTreeMap::from([("annotation", key.to_owned())]),
                commit: Some((sha, format!("annotation {key}"))),
            };
            Some((revision.number, by))
        })
        .collect()
}

/// A full or abbreviated commit SHA: 7 to 40 hex digits.
pub fn is_sha(text: &str) -> bool {
    (7..=40).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The commit in a free text such as a Helm release description: a word of 40 hex digits, or of
/// 7 or more after the word `commit`.
pub fn commit_in_text(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let full = words
        .iter()
        .find(|w| w.len() == 40 && is_sha(w))
        .map(|w| (*w).to_owned());
    full.or_else(|| {
        words
            .windows(2)
            .find(|pair| pair[0].eq_ignore_ascii_case("commit") && is_sha(pair[1]))
            .map(|pair| pair[1].to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Current;
    use crate::kind::WorkloadKind;
    use serde_json::json;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    fn template(image: &str) -> Value {
        json!({"spec": {"containers": [{"name": "app", "image": image}]}})
    }

    fn revision(number: u64, created: i64, image: &str) -> Revision {
        Revision {
            number,
            created_at: Some(at(created)),
            template: template(image),
            change_cause: None,
            earlier_numbers: Vec::new(),
            object: format!("web-{number}"),
            pods: None,
            annotations: BTreeMap::new(),
        }
    }

    fn history(revisions: Vec<Revision>) -> History {
        let current = Current::Number(revisions.last().unwrap().number);
        History::new(WorkloadKind::Deployment, "ns", "web", revisions, current)
    }

    fn sync(revision: Value, started: i64, ended: i64, image: Option<&str>) -> Sync {
        Sync {
            revision,
            started: at(started),
            ended: at(ended),
            template: image.map(template),
            commit: None,
            details: BTreeMap::new(),
            release: None,
        }
    }

    fn source(tool: Tool, kind: &'static str, syncs: Vec<Sync>) -> Source {
        Source {
            tool,
            kind,
            name: "web".into(),
            namespace: "ns".into(),
            syncs,
        }
    }

    fn found(by: &BTreeMap<u64, DeployedBy>) -> Vec<(u64, String, Match)> {
        by.iter().map(|(n, b)| (*n, b.short(), b.matched)).collect()
    }

    #[test]
    fn helm_releases_match_by_content_and_a_rollback_takes_the_revision_it_reused() {
        // Releases 1-4; release 3 changed only a Service; release 5 is `helm rollback web 2`,
        // which made the controller re-use revision 2's ReplicaSet as revision 4.
        let history = history(vec![
            revision(1, 0, "nginx:1.16"),
            revision(3, 30, "nginx:1.18"),
            revision(4, 10, "nginx:1.17"),
        ]);
        let helm = source(
            Tool::Helm,
            "Release",
            vec![
                sync(1.into(), 0, 1, Some("nginx:1.16")),
                sync(2.into(), 10, 11, Some("nginx:1.17")),
                sync(3.into(), 20, 21, Some("nginx:1.17")),
                sync(4.into(), 30, 31, Some("nginx:1.18")),
                sync(5.into(), 40, 41, Some("nginx:1.17")),
            ],
        );
        let by = attribute(&history, &[helm]);
        assert_eq!(
            found(&by),
            [
                (1, "helm web 1".into(), Match::Exact),
                (3, "helm web 4".into(), Match::Exact),
                (4, "helm web 5".into(), Match::Exact),
            ]
        );
    }

    #[test]
    fn a_window_matches_only_what_was_created_inside_it() {
        // Three syncs; revision 3 was made by hand between the second and the third.
        let history = history(vec![
            revision(1, 5, "app:1"),
            revision(2, 25, "app:2"),
            revision(3, 40, "app:3"),
            revision(4, 61, "app:4"),
        ]);
        let argo = source(
            Tool::ArgoCd,
            "Application",
            vec![
                sync(0.into(), 4, 6, None),
                sync(1.into(), 24, 26, None),
                sync(2.into(), 60, 62, None),
            ],
        );
        let by = attribute(&history, &[argo]);
        assert_eq!(
            found(&by),
            [
                (1, "argocd web 0".into(), Match::Window),
                (2, "argocd web 1".into(), Match::Window),
                (4, "argocd web 2".into(), Match::Window),
            ]
        );
    }

    #[test]
    fn a_window_never_overrides_an_exact_match_nor_matches_a_known_sync() {
        let history = history(vec![revision(1, 5, "app:1"), revision(2, 6, "app:2")]);
        let helm = source(
            Tool::Helm,
            "Release",
            vec![sync(1.into(), 4, 7, Some("app:1"))],
        );
        let argo = source(
            Tool::ArgoCd,
            "Application",
            vec![sync(9.into(), 4, 7, None)],
        );
        let by = attribute(&history, &[helm, argo]);
        assert_eq!(
            found(&by),
            [
                (1, "helm web 1".into(), Match::Exact),
                // Release 1's content is not revision 2's, so its window says nothing.
                (2, "argocd web 9".into(), Match::Window),
            ]
        );
    }

    #[test]
    fn a_flux_helm_release_takes_the_revisions_of_the_release_it_installed() {
        let history = history(vec![revision(1, 5, "app:1"), revision(2, 15, "app:2")]);
        let mut helm_sync = sync(2.into(), 14, 16, Some("app:2"));
        helm_sync.commit = Some(("a".repeat(40), "label commit".into()));
        let helm = source(
            Tool::Helm,
            "Release",
            vec![sync(1.into(), 4, 6, Some("app:1")), helm_sync],
        );
        let mut snapshot = sync("0.2.0".into(), 14, 14, None);
        snapshot.release = Some(2);
        snapshot.details.insert("chartVersion", "0.2.0".into());
        let flux = source(Tool::Flux, "HelmRelease", vec![snapshot]);
        let by = attribute(&history, &[helm, flux]);
        let two = &by[&2];
        assert_eq!(
            (two.short(), two.matched, two.kind),
            ("flux web 0.2.0".into(), Match::Exact, "HelmRelease")
        );
        assert_eq!(two.details["release"], "2");
        assert_eq!(two.commit.as_ref().unwrap().0, "a".repeat(40));
        assert_eq!(by[&1].short(), "helm web 1");
    }

    #[test]
    fn ci_annotations_name_the_oldest_revision_carrying_them() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let deploy = json!({"commit": sha, "repository": "team/app", "run": "42"}).to_string();
        let mut one = revision(1, 0, "app:1");
        let mut two = revision(2, 10, "app:2");
        for r in [&mut one, &mut two] {
            r.annotations
                .insert("actions.github.com/k8s-deploy".into(), deploy.clone());
        }
        let mut three = revision(3, 20, "app:3");
        three
            .annotations
            .insert("ci.werf.io/commit".into(), "not a sha".into());
        let by = attribute(&history(vec![one, two, three]), &[]);
        assert_eq!(
            found(&by),
            [(1, format!("ci k8s-deploy {sha}"), Match::Exact)]
        );
        assert_eq!(by[&1].commit.as_ref().unwrap().0, sha);
    }

    #[test]
    fn finds_a_commit_in_a_description() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            commit_in_text(&format!("deploy {sha} from CI")),
            Some(sha.into())
        );
        assert_eq!(
            commit_in_text("Upgrade to commit d5c020c"),
            Some("d5c020c".into())
        );
        assert_eq!(commit_in_text("Rollback to 2"), None);
        assert_eq!(commit_in_text("commit: cafe"), None);
    }
}
