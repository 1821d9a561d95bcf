//! What applying a manifest does to a workload's history, decided before it is applied.
//!
//! The Deployment, StatefulSet and DaemonSet controllers re-use a revision whose template equals
//! the new one and renumber it (what `kubectl rollout undo` does, and what a plain `kubectl
//! apply` of a `git revert` does). So the pod template an apply will result in (known from a
//! server-side dry run) is compared with every revision first: equal to an older revision, it is
//! applied with the revert markers, so the controller makes a NEW revision that restores it;
//! equal to the current one, it is applied so that the template stays exactly as it is.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use crate::history::History;
use crate::template::{self, MARKERS, REVERT_OF, REVERTED_AT};

/// What an apply makes of a workload's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// The template equals the current revision's: no revision is made.
    Current(u64),
    /// A new revision with a template no revision has had.
    New,
    /// A new revision that restores an older one, made so by the revert markers.
    Restores(u64),
}

/// The plan for one workload: what the apply makes, and the pod template annotations to apply
/// with the manifest's template so that it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyPlan {
    pub made: Made,
    /// The pod template annotations the applied template carries besides the manifest's own.
    pub annotations: BTreeMap<String, String>,
}

impl ApplyPlan {
    /// The number of the revision this apply makes or keeps, once the controller has acted.
    pub fn revision(&self, history: &History) -> u64 {
        match self.made {
            Made::Current(n) => n,
            Made::New | Made::Restores(_) => history.next_number(),
        }
    }
}

/// Plans the apply of a workload whose template will be `desired` (the server's dry run of the
/// manifest) to a workload with `history`; `now` makes a restore's markers unique.
pub fn plan_apply(history: &History, desired: &Value, now: Timestamp) -> ApplyPlan {
    if let Ok(current) = history.current()
        && template::same_content(&current.template, desired)
    {
        // Kept exactly: a marker the current template carries (from an earlier restore) stays,
        // so the template does not change and the controller makes nothing.
        let annotations = MARKERS
            .iter()
            .filter_map(|key| {
                let value = template::annotation(&current.template, key)?;
                Some(((*key).to_owned(), value.to_owned()))
            })
            .collect();
        return ApplyPlan {
            made: Made::Current(current.number),
            annotations,
        };
    }
    let restored = history
        .revisions
        .iter()
        .rev()
        .find(|r| template::same_content(&r.template, desired));
    match restored {
        Some(revision) => ApplyPlan {
            made: Made::Restores(revision.number),
            annotations: BTreeMap::from([
                (REVERT_OF.to_owned(), revision.number.to_string()),
                (REVERTED_AT.to_owned(), now.to_string()),
            ]),
        },
        None => ApplyPlan {
            made: Made::New,
            annotations: BTreeMap::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Current, Revision, WorkloadKind};

    fn template(image: &str, annotations: Value) -> Value {
        json!({
            "metadata": {"labels": {"app": "a", "pod-template-hash": image}, "annotations": annotations},
            "spec": {"containers": [{"name": "nginx", "image": image}]},
        })
    }

    fn history(current: u64, templates: &[Value]) -> History {
        let revisions = templates
            .iter()
            .enumerate()
            .map(|(i, template)| Revision {
                number: i as u64 + 1,
                created_at: None,
                template: template.clone(),
                change_cause: None,
                earlier_numbers: Vec::new(),
                object: format!("a-{i}"),
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

    fn now() -> Timestamp {
        "2026-12-03T02:00:00Z".parse().unwrap()
    }

    fn story() -> History {
        let images = ["nginx:1.16", "nginx:1.17", "nginx:1.18"];
        let templates: Vec<Value> = images.iter().map(|i| template(i, json!({}))).collect();
        history(3, &templates)
    }

    #[test]
    fn a_git_revert_becomes_a_new_revision_that_restores_the_old_one() {
        let h = story();
        let plan = plan_apply(&h, &template("nginx:1.17", json!({})), now());
        assert_eq!(plan.made, Made::Restores(2));
        assert_eq!(plan.revision(&h), 4);
        assert_eq!(
            plan.annotations,
            BTreeMap::from([
                (REVERT_OF.to_owned(), "2".to_owned()),
                (REVERTED_AT.to_owned(), "2026-12-03T02:00:00Z".to_owned()),
            ])
        );
    }

    #[test]
    fn a_new_template_is_an_ordinary_revision() {
        let h = story();
        let plan = plan_apply(&h, &template("nginx:1.19", json!({})), now());
        assert_eq!(plan.made, Made::New);
        assert_eq!(plan.revision(&h), 4);
        assert!(plan.annotations.is_empty());
    }

    #[test]
    fn the_current_template_is_kept_exactly_markers_included() {
        let h = story();
        let plan = plan_apply(&h, &template("nginx:1.18", json!({})), now());
        assert_eq!((plan.made, plan.revision(&h)), (Made::Current(3), 3));
        assert!(plan.annotations.is_empty());

        // After a restore, the same manifest applied again keeps the markers, so the template
        // does not change back to revision 2's and the controller renumbers nothing.
        let mut templates: Vec<Value> = ["nginx:1.16", "nginx:1.17", "nginx:1.18"]
            .iter()
            .map(|i| template(i, json!({})))
            .collect();
        let markers = json!({REVERT_OF: "2", REVERTED_AT: "2026-12-03T01:00:00Z"});
        templates.push(template("nginx:1.17", markers));
        let h = history(4, &templates);
        let plan = plan_apply(&h, &template("nginx:1.17", json!({})), now());
        assert_eq!(plan.made, Made::Current(4));
        assert_eq!(
            plan.annotations.get(REVERT_OF).map(String::as_str),
            Some("2")
        );
        assert_eq!(
            plan.annotations.get(REVERTED_AT).map(String::as_str),
            Some("2026-12-03T01:00:00Z")
        );
    }
}
