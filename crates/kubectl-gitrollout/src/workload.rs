//! Fetching a workload and the objects that keep its history, and turning them into core values.
//!
//! Exactly two API requests: a GET of the workload, and a LIST of its ReplicaSets or
//! ControllerRevisions filtered by its selector on the server, then by controller owner here.

use std::collections::BTreeMap;

use anyhow::Result;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::Api;
use kube::api::ListParams;
use rollout_core::log::{ManagedField, TemplateWriter, owns_template, template_writer};
use rollout_core::{Current, History, Listed, Revision, RolloutProgress, Unnumbered, WorkloadKind};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cli::WorkloadRef;
use crate::client::{Call, Cluster};

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// A workload with a rollout history.
#[derive(Debug, Clone)]
pub enum Workload {
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    DaemonSet(DaemonSet),
}

/// The objects that keep a workload's revisions.
#[derive(Debug, Clone)]
pub enum Owned {
    ReplicaSets(Vec<ReplicaSet>),
    ControllerRevisions(Vec<ControllerRevision>),
}

impl Workload {
    /// The workload of `kind` in an object's JSON form (an `apps/v1` object as the API serves it).
    pub fn from_value(kind: WorkloadKind, object: Value) -> serde_json::Result<Self> {
        Ok(match kind {
            WorkloadKind::Deployment => Workload::Deployment(serde_json::from_value(object)?),
            WorkloadKind::StatefulSet => Workload::StatefulSet(serde_json::from_value(object)?),
            WorkloadKind::DaemonSet => Workload::DaemonSet(serde_json::from_value(object)?),
        })
    }

    pub fn kind(&self) -> WorkloadKind {
        match self {
            Workload::Deployment(_) => WorkloadKind::Deployment,
            Workload::StatefulSet(_) => WorkloadKind::StatefulSet,
            Workload::DaemonSet(_) => WorkloadKind::DaemonSet,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Workload::Deployment(d) => &d.metadata,
            Workload::StatefulSet(s) => &s.metadata,
            Workload::DaemonSet(d) => &d.metadata,
        }
    }

    fn selector(&self) -> Option<&LabelSelector> {
        match self {
            Workload::Deployment(d) => d.spec.as_ref().map(|s| &s.selector),
            Workload::StatefulSet(s) => s.spec.as_ref().map(|s| &s.selector),
            Workload::DaemonSet(d) => d.spec.as_ref().map(|s| &s.selector),
        }
    }

    /// The workload's selector in the form the API's `labelSelector` parameter takes.
    pub fn selector_string(&self) -> String {
        self.selector().map(selector_string).unwrap_or_default()
    }

    /// The live pod template, in the canonical form revisions are compared in.
    pub fn template_value(&self) -> Value {
        self.template().map(template_value).unwrap_or_default()
    }

    /// Whether the rollout is paused (only Deployments can be).
    pub fn paused(&self) -> bool {
        match self {
            Workload::Deployment(d) => d.spec.as_ref().and_then(|s| s.paused) == Some(true),
            Workload::StatefulSet(_) | Workload::DaemonSet(_) => false,
        }
    }

    /// The counts `kubectl rollout status` judges this workload's rollout by.
    pub fn progress(&self) -> RolloutProgress {
        let generation = self.metadata().generation.unwrap_or_default();
        match self {
            Workload::Deployment(d) => {
                let status = d.status.clone().unwrap_or_default();
                let stuck = status.conditions.iter().flatten().any(|c| {
                    c.type_ == "Progressing"
                        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
                });
                RolloutProgress {
                    generation,
                    observed_generation: status.observed_generation.unwrap_or_default(),
                    desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    updated: status.updated_replicas.unwrap_or_default(),
                    ready: status.ready_replicas.unwrap_or_default(),
                    available: status.available_replicas.unwrap_or_default(),
                    total: status.replicas.unwrap_or_default(),
                    deadline_exceeded: stuck,
                    revisions_converged: true,
                    rolling: true,
                }
            }
            Workload::StatefulSet(s) => {
                let status = s.status.clone().unwrap_or_default();
                let strategy = s.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
                RolloutProgress {
                    generation,
                    observed_generation: status.observed_generation.unwrap_or_default(),
                    desired: s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    updated: status.updated_replicas.unwrap_or_default(),
                    ready: status.ready_replicas.unwrap_or_default(),
                    available: status.available_replicas.unwrap_or_default(),
                    total: status.replicas,
                    deadline_exceeded: false,
                    revisions_converged: status.current_revision.is_some()
                        && status.current_revision == status.update_revision,
                    rolling: strategy.and_then(|s| s.type_.as_deref()) != Some("OnDelete"),
                }
            }
            Workload::DaemonSet(d) => {
                let status = d.status.clone().unwrap_or_default();
                let strategy = d.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
                RolloutProgress {
                    generation,
                    observed_generation: status.observed_generation.unwrap_or_default(),
                    desired: status.desired_number_scheduled,
                    updated: status.updated_number_scheduled.unwrap_or_default(),
                    ready: status.number_ready,
                    available: status.number_available.unwrap_or_default(),
                    total: status.current_number_scheduled,
                    deadline_exceeded: false,
                    revisions_converged: true,
                    rolling: strategy.and_then(|s| s.type_.as_deref()) != Some("OnDelete"),
                }
            }
        }
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Workload::Deployment(d) => d.spec.as_ref().map(|s| &s.template),
            Workload::StatefulSet(s) => s.spec.as_ref().map(|s| &s.template),
            Workload::DaemonSet(d) => d.spec.as_ref().map(|s| &s.template),
        }
    }

    /// How this workload says which revision is current.
    fn current(&self) -> Current {
        match self {
            Workload::Deployment(d) => d
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION)?.parse().ok())
                .map_or(Current::Unknown, Current::Number),
            Workload::StatefulSet(s) => s
                .status
                .as_ref()
                .and_then(|s| s.update_revision.clone())
                .map_or(Current::Unknown, Current::Object),
            Workload::DaemonSet(_) => Current::Template(self.template_value()),
        }
    }

    /// The history of this workload from the objects listed with its selector: those it does
    /// not control are left out.
    pub fn history(&self, owned: Owned) -> History {
        self.history_with(owned, self.current())
    }

    /// The history, with the current revision the one whose content the live template has,
    /// whatever the workload's status says yet: for objects watched as they change, when the
    /// controller may not have updated the workload since it made the revision.
    pub fn history_by_content(&self, owned: Owned) -> History {
        self.history_with(owned, Current::Template(self.template_value()))
    }

    /// Drops the `managedFields` entries that own nothing of the pod template, which
    /// [`Workload::template_writer`] never reads.
    pub fn keep_template_writers(&mut self) {
        let meta = match self {
            Workload::Deployment(d) => &mut d.metadata,
            Workload::StatefulSet(s) => &mut s.metadata,
            Workload::DaemonSet(d) => &mut d.metadata,
        };
        if let Some(fields) = &mut meta.managed_fields {
            fields.retain(|f| {
                owns_template(f.fields_v1.as_ref().map(|v| &v.0), f.subresource.as_deref())
            });
        }
    }

    /// The field manager that last wrote the pod template, and when, from `managedFields`.
    pub fn template_writer(&self) -> TemplateWriter {
        let fields: Vec<ManagedField> = (self.metadata().managed_fields.iter().flatten())
            .map(|f| ManagedField {
                manager: f.manager.clone(),
                operation: f.operation.clone(),
                time: f.time.as_ref().map(|t| t.0),
                fields_v1: f.fields_v1.as_ref().map(|v| v.0.clone()),
                subresource: f.subresource.clone(),
            })
            .collect();
        template_writer(&fields)
    }

    fn history_with(&self, owned: Owned, current: Current) -> History {
        let meta = self.metadata();
        let uid = meta.uid.as_deref();
        let controlled = |m: &ObjectMeta| {
            m.owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
        };
        let mut listed = Listed {
            live: Some(self.template_value()),
            ..Listed::default()
        };
        match owned {
            Owned::ReplicaSets(sets) => {
                for rs in sets.into_iter().filter(|rs| controlled(&rs.metadata)) {
                    match replicaset_revision(rs) {
                        Ok(revision) => listed.revisions.push(revision),
                        Err(unnumbered) => listed.unnumbered.push(unnumbered),
                    }
                }
            }
            Owned::ControllerRevisions(revisions) => {
                let controlled = revisions.into_iter().filter(|cr| controlled(&cr.metadata));
                listed.revisions = controlled.map(controller_revision).collect();
            }
        }
        History::from_listed(
            self.kind(),
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
            listed,
            current,
        )
    }
}

/// GETs the workload and LISTs the objects that keep its history.
pub async fn fetch(cluster: &Cluster, target: &WorkloadRef) -> Result<(Workload, Owned)> {
    let workload = fetch_workload(cluster, target).await?;
    let owned = list_owned(cluster, &workload).await?;
    Ok((workload, owned))
}

/// LISTs the objects that keep `workload`'s history, by its selector.
pub async fn list_owned(cluster: &Cluster, workload: &Workload) -> Result<Owned> {
    let kind = workload.kind();
    let params = ListParams::default().labels(&workload.selector_string());
    let call = Call {
        verb: "list",
        resource: kind.history_resource(),
        namespace: &cluster.namespace,
        name: None,
    };
    let owned = match kind {
        WorkloadKind::Deployment => {
            let api: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
            let list = api.list(&params).await;
            Owned::ReplicaSets(list.map_err(|e| cluster.explain(call, e))?.items)
        }
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
            let api: Api<ControllerRevision> =
                Api::namespaced(cluster.client.clone(), &cluster.namespace);
            let list = api.list(&params).await;
            Owned::ControllerRevisions(list.map_err(|e| cluster.explain(call, e))?.items)
        }
    };
    Ok(owned)
}

/// GETs the workload alone.
pub async fn fetch_workload(cluster: &Cluster, target: &WorkloadRef) -> Result<Workload> {
    Ok(match target.kind {
        WorkloadKind::Deployment => Workload::Deployment(get(cluster, target).await?),
        WorkloadKind::StatefulSet => Workload::StatefulSet(get(cluster, target).await?),
        WorkloadKind::DaemonSet => Workload::DaemonSet(get(cluster, target).await?),
    })
}

async fn get<K>(cluster: &Cluster, target: &WorkloadRef) -> Result<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    K: Clone + std::fmt::Debug + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let call = Call {
        verb: "get",
        resource: target.kind.resource(),
        namespace: &cluster.namespace,
        name: Some(&target.name),
    };
    api.get(&target.name)
        .await
        .map_err(|e| cluster.explain(call, e))
}

/// A label selector in the form the API's `labelSelector` parameter takes.
pub fn selector_string(selector: &LabelSelector) -> String {
    let labels = selector.match_labels.iter().flatten();
    let mut terms: Vec<String> = labels.map(|(k, v)| format!("{k}={v}")).collect();
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.clone().unwrap_or_default().join(",");
        let key = &expr.key;
        terms.push(match expr.operator.as_str() {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.clone(),
            _ => format!("!{key}"),
        });
    }
    terms.join(",")
}

/// A pod template in its canonical JSON form: typed, so what the server leaves as `null` and
/// what it omits compare equal.
fn template_value(template: &PodTemplateSpec) -> Value {
    serde_json::to_value(template).unwrap_or_default()
}

fn annotations(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.annotations.clone().unwrap_or_default()
}

fn change_cause(annotations: &BTreeMap<String, String>) -> Option<String> {
    annotations
        .get(CHANGE_CAUSE)
        .filter(|c| !c.is_empty())
        .cloned()
}

/// A ReplicaSet's revision, or the ReplicaSet named as one without a revision number.
fn replicaset_revision(rs: ReplicaSet) -> Result<Revision, Unnumbered> {
    let annotations = annotations(&rs.metadata);
    let value = annotations.get(REVISION);
    let Some(number) = value.and_then(|v| v.parse().ok()) else {
        return Err(Unnumbered {
            object: rs.metadata.name.clone().unwrap_or_default(),
            value: value.cloned(),
        });
    };
    let earlier_numbers = annotations
        .get(REVISION_HISTORY)
        .map(|h| h.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
    Ok(Revision {
        number,
        created_at: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        template: template.map(template_value).unwrap_or_default(),
        change_cause: change_cause(&annotations),
        earlier_numbers,
        object: rs.metadata.name.clone().unwrap_or_default(),
        pods: rs.status.as_ref().map(|s| s.replicas),
        annotations,
    })
}

/// A ControllerRevision's revision: its `data` holds `{"spec": {"template": ...}}`.
fn controller_revision(cr: ControllerRevision) -> Revision {
    let annotations = annotations(&cr.metadata);
    let template = cr
        .data
        .as_ref()
        .and_then(|d| d.0.pointer("/spec/template"))
        .and_then(|t| serde_json::from_value::<PodTemplateSpec>(t.clone()).ok());
    Revision {
        number: u64::try_from(cr.revision).unwrap_or_default(),
        created_at: cr.metadata.creation_timestamp.as_ref().map(|t| t.0),
        template: template.as_ref().map(template_value).unwrap_or_default(),
        change_cause: change_cause(&annotations),
        earlier_numbers: Vec::new(),
        object: cr.metadata.name.clone().unwrap_or_default(),
        pods: None,
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_read_as_the_api_reads_them() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "team-app", "tier": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "stage"]},
                {"key": "canary", "operator": "NotIn", "values": ["true"]},
                {"key": "team", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }))
        .unwrap();
        assert_eq!(
            selector_string(&selector),
            "app=team-app,tier=web,env in (prod,stage),canary notin (true),team,!legacy"
        );
    }
}
