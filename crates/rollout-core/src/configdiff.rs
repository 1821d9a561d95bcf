//! What changed in the configuration between two revisions: which referenced objects pair up
//! (the same name, or a generator's renamed one), and how their content differs. A ConfigMap's
//! data is a unified diff; a Secret's is its key names alone, never a value.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::config::{ConfigKind, Reference};
use crate::diff::TemplateDiff;

/// One referenced object at the two revisions: `from` at the older, `to` at the newer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub kind: ConfigKind,
    pub from: String,
    pub to: String,
}

/// How the content of a [`Pair`] differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigDiff {
    /// A ConfigMap's `data` and `binaryData`, as YAML.
    Data(TemplateDiff),
    /// A Secret's keys whose values were added, removed or changed.
    Keys {
        from: String,
        to: String,
        added: Vec<String>,
        removed: Vec<String>,
        changed: Vec<String>,
    },
}

/// The objects of `from` and `to` (two revisions' references) that hold the same configuration:
/// the same name in both, then, of the rest, the names a generator made from one name (kustomize's
/// `app-cfg-7d9k2m5h8c`), then the one object of a kind replaced by one other.
pub fn pairs(from: &[Reference], to: &[Reference]) -> Vec<Pair> {
    let mut found = Vec::new();
    for kind in [ConfigKind::ConfigMap, ConfigKind::Secret] {
        let names = |refs: &[Reference]| -> BTreeSet<String> {
            refs.iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.name.clone())
                .collect()
        };
        let (mut gone, mut came) = (names(from), names(to));
        let same: Vec<String> = gone.intersection(&came).cloned().collect();
        for name in same {
            gone.remove(&name);
            came.remove(&name);
            found.push(pair(kind, &name, &name));
        }
        for name in gone.clone() {
            let base = generated_from(&name);
            let twin = came
                .iter()
                .find(|c| base.is_some() && generated_from(c) == base);
            if let Some(twin) = twin.cloned() {
                gone.remove(&name);
                came.remove(&twin);
                found.push(pair(kind, &name, &twin));
            }
        }
        if let ([a], [b]) = (&Vec::from_iter(gone)[..], &Vec::from_iter(came)[..]) {
            found.push(pair(kind, a, b));
        }
    }
    found
}

fn pair(kind: ConfigKind, from: &str, to: &str) -> Pair {
    Pair {
        kind,
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

/// The name a generator suffixed with its content hash (`app-cfg` of `app-cfg-7d9k2m5h8c`): a
/// dash and ten lowercase letters and digits.
fn generated_from(name: &str) -> Option<&str> {
    let (base, hash) = name.rsplit_once('-')?;
    let hashed = hash.len() == 10
        && hash
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (hashed && !base.is_empty()).then_some(base)
}

/// How `from` and `to` (the objects as the API gives them, each with a label saying which it is)
/// differ in content; `None` when they hold the same.
pub fn compare(
    kind: ConfigKind,
    (from, from_label): (&Value, String),
    (to, to_label): (&Value, String),
) -> Option<ConfigDiff> {
    match kind {
        ConfigKind::ConfigMap => {
            let diff = TemplateDiff {
                from_label,
                to_label,
                from_yaml: crate::yaml::to_yaml(&content(from)),
                to_yaml: crate::yaml::to_yaml(&content(to)),
            };
            (!diff.is_empty()).then_some(ConfigDiff::Data(diff))
        }
        ConfigKind::Secret => {
            let (old, new) = (entries(from), entries(to));
            let keys = |keep: &dyn Fn(&String) -> bool, side: &Map<String, Value>| {
                side.keys().filter(|k| keep(k)).cloned().collect::<Vec<_>>()
            };
            let added = keys(&|k| !old.contains_key(k), &new);
            let removed = keys(&|k| !new.contains_key(k), &old);
            let changed = keys(&|k| new.get(k).is_some_and(|v| old.get(k) != Some(v)), &old);
            let same = added.is_empty() && removed.is_empty() && changed.is_empty();
            (!same).then_some(ConfigDiff::Keys {
                from: from_label,
                to: to_label,
                added,
                removed,
                changed,
            })
        }
    }
}

/// A ConfigMap's content, with the parts it has: `{data: ..., binaryData: ...}`.
fn content(object: &Value) -> Value {
    let mut content = json!({});
    for field in ["data", "binaryData"] {
        if let Some(value) = object
            .get(field)
            .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        {
            content[field] = value.clone();
        }
    }
    content
}

/// A Secret's entries, `data` and `stringData` alike, by key.
fn entries(object: &Value) -> Map<String, Value> {
    let part = |field: &str| object.get(field).and_then(Value::as_object).cloned();
    let mut all = part("data").unwrap_or_default();
    all.extend(part("stringData").unwrap_or_default());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(kind: ConfigKind, names: &[&str]) -> Vec<Reference> {
        names
            .iter()
            .map(|n| Reference {
                kind,
                name: (*n).to_owned(),
                optional: false,
            })
            .collect()
    }

    #[test]
    fn objects_pair_by_name_then_by_generator_then_alone() {
        use ConfigKind::{ConfigMap, Secret};
        let mut from = refs(ConfigMap, &["app-cfg-7d9k2m5h8c", "flags-b5g6h7k8m9", "ca"]);
        from.extend(refs(Secret, &["db-old"]));
        let mut to = refs(ConfigMap, &["app-cfg-2t4b6c8d9f", "flags-mm5g6h7k8t", "ca"]);
        to.extend(refs(Secret, &["db-new"]));
        assert_eq!(
            pairs(&from, &to),
            [
                pair(ConfigMap, "ca", "ca"),
                pair(ConfigMap, "app-cfg-7d9k2m5h8c", "app-cfg-2t4b6c8d9f"),
                pair(ConfigMap, "flags-b5g6h7k8m9", "flags-mm5g6h7k8t"),
                pair(Secret, "db-old", "db-new"),
            ]
        );
        // Two renamed without a generator's names: which became which is not known.
        let two = refs(ConfigMap, &["a", "b"]);
        assert_eq!(pairs(&two, &refs(ConfigMap, &["c", "d"])), []);
        assert_eq!(pairs(&two, &[]), []);
    }

    #[test]
    fn a_configmap_differs_by_its_data() {
        let a = json!({"metadata": {"name": "a"}, "data": {"LOG_LEVEL": "info", "PORT": "80"}});
        let b = json!({"metadata": {"name": "b"}, "data": {"LOG_LEVEL": "debug", "PORT": "80"}});
        let labels = |x: &str| format!("configmap/{x}");
        let Some(ConfigDiff::Data(diff)) =
            compare(ConfigKind::ConfigMap, (&a, labels("a")), (&b, labels("b")))
        else {
            panic!("no data diff");
        };
        let unified = diff.unified();
        assert!(
            unified.contains("--- configmap/a\n+++ configmap/b\n"),
            "{unified}"
        );
        assert!(
            unified.contains("-  LOG_LEVEL: info\n+  LOG_LEVEL: debug\n"),
            "{unified}"
        );
        assert!(unified.contains("   PORT: \"80\"\n"), "{unified}");
        let same = json!({"data": {"PORT": "80", "LOG_LEVEL": "info"}, "binaryData": {}});
        assert_eq!(
            compare(
                ConfigKind::ConfigMap,
                (&a, labels("a")),
                (&same, labels("s"))
            ),
            None
        );
    }

    #[test]
    fn a_secret_differs_by_key_names_alone() {
        let a = json!({"data": {"user": "YQ==", "password": "cDE=", "old": "eA=="}});
        let b = json!({"data": {"user": "YQ==", "password": "cDI=", "token": "dA=="}});
        let diff = compare(
            ConfigKind::Secret,
            (&a, "secret/a".to_owned()),
            (&b, "secret/b".to_owned()),
        );
        assert_eq!(
            diff,
            Some(ConfigDiff::Keys {
                from: "secret/a".to_owned(),
                to: "secret/b".to_owned(),
                added: vec!["token".to_owned()],
                removed: vec!["old".to_owned()],
                changed: vec!["password".to_owned()],
            })
        );
        let text = format!("{diff:?}");
        assert!(!text.contains("cDE=") && !text.contains("cDI="), "{text}");
        assert_eq!(
            compare(ConfigKind::Secret, (&a, String::new()), (&a, String::new())),
            None
        );
    }
}
