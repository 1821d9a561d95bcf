//! Reverting as git reverts: a new revision whose pod template equals an old one's, marked so the
//! controller cannot re-use (and renumber) the old revision.

use jiff::Timestamp;
use serde_json::Value;

use crate::history::{History, HistoryError, Revision, containers_at};
use crate::template::set_annotation;
use crate::threeway::Conflict;
use crate::{diff::TemplateDiff, template};

/// What a revert restores.
#[derive(Debug, Clone, Copy)]
pub enum RevertTo<'a> {
    /// The revision before the current one.
    Previous,
    Revision(u64),
    /// A pod template from a manifest at a commit, for a revision that was pruned.
    Commit {
        sha: &'a str,
        template: &'a Value,
    },
}

/// What a plan restored: a revision, or a commit's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    Revision(u64),
    Commit(String),
    /// Not a revision's template: the change a revision made, undone (`revert --change`).
    Change(u64),
}

impl std::fmt::Display for Restored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restored::Revision(n) => write!(f, "revision {n}"),
            Restored::Commit(sha) => write!(f, "commit {}", &sha[..7.min(sha.len())]),
            Restored::Change(n) => write!(f, "change of revision {n}"),
        }
    }
}

/// What `revert` is asked to do.
#[derive(Debug, Clone)]
pub struct RevertRequest<'a> {
    pub target: RevertTo<'a>,
    /// The change cause to record instead of the default one.
    pub message: Option<&'a str>,
    /// Whether the workload's rollout is paused.
    pub paused: bool,
    /// When the revert happens, recorded in the `reverted-at` marker. Its fractional seconds keep
    /// two reverts to the same revision within one second from having equal templates, which the
    /// controller would merge into one renumbered revision.
    pub now: Timestamp,
}

/// The write a revert makes, computed from what was read.
#[derive(Debug, Clone, PartialEq)]
pub struct RevertPlan {
    /// What the revert restores.
    pub target: Restored,
    /// The pod template to write: the target's, with fresh revert markers.
    pub template: Value,
    /// The `kubernetes.io/change-cause` to set on the workload.
    pub change_cause: String,
    /// The live template against the one to write, revert markers included.
    pub diff: TemplateDiff,
}

/// Why a revert is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevertError {
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("{workload} is paused, and a revert would not roll out")]
    Paused { workload: String },
    #[error("{workload} already runs the pod template of {target}; nothing to revert")]
    AlreadyCurrent { workload: String, target: Restored },
    #[error("{workload} has no revision before the current one ({current}) to revert to")]
    NoPrevious { workload: String, current: u64 },
    #[error(
        "revision {revision} is the oldest revision of {workload}: there is no revision before it \
         to tell what it changed"
    )]
    NoChangeBefore { workload: String, revision: u64 },
    #[error("{workload} already runs without the change of revision {revision}; nothing to revert")]
    NothingToRevert { workload: String, revision: u64 },
    #[error(
        "cannot revert the change of revision {revision} of {workload}: {} it changed {} changed \
         again since",
        fields(conflicts.len()), if conflicts.len() == 1 { "was" } else { "were" }
    )]
    Conflicts {
        workload: String,
        revision: u64,
        /// The revision before it, which a full restore would go back to.
        before: u64,
        conflicts: Vec<Conflict>,
    },
}

/// Plans a revert of `history`'s workload, whose live pod template is `live`.
pub fn plan_revert(
    history: &History,
    live: &Value,
    request: &RevertRequest<'_>,
) -> Result<RevertPlan, RevertError> {
    let workload = history.workload();
    if request.paused {
        return Err(RevertError::Paused { workload });
    }
    let (target, source, markers) = target_of(history, request.target)?;
    if template::same_content(&source, live) {
        return Err(RevertError::AlreadyCurrent { workload, target });
    }

    let mut restored = template::normalize(&source);
    for (key, value) in markers {
        set_annotation(&mut restored, key, value);
    }
    let images: Vec<String> = containers(&restored).collect();
    let change_cause = match request.message {
        Some(message) => message.to_owned(),
        None => format!("revert to {target}: {}", images.join(", ")),
    };
    Ok(RevertPlan::stamped(
        &workload,
        live,
        restored,
        target,
        change_cause,
        request.now,
    ))
}

impl RevertPlan {
    /// The plan that writes `template` stamped with a `reverted-at` marker of `now` (which makes
    /// every revert's template unique), with its dry run's diff against `live`.
    pub(crate) fn stamped(
        workload: &str,
        live: &Value,
        mut template: Value,
        target: Restored,
        change_cause: String,
        now: Timestamp,
    ) -> Self {
        set_annotation(&mut template, template::REVERTED_AT, now.to_string());
        let action = match &target {
            Restored::Change(_) => format!("revert {target}"),
            _ => format!("revert to {target}"),
        };
        let diff = crate::diff::diff_raw(
            live,
            format!("{workload} (live)"),
            &template,
            format!("{workload} ({action})"),
        );
        RevertPlan {
            target,
            template,
            change_cause,
            diff,
        }
    }
}

/// What a revert restores: its name, its template, and the marker that says so.
type Source = (Restored, Value, [(&'static str, String); 1]);

/// What a revert to `to` restores.
fn target_of(history: &History, to: RevertTo<'_>) -> Result<Source, RevertError> {
    Ok(match to {
        RevertTo::Commit { sha, template } => (
            Restored::Commit(sha.to_owned()),
            template.clone(),
            [(template::RESTORED_FROM, sha.to_owned())],
        ),
        RevertTo::Revision(number) => revision_target(history.get(number)?),
        RevertTo::Previous => {
            let current = history.current()?;
            let previous = history
                .previous(current.number)
                .ok_or(RevertError::NoPrevious {
                    workload: history.workload(),
                    current: current.number,
                })?;
            revision_target(previous)
        }
    })
}

fn revision_target(revision: &Revision) -> Source {
    (
        Restored::Revision(revision.number),
        revision.template.clone(),
        [(template::REVERT_OF, revision.number.to_string())],
    )
}

/// `name=image` of each container of a template, init containers first as `init:name=image`.
fn containers(template: &Value) -> impl Iterator<Item = String> {
    let init = containers_at(template, "/spec/initContainers")
        .into_iter()
        .map(|c| format!("init:{c}"));
    let regular = containers_at(template, "/spec/containers")
        .into_iter()
        .map(|c| c.to_string());
    init.chain(regular)
}

/// Whether `template` is the one a plan wrote: the same revert markers, to the second.
pub fn made_by(plan: &RevertPlan, template: &Value) -> bool {
    template::MARKERS
        .iter()
        .all(|key| template::annotation(template, key) == template::annotation(&plan.template, key))
}

/// `1 field`, `2 fields`.
fn fields(count: usize) -> String {
    if count == 1 {
        "1 field".to_owned()
    } else {
        format!("{count} fields")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::{Current, WorkloadKind};

    fn template(image: &str, hash: &str, markers: Option<(&str, &str)>) -> Value {
        let mut t = json!({
            "metadata": {"labels": {"app": "a", "pod-template-hash": hash}},
            "spec": {"containers": [{"name": "nginx", "image": image}]},
        });
        if let Some((of, at)) = markers {
            t["metadata"]["annotations"] =
                json!({template::REVERT_OF: of, template::REVERTED_AT: at});
        }
        t
    }

    fn history(current: u64, revisions: &[(u64, Value)]) -> History {
        let revisions = revisions
            .iter()
            .map(|(number, template)| Revision {
                number: *number,
                created_at: None,
                template: template.clone(),
                change_cause: None,
                earlier_numbers: Vec::new(),
                object: format!("a-{number}"),
                pods: None,
                annotations: BTreeMap::new(),
            })
            .collect();
        History::new(
            WorkloadKind::Deployment,
            "ns",
            "a",
            revisions,
            Current::Number(current),
        )
    }

    fn story() -> History {
        history(
            3,
            &[
                (1, template("nginx:1.16", "h1", None)),
                (2, template("nginx:1.17", "h2", None)),
                (3, template("nginx:1.18", "h3", None)),
            ],
        )
    }

    fn request(target: Option<u64>) -> RevertRequest<'static> {
        RevertRequest {
            target: target.map_or(RevertTo::Previous, RevertTo::Revision),
            message: None,
            paused: false,
            now: "2026-11-26T02:00:00Z".parse().unwrap(),
        }
    }

    fn live(history: &History) -> Value {
        let mut t = history.current().unwrap().template.clone();
        t["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("pod-template-hash");
        t
    }

    #[test]
    fn restores_the_target_with_fresh_markers() {
        let h = story();
        let plan = plan_revert(&h, &live(&h), &request(Some(2))).unwrap();
        assert_eq!(plan.target, Restored::Revision(2));
        assert_eq!(
            plan.template,
            json!({
                "metadata": {
                    "labels": {"app": "a"},
                    "annotations": {template::REVERT_OF: "2",
                                    template::REVERTED_AT: "2026-11-26T02:00:00Z"},
                },
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.17"}]},
            })
        );
        assert_eq!(plan.change_cause, "revert to revision 2: nginx=nginx:1.17");
        insta::assert_snapshot!(plan.diff.unified(), @r#"
        --- deployment.apps/a (live)
        +++ deployment.apps/a (revert to revision 2)
        @@ -1,7 +1,10 @@
         metadata:
        +  annotations:
        +    gitrollout.dev/revert-of: "2"
        +    gitrollout.dev/reverted-at: "2026-11-26T02:00:00Z"
           labels:
             app: a
         spec:
           containers:
        -  - image: nginx:1.18
        +  - image: nginx:1.17
             name: nginx
        "#);
    }

    #[test]
    fn defaults_to_the_revision_before_the_current_one() {
        let h = story();
        let plan = plan_revert(&h, &live(&h), &request(None)).unwrap();
        assert_eq!(plan.target, Restored::Revision(2));
    }

    #[test]
    fn a_revert_of_a_revert_replaces_the_inherited_markers() {
        // Revision 4 restored revision 2; revision 5 then restored revision 3.
        let h = history(
            5,
            &[
                (1, template("nginx:1.16", "h1", None)),
                (
                    4,
                    template("nginx:1.17", "h4", Some(("2", "2026-11-25T00:00:00Z"))),
                ),
                (
                    5,
                    template("nginx:1.18", "h5", Some(("3", "2026-11-25T01:00:00Z"))),
                ),
            ],
        );
        let plan = plan_revert(&h, &live(&h), &request(Some(4))).unwrap();
        assert_eq!(
            template::annotation(&plan.template, template::REVERT_OF),
            Some("4")
        );
        assert_eq!(
            template::annotation(&plan.template, template::REVERTED_AT),
            Some("2026-11-26T02:00:00Z")
        );
        // Markers are bookkeeping: revision 5 runs what revision 3 ran.
        let current = template("nginx:1.18", "h3", None);
        assert_eq!(
            plan_revert(&h, &current, &request(Some(5))).unwrap_err(),
            RevertError::AlreadyCurrent {
                workload: "deployment.apps/a".into(),
                target: Restored::Revision(5)
            }
        );
    }

    #[test]
    fn refuses_what_cannot_be_reverted() {
        let h = story();
        let refuse = |h: &History, req: RevertRequest<'_>| {
            plan_revert(h, &live(h), &req).unwrap_err().to_string()
        };
        assert_eq!(
            refuse(
                &h,
                RevertRequest {
                    paused: true,
                    ..request(Some(2))
                }
            ),
            "deployment.apps/a is paused, and a revert would not roll out"
        );
        assert_eq!(
            refuse(&h, request(Some(3))),
            "deployment.apps/a already runs the pod template of revision 3; nothing to revert"
        );
        assert_eq!(
            refuse(&h, request(Some(7))),
            "revision 7 is not in the history of deployment.apps/a; it has revisions 1, 2, 3"
        );
        let first = history(1, &[(1, template("nginx:1.16", "h1", None))]);
        assert_eq!(
            refuse(&first, request(None)),
            "deployment.apps/a has no revision before the current one (1) to revert to"
        );
    }

    #[test]
    fn restores_a_pruned_revision_from_a_commit() {
        let h = story();
        let manifest = json!({"metadata": {"labels": {"app": "a"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.15"}]}});
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let req = RevertRequest {
            target: RevertTo::Commit {
                sha,
                template: &manifest,
            },
            ..request(None)
        };
        let plan = plan_revert(&h, &live(&h), &req).unwrap();
        assert_eq!(plan.target.to_string(), "commit 0123456");
        assert_eq!(
            plan.change_cause,
            "revert to commit 0123456: nginx=nginx:1.15"
        );
        assert_eq!(
            template::annotation(&plan.template, template::RESTORED_FROM),
            Some(sha)
        );
        assert_eq!(
            template::annotation(&plan.template, template::REVERT_OF),
            None
        );
        assert!(made_by(&plan, &plan.template));
    }

    #[test]
    fn restores_a_renumbered_revision_by_its_old_number() {
        // kubectl rollout undo re-used revision 2 as 4; revision 5 followed.
        let mut h = history(
            5,
            &[
                (1, template("nginx:1.16", "h1", None)),
                (3, template("nginx:1.18", "h3", None)),
                (4, template("nginx:1.17", "h2", None)),
                (5, template("nginx:1.19", "h5", None)),
            ],
        );
        h.revisions[2].earlier_numbers = vec![2];
        let plan = plan_revert(&h, &live(&h), &request(Some(2))).unwrap();
        assert_eq!(plan.target, Restored::Revision(4));
        assert_eq!(
            template::annotation(&plan.template, template::REVERT_OF),
            Some("4")
        );
    }

    #[test]
    fn the_default_cause_names_init_containers() {
        let mut with_init = template("nginx:1.17", "h2", None);
        with_init["spec"]["initContainers"] = json!([{"name": "setup", "image": "busybox:1.36"}]);
        let h = history(
            3,
            &[(2, with_init), (3, template("nginx:1.18", "h3", None))],
        );
        let plan = plan_revert(&h, &live(&h), &request(Some(2))).unwrap();
        assert_eq!(
            plan.change_cause,
            "revert to revision 2: init:setup=busybox:1.36, nginx=nginx:1.17"
        );
    }

    #[test]
    fn a_message_replaces_the_default_cause() {
        let h = story();
        let req = RevertRequest {
            message: Some("payments fail on 1.18"),
            ..request(Some(2))
        };
        let plan = plan_revert(&h, &live(&h), &req).unwrap();
        assert_eq!(plan.change_cause, "payments fail on 1.18");
    }

    #[test]
    fn recognises_the_revision_it_made() {
        let h = story();
        let plan = plan_revert(&h, &live(&h), &request(Some(2))).unwrap();
        let mut made = plan.template.clone();
        made["metadata"]["labels"]["pod-template-hash"] = json!("h4");
        assert!(made_by(&plan, &made));
        assert!(!made_by(&plan, &template("nginx:1.17", "h2", None)));
    }
}
