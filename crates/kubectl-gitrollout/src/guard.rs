//! Before a revert: who else manages the workload. Argo CD and Flux would undo a revert made in
//! the cluster, and Helm's next upgrade would keep it; those are refused unless `--force`. The
//! ambiguous `app.kubernetes.io/instance` label only warns, and a dry run, which changes
//! nothing, is never refused: it warns.

use anyhow::{Result, bail};
use rollout_core::{Manager, manager};

use crate::workload::Workload;

/// How the revert was asked for.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub force: bool,
    pub dry_run: bool,
}

/// Refuses, or lets the revert go ahead with a warning to show, or with nothing to say.
pub fn check(workload: &Workload, asked: Asked) -> Result<Option<String>> {
    let meta = workload.metadata();
    let labels = meta.labels.clone().unwrap_or_default();
    let annotations = meta.annotations.clone().unwrap_or_default();
    let Some(manager) = manager(&labels, &annotations) else {
        return Ok(None);
    };
    let name = format!(
        "{}/{}",
        workload.kind(),
        meta.name.as_deref().unwrap_or_default()
    );
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let (problem, route) = explain(&name, namespace, &manager);
    if !manager.refuses() {
        return Ok(Some(format!("{problem}; {route}")));
    }
    if asked.force {
        // Asked for in so many words: nothing more to say.
        return Ok(None);
    }
    if asked.dry_run {
        return Ok(Some(format!(
            "{problem}; without --dry-run this revert is refused unless --force ({route})"
        )));
    }
    bail!("{problem}\nhint: {route}, or pass --force to revert in the cluster anyway")
}

/// What the manager would do to a revert, and the route that works with it.
fn explain(name: &str, namespace: &str, manager: &Manager) -> (String, String) {
    match manager {
        Manager::GitOps { tool, .. } => (
            format!(
                "{name} is managed by {manager}, which would undo a revert made in the cluster"
            ),
            format!("revert the change in git and let {tool} sync it"),
        ),
        Manager::Helm {
            release,
            namespace: release_namespace,
        } => {
            let ns = release_namespace.as_deref().unwrap_or(namespace);
            (
                format!(
                    "{name} is managed by {manager}: its next `helm upgrade` would keep whatever \
                     a revert changed, markers included"
                ),
                format!(
                    "see the release's revisions with `helm history {release} -n {ns}` and roll \
                     back with `helm rollback {release} REVISION -n {ns}`"
                ),
            )
        }
        Manager::Possibly { .. } => (
            format!("{name} carries a label of {manager}"),
            "if Argo CD manages it, it will undo this revert: revert in git instead".to_owned(),
        ),
    }
}
