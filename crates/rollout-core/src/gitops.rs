//! GitOps controllers that would undo an in-cluster change, recognised by the marks they leave.

use std::collections::BTreeMap;
use std::fmt;

/// A GitOps controller that manages a workload, and the mark that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitOpsManager {
    pub tool: &'static str,
    /// `annotation argocd.argoproj.io/tracking-id`, `label kustomize.toolkit.fluxcd.io/name`, ...
    pub evidence: String,
}

/// Argo CD's tracking annotation and label, and Flux's ownership labels.
const ANNOTATIONS: [(&str, &str); 1] = [("argocd.argoproj.io/tracking-id", "Argo CD")];
const LABELS: [(&str, &str); 3] = [
    ("app.kubernetes.io/instance", "Argo CD"),
    ("kustomize.toolkit.fluxcd.io/name", "Flux"),
    ("helm.toolkit.fluxcd.io/name", "Flux"),
];

/// The GitOps controller a workload's labels and annotations name, if any.
pub fn gitops_manager(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Option<GitOpsManager> {
    let found = |kind: &str, marks: &[(&str, &'static str)], on: &BTreeMap<String, String>| {
        marks
            .iter()
            .find(|(key, _)| on.contains_key(*key))
            .map(|(key, tool)| GitOpsManager {
                tool,
                evidence: format!("{kind} {key}"),
            })
    };
    found("annotation", &ANNOTATIONS, annotations)
        .or_else(|| found("label", &LABELS[1..], labels))
        .or_else(|| found("label", &LABELS[..1], labels))
}

impl fmt::Display for GitOpsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.tool, self.evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn recognises_argo_cd_and_flux() {
        for (labels, annotations, expect) in [
            (
                &[][..],
                &[(
                    "argocd.argoproj.io/tracking-id",
                    "app:apps/Deployment:ns/web",
                )][..],
                Some("Argo CD (annotation argocd.argoproj.io/tracking-id)"),
            ),
            (
                &[("app.kubernetes.io/instance", "web")][..],
                &[][..],
                Some("Argo CD (label app.kubernetes.io/instance)"),
            ),
            (
                &[("kustomize.toolkit.fluxcd.io/name", "apps")][..],
                &[][..],
                Some("Flux (label kustomize.toolkit.fluxcd.io/name)"),
            ),
            (
                &[
                    ("helm.toolkit.fluxcd.io/name", "web"),
                    ("app.kubernetes.io/instance", "web"),
                ][..],
                &[][..],
                Some("Flux (label helm.toolkit.fluxcd.io/name)"),
            ),
            (
                &[("app", "web")][..],
                &[("kubernetes.io/change-cause", "x")][..],
                None,
            ),
        ] {
            let got = gitops_manager(&map(labels), &map(annotations)).map(|m| m.to_string());
            assert_eq!(got.as_deref(), expect, "{labels:?} {annotations:?}");
        }
    }
}
