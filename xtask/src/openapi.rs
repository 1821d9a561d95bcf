//! `cargo xtask openapi`: the merge keys of a pod template, from the running control plane's
//! OpenAPI schema, as a Rust table checked in to rollout-core.
//!
//! Reads `/openapi/v3/apis/apps/v1` (the document that holds every workload's pod template) with
//! kubectl from the local control plane, walks `io.k8s.api.core.v1.PodTemplateSpec` and every
//! type it reaches, and writes one row per list or free-form map: its path, and how the API
//! merges it (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
//! `x-kubernetes-patch-merge-key`, `additionalProperties`). `--check` fails when the checked-in
//! table differs from what the control plane says; the release named in its header is the one
//! it was written from, so one table checks against every release whose schema agrees.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cluster::Running;

/// Where the table goes, relative to the workspace root.
pub const TABLE: &str = "crates/rollout-core/src/schema/table.rs";

/// The OpenAPI v3 document that holds the apps/v1 workloads and the types they reach.
const DOCUMENT: &str = "/openapi/v3/apis/apps/v1";

/// The type the walk starts from.
const ROOT: &str = "io.k8s.api.core.v1.PodTemplateSpec";

/// Writes the table (or, with `check`, compares it) from the schema of the control plane
/// `running`.
pub fn run(root: &Path, running: &Running, check: bool) -> Result<()> {
    let kubeconfig = &running.kubeconfig;
    let kubectl = running.bin.path("kubectl").into_os_string();
    let output = Command::new(&kubectl)
        .env("KUBECONFIG", kubeconfig)
        .args(["get", "--raw", DOCUMENT])
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not run {}", kubectl.to_string_lossy()))?;
    if !output.status.success() {
        bail!("kubectl get --raw {DOCUMENT} failed with {}", output.status);
    }
    let document: Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{DOCUMENT} is not JSON"))?;
    let version = server_version(&kubectl, kubeconfig)?;
    let (mut shapes, fields) = shapes(&document)?;
    let path = root.join(TABLE);
    if check {
        let current = fs::read_to_string(&path).unwrap_or_default();
        let written_from = written_from(&current).unwrap_or(&version);
        // A field a newer release added is not in this one's schema: its row may stay.
        let newer: Shapes = rows(&current)
            .filter(|(path, _)| !fields.contains(path))
            .collect();
        let added = newer.len();
        shapes.extend(newer);
        if current != render(&shapes, written_from) {
            bail!(
                "{TABLE} is out of date with the local control plane ({version})\nhint: \
                 regenerate it with `cargo xtask openapi --kubernetes {version}`, and check it \
                 against the other tested releases"
            );
        }
        println!(
            "{TABLE} (written from {written_from}) is up to date with {version}, which lacks \
             {added} of its fields"
        );
        return Ok(());
    }
    fs::write(&path, render(&shapes, &version))
        .with_context(|| format!("could not write {}", path.display()))?;
    println!("wrote {TABLE} from {version}");
    Ok(())
}

/// The release a table says it was generated from.
fn written_from(table: &str) -> Option<&str> {
    let header = table.lines().next()?;
    let rest = header.split_once("the OpenAPI schema of Kubernetes ")?.1;
    rest.split_whitespace().next()
}

/// The server's `gitVersion`, e.g. `v1.36.3`, for the table's header.
fn server_version(kubectl: &std::ffi::OsStr, kubeconfig: &Path) -> Result<String> {
    let output = Command::new(kubectl)
        .env("KUBECONFIG", kubeconfig)
        .args(["get", "--raw", "/version"])
        .output()
        .context("could not run kubectl get --raw /version")?;
    let version: Value = serde_json::from_slice(&output.stdout).context("/version is not JSON")?;
    version["gitVersion"]
        .as_str()
        .map(str::to_owned)
        .context("/version has no gitVersion")
}

/// How one list or map is merged, as a line of Rust.
type Shapes = BTreeMap<String, String>;

/// The rows of a table as [`render`] writes them.
fn rows(table: &str) -> impl Iterator<Item = (String, String)> + '_ {
    table.lines().filter_map(|line| {
        let row = line.strip_prefix("    (\"")?.strip_suffix("),")?;
        let (path, shape) = row.split_once("\", ")?;
        Some((path.to_owned(), shape.to_owned()))
    })
}

/// Every list and free-form map reachable from a PodTemplateSpec, by path, and the path of
/// every field.
fn shapes(document: &Value) -> Result<(Shapes, BTreeSet<String>)> {
    let schemas = document
        .pointer("/components/schemas")
        .context("the document has no components.schemas")?;
    if schemas.get(ROOT).is_none() {
        bail!("the document does not define {ROOT}");
    }
    let mut shapes = Shapes::new();
    let mut fields = BTreeSet::new();
    let mut found = Found {
        shapes: &mut shapes,
        fields: &mut fields,
    };
    walk(schemas, ROOT, "", &mut vec![ROOT.to_owned()], &mut found);
    Ok((shapes, fields))
}

/// What the walk records.
struct Found<'a> {
    shapes: &'a mut Shapes,
    fields: &'a mut BTreeSet<String>,
}

/// Walks the properties of type `name` at `path`; `stack` stops recursive types.
fn walk(schemas: &Value, name: &str, path: &str, stack: &mut Vec<String>, found: &mut Found) {
    let properties = schemas[name]["properties"].as_object();
    for (field, schema) in properties.into_iter().flatten() {
        let path = if path.is_empty() {
            field.clone()
        } else {
            format!("{path}.{field}")
        };
        found.fields.insert(path.clone());
        visit(schemas, schema, &path, stack, found);
    }
}

/// Records the shape of the value at `path` and walks into it.
fn visit(schemas: &Value, schema: &Value, path: &str, stack: &mut Vec<String>, found: &mut Found) {
    if let Some(items) = schema.get("items") {
        found.shapes.insert(path.to_owned(), list_shape(schema));
        visit(schemas, items, &format!("{path}[]"), stack, found);
    } else if let Some(values) = schema.get("additionalProperties") {
        found
            .shapes
            .insert(path.to_owned(), "Shape::Map".to_owned());
        visit(schemas, values, &format!("{path}{{}}"), stack, found);
    } else if let Some(target) = reference(schema) {
        if stack.iter().any(|s| s == target) {
            return;
        }
        stack.push(target.to_owned());
        walk(schemas, target, path, stack, found);
        stack.pop();
    }
}

/// The type a schema refers to, directly (`$ref`) or as the one member of `allOf`.
fn reference(schema: &Value) -> Option<&str> {
    let reference = schema
        .get("$ref")
        .or_else(|| schema.pointer("/allOf/0/$ref"))?;
    reference.as_str()?.strip_prefix("#/components/schemas/")
}

/// A list's shape: keyed (list-map keys, else the patch merge key), a set, or atomic.
fn list_shape(schema: &Value) -> String {
    let strings = |key: &str| -> Vec<String> {
        match schema.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| format!("{s:?}"))
                .collect(),
            Some(Value::String(s)) => vec![format!("{s:?}")],
            _ => Vec::new(),
        }
    };
    let list_type = schema.get("x-kubernetes-list-type").and_then(Value::as_str);
    let map_keys = strings("x-kubernetes-list-map-keys");
    let merge_key = strings("x-kubernetes-patch-merge-key");
    let keys = if list_type == Some("map") && !map_keys.is_empty() {
        map_keys
    } else {
        merge_key.clone()
    };
    if !keys.is_empty() {
        let merge_key = merge_key
            .first()
            .map_or("None".to_owned(), |k| format!("Some({k})"));
        return format!(
            "Shape::KeyedList {{ keys: &[{}], patch_merge_key: {merge_key} }}",
            keys.join(", ")
        );
    }
    match list_type {
        Some("set") => "Shape::Set".to_owned(),
        _ => "Shape::Atomic".to_owned(),
    }
}

/// The table as a Rust source file.
fn render(shapes: &Shapes, version: &str) -> String {
    let mut text = format!(
        "// @generated by `cargo xtask openapi` from the OpenAPI schema of Kubernetes {version}\n\
         // ({DOCUMENT}, walked from {ROOT}). Do not edit: regenerate it with\n\
         // `cargo xtask openapi` against the local control plane (`cargo xtask cluster up`).\n\
         \n\
         use super::Shape;\n\
         \n\
         /// Every list and free-form map of a pod template, by path, sorted.\n\
         #[rustfmt::skip]\n\
         pub(super) const SHAPES: &[(&str, Shape)] = &[\n"
    );
    for (path, shape) in shapes {
        text.push_str(&format!("    ({path:?}, {shape}),\n"));
    }
    text.push_str("];\n");
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_merge_keys_and_list_types() {
        let document = json!({"components": {"schemas": {
            ROOT: {"properties": {
                "metadata": {"allOf": [{"$ref": "#/components/schemas/Meta"}]},
                "spec": {"$ref": "#/components/schemas/Spec"},
            }},
            "Meta": {"properties": {"labels": {"additionalProperties": {"type": "string"}}}},
            "Spec": {"properties": {
                "containers": {"items": {"allOf": [{"$ref": "#/components/schemas/C"}]},
                               "x-kubernetes-list-type": "map",
                               "x-kubernetes-list-map-keys": ["name"],
                               "x-kubernetes-patch-merge-key": "name"},
                "gates": {"items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            }},
            "C": {"properties": {
                "args": {"items": {"type": "string"}, "x-kubernetes-list-type": "atomic"},
                "ports": {"items": {"type": "object"},
                          "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                          "x-kubernetes-patch-merge-key": "containerPort"},
                "again": {"$ref": "#/components/schemas/C"},
            }},
        }}});
        let (shapes, fields) = shapes(&document).unwrap();
        assert!(fields.contains("spec.containers") && fields.contains("metadata"));
        let rows: Vec<(&str, &str)> = shapes
            .iter()
            .map(|(p, s)| (p.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("metadata.labels", "Shape::Map"),
                (
                    "spec.containers",
                    "Shape::KeyedList { keys: &[\"name\"], patch_merge_key: Some(\"name\") }"
                ),
                ("spec.containers[].args", "Shape::Atomic"),
                (
                    "spec.containers[].ports",
                    "Shape::KeyedList { keys: &[\"containerPort\", \"protocol\"], \
                     patch_merge_key: Some(\"containerPort\") }"
                ),
                ("spec.gates", "Shape::Set"),
            ]
        );
        let table = render(&shapes, "v1.36.3");
        assert_eq!(written_from(&table), Some("v1.36.3"));
        assert_eq!(super::rows(&table).collect::<Shapes>(), shapes);
    }
}
