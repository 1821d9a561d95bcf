//! What one pod template changed against another, field by field, as data.
//!
//! The walk follows the Kubernetes OpenAPI schema ([`crate::schema`]): list items are matched and
//! named by their merge keys (`containers[nginx]`, `env[LOG_LEVEL]`), objects with free-form keys
//! (labels, annotations, resource quantities) are walked by key, and every other list is compared
//! as a whole, as the API merges it. Bookkeeping (hash labels, this tool's markers) is left out.
//!
//! The same walk serves a history's `changes` and a three-way revert of one revision's change:
//! [`FieldPath`] names a field the same way in both.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::config;
use crate::schema::{self, Shape};
use crate::template;

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A field of an object: `image`.
    Field(String),
    /// A list item named by its merge keys, `(key, value)` in the schema's key order:
    /// `[("name", "nginx")]`. Values are the items' scalars as text.
    Item(Vec<(String, String)>),
    /// A key of an object with free-form keys (labels, annotations, resource quantities).
    Key(String),
}

/// Where a field is in a pod template, from its root: `spec`, `containers`, item `nginx`,
/// `image`.
///
/// Shown relative to the pod spec, as kubectl's field paths are (`containers[nginx].image`,
/// `containers[nginx].env[LOG_LEVEL].value`); a field of the pod metadata starts with
/// `metadata` (`metadata.annotations[kubectl.kubernetes.io/restartedAt]`). A list item with
/// several merge keys shows their values joined by commas: `ports[8080,TCP]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    /// The path the schema table is keyed by: fields joined by dots, `[]` for a list item and
    /// `{}` for a free-form key, from the template's root: `spec.containers[].env`.
    pub fn schema_path(&self) -> String {
        let mut text = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Field(name) => {
                    if !text.is_empty() {
                        text.push('.');
                    }
                    text.push_str(name);
                }
                Segment::Item(_) => text.push_str("[]"),
                Segment::Key(_) => text.push_str("{}"),
            }
        }
        text
    }

    /// How the schema says the value at this path is merged, if it is a list or a map.
    pub fn shape(&self) -> Option<Shape> {
        schema::shape(&self.schema_path())
    }

    /// This path with one more segment.
    pub fn join(&self, segment: Segment) -> FieldPath {
        let mut path = self.clone();
        path.0.push(segment);
        path
    }

    fn is_field(&self, index: usize, name: &str) -> bool {
        matches!(self.0.get(index), Some(Segment::Field(f)) if f == name)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let skip = usize::from(self.is_field(0, "spec") && self.0.len() > 1);
        for (i, segment) in self.0.iter().enumerate().skip(skip) {
            match segment {
                Segment::Field(name) if i == skip => write!(f, "{name}")?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Item(keys) => {
                    let values: Vec<&str> = keys.iter().map(|(_, v)| v.as_str()).collect();
                    write!(f, "[{}]", values.join(","))?;
                }
                Segment::Key(key) => write!(f, "[{key}]")?,
            }
        }
        Ok(())
    }
}

impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What happened to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// One changed field: its path, and its value before and after (`None` where it is absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: FieldPath,
    pub op: Op,
    pub from: Option<Value>,
    pub to: Option<Value>,
}

/// What `to` changed against `from`, two pod templates, bookkeeping left out. In template
/// order, then added fields and items.
pub fn template_changes(from: &Value, to: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_values(
        &FieldPath::default(),
        Some(&template::normalize(from)),
        Some(&template::normalize(to)),
        &mut changes,
    );
    changes
}

/// Appends what changed from `from` to `to`, two values at `path`, to `changes`.
pub fn diff_values(
    path: &FieldPath,
    from: Option<&Value>,
    to: Option<&Value>,
    changes: &mut Vec<Change>,
) {
    if from == to {
        return;
    }
    // A map or keyed list that is absent is empty: its keys and items are added one by one.
    let (empty_map, empty_list) = (Value::Object(Map::new()), Value::Array(Vec::new()));
    let empty = match path.shape() {
        Some(Shape::Map) => Some(&empty_map),
        Some(Shape::KeyedList { .. }) => Some(&empty_list),
        _ => None,
    };
    let (from, to) = match empty {
        Some(empty) if from.is_none() || to.is_none() => (from.or(Some(empty)), to.or(Some(empty))),
        _ => (from, to),
    };
    match (from, to) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => diff_objects(path, a, b, changes),
        (Some(Value::Array(a)), Some(Value::Array(b))) => match path.shape() {
            Some(Shape::KeyedList { keys, .. }) => match (keyed(a, keys), keyed(b, keys)) {
                (Some(a), Some(b)) => diff_items(path, &a, &b, changes),
                _ => changes.push(replace(path, a, b)),
            },
            _ => changes.push(replace(path, a, b)),
        },
        _ => changes.push(Change {
            path: path.clone(),
            op: match (from, to) {
                (None, _) => Op::Add,
                (_, None) => Op::Remove,
                _ => Op::Replace,
            },
            from: from.cloned(),
            to: to.cloned(),
        }),
    }
}

fn replace(path: &FieldPath, from: &[Value], to: &[Value]) -> Change {
    Change {
        path: path.clone(),
        op: Op::Replace,
        from: Some(Value::Array(from.to_vec())),
        to: Some(Value::Array(to.to_vec())),
    }
}

fn diff_objects(
    path: &FieldPath,
    from: &Map<String, Value>,
    to: &Map<String, Value>,
    changes: &mut Vec<Change>,
) {
    let free_form = path.shape() == Some(Shape::Map);
    let added = to.keys().filter(|k| !from.contains_key(*k));
    for key in from.keys().chain(added) {
        let segment = if free_form {
            Segment::Key(key.clone())
        } else {
            Segment::Field(key.clone())
        };
        diff_values(&path.join(segment), from.get(key), to.get(key), changes);
    }
}

fn find<'a>(items: &[(Segment, &'a Value)], key: &Segment) -> Option<&'a Value> {
    items.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

fn diff_items(
    path: &FieldPath,
    from: &[(Segment, &Value)],
    to: &[(Segment, &Value)],
    changes: &mut Vec<Change>,
) {
    let added = to.iter().filter(|(k, _)| find(from, k).is_none());
    for (key, _) in from.iter().chain(added) {
        let item_path = path.join(key.clone());
        diff_values(&item_path, find(from, key), find(to, key), changes);
    }
}

/// The items of a keyed list with their names; `None` when an item lacks a key or two items
/// share one, and the list can only be compared as a whole.
fn keyed<'a>(items: &'a [Value], keys: &[&str]) -> Option<Vec<(Segment, &'a Value)>> {
    let mut named: Vec<(Segment, &Value)> = Vec::with_capacity(items.len());
    for item in items {
        let segment = item_key(item, keys)?;
        if named.iter().any(|(k, _)| *k == segment) {
            return None;
        }
        named.push((segment, item));
    }
    Some(named)
}

/// The name of a list item by its merge keys: `Segment::Item` of each key's scalar value.
/// Keys the item lacks are left out, as the API defaults them; `None` if it has none of them.
pub fn item_key(item: &Value, keys: &[&str]) -> Option<Segment> {
    let values: Vec<(String, String)> = keys
        .iter()
        .filter_map(|key| {
            let text = match item.get(*key)? {
                Value::String(s) => s.clone(),
                Value::Object(_) | Value::Array(_) | Value::Null => return None,
                scalar => scalar.to_string(),
            };
            Some(((*key).to_owned(), text))
        })
        .collect();
    (!values.is_empty()).then_some(Segment::Item(values))
}

/// The annotation `kubectl rollout restart` sets.
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// One short line for a list of changes: `nginx 1.17 -> 1.19`, `env +LOG_LEVEL`, `restart`,
/// the path of a single other change, or `N fields`; `no change` when there is none.
pub fn summary(changes: &[Change]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut env: Vec<String> = Vec::new();
    let mut other: Vec<&Change> = Vec::new();
    for change in changes {
        match describe(change) {
            Some(Described::Part(part)) => {
                if !parts.contains(&part) {
                    parts.push(part);
                }
            }
            Some(Described::Env(token)) => {
                if !env.contains(&token) {
                    env.push(token);
                }
            }
            None => other.push(change),
        }
    }
    if !env.is_empty() {
        parts.push(format!("env {}", env.join(" ")));
    }
    match (parts.is_empty(), other.as_slice()) {
        (true, []) => "no change".to_owned(),
        (true, [one]) => one.path.to_string(),
        (true, many) => format!("{} fields", many.len()),
        (false, []) => parts.join(", "),
        (false, [_]) => format!("{}, +1 field", parts.join(", ")),
        (false, many) => format!("{}, +{} fields", parts.join(", "), many.len()),
    }
}

enum Described {
    Part(String),
    /// `+NAME`, `-NAME` or `~NAME`, gathered into one `env` part.
    Env(String),
}

/// A short description of a change of an image, a container, an env var or a restart.
fn describe(change: &Change) -> Option<Described> {
    if let Some((from, to)) = config_renamed(change) {
        return Some(Described::Part(format!("config {from} -> {to}")));
    }
    let segments = &change.path.0;
    if change.path.is_field(0, "metadata") && change.path.is_field(1, "annotations") {
        return matches!(&segments[2..], [Segment::Key(k)] if k == RESTARTED_AT)
            .then(|| Described::Part("restart".to_owned()));
    }
    let init = match segments.get(1) {
        Some(Segment::Field(f)) if f == "containers" => "",
        Some(Segment::Field(f)) if f == "initContainers" => "init ",
        _ => return None,
    };
    let Some(Segment::Item(keys)) = segments.get(2) else {
        return None;
    };
    let container = &keys.first()?.1;
    let sign = match change.op {
        Op::Add => "+",
        Op::Remove => "-",
        Op::Replace => "~",
    };
    match &segments[3..] {
        [] => Some(Described::Part(format!("{sign}{init}{container}"))),
        [Segment::Field(f)] if f == "image" => {
            let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_owned);
            let (from, to) = (text(&change.from)?, text(&change.to)?);
            Some(Described::Part(format!(
                "{init}{container} {}",
                image_change(&from, &to)
            )))
        }
        [Segment::Field(f), Segment::Item(env), rest @ ..] if f == "env" => {
            let name = &env.first()?.1;
            let sign = if rest.is_empty() { sign } else { "~" };
            Some(Described::Env(format!("{sign}{name}")))
        }
        _ => None,
    }
}

/// A ConfigMap or Secret reference the change renamed: its name field replaced
/// (`volumes[name=cfg].configMap.name`), or a part replaced whole with one reference for another.
fn config_renamed(change: &Change) -> Option<(String, String)> {
    let (Op::Replace, Some(from), Some(to)) = (change.op, &change.from, &change.to) else {
        return None;
    };
    if let [.., Segment::Field(parent), Segment::Field(field)] = change.path.0.as_slice()
        && config::names_a_reference(parent, field)
    {
        return Some((from.as_str()?.to_owned(), to.as_str()?.to_owned()));
    }
    config::renamed(from, to)
}

/// `1.17 -> 1.19` when only the tag changed, else both images in full.
fn image_change(from: &str, to: &str) -> String {
    match (split_tag(from), split_tag(to)) {
        ((repo_a, Some(tag_a)), (repo_b, Some(tag_b))) if repo_a == repo_b => {
            format!("{tag_a} -> {tag_b}")
        }
        _ => format!("{from} -> {to}"),
    }
}

/// `registry:5000/app:1.2` as (`registry:5000/app`, `1.2`); a digest counts as the tag.
fn split_tag(image: &str) -> (&str, Option<&str>) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo, Some(digest));
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (image, None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(containers: Value) -> Value {
        json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": containers}})
    }

    fn check(from: Value, to: Value, expect: &[(&str, Op, Value, Value)], summary_text: &str) {
        let changes = template_changes(&from, &to);
        let got: Vec<(String, Op, Value, Value)> = changes
            .iter()
            .map(|c| {
                let value = |v: &Option<Value>| v.clone().unwrap_or(Value::Null);
                (c.path.to_string(), c.op, value(&c.from), value(&c.to))
            })
            .collect();
        let expect: Vec<(String, Op, Value, Value)> = expect
            .iter()
            .map(|(p, op, f, t)| ((*p).to_owned(), *op, f.clone(), t.clone()))
            .collect();
        assert_eq!(got, expect);
        assert_eq!(summary(&changes), summary_text);
    }

    #[test]
    fn names_containers_by_their_merge_key() {
        check(
            pod(
                json!([{"name": "sidecar", "image": "envoy:1"}, {"name": "nginx", "image": "nginx:1.17"}]),
            ),
            pod(
                json!([{"name": "nginx", "image": "nginx:1.19"}, {"name": "sidecar", "image": "envoy:1"}]),
            ),
            &[(
                "containers[nginx].image",
                Op::Replace,
                json!("nginx:1.17"),
                json!("nginx:1.19"),
            )],
            "nginx 1.17 -> 1.19",
        );
    }

    #[test]
    fn names_env_vars_and_counts_their_changes() {
        let env = |vars: Value| pod(json!([{"name": "nginx", "image": "nginx", "env": vars}]));
        check(
            env(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
            env(json!([{"name": "A", "value": "3"}, {"name": "LOG_LEVEL", "value": "debug"}])),
            &[
                (
                    "containers[nginx].env[A].value",
                    Op::Replace,
                    json!("1"),
                    json!("3"),
                ),
                (
                    "containers[nginx].env[B]",
                    Op::Remove,
                    json!({"name": "B", "value": "2"}),
                    Value::Null,
                ),
                (
                    "containers[nginx].env[LOG_LEVEL]",
                    Op::Add,
                    Value::Null,
                    json!({"name": "LOG_LEVEL", "value": "debug"}),
                ),
            ],
            "env ~A -B +LOG_LEVEL",
        );
    }

    #[test]
    fn a_restart_is_a_change_and_markers_are_not() {
        let mut from = pod(json!([{"name": "nginx", "image": "nginx:1"}]));
        from["metadata"]["labels"]["pod-template-hash"] = json!("h1");
        from["metadata"]["annotations"] =
            json!({template::REVERT_OF: "1", template::REVERTED_AT: "t"});
        let mut to = pod(json!([{"name": "nginx", "image": "nginx:1"}]));
        to["metadata"]["annotations"] = json!({RESTARTED_AT: "2026-01-01T00:00:00Z"});
        check(
            from,
            to,
            &[(
                "metadata.annotations[kubectl.kubernetes.io/restartedAt]",
                Op::Add,
                Value::Null,
                json!("2026-01-01T00:00:00Z"),
            )],
            "restart",
        );
    }

    #[test]
    fn init_containers_count() {
        let with_init = |image: &str| {
            let mut p = pod(json!([{"name": "nginx", "image": "nginx:1"}]));
            p["spec"]["initContainers"] = json!([{"name": "setup", "image": image}]);
            p
        };
        check(
            with_init("busybox:1.35"),
            with_init("busybox:1.36"),
            &[(
                "initContainers[setup].image",
                Op::Replace,
                json!("busybox:1.35"),
                json!("busybox:1.36"),
            )],
            "init setup 1.35 -> 1.36",
        );
    }

    #[test]
    fn other_fields_are_named_or_counted() {
        let c = |args: Value, cpu: &str| {
            pod(json!([{"name": "nginx", "image": "nginx:1", "args": args,
                        "resources": {"limits": {"cpu": cpu}}}]))
        };
        check(
            c(json!(["a", "b"]), "1"),
            c(json!(["b", "a"]), "1"),
            &[(
                "containers[nginx].args",
                Op::Replace,
                json!(["a", "b"]),
                json!(["b", "a"]),
            )],
            "containers[nginx].args",
        );
        check(
            c(json!(["a"]), "1"),
            c(json!(["b"]), "2"),
            &[
                (
                    "containers[nginx].args",
                    Op::Replace,
                    json!(["a"]),
                    json!(["b"]),
                ),
                (
                    "containers[nginx].resources.limits[cpu]",
                    Op::Replace,
                    json!("1"),
                    json!("2"),
                ),
            ],
            "2 fields",
        );
    }

    #[test]
    fn ports_are_named_by_every_list_map_key() {
        let ports = |port: u16| {
            pod(json!([{"name": "nginx", "image": "nginx:1",
                        "ports": [{"containerPort": port, "protocol": "TCP"}]}]))
        };
        check(
            ports(80),
            ports(8080),
            &[
                (
                    "containers[nginx].ports[80,TCP]",
                    Op::Remove,
                    json!({"containerPort": 80, "protocol": "TCP"}),
                    Value::Null,
                ),
                (
                    "containers[nginx].ports[8080,TCP]",
                    Op::Add,
                    Value::Null,
                    json!({"containerPort": 8080, "protocol": "TCP"}),
                ),
            ],
            "2 fields",
        );
    }

    #[test]
    fn images_and_containers_in_a_summary() {
        check(
            pod(json!([{"name": "app", "image": "reg:5000/team/app:v1"}])),
            pod(
                json!([{"name": "app", "image": "other/app:v2"}, {"name": "log", "image": "fluent:1"}]),
            ),
            &[
                (
                    "containers[app].image",
                    Op::Replace,
                    json!("reg:5000/team/app:v1"),
                    json!("other/app:v2"),
                ),
                (
                    "containers[log]",
                    Op::Add,
                    Value::Null,
                    json!({"name": "log", "image": "fluent:1"}),
                ),
            ],
            "app reg:5000/team/app:v1 -> other/app:v2, +log",
        );
        assert_eq!(summary(&[]), "no change");
    }

    #[test]
    fn a_renamed_config_reference_is_summarized() {
        let template = |cfg: &str, env: &str| {
            json!({"spec": {
                "containers": [{"name": "app", "image": "app:1",
                    "envFrom": [{"configMapRef": {"name": env}}]}],
                "volumes": [{"name": "cfg", "configMap": {"name": cfg}}],
            }})
        };
        let volume = template_changes(
            &template("app-cfg-7d", "env"),
            &template("app-cfg-9f", "env"),
        );
        assert_eq!(summary(&volume), "config app-cfg-7d -> app-cfg-9f");
        let env_from = template_changes(&template("cfg", "env-1"), &template("cfg", "env-2"));
        assert_eq!(summary(&env_from), "config env-1 -> env-2");
    }

    #[test]
    fn paths_render_and_key_the_schema() {
        let path = FieldPath(vec![
            Segment::Field("spec".into()),
            Segment::Field("containers".into()),
            Segment::Item(vec![("name".into(), "nginx".into())]),
            Segment::Field("env".into()),
            Segment::Item(vec![("name".into(), "LOG_LEVEL".into())]),
            Segment::Field("value".into()),
        ]);
        assert_eq!(path.to_string(), "containers[nginx].env[LOG_LEVEL].value");
        assert_eq!(path.schema_path(), "spec.containers[].env[].value");
        assert_eq!(
            FieldPath(path.0[..4].to_vec()).shape(),
            Some(Shape::KeyedList {
                keys: &["name"],
                patch_merge_key: Some("name")
            })
        );
        assert_eq!(
            FieldPath(vec![Segment::Field("spec".into())]).to_string(),
            "spec"
        );
    }
}
