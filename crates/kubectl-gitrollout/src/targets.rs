//! Several workloads on the command line, as kubectl takes them: `deploy/a sts/b`, `deploy a b`,
//! or a TYPE with `-l/--selector` and `-A/--all-namespaces`; and fetching their histories.
//!
//! One named workload costs exactly a GET and a LIST, as before. A selection costs one LIST of
//! the workloads and one LIST of the objects that keep their revisions, however many match.

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

/// Where a selection looks.
#[derive(Debug, Clone, Copy)]
struct Scope<'a> {
    cluster: &'a Cluster,
    selector: Option<&'a str>,
    all_namespaces: bool,
}

impl Scope<'_> {
    fn api<K>(&self) -> Api<K>
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

    /// LISTs one resource, with the selector or without.
    async fn list<K>(&self, resource: &str, selector: Option<&str>) -> Result<Vec<K>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
        K: Clone + std::fmt::Debug + DeserializeOwned,
    {
        let params = selector.map_or_else(ListParams::default, |s| ListParams::default().labels(s));
        let namespace = if self.all_namespaces {
            "(all namespaces)"
        } else {
            &self.cluster.namespace
        };
        let call = Call {
            verb: "list",
            resource,
            namespace,
            name: None,
        };
        let list = self.api::<K>().list(&params).await;
        Ok(list.map_err(|e| self.cluster.explain(call, e))?.items)
    }
}

/// The selected workloads, then the objects that keep their revisions, split by controller.
async fn select(scope: Scope<'_>, kind: WorkloadKind) -> Result<Vec<Fetched>> {
    let (resource, selector) = (kind.resource(), scope.selector);
    let workloads: Vec<Workload> = match kind {
        WorkloadKind::Deployment => (scope.list::<Deployment>(resource, selector).await?)
            .into_iter()
            .map(Workload::Deployment)
            .collect(),
        WorkloadKind::StatefulSet => (scope.list::<StatefulSet>(resource, selector).await?)
            .into_iter()
            .map(Workload::StatefulSet)
            .collect(),
        WorkloadKind::DaemonSet => (scope.list::<DaemonSet>(resource, selector).await?)
            .into_iter()
            .map(Workload::DaemonSet)
            .collect(),
    };
    if workloads.is_empty() {
        return Ok(Vec::new());
    }
    let history = kind.history_resource();
    let mut owned: HashMap<String, Owned> = match kind {
        WorkloadKind::Deployment => {
            let sets = scope.list::<ReplicaSet>(history, None).await?;
            by_controller(sets, |rs| &rs.metadata, Owned::ReplicaSets)
        }
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
            let revisions = scope.list::<ControllerRevision>(history, None).await?;
            by_controller(revisions, |cr| &cr.metadata, Owned::ControllerRevisions)
        }
    };
    let empty = match kind {
        WorkloadKind::Deployment => Owned::ReplicaSets(Vec::new()),
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
            Owned::ControllerRevisions(Vec::new())
        }
    };
    Ok(workloads
        .into_iter()
        .map(|w| {
            let uid = w.metadata().uid.clone().unwrap_or_default();
            let revisions = owned.remove(&uid).unwrap_or_else(|| empty.clone());
            (w, revisions)
        })
        .collect())
}

/// Objects grouped by the uid of their controller (the workload's `history` checks it again).
fn by_controller<T>(
    objects: Vec<T>,
    meta: impl Fn(&T) -> &ObjectMeta,
    wrap: impl Fn(Vec<T>) -> Owned,
) -> HashMap<String, Owned> {
    let mut groups: HashMap<String, Vec<T>> = HashMap::new();
    for object in objects {
        let controller = meta(&object)
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone());
        if let Some(uid) = controller {
            groups.entry(uid).or_default().push(object);
        }
    }
    groups.into_iter().map(|(uid, g)| (uid, wrap(g))).collect()
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
