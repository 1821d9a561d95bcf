//! The ConfigMaps and Secrets revisions read, as the cluster holds them: their digests, taken
//! when a revision is applied or recorded, and compared with today's by `history`. A Secret's
//! values are read only to be digested: never printed, never kept.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, ResourceExt};
use rollout_core::{
    ConfigDiff, ConfigKind, History, Reference, Revision, compare_config, config_key, config_pairs,
    digest, is_snapshot_of, recorded_digests, references, snapshot_name,
};
use serde_json::Value;

use crate::client::{Call, Cluster};
use crate::targets::Scope;
use crate::ui::Ui;

/// The ConfigMaps and Secrets `template` references that exist in `namespace` now, as the API
/// gives them: one GET each.
pub async fn read(
    cluster: &Cluster,
    namespace: &str,
    template: &Value,
) -> Result<Vec<(Reference, Value)>> {
    let mut found = Vec::new();
    for reference in references(template) {
        let name = reference.name.as_str();
        let call = Call {
            verb: "get",
            resource: resource(reference.kind),
            namespace,
            name: Some(name),
        };
        let object = get(cluster, namespace, reference.kind, name).await;
        if let Some(object) = object.map_err(|e| cluster.explain(call, e))? {
            found.push((reference, object));
        }
    }
    Ok(found)
}

/// The digest of each object `read` found, by [`config_key`].
pub fn digests(read: &[(Reference, Value)]) -> BTreeMap<String, String> {
    read.iter()
        .map(|(reference, object)| (config_key(reference.kind, &reference.name), digest(object)))
        .collect()
}

/// What a revert to `template` would find of the configuration it reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Required objects that are gone: the pods would not start.
    pub missing: Vec<Reference>,
    /// Objects whose content differs from the digest `recorded` for the revision restored.
    pub changed: Vec<Reference>,
    /// The objects that exist, as read.
    pub read: Vec<(Reference, Value)>,
}

/// Checks the configuration `template` reads in `namespace` against the digests the restored
/// revision recorded: one GET per reference.
pub async fn check(
    cluster: &Cluster,
    namespace: &str,
    template: &Value,
    recorded: &BTreeMap<String, String>,
) -> Result<Found> {
    let mut found = Found {
        read: read(cluster, namespace, template).await?,
        ..Found::default()
    };
    let today = digests(&found.read);
    for reference in references(template) {
        let key = config_key(reference.kind, &reference.name);
        match (today.get(&key), recorded.get(&key)) {
            (None, _) if !reference.optional => found.missing.push(reference),
            (Some(now), Some(then)) if now != then => found.changed.push(reference),
            _ => {}
        }
    }
    Ok(found)
}

/// `configmap/app-cfg`, `secret/db`: as kubectl names an object.
pub fn display(reference: &Reference) -> String {
    format!("{}/{}", kind_name(reference.kind), reference.name)
}

/// `configmap`, `secret`: as kubectl names the kinds.
pub fn kind_name(kind: ConfigKind) -> &'static str {
    match kind {
        ConfigKind::ConfigMap => "configmap",
        ConfigKind::Secret => "secret",
    }
}

/// Reads today's digests of every ConfigMap and Secret a revision of `histories` recorded one
/// for, into [`History::config_today`]: one LIST per kind and namespace, none when nothing
/// was recorded. Without the right to list them, a warning says the comparison was left out.
pub async fn read_today(
    cluster: &Cluster,
    histories: &mut [&mut History],
    ui: &mut Ui<'_>,
) -> Result<()> {
    let mut wanted: BTreeMap<(String, ConfigKind), BTreeSet<String>> = BTreeMap::new();
    for history in histories.iter() {
        for revision in &history.revisions {
            for key in recorded_digests(&revision.annotations).into_keys() {
                let Some(kind) = kind_of_key(&key) else {
                    continue;
                };
                wanted
                    .entry((history.namespace.clone(), kind))
                    .or_default()
                    .insert(key);
            }
        }
    }
    for ((namespace, kind), keys) in wanted {
        let today = match list(cluster, &namespace, kind).await {
            Ok(today) => today,
            Err(err) => {
                ui.warn(format_args!(
                    "cannot tell whose configuration changed since: {err:#}"
                ))?;
                continue;
            }
        };
        for history in histories.iter_mut().filter(|h| h.namespace == namespace) {
            for key in &keys {
                let digest = today.get(key).map(digest);
                history.config_today.insert(key.clone(), digest);
            }
        }
    }
    Ok(())
}

/// Every object of `kind` in `namespace`, as the API gives it, by [`config_key`]: one paged
/// LIST.
pub async fn list(
    cluster: &Cluster,
    namespace: &str,
    kind: ConfigKind,
) -> Result<BTreeMap<String, Value>> {
    let cluster = cluster.in_namespace(namespace);
    let scope = Scope {
        cluster: &cluster,
        selector: None,
        all_namespaces: false,
    };
    let mut today = BTreeMap::new();
    let resource = resource(kind);
    match kind {
        ConfigKind::ConfigMap => {
            let take = |page: Vec<ConfigMap>| keep_page(kind, page, &mut today);
            scope.list(resource, None, take).await?
        }
        ConfigKind::Secret => {
            let take = |page: Vec<Secret>| keep_page(kind, page, &mut today);
            scope.list(resource, None, take).await?
        }
    };
    Ok(today)
}

/// Adds each object of one page to `today`.
fn keep_page<K>(kind: ConfigKind, page: Vec<K>, today: &mut BTreeMap<String, Value>)
where
    K: ResourceExt + serde::Serialize,
{
    for object in page {
        let key = config_key(kind, &object.name_any());
        if let Ok(value) = serde_json::to_value(&object) {
            today.insert(key, value);
        }
    }
}

/// `configmaps`, `secrets`: the resource RBAC names.
pub fn resource(kind: ConfigKind) -> &'static str {
    match kind {
        ConfigKind::ConfigMap => "configmaps",
        ConfigKind::Secret => "secrets",
    }
}

fn kind_of_key(key: &str) -> Option<ConfigKind> {
    [ConfigKind::ConfigMap, ConfigKind::Secret]
        .into_iter()
        .find(|&kind| key.starts_with(&config_key(kind, "")))
}

/// The ConfigMap or Secret `name` in `namespace` as the API gives it; `None` when there is none.
pub async fn get(
    cluster: &Cluster,
    namespace: &str,
    kind: ConfigKind,
    name: &str,
) -> kube::Result<Option<Value>> {
    match kind {
        ConfigKind::ConfigMap => get_as::<ConfigMap>(cluster, namespace, name).await,
        ConfigKind::Secret => get_as::<Secret>(cluster, namespace, name).await,
    }
}

async fn get_as<K>(cluster: &Cluster, namespace: &str, name: &str) -> kube::Result<Option<Value>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(cluster.client.clone(), namespace);
    let object = api.get_opt(name).await?;
    Ok(object.and_then(|o| serde_json::to_value(o).ok()))
}

/// How the configuration of revisions `from` and `to` of `history` differs: the pairs of objects
/// they read (`rollout_core::config_pairs`), each at its revision (the revision's snapshot,
/// else today's object when the digest the revision recorded is today's or none was recorded),
/// compared. One LIST per kind the pairs name, none when they name none. Returns the changes,
/// and a line for each pair whose content at one revision is not known.
pub async fn changes(
    cluster: &Cluster,
    history: &History,
    from: &Revision,
    to: &Revision,
) -> Result<(Vec<ConfigDiff>, Vec<String>)> {
    let then = (
        recorded_digests(&from.annotations),
        recorded_digests(&to.annotations),
    );
    let pairs = config_pairs(&references(&from.template), &references(&to.template));
    // The same object with the same recorded digest (or none recorded: no snapshot either) reads
    // the same at both revisions.
    let pairs: Vec<_> = pairs
        .into_iter()
        .filter(|p| {
            let key = |name: &str| config_key(p.kind, name);
            p.from != p.to || then.0.get(&key(&p.from)) != then.1.get(&key(&p.to))
        })
        .collect();
    let mut objects = BTreeMap::new();
    let kinds: BTreeSet<ConfigKind> = pairs.iter().map(|p| p.kind).collect();
    for kind in kinds {
        objects.extend(list(cluster, &history.namespace, kind).await?);
    }
    let (mut diffs, mut unknown) = (Vec::new(), Vec::new());
    for pair in pairs {
        let label = |revision: &Revision, name: &str| {
            let kind = kind_name(pair.kind);
            format!(
                "{kind}/{name} ({} revision {})",
                history.workload(),
                revision.number
            )
        };
        let sides = (
            at(&objects, from, pair.kind, &pair.from),
            at(&objects, to, pair.kind, &pair.to),
        );
        let (Some(a), Some(b)) = sides else {
            let keys = (
                config_key(pair.kind, &pair.from),
                config_key(pair.kind, &pair.to),
            );
            let then = (
                recorded_digests(&from.annotations),
                recorded_digests(&to.annotations),
            );
            if !then.0.contains_key(&keys.0) || then.0.get(&keys.0) != then.1.get(&keys.1) {
                let (revision, name) = if sides.0.is_none() {
                    (from, &pair.from)
                } else {
                    (to, &pair.to)
                };
                unknown.push(format!(
                    "{}/{name} changed since revision {} recorded it, and it has no snapshot: its \
                     content then is not known",
                    kind_name(pair.kind),
                    revision.number
                ));
            }
            continue;
        };
        let from_side = (a, label(from, &pair.from));
        diffs.extend(compare_config(
            pair.kind,
            from_side,
            (b, label(to, &pair.to)),
        ));
    }
    Ok((diffs, unknown))
}

/// The content of `name` as `revision` read it, from `objects` (a namespace's, by
/// [`config_key`]): its snapshot, else today's object when it still has the digest recorded.
fn at<'a>(
    objects: &'a BTreeMap<String, Value>,
    revision: &Revision,
    kind: ConfigKind,
    name: &str,
) -> Option<&'a Value> {
    let key = config_key(kind, name);
    let kept = objects.get(&config_key(kind, &snapshot_name(&revision.object, name)));
    if let Some(kept) = kept.filter(|k| is_snapshot_of(k, &key)) {
        return Some(kept);
    }
    let live = objects.get(&key)?;
    match recorded_digests(&revision.annotations).get(&key) {
        Some(then) if *then != digest(live) => None,
        _ => Some(live),
    }
}
