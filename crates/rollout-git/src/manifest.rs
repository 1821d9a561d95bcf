//! One workload's pod template in a manifest file, found without parsing the rest of the file,
//! as the API server would store it.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

use memchr::memmem;

use rollout_core::{defaults, template};
use serde_json::Value;

use crate::text::Text;
use crate::yaml;

/// The pod template a manifest gives the workload `kind`/`name` (the document of that kind and
/// name, in a multi-document file or inside a `kind: List`), as the API server stores it: with
/// the server's defaults applied (see [`rollout_core::defaults`]). So it compares exactly with a
/// live template, and a diff against a live template shows only real changes.
pub fn workload_template(content: &[u8], kind: &str, name: &str) -> Result<Option<Value>, String> {
    template_in(&candidates(content, kind, name), kind, name)
}

/// The template of the first of `documents` that defines `kind`/`name`, defaults applied.
fn template_in<D: AsRef<[u8]>>(
    documents: &[D],
    kind: &str,
    name: &str,
) -> Result<Option<Value>, String> {
    Ok(written_in(documents, kind, name)?.map(defaults::pod_template))
}

/// The template of the first of `documents` that defines `kind`/`name`, as written.
fn written_in<D: AsRef<[u8]>>(
    documents: &[D],
    kind: &str,
    name: &str,
) -> Result<Option<Value>, String> {
    for document in documents {
        let document = std::str::from_utf8(document.as_ref()).map_err(|e| e.to_string())?;
        if let Some(template) = parse(document, kind, name)? {
            return Ok(Some(template));
        }
    }
    Ok(None)
}

/// A file's content as [`candidates`] reads it: plain bytes, or a version made of pieces.
pub(crate) trait Haystack {
    fn size(&self) -> usize;
    /// Where `pattern` starts, ascending.
    fn positions(&self, pattern: &[u8]) -> Vec<usize>;
    fn slice(&self, range: Range<usize>) -> Cow<'_, [u8]>;
}

impl Haystack for [u8] {
    fn size(&self) -> usize {
        self.len()
    }

    fn positions(&self, pattern: &[u8]) -> Vec<usize> {
        memmem::find_iter(self, pattern).collect()
    }

    fn slice(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self[range])
    }
}

impl Haystack for Text {
    fn size(&self) -> usize {
        self.len()
    }

    fn positions(&self, pattern: &[u8]) -> Vec<usize> {
        Text::positions(self, pattern)
    }

    fn slice(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        let mut out = Vec::with_capacity(range.len());
        self.copy_range(range, &mut out);
        Cow::Owned(out)
    }
}

/// The documents of a multi-document YAML text that may define `kind`/`name`: those that
/// mention both. A cheap scan: the places the name and the document separators occur, then
/// only the documents around the name are read, for the kind. Only these documents are parsed.
fn candidates<'t, H: Haystack + ?Sized>(text: &'t H, kind: &str, name: &str) -> Vec<Cow<'t, [u8]>> {
    const SEPARATOR: &[u8] = b"\n---";
    let separators = text.positions(SEPARATOR);
    let mut documents = Vec::new();
    let mut done = 0;
    for at in text.positions(name.as_bytes()) {
        if at < done {
            continue;
        }
        // The document starts after the last separator before the name, and ends with the
        // newline of the first separator after it.
        let before = separators.partition_point(|&s| s + SEPARATOR.len() <= at);
        let start = before.checked_sub(1).map_or(0, |s| separators[s] + 1);
        let after = separators.partition_point(|&s| s < at);
        let end = separators.get(after).map_or(text.size(), |e| e + 1);
        done = end;
        let document = text.slice(start..end);
        if memmem::find(&document, kind.as_bytes()).is_some() {
            documents.push(document);
        }
    }
    documents
}

/// The objects of a manifest file (YAML or JSON) as `kubectl apply -f` reads them: every
/// document, the items of a `kind: List` in its place, empty documents left out.
pub fn manifest_objects(text: &str) -> Result<Vec<Value>, String> {
    let documents = yaml::documents(text)?;
    let mut objects = Vec::new();
    for document in documents {
        match document {
            Value::Null => {}
            Value::Object(mut object)
                if object.get("kind").and_then(Value::as_str) == Some("List") =>
            {
                if let Some(Value::Array(items)) = object.remove("items") {
                    objects.extend(items.into_iter().filter(|i| !i.is_null()));
                }
            }
            other => objects.push(other),
        }
    }
    Ok(objects)
}

/// The pod template of `kind`/`name` in one YAML document, or in the items of a `kind: List`.
fn parse(document: &str, kind: &str, name: &str) -> Result<Option<Value>, String> {
    for mut document in yaml::documents(document)? {
        let items = match document.get("kind").and_then(Value::as_str) {
            Some("List") => match document["items"].take() {
                Value::Array(items) => items,
                _ => Vec::new(),
            },
            _ => vec![document],
        };
        let found = items.into_iter().find(|item| {
            item.get("kind").and_then(Value::as_str) == Some(kind)
                && item.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
        });
        if let Some(mut found) = found {
            return Ok(found.pointer_mut("/spec/template").map(Value::take));
        }
    }
    Ok(None)
}

/// A template compared as content: bookkeeping dropped ([`template::normalize`]), with a hash
/// that does not depend on the order of keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Content {
    pub hash: u64,
    pub template: Value,
}

impl Content {
    pub fn new(template: Value) -> Self {
        let template = template::normalized(template);
        let mut hasher = std::hash::DefaultHasher::new();
        hash_value(&template, &mut hasher);
        Content {
            hash: hasher.finish(),
            template,
        }
    }
}

/// The workload's template in one version of a manifest: as the server stores it fresh, and as
/// written, which says what the server may have kept from the revision before
/// ([`defaults::explains`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Version {
    pub content: Content,
    pub written: Value,
}

impl Version {
    pub fn new(written: Value) -> Self {
        Version {
            content: Content::new(defaults::pod_template(written.clone())),
            written,
        }
    }

    /// Whether applying this version over a revision of content `previous` gives `live`,
    /// where the two differ: only where the server kept what `previous` held.
    pub fn kept(&self, live: &Content, previous: &Content) -> bool {
        defaults::explains(
            &self.written,
            &self.content.template,
            &live.template,
            &previous.template,
        )
    }
}

fn hash_value(value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => (1u8, b).hash(hasher),
        Value::Number(n) => (2u8, n.to_string()).hash(hasher),
        Value::String(s) => (3u8, s).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            items.iter().for_each(|item| hash_value(item, hasher));
        }
        Value::Object(object) => {
            (5u8, object.len()).hash(hasher);
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            for key in keys {
                key.hash(hasher);
                hash_value(&object[key], hasher);
            }
        }
    }
}

/// The documents of a version that may define the workload, shared by the [`Scanner`] that
/// found them and the [`Parser`] that reads them, on another thread.
pub(crate) type Documents = Arc<[Vec<u8>]>;

/// Finds the workload's documents in one version of a file after another, and says when they
/// changed: only then do they need parsing ([`Parser`]).
#[derive(Debug)]
pub(crate) struct Scanner<'w> {
    kind: &'w str,
    name: &'w str,
    /// The candidate documents of the last version.
    last: Option<Documents>,
}

impl<'w> Scanner<'w> {
    pub fn new(kind: &'w str, name: &'w str) -> Self {
        Scanner {
            kind,
            name,
            last: None,
        }
    }

    /// The documents of `file` that may define the workload, when they are not those of the
    /// version scanned before.
    pub fn scan<H: Haystack + ?Sized>(&mut self, file: &H) -> Option<Documents> {
        let documents = candidates(file, self.kind, self.name);
        let same = self.last.as_ref().is_some_and(|last| {
            last.len() == documents.len() && last.iter().zip(&documents).all(|(a, b)| **a == **b)
        });
        if same {
            return None;
        }
        let documents: Documents = documents.into_iter().map(Cow::into_owned).collect();
        self.last = Some(documents.clone());
        Some(documents)
    }
}

/// The workload's content in documents a [`Scanner`] found: `None` when they do not define it,
/// an error when they are not valid YAML. Shared: it is kept for the versions that follow with
/// the same documents, and told from another content by its pointer before its value.
pub(crate) type Parsed = Result<Option<Arc<Version>>, String>;

/// Parses `documents` for the workload `kind`/`name`: what [`Parser`] keeps for them. Pure, so
/// the walk may parse documents itself while the [`Parser`] is busy with earlier ones.
pub(crate) fn parse_documents(documents: &[Vec<u8>], kind: &str, name: &str) -> Parsed {
    written_in(documents, kind, name).map(|t| t.map(|t| Arc::new(Version::new(t))))
}

/// The workload's documents in one version, when they changed since the version before: as
/// found, or already parsed ([`parse_documents`]).
#[derive(Debug)]
pub(crate) enum Changed {
    Same,
    Found(Documents),
    Parsed(Parsed),
}

/// Parses the documents a [`Scanner`] found changed, and remembers what they gave for the
/// versions that follow with the same documents.
#[derive(Debug)]
pub(crate) struct Parser<'w> {
    kind: &'w str,
    name: &'w str,
    last: Parsed,
}

impl<'w> Parser<'w> {
    pub fn new(kind: &'w str, name: &'w str) -> Self {
        Parser {
            kind,
            name,
            last: Ok(None),
        }
    }

    /// The workload's content in a version whose documents are `changed`, or are those of the
    /// version before when [`Changed::Same`].
    pub fn parse(&mut self, changed: Changed) -> Parsed {
        match changed {
            Changed::Same => {}
            Changed::Found(documents) => {
                self.last = parse_documents(&documents, self.kind, self.name);
            }
            Changed::Parsed(parsed) => self.last = parsed,
        }
        self.last.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn candidates_are_the_documents_that_mention_kind_and_name() {
        let text = "kind: Service\nmetadata: {name: app}\n---\nkind: Deployment\nmetadata: \
                    {name: app}\nspec: {serviceName: app}\n--- # c\nkind: Deployment\nmetadata: \
                    {name: other}\n---\nkind: Deployment\nname: app\n";
        let found: Vec<String> = candidates(text.as_bytes(), "Deployment", "app")
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect();
        assert_eq!(
            found,
            [
                "---\nkind: Deployment\nmetadata: {name: app}\nspec: {serviceName: app}\n",
                "---\nkind: Deployment\nname: app\n",
            ]
        );
    }

    #[test]
    fn finds_the_workload_in_multi_document_files_and_lists() {
        let file = b"apiVersion: v1\nkind: Service\nmetadata: {name: team-app}\n---\n\
            apiVersion: v1\nkind: List\nitems:\n- kind: Deployment\n  metadata: {name: other}\n  \
            spec: {template: {spec: {containers: []}}}\n- kind: Deployment\n  metadata: {name: \
            team-app}\n  spec:\n    template:\n      metadata: {labels: {app: team-app}}\n";
        let template = workload_template(file, "Deployment", "team-app").unwrap();
        assert_eq!(
            template,
            Some(json!({"metadata": {"labels": {"app": "team-app"}}}))
        );
        assert_eq!(workload_template(file, "StatefulSet", "team-app"), Ok(None));
        assert!(workload_template(b"kind: [unclosed Deployment x", "Deployment", "x").is_err());
    }

    #[test]
    fn templates_come_with_the_server_defaults() {
        let file = b"kind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      \
            containers:\n      - {name: c, image: nginx:1.17}\n";
        let template = workload_template(file, "Deployment", "a").unwrap().unwrap();
        assert_eq!(template["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(
            template["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
    }

    #[test]
    fn manifests_are_read_as_kubectl_reads_them() {
        // go-yaml v2, under kubectl: YAML 1.1 octal and booleans.
        let file =
            b"kind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    metadata:\n      \
            labels: {app: a}\n    spec:\n      enableServiceLinks: yes\n      containers:\n      \
            - {name: c, image: nginx}\n      volumes:\n      - name: cfg\n        configMap: \
            {name: cfg, defaultMode: 0644}\n";
        let template = workload_template(file, "Deployment", "a").unwrap().unwrap();
        assert_eq!(
            template["spec"]["volumes"][0]["configMap"]["defaultMode"],
            420
        );
        assert_eq!(template["spec"]["enableServiceLinks"], true);
    }

    #[test]
    fn a_file_of_objects_reads_as_kubectl_reads_it() {
        let text = "---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n# nothing\n---\n\
            apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n\
            - {apiVersion: v1, kind: Secret, metadata: {name: c}}\n";
        let kinds: Vec<String> = manifest_objects(text)
            .unwrap()
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(kinds, ["Service", "ConfigMap", "Secret"]);
        let json = r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}"#;
        assert_eq!(manifest_objects(json).unwrap()[0]["kind"], "Namespace");
        assert!(manifest_objects("a: [").is_err());
    }

    #[test]
    fn an_alias_bomb_is_an_error_not_a_hang() {
        let mut bomb = String::from(
            "kind: Deployment\nmetadata: {name: a}\na0: &a0 [x, x, x, x, x, x, x, x, x]\n",
        );
        for level in 1..12 {
            let previous = level - 1;
            let refs = vec![format!("*a{previous}"); 9].join(", ");
            bomb += &format!("a{level}: &a{level} [{refs}]\n");
        }
        bomb += "spec: {template: *a11}\n";
        assert!(workload_template(bomb.as_bytes(), "Deployment", "a").is_err());
    }

    #[test]
    fn documents_of_other_workloads_are_not_parsed() {
        // The broken document names neither the kind nor the workload: it is never parsed.
        let file = b"kind: Deployment\nmetadata: {name: a}\nspec: {template: {spec: {}}}\n---\n\
            kind: ConfigMap\nmetadata: {name: b}\ndata: [unclosed\n";
        assert!(
            workload_template(file, "Deployment", "a")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn content_hashes_ignore_key_order_and_bookkeeping() {
        let a = json!({"metadata": {"labels": {"app": "a", "pod-template-hash": "1"}},
                       "spec": {"x": 1, "y": [true, null]}});
        let b = json!({"spec": {"y": [true, null], "x": 1}, "metadata": {"labels": {"app": "a"}}});
        assert_eq!(Content::new(a.clone()), Content::new(b));
        assert_ne!(
            Content::new(a).hash,
            Content::new(json!({"spec": {"x": 2}})).hash
        );
    }
}
