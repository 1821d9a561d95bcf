//! Which API resource serves an object's kind, and whether it lives in a namespace: from a table
//! of the kinds manifests hold most (no request), else from the server's discovery of that one
//! group version (one request per group version, as `kube::discovery::pinned_kind` asks it).

use std::collections::HashMap;

use anyhow::{Result, anyhow};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiResource, Scope};

use crate::client::Cluster;
use crate::hints::{Hint, hinted};

/// An API resource, and whether its objects live in namespaces.
#[derive(Debug, Clone)]
pub(super) struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

impl Resource {
    /// `deployment.apps`, `service`: how kubectl names the kind of what it applied.
    pub fn kind_name(&self) -> String {
        let kind = self.api.kind.to_lowercase();
        match self.api.group.as_str() {
            "" => kind,
            group => format!("{kind}.{group}"),
        }
    }

    /// `deployments.apps`, `services`: the resource as RBAC names it.
    pub fn rbac_name(&self) -> String {
        match self.api.group.as_str() {
            "" => self.api.plural.clone(),
            group => format!("{}.{group}", self.api.plural),
        }
    }
}

/// Built-in kinds by apiVersion and kind: (plural, namespaced).
const BUILT_IN: [(&str, &str, &str, bool); 22] = [
    ("v1", "Namespace", "namespaces", false),
    ("v1", "ConfigMap", "configmaps", true),
    ("v1", "Secret", "secrets", true),
    ("v1", "Service", "services", true),
    ("v1", "ServiceAccount", "serviceaccounts", true),
    (
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    ("v1", "Pod", "pods", true),
    ("apps/v1", "Deployment", "deployments", true),
    ("apps/v1", "StatefulSet", "statefulsets", true),
    ("apps/v1", "DaemonSet", "daemonsets", true),
    ("batch/v1", "Job", "jobs", true),
    ("batch/v1", "CronJob", "cronjobs", true),
    ("networking.k8s.io/v1", "Ingress", "ingresses", true),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
    (
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
    ),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
    ),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    ),
    (
        "scheduling.k8s.io/v1",
        "PriorityClass",
        "priorityclasses",
        false,
    ),
];

/// The resources found so far.
#[derive(Debug, Default)]
pub(super) struct Resources {
    found: HashMap<(String, String), Resource>,
}

impl Resources {
    /// The resource of `kind` in `api_version`.
    pub async fn of(
        &mut self,
        cluster: &Cluster,
        api_version: &str,
        kind: &str,
    ) -> Result<Resource> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.found.get(&key) {
            return Ok(found.clone());
        }
        let gvk = gvk(api_version, kind);
        let resource = match BUILT_IN
            .iter()
            .find(|(v, k, ..)| *v == api_version && *k == kind)
        {
            Some((_, _, plural, namespaced)) => Resource {
                api: ApiResource::from_gvk_with_plural(&gvk, plural),
                namespaced: *namespaced,
            },
            None => discover(cluster, &gvk).await?,
        };
        self.found.insert(key, resource.clone());
        Ok(resource)
    }
}

fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

/// Asks the server which resource serves `gvk`.
async fn discover(cluster: &Cluster, gvk: &GroupVersionKind) -> Result<Resource> {
    let api_version = gvk.api_version();
    match discovery::pinned_kind(&cluster.client, gvk).await {
        Ok((api, capabilities)) => Ok(Resource {
            api,
            namespaced: capabilities.scope == Scope::Namespaced,
        }),
        Err(kube::Error::Api(status)) if status.is_not_found() => Err(hinted(
            format_args!(
                "the cluster does not serve {api_version}, so it has no kind {}",
                gvk.kind
            ),
            Hint::InstallDefinition {
                kind: gvk.kind.clone(),
            },
        )),
        Err(kube::Error::Discovery(_)) => Err(hinted(
            format_args!(
                "the cluster serves {api_version}, but no kind {} in it",
                gvk.kind
            ),
            Hint::InstallDefinition {
                kind: gvk.kind.clone(),
            },
        )),
        Err(err) => Err(anyhow!(cluster.explain(
            crate::client::Call {
                verb: "get",
                resource: "the API discovery",
                namespace: &cluster.namespace,
                name: None,
            },
            err
        ))),
    }
}
