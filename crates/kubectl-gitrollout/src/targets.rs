//! Several workloads on the command line, as kubectl takes them: `deploy/a sts/b`, `deploy a b`,
//! or a TYPE with `-l/--selector` and `-A/--all-namespaces`; and fetching their histories.
//!
//! One named workload costs exactly a GET and a LIST, as before. A selection costs one LIST of
//! the workloads and one LIST of the objects that keep their revisions, however many match, each
//! read in pages of 500 (`limit` and `continue`, as kubectl pages).

use std::collections::HashMap;

use anyhow::Result;
use clap::Args;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ListParams;
use kube::{Api, Resource};
use rollout_core::{RevisionSpec, WorkloadKind};
use serde::de::DeserializeOwned;

use crate::UsageError;
use crate::cli::{WorkloadRef, parse_revision, split_workload};
use crate::client::{Call, Cluster};
use crate::workload::{self, Owned, Workload};

/// `-l/--selector`, kubectl's spelling.
#[derive(Debug, Args)]
pub struct SelectorArgs {
    /// Select the workloads of TYPE by label, e.g. -l app=web,tier!=cache
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
}

/// Which workloads a command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Named one by one, in the namespace the command works in.
    Named(Vec<WorkloadRef>),
    /// The workloads of a TYPE that a label selector (or none) selects, in the namespace or in
    /// all of them.
    Selected {
        kind: WorkloadKind,
        selector: Option<String>,
        all_namespaces: bool,
    },
}

impl Targets {
    /// Whether the command is about exactly one named workload.
    pub fn is_one(&self) -> bool {
        matches!(self, Targets::Named(named) if named.len() == 1)
    }
}

/// Reads `WORKLOAD... [REVISION...]`: workloads as `TYPE/NAME...` or `TYPE NAME...` (or a TYPE
/// alone with a selector or `-A`), then at most `max_revisions` revisions.
pub fn parse(
    words: &[String],
    max_revisions: usize,
    selector: Option<&str>,
    all_namespaces: bool,
) -> Result<(Targets, Vec<RevisionSpec>), UsageError> {
    let Some(first) = words.first() else {
        return Err(UsageError::new(
            "name the workload as TYPE/NAME or TYPE NAME, e.g. deployment/team-app",
        ));
    };
    let selecting = selector.is_some() || all_namespaces;
    let (targets, rest) = if first.contains('/') {
        if selecting {
            return Err(UsageError::new(
                "-l/--selector and -A/--all-namespaces select workloads of a TYPE: give the TYPE \
                 alone, e.g. `deploy -l app=web`, not TYPE/NAME",
            ));
        }
        let named = words.iter().take_while(|w| w.contains('/'));
        let named = named
            .map(|w| split_workload(std::slice::from_ref(w)).map(|(target, _)| target))
            .collect::<Result<Vec<_>, _>>()?;
        let rest = &words[named.len()..];
        (Targets::Named(named), rest)
    } else if selecting {
        let kind: WorkloadKind = first
            .parse()
            .map_err(|e: rollout_core::UnknownKind| UsageError::new(e.to_string()))?;
        let selected = Targets::Selected {
            kind,
            selector: selector.map(str::to_owned),
            all_namespaces,
        };
        (selected, &words[1..])
    } else {
        // TYPE NAME [NAME...] [REVISION...]: the first word after TYPE is a name; trailing
        // words that read as revisions are revisions (a workload named `2` is `deploy/2`).
        let after_type = &words[1..];
        let trailing = after_type
            .iter()
            .skip(1)
            .rev()
            .take_while(|w| w.parse::<RevisionSpec>().is_ok())
            .count();
        let names = &after_type[..after_type.len() - trailing];
        let named = if names.is_empty() {
            vec![split_workload(words)?.0]
        } else {
            names
                .iter()
                .map(|name| split_workload(&[first.clone(), name.clone()]).map(|(t, _)| t))
                .collect::<Result<Vec<_>, _>>()?
        };
        (Targets::Named(named), &after_type[names.len()..])
    };
    Ok((targets, revisions(rest, max_revisions)?))
}

/// The words after the workloads, which can only be revisions, at most `max` of them.
fn revisions(rest: &[String], max: usize) -> Result<Vec<RevisionSpec>, UsageError> {
    let revisions = rest
        .iter()
        .map(|w| {
            // A number, or any word where only revisions may follow (diff's FROM and TO), was
            // meant as a revision: say what a revision is.
            let numeric = w
                .trim_start_matches('-')
                .starts_with(|c: char| c.is_ascii_digit());
            match numeric || max > 0 {
                true => parse_revision(w).map_err(UsageError::new),
                false => w.parse::<RevisionSpec>().map_err(|_| {
                    UsageError::new(format!(
                        "{w:?} is neither TYPE/NAME nor a revision; name every workload the same \
                         way (deploy/a sts/b, or deploy a b), then the revisions"
                    ))
                }),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if revisions.len() > max {
        let what = match max {
            0 => "no revisions after the workloads (use --revision N)".to_owned(),
            n => format!("at most {n} revisions after the workloads, FROM and TO"),
        };
        return Err(UsageError::new(format!(
            "too many arguments: this command takes {what}"
        )));
    }
    Ok(revisions)
}

/// One workload's objects, fetched.
pub type Fetched = (Workload, Owned);

/// Fetches every target with its revisions; a selection that matches nothing is empty.
pub async fn fetch(cluster: &Cluster, targets: &Targets) -> Result<Vec<Fetched>> {
    match targets {
        Targets::Named(named) => {
            let mut fetched = Vec::with_capacity(named.len());
            for target in named {
                fetched.push(workload::fetch(cluster, target).await?);
            }
            Ok(fetched)
        }
        Targets::Selected {
            kind,
            selector,
            all_namespaces,
        } => {
            let scope = Scope {
                cluster,
                selector: selector.as_deref(),
                all_namespaces: *all_namespaces,
            };
            select(scope, *kind).await
        }
    }
}

/// How many objects one page of a LIST holds, as kubectl pages its own (`--chunk-size`).
const PAGE: u32 = 500;

/// Where a selection looks.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub cluster: &'a Cluster,
    pub selector: Option<&'a str>,
    pub all_namespaces: bool,
}

impl Scope<'_> {
    /// The API of `K` in the namespace, or in all of them.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        let client = self.cluster.client.clone();
        if self.all_namespaces {
            Api::all(client)
        } else {
            Api::namespaced(client, &self.cluster.namespace)
        }
    }

    /// The namespace as messages name it.
    pub fn namespace(&self) -> &str {
        match self.all_namespaces {
            true => "(all namespaces)",
            false => &self.cluster.namespace,
        }
    }

    /// LISTs one resource, with the selector or without, a page of [`PAGE`] objects at a time,
    /// handing each page to `take` as it is decoded. Returns the resourceVersion the list was
    /// read at, to watch from.
    pub(crate) async fn list<K>(
        &self,
        resource: &str,
        selector: Option<&str>,
        mut take: impl FnMut(Vec<K>),
    ) -> Result<Option<String>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
        K: Clone + std::fmt::Debug + DeserializeOwned,
    {
        let params = selector.map_or_else(ListParams::default, |s| ListParams::default().labels(s));
        let mut params = params.limit(PAGE);
        let call = Call {
            verb: "list",
            resource,
            namespace: self.namespace(),
            name: None,
        };
        let api = self.api::<K>();
        loop {
            let page = api.list(&params).await;
            let page = page.map_err(|e| self.cluster.explain(call, e))?;
            take(page.items);
            match page.metadata.continue_.filter(|token| !token.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(page.metadata.resource_version),
            }
        }
    }

    /// Every workload of `kind` the selector selects, each keeping of its `managedFields` only
    /// the entries that own part of the pod template (the controllers' status entries are the
    /// largest, and nothing reads them).
    async fn workloads(&self, kind: WorkloadKind) -> Result<(Vec<Workload>, Option<String>)> {
        let mut workloads = Vec::new();
        let (resource, selector) = (kind.resource(), self.selector);
        let mut take = |wrap: Workload| {
            let mut workload = wrap;
            workload.keep_template_writers();
            workloads.push(workload);
        };
        let version = match kind {
            WorkloadKind::Deployment => {
                let wrap = |page: Vec<Deployment>| {
                    page.into_iter().for_each(|d| take(Workload::Deployment(d)))
                };
                self.list(resource, selector, wrap).await?
            }
            WorkloadKind::StatefulSet => {
                let wrap = |page: Vec<StatefulSet>| {
                    page.into_iter()
                        .for_each(|s| take(Workload::StatefulSet(s)))
                };
                self.list(resource, selector, wrap).await?
            }
            WorkloadKind::DaemonSet => {
                let wrap = |page: Vec<DaemonSet>| {
                    page.into_iter().for_each(|d| take(Workload::DaemonSet(d)))
                };
                self.list(resource, selector, wrap).await?
            }
        };
        Ok((workloads, version))
    }
}

/// The workloads of some kinds and the objects that keep their revisions, each kind LISTed once
/// (ReplicaSets for Deployments, ControllerRevisions once for StatefulSets and DaemonSets).
#[derive(Debug, Default)]
pub struct Selection {
    pub fetched: Vec<Fetched>,
    /// The resourceVersion each kind of object was listed at, to watch from.
    pub versions: Versions,
}

/// The resourceVersions a [`Selection`] was listed at.
#[derive(Debug, Clone, Default)]
pub struct Versions {
    pub workloads: Vec<(WorkloadKind, Option<String>)>,
    pub replicasets: Option<String>,
    pub controller_revisions: Option<String>,
}

/// The selected workloads of `kinds`, then the objects that keep their revisions, split by
/// controller. The revision objects are not listed when no workload is selected, unless they
/// are to be watched.
pub async fn select_kinds(
    scope: Scope<'_>,
    kinds: &[WorkloadKind],
    watching: bool,
) -> Result<Selection> {
    let mut selection = Selection::default();
    let mut workloads = Vec::new();
    for &kind in kinds {
        let (listed, version) = scope.workloads(kind).await?;
        workloads.extend(listed);
        selection.versions.workloads.push((kind, version));
    }
    let listed = |kind: &WorkloadKind| watching || workloads.iter().any(|w| w.kind() == *kind);
    let mut sets: HashMap<String, Vec<ReplicaSet>> = HashMap::new();
    if kinds
        .iter()
        .any(|k| *k == WorkloadKind::Deployment && listed(k))
    {
        let resource = WorkloadKind::Deployment.history_resource();
        let take = |page: Vec<ReplicaSet>| by_controller(page, |rs| &mut rs.metadata, &mut sets);
        selection.versions.replicasets = scope.list(resource, None, take).await?;
    }
    let mut revisions: HashMap<String, Vec<ControllerRevision>> = HashMap::new();
    if kinds
        .iter()
        .any(|k| *k != WorkloadKind::Deployment && listed(k))
    {
        let resource = WorkloadKind::StatefulSet.history_resource();
        let take = |page| {
            by_controller(
                page,
                |cr: &mut ControllerRevision| &mut cr.metadata,
                &mut revisions,
            )
        };
        selection.versions.controller_revisions = scope.list(resource, None, take).await?;
    }
    selection.fetched = workloads
        .into_iter()
        .map(|w| {
            let uid = w.metadata().uid.clone().unwrap_or_default();
            let owned = match w.kind() {
                WorkloadKind::Deployment => {
                    Owned::ReplicaSets(sets.remove(&uid).unwrap_or_default())
                }
                WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
                    Owned::ControllerRevisions(revisions.remove(&uid).unwrap_or_default())
                }
            };
            (w, owned)
        })
        .collect();
    Ok(selection)
}

/// The selected workloads of one kind with their revisions.
async fn select(scope: Scope<'_>, kind: WorkloadKind) -> Result<Vec<Fetched>> {
    Ok(select_kinds(scope, &[kind], false).await?.fetched)
}

/// Objects added to `groups` by the uid of their controller (the workload's `history` checks
/// it again); those without a controller are no workload's revisions. Their `managedFields`,
/// which no history reads and which are a good part of each object, are not kept.
pub fn by_controller<T>(
    objects: Vec<T>,
    meta: impl Fn(&mut T) -> &mut ObjectMeta,
    groups: &mut HashMap<String, Vec<T>>,
) {
    for mut object in objects {
        let meta = meta(&mut object);
        meta.managed_fields = None;
        if let Some(uid) = controller_uid(meta) {
            groups.entry(uid).or_default().push(object);
        }
    }
}

/// The uid of an object's controller, from its owner references.
pub fn controller_uid(meta: &ObjectMeta) -> Option<String> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    fn names(targets: &Targets) -> Vec<String> {
        match targets {
            Targets::Named(named) => named
                .iter()
                .map(|t| format!("{}/{}", t.kind.short(), t.name))
                .collect(),
            Targets::Selected { .. } => vec!["<selected>".into()],
        }
    }

    fn check(text: &str, max: usize, expect: Result<(&[&str], &[&str]), &str>) {
        let got = parse(&words(text), max, None, false)
            .map(|(t, r)| {
                (
                    names(&t),
                    r.iter().map(ToString::to_string).collect::<Vec<_>>(),
                )
            })
            .map_err(|e| e.message);
        match expect {
            Ok((n, r)) => {
                let (got_n, got_r) = got.unwrap_or_else(|e| panic!("{text}: {e}"));
                let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
                assert_eq!((got_n, got_r), (owned(n), owned(r)), "{text}");
            }
            Err(part) => {
                let err = got.expect_err(text);
                assert!(err.contains(part), "{text}: {err}");
            }
        }
    }

    #[test]
    fn several_workloads_either_way() {
        check("deploy/a sts/b", 0, Ok((&["deploy/a", "sts/b"], &[])));
        check("deploy a b", 0, Ok((&["deploy/a", "deploy/b"], &[])));
        check("deployment/a", 0, Ok((&["deploy/a"], &[])));
        check(
            "deploy/a ds/b 1 -1",
            2,
            Ok((&["deploy/a", "ds/b"], &["1", "-1"])),
        );
        check("deploy a b -2", 2, Ok((&["deploy/a", "deploy/b"], &["-2"])));
        // The first word after TYPE is always a name.
        check("deploy 2 1", 2, Ok((&["deploy/2"], &["1"])));
    }

    #[test]
    fn nothing_is_silently_dropped() {
        check(
            "deploy/a b",
            0,
            Err("\"b\" is neither TYPE/NAME nor a revision"),
        );
        check("deploy/a 2", 0, Err("too many arguments"));
        check("deploy a 2", 0, Err("too many arguments"));
        check("deploy a 1 2 3", 2, Err("at most 2 revisions"));
        check(
            "deploy/a two",
            2,
            Err("a revision is a positive integer, not \"two\""),
        );
        check(
            "deploy/a 0",
            0,
            Err("a revision is a positive integer, not \"0\""),
        );
        check(
            "deploy",
            0,
            Err("name the workload as TYPE/NAME or TYPE NAME"),
        );
        check("pods a", 0, Err("unknown workload type"));
    }

    #[test]
    fn selections_take_a_type_alone() {
        let (targets, _) =
            parse(&words("sts"), 0, Some("app=db"), false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            targets,
            Targets::Selected {
                kind: WorkloadKind::StatefulSet,
                selector: Some("app=db".into()),
                all_namespaces: false,
            }
        );
        let err = parse(&words("deploy/a"), 0, None, true).unwrap_err();
        assert!(
            err.message.contains("give the TYPE alone"),
            "{}",
            err.message
        );
        let err = parse(&words("deploy a"), 0, Some("x=y"), false).unwrap_err();
        assert!(
            err.message.contains("neither TYPE/NAME nor a revision"),
            "{}",
            err.message
        );
    }
}
