//! The history of one workload: its revisions, ascending, and which one is current.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::change::{self, Change};
use crate::config;
use crate::deployed::DeployedBy;
use crate::kind::WorkloadKind;
use crate::template;

/// One container of a pod template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub name: String,
    pub image: String,
}

/// The containers of a pod template at `pointer` (`/spec/containers`, `/spec/initContainers`).
pub(crate) fn containers_at(template: &Value, pointer: &str) -> Vec<Container> {
    let containers = template.pointer(pointer);
    containers
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| Container {
            name: string_field(c, "name"),
            image: string_field(c, "image"),
        })
        .collect()
}

/// One revision, as kept by a ReplicaSet or a ControllerRevision.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub number: u64,
    pub created_at: Option<Timestamp>,
    /// The pod template as the API holds it, bookkeeping included.
    pub template: Value,
    pub change_cause: Option<String>,
    /// The numbers this revision had before the controller re-used it (`revision-history`).
    pub earlier_numbers: Vec<u64>,
    /// The name of the ReplicaSet or ControllerRevision.
    pub object: String,
    /// The pods the ReplicaSet runs; ControllerRevisions do not count them.
    pub pods: Option<i32>,
    /// The annotations of the ReplicaSet or ControllerRevision itself.
    pub annotations: BTreeMap<String, String>,
}

impl Revision {
    /// The containers of the pod template, in order.
    pub fn containers(&self) -> Vec<Container> {
        containers_at(&self.template, "/spec/containers")
    }

    /// The init containers of the pod template, in order.
    pub fn init_containers(&self) -> Vec<Container> {
        containers_at(&self.template, "/spec/initContainers")
    }

    /// The `revert-of` marker of the pod template. Markers stay in the live template and are
    /// copied onto every later revision, so this may describe an earlier revision: ask
    /// [`History::revert_of`] which revision a revert made.
    pub fn revert_marker(&self) -> Option<u64> {
        template::annotation(&self.template, template::REVERT_OF)?
            .parse()
            .ok()
    }

    /// The `reverted-change` marker of the pod template; see [`History::reverted_change`].
    pub fn reverted_change_marker(&self) -> Option<u64> {
        template::annotation(&self.template, template::REVERTED_CHANGE)?
            .parse()
            .ok()
    }

    /// Creation time, then number: the order in which revisions were made, renumbering aside.
    fn age_key(&self) -> (Option<Timestamp>, u64) {
        (self.created_at, self.number)
    }
}

fn string_field(object: &Value, field: &str) -> String {
    object
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// How the workload says which revision is current.
#[derive(Debug, Clone, PartialEq)]
pub enum Current {
    /// A Deployment's `deployment.kubernetes.io/revision`.
    Number(u64),
    /// A StatefulSet's `status.updateRevision`: the name of a ControllerRevision.
    Object(String),
    /// A DaemonSet's live pod template: the revision with the same content.
    Template(Value),
    /// The workload does not say (yet).
    Unknown,
}

/// The rollout history of one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    /// Ascending by number, one revision per number.
    pub revisions: Vec<Revision>,
    pub current: Option<u64>,
    /// What was listed but not counted as the controller would count it.
    pub warnings: Vec<HistoryWarning>,
    /// Today's digest of each ConfigMap and Secret some revision recorded one for, by
    /// [`config_key`](crate::config_key) (`None`: it is gone); empty until the binary has read them.
    pub config_today: BTreeMap<String, Option<String>>,
    /// Who deployed each revision, by number, as [`crate::deployed::attribute`] found it; empty
    /// until the binary has read the workload's sources.
    pub deployed: BTreeMap<u64, DeployedBy>,
}

/// The objects listed for a history, before they are checked and ordered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listed {
    /// The objects with a revision number.
    pub revisions: Vec<Revision>,
    /// The objects without a usable revision number.
    pub unnumbered: Vec<Unnumbered>,
    /// The workload's live pod template, to pick among duplicate numbers as kubectl does.
    pub live: Option<Value>,
}

/// A ReplicaSet or ControllerRevision whose revision number is missing or not a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unnumbered {
    pub object: String,
    /// The revision annotation's value, when there is one.
    pub value: Option<String>,
}

/// Something wrong with the listed objects, reported and never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryWarning {
    /// Two objects carry one revision number; `used` is the one `kubectl rollout undo` picks.
    Duplicate {
        revision: u64,
        kind: &'static str,
        used: String,
        ignored: String,
    },
    /// An object left out of the history, because it has no usable revision number: it is
    /// never a revert target.
    Unnumbered {
        kind: &'static str,
        object: String,
        value: Option<String>,
    },
}

impl fmt::Display for HistoryWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryWarning::Duplicate {
                revision,
                kind,
                used,
                ignored,
            } => write!(
                f,
                "revision {revision} is claimed by two {kind}s, {used} and {ignored}; using \
                 {used}, as `kubectl rollout undo` would"
            ),
            HistoryWarning::Unnumbered {
                kind,
                object,
                value: None,
            } => write!(
                f,
                "{kind} {object} has no revision number; it is left out of the history and is \
                 never a revert target"
            ),
            HistoryWarning::Unnumbered {
                kind,
                object,
                value: Some(value),
            } => write!(
                f,
                "{kind} {object} has the revision number {value:?}, which is not a number; it is \
                 left out of the history and is never a revert target"
            ),
        }
    }
}

/// A revision found by a number it has, or had before `kubectl rollout undo` renumbered it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found<'a> {
    pub revision: &'a Revision,
    /// The number asked for, when the revision has a later one now.
    pub renumbered_from: Option<u64>,
}

/// What a question about a history can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "{workload} has no rollout history yet: the controller records a revision once it has \
         acted on the workload (is it paused?)"
    )]
    Empty { workload: String },
    #[error("revision {revision} is not in the history of {workload}; it has revisions {}", list(.existing))]
    NotFound {
        workload: String,
        revision: u64,
        existing: Vec<u64>,
    },
    #[error(
        "revision {revision} is the first in the history of {workload}; name another to compare with"
    )]
    NoPrevious { workload: String, revision: u64 },
    #[error(
        "{workload} has no current revision: the controller has not rolled out its template yet"
    )]
    NoCurrent { workload: String },
}

fn list(numbers: &[u64]) -> String {
    let numbers: Vec<String> = numbers.iter().map(u64::to_string).collect();
    numbers.join(", ")
}

impl History {
    /// Orders the revisions and resolves which one is current.
    pub fn new(
        kind: WorkloadKind,
        namespace: impl Into<String>,
        name: impl Into<String>,
        revisions: Vec<Revision>,
        current: Current,
    ) -> Self {
        let listed = Listed {
            revisions,
            ..Listed::default()
        };
        Self::from_listed(kind, namespace, name, listed, current)
    }

    /// Checks the listed objects (duplicate numbers, missing numbers), orders the revisions and
    /// resolves which one is current.
    pub fn from_listed(
        kind: WorkloadKind,
        namespace: impl Into<String>,
        name: impl Into<String>,
        listed: Listed,
        current: Current,
    ) -> Self {
        let object_kind = kind.history_kind();
        let mut warnings: Vec<HistoryWarning> = listed
            .unnumbered
            .into_iter()
            .map(|u| HistoryWarning::Unnumbered {
                kind: object_kind,
                object: u.object,
                value: u.value,
            })
            .collect();
        let revisions = dedupe(kind, listed.revisions, listed.live.as_ref(), &mut warnings);
        let current = match current {
            Current::Number(n) => revisions.iter().find(|r| r.number == n),
            Current::Object(name) => revisions.iter().find(|r| r.object == name),
            Current::Template(live) => revisions
                .iter()
                .rev()
                .find(|r| template::same_content(&r.template, &live)),
            Current::Unknown => None,
        }
        .map(|r| r.number);
        History {
            kind,
            namespace: namespace.into(),
            name: name.into(),
            revisions,
            current,
            warnings,
            config_today: BTreeMap::new(),
            deployed: BTreeMap::new(),
        }
    }

    /// The ConfigMaps and Secrets whose content has changed since `revision` recorded their
    /// digests (or that are gone), by name; empty when nothing was recorded or read.
    pub fn config_changed(&self, revision: &Revision) -> Vec<String> {
        config::recorded_digests(&revision.annotations)
            .into_iter()
            .filter_map(|(key, recorded)| match self.config_today.get(&key)? {
                Some(today) if *today == recorded => None,
                _ => Some(config::name_of_key(&key).to_owned()),
            })
            .collect()
    }

    /// `deployment.apps/team-app`.
    pub fn workload(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// Fails when the history holds no revision at all.
    pub fn ensure_not_empty(&self) -> Result<(), HistoryError> {
        if self.revisions.is_empty() {
            return Err(HistoryError::Empty {
                workload: self.workload(),
            });
        }
        Ok(())
    }

    /// The revision with `number`, or the one that had it before `kubectl rollout undo`
    /// renumbered it (the newest such, as each undo moves a revision to the top).
    pub fn find(&self, number: u64) -> Result<Found<'_>, HistoryError> {
        self.ensure_not_empty()?;
        if let Some(revision) = self.revisions.iter().find(|r| r.number == number) {
            return Ok(Found {
                revision,
                renumbered_from: None,
            });
        }
        self.revisions
            .iter()
            .rev()
            .find(|r| r.earlier_numbers.contains(&number))
            .map(|revision| Found {
                revision,
                renumbered_from: Some(number),
            })
            .ok_or_else(|| HistoryError::NotFound {
                workload: self.workload(),
                revision: number,
                existing: self.revisions.iter().map(|r| r.number).collect(),
            })
    }

    /// The revision with `number`, or the one it became (see [`History::find`]).
    pub fn get(&self, number: u64) -> Result<&Revision, HistoryError> {
        self.find(number).map(|found| found.revision)
    }

    pub fn current(&self) -> Result<&Revision, HistoryError> {
        self.ensure_not_empty()?;
        let number = self.current.ok_or_else(|| HistoryError::NoCurrent {
            workload: self.workload(),
        })?;
        self.get(number)
    }

    /// The number the controller gives the next revision it makes: one more than the highest.
    pub fn next_number(&self) -> u64 {
        self.revisions.iter().map(|r| r.number).max().unwrap_or(0) + 1
    }

    /// The revision before `number` that still exists, if any.
    pub fn previous(&self, number: u64) -> Option<&Revision> {
        self.revisions.iter().rev().find(|r| r.number < number)
    }

    /// The revision `revision` restored, when a revert made it: the oldest revision carrying
    /// the revert's `reverted-at` marker and, while the restored revision exists, the same
    /// content. A later revision that inherited the markers (a `kubectl set image` after the
    /// revert) restored nothing.
    pub fn revert_of(&self, revision: &Revision) -> Option<u64> {
        let restored = revision.revert_marker()?;
        if !self.made_the_marker(revision, template::REVERT_OF) {
            return None;
        }
        match self.find(restored) {
            Ok(found) if !template::same_content(&found.revision.template, &revision.template) => {
                None
            }
            _ => Some(restored),
        }
    }

    /// The revision whose change `revision` reverted, when a `revert --change` made it: the
    /// oldest revision carrying that revert's markers.
    pub fn reverted_change(&self, revision: &Revision) -> Option<u64> {
        let reverted = revision.reverted_change_marker()?;
        self.made_the_marker(revision, template::REVERTED_CHANGE)
            .then_some(reverted)
    }

    /// Whether this tool made `revision`: a revert to a revision, a revert of a change, or a
    /// restore from a manifest at a commit, told by the markers only the revision it made owns.
    pub fn made_by_gitrollout(&self, revision: &Revision) -> bool {
        self.revert_of(revision).is_some()
            || self.reverted_change(revision).is_some()
            || self.made_the_marker(revision, template::RESTORED_FROM)
    }

    /// Whether `revision` is the oldest carrying its `marker`, told apart by `reverted-at`
    /// (which each revert sets afresh) or, without it, by the marker's value.
    fn made_the_marker(&self, revision: &Revision, marker: &str) -> bool {
        let key = |r: &Revision| {
            let value = template::annotation(&r.template, marker)?;
            let at = template::annotation(&r.template, template::REVERTED_AT);
            Some((value.to_owned(), at.map(str::to_owned)))
        };
        let Some(own) = key(revision) else {
            return false;
        };
        let oldest = self
            .revisions
            .iter()
            .filter(|r| key(r).as_ref() == Some(&own))
            .min_by_key(|r| r.age_key());
        oldest.is_some_and(|r| r.number == revision.number)
    }

    /// Whether `revision`'s change cause is the previous revision's, copied rather than written
    /// for it (the Deployment controller copies the workload's cause onto each new ReplicaSet).
    /// A revision a revert made has the cause that revert wrote, even when an earlier revert to
    /// the same revision wrote the same words.
    pub fn change_cause_inherited(&self, revision: &Revision) -> bool {
        let made_by_revert =
            self.revert_of(revision).is_some() || self.reverted_change(revision).is_some();
        !made_by_revert
            && revision.change_cause.is_some()
            && self
                .previous(revision.number)
                .is_some_and(|p| p.change_cause == revision.change_cause)
    }

    /// The change cause written for `revision` itself, if any.
    pub fn own_change_cause<'a>(&self, revision: &'a Revision) -> Option<&'a str> {
        if self.change_cause_inherited(revision) {
            return None;
        }
        revision.change_cause.as_deref()
    }

    /// What `revision` changed against the previous existing revision; `None` for the first.
    pub fn changes(&self, revision: &Revision) -> Option<Vec<Change>> {
        let previous = self.previous(revision.number)?;
        Some(change::template_changes(
            &previous.template,
            &revision.template,
        ))
    }

    /// The pair `diff` compares: `from` and `to` when given, by default the revision before the
    /// current one and the current one; with only `from`, `from` against the current one.
    pub fn diff_pair(
        &self,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<(&Revision, &Revision), HistoryError> {
        let to = match to {
            Some(n) => self.get(n)?,
            None => self.current()?,
        };
        let from = match from {
            Some(n) => self.get(n)?,
            None => self
                .previous(to.number)
                .ok_or_else(|| HistoryError::NoPrevious {
                    workload: self.workload(),
                    revision: to.number,
                })?,
        };
        Ok((from, to))
    }
}

/// One revision per number, ascending, keeping the object `kubectl rollout undo --to-revision`
/// would pick and warning about the other.
///
/// kubectl's rule (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollback.go):
/// - Deployments, `deploymentRevision`: the first match in `allOldRSs` followed by `newRS`, from
///   `GetAllReplicaSets` (staging/src/k8s.io/kubectl/pkg/util/deployment/deployment.go), whose
///   `findNewReplicaSet` sorts the list by creation time (ties by name) and takes as `newRS` the
///   oldest ReplicaSet whose template equals the Deployment's but for `pod-template-hash`
///   (`equalIgnoreHash`). So: the oldest that is not the new one, else the new one.
/// - StatefulSets and DaemonSets, `findHistory`: the first match in list order, which is by
///   name.
fn dedupe(
    kind: WorkloadKind,
    mut revisions: Vec<Revision>,
    live: Option<&Value>,
    warnings: &mut Vec<HistoryWarning>,
) -> Vec<Revision> {
    revisions.sort_by(|a, b| (a.created_at, &a.object).cmp(&(b.created_at, &b.object)));
    let new_object = live.and_then(|live| {
        revisions
            .iter()
            .find(|r| template::without_hashes(&r.template) == template::without_hashes(live))
            .map(|r| r.object.clone())
    });
    let preference = |r: &Revision| match kind {
        WorkloadKind::Deployment => (
            Some(&r.object) == new_object.as_ref(),
            r.created_at,
            r.object.clone(),
        ),
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => (false, None, r.object.clone()),
    };
    revisions.sort_by_key(|r| (r.number, preference(r)));
    let mut kept: Vec<Revision> = Vec::with_capacity(revisions.len());
    for revision in revisions {
        match kept.last() {
            Some(used) if used.number == revision.number => {
                warnings.push(HistoryWarning::Duplicate {
                    revision: revision.number,
                    kind: kind.history_kind(),
                    used: used.object.clone(),
                    ignored: revision.object,
                });
            }
            _ => kept.push(revision),
        }
    }
    kept
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn revision(number: u64, image: &str) -> Revision {
        Revision {
            number,
            created_at: None,
            template: json!({
                "metadata": {"labels": {"app": "a", "pod-template-hash": format!("h{number}")}},
                "spec": {"containers": [{"name": "nginx", "image": image}]},
            }),
            change_cause: None,
            earlier_numbers: Vec::new(),
            object: format!("a-h{number}"),
            pods: None,
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn config_changed_compares_recorded_digests_with_todays() {
        let mut recorded = revision(1, "nginx:1.16");
        let digests =
            r#"{"ConfigMap/a": "sha256:1", "ConfigMap/b": "sha256:2", "Secret/c": "sha256:3"}"#;
        recorded
            .annotations
            .insert(crate::CONFIG_DIGESTS.to_owned(), digests.to_owned());
        let mut history = History::new(
            WorkloadKind::Deployment,
            "ns",
            "a",
            vec![recorded, revision(2, "nginx:1.17")],
            Current::Unknown,
        );
        // Nothing read yet: nothing is said to have changed.
        assert_eq!(
            history.config_changed(&history.revisions[0]),
            Vec::<String>::new()
        );
        history.config_today = BTreeMap::from([
            ("ConfigMap/a".to_owned(), Some("sha256:1".to_owned())),
            ("ConfigMap/b".to_owned(), Some("sha256:9".to_owned())),
            ("Secret/c".to_owned(), None),
        ]);
        assert_eq!(history.config_changed(&history.revisions[0]), ["b", "c"]);
        assert_eq!(
            history.config_changed(&history.revisions[1]),
            Vec::<String>::new()
        );
    }

    fn history(current: Current) -> History {
        let revisions = vec![
            revision(4, "nginx:1.17"),
            revision(1, "nginx:1.16"),
            revision(3, "nginx:1.18"),
        ];
        History::new(WorkloadKind::Deployment, "ns", "a", revisions, current)
    }

    fn numbers(h: &History) -> Vec<u64> {
        h.revisions.iter().map(|r| r.number).collect()
    }

    #[test]
    fn orders_revisions() {
        assert_eq!(numbers(&history(Current::Unknown)), [1, 3, 4]);
    }

    #[test]
    fn resolves_the_current_revision_each_way() {
        assert_eq!(history(Current::Number(3)).current, Some(3));
        assert_eq!(history(Current::Object("a-h4".into())).current, Some(4));
        let live = json!({"metadata": {"labels": {"app": "a"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.16"}]}});
        assert_eq!(history(Current::Template(live)).current, Some(1));
        assert_eq!(history(Current::Number(2)).current, None);
        assert_eq!(history(Current::Unknown).current, None);
    }

    #[test]
    fn names_existing_revisions_when_one_is_missing() {
        let err = history(Current::Number(4)).get(2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "revision 2 is not in the history of deployment.apps/a; it has revisions 1, 3, 4"
        );
    }

    #[test]
    fn diff_defaults_to_previous_against_current() {
        let h = history(Current::Number(4));
        let pair = |from, to| {
            h.diff_pair(from, to)
                .map(|(a, b)| (a.number, b.number))
                .map_err(|e| e.to_string())
        };
        assert_eq!(pair(None, None), Ok((3, 4)));
        assert_eq!(pair(Some(1), None), Ok((1, 4)));
        assert_eq!(pair(Some(4), Some(1)), Ok((4, 1)));
        assert_eq!(
            pair(None, Some(1)),
            Err(
                "revision 1 is the first in the history of deployment.apps/a; \
                 name another to compare with"
                    .to_owned()
            )
        );
    }

    #[test]
    fn an_empty_history_says_so() {
        let h = History::new(WorkloadKind::DaemonSet, "ns", "d", vec![], Current::Unknown);
        assert!(matches!(h.get(1), Err(HistoryError::Empty { .. })));
        assert!(matches!(h.current(), Err(HistoryError::Empty { .. })));
    }

    #[test]
    fn reads_containers_and_revert_marker() {
        let mut r = revision(5, "nginx:1.17");
        assert_eq!(r.revert_marker(), None);
        r.template["metadata"]["annotations"] = json!({template::REVERT_OF: "2"});
        assert_eq!(r.revert_marker(), Some(2));
        assert_eq!(
            r.containers(),
            [Container {
                name: "nginx".into(),
                image: "nginx:1.17".into()
            }]
        );
    }

    /// A revision with the image and the markers of a revert made at `at`.
    fn marked(number: u64, image: &str, marker: (&str, &str), at: &str) -> Revision {
        let mut r = revision(number, image);
        r.template["metadata"]["annotations"] =
            json!({marker.0: marker.1, template::REVERTED_AT: at});
        r
    }

    fn attribution(revisions: Vec<Revision>) -> Vec<(u64, Option<u64>, Option<u64>)> {
        let h = History::new(
            WorkloadKind::Deployment,
            "ns",
            "a",
            revisions,
            Current::Unknown,
        );
        h.revisions
            .iter()
            .map(|r| (r.number, h.revert_of(r), h.reverted_change(r)))
            .collect()
    }

    #[test]
    fn a_revert_is_attributed_to_the_revision_it_made_only() {
        let of = |n| (template::REVERT_OF, n);
        let change = |n| (template::REVERTED_CHANGE, n);
        assert_eq!(
            attribution(vec![
                revision(1, "nginx:1.1"),
                revision(2, "nginx:1.2"),
                // Revert to 1, then `kubectl set image` inherits the markers.
                marked(3, "nginx:1.1", of("1"), "t3"),
                marked(4, "nginx:1.3", of("1"), "t3"),
                // A revert of the revert (to 4), then a second revert to 1.
                marked(5, "nginx:1.3", of("4"), "t5"),
                marked(6, "nginx:1.1", of("1"), "t6"),
                // A revert of one change, then a restart that inherited its markers.
                marked(7, "nginx:1.2", change("6"), "t7"),
                marked(8, "nginx:1.2", change("6"), "t7"),
            ]),
            [
                (1, None, None),
                (2, None, None),
                (3, Some(1), None),
                (4, None, None),
                (5, Some(4), None),
                (6, Some(1), None),
                (7, None, Some(6)),
                (8, None, None),
            ]
        );
    }

    #[test]
    fn a_revert_whose_content_differs_from_its_target_is_no_revert() {
        // Someone wrote the markers by hand onto another template; revision 1 still exists.
        let of = (template::REVERT_OF, "1");
        assert_eq!(
            attribution(vec![
                revision(1, "nginx:1.1"),
                marked(2, "nginx:9", of, "t")
            ]),
            [(1, None, None), (2, None, None)]
        );
        // Once revision 1 is pruned, the marker is all there is.
        assert_eq!(
            attribution(vec![marked(2, "nginx:9", of, "t")]),
            [(2, Some(1), None)]
        );
    }

    #[test]
    fn a_copied_cause_is_inherited() {
        let mut revisions = vec![revision(1, "nginx:1.1"), revision(2, "nginx:1.2")];
        revisions.push(revision(3, "nginx:1.3"));
        revisions[1].change_cause = Some("release 1.2".into());
        revisions[2].change_cause = Some("release 1.2".into());
        let h = History::new(
            WorkloadKind::Deployment,
            "ns",
            "a",
            revisions,
            Current::Unknown,
        );
        let inherited: Vec<(bool, Option<&str>)> = h
            .revisions
            .iter()
            .map(|r| (h.change_cause_inherited(r), h.own_change_cause(r)))
            .collect();
        assert_eq!(
            inherited,
            [(false, None), (false, Some("release 1.2")), (true, None)]
        );
        let changes = h.changes(&h.revisions[2]).unwrap();
        assert_eq!(crate::change::summary(&changes), "nginx 1.2 -> 1.3");
        assert_eq!(h.changes(&h.revisions[0]), None);
        // A second revert to revision 1 writes the same cause as the first, which revision 4
        // inherited: it is still its own.
        let cause = Some("revert to revision 1".to_owned());
        let of = (template::REVERT_OF, "1");
        let mut revisions = vec![revision(1, "nginx:1.1")];
        revisions.push(marked(2, "nginx:1.1", of, "t2"));
        revisions.push(marked(3, "nginx:1.3", of, "t2"));
        revisions.push(marked(4, "nginx:1.1", of, "t4"));
        for r in &mut revisions[1..] {
            r.change_cause.clone_from(&cause);
        }
        let h = History::new(
            WorkloadKind::Deployment,
            "ns",
            "a",
            revisions,
            Current::Unknown,
        );
        let inherited: Vec<bool> = h
            .revisions
            .iter()
            .map(|r| h.change_cause_inherited(r))
            .collect();
        assert_eq!(inherited, [false, false, true, false]);
    }

    #[test]
    fn finds_a_renumbered_revision_by_its_old_number() {
        let mut revisions = vec![revision(1, "nginx:1.1"), revision(3, "nginx:1.3")];
        let mut undone = revision(4, "nginx:1.2");
        undone.earlier_numbers = vec![2];
        revisions.push(undone);
        let h = History::new(
            WorkloadKind::Deployment,
            "ns",
            "a",
            revisions,
            Current::Unknown,
        );
        let found = h.find(2).unwrap();
        assert_eq!((found.revision.number, found.renumbered_from), (4, Some(2)));
        let found = h.find(4).unwrap();
        assert_eq!((found.revision.number, found.renumbered_from), (4, None));
        assert_eq!(h.get(2).unwrap().number, 4);
        assert!(matches!(h.find(5), Err(HistoryError::NotFound { .. })));
    }

    fn created(mut r: Revision, object: &str, second: i64) -> Revision {
        r.object = object.to_owned();
        r.created_at = Some(Timestamp::from_second(second).unwrap());
        r
    }

    #[test]
    fn duplicate_numbers_resolve_as_kubectl_rollout_undo_does() {
        // Deployments: the oldest ReplicaSet that is not the new one (the one with the live
        // template), else the new one.
        let listed = |live: &str| Listed {
            revisions: vec![
                created(revision(2, "nginx:1.2"), "a-new", 10),
                created(revision(2, "nginx:1.9"), "a-old", 20),
                created(revision(1, "nginx:1.1"), "a-one", 5),
            ],
            unnumbered: vec![Unnumbered {
                object: "a-odd".into(),
                value: Some("two".into()),
            }],
            live: Some(revision(0, live).template),
        };
        let h = History::from_listed(
            WorkloadKind::Deployment,
            "ns",
            "a",
            listed("nginx:1.2"),
            Current::Number(2),
        );
        assert_eq!(h.get(2).unwrap().object, "a-old");
        let warnings: Vec<String> = h.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                "ReplicaSet a-odd has the revision number \"two\", which is not a number; it is \
                 left out of the history and is never a revert target",
                "revision 2 is claimed by two ReplicaSets, a-old and a-new; using a-old, as \
                 `kubectl rollout undo` would",
            ]
        );
        let h = History::from_listed(
            WorkloadKind::Deployment,
            "ns",
            "a",
            listed("nginx:1.1"),
            Current::Number(1),
        );
        assert_eq!(h.get(2).unwrap().object, "a-new");
        // ControllerRevisions: the first by name.
        let revisions = vec![
            created(revision(2, "nginx:1.2"), "d-b", 1),
            created(revision(2, "nginx:1.3"), "d-a", 2),
        ];
        let h = History::new(
            WorkloadKind::DaemonSet,
            "ns",
            "d",
            revisions,
            Current::Unknown,
        );
        assert_eq!(h.get(2).unwrap().object, "d-a");
        assert_eq!(h.revisions.len(), 1);
        assert_eq!(
            h.warnings[0].to_string(),
            "revision 2 is claimed by two ControllerRevisions, d-a and d-b; using d-a, as \
             `kubectl rollout undo` would"
        );
    }
}
