//! Snapshots of the configuration a revision reads (`--snapshot-config`): an immutable copy of
//! each referenced ConfigMap (and, asked for, Secret), owned by the revision's object; and a
//! revert's restore from them (`revert --with-config`), a conditional write per object.

use anyhow::{Result, anyhow};
use clap::{Args, ValueEnum};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, Resource};
use rollout_core::{
    ConfigKind, Owner, Reference, Revision, SNAPSHOT_DIGEST, config_key, is_snapshot_of, restored,
    snapshot, snapshot_name,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{Call, Cluster};
use crate::commands::apply::FIELD_MANAGER;
use crate::config::{display, kind_name, resource};
use crate::ui::Ui;
use crate::workload::Workload;

/// What `--snapshot-config` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kept {
    /// The ConfigMaps the revision reads
    Configmaps,
    /// Its ConfigMaps and its Secrets (copied as Secrets: same namespace, same RBAC)
    Secrets,
}

#[derive(Debug, Clone, Copy, Default, Args)]
pub struct SnapshotArgs {
    /// Keep an immutable copy of each ConfigMap the revision reads, owned by the revision (deleted
    /// with it), for `revert --with-config`; =secrets keeps its Secrets too
    #[arg(long, value_name = "WHAT", num_args = 0..=1, require_equals = true,
          default_missing_value = "configmaps")]
    pub snapshot_config: Option<Kept>,
}

impl SnapshotArgs {
    fn takes(self, kind: ConfigKind) -> bool {
        match self.snapshot_config {
            None => false,
            Some(Kept::Configmaps) => kind == ConfigKind::ConfigMap,
            Some(Kept::Secrets) => true,
        }
    }
}

/// The snapshots to make of one revision's configuration.
#[derive(Debug, Default)]
pub struct Copies {
    owner_kind: &'static str,
    owner_name: String,
    sources: Vec<(ConfigKind, Value)>,
}

impl Copies {
    /// The copies of the objects in `read` that `args` asks for, for `revision` of `workload`.
    pub fn new(
        workload: &Workload,
        revision: &Revision,
        read: &[(Reference, Value)],
        args: SnapshotArgs,
    ) -> Copies {
        let owner_kind = match workload {
            Workload::Deployment(_) => "ReplicaSet",
            Workload::StatefulSet(_) | Workload::DaemonSet(_) => "ControllerRevision",
        };
        let sources = read
            .iter()
            .filter(|(reference, _)| args.takes(reference.kind))
            .map(|(reference, object)| (reference.kind, object.clone()))
            .collect();
        Copies {
            owner_kind,
            owner_name: revision.object.clone(),
            sources,
        }
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Makes every copy, owned by the revision object whose uid is `uid`; a dry run is judged by
    /// the server and not kept. A copy already made with the same content is kept; one with
    /// other content (the revision was recorded again since) is replaced. Returns a line for
    /// each copy made; on a failure, the error and the copies made before it.
    pub async fn make(
        &self,
        cluster: &Cluster,
        uid: &str,
        dry_run: bool,
    ) -> Result<Vec<String>, (anyhow::Error, Vec<String>)> {
        let owner = Owner {
            kind: self.owner_kind,
            name: self.owner_name.clone(),
            uid: uid.to_owned(),
        };
        let mut made = Vec::new();
        for (kind, source) in &self.sources {
            let copy = snapshot(*kind, source, &owner);
            let name = copy.pointer("/metadata/name").and_then(Value::as_str);
            let name = name.unwrap_or_default().to_owned();
            let call = Call::on("create", cluster, resource(*kind), &name);
            match keep(cluster, *kind, &copy, dry_run).await {
                Ok(()) => made.push(format!(
                    "{}/{name} keeps {}/{} for {} {}",
                    kind_name(*kind),
                    kind_name(*kind),
                    source
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    self.owner_kind.to_lowercase(),
                    self.owner_name
                )),
                Err(err) => return Err((cluster.explain(call, err), made)),
            }
        }
        Ok(made)
    }
}

/// Creates `copy`, keeping one of that name with the same content, replacing one with other.
async fn keep(
    cluster: &Cluster,
    kind: ConfigKind,
    copy: &Value,
    dry_run: bool,
) -> kube::Result<()> {
    let name = copy
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match create(cluster, kind, copy, dry_run).await {
        // Judged again, and kept or replaced, when written for real.
        Err(kube::Error::Api(status)) if status.reason == "AlreadyExists" && dry_run => Ok(()),
        Err(kube::Error::Api(status)) if status.reason == "AlreadyExists" => {
            let Some(existing) = get(cluster, kind, name).await? else {
                return create(cluster, kind, copy, false).await.map(drop);
            };
            if kept_digest(&existing) == kept_digest(copy) {
                return Ok(());
            }
            let uid = existing.pointer("/metadata/uid").and_then(Value::as_str);
            delete(cluster, kind, name, uid.map(str::to_owned)).await?;
            create(cluster, kind, copy, false).await.map(drop)
        }
        other => other.map(drop),
    }
}

/// The digest of the content a snapshot holds, from its annotation.
fn kept_digest(snapshot: &Value) -> Option<&Value> {
    let annotations = snapshot.pointer("/metadata/annotations")?;
    annotations.get(SNAPSHOT_DIGEST)
}

/// What `revert --with-config` writes for one object: the content of the restored revision's
/// snapshot, onto the live object (conditional on its resourceVersion) or as a new one.
#[derive(Debug)]
pub struct Restore {
    reference: Reference,
    object: Value,
    /// The live object it replaces; `None` when it is created again.
    before: Option<Value>,
}

/// The restores of `wanted` (objects changed or missing since `revision` recorded them) from
/// that revision's snapshots: one GET each. Refused, before anything is written, when one has no
/// snapshot.
pub async fn restores(
    cluster: &Cluster,
    revision: &Revision,
    wanted: &[Reference],
    read: &[(Reference, Value)],
) -> Result<Vec<Restore>> {
    let mut restores = Vec::new();
    let mut lacking = Vec::new();
    for reference in wanted {
        let name = snapshot_name(&revision.object, &reference.name);
        let call = Call::on("get", cluster, resource(reference.kind), &name);
        let kept = get(cluster, reference.kind, &name)
            .await
            .map_err(|e| cluster.explain(call, e))?;
        let key = config_key(reference.kind, &reference.name);
        let Some(kept) = kept.filter(|k| is_snapshot_of(k, &key)) else {
            lacking.push(display(reference));
            continue;
        };
        let live = read.iter().find(|(r, _)| r == reference).map(|(_, o)| o);
        restores.push(Restore {
            reference: reference.clone(),
            object: restored(&kept, live, reference.kind, &reference.name),
            before: live.cloned(),
        });
    }
    if lacking.is_empty() {
        return Ok(restores);
    }
    Err(anyhow!(
        "revision {} has no snapshot of {}, so --with-config cannot restore it; it is kept only \
         by an apply, record or revert with --snapshot-config",
        revision.number,
        lacking.join(", ")
    ))
}

/// The configuration as it will be once `restores` are written over `read`.
pub fn after(read: &[(Reference, Value)], restores: &[Restore]) -> Vec<(Reference, Value)> {
    let mut after: Vec<_> = read
        .iter()
        .filter(|(r, _)| !restores.iter().any(|x| x.reference == *r))
        .cloned()
        .collect();
    after.extend(
        restores
            .iter()
            .map(|r| (r.reference.clone(), r.object.clone())),
    );
    after
}

/// `configmap/app-cfg restored from its snapshot`, for each restore.
pub fn describe(restores: &[Restore]) -> Vec<String> {
    describe_all(&restores.iter().collect::<Vec<_>>())
}

fn describe_all(restores: &[&Restore]) -> Vec<String> {
    restores
        .iter()
        .map(|r| {
            let how = if r.before.is_none() {
                "created again"
            } else {
                "restored"
            };
            format!("{} {how} from its snapshot", display(&r.reference))
        })
        .collect()
}

/// Writes every restore, all or nothing as `record`'s writes: first each as a dry run the server
/// judges, then each for real; when one fails, those written before it are put back. Returns
/// what was written, to be put back too if the template's write fails.
pub async fn restore_all<'r>(
    cluster: &Cluster,
    restores: &'r [Restore],
    ui: &mut Ui<'_>,
) -> Result<Restored<'r>> {
    for restore in restores {
        restore
            .write(cluster, true)
            .await
            .map_err(|e| anyhow!("{e:#}; no configuration was restored"))?;
    }
    let mut done = Restored::default();
    for restore in restores {
        match restore.write(cluster, false).await {
            Ok(written) => done.written.push((restore, written)),
            Err(err) => {
                done.put_back(cluster, ui).await?;
                return Err(anyhow!("{err:#}; the template was not changed"));
            }
        }
    }
    Ok(done)
}

/// The restores written, each with the object the server answered with: enough to put it back
/// conditionally (nothing someone changed since is overwritten).
#[derive(Debug, Default)]
pub struct Restored<'r> {
    written: Vec<(&'r Restore, ObjectMeta)>,
}

impl Restored<'_> {
    /// `configmap/app-cfg restored from its snapshot`, for each restore written.
    pub fn lines(&self) -> Vec<String> {
        let restores: Vec<&Restore> = self.written.iter().map(|(r, _)| *r).collect();
        describe_all(&restores)
    }

    /// After the write they went with failed, puts every object back as it was before, newest
    /// first, saying so for each (or warning of one that could not be).
    pub async fn put_back(self, cluster: &Cluster, ui: &mut Ui<'_>) -> Result<()> {
        for (restore, written) in self.written.into_iter().rev() {
            let name = display(&restore.reference);
            match restore.undo(cluster, written).await {
                Ok(()) => ui.note(format_args!("{name} put back as it was"))?,
                Err(err) => ui.warn(format_args!(
                    "{name} could not be put back, and stays restored from its snapshot: {err:#}"
                ))?,
            }
        }
        Ok(())
    }
}

impl Restore {
    /// Writes the restore (a dry run with `dry_run`); the object as the server wrote it.
    async fn write(&self, cluster: &Cluster, dry_run: bool) -> Result<ObjectMeta> {
        let (kind, name) = (self.reference.kind, self.reference.name.as_str());
        if self.before.is_none() {
            let call = Call::on("create", cluster, resource(kind), name);
            return create(cluster, kind, &self.object, dry_run)
                .await
                .map_err(|e| cluster.explain(call, e));
        }
        let call = Call::on("update", cluster, resource(kind), name);
        replace(cluster, kind, name, &self.object, dry_run)
            .await
            .map_err(|e| cluster.explain(call, e))
    }

    /// Puts the object back as it was before the restore wrote `written`: the object read
    /// before, conditional on `written`'s resourceVersion; one created again is deleted, on its
    /// uid.
    async fn undo(&self, cluster: &Cluster, written: ObjectMeta) -> Result<()> {
        let (kind, name) = (self.reference.kind, self.reference.name.as_str());
        let Some(before) = &self.before else {
            let call = Call::on("delete", cluster, resource(kind), name);
            return delete(cluster, kind, name, written.uid)
                .await
                .map_err(|e| cluster.explain(call, e));
        };
        let mut object = before.clone();
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            meta.insert(
                "resourceVersion".to_owned(),
                written.resource_version.unwrap_or_default().into(),
            );
        }
        let call = Call::on("update", cluster, resource(kind), name);
        replace(cluster, kind, name, &object, false)
            .await
            .map(drop)
            .map_err(|e| cluster.explain(call, e))
    }
}

fn params(dry_run: bool) -> PostParams {
    PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    }
}

trait Config:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + DeserializeOwned
    + Serialize
    + std::fmt::Debug
{
}
impl Config for ConfigMap {}
impl Config for Secret {}

fn typed<K: Config>(object: &Value) -> kube::Result<K> {
    serde_json::from_value(object.clone()).map_err(kube::Error::SerdeError)
}

async fn create(
    cluster: &Cluster,
    kind: ConfigKind,
    object: &Value,
    dry_run: bool,
) -> kube::Result<ObjectMeta> {
    async fn create_as<K: Config>(
        api: Api<K>,
        object: &Value,
        dry_run: bool,
    ) -> kube::Result<ObjectMeta> {
        let created = api.create(&params(dry_run), &typed::<K>(object)?).await?;
        Ok(created.meta().clone())
    }
    match kind {
        ConfigKind::ConfigMap => create_as(cluster.api::<ConfigMap>(), object, dry_run).await,
        ConfigKind::Secret => create_as(cluster.api::<Secret>(), object, dry_run).await,
    }
}

async fn replace(
    cluster: &Cluster,
    kind: ConfigKind,
    name: &str,
    object: &Value,
    dry_run: bool,
) -> kube::Result<ObjectMeta> {
    async fn replace_as<K: Config>(
        api: Api<K>,
        name: &str,
        object: &Value,
        dry_run: bool,
    ) -> kube::Result<ObjectMeta> {
        let replaced = api
            .replace(name, &params(dry_run), &typed::<K>(object)?)
            .await?;
        Ok(replaced.meta().clone())
    }
    match kind {
        ConfigKind::ConfigMap => {
            replace_as(cluster.api::<ConfigMap>(), name, object, dry_run).await
        }
        ConfigKind::Secret => replace_as(cluster.api::<Secret>(), name, object, dry_run).await,
    }
}

async fn get(cluster: &Cluster, kind: ConfigKind, name: &str) -> kube::Result<Option<Value>> {
    crate::config::get(cluster, &cluster.namespace, kind, name).await
}

async fn delete(
    cluster: &Cluster,
    kind: ConfigKind,
    name: &str,
    uid: Option<String>,
) -> kube::Result<()> {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid,
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match kind {
        ConfigKind::ConfigMap => cluster
            .api::<ConfigMap>()
            .delete(name, &params)
            .await
            .map(drop),
        ConfigKind::Secret => cluster
            .api::<Secret>()
            .delete(name, &params)
            .await
            .map(drop),
    }
}
