//! Reads the records of the tools that deployed a workload (Helm's release Secrets, Argo CD's
//! Application, Flux's Kustomization and HelmRelease), only those the workload's marks name, and
//! turns them into [`Source`]s for [`rollout_core::deployed::attribute`]. One request per source.
//!
//! A Helm release record holds the chart, its values and the rendered manifest, any of which may
//! hold secrets: only the revision, times, status, description, chart name and versions, the
//! labels and the workload's own pod template are kept, and none of the rest is ever printed.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context, Result};
use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject};
use kube::{Api, ResourceExt};
use rollout_core::deployed::{Source, Sync, Tool, commit_in_text, is_sha};
use rollout_core::{History, SourceRef, sources};
use serde::Deserialize;
use serde_json::Value;

use crate::client::{Call, Cluster};
use crate::hints::{Hint, Hinted};
use crate::targets::Scope;
use crate::ui::Ui;
use crate::workload::Workload;

/// Reads the sources `workload` names and attributes its revisions, into
/// [`History::deployed`]. A source that cannot be read (no RBAC, not installed, gone) is named in
/// one note, and the history goes on without it.
pub async fn attribute(
    cluster: &Cluster,
    workload: &Workload,
    history: &mut History,
    argocd_namespace: &str,
    ui: &mut Ui<'_>,
) -> Result<()> {
    let meta = workload.metadata();
    let empty = BTreeMap::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    let annotations = meta.annotations.as_ref().unwrap_or(&empty);
    let mut read = Vec::new();
    for reference in sources(labels, annotations, &history.namespace) {
        match source(cluster, &reference, history, argocd_namespace).await {
            Ok(Some(source)) => read.push(source),
            Ok(None) => ui.note(format_args!(
                "{} is not in the cluster; who deployed {} is told without it",
                describe(&reference, argocd_namespace),
                history.workload()
            ))?,
            Err(err) if unreadable(&err) => ui.note(format_args!(
                "cannot read {}, so who deployed {} is told without it: {err:#}",
                describe(&reference, argocd_namespace),
                history.workload()
            ))?,
            Err(err) => return Err(err),
        }
    }
    history.deployed = rollout_core::deployed::attribute(history, &read);
    Ok(())
}

/// The source `reference` names, or `None` when it (or its kind) is not in the cluster.
async fn source(
    cluster: &Cluster,
    reference: &SourceRef,
    history: &History,
    argocd_namespace: &str,
) -> Result<Option<Source>> {
    match reference {
        SourceRef::HelmRelease { name, namespace } => {
            helm_release(cluster, name, namespace, history).await
        }
        SourceRef::Application { name, namespace } => {
            let namespace = namespace.as_deref().unwrap_or(argocd_namespace);
            let object = custom(cluster, &APPLICATION, namespace, name).await?;
            Ok(object.map(|o| application(name, namespace, &o)))
        }
        SourceRef::Kustomization { name, namespace } => {
            let object = custom(cluster, &KUSTOMIZATION, namespace, name).await?;
            Ok(object.map(|o| kustomization(name, namespace, &o)))
        }
        SourceRef::FluxHelmRelease { name, namespace } => {
            let object = custom(cluster, &HELM_RELEASE, namespace, name).await?;
            Ok(object.map(|o| flux_helm_release(name, namespace, &o)))
        }
    }
}

/// `the Helm release records of web in namespace ns`, `Application argocd/guestbook`.
fn describe(reference: &SourceRef, argocd_namespace: &str) -> String {
    match reference {
        SourceRef::HelmRelease { name, namespace } => {
            format!("the Helm release records of {name} in namespace {namespace}")
        }
        SourceRef::Application { name, namespace } => format!(
            "Application {}/{name}",
            namespace.as_deref().unwrap_or(argocd_namespace)
        ),
        SourceRef::Kustomization { name, namespace } => {
            format!("Kustomization {namespace}/{name}")
        }
        SourceRef::FluxHelmRelease { name, namespace } => {
            format!("HelmRelease {namespace}/{name}")
        }
    }
}

/// Whether an error only means this source cannot be read: RBAC refused it. (A source that is
/// not there is `None`, not an error.)
fn unreadable(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<Hinted>(),
        Some(Hinted {
            hint: Hint::AskForRole { .. },
            ..
        })
    )
}

/// A custom resource's API, named without discovery.
struct Custom {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
}

const APPLICATION: Custom = Custom {
    group: "argoproj.io",
    version: "v1alpha1",
    kind: "Application",
    plural: "applications",
};
const KUSTOMIZATION: Custom = Custom {
    group: "kustomize.toolkit.fluxcd.io",
    version: "v1",
    kind: "Kustomization",
    plural: "kustomizations",
};
const HELM_RELEASE: Custom = Custom {
    group: "helm.toolkit.fluxcd.io",
    version: "v2",
    kind: "HelmRelease",
    plural: "helmreleases",
};

/// One GET of a custom resource; `None` when it, or its kind, is not there.
async fn custom(
    cluster: &Cluster,
    custom: &Custom,
    namespace: &str,
    name: &str,
) -> Result<Option<Value>> {
    let resource = ApiResource {
        group: custom.group.to_owned(),
        version: custom.version.to_owned(),
        api_version: format!("{}/{}", custom.group, custom.version),
        kind: custom.kind.to_owned(),
        plural: custom.plural.to_owned(),
    };
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), namespace, &resource);
    let plural = format!("{}.{}", custom.plural, custom.group);
    let call = Call {
        verb: "get",
        resource: &plural,
        namespace,
        name: Some(name),
    };
    let object = api
        .get_opt(name)
        .await
        .map_err(|e| cluster.explain(call, e))?;
    Ok(object.map(|o| o.data))
}

/// The labels Helm's Secrets driver keeps for itself; the others are the release's own
/// (`helm upgrade --labels`).
const HELM_SYSTEM_LABELS: [&str; 6] = [
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

/// The records of release `name`: one LIST of its Secrets. `None` when it has none.
async fn helm_release(
    cluster: &Cluster,
    name: &str,
    namespace: &str,
    history: &History,
) -> Result<Option<Source>> {
    let cluster = cluster.in_namespace(namespace);
    let scope = Scope {
        cluster: &cluster,
        selector: None,
        all_namespaces: false,
    };
    let selector = format!("owner=helm,name={name}");
    let mut records = Vec::new();
    let take = |page: Vec<Secret>| records.extend(page);
    scope.list("secrets", Some(&selector), take).await?;
    let kind = history.kind.kind();
    let mut read: Vec<(Sync, Option<(String, String)>)> = records
        .iter()
        .filter(|s| s.type_.as_deref() == Some("helm.sh/release.v1"))
        .filter_map(|secret| helm_sync(secret, kind, &history.name))
        .collect();
    read.sort_by_key(|(sync, _)| sync.revision.as_u64());
    let mut syncs = trust_labels(read);
    if syncs.is_empty() {
        return Ok(None);
    }
    close_windows(&mut syncs);
    Ok(Some(Source {
        tool: Tool::Helm,
        kind: "Release",
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        syncs,
    }))
}

/// The parts of a Helm release record (`pkg/release/v1`'s `Release`) that are read. The chart's
/// templates and values, the release's values and its notes are skipped unread.
#[derive(Deserialize)]
struct Release {
    version: u64,
    #[serde(default)]
    info: ReleaseInfo,
    chart: Option<Chart>,
    #[serde(default)]
    manifest: String,
}

#[derive(Default, Deserialize)]
struct ReleaseInfo {
    last_deployed: Option<Timestamp>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct Chart {
    metadata: Option<ChartMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChartMetadata {
    name: String,
    version: String,
    app_version: Option<String>,
}

/// A release record at most this large once decompressed; Helm's own limit on a release is the
/// Secret's 1 MiB, so this bounds a hostile record.
const RELEASE_LIMIT: u64 = 64 << 20;

/// The commit of each release, oldest first: the one its description names, else the one its
/// labels name. Helm copies a release's labels onto the next upgrade and a rollback, so a label
/// names the commit only of releases that applied what the oldest release carrying it applied.
fn trust_labels(read: Vec<(Sync, Option<(String, String)>)>) -> Vec<Sync> {
    let mut first: BTreeMap<(String, String), Option<Value>> = BTreeMap::new();
    read.into_iter()
        .map(|(mut sync, label)| {
            if let Some(label) = label {
                let origin = first
                    .entry(label.clone())
                    .or_insert_with(|| sync.template.clone());
                let same = match (origin.as_ref(), sync.template.as_ref()) {
                    (Some(a), Some(b)) => rollout_core::template::same_content(a, b),
                    _ => false,
                };
                if sync.commit.is_none() && same {
                    sync.commit = Some((label.1, format!("label {}", label.0)));
                }
            }
            sync
        })
        .collect()
}

/// One release record as a sync, with the commit a label of its names (`(key, sha)`); `None`
/// when it cannot be decoded.
fn helm_sync(
    secret: &Secret,
    kind: &str,
    workload: &str,
) -> Option<(Sync, Option<(String, String)>)> {
    let data = secret.data.as_ref()?.get("release")?;
    let release = decode_release(&data.0).ok()?;
    let labels = secret.labels();
    let started = release.info.last_deployed.or_else(|| {
        let created = labels.get("createdAt")?.parse().ok()?;
        Timestamp::from_second(created).ok()
    })?;
    let template = rollout_git::workload_template(release.manifest.as_bytes(), kind, workload)
        .ok()
        .flatten();
    let label = labels
        .iter()
        .filter(|(key, _)| !HELM_SYSTEM_LABELS.contains(&key.as_str()))
        .find(|(_, value)| value.len() == 40 && is_sha(value))
        .map(|(key, value)| (key.clone(), value.clone()));
    let commit =
        commit_in_text(&release.info.description).map(|sha| (sha, "description".to_owned()));
    let mut details = BTreeMap::from([("status", release.info.status)]);
    if !release.info.description.is_empty() {
        details.insert("description", release.info.description);
    }
    if let Some(chart) = release.chart.and_then(|c| c.metadata) {
        details.insert("chart", format!("{}-{}", chart.name, chart.version));
        if let Some(app) = chart.app_version {
            details.insert("appVersion", app);
        }
    }
    let sync = Sync {
        revision: release.version.into(),
        started,
        ended: started,
        template,
        commit,
        details,
        release: None,
    };
    Some((sync, label))
}

/// A release record as Helm's Secrets driver stores it: base64 of gzipped JSON (or of plain
/// JSON, as older Helm wrote it).
fn decode_release(data: &[u8]) -> Result<Release> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .context("not base64")?;
    let mut json = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(RELEASE_LIMIT)
            .read_to_end(&mut json)
            .context("not gzip")?;
    } else {
        json = bytes;
    }
    serde_json::from_slice(&json).context("not a release")
}

/// How long after its start a sync that records no end is taken to have run: a release's or a
/// HelmRelease's upgrade makes its ReplicaSet within seconds of starting.
const OPEN_WINDOW: SignedDuration = SignedDuration::from_secs(120);

/// Ends each sync whose record gives no end at most [`OPEN_WINDOW`] after it started, and
/// before the next one started.
fn close_windows(syncs: &mut [Sync]) {
    let starts: Vec<Timestamp> = syncs.iter().map(|s| s.started).skip(1).collect();
    for (index, sync) in syncs.iter_mut().enumerate() {
        let mut end = sync.started + OPEN_WINDOW;
        if let Some(next) = starts.get(index) {
            end = end
                .min(*next - SignedDuration::from_secs(1))
                .max(sync.started);
        }
        sync.ended = end;
    }
}

fn time(value: &Value, key: &str) -> Option<Timestamp> {
    value.get(key)?.as_str()?.parse().ok()
}

fn text(value: &Value, key: &str) -> Option<String> {
    Some(value.get(key)?.as_str()?.to_owned())
}

/// An Argo CD Application's `.status.history[]` (`RevisionHistory` in Argo CD's
/// `pkg/apis/application/v1alpha1/types.go`): each entry's window runs from `deployStartedAt` to
/// `deployedAt`, and its revision is a commit when it is one.
fn application(name: &str, namespace: &str, object: &Value) -> Source {
    let entries = object.pointer("/status/history").and_then(Value::as_array);
    let mut syncs: Vec<Sync> = entries
        .into_iter()
        .flatten()
        .filter_map(argo_sync)
        .collect();
    syncs.sort_by_key(|s| s.started);
    Source {
        tool: Tool::ArgoCd,
        kind: "Application",
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        syncs,
    }
}

/// One entry of an Application's history, as a sync.
fn argo_sync(entry: &Value) -> Option<Sync> {
    let ended = time(entry, "deployedAt")?;
    let started = time(entry, "deployStartedAt").unwrap_or(ended);
    let revisions: Vec<String> = match text(entry, "revision") {
        Some(one) => vec![one],
        None => entry
            .get("revisions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
    };
    let commit = revisions
        .iter()
        .find(|r| r.len() == 40 && is_sha(r))
        .map(|sha| (sha.clone(), "sync revision".to_owned()));
    let mut details = BTreeMap::new();
    if !revisions.is_empty() {
        details.insert("sourceRevision", revisions.join(","));
    }
    let source = entry
        .get("source")
        .or_else(|| entry.pointer("/sources/0"))
        .and_then(|s| text(s, "repoURL"));
    if let Some(source) = source {
        details.insert("source", source);
    }
    let initiated = entry.get("initiatedBy");
    let by = initiated.and_then(|i| text(i, "username")).or_else(|| {
        let automated = initiated?.get("automated")?.as_bool()?;
        automated.then(|| "automated".to_owned())
    });
    if let Some(by) = by {
        details.insert("initiatedBy", by);
    }
    details.insert("deployedAt", ended.to_string());
    Some(Sync {
        revision: entry.get("id").cloned().unwrap_or(Value::Null),
        started,
        ended,
        template: None,
        commit,
        details,
        release: None,
    })
}

/// A Flux Kustomization's `.status.history[]` (`Snapshot` in fluxcd/pkg `apis/meta`): a snapshot
/// is recorded when its reconciliation ends, `firstReconciled` the first time, so its window is
/// that reconciliation: `lastReconciledDuration` before `firstReconciled`, up to it.
fn kustomization(name: &str, namespace: &str, object: &Value) -> Source {
    let entries = object.pointer("/status/history").and_then(Value::as_array);
    let mut syncs: Vec<Sync> = entries
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let ended = time(entry, "firstReconciled")?;
            let took = text(entry, "lastReconciledDuration")
                .and_then(|d| d.parse::<SignedDuration>().ok())
                .unwrap_or_default();
            let revision = entry
                .pointer("/metadata/revision")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| text(entry, "digest"))?;
            let commit = revision
                .rsplit_once("sha1:")
                .map(|(_, sha)| sha)
                .filter(|sha| sha.len() == 40 && is_sha(sha))
                .map(|sha| (sha.to_owned(), "source revision".to_owned()));
            let mut details = BTreeMap::from([("reconciledAt", ended.to_string())]);
            if let Some(status) = text(entry, "lastReconciledStatus") {
                details.insert("status", status);
            }
            Some(Sync {
                revision: Value::String(revision),
                started: ended - took.abs(),
                ended,
                template: None,
                commit,
                details,
                release: None,
            })
        })
        .collect();
    syncs.sort_by_key(|s| s.started);
    Source {
        tool: Tool::Flux,
        kind: "Kustomization",
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        syncs,
    }
}

/// A Flux HelmRelease's `.status.history[]` (`Snapshot` in helm-controller's `api/v2`): each
/// names the Helm release revision it installed, and when that release was deployed.
fn flux_helm_release(name: &str, namespace: &str, object: &Value) -> Source {
    let entries = object.pointer("/status/history").and_then(Value::as_array);
    let mut syncs: Vec<Sync> = entries
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let started = time(entry, "lastDeployed").or_else(|| time(entry, "firstDeployed"))?;
            let chart_version = text(entry, "chartVersion")?;
            let mut details = BTreeMap::new();
            if let Some(chart) = text(entry, "chartName") {
                details.insert("chart", format!("{chart}-{chart_version}"));
            }
            for (key, field) in [("appVersion", "appVersion"), ("status", "status")] {
                if let Some(value) = text(entry, field) {
                    details.insert(key, value);
                }
            }
            Some(Sync {
                revision: Value::String(chart_version),
                started,
                ended: started,
                template: None,
                commit: None,
                details,
                release: entry.get("version").and_then(Value::as_u64),
            })
        })
        .collect();
    syncs.sort_by_key(|s| s.started);
    close_windows(&mut syncs);
    Source {
        tool: Tool::Flux,
        kind: "HelmRelease",
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        syncs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    #[test]
    fn decodes_a_release_record_as_helm_stores_it() {
        let release = json!({
            "name": "web", "version": 3, "namespace": "ns",
            "info": {"last_deployed": "2026-12-03T17:40:01.123456789Z", "status": "deployed",
                     "description": "Upgrade complete"},
            "chart": {"metadata": {"name": "web", "version": "0.1.0", "appVersion": "1.17"},
                      "values": {"password": "hunter2"}},
            "config": {"password": "hunter2"},
            "manifest": "---\nkind: Deployment\n",
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(release.to_string().as_bytes()).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let decoded = decode_release(data.as_bytes()).unwrap();
        assert_eq!(decoded.version, 3);
        assert_eq!(decoded.info.status, "deployed");
        assert_eq!(
            decoded.info.last_deployed.unwrap().to_string(),
            "2026-12-03T17:40:01.123456789Z"
        );
        assert_eq!(
            decoded
                .chart
                .unwrap()
                .metadata
                .unwrap()
                .app_version
                .as_deref(),
            Some("1.17")
        );
        assert!(decode_release(b"not base64!").is_err());
    }

    #[test]
    fn a_kustomization_snapshot_spans_its_reconciliation() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let object = json!({"status": {"history": [{
            "digest": "sha256:abc", "firstReconciled": "2026-12-03T10:00:05Z",
            "lastReconciled": "2026-12-03T10:30:05Z", "lastReconciledDuration": "2.5s",
            "lastReconciledStatus": "ReconciliationSucceeded", "totalReconciliations": 7,
            "metadata": {"revision": format!("main@sha1:{sha}")},
        }]}});
        let source = kustomization("apps", "flux-system", &object);
        let sync = &source.syncs[0];
        assert_eq!(sync.started.to_string(), "2026-12-03T10:00:02.5Z");
        assert_eq!(sync.ended.to_string(), "2026-12-03T10:00:05Z");
        assert_eq!(sync.commit.as_ref().unwrap().0, sha);
    }
}
