//! Before a revert or an apply: who else manages the object. Argo CD and Flux would undo a change
//! made in the cluster, and Helm's next upgrade would keep it; those are refused unless `--force`. The
//! ambiguous `app.kubernetes.io/instance` label only warns, and a dry run, which changes
//! nothing, is never refused: it warns.

use anyhow::Result;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rollout_core::{Manager, manager};

use crate::hints::{Hint, hinted};
use crate::workload::Workload;

/// How the change was asked for.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    /// What the change is, for messages: `revert`, `apply`.
    pub change: &'static str,
    pub force: bool,
    pub dry_run: bool,
}

/// Refuses, or lets the change go ahead with a warning to show, or with nothing to say.
pub fn check(workload: &Workload, asked: Asked) -> Result<Option<String>> {
    let meta = workload.metadata();
    let name = format!(
        "{}/{}",
        workload.kind(),
        meta.name.as_deref().unwrap_or_default()
    );
    check_object(&name, meta, asked)
}

/// As [`check`], for any object named `name` (`service/team-app`) with metadata `meta`.
pub fn check_object(name: &str, meta: &ObjectMeta, asked: Asked) -> Result<Option<String>> {
    let labels = meta.labels.clone().unwrap_or_default();
    let annotations = meta.annotations.clone().unwrap_or_default();
    let Some(manager) = manager(&labels, &annotations) else {
        return Ok(None);
    };
    let name = name.to_owned();
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let (problem, route) = explain(&name, namespace, &manager, asked.change);
    if !manager.refuses() {
        return Ok(Some(format!("{problem}; {route}")));
    }
    if asked.force {
        // Asked for in so many words: nothing more to say.
        return Ok(None);
    }
    if asked.dry_run {
        return Ok(Some(format!(
            "{problem}; without --dry-run this {} is refused unless --force ({route})",
            asked.change
        )));
    }
    let route = Box::new(route);
    Err(hinted(
        problem,
        Hint::OrForce {
            route,
            change: asked.change,
        },
    ))
}

/// What the manager would do to a change made in the cluster, and the route that works with it.
fn explain(name: &str, namespace: &str, manager: &Manager, change: &'static str) -> (String, Hint) {
    match manager {
        Manager::GitOps { tool, .. } => (
            format!(
                "{name} is managed by {manager}, which would undo {} {change} made in the cluster",
                article(change)
            ),
            Hint::RevertInGit { tool },
        ),
        Manager::Helm {
            release,
            namespace: release_namespace,
        } => (
            format!(
                "{name} is managed by {manager}: its next `helm upgrade` would keep whatever {} \
                 {change} changed, markers included",
                article(change)
            ),
            Hint::HelmRollback {
                release: release.clone(),
                namespace: release_namespace.as_deref().unwrap_or(namespace).to_owned(),
            },
        ),
        Manager::Possibly { .. } => (
            format!("{name} carries a label of {manager}"),
            Hint::MaybeArgo { change },
        ),
    }
}

/// `a revert`, `an apply`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
