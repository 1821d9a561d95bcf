//! `log -w`: after the list, every new revision as the controllers make it, one line each, as
//! `kubectl get -w` prints changes.
//!
//! One WATCH per kind listed, from the resourceVersion of its LIST, so nothing made in between
//! is missed: the workloads (for the template and the field manager that wrote it) and the
//! objects that keep their revisions. A revision is printed once the workload's template shows
//! it is the current one, or once a newer one exists, so that the controller's writes, which
//! arrive in any order on the two watches, are seen together.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use anyhow::{Result, anyhow};
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::WatchParams;
use rollout_core::WorkloadKind;
use rollout_core::log::Entry;
use serde::de::DeserializeOwned;

use super::{Picked, items_of};
use crate::client::Call;
use crate::git::GitContext;
use crate::hints::{Hint, hinted};
use crate::render::LogItem;
use crate::targets::{Fetched, Scope, Versions, controller_uid};
use crate::ui::Ui;
use crate::wait::changes_from;
use crate::workload::{Owned, Workload};

/// The revisions already printed (or listed before the watch), by namespace, object and number.
#[derive(Debug, Default)]
pub struct Seen(HashSet<(String, String, u64)>);

impl Seen {
    /// Records `entry`; false when it was already there.
    pub fn insert(&mut self, entry: &Entry) -> bool {
        let key = (
            entry.namespace.clone(),
            entry.object.clone(),
            entry.revision,
        );
        self.0.insert(key)
    }
}

/// What one watch event brought.
enum Changed {
    Workload(Box<Workload>),
    ReplicaSet(Box<ReplicaSet>),
    ControllerRevision(Box<ControllerRevision>),
}

/// A watch error, with the resource it watched.
type Failed = (&'static str, kube::Error);

/// The state a watch keeps: the picked workloads and their revision objects, by workload uid.
#[derive(Debug)]
pub struct Follow<'a> {
    picked: &'a Picked,
    workloads: HashMap<String, Workload>,
    owned: HashMap<String, Owned>,
    seen: Seen,
}

impl<'a> Follow<'a> {
    pub fn new(picked: &'a Picked, fetched: Vec<Fetched>, seen: Seen) -> Self {
        let mut follow = Follow {
            picked,
            workloads: HashMap::new(),
            owned: HashMap::new(),
            seen,
        };
        for (workload, owned) in fetched {
            let uid = workload.metadata().uid.clone().unwrap_or_default();
            follow.owned.insert(uid.clone(), owned);
            follow.workloads.insert(uid, workload);
        }
        follow
    }

    /// Watches until interrupted (or the server refuses), handing each new revision to `print`.
    pub async fn run(
        mut self,
        scope: Scope<'_>,
        versions: &Versions,
        git: &GitContext,
        mut print: impl FnMut(&[LogItem], &mut Ui<'_>) -> Result<()>,
        ui: &mut Ui<'_>,
    ) -> Result<()> {
        let mut changes = stream::select_all(watches(scope, versions));
        while let Some(changed) = changes.next().await {
            let changed = changed.map_err(|(resource, err)| explain(scope, resource, err))?;
            let Some(uid) = self.apply(changed) else {
                continue;
            };
            let items = self.new_items(&uid, git, ui)?;
            if !items.is_empty() {
                print(&items, ui)?;
                ui.flush()?;
            }
        }
        Err(anyhow!("the watch of the revisions ended unexpectedly"))
    }

    /// Keeps what changed; the uid of the workload whose revisions it may change.
    fn apply(&mut self, changed: Changed) -> Option<String> {
        match changed {
            Changed::Workload(workload) => {
                if !self.picked.wants(&workload) {
                    return None;
                }
                let uid = workload.metadata().uid.clone()?;
                self.workloads.insert(uid.clone(), *workload);
                Some(uid)
            }
            Changed::ReplicaSet(rs) => {
                let uid = controller_uid(&rs.metadata)?;
                let owned = self
                    .owned
                    .entry(uid.clone())
                    .or_insert_with(|| Owned::ReplicaSets(Vec::new()));
                if let Owned::ReplicaSets(sets) = owned {
                    upsert(sets, *rs, |rs| &rs.metadata);
                }
                Some(uid)
            }
            Changed::ControllerRevision(cr) => {
                let uid = controller_uid(&cr.metadata)?;
                let owned = self
                    .owned
                    .entry(uid.clone())
                    .or_insert_with(|| Owned::ControllerRevisions(Vec::new()));
                if let Owned::ControllerRevisions(revisions) = owned {
                    upsert(revisions, *cr, |cr| &cr.metadata);
                }
                Some(uid)
            }
        }
    }

    /// The revisions of the workload `uid` not printed yet that are ready to be: the current
    /// one, as the live template tells, and any older than the newest.
    fn new_items(&mut self, uid: &str, git: &GitContext, ui: &mut Ui<'_>) -> Result<Vec<LogItem>> {
        let (Some(workload), Some(owned)) = (self.workloads.get(uid), self.owned.get(uid)) else {
            return Ok(Vec::new());
        };
        let history = workload.history_by_content(owned.clone());
        let newest = history.revisions.last().map(|r| r.number);
        let items = items_of(&history, workload, git, ui)?;
        let ready = |e: &Entry| e.current || Some(e.revision) != newest;
        Ok(items
            .into_iter()
            .filter(|item| ready(&item.entry) && self.seen.insert(&item.entry))
            .collect())
    }
}

/// Replaces the object of the same name in `objects`, or adds it.
fn upsert<T>(objects: &mut Vec<T>, object: T, meta: fn(&T) -> &ObjectMeta) {
    let name = meta(&object).name.clone();
    match objects.iter_mut().find(|o| meta(o).name == name) {
        Some(slot) => *slot = object,
        None => objects.push(object),
    }
}

/// One watch per kind that was listed, from the version it was listed at.
fn watches(
    scope: Scope<'_>,
    versions: &Versions,
) -> Vec<BoxStream<'static, Result<Changed, Failed>>> {
    let mut watches = Vec::new();
    for (kind, version) in &versions.workloads {
        watches.push(match kind {
            WorkloadKind::Deployment => watch::<Deployment>(scope, kind.resource(), version, |d| {
                Changed::Workload(Box::new(Workload::Deployment(d)))
            }),
            WorkloadKind::StatefulSet => {
                watch::<StatefulSet>(scope, kind.resource(), version, |s| {
                    Changed::Workload(Box::new(Workload::StatefulSet(s)))
                })
            }
            WorkloadKind::DaemonSet => watch::<DaemonSet>(scope, kind.resource(), version, |d| {
                Changed::Workload(Box::new(Workload::DaemonSet(d)))
            }),
        });
    }
    if let Some(version) = &versions.replicasets {
        let resource = WorkloadKind::Deployment.history_resource();
        let wrap = |rs| Changed::ReplicaSet(Box::new(rs));
        watches.push(watch_all::<ReplicaSet>(scope, resource, version, wrap));
    }
    if let Some(version) = &versions.controller_revisions {
        let resource = WorkloadKind::StatefulSet.history_resource();
        let wrap = |cr| Changed::ControllerRevision(Box::new(cr));
        watches.push(watch_all::<ControllerRevision>(
            scope, resource, version, wrap,
        ));
    }
    watches
}

/// A watch of the workloads of `K` that the selector selects.
fn watch<K>(
    scope: Scope<'_>,
    resource: &'static str,
    version: &Option<String>,
    wrap: fn(K) -> Changed,
) -> BoxStream<'static, Result<Changed, Failed>>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    K: Clone + Debug + DeserializeOwned + Send + 'static,
{
    let params = match scope.selector {
        Some(selector) => WatchParams::default().labels(selector),
        None => WatchParams::default(),
    };
    let version = version.clone().unwrap_or_default();
    changes_from(scope.api::<K>(), params, version)
        .map(move |changed| changed.map(wrap).map_err(|err| (resource, err)))
        .boxed()
}

/// A watch of every object of `K` (revision objects carry their pods' labels, not the
/// workload's, so the selector cannot pick them).
fn watch_all<K>(
    scope: Scope<'_>,
    resource: &'static str,
    version: &str,
    wrap: fn(K) -> Changed,
) -> BoxStream<'static, Result<Changed, Failed>>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    K: Clone + Debug + DeserializeOwned + Send + 'static,
{
    let unselected = Scope {
        selector: None,
        ..scope
    };
    watch(unselected, resource, &Some(version.to_owned()), wrap)
}

/// A watch that failed, said as the other API errors are; a watch that fell behind what the
/// server keeps says to start again.
fn explain(scope: Scope<'_>, resource: &str, err: kube::Error) -> anyhow::Error {
    if let kube::Error::Api(status) = &err
        && status.code == 410
    {
        return hinted(
            format_args!(
                "the watch of {resource} fell behind the changes the server keeps: {}",
                status.message
            ),
            Hint::WatchAgain,
        );
    }
    let call = Call {
        verb: "watch",
        resource,
        namespace: scope.namespace(),
        name: None,
    };
    scope.cluster.explain(call, err)
}
