//! Snapshots: an immutable copy of a ConfigMap or Secret a revision read, owned by the revision's
//! ReplicaSet or ControllerRevision so that the garbage collector deletes it with the revision,
//! and named from the revision object and the source so that a revert finds it without a search.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::{ConfigKind, config_key, digest};

/// The annotation on a snapshot: the [`config_key`] of the object it copies.
pub const SNAPSHOT_OF: &str = "gitrollout.dev/snapshot-of";
/// The annotation on a snapshot: the [`digest`] of the content it holds.
pub const SNAPSHOT_DIGEST: &str = "gitrollout.dev/snapshot-digest";
/// The label every snapshot carries: `kubectl get configmaps -l gitrollout.dev/snapshot`.
pub const SNAPSHOT_LABEL: &str = "gitrollout.dev/snapshot";

/// The longest name a ConfigMap or Secret may have (a DNS subdomain).
const MAX_NAME: usize = 253;

/// The object a snapshot belongs to: the revision's ReplicaSet or ControllerRevision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `ReplicaSet` or `ControllerRevision`.
    pub kind: &'static str,
    pub name: String,
    pub uid: String,
}

/// `team-app-5d4f.app-cfg`: the name of the snapshot of `source` kept for `revision_object`.
/// Both are DNS subdomains, so the two joined by a dot is one too; past the longest name allowed,
/// the end is replaced by a digest of the whole, so different pairs keep different names.
pub fn snapshot_name(revision_object: &str, source: &str) -> String {
    let joined = format!("{revision_object}.{source}");
    if joined.len() <= MAX_NAME {
        return joined;
    }
    let hash = Sha256::digest(joined.as_bytes());
    let hex: String = hash.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let head = joined[..MAX_NAME - hex.len() - 1].trim_end_matches(['.', '-']);
    format!("{head}.{hex}")
}

/// The snapshot of `object` (a ConfigMap or Secret as the API gives it) for `owner`: its content
/// (and a Secret's type) alone, immutable, none of the source's labels or annotations (a GitOps
/// tool's tracking marks would make it the tool's to prune).
pub fn snapshot(kind: ConfigKind, object: &Value, owner: &Owner) -> Value {
    let source = object.pointer("/metadata/name").and_then(Value::as_str);
    let source = source.unwrap_or_default();
    let mut copy = json!({
        "apiVersion": "v1",
        "kind": format!("{kind:?}"),
        "metadata": {
            "name": snapshot_name(&owner.name, source),
            "labels": {SNAPSHOT_LABEL: "true"},
            "annotations": {
                SNAPSHOT_OF: config_key(kind, source),
                SNAPSHOT_DIGEST: digest(object),
            },
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": owner.kind,
                "name": owner.name,
                "uid": owner.uid,
            }],
        },
        "immutable": true,
    });
    let fields = ["data", "binaryData", "type"];
    if let Some(map) = copy.as_object_mut() {
        for field in fields
            .into_iter()
            .filter_map(|f| object.get(f).map(|v| (f, v)))
        {
            map.insert(field.0.to_owned(), field.1.clone());
        }
    }
    copy
}

/// Whether `object` is the snapshot of `source` (a [`config_key`]): what its annotation says.
pub fn is_snapshot_of(object: &Value, source: &str) -> bool {
    let annotations = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object);
    annotations
        .and_then(|a| a.get(SNAPSHOT_OF))
        .and_then(Value::as_str)
        == Some(source)
}

/// The content of `snapshot` restored onto `live` (the object as the server holds it, for its
/// resourceVersion), or, when `live` is gone, a new object named `name`: the data, binaryData
/// and type of the snapshot, and the live object's own metadata.
pub fn restored(snapshot: &Value, live: Option<&Value>, kind: ConfigKind, name: &str) -> Value {
    let mut object = match live {
        Some(live) => live.clone(),
        None => {
            json!({"apiVersion": "v1", "kind": format!("{kind:?}"), "metadata": {"name": name}})
        }
    };
    if let Some(map) = object.as_object_mut() {
        for field in ["data", "binaryData"] {
            map.remove(field);
        }
        let content: Map<String, Value> = ["data", "binaryData", "type"]
            .into_iter()
            .filter_map(|f| snapshot.get(f).map(|v| (f.to_owned(), v.clone())))
            .collect();
        map.extend(content);
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            kind: "ReplicaSet",
            name: "web-5d4f".to_owned(),
            uid: "u-1".to_owned(),
        }
    }

    #[test]
    fn a_snapshot_name_is_the_revision_object_and_the_source() {
        assert_eq!(snapshot_name("web-5d4f", "app-cfg"), "web-5d4f.app-cfg");
        let long = "a".repeat(200);
        let (one, two) = (
            snapshot_name(&long, &"b-".repeat(40)),
            snapshot_name(&long, &"b-".repeat(41)),
        );
        assert_eq!(one.len(), 253);
        assert_ne!(one, two);
        let dns = |name: &str| {
            name.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
        };
        assert!(dns(&one) && dns(&two), "{one} {two}");
    }

    #[test]
    fn a_snapshot_holds_the_content_alone_and_is_owned_by_the_revision() {
        let source = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "resourceVersion": "7", "labels": {"app.kubernetes.io/instance": "web"},
                         "annotations": {"argocd.argoproj.io/tracking-id": "x"}},
            "type": "kubernetes.io/basic-auth",
            "data": {"password": "cw=="},
        });
        let copy = snapshot(ConfigKind::Secret, &source, &owner());
        assert_eq!(
            copy,
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {
                    "name": "web-5d4f.db",
                    "labels": {SNAPSHOT_LABEL: "true"},
                    "annotations": {SNAPSHOT_OF: "Secret/db", SNAPSHOT_DIGEST: digest(&source)},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f", "uid": "u-1"}],
                },
                "immutable": true,
                "type": "kubernetes.io/basic-auth",
                "data": {"password": "cw=="},
            })
        );
        assert_eq!(digest(&copy), digest(&source));
        assert!(is_snapshot_of(&copy, "Secret/db"));
        assert!(!is_snapshot_of(&copy, "ConfigMap/db"));
        assert!(!is_snapshot_of(&source, "Secret/db"));
    }

    #[test]
    fn a_restore_puts_the_snapshots_content_on_the_live_object() {
        let snap = json!({"metadata": {"name": "web-5d4f.cfg"}, "data": {"a": "1"}});
        let live = json!({"metadata": {"name": "cfg", "resourceVersion": "9"}, "data": {"a": "2"}, "binaryData": {"b": "AA=="}});
        let back = restored(&snap, Some(&live), ConfigKind::ConfigMap, "cfg");
        assert_eq!(
            back,
            json!({"metadata": {"name": "cfg", "resourceVersion": "9"}, "data": {"a": "1"}})
        );
        let made = restored(&snap, None, ConfigKind::ConfigMap, "cfg");
        assert_eq!(
            made,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}})
        );
        assert_eq!(digest(&made), digest(&snap));
    }
}
