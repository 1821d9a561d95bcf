//! Reverting one revision's change, as `git revert <commit>` does: a three-way merge of pod
//! templates that undoes what revision N changed against the revision before it, on top of the
//! live template, and keeps every later change.
//!
//! The merge walks the three templates as [`crate::change`] does: objects field by field, free-form
//! maps key by key, keyed lists item by item by their merge keys from the OpenAPI schema, and
//! every other list as a whole. Where N changed nothing, the live value stays; where the live
//! value is still N's, the value before N comes back; where a later revision changed what N
//! changed, that field is a [`Conflict`] (an object N added whole, a container or a probe, and
//! changed since, is one conflict as a whole, never cut down to a fragment).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::change::{self, FieldPath, Segment};
use crate::history::History;
use crate::revert::{Restored, RevertError, RevertPlan};
use crate::schema::Shape;
use crate::template;
use crate::template::set_annotation;

/// A field that revision N changed and a later change changed again: its three values
/// (`None` where it is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub path: FieldPath,
    /// Its value in the revision before N.
    pub before: Option<Value>,
    /// Its value in revision N.
    pub at: Option<Value>,
    /// Its value in the live template.
    pub live: Option<Value>,
}

/// What `revert --change N` is asked to do.
#[derive(Debug, Clone)]
pub struct ChangeRevertRequest<'a> {
    /// The revision whose change to undo (an old number of a renumbered revision works too).
    pub revision: u64,
    /// The change cause to record instead of the default one.
    pub message: Option<&'a str>,
    /// Whether the workload's rollout is paused.
    pub paused: bool,
    /// When the revert happens, recorded in the `reverted-at` marker.
    pub now: jiff::Timestamp,
}

/// Undoes what `at` changed against `before` in `live`, three pod templates, bookkeeping left
/// out: the merged template, or every field where a later change touched what `at` changed.
pub fn revert_change(before: &Value, at: &Value, live: &Value) -> Result<Value, Vec<Conflict>> {
    let (before, at, live) = (
        template::normalize(before),
        template::normalize(at),
        template::normalize(live),
    );
    let mut conflicts = Vec::new();
    let merged = merge(
        &FieldPath::default(),
        Some(&at),
        Some(&before),
        Some(&live),
        &mut conflicts,
    );
    if conflicts.is_empty() {
        Ok(merged.unwrap_or_else(|| Value::Object(Map::new())))
    } else {
        Err(conflicts)
    }
}

/// Plans `revert --change N` of `history`'s workload, whose live pod template is `live`: the
/// merged template with fresh `reverted-change` and `reverted-at` markers, the change cause and
/// the dry run's diff.
pub fn plan_change_revert(
    history: &History,
    live: &Value,
    request: &ChangeRevertRequest<'_>,
) -> Result<RevertPlan, RevertError> {
    let workload = history.workload();
    if request.paused {
        return Err(RevertError::Paused { workload });
    }
    let revision = history.get(request.revision)?;
    let number = revision.number;
    let before = history
        .previous(number)
        .ok_or_else(|| RevertError::NoChangeBefore {
            workload: workload.clone(),
            revision: number,
        })?;
    let mut merged =
        revert_change(&before.template, &revision.template, live).map_err(|conflicts| {
            RevertError::Conflicts {
                workload: workload.clone(),
                revision: number,
                before: before.number,
                conflicts,
            }
        })?;
    if template::same_content(&merged, live) {
        return Err(RevertError::NothingToRevert {
            workload,
            revision: number,
        });
    }
    set_annotation(&mut merged, template::REVERTED_CHANGE, number.to_string());
    let change_cause = match request.message {
        Some(message) => message.to_owned(),
        None => {
            let changes = change::template_changes(&before.template, &revision.template);
            format!(
                "revert change of revision {number}: {}",
                change::summary(&changes)
            )
        }
    };
    Ok(RevertPlan::stamped(
        &workload,
        live,
        merged,
        Restored::Change(number),
        change_cause,
        request.now,
    ))
}

/// The merged value at `path`: `at` is revision N's, `before` the one before it, `live` the
/// live one. `None` where the field is absent from the result.
fn merge(
    path: &FieldPath,
    at: Option<&Value>,
    before: Option<&Value>,
    live: Option<&Value>,
    conflicts: &mut Vec<Conflict>,
) -> Option<Value> {
    if at == before || live == before {
        // N changed nothing here, or a later change already undid it.
        return live.cloned();
    }
    if live == at {
        // Unchanged since N: set back.
        return before.cloned();
    }
    let merged = match path.shape() {
        // An object N added whole (a container, a probe) and changed since, or removed whole
        // and added again since: merging its fields would leave a fragment, or a mix of two
        // objects, so it is a conflict as a whole.
        None if before.is_none() || at.is_none() => None,
        shape @ (Some(Shape::Map) | None) => objects([at, before, live])
            .map(|[a, b, l]| merge_objects(path, [a, b, l], shape.is_some(), conflicts)),
        Some(Shape::KeyedList { keys, .. }) => keyed_lists([at, before, live], keys)
            .map(|[a, b, l]| merge_items(path, &a, &b, &l, conflicts)),
        Some(Shape::Set | Shape::Atomic) => None,
    };
    match merged {
        // A map or list that was absent before N and is left empty goes away again.
        Some(value) if before.is_none() && is_empty(&value) => None,
        Some(value) => Some(value),
        None => {
            conflicts.push(Conflict {
                path: path.clone(),
                before: before.cloned(),
                at: at.cloned(),
                live: live.cloned(),
            });
            live.cloned()
        }
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The three values as objects, an absent one as empty; `None` unless each is an object or
/// absent.
fn objects(values: [Option<&Value>; 3]) -> Option<[Map<String, Value>; 3]> {
    let mut maps: [Map<String, Value>; 3] = Default::default();
    for (map, value) in maps.iter_mut().zip(values) {
        match value {
            Some(Value::Object(object)) => map.clone_from(object),
            None => {}
            Some(_) => return None,
        }
    }
    Some(maps)
}

/// Merges objects key by key, in live order, then the keys that come back; `free_form` for a
/// map (labels, annotations), whose keys are named as such in paths.
fn merge_objects(
    path: &FieldPath,
    [at, before, live]: [Map<String, Value>; 3],
    free_form: bool,
    conflicts: &mut Vec<Conflict>,
) -> Value {
    let restored = before.keys().filter(|k| !live.contains_key(*k));
    let keys: Vec<String> = live.keys().chain(restored).cloned().collect();
    let mut merged = Map::new();
    for key in keys {
        let segment = if free_form {
            Segment::Key(key.clone())
        } else {
            Segment::Field(key.clone())
        };
        let value = merge(
            &path.join(segment),
            at.get(&key),
            before.get(&key),
            live.get(&key),
            conflicts,
        );
        if let Some(value) = value {
            merged.insert(key, value);
        }
    }
    Value::Object(merged)
}

type Items = Vec<(Segment, Value)>;

/// The three lists' items named by their merge keys, an absent list as empty; `None` when one
/// is not a list, or an item lacks its keys or shares them with another.
fn keyed_lists(values: [Option<&Value>; 3], keys: &[&str]) -> Option<[Items; 3]> {
    let mut lists: [Items; 3] = Default::default();
    for (list, value) in lists.iter_mut().zip(values) {
        let items = match value {
            Some(Value::Array(items)) => items.as_slice(),
            None => &[],
            Some(_) => return None,
        };
        for item in items {
            let key = change::item_key(item, keys)?;
            if list.iter().any(|(k, _)| *k == key) {
                return None;
            }
            list.push((key, item.clone()));
        }
    }
    Some(lists)
}

fn find<'a>(items: &'a Items, key: &Segment) -> Option<&'a Value> {
    items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Merges a keyed list item by item, in live order; an item that comes back is put after the
/// item it followed before N, or first when none of those is left.
fn merge_items(
    path: &FieldPath,
    at: &Items,
    before: &Items,
    live: &Items,
    conflicts: &mut Vec<Conflict>,
) -> Value {
    let mut merged: Items = Vec::new();
    for (key, item) in live {
        let value = merge(
            &path.join(key.clone()),
            find(at, key),
            find(before, key),
            Some(item),
            conflicts,
        );
        if let Some(value) = value {
            merged.push((key.clone(), value));
        }
    }
    for (index, (key, item)) in before.iter().enumerate() {
        if find(live, key).is_some() {
            continue;
        }
        let Some(value) = merge(
            &path.join(key.clone()),
            find(at, key),
            Some(item),
            None,
            conflicts,
        ) else {
            continue;
        };
        let after = before[..index]
            .iter()
            .rev()
            .find_map(|(k, _)| merged.iter().position(|(m, _)| m == k));
        let at_index = after.map_or(0, |i| i + 1);
        merged.insert(at_index, (key.clone(), value));
    }
    Value::Array(merged.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::{Current, Revision, WorkloadKind};

    /// The pod templates of a fixture's revisions by number, and its live template, as
    /// captured from the control plane.
    fn fixture(text: &str) -> (Vec<(u64, Value)>, Value) {
        let fixture: Value = serde_json::from_str(text).unwrap();
        let mut revisions: Vec<(u64, Value)> = fixture["owned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|object| {
                let number = object["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                (number, object["spec"]["template"].clone())
            })
            .collect();
        revisions.sort_by_key(|(number, _)| *number);
        (revisions, fixture["workload"]["spec"]["template"].clone())
    }

    fn story() -> (Vec<(u64, Value)>, Value) {
        fixture(include_str!(
            "../../kubectl-gitrollout/tests/fixtures/deployment-story.json"
        ))
    }

    /// Revision 1 of the captured story: nginx:1.16 with the server's defaults.
    fn first() -> Value {
        story().0[0].1.clone()
    }

    fn history(revisions: &[(u64, Value)]) -> History {
        let current = revisions.last().map(|(n, _)| *n).unwrap();
        let revisions = revisions
            .iter()
            .map(|(number, template)| Revision {
                number: *number,
                created_at: None,
                template: template.clone(),
                change_cause: None,
                earlier_numbers: Vec::new(),
                object: format!("team-app-{number}"),
                pods: None,
                annotations: BTreeMap::new(),
            })
            .collect();
        History::new(
            WorkloadKind::Deployment,
            "ns",
            "team-app",
            revisions,
            Current::Number(current),
        )
    }

    fn request(revision: u64) -> ChangeRevertRequest<'static> {
        ChangeRevertRequest {
            revision,
            message: None,
            paused: false,
            now: "2026-11-27T11:00:00Z".parse().unwrap(),
        }
    }

    /// Plans the revert of `revision`'s change with the newest revision live.
    fn plan(revisions: &[(u64, Value)], revision: u64) -> Result<RevertPlan, RevertError> {
        let live = template::normalize(&revisions.last().unwrap().1);
        plan_change_revert(&history(revisions), &live, &request(revision))
    }

    fn edit(template: &Value, f: impl FnOnce(&mut Value)) -> Value {
        let mut template = template.clone();
        f(&mut template);
        template
    }

    fn nginx(template: &mut Value) -> &mut Value {
        &mut template["spec"]["containers"][0]
    }

    fn with_markers(template: &Value, revision: &str) -> Value {
        edit(&template::normalize(template), |t| {
            t["metadata"]["annotations"] = json!({
                template::REVERTED_CHANGE: revision,
                template::REVERTED_AT: "2026-11-27T11:00:00Z",
            });
        })
    }

    #[test]
    fn an_image_change_is_reverted_and_a_later_env_change_kept() {
        let r1 = first();
        let r2 = edit(&r1, |t| nginx(t)["image"] = json!("nginx:1.17"));
        let r3 = edit(&r2, |t| {
            nginx(t)["env"] = json!([{"name": "LOG_LEVEL", "value": "debug"}]);
        });
        let plan = plan(&[(1, r1.clone()), (2, r2), (3, r3.clone())], 2).unwrap();
        let expected = edit(&r3, |t| nginx(t)["image"] = json!("nginx:1.16"));
        assert_eq!(plan.template, with_markers(&expected, "2"));
        assert_eq!(plan.target, Restored::Change(2));
        assert_eq!(
            plan.change_cause,
            "revert change of revision 2: nginx 1.16 -> 1.17"
        );
        let unified = plan.diff.unified();
        let changed: Vec<&str> = unified
            .lines()
            .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"))
            .collect();
        assert_eq!(
            changed,
            [
                "+  annotations:",
                "+    gitrollout.dev/reverted-at: \"2026-11-27T11:00:00Z\"",
                "+    gitrollout.dev/reverted-change: \"2\"",
                "-    image: nginx:1.17",
                "+    image: nginx:1.16",
            ]
        );
    }

    #[test]
    fn a_sidecar_added_by_the_change_is_removed_and_a_later_image_kept() {
        let r1 = first();
        let r2 = edit(&r1, |t| {
            let containers = t["spec"]["containers"].as_array_mut().unwrap();
            containers.push(json!({"name": "envoy", "image": "envoy:1.30"}));
        });
        let r3 = edit(&r2, |t| nginx(t)["image"] = json!("nginx:1.17"));
        let plan = plan(&[(1, r1.clone()), (2, r2.clone()), (3, r3.clone())], 2).unwrap();
        let expected = edit(&r1, |t| nginx(t)["image"] = json!("nginx:1.17"));
        assert_eq!(plan.template, with_markers(&expected, "2"));
        assert_eq!(plan.change_cause, "revert change of revision 2: +envoy");

        // A sidecar changed since it was added is a conflict as a whole, never a fragment.
        let r4 = edit(&r3, |t| {
            t["spec"]["containers"][1]["image"] = json!("envoy:1.31")
        });
        let conflicts = revert_change(&r1, &r2, &r4).unwrap_err();
        assert_eq!(
            conflicts
                .iter()
                .map(|c| (c.path.to_string(), c.before.clone(), c.live.clone()))
                .collect::<Vec<_>>(),
            [(
                "containers[envoy]".to_owned(),
                None,
                Some(json!({"name": "envoy", "image": "envoy:1.31"}))
            )]
        );
    }

    #[test]
    fn an_env_var_removed_by_the_change_comes_back_in_its_place() {
        let vars = json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"},
                          {"name": "C", "value": "3"}]);
        let r1 = edit(&first(), |t| nginx(t)["env"] = vars.clone());
        let r2 = edit(&r1, |t| {
            nginx(t)["env"].as_array_mut().unwrap().remove(1);
        });
        let r3 = edit(&r2, |t| {
            nginx(t)["image"] = json!("nginx:1.17");
            nginx(t)["env"][1]["value"] = json!("33");
        });
        let plan = plan(&[(1, r1.clone()), (2, r2.clone()), (3, r3)], 2).unwrap();
        let expected = edit(&r1, |t| {
            nginx(t)["image"] = json!("nginx:1.17");
            nginx(t)["env"][2]["value"] = json!("33");
        });
        assert_eq!(plan.template, with_markers(&expected, "2"));
        assert_eq!(plan.change_cause, "revert change of revision 2: env -B");

        // Added again since, with another value: a conflict on the whole variable.
        let r4 = edit(&r1, |t| nginx(t)["env"][1]["value"] = json!("5"));
        let conflicts = revert_change(&r1, &r2, &r4).unwrap_err();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].path.to_string(), "containers[nginx].env[B]");
        assert_eq!(conflicts[0].at, None);
    }

    #[test]
    fn a_field_changed_again_since_is_a_conflict_with_its_three_values() {
        // The captured story: 1.16, then 1.17, then 1.18; revision 2's image was changed again.
        let (revisions, live) = story();
        let h = history(&revisions);
        let err = plan_change_revert(&h, &live, &request(2)).unwrap_err();
        let RevertError::Conflicts {
            before, conflicts, ..
        } = &err
        else {
            panic!("not a conflict: {err}");
        };
        assert_eq!(*before, 1);
        assert_eq!(
            conflicts.as_slice(),
            [Conflict {
                path: FieldPath(vec![
                    Segment::Field("spec".into()),
                    Segment::Field("containers".into()),
                    Segment::Item(vec![("name".into(), "nginx".into())]),
                    Segment::Field("image".into()),
                ]),
                before: Some(json!("nginx:1.16")),
                at: Some(json!("nginx:1.17")),
                live: Some(json!("nginx:1.18")),
            }]
        );
        assert_eq!(
            err.to_string(),
            "cannot revert the change of revision 2 of deployment.apps/team-app: 1 field it \
             changed was changed again since"
        );
        // The newest change has nothing after it: reverting it is clean.
        let plan = plan_change_revert(&h, &live, &request(3)).unwrap();
        assert_eq!(
            plan.template["spec"]["containers"][0]["image"],
            json!("nginx:1.17")
        );
    }

    #[test]
    fn reverting_a_restart_removes_the_restart_annotation() {
        // Revision 5 is `kubectl rollout restart` of revision 4, itself a revert to revision 1:
        // its inherited revert markers are bookkeeping, replaced by the new ones.
        let (revisions, live) = fixture(include_str!(
            "../../kubectl-gitrollout/tests/fixtures/deployment-revert-restart.json"
        ));
        let h = history(&revisions);
        let plan = plan_change_revert(&h, &live, &request(5)).unwrap();
        let four = &revisions.iter().find(|(n, _)| *n == 4).unwrap().1;
        assert_eq!(plan.template, with_markers(four, "5"));
        assert_eq!(plan.change_cause, "revert change of revision 5: restart");
    }

    #[test]
    fn refuses_what_cannot_be_reverted() {
        let r1 = first();
        let r2 = edit(&r1, |t| nginx(t)["image"] = json!("nginx:1.17"));
        let r3 = r1.clone();
        let revisions = [(1, r1), (2, r2), (3, r3)];
        let refuse = |req: ChangeRevertRequest<'_>| {
            let live = template::normalize(&revisions[2].1);
            plan_change_revert(&history(&revisions), &live, &req)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refuse(ChangeRevertRequest {
                paused: true,
                ..request(2)
            }),
            "deployment.apps/team-app is paused, and a revert would not roll out"
        );
        assert_eq!(
            refuse(request(2)),
            "deployment.apps/team-app already runs without the change of revision 2; nothing to \
             revert"
        );
        assert_eq!(
            refuse(request(1)),
            "revision 1 is the oldest revision of deployment.apps/team-app: there is no revision \
             before it to tell what it changed"
        );
        assert_eq!(
            refuse(request(9)),
            "revision 9 is not in the history of deployment.apps/team-app; it has revisions 1, 2, 3"
        );
    }

    #[test]
    fn a_message_replaces_the_default_cause() {
        let r1 = first();
        let r2 = edit(&r1, |t| nginx(t)["image"] = json!("nginx:1.17"));
        let revisions = [(1, r1), (2, r2.clone())];
        let req = ChangeRevertRequest {
            message: Some("1.17 leaks memory"),
            ..request(2)
        };
        let plan = plan_change_revert(&history(&revisions), &r2, &req).unwrap();
        assert_eq!(plan.change_cause, "1.17 leaks memory");
    }

    #[test]
    fn keyed_lists_merge_by_every_key_and_atomic_lists_as_a_whole() {
        let c = |ports: Value, args: Value| json!({"spec": {"containers": [{"name": "app", "ports": ports, "args": args}]}});
        let port = |n: u16| json!({"containerPort": n, "protocol": "TCP"});
        // N moved port 80 to 8080 and changed args; later a port 9090 was added, args kept.
        let before = c(json!([port(80)]), json!(["-a"]));
        let at = c(json!([port(8080)]), json!(["-b"]));
        let live = c(json!([port(8080), port(9090)]), json!(["-b"]));
        assert_eq!(
            revert_change(&before, &at, &live).unwrap(),
            c(json!([port(80), port(9090)]), json!(["-a"]))
        );
        // A later change of the atomic list conflicts on the whole list.
        let live = c(json!([port(8080)]), json!(["-b", "-c"]));
        let conflicts = revert_change(&before, &at, &live).unwrap_err();
        assert_eq!(
            conflicts
                .iter()
                .map(|c| c.path.to_string())
                .collect::<Vec<_>>(),
            ["containers[app].args"]
        );
    }
}
