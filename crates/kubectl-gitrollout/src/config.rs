//! The ConfigMaps and Secrets revisions read, as the cluster holds them: their digests, taken
//! when a revision is applied or recorded, and compared with today's by `history`. A Secret's
//! values are read only to be digested: never printed, never kept.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, ResourceExt};
use rollout_core::{ConfigKind, History, config_key, digest, recorded_digests, references};
use serde_json::Value;

use crate::client::{Call, Cluster};
use crate::targets::Scope;
use crate::ui::Ui;

/// The digest of each ConfigMap and Secret `template` references that exists in `namespace`
/// now, by [`config_key`]: one GET each.
pub async fn digests(
    cluster: &Cluster,
    namespace: &str,
    template: &Value,
) -> Result<BTreeMap<String, String>> {
    let mut digests = BTreeMap::new();
    for reference in references(template) {
        let name = reference.name.as_str();
        let call = Call {
            verb: "get",
            resource: resource(reference.kind),
            namespace,
            name: Some(name),
        };
        let object = match reference.kind {
            ConfigKind::ConfigMap => get::<ConfigMap>(cluster, namespace, name).await,
            ConfigKind::Secret => get::<Secret>(cluster, namespace, name).await,
        };
        if let Some(object) = object.map_err(|e| cluster.explain(call, e))? {
            digests.insert(config_key(reference.kind, name), digest(&object));
        }
    }
    Ok(digests)
}

/// What a revert to `template` would find of the configuration it reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Required objects that are gone (`configmap/app-cfg-7d`): the pods would not start.
    pub missing: Vec<String>,
    /// Objects whose content differs from the digest `recorded` for the revision restored.
    pub changed: Vec<String>,
    /// The digest of each object that exists, by [`config_key`]: what the revision the revert
    /// makes records.
    pub digests: BTreeMap<String, String>,
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
        digests: digests(cluster, namespace, template).await?,
        ..Found::default()
    };
    let today = &found.digests;
    for reference in references(template) {
        let key = config_key(reference.kind, &reference.name);
        let name = format!("{}/{}", kind_name(reference.kind), reference.name);
        match (today.get(&key), recorded.get(&key)) {
            (None, _) if !reference.optional => found.missing.push(name),
            (Some(now), Some(then)) if now != then => found.changed.push(name),
            _ => {}
        }
    }
    Ok(found)
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
                history
                    .config_today
                    .insert(key.clone(), today.get(key).cloned());
            }
        }
    }
    Ok(())
}

/// The digests of every object of `kind` in `namespace`, by [`config_key`]: one paged LIST.
async fn list(
    cluster: &Cluster,
    namespace: &str,
    kind: ConfigKind,
) -> Result<BTreeMap<String, String>> {
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
            let take = |page: Vec<ConfigMap>| digest_page(kind, page, &mut today);
            scope.list(resource, None, take).await?
        }
        ConfigKind::Secret => {
            let take = |page: Vec<Secret>| digest_page(kind, page, &mut today);
            scope.list(resource, None, take).await?
        }
    };
    Ok(today)
}

/// Adds the digest of each object of one page to `today`.
fn digest_page<K>(kind: ConfigKind, page: Vec<K>, today: &mut BTreeMap<String, String>)
where
    K: ResourceExt + serde::Serialize,
{
    for object in page {
        let key = config_key(kind, &object.name_any());
        if let Ok(value) = serde_json::to_value(&object) {
            today.insert(key, digest(&value));
        }
    }
}

fn resource(kind: ConfigKind) -> &'static str {
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

async fn get<K>(cluster: &Cluster, namespace: &str, name: &str) -> kube::Result<Option<Value>>
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
