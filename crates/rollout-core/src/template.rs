//! Pod templates, compared and diffed as content.
//!
//! What is bookkeeping, not content, is dropped before any comparison: the hash labels the
//! controllers add (`pod-template-hash`, `controller-revision-hash`) and this tool's own revert
//! markers. Everything else, server defaults included, is content.

use serde_json::{Map, Value};

/// The pod template annotation that marks a revision made by `revert`: the revision it restored.
pub const REVERT_OF: &str = "gitrollout.dev/revert-of";
/// The pod template annotation that makes each revert's template unique, like
/// `kubectl.kubernetes.io/restartedAt` does for `kubectl rollout restart`.
pub const REVERTED_AT: &str = "gitrollout.dev/reverted-at";

/// The pod template annotation that marks a revision restored from a manifest at a commit.
pub const RESTORED_FROM: &str = "gitrollout.dev/restored-from";

/// The pod template annotation that marks a revision made by reverting one revision's change
/// (`revert --change N`): the revision whose change it undid.
pub const REVERTED_CHANGE: &str = "gitrollout.dev/reverted-change";

const HASH_LABELS: [&str; 2] = ["pod-template-hash", "controller-revision-hash"];
/// This tool's markers: bookkeeping, like the hash labels.
pub const MARKERS: [&str; 4] = [REVERT_OF, REVERTED_AT, RESTORED_FROM, REVERTED_CHANGE];

/// The template without the controllers' hash labels, revert markers kept: what a dry run shows.
pub fn without_hashes(template: &Value) -> Value {
    strip(template.clone(), &[])
}

/// The template without bookkeeping: hash labels and revert markers removed, and label or
/// annotation maps that end up empty removed with them.
pub fn normalize(template: &Value) -> Value {
    normalized(template.clone())
}

/// [`normalize`] of a template the caller gives up, without a copy.
pub fn normalized(template: Value) -> Value {
    strip(template, &MARKERS)
}

fn strip(mut template: Value, annotations: &[&str]) -> Value {
    if let Some(metadata) = template.get_mut("metadata").and_then(Value::as_object_mut) {
        remove_keys(metadata, "labels", &HASH_LABELS);
        remove_keys(metadata, "annotations", annotations);
        if metadata.is_empty()
            && let Some(object) = template.as_object_mut()
        {
            object.remove("metadata");
        }
    }
    template
}

/// Whether two templates have the same content.
pub fn same_content(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

/// The value of a pod template annotation.
pub fn annotation<'a>(template: &'a Value, key: &str) -> Option<&'a str> {
    template
        .pointer("/metadata/annotations")?
        .get(key)?
        .as_str()
}

/// Renders a template as YAML, quoted as `-o yaml` is ([`crate::yaml`]), so a diff reads back
/// as the values it shows whatever YAML reader reads it.
pub fn to_yaml(value: &Value) -> String {
    crate::yaml::to_yaml(value)
}

/// Sets a pod template annotation, making the maps it needs.
pub fn set_annotation(template: &mut Value, key: &str, value: String) {
    let Some(object) = template.as_object_mut() else {
        return;
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(key.to_owned(), Value::String(value));
    }
}

fn remove_keys(metadata: &mut Map<String, Value>, field: &str, keys: &[&str]) {
    let Some(map) = metadata.get_mut(field).and_then(Value::as_object_mut) else {
        return;
    };
    for key in keys {
        map.remove(*key);
    }
    if map.is_empty() {
        metadata.remove(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_bookkeeping_only() {
        let template = json!({
            "metadata": {
                "labels": {"app": "team-app", "pod-template-hash": "568dd98855"},
                "annotations": {REVERT_OF: "2", REVERTED_AT: "2026-11-26T10:00:00Z",
                                "kubectl.kubernetes.io/restartedAt": "2026-11-26T09:00:00Z"},
            },
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.17"}]},
        });
        assert_eq!(
            normalize(&template),
            json!({
                "metadata": {
                    "labels": {"app": "team-app"},
                    "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-26T09:00:00Z"},
                },
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.17"}]},
            })
        );
    }

    #[test]
    fn removes_maps_left_empty() {
        let template = json!({
            "metadata": {"labels": {"controller-revision-hash": "7d9f"}, "annotations": {REVERT_OF: "1"}},
            "spec": {},
        });
        assert_eq!(normalize(&template), json!({"spec": {}}));
    }

    #[test]
    fn compares_content() {
        let a = json!({"metadata": {"labels": {"app": "a", "pod-template-hash": "1"}}, "spec": {"x": 1}});
        let b = json!({"metadata": {"labels": {"app": "a", "pod-template-hash": "2"}}, "spec": {"x": 1}});
        let c = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"x": 2}});
        assert!(same_content(&a, &b));
        assert!(!same_content(&a, &c));
    }
}
