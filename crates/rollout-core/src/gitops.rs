//! Who else manages a workload, recognised by the marks only they write: Argo CD and Flux would
//! undo an in-cluster revert, and the next `helm upgrade` of a Helm release would keep whatever a
//! revert changed, markers included.

use std::collections::BTreeMap;
use std::fmt;

/// Argo CD's tracking annotation (the default since Argo CD 3).
const ARGO_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
/// Argo CD's own instance label (`application.instanceLabelKey` set to it).
const ARGO_INSTANCE: &str = "argocd.argoproj.io/instance";
/// Flux's kustomize-controller and helm-controller label what they apply with these prefixes.
const FLUX_PREFIXES: [&str; 2] = ["kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/"];
/// Set by Argo CD's legacy label tracking, and by most Helm charts too: a hint, not proof.
const INSTANCE: &str = "app.kubernetes.io/instance";
/// Helm 3 labels and annotates every object of a release with these.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const HELM_RELEASE: &str = "meta.helm.sh/release-name";
const HELM_NAMESPACE: &str = "meta.helm.sh/release-namespace";

/// Who manages a workload, and how sure that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// Argo CD or Flux: a controller that would undo an in-cluster change.
    GitOps {
        tool: &'static str,
        /// `annotation argocd.argoproj.io/tracking-id`, `label kustomize.toolkit.fluxcd.io/name`.
        evidence: String,
    },
    /// A Helm release: its next upgrade keeps what a revert changed.
    Helm {
        release: String,
        /// The release's namespace, when Helm recorded it.
        namespace: Option<String>,
    },
    /// Only `app.kubernetes.io/instance`: Argo CD's legacy tracking label, which Helm charts set
    /// too. Worth a warning, not a refusal.
    Possibly { evidence: String },
}

impl Manager {
    /// Whether a revert in the cluster is refused (unless forced).
    pub fn refuses(&self) -> bool {
        !matches!(self, Manager::Possibly { .. })
    }
}

/// Who manages a workload with these labels and annotations, if anyone: Argo CD and Flux first
/// (a Flux HelmRelease also carries Helm's marks, and Flux would undo the change), then Helm,
/// then the ambiguous instance label.
pub fn manager(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Option<Manager> {
    let gitops = |tool, evidence: String| Some(Manager::GitOps { tool, evidence });
    if annotations.contains_key(ARGO_TRACKING_ID) {
        return gitops("Argo CD", format!("annotation {ARGO_TRACKING_ID}"));
    }
    if labels.contains_key(ARGO_INSTANCE) {
        return gitops("Argo CD", format!("label {ARGO_INSTANCE}"));
    }
    if let Some(key) = labels
        .keys()
        .find(|k| FLUX_PREFIXES.iter().any(|p| k.starts_with(p)))
    {
        return gitops("Flux", format!("label {key}"));
    }
    if labels.get(MANAGED_BY).map(String::as_str) == Some("Helm")
        && let Some(release) = annotations.get(HELM_RELEASE)
    {
        return Some(Manager::Helm {
            release: release.clone(),
            namespace: annotations.get(HELM_NAMESPACE).cloned(),
        });
    }
    labels.contains_key(INSTANCE).then(|| Manager::Possibly {
        evidence: format!("label {INSTANCE}"),
    })
}

/// An object that records who deployed a workload, named by the workload's marks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SourceRef {
    /// The release records of a Helm release (the Secrets driver's).
    HelmRelease { name: String, namespace: String },
    /// An Argo CD Application. Without a namespace in its tracking mark (`<ns>_<app>`, Argo
    /// CD's applications in any namespace), it is in Argo CD's own namespace.
    Application {
        name: String,
        namespace: Option<String>,
    },
    /// A Flux Kustomization.
    Kustomization { name: String, namespace: String },
    /// A Flux HelmRelease.
    FluxHelmRelease { name: String, namespace: String },
}

/// The sources a workload with these labels and annotations names, in the order they are read;
/// `namespace` is the workload's, for marks that leave theirs out.
pub fn sources(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    namespace: &str,
) -> Vec<SourceRef> {
    let mut found = Vec::new();
    if let Some(release) = annotations.get(HELM_RELEASE) {
        found.push(SourceRef::HelmRelease {
            name: release.clone(),
            namespace: annotations
                .get(HELM_NAMESPACE)
                .cloned()
                .unwrap_or_else(|| namespace.to_owned()),
        });
    }
    let tracked = annotations
        .get(ARGO_TRACKING_ID)
        .and_then(|id| id.split_once(':'))
        .map(|(app, _)| app)
        .or_else(|| labels.get(ARGO_INSTANCE).map(String::as_str));
    if let Some(app) = tracked.filter(|a| !a.is_empty()) {
        let (namespace, name) = match app.split_once('_') {
            Some((ns, name)) => (Some(ns.to_owned()), name.to_owned()),
            None => (None, app.to_owned()),
        };
        found.push(SourceRef::Application { name, namespace });
    }
    let flux = |prefix: &str| {
        let name = labels.get(&format!("{prefix}/name"))?;
        let ns = labels.get(&format!("{prefix}/namespace"))?;
        Some((name.clone(), ns.clone()))
    };
    if let Some((name, namespace)) = flux("kustomize.toolkit.fluxcd.io") {
        found.push(SourceRef::Kustomization { name, namespace });
    }
    if let Some((name, namespace)) = flux("helm.toolkit.fluxcd.io") {
        found.push(SourceRef::FluxHelmRelease { name, namespace });
    }
    found
}

/// The annotation `kustomize build` writes with `buildMetadata: [originAnnotations]`.
const ORIGIN: &str = "config.kubernetes.io/origin";

/// The file a kustomize build took a workload from, by its origin annotation: `path` relative to
/// the kustomization built, and `repo`/`ref` for a remote base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub path: String,
    pub repo: Option<String>,
    pub reference: Option<String>,
}

/// The origin annotation's fields; it is a flat YAML mapping of strings
/// (`path: base/deployment.yaml`).
pub fn kustomize_origin(annotations: &BTreeMap<String, String>) -> Option<Origin> {
    let text = annotations.get(ORIGIN)?;
    let field = |key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            (k.trim() == key && !v.is_empty()).then(|| v.to_owned())
        })
    };
    Some(Origin {
        path: field("path")?,
        repo: field("repo"),
        reference: field("ref"),
    })
}

impl fmt::Display for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Manager::GitOps { tool, evidence } => write!(f, "{tool} ({evidence})"),
            Manager::Helm { release, .. } => write!(f, "Helm (release {release})"),
            Manager::Possibly { evidence } => {
                write!(f, "Argo CD or a Helm chart ({evidence})")
            }
        }
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

    fn check(labels: &[(&str, &str)], annotations: &[(&str, &str)], expect: Option<(&str, bool)>) {
        let got = manager(&map(labels), &map(annotations)).map(|m| (m.to_string(), m.refuses()));
        let expect = expect.map(|(text, refuses)| (text.to_owned(), refuses));
        assert_eq!(got, expect, "{labels:?} {annotations:?}");
    }

    #[test]
    fn refuses_on_what_only_argo_cd_and_flux_write() {
        let tracking = (
            "argocd.argoproj.io/tracking-id",
            "app:apps/Deployment:ns/web",
        );
        check(
            &[],
            &[tracking],
            Some(("Argo CD (annotation argocd.argoproj.io/tracking-id)", true)),
        );
        check(
            &[("argocd.argoproj.io/instance", "web")],
            &[],
            Some(("Argo CD (label argocd.argoproj.io/instance)", true)),
        );
        check(
            &[("kustomize.toolkit.fluxcd.io/namespace", "flux-system")],
            &[],
            Some(("Flux (label kustomize.toolkit.fluxcd.io/namespace)", true)),
        );
        // A Flux HelmRelease: Flux, not Helm, owns the next change.
        check(
            &[
                ("helm.toolkit.fluxcd.io/name", "web"),
                ("app.kubernetes.io/managed-by", "Helm"),
                ("app.kubernetes.io/instance", "web"),
            ],
            &[("meta.helm.sh/release-name", "web")],
            Some(("Flux (label helm.toolkit.fluxcd.io/name)", true)),
        );
    }

    #[test]
    fn refuses_helm_releases() {
        check(
            &[
                ("app.kubernetes.io/managed-by", "Helm"),
                ("app.kubernetes.io/instance", "web"),
            ],
            &[
                ("meta.helm.sh/release-name", "web"),
                ("meta.helm.sh/release-namespace", "prod"),
            ],
            Some(("Helm (release web)", true)),
        );
        // managed-by alone, without Helm's release annotation, is someone's hand-written label.
        check(&[("app.kubernetes.io/managed-by", "Helm")], &[], None);
    }

    #[test]
    fn the_instance_label_alone_only_warns() {
        // The stock ingress-nginx manifest, applied with plain kubectl.
        check(
            &[
                ("app.kubernetes.io/instance", "ingress-nginx"),
                ("app.kubernetes.io/name", "x"),
            ],
            &[],
            Some((
                "Argo CD or a Helm chart (label app.kubernetes.io/instance)",
                false,
            )),
        );
        check(
            &[("app", "web")],
            &[("kubernetes.io/change-cause", "x")],
            None,
        );
    }

    #[test]
    fn names_the_sources_a_workload_marks() {
        let labels = map(&[
            ("kustomize.toolkit.fluxcd.io/name", "apps"),
            ("kustomize.toolkit.fluxcd.io/namespace", "flux-system"),
            ("helm.toolkit.fluxcd.io/name", "only-a-name"),
        ]);
        let annotations = map(&[
            ("meta.helm.sh/release-name", "web"),
            (
                "argocd.argoproj.io/tracking-id",
                "team_guestbook:apps/Deployment:ns/web",
            ),
        ]);
        assert_eq!(
            sources(&labels, &annotations, "ns"),
            [
                SourceRef::HelmRelease {
                    name: "web".into(),
                    namespace: "ns".into()
                },
                SourceRef::Application {
                    name: "guestbook".into(),
                    namespace: Some("team".into())
                },
                SourceRef::Kustomization {
                    name: "apps".into(),
                    namespace: "flux-system".into()
                },
            ]
        );
        let instance = map(&[("argocd.argoproj.io/instance", "guestbook")]);
        assert_eq!(
            sources(&instance, &BTreeMap::new(), "ns"),
            [SourceRef::Application {
                name: "guestbook".into(),
                namespace: None
            }]
        );
        assert!(sources(&BTreeMap::new(), &BTreeMap::new(), "ns").is_empty());
    }

    #[test]
    fn reads_the_origin_kustomize_records() {
        let local = map(&[(
            "config.kubernetes.io/origin",
            "path: base/deployment.yaml\n",
        )]);
        assert_eq!(
            kustomize_origin(&local),
            Some(Origin {
                path: "base/deployment.yaml".into(),
                repo: None,
                reference: None
            })
        );
        let remote = map(&[(
            "config.kubernetes.io/origin",
            "path: examples/app.yaml\nrepo: https://github.com/team/app\nref: v1.2.0\n",
        )]);
        let origin = kustomize_origin(&remote).unwrap();
        assert_eq!(
            (origin.repo.as_deref(), origin.reference.as_deref()),
            (Some("https://github.com/team/app"), Some("v1.2.0"))
        );
        assert_eq!(
            kustomize_origin(&map(&[("config.kubernetes.io/origin", "")])),
            None
        );
    }
}
