//! The history of one workload: its revisions, ascending, and which one is current.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::kind::WorkloadKind;
use crate::template;

/// One container of a pod template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub name: String,
    pub image: String,
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
        let containers = self.template.pointer("/spec/containers");
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

    /// The revision this one restored, when `revert` made it.
    pub fn revert_of(&self) -> Option<u64> {
        template::annotation(&self.template, template::REVERT_OF)?
            .parse()
            .ok()
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
    /// Ascending by number.
    pub revisions: Vec<Revision>,
    pub current: Option<u64>,
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
        mut revisions: Vec<Revision>,
        current: Current,
    ) -> Self {
        revisions.sort_by_key(|r| r.number);
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
        }
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

    pub fn get(&self, number: u64) -> Result<&Revision, HistoryError> {
        self.ensure_not_empty()?;
        self.revisions
            .iter()
            .find(|r| r.number == number)
            .ok_or_else(|| HistoryError::NotFound {
                workload: self.workload(),
                revision: number,
                existing: self.revisions.iter().map(|r| r.number).collect(),
            })
    }

    pub fn current(&self) -> Result<&Revision, HistoryError> {
        self.ensure_not_empty()?;
        let number = self.current.ok_or_else(|| HistoryError::NoCurrent {
            workload: self.workload(),
        })?;
        self.get(number)
    }

    /// The revision before `number` that still exists, if any.
    pub fn previous(&self, number: u64) -> Option<&Revision> {
        self.revisions.iter().rev().find(|r| r.number < number)
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
        assert_eq!(r.revert_of(), None);
        r.template["metadata"]["annotations"] = json!({template::REVERT_OF: "2"});
        assert_eq!(r.revert_of(), Some(2));
        assert_eq!(
            r.containers(),
            [Container {
                name: "nginx".into(),
                image: "nginx:1.17".into()
            }]
        );
    }
}
