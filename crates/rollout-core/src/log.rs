//! A timeline across workloads, for `log`: every revision of several histories as one list,
//! newest first, each with who made it when that can be told.
//!
//! Who made a revision comes from two places. A revision this tool's `revert` (or `apply`'s
//! revert) made carries its markers, which say so for as long as it exists. The current
//! revision's maker is the field manager that last wrote the workload's pod template, as the
//! workload's `managedFields` record it: the entry that owns fields under `spec.template` with
//! the newest `time`. Older revisions have no such record, and say nothing.

use std::cmp::{Ordering, Reverse};

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use crate::change::Change;
use crate::history::{Container, History, Revision};
use crate::kind::WorkloadKind;

/// The field manager this tool writes as.
pub const OWN_MANAGER: &str = "kubectl-gitrollout";

/// One entry of an object's `metadata.managedFields`, as the API server writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedField {
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub time: Option<Timestamp>,
    /// The fields this manager owns, in the `FieldsV1` form (`{"f:spec": {"f:template": ...}}`).
    #[serde(default)]
    pub fields_v1: Option<Value>,
    /// `status` or `scale` for a write to a subresource.
    #[serde(default)]
    pub subresource: Option<String>,
}

/// Who last wrote a workload's pod template, and when, as its `managedFields` record it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateWriter {
    pub manager: Option<String>,
    pub time: Option<Timestamp>,
}

/// The last writer of the pod template: of the entries that own any field under `spec.template`
/// (not through a subresource), the one with the newest time.
///
/// Times are kept to the second, and the server orders entries of one second by manager name,
/// not by when they wrote. On a tie the entry owning fewer template fields wins: a change to a
/// few fields right after a whole template was written (a `kubectl set image` or `rollout
/// restart` the second after a create) is what happens, while a whole template written over
/// such a change would have taken those fields from it.
pub fn template_writer(fields: &[ManagedField]) -> TemplateWriter {
    let template_fields = |f: &ManagedField| {
        let template = f
            .fields_v1
            .as_ref()
            .and_then(|v| v.pointer("/f:spec/f:template"));
        template.map_or(0, leaves)
    };
    let newest = fields
        .iter()
        .filter(|f| owns_template(f.fields_v1.as_ref(), f.subresource.as_deref()))
        .max_by_key(|f| (f.time, Reverse(template_fields(f))));
    TemplateWriter {
        manager: newest
            .and_then(|n| n.manager.clone())
            .filter(|m| !m.is_empty()),
        time: newest.and_then(|n| n.time),
    }
}

/// The fields a `FieldsV1` tree names: its leaves.
fn leaves(tree: &Value) -> usize {
    match tree.as_object() {
        Some(fields) if !fields.is_empty() => fields.values().map(leaves).sum(),
        _ => 1,
    }
}

/// Whether a `managedFields` entry, by its `fieldsV1` and `subresource`, owns any field under
/// `spec.template` of the object itself: the only entries [`template_writer`] looks at.
pub fn owns_template(fields_v1: Option<&Value>, subresource: Option<&str>) -> bool {
    subresource.is_none_or(str::is_empty)
        && fields_v1
            .and_then(|v| v.pointer("/f:spec/f:template"))
            .is_some_and(|t| t.as_object().is_some_and(|o| !o.is_empty()))
}

/// A container image of a revision, init containers marked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Image {
    pub name: String,
    pub image: String,
    pub init: bool,
}

/// One revision of one workload on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When the revision was made: its object's creation time.
    pub time: Option<Timestamp>,
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    pub revision: u64,
    /// Earlier numbers of a revision `kubectl rollout undo` re-used.
    pub earlier_revisions: Vec<u64>,
    /// The ReplicaSet or ControllerRevision.
    pub object: String,
    pub images: Vec<Image>,
    /// The images that differ from the previous existing revision's (all of them for the first).
    pub changed_images: Vec<Image>,
    /// The field manager that made it, when that can be told.
    pub by: Option<String>,
    pub change_cause: Option<String>,
    pub change_cause_inherited: bool,
    /// One line of what it changed against the previous existing revision; none for the first.
    pub summary: Option<String>,
    pub revert_of: Option<u64>,
    pub reverted_change: Option<u64>,
    pub current: bool,
}

impl Entry {
    /// `deployment.apps/team-app`.
    pub fn workload(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The cause written for this revision itself, not one copied from the one before.
    pub fn own_change_cause(&self) -> Option<&str> {
        match self.change_cause_inherited {
            true => None,
            false => self.change_cause.as_deref(),
        }
    }
}

/// The entries of one history, oldest first. `writer` is the workload's [`template_writer`],
/// which names the maker of the current revision.
///
/// A revision's time is its object's creation time, but for the current revision that
/// `kubectl rollout undo` re-used (renumbered): it became current again when its template was
/// last written, so that is its time on the timeline.
pub fn entries(history: &History, writer: &TemplateWriter) -> Vec<Entry> {
    history
        .revisions
        .iter()
        .map(|revision| entry(history, revision, writer))
        .collect()
}

fn entry(history: &History, revision: &Revision, writer: &TemplateWriter) -> Entry {
    let current = history.current == Some(revision.number);
    let by = if history.made_by_gitrollout(revision) {
        Some(OWN_MANAGER.to_owned())
    } else {
        current.then(|| writer.manager.clone()).flatten()
    };
    let reused = current && !revision.earlier_numbers.is_empty();
    let time = match (revision.created_at, writer.time) {
        (Some(created), Some(written)) if reused => Some(created.max(written)),
        (created, _) => created,
    };
    let previous = history.previous(revision.number).map(images);
    let images = images(revision);
    let changed_images = match &previous {
        Some(before) => images
            .iter()
            .filter(|i| !before.contains(i))
            .cloned()
            .collect(),
        None => images.clone(),
    };
    let changes: Option<Vec<Change>> = history.changes(revision);
    Entry {
        time,
        kind: history.kind,
        namespace: history.namespace.clone(),
        name: history.name.clone(),
        revision: revision.number,
        earlier_revisions: revision.earlier_numbers.clone(),
        object: revision.object.clone(),
        changed_images,
        images,
        by,
        change_cause: revision.change_cause.clone(),
        change_cause_inherited: history.change_cause_inherited(revision),
        summary: changes.as_deref().map(crate::change::summary),
        revert_of: history.revert_of(revision),
        reverted_change: history.reverted_change(revision),
        current,
    }
}

fn images(revision: &Revision) -> Vec<Image> {
    let image = |init: bool| {
        move |c: Container| Image {
            name: c.name,
            image: c.image,
            init,
        }
    };
    let init = revision.init_containers().into_iter().map(image(true));
    init.chain(revision.containers().into_iter().map(image(false)))
        .collect()
}

/// Which entries a `log` shows: those made at or after `since`. An entry without a time
/// (an object the server gave no creation time) is kept, never silently dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    pub since: Option<Timestamp>,
}

impl Window {
    pub fn contains(&self, entry: &Entry) -> bool {
        match (self.since, entry.time) {
            (Some(since), Some(time)) => time >= since,
            _ => true,
        }
    }
}

/// The timeline's order: newest first; entries made in the same second by namespace, kind and
/// name, then the higher revision first; entries without a time last.
pub fn newest_first(a: &Entry, b: &Entry) -> Ordering {
    let key = |e: &Entry| (e.time.is_none(), Reverse(e.time));
    fn workload(e: &Entry) -> (&str, &str, &str) {
        (&e.namespace, e.kind.singular(), &e.name)
    }
    key(a)
        .cmp(&key(b))
        .then_with(|| workload(a).cmp(&workload(b)))
        .then(b.revision.cmp(&a.revision))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Current;
    use serde_json::json;

    /// The entries within `window`, in the timeline's order.
    fn timeline(entries: Vec<Entry>, window: Window) -> Vec<Entry> {
        let mut kept: Vec<Entry> = entries.into_iter().filter(|e| window.contains(e)).collect();
        kept.sort_by(newest_first);
        kept
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn revision(number: u64, at: &str, image: &str, annotations: Value) -> Revision {
        Revision {
            number,
            created_at: Some(ts(at)),
            template: json!({
                "metadata": {"labels": {"app": "a"}, "annotations": annotations},
                "spec": {"containers": [{"name": "nginx", "image": image}]},
            }),
            change_cause: None,
            earlier_numbers: Vec::new(),
            object: format!("a-{number}"),
            pods: None,
            annotations: Default::default(),
        }
    }

    fn history(name: &str, revisions: Vec<Revision>, current: u64) -> History {
        History::new(
            WorkloadKind::Deployment,
            "team",
            name,
            revisions,
            Current::Number(current),
        )
    }

    fn fields(text: &str) -> Vec<ManagedField> {
        serde_json::from_str(text).unwrap()
    }

    fn manager(text: &str) -> Option<String> {
        template_writer(&fields(text)).manager
    }

    fn writer(manager: Option<&str>, at: &str) -> TemplateWriter {
        TemplateWriter {
            manager: manager.map(str::to_owned),
            time: Some(ts(at)),
        }
    }

    /// (workload, revision, by) of each entry, in order.
    fn rows(entries: &[Entry]) -> Vec<(String, u64, Option<&str>)> {
        entries
            .iter()
            .map(|e| (e.name.clone(), e.revision, e.by.as_deref()))
            .collect()
    }

    #[test]
    fn the_newest_writer_of_the_template_made_the_current_revision() {
        // As the v1.36 control plane recorded a `kubectl create deployment`, a `kubectl set
        // image` and a `kubectl rollout restart`, with the controller's status writes between.
        let captured = include_str!("../tests/fixtures/managed-fields-restart.json");
        assert_eq!(manager(captured).as_deref(), Some("kubectl-rollout"));
        let written = template_writer(&fields(captured)).time;
        assert_eq!(written, Some(ts("2026-12-03T13:55:42Z")));
        let set_image = include_str!("../tests/fixtures/managed-fields-set-image.json");
        assert_eq!(manager(set_image).as_deref(), Some("kubectl-set"));
        // The controller's writes to status and to annotations never count.
        let status_only = r#"[
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
             "time": "2026-01-01T00:00:09Z", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:status": {"f:replicas": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update",
             "time": "2026-01-01T00:00:08Z", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:annotations": {".": {}}}}}
        ]"#;
        assert_eq!(manager(status_only), None);
        // In one second, as the server orders them (by name): the restart after the create.
        let same_second = r#"[
            {"manager": "kubectl-rollout", "operation": "Update", "time": "2026-01-01T00:00:01Z",
             "fieldsV1": {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
                 "f:kubectl.kubernetes.io/restartedAt": {}}}}}}},
            {"manager": "unknown", "operation": "Update", "time": "2026-01-01T00:00:01Z",
             "fieldsV1": {"f:spec": {"f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                 "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {"f:image": {},
                 "f:name": {}}}}}}}}
        ]"#;
        assert_eq!(manager(same_second).as_deref(), Some("kubectl-rollout"));
        assert_eq!(template_writer(&[]), TemplateWriter::default());
    }

    #[test]
    fn the_current_revision_is_attributed_and_older_ones_only_by_our_markers() {
        let reverted = json!({
            "gitrollout.dev/revert-of": "1",
            "gitrollout.dev/reverted-at": "2026-01-01T00:03:00Z",
        });
        let a = history(
            "a",
            vec![
                revision(1, "2026-01-01T00:00:00Z", "nginx:1.16", json!({})),
                revision(2, "2026-01-01T00:02:00Z", "nginx:1.17", json!({})),
                revision(3, "2026-01-01T00:03:00Z", "nginx:1.16", reverted.clone()),
                // A `kubectl set image` after the revert inherits its markers.
                revision(4, "2026-01-01T00:05:00Z", "nginx:1.18", reverted),
            ],
            4,
        );
        let b = history(
            "b",
            vec![revision(1, "2026-01-01T00:04:00Z", "nginx:1.16", json!({}))],
            1,
        );
        let mut all = entries(&a, &writer(Some("kubectl-set"), "2026-01-01T00:05:00Z"));
        all.extend(entries(&b, &TemplateWriter::default()));
        let since = Window {
            since: Some(ts("2026-01-01T00:02:00Z")),
        };
        let shown = timeline(all, since);
        assert_eq!(
            rows(&shown),
            [
                ("a".to_owned(), 4, Some("kubectl-set")),
                ("b".to_owned(), 1, None),
                ("a".to_owned(), 3, Some(OWN_MANAGER)),
                ("a".to_owned(), 2, None),
            ]
        );
        assert_eq!(shown[2].revert_of, Some(1));
        assert_eq!(shown[0].revert_of, None);
        let image = |image: &str| Image {
            name: "nginx".into(),
            image: image.into(),
            init: false,
        };
        assert_eq!(shown[0].changed_images, [image("nginx:1.18")]);
        assert_eq!(shown[0].summary.as_deref(), Some("nginx 1.16 -> 1.18"));
        assert_eq!(shown[1].changed_images, [image("nginx:1.16")]);
        assert_eq!(shown[1].summary, None);
    }

    #[test]
    fn a_revision_rollout_undo_reused_is_placed_when_it_became_current_again() {
        let mut reused = revision(4, "2026-01-01T00:01:00Z", "nginx:1.17", json!({}));
        reused.earlier_numbers = vec![2];
        let undone = history(
            "a",
            vec![
                revision(1, "2026-01-01T00:00:00Z", "nginx:1.16", json!({})),
                revision(3, "2026-01-01T00:02:00Z", "nginx:1.18", json!({})),
                reused,
            ],
            4,
        );
        let undo = writer(Some("kubectl-rollout"), "2026-01-01T00:09:00Z");
        let mut all = entries(&undone, &undo);
        all.sort_by(newest_first);
        assert_eq!(all[0].revision, 4);
        assert_eq!(all[0].time, Some(ts("2026-01-01T00:09:00Z")));
        assert_eq!(all[0].by.as_deref(), Some("kubectl-rollout"));
        assert_eq!(all[0].earlier_revisions, [2]);
        // Not current, it keeps the time it was made.
        let later = history("b", undone.revisions.clone(), 3);
        let old = entries(&later, &undo);
        assert_eq!(old[2].time, Some(ts("2026-01-01T00:01:00Z")));
    }

    #[test]
    fn ties_and_unknown_times_have_a_fixed_place() {
        let same = "2026-01-01T00:00:00Z";
        let mut undated = revision(1, same, "nginx:1", json!({}));
        undated.created_at = None;
        let mut all = entries(
            &history("b", vec![revision(1, same, "nginx:1", json!({}))], 1),
            &TemplateWriter::default(),
        );
        all.extend(entries(
            &history(
                "a",
                vec![
                    revision(1, same, "nginx:1", json!({})),
                    revision(2, same, "nginx:2", json!({})),
                ],
                2,
            ),
            &TemplateWriter::default(),
        ));
        let none = TemplateWriter::default();
        all.extend(entries(&history("c", vec![undated], 1), &none));
        let window = Window {
            since: Some(ts("2026-01-02T00:00:00Z")),
        };
        // Out of the window but for the one without a time, which is kept.
        assert_eq!(
            rows(&timeline(all.clone(), window)),
            [("c".into(), 1, None)]
        );
        assert_eq!(
            rows(&timeline(all, Window::default())),
            [
                ("a".into(), 2, None),
                ("a".into(), 1, None),
                ("b".into(), 1, None),
                ("c".into(), 1, None),
            ]
        );
    }
}
