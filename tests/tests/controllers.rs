//! The controller behaviour the product is built on, observed on the real control plane; and the
//! tools whose records it reads: Helm, built from its Go module, and the CRDs of Argo CD and Flux,
//! from theirs (`cargo xtask gitops build`). The Argo CD and Flux controllers do not run: these
//! tests write `status` in the shape they write it, and the API server validates it against the
//! real CRDs.

use std::collections::BTreeMap;
use std::fs;

use gitrollout_tests::{
    TestNamespace, deployment_complete, play_daemonset_story, play_deployment_story,
    play_statefulset_story, set_image, workload,
};
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Error};
use serde_json::{Value, json};

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";

/// The first half of the 2 AM story, through the API: each release becomes a new revision.
#[tokio::test]
async fn deployment_story_makes_revisions_1_2_3() {
    let ns = TestNamespace::new("deployment-story").await;
    ns.create::<Deployment>(workload("Deployment", "team-app", "nginx:1.16", Some(1)))
        .await;
    ns.wait_rollout("team-app", deployment_complete(1)).await;

    ns.patch::<Deployment>("team-app", json!({"spec": {"replicas": 10}}))
        .await;
    ns.wait_rollout("team-app", deployment_complete(10)).await;
    for image in ["nginx:1.17", "nginx:1.18"] {
        ns.patch::<Deployment>("team-app", set_image(image)).await;
        let deployment = ns.wait_rollout("team-app", deployment_complete(10)).await;
        let status = deployment.status.expect("a status");
        assert_eq!(
            (
                status.updated_replicas,
                status.ready_replicas,
                status.available_replicas
            ),
            (Some(10), Some(10), Some(10))
        );
    }

    assert_eq!(
        replicaset_revisions(&ns).await,
        BTreeMap::from([
            (1, ("nginx:1.16".to_owned(), None)),
            (2, ("nginx:1.17".to_owned(), None)),
            (3, ("nginx:1.18".to_owned(), None)),
        ])
    );
    ns.delete().await;
}

/// The problem the product solves, with the real kubectl: `rollout undo` renumbers revision 2 as
/// revision 4 and hides the old number in an annotation.
#[tokio::test]
async fn kubectl_rollout_undo_rewrites_history() {
    let ns = TestNamespace::new("kubectl-undo").await;
    play_deployment_story(&ns);
    let before = ns.kubectl_ok(&["rollout", "history", "deployment/team-app"]);
    assert_eq!(history_numbers(&before), [1, 2, 3], "{before}");

    let undo = "rollout undo deployment/team-app --to-revision 2";
    ns.kubectl_ok(&undo.split(' ').collect::<Vec<_>>());
    ns.rollout_status("deployment/team-app");

    let after = ns.kubectl_ok(&["rollout", "history", "deployment/team-app"]);
    assert_eq!(history_numbers(&after), [1, 3, 4], "{after}");
    assert_eq!(
        replicaset_revisions(&ns).await,
        BTreeMap::from([
            (1, ("nginx:1.16".to_owned(), None)),
            (3, ("nginx:1.18".to_owned(), None)),
            (4, ("nginx:1.17".to_owned(), Some("2".to_owned()))),
        ])
    );
    ns.delete().await;
}

#[tokio::test]
async fn statefulset_releases_make_controller_revisions_1_2_3() {
    let ns = TestNamespace::new("statefulset-story").await;
    play_statefulset_story(&ns).await;
    assert_eq!(
        controller_revisions(&ns).await,
        images_by_revision(["nginx:1.16", "nginx:1.17", "nginx:1.18"])
    );
    ns.delete().await;
}

#[tokio::test]
async fn daemonset_releases_make_controller_revisions_1_2_3() {
    let ns = TestNamespace::new("daemonset-story").await;
    play_daemonset_story(&ns).await;
    assert_eq!(
        controller_revisions(&ns).await,
        images_by_revision(["nginx:1.16", "nginx:1.17", "nginx:1.18"])
    );
    ns.delete().await;
}

/// Revision number -> (image, revision-history) of the namespace's ReplicaSets.
async fn replicaset_revisions(ns: &TestNamespace) -> BTreeMap<u32, (String, Option<String>)> {
    let api = ns.api::<ReplicaSet>();
    let sets = api.list(&ListParams::default()).await;
    sets.expect("could not list ReplicaSets")
        .into_iter()
        .map(|rs| {
            let annotations = rs.metadata.annotations.clone().unwrap_or_default();
            let revision = annotations[REVISION].parse().expect("a numeric revision");
            let template = rs.spec.and_then(|s| s.template).and_then(|t| t.spec);
            let image = template.and_then(|s| s.containers[0].image.clone());
            let history = annotations.get(REVISION_HISTORY).cloned();
            (revision, (image.expect("an image"), history))
        })
        .collect()
}

/// Revision number -> image of the namespace's ControllerRevisions, decoded from their `data`.
async fn controller_revisions(ns: &TestNamespace) -> BTreeMap<i64, String> {
    let api = ns.api::<ControllerRevision>();
    let revisions = api.list(&ListParams::default()).await;
    revisions
        .expect("could not list ControllerRevisions")
        .into_iter()
        .map(|cr| {
            let data = cr.data.expect("a ControllerRevision carries data").0;
            let image = data["spec"]["template"]["spec"]["containers"][0]["image"].as_str();
            (cr.revision, image.expect("an image").to_owned())
        })
        .collect()
}

fn images_by_revision(images: [&str; 3]) -> BTreeMap<i64, String> {
    (1..).zip(images.map(String::from)).collect()
}

/// The revision numbers of `kubectl rollout history` output.
fn history_numbers(output: &str) -> Vec<u32> {
    output
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}

/// A chart of one nginx Deployment named after its release, of the image `.Values.image`.
fn tiny_chart() -> tempfile::TempDir {
    let chart = tempfile::tempdir().expect("a temporary directory");
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: \"1.16\"\n",
        ),
        ("values.yaml", "image: nginx:1.16\n"),
        (
            "templates/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n\
             spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {{ .Release.Name }}\n  \
             template:\n    metadata:\n      labels:\n        app: {{ .Release.Name }}\n    \
             spec:\n      containers:\n        - name: nginx\n          image: {{ .Values.image }}\n",
        ),
    ];
    for (name, text) in files {
        let path = chart.path().join(name);
        fs::create_dir_all(path.parent().expect("a directory")).expect("the chart's directory");
        fs::write(path, text).expect("the chart is written");
    }
    chart
}

/// Real Helm on the real control plane: an upgrade with `--description` and `--labels` is
/// revision 2 of `helm history`, and its release Secret carries Helm's labels and the ones given.
#[tokio::test]
async fn helm_upgrade_records_its_description_and_labels() {
    let ns = TestNamespace::new("helm-release").await;
    let chart = tiny_chart();
    let chart = chart.path().to_str().expect("a UTF-8 path");
    ns.helm_ok(&["install", "web", chart]);
    let description = "nginx 1.17 from commit 0123456";
    let labels = format!("commit={COMMIT}");
    let upgrade = ["upgrade", "web", chart, "--set", "image=nginx:1.17"];
    ns.helm_ok(
        &[
            &upgrade[..],
            &["--description", description, "--labels", &labels],
        ]
        .concat(),
    );

    let history = ns.helm_ok(&["history", "web", "-o", "json"]);
    let history: Vec<Value> = serde_json::from_str(&history).expect("helm prints JSON");
    let revisions: Vec<_> = history
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64(),
                r["status"].as_str(),
                r["description"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        revisions,
        [
            (Some(1), Some("superseded"), Some("Install complete")),
            (Some(2), Some("deployed"), Some(description)),
        ],
        "{history:#?}"
    );

    let secret = ns.api::<Secret>().get("sh.helm.release.v1.web.v2").await;
    let secret = secret.expect("helm stores revision 2 in a Secret");
    assert_eq!(secret.type_.as_deref(), Some("helm.sh/release.v1"));
    let labels = secret.metadata.labels.unwrap_or_default();
    for (key, value) in [("owner", "helm"), ("name", "web"), ("commit", COMMIT)] {
        assert_eq!(
            labels.get(key).map(String::as_str),
            Some(value),
            "{labels:?}"
        );
    }
    let deployment = ns
        .api::<Deployment>()
        .get("web")
        .await
        .expect("helm made it");
    let template = deployment.spec.and_then(|s| s.template.spec);
    let image = template.and_then(|s| s.containers[0].image.clone());
    assert_eq!(image.as_deref(), Some("nginx:1.17"));
    ns.delete().await;
}

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const EARLIER_COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";
const DIGEST: &str = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";

/// Argo CD's Application, with two syncs in `status.history` as the application controller
/// records them (`RevisionHistory` and `OperationInitiator` in
/// pkg/apis/application/v1alpha1/types.go of github.com/argoproj/argo-cd/v3; appended by
/// `persistRevisionHistory` in controller/state.go, with ids from 0).
#[tokio::test]
async fn argo_cd_application_crd_validates_its_sync_history() {
    let ns = TestNamespace::new("argo-application").await;
    let source = json!({
        "repoURL": "https://github.com/example/deploy.git",
        "path": "team-app",
        "targetRevision": "main",
    });
    let spec = json!({
        "project": "default",
        "source": source,
        "destination": {"server": "https://kubernetes.default.svc", "namespace": ns.name},
    });
    APPLICATION
        .create(&ns, "team-app", spec)
        .await
        .expect("created");
    let sync = |id: i64, revision: &str, initiated_by: Value| {
        json!({
            "id": id,
            "revision": revision,
            "deployStartedAt": format!("2026-11-30T10:0{id}:00Z"),
            "deployedAt": format!("2026-11-30T10:0{id}:05Z"),
            "source": source,
            "initiatedBy": initiated_by,
        })
    };
    let status = json!({
        "sync": {"status": "Synced", "revision": COMMIT},
        "history": [
            sync(0, EARLIER_COMMIT, json!({"automated": true})),
            sync(1, COMMIT, json!({"username": "admin"})),
        ],
    });
    let wrong = json!({"history": [{"id": "1", "deployedAt": "2026-11-30T10:01:05Z"}]});
    APPLICATION
        .assert_validates(&ns, "team-app", status, wrong, "status.history[0].id")
        .await;
    ns.delete().await;
}

/// Flux's Kustomization, with a `status.history` Snapshot and `lastAppliedRevision` as
/// kustomize-controller records them (`KustomizationStatus` in api/v1/kustomization_types.go of
/// github.com/fluxcd/kustomize-controller/api; `Snapshot` in history.go of
/// github.com/fluxcd/pkg/apis/meta, its metadata what internal/controller/kustomization_controller.go
/// of kustomize-controller passes to `History.Upsert`).
#[tokio::test]
async fn flux_kustomization_crd_validates_its_history() {
    let ns = TestNamespace::new("flux-kustomization").await;
    let source = json!({"kind": "GitRepository", "name": "deploy"});
    let spec = json!({"interval": "5m", "path": "./team-app", "prune": true, "sourceRef": source});
    KUSTOMIZATION
        .create(&ns, "team-app", spec)
        .await
        .expect("created");
    let revision = format!("main@sha1:{COMMIT}");
    let status = json!({
        "observedGeneration": 1,
        "lastAppliedRevision": revision,
        "lastAttemptedRevision": revision,
        "history": [{
            "digest": DIGEST,
            "firstReconciled": "2026-11-30T10:00:00Z",
            "lastReconciled": "2026-11-30T10:05:00Z",
            "lastReconciledDuration": "1.204s",
            "lastReconciledStatus": "ReconciliationSucceeded",
            "totalReconciliations": 2,
            "metadata": {"revision": revision},
        }],
    });
    let mut wrong = status.clone();
    wrong["history"][0]["totalReconciliations"] = json!("2");
    KUSTOMIZATION
        .assert_validates(
            &ns,
            "team-app",
            status,
            wrong,
            "status.history[0].totalReconciliations",
        )
        .await;
    ns.delete().await;
}

/// Flux's HelmRelease, with a `status.history` Snapshot of Helm release revision 2 as
/// helm-controller records it (`HelmReleaseStatus` in v2/helmrelease_types.go and `Snapshot` in
/// v2/snapshot_types.go of github.com/fluxcd/helm-controller/api); its CRD is generated from those
/// types, and its spec's CEL rule holds too.
#[tokio::test]
async fn flux_helmrelease_crd_validates_its_history() {
    let ns = TestNamespace::new("flux-helmrelease").await;
    let no_chart = HELM_RELEASE
        .create(&ns, "web", json!({"interval": "10m"}))
        .await;
    let err = format!(
        "{:?}",
        no_chart.expect_err("a HelmRelease without a chart is rejected")
    );
    assert!(
        err.contains("either chart or chartRef must be set"),
        "{err}"
    );
    let spec = json!({"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "web"}});
    HELM_RELEASE
        .create(&ns, "web", spec)
        .await
        .expect("created");
    let status = json!({
        "observedGeneration": 1,
        "lastAttemptedReleaseAction": "upgrade",
        "lastAttemptedRevision": "0.1.0",
        "lastAttemptedConfigDigest": DIGEST,
        "history": [{
            "digest": DIGEST,
            "name": "web",
            "namespace": ns.name,
            "version": 2,
            "status": "deployed",
            "action": "upgrade",
            "chartName": "tiny",
            "chartVersion": "0.1.0",
            "appVersion": "1.16",
            "configDigest": DIGEST,
            "firstDeployed": "2026-11-30T10:00:00Z",
            "lastDeployed": "2026-11-30T10:05:00Z",
        }],
    });
    let mut wrong = status.clone();
    wrong["history"][0]["version"] = json!("2");
    HELM_RELEASE
        .assert_validates(&ns, "web", status, wrong, "status.history[0].version")
        .await;
    ns.delete().await;
}

/// A kind of custom resource, as its CRD of `cargo xtask gitops build` serves it.
struct Custom {
    api_version: &'static str,
    kind: &'static str,
    plural: &'static str,
    /// Whether its CRD has the status subresource, which Flux's controllers write `status`
    /// through; Argo CD's Application CRD has none, and its controller merge-patches `status` of
    /// the object itself (`persistAppStatus` in controller/appcontroller.go).
    status_subresource: bool,
}

const APPLICATION: Custom = Custom {
    api_version: "argoproj.io/v1alpha1",
    kind: "Application",
    plural: "applications",
    status_subresource: false,
};

const KUSTOMIZATION: Custom = Custom {
    api_version: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    plural: "kustomizations",
    status_subresource: true,
};

const HELM_RELEASE: Custom = Custom {
    api_version: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    plural: "helmreleases",
    status_subresource: true,
};

impl Custom {
    fn api(&self, ns: &TestNamespace) -> Api<DynamicObject> {
        let (group, version) = self.api_version.split_once('/').expect("group/version");
        let resource = ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: self.api_version.to_owned(),
            kind: self.kind.to_owned(),
            plural: self.plural.to_owned(),
        };
        Api::namespaced_with(ns.client.clone(), &ns.name, &resource)
    }

    /// Creates `name` with `spec` in the test's namespace, once the CRDs are there.
    async fn create(&self, ns: &TestNamespace, name: &str, spec: Value) -> Result<(), Error> {
        ns.ensure_crds().await;
        let object = json!({
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {"name": name},
            "spec": spec,
        });
        let object: DynamicObject = serde_json::from_value(object).expect("an object");
        self.api(ns).create(&PostParams::default(), &object).await?;
        Ok(())
    }

    /// Writes `status` of `name` with a merge patch, as the controller does, and returns what the
    /// API server then stores.
    async fn write_status(
        &self,
        ns: &TestNamespace,
        name: &str,
        status: Value,
    ) -> Result<Value, Error> {
        let (api, params) = (self.api(ns), PatchParams::default());
        let patch = Patch::Merge(json!({ "status": status }));
        let written = match self.status_subresource {
            true => api.patch_status(name, &params, &patch).await?,
            false => api.patch(name, &params, &patch).await?,
        };
        Ok(written.data["status"].clone())
    }

    /// The real CRD keeps every field of `status` (a schema prunes the fields it does not know,
    /// here `notAField`), and rejects `wrong`, a status whose `field` has the wrong type.
    async fn assert_validates(
        &self,
        ns: &TestNamespace,
        name: &str,
        status: Value,
        wrong: Value,
        field: &str,
    ) {
        let mut sent = status.clone();
        sent["notAField"] = json!(true);
        let stored = self.write_status(ns, name, sent).await;
        assert_eq!(
            stored.expect("the status is accepted"),
            status,
            "{}",
            self.kind
        );
        match self.write_status(ns, name, wrong).await {
            Err(Error::Api(err)) => assert!(
                err.code == 422 && err.message.contains(field),
                "{}: {err:?} does not reject {field}",
                self.kind
            ),
            other => panic!("{}: a wrong {field} is not rejected: {other:?}", self.kind),
        }
    }
}
