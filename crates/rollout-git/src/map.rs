//! Which commit each revision came from, from the most trusted source to the least:
//!
//! 1. a commit recorded on the revision object itself by `kubectl gitrollout record`
//!    ([`RECORDED_COMMIT`]), which no controller copies anywhere else;
//! 2. a known annotation the controller copied from the workload (`gitrollout.dev/commit`,
//!    `app.openshift.io/vcs-ref`, `jkube.io/git-commit`) or an `app.kubernetes.io/version` pod
//!    label, when it holds a SHA. Workload annotations are copied onto every later revision, so
//!    an annotated SHA belongs only to the oldest revision that carries it: a later revision with
//!    the same value was made by a change that did not update it;
//! 3. an image tag that names a commit of the repository;
//! 4. the newest commit of the manifest file whose pod template is contained in the revision's
//!    (live templates carry server defaults the manifest leaves out).

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};

use rollout_core::{History, Revision};
use serde::Deserialize;
use serde_json::Value;

use crate::repo::{CommitInfo, GitError, Repo};

/// The annotation `record` writes on a ReplicaSet or ControllerRevision.
pub const RECORDED_COMMIT: &str = "gitrollout.dev/recorded-commit";

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
    /// An annotation copied from the workload, or a pod template label.
    Annotation(String),
    Label(String),
    /// The tag of a container image.
    ImageTag(String),
    /// The manifest file at that commit.
    Manifest(String),
}

impl std::fmt::Display for CommitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitSource::Recorded => write!(f, "recorded"),
            CommitSource::Annotation(key) => write!(f, "annotation {key}"),
            CommitSource::Label(key) => write!(f, "label {key}"),
            CommitSource::ImageTag(image) => write!(f, "image {image}"),
            CommitSource::Manifest(path) => write!(f, "manifest {path}"),
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

/// A manifest file and the pod template it gives the workload at each commit that changed it.
///
/// Versions are parsed only when a question needs them, newest first: mapping a few revisions
/// over a long history parses a few versions, not all of them.
#[derive(Debug)]
pub struct ManifestHistory {
    pub path: String,
    kind: &'static str,
    name: String,
    /// Newest first.
    versions: Vec<(CommitInfo, Vec<u8>)>,
    templates: Vec<OnceCell<Option<Value>>>,
    warnings: RefCell<Vec<String>>,
}

impl ManifestHistory {
    /// Reads every version of `path`. A file no commit has is an error, and so is one that
    /// never defines the workload (found by parsing versions until one does); a version that is
    /// not valid YAML is skipped with a warning when it is parsed.
    pub fn read(repo: &Repo, path: &str, history: &History) -> Result<Self, GitError> {
        let versions = repo.file_history(path)?;
        if versions.is_empty() {
            return Err(GitError::NotInRepository {
                path: path.to_owned(),
                repo: repo.workdir().to_path_buf(),
            });
        }
        let total = versions.len();
        let manifests = ManifestHistory {
            path: path.to_owned(),
            kind: history.kind.kind(),
            name: history.name.clone(),
            templates: (0..total).map(|_| OnceCell::new()).collect(),
            versions,
            warnings: RefCell::new(Vec::new()),
        };
        let defined = (0..total).any(|i| manifests.template(i).is_some());
        if !defined && manifests.warnings.borrow().len() < total {
            return Err(GitError::NotDefined {
                path: path.to_owned(),
                workload: history.workload(),
                commits: total,
            });
        }
        Ok(manifests)
    }

    /// Warnings about the versions parsed so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.borrow().clone()
    }

    /// The workload's pod template in version `i`, parsed on first use.
    fn template(&self, i: usize) -> Option<&Value> {
        self.templates[i]
            .get_or_init(|| {
                let (commit, content) = &self.versions[i];
                match workload_template(content, self.kind, &self.name) {
                    Ok(template) => template,
                    Err(err) => {
                        self.warnings.borrow_mut().push(format!(
                            "skipping commit {} ({}): {} is not valid YAML there: {err}",
                            commit.short(),
                            commit.subject,
                            self.path
                        ));
                        None
                    }
                }
            })
            .as_ref()
    }

    /// The newest commit whose template the revision's contains, preferring commits made before
    /// the revision.
    fn commit_for(&self, revision: &Revision) -> Option<&CommitInfo> {
        let matching = || {
            (0..self.versions.len())
                .filter(|&i| {
                    self.template(i)
                        .is_some_and(|t| contains(&revision.template, t))
                })
                .map(|i| &self.versions[i].0)
        };
        let before = revision
            .created_at
            .and_then(|created| matching().find(|c| c.time <= created));
        before.or_else(|| matching().next())
    }
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
    let lookup = |sha: &str| -> Option<CommitInfo> { repo.and_then(|r| r.resolve(sha).ok()) };
    for revision in &history.revisions {
        let found = recorded(revision)
            .or_else(|| annotated(revision, &owners))
            .and_then(|(sha, source)| match repo {
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
            })
            .or_else(|| image_tag(revision, repo?))
            .or_else(|| {
                let manifests = manifests?;
                let info = manifests.commit_for(revision)?.clone();
                Some(MappedCommit {
                    sha: info.sha.clone(),
                    source: CommitSource::Manifest(manifests.path.clone()),
                    info: Some(info),
                })
            });
        if let Some(commit) = found {
            mapping.commits.insert(revision.number, commit);
        }
    }
    if let Some(manifests) = manifests {
        mapping.warnings = manifests.warnings();
    }
    mapping
}

fn recorded(revision: &Revision) -> Option<(String, CommitSource)> {
    let sha = revision.annotations.get(RECORDED_COMMIT)?;
    is_sha(sha).then(|| (sha.clone(), CommitSource::Recorded))
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

/// The pod template a manifest gives the workload `kind`/`name`: the document of that kind and
/// name, in a multi-document file or inside a `kind: List`.
pub fn workload_template(content: &[u8], kind: &str, name: &str) -> Result<Option<Value>, String> {
    let text = std::str::from_utf8(content).map_err(|e| e.to_string())?;
    let mut found = None;
    for document in serde_norway::Deserializer::from_str(text) {
        let document = Value::deserialize(document).map_err(|e| e.to_string())?;
        let items = match document.get("kind").and_then(Value::as_str) {
            Some("List") => document["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![document],
        };
        found = found.or_else(|| {
            items.into_iter().find(|item| {
                item.get("kind").and_then(Value::as_str) == Some(kind)
                    && item.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
            })
        });
    }
    Ok(found.and_then(|doc| doc.pointer("/spec/template").cloned()))
}

/// Whether every field `part` sets has the same value in `whole`: lists element by element and of
/// the same length, nulls in `part` matching anything.
pub fn contains(whole: &Value, part: &Value) -> bool {
    match (whole, part) {
        (_, Value::Null) => true,
        (Value::Object(whole), Value::Object(part)) => part.iter().all(|(key, value)| {
            whole.get(key).is_some_and(|w| contains(w, value))
                || value.is_null()
                || value.as_object().is_some_and(|o| o.is_empty())
                || value.as_array().is_some_and(|a| a.is_empty())
        }),
        (Value::Array(whole), Value::Array(part)) => {
            whole.len() == part.len() && whole.iter().zip(part).all(|(w, p)| contains(w, p))
        }
        (Value::String(w), Value::Number(p)) | (Value::Number(p), Value::String(w)) => {
            *w == p.to_string()
        }
        (whole, part) => whole == part,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifest_templates_are_contained_in_live_ones() {
        let live = json!({
            "metadata": {"labels": {"app": "a", "pod-template-hash": "x"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.17",
                                      "imagePullPolicy": "IfNotPresent", "resources": {},
                                      "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
                     "restartPolicy": "Always"},
        });
        let manifest = json!({
            "metadata": {"labels": {"app": "a"}, "creationTimestamp": null},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.17",
                                      "ports": [{"containerPort": 80}], "env": []}]},
        });
        assert!(contains(&live, &manifest));
        let mut other = manifest.clone();
        other["spec"]["containers"][0]["image"] = json!("nginx:1.18");
        assert!(!contains(&live, &other));
        let mut two = manifest.clone();
        two["spec"]["containers"] = json!([{"name": "nginx"}, {"name": "sidecar"}]);
        assert!(!contains(&live, &two));
    }

    #[test]
    fn finds_the_workload_in_multi_document_files_and_lists() {
        let file = b"apiVersion: v1\nkind: Service\nmetadata: {name: team-app}\n---\n\
            apiVersion: v1\nkind: List\nitems:\n- kind: Deployment\n  metadata: {name: other}\n  \
            spec: {template: {spec: {containers: []}}}\n- kind: Deployment\n  metadata: {name: \
            team-app}\n  spec:\n    template:\n      metadata: {labels: {app: team-app}}\n";
        let template = workload_template(file, "Deployment", "team-app").unwrap();
        assert_eq!(
            template,
            Some(json!({"metadata": {"labels": {"app": "team-app"}}}))
        );
        assert_eq!(workload_template(file, "StatefulSet", "team-app"), Ok(None));
        assert!(workload_template(b"kind: [unclosed", "Deployment", "x").is_err());
    }

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

    #[test]
    fn shas_are_7_to_40_hex_digits() {
        assert!(is_sha("abc1234"));
        assert!(is_sha(&"f".repeat(40)));
        for not in ["abc123", "1.17", "latest", "abc123g", &"f".repeat(41)] {
            assert!(!is_sha(not), "{not}");
        }
    }
}
