//! The configuration a pod template reads: the ConfigMaps and Secrets it references.
//!
//! A reference is found by the field that makes it, wherever in the pod spec it is: `envFrom`'s
//! `configMapRef` and `secretRef`, `env[].valueFrom`'s `configMapKeyRef` and `secretKeyRef`,
//! the `configMap` and `secret` volumes and their `projected` sources, the `secretRef` of the
//! volume plugins that take one, and `imagePullSecrets`; in containers and init containers alike.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The kind of object a pod template references for its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ConfigKind {
    ConfigMap,
    Secret,
}

/// One object a pod template reads its configuration from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Reference {
    pub kind: ConfigKind,
    pub name: String,
    /// Whether the pods start without it: every use of it is marked `optional: true`.
    pub optional: bool,
}

/// The ConfigMaps and Secrets `template` references, by kind and name, each once.
pub fn references(template: &Value) -> Vec<Reference> {
    let mut found = BTreeMap::new();
    if let Some(spec) = template.get("spec") {
        collect(spec, &mut found);
        let pull = spec.get("imagePullSecrets").and_then(Value::as_array);
        for secret in pull.into_iter().flatten() {
            note(&mut found, ConfigKind::Secret, secret.get("name"), false);
        }
    }
    found
        .into_iter()
        .map(|((kind, name), optional)| Reference {
            kind,
            name,
            optional,
        })
        .collect()
}

/// The references anywhere in `value`, a part of a pod spec.
fn collect(value: &Value, found: &mut BTreeMap<(ConfigKind, String), bool>) {
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                if let Some(kind) = referencing(key) {
                    let name = value.get("name").or_else(|| value.get("secretName"));
                    let optional = value.get("optional").and_then(Value::as_bool);
                    note(found, kind, name, optional.unwrap_or(false));
                }
                collect(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, found)),
        _ => {}
    }
}

/// The kind a field of this name references: `configMapRef`, `secretKeyRef`, a `configMap`
/// volume...
fn referencing(key: &str) -> Option<ConfigKind> {
    match key {
        "configMapRef" | "configMapKeyRef" | "configMap" => Some(ConfigKind::ConfigMap),
        "secretRef" | "secretKeyRef" | "secret" => Some(ConfigKind::Secret),
        _ => None,
    }
}

/// Notes one use of an object: it is optional only if every use of it is.
fn note(
    found: &mut BTreeMap<(ConfigKind, String), bool>,
    kind: ConfigKind,
    name: Option<&Value>,
    optional: bool,
) {
    let Some(name) = name.and_then(Value::as_str).filter(|n| !n.is_empty()) else {
        return;
    };
    let entry = found.entry((kind, name.to_owned())).or_insert(optional);
    *entry &= optional;
}

/// The reference a part of a pod spec replaced whole (an atomic `envFrom`) renamed, `(from,
/// to)`: when it drops exactly one reference of a kind for exactly one other.
pub(crate) fn renamed(from: &Value, to: &Value) -> Option<(String, String)> {
    let names = |value: &Value| {
        let mut found = BTreeMap::new();
        collect(&serde_json::json!({ "part": value }), &mut found);
        found.into_keys().collect::<Vec<_>>()
    };
    let (before, after) = (names(from), names(to));
    let gone: Vec<_> = before.iter().filter(|r| !after.contains(r)).collect();
    let came: Vec<_> = after.iter().filter(|r| !before.contains(r)).collect();
    match (gone.as_slice(), came.as_slice()) {
        ([(kind_a, a)], [(kind_b, b)]) if kind_a == kind_b => Some((a.clone(), b.clone())),
        _ => None,
    }
}

/// Whether a field `parent.field` holds the name of a referenced object.
pub(crate) fn names_a_reference(parent: &str, field: &str) -> bool {
    referencing(parent).is_some() && (field == "name" || field == "secretName")
}

/// The annotation on a revision object with the digest of each ConfigMap and Secret its
/// template referenced when the revision was applied or recorded: a JSON object from
/// [`config_key`] to [`digest`].
pub const CONFIG_DIGESTS: &str = "gitrollout.dev/config-digests";

/// `ConfigMap/app-cfg-7d`: how [`CONFIG_DIGESTS`] and [`History::config_today`] name an object.
///
/// [`History::config_today`]: crate::History::config_today
pub fn config_key(kind: ConfigKind, name: &str) -> String {
    format!("{kind:?}/{name}")
}

/// The name in a [`config_key`].
pub(crate) fn name_of_key(key: &str) -> &str {
    key.split_once('/').map_or(key, |(_, name)| name)
}

/// The identity of a ConfigMap's or Secret's content: `sha256:` and the hex SHA-256 of its
/// `data` and `binaryData` as canonical JSON (keys sorted). For a Secret, `data` is already
/// base64: the digest reveals nothing of a value but whether it changed.
pub fn digest(object: &Value) -> String {
    let part = |key: &str| {
        let map = object.get(key).and_then(Value::as_object);
        let sorted: BTreeMap<&String, &Value> = map.into_iter().flatten().collect();
        serde_json::to_string(&sorted).unwrap_or_default()
    };
    let mut hasher = Sha256::new();
    for key in ["data", "binaryData"] {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        hasher.update(part(key).as_bytes());
        hasher.update([0]);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The digests a revision object recorded, by [`config_key`]; none when the annotation is
/// absent or not a JSON object of strings.
pub fn recorded_digests(annotations: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    annotations
        .get(CONFIG_DIGESTS)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reference(kind: ConfigKind, name: &str, optional: bool) -> Reference {
        Reference {
            kind,
            name: name.to_owned(),
            optional,
        }
    }

    #[test]
    fn every_field_that_references_config_is_found() {
        let template = json!({"spec": {
            "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
            "containers": [{
                "name": "app",
                "envFrom": [{"configMapRef": {"name": "app-cfg-7d"}}],
                "env": [
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "a", "optional": true}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
            }],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "app-cfg-7d", "optional": true}},
                {"name": "tls", "secret": {"secretName": "tls"}},
                {"name": "all", "projected": {"sources": [
                    {"configMap": {"name": "ca"}},
                    {"secret": {"name": "token", "optional": true}},
                    {"serviceAccountToken": {"path": "t"}},
                ]}},
                {"name": "data", "emptyDir": {}},
            ],
            "imagePullSecrets": [{"name": "registry"}],
        }});
        use ConfigKind::{ConfigMap, Secret};
        assert_eq!(
            references(&template),
            [
                // Required by envFrom though the volume's use is optional.
                reference(ConfigMap, "app-cfg-7d", false),
                reference(ConfigMap, "ca", false),
                reference(ConfigMap, "flags", true),
                reference(Secret, "db", false),
                reference(Secret, "init-env", false),
                reference(Secret, "registry", false),
                reference(Secret, "tls", false),
                reference(Secret, "token", true),
            ]
        );
        assert_eq!(references(&json!({"spec": {"containers": []}})), []);
    }

    #[test]
    fn a_digest_is_of_the_content_alone() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1"}, "data": {"x": "1", "y": "2"}});
        let b = json!({"metadata": {"name": "b"}, "data": {"y": "2", "x": "1"}});
        assert_eq!(digest(&a), digest(&b));
        assert!(digest(&a).starts_with("sha256:") && digest(&a).len() == 7 + 64);
        let changed = json!({"data": {"x": "1", "y": "3"}});
        assert_ne!(digest(&a), digest(&changed));
        // The same bytes as data or as binaryData are different content.
        assert_ne!(
            digest(&json!({"data": {"x": "MQ=="}})),
            digest(&json!({"binaryData": {"x": "MQ=="}}))
        );
        assert_eq!(digest(&json!({})), digest(&json!({"data": {}})));
    }

    #[test]
    fn recorded_digests_are_read_from_their_annotation() {
        let key = config_key(ConfigKind::ConfigMap, "app-cfg");
        assert_eq!(key, "ConfigMap/app-cfg");
        assert_eq!(name_of_key(&key), "app-cfg");
        let annotations = BTreeMap::from([(
            CONFIG_DIGESTS.to_owned(),
            format!("{{\"{key}\": \"sha256:00\"}}"),
        )]);
        assert_eq!(
            recorded_digests(&annotations),
            BTreeMap::from([(key, "sha256:00".to_owned())])
        );
        let broken = BTreeMap::from([(CONFIG_DIGESTS.to_owned(), "[1]".to_owned())]);
        assert_eq!(recorded_digests(&broken), BTreeMap::new());
    }

    #[test]
    fn a_reference_replaced_in_a_part_is_a_rename() {
        let from = json!([{"configMapRef": {"name": "app-cfg-7d"}}, {"secretRef": {"name": "s"}}]);
        let to = json!([{"configMapRef": {"name": "app-cfg-9f"}}, {"secretRef": {"name": "s"}}]);
        assert_eq!(
            renamed(&from, &to),
            Some(("app-cfg-7d".to_owned(), "app-cfg-9f".to_owned()))
        );
        let added = json!([{"configMapRef": {"name": "a"}}, {"configMapRef": {"name": "b"}}]);
        assert_eq!(
            renamed(&json!([{"configMapRef": {"name": "a"}}]), &added),
            None
        );
        let other_kind = json!([{"secretRef": {"name": "b"}}]);
        assert_eq!(
            renamed(&json!([{"configMapRef": {"name": "a"}}]), &other_kind),
            None
        );
    }
}
