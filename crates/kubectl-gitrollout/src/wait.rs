//! Waiting by watching, never by polling: for the revision the controller makes after a write,
//! and for a rollout to complete as `kubectl rollout status` judges it.
//!
//! Each wait is one watch (a LIST, then a WATCH from its resourceVersion), which the watcher
//! re-establishes by itself when the server ends it or its resourceVersion expires.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use anyhow::{Result, anyhow};
use futures::stream::BoxStream;
use futures::{StreamExt, pin_mut};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{ControllerRevision, ReplicaSet};
use kube::api::{WatchEvent, WatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use rollout_core::{History, RolloutProgress, RolloutStatus, WorkloadKind};
use serde::de::DeserializeOwned;

use crate::cli::WorkloadRef;
use crate::client::{Call, Cluster};
use crate::hints::{Hint, hinted};
use crate::ui::Ui;
use crate::workload::{Owned, Workload};

/// What a watch ended with.
#[derive(Debug)]
pub enum Watched<T> {
    /// What the caller waited for.
    Done(T),
    /// The time ran out first.
    TimedOut,
}

/// Runs `work` for at most `limit`; a zero limit is no limit, as for kubectl's `--timeout`.
pub async fn bounded<T>(limit: Duration, work: impl Future<Output = T>) -> Option<T> {
    if limit.is_zero() {
        return Some(work.await);
    }
    tokio::time::timeout(limit, work).await.ok()
}

/// Watches the objects `api` lists with `config`, keeping the newest version of each, and
/// returns what `decide` makes of them once it makes something.
///
/// Errors the server answers with (forbidden, not found) end the watch; transport errors do not:
/// the watcher re-establishes the watch, with backoff, until `limit` runs out.
async fn watch_until<K, T>(
    cluster: &Cluster,
    call: Call<'_>,
    api: Api<K>,
    config: watcher::Config,
    limit: Duration,
    mut decide: impl FnMut(Vec<K>) -> Option<T>,
) -> Result<Watched<T>>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    let watch = async {
        let stream = watcher::watcher(api, config).default_backoff();
        pin_mut!(stream);
        let mut objects: BTreeMap<String, K> = BTreeMap::new();
        let mut relisted: Option<BTreeMap<String, K>> = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => relisted = Some(BTreeMap::new()),
                Ok(Event::InitApply(object)) => {
                    relisted
                        .get_or_insert_with(BTreeMap::new)
                        .insert(object.name_any(), object);
                }
                Ok(Event::InitDone) => objects = relisted.take().unwrap_or_default(),
                Ok(Event::Apply(object)) => {
                    objects.insert(object.name_any(), object);
                }
                Ok(Event::Delete(object)) => {
                    objects.remove(&object.name_any());
                }
                Err(err) => match refused(err) {
                    // Named by the verb the server refused: the watcher LISTs, then WATCHes.
                    Some((verb, err)) => return Err(cluster.explain(Call { verb, ..call }, err)),
                    None => continue,
                },
            }
            if relisted.is_none()
                && let Some(found) = decide(objects.values().cloned().collect())
            {
                return Ok(found);
            }
        }
        Err(anyhow!("the watch of {} ended unexpectedly", call.resource))
    };
    match bounded(limit, watch).await {
        Some(found) => found.map(Watched::Done),
        None => Ok(Watched::TimedOut),
    }
}

/// The objects `api` adds or changes after `version`, for as long as the stream is polled: each
/// WATCH the server ends (it ends them after a few minutes) is made again from the last version
/// seen, bookmarks included. An error, a version too old to watch from (`410 Gone`) included,
/// is the stream's last item.
pub fn changes_from<K>(
    api: Api<K>,
    params: WatchParams,
    version: String,
) -> BoxStream<'static, kube::Result<K>>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    let changes = Changes {
        api,
        params,
        version,
        events: None,
        failed: false,
    };
    futures::stream::unfold(changes, Changes::next).boxed()
}

/// The state of [`changes_from`]: the WATCH open now, and the version to open the next from.
struct Changes<K> {
    api: Api<K>,
    params: WatchParams,
    version: String,
    events: Option<BoxStream<'static, kube::Result<WatchEvent<K>>>>,
    failed: bool,
}

impl<K> Changes<K>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    /// The next object added or changed, watching again whenever the server ends a watch.
    async fn next(mut self) -> Option<(kube::Result<K>, Self)> {
        while !self.failed {
            let events = match &mut self.events {
                Some(events) => events,
                None => match self.api.watch(&self.params, &self.version).await {
                    Ok(events) => self.events.insert(events.boxed()),
                    Err(err) => return self.fail(err),
                },
            };
            let object = match events.next().await {
                None => {
                    self.events = None;
                    continue;
                }
                Some(Ok(WatchEvent::Added(object) | WatchEvent::Modified(object))) => object,
                Some(Ok(WatchEvent::Deleted(object))) => {
                    self.version = object.resource_version().unwrap_or(self.version);
                    continue;
                }
                Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                    self.version = bookmark.metadata.resource_version;
                    continue;
                }
                Some(Ok(WatchEvent::Error(status))) => return self.fail(kube::Error::Api(status)),
                Some(Err(err)) => return self.fail(err),
            };
            self.version = object.resource_version().unwrap_or(self.version);
            return Some((Ok(object), self));
        }
        None
    }

    fn fail(mut self, err: kube::Error) -> Option<(kube::Result<K>, Self)> {
        self.failed = true;
        Some((Err(err), self))
    }
}

/// The API's own refusal inside a watch error, which retrying will not change, with the verb
/// of the request the server refused.
fn refused(err: watcher::Error) -> Option<(&'static str, kube::Error)> {
    let (verb, api_error) = match err {
        watcher::Error::InitialListFailed(e) => ("list", e),
        watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => ("watch", e),
        watcher::Error::WatchError(_) | watcher::Error::NoResourceVersion => return None,
    };
    match &api_error {
        kube::Error::Api(status) if status.is_forbidden() || status.is_not_found() => {
            Some((verb, api_error))
        }
        _ => None,
    }
}

/// Watches the objects that keep `workload`'s history (with its selector) until `decide`
/// finds what it waits for in the history they make.
pub async fn history_until<T>(
    cluster: &Cluster,
    workload: &Workload,
    limit: Duration,
    mut decide: impl FnMut(&History) -> Option<T>,
) -> Result<Watched<T>> {
    let config = watcher::Config::default().labels(&workload.selector_string());
    let kind = workload.kind();
    let call = Call {
        verb: "watch",
        resource: kind.history_resource(),
        namespace: &cluster.namespace,
        name: None,
    };
    match kind {
        WorkloadKind::Deployment => {
            let api = cluster.api::<ReplicaSet>();
            watch_until(cluster, call, api, config, limit, |sets| {
                decide(&workload.history(Owned::ReplicaSets(sets)))
            })
            .await
        }
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
            let api = cluster.api::<ControllerRevision>();
            watch_until(cluster, call, api, config, limit, |revisions| {
                decide(&workload.history(Owned::ControllerRevisions(revisions)))
            })
            .await
        }
    }
}

/// Watches the workload itself until `decide` finds what it waits for. A workload that is not
/// there (deleted while waiting) is an error.
pub async fn workload_until<T>(
    cluster: &Cluster,
    target: &WorkloadRef,
    limit: Duration,
    mut decide: impl FnMut(&Workload) -> Option<T>,
) -> Result<Watched<T>> {
    let decide: &mut dyn FnMut(&Workload) -> Option<T> = &mut decide;
    let watched = match target.kind {
        WorkloadKind::Deployment => {
            watch_workload(cluster, target, limit, Workload::Deployment, decide).await
        }
        WorkloadKind::StatefulSet => {
            watch_workload(cluster, target, limit, Workload::StatefulSet, decide).await
        }
        WorkloadKind::DaemonSet => {
            watch_workload(cluster, target, limit, Workload::DaemonSet, decide).await
        }
    }?;
    match watched {
        Watched::Done(Some(found)) => Ok(Watched::Done(found)),
        Watched::Done(None) => Err(hinted(
            format_args!(
                "{} {:?} not found in namespace {:?}",
                target.kind.singular(),
                target.name,
                cluster.namespace
            ),
            Hint::ListObjects {
                kind: target.kind.plural().to_owned(),
                namespace: cluster.namespace.clone(),
            },
        )),
        Watched::TimedOut => Ok(Watched::TimedOut),
    }
}

/// Watches one workload of type `K` by name; `Done(None)` when it is not there.
async fn watch_workload<K, T>(
    cluster: &Cluster,
    target: &WorkloadRef,
    limit: Duration,
    wrap: fn(K) -> Workload,
    decide: &mut dyn FnMut(&Workload) -> Option<T>,
) -> Result<Watched<Option<T>>>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    K: Clone + Debug + DeserializeOwned + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={}", target.name));
    let call = Call {
        verb: "watch",
        resource: target.kind.resource(),
        namespace: &cluster.namespace,
        name: Some(&target.name),
    };
    watch_until(
        cluster,
        call,
        cluster.api::<K>(),
        config,
        limit,
        |mut found| match found.pop() {
            Some(object) => decide(&wrap(object)).map(Some),
            None => Some(None),
        },
    )
    .await
}

/// Waits until the rollout is complete as `kubectl rollout status` judges it, showing progress.
/// `change` names what started it (`revert`, `apply`) for the hint after a timeout.
pub async fn rollout(
    cluster: &Cluster,
    target: &WorkloadRef,
    limit: Duration,
    change: &'static str,
    ui: &mut Ui<'_>,
) -> Result<()> {
    let name = format!("{}/{}", target.kind, target.name);
    let mut shown = String::new();
    let mut last: Option<RolloutProgress> = None;
    let watched = workload_until(cluster, target, limit, |workload| {
        let progress = workload.progress();
        let line = format!("waiting for {name}: {}", progress.describe(target.kind));
        if line != shown {
            // A progress line that cannot be written is no reason to stop waiting.
            let _ = ui.progress(&line);
            shown = line;
        }
        last = Some(progress.clone());
        match progress.status(target.kind) {
            RolloutStatus::Waiting => None,
            done => Some(done),
        }
    })
    .await?;
    ui.end_progress()?;
    match watched {
        Watched::Done(RolloutStatus::Failed(reason)) => {
            Err(anyhow!("{name} will not finish rolling out: {reason}"))
        }
        Watched::Done(_) => Ok(ui.note(format!("{name} successfully rolled out"))?),
        Watched::TimedOut => {
            let progress = last.map_or("no status yet".to_owned(), |p| p.describe(target.kind));
            let hint = Hint::DescribeRollout {
                change,
                kind: target.kind.singular(),
                name: target.name.clone(),
            };
            Err(hinted(
                format_args!(
                    "timed out after {} waiting for the rollout of {name} ({progress})",
                    humantime(limit)
                ),
                hint,
            ))
        }
    }
}

/// A duration as the flags take it: `90s`, `5m`, `1h30m`, `1.5s`, `250ms`.
pub fn humantime(duration: Duration) -> String {
    let total = duration.as_secs();
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let millis = duration.subsec_millis();
    if total == 0 {
        return format!("{millis}ms");
    }
    let mut text = String::new();
    for (value, unit) in [(h, "h"), (m, "m")] {
        if value > 0 {
            text += &format!("{value}{unit}");
        }
    }
    match (s, millis) {
        (0, 0) => {}
        (s, 0) => text += &format!("{s}s"),
        (s, ms) => {
            text += format!("{s}.{ms:03}")
                .trim_end_matches('0')
                .to_owned()
                .as_str()
        }
    }
    if millis > 0 {
        text += "s";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_they_were_given() {
        assert_eq!(humantime(Duration::from_secs(3)), "3s");
        assert_eq!(humantime(Duration::from_secs(300)), "5m");
        assert_eq!(humantime(Duration::from_secs(5400)), "1h30m");
        assert_eq!(humantime(Duration::from_millis(250)), "250ms");
        assert_eq!(humantime(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humantime(Duration::from_millis(60_250)), "1m0.25s");
    }

    #[tokio::test]
    async fn a_zero_limit_is_no_limit() {
        assert_eq!(bounded(Duration::ZERO, async { 7 }).await, Some(7));
        let never = std::future::pending::<()>();
        assert_eq!(bounded(Duration::from_millis(10), never).await, None);
    }
}
