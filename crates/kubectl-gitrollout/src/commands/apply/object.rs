//! One object applied as `kubectl apply --server-side --force-conflicts` applies it: read, taken
//! over from client-side apply when it was last applied that way, then applied with the field
//! manager `kubectl-gitrollout`.

use anyhow::Result;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, ResourceExt};
use rollout_core::takeover;
use serde_json::{Value, json};

use super::resources::Resource;
use crate::client::{Call, Cluster};

/// The field manager of everything `apply` writes.
pub(crate) const FIELD_MANAGER: &str = rollout_core::log::OWN_MANAGER;
/// The field manager kubectl keeps the last applied configuration under after a takeover.
const LAST_APPLIED_MANAGER: &str = "kubectl-last-applied";

/// One object of the manifests, where it lives on the server.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub resource: Resource,
    pub name: String,
    /// The namespace it lives in; `None` for a cluster-scoped kind.
    pub namespace: Option<String>,
    pub cluster: Cluster,
}

impl Target {
    fn api(&self) -> Api<DynamicObject> {
        let client = self.cluster.client.clone();
        match &self.namespace {
            Some(namespace) => Api::namespaced_with(client, namespace, &self.resource.api),
            None => Api::all_with(client, &self.resource.api),
        }
    }

    /// `deployment.apps/team-app`, as kubectl names what it applied.
    pub fn display(&self) -> String {
        format!("{}/{}", self.resource.kind_name(), self.name)
    }

    fn call<'a>(&'a self, verb: &'a str, resource: &'a str) -> Call<'a> {
        Call {
            verb,
            resource,
            namespace: self.namespace.as_deref().unwrap_or("(cluster)"),
            name: Some(&self.name),
        }
    }

    /// Turns a failed request about this object into a message that names it.
    pub fn explain(&self, verb: &str, err: kube::Error) -> anyhow::Error {
        let resource = self.resource.rbac_name();
        self.cluster.explain(self.call(verb, &resource), err)
    }

    /// The object as the server has it, or `None` when there is none yet.
    pub async fn get(&self) -> Result<Option<DynamicObject>> {
        self.api()
            .get_opt(&self.name)
            .await
            .map_err(|e| self.explain("get", e))
    }

    /// Applies `config` server-side, taking over conflicting fields, as a dry run or for real.
    pub async fn apply(&self, config: &Value, dry_run: bool) -> kube::Result<DynamicObject> {
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = dry_run;
        self.api()
            .patch(&self.name, &params, &Patch::Apply(config))
            .await
    }

    /// When `existing` was last applied with client-side `kubectl apply`, moves its
    /// client-side field ownership to this tool's manager as kubectl does when it switches to
    /// server-side apply (`csaupgrade`), so that what the manifest no longer sets is removed by
    /// the apply; the object as it then is. The last applied configuration is kept under
    /// kubectl's own manager first, as kubectl keeps it.
    pub async fn take_over(&self, existing: DynamicObject) -> Result<DynamicObject> {
        let mut object = existing;
        for _ in 0..5 {
            let fields = managed_fields(&object);
            let appliers = takeover::client_side_appliers(&fields);
            if appliers.is_empty() {
                return Ok(object);
            }
            if !takeover::last_applied_kept(&fields) {
                object = self.keep_last_applied(&object).await?;
                continue;
            }
            let Some(upgraded) = takeover::upgrade(&fields, &appliers, FIELD_MANAGER) else {
                return Ok(object);
            };
            let patch = json!([
                {"op": "replace", "path": "/metadata/managedFields", "value": upgraded},
                {"op": "replace", "path": "/metadata/resourceVersion",
                 "value": object.resource_version()},
            ]);
            let patch: json_patch::Patch = serde_json::from_value(patch)?;
            match self
                .api()
                .patch(
                    &self.name,
                    &PatchParams::default(),
                    &Patch::Json::<()>(patch),
                )
                .await
            {
                Ok(taken) => return Ok(taken),
                // Changed since it was read: read it again and take it over from that.
                Err(kube::Error::Api(status)) if status.is_conflict() => {
                    object = self.get().await?.ok_or_else(|| gone(self))?;
                }
                Err(err) => return Err(self.explain("patch", err)),
            }
        }
        Err(anyhow::anyhow!(
            "{} kept changing while its client-side apply fields were taken over",
            self.display()
        ))
    }

    /// Applies the last applied configuration alone under kubectl's manager, so the takeover
    /// keeps it (kubectl's `saveLastApplyAnnotationIfNecessary`).
    async fn keep_last_applied(&self, object: &DynamicObject) -> Result<DynamicObject> {
        let value = object
            .annotations()
            .get(takeover::LAST_APPLIED)
            .cloned()
            .unwrap_or_default();
        let config = json!({
            "apiVersion": self.resource.api.api_version,
            "kind": self.resource.api.kind,
            "metadata": {"name": self.name, "annotations": {takeover::LAST_APPLIED: value}},
        });
        let params = PatchParams::apply(LAST_APPLIED_MANAGER);
        self.api()
            .patch(&self.name, &params, &Patch::Apply(&config))
            .await
            .map_err(|e| self.explain("patch", e))
    }
}

fn gone(target: &Target) -> anyhow::Error {
    anyhow::anyhow!(
        "{} was deleted while it was being applied",
        target.display()
    )
}

/// An object's managed fields, as JSON.
fn managed_fields(object: &DynamicObject) -> Vec<Value> {
    object
        .managed_fields()
        .iter()
        .filter_map(|entry| serde_json::to_value(entry).ok())
        .collect()
}
