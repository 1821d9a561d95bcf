//! Support for tests that run on a real control plane.
//!
//! Each test gets its own namespace, so tests run in parallel and never see each other's objects.
//! The cluster is the one `cargo xtask cluster up` started (`target/cluster/kubeconfig`), or a
//! disposable cluster of the user's own named by `GITROLLOUT_TEST_KUBECONFIG`. With neither, the
//! test fails and says how to start one: a cluster test is never silently skipped. `KUBECONFIG` is
//! deliberately not used, so the tests never touch the cluster a user works with.
//!
//! Tests of Helm releases and of Argo CD and Flux objects run the helm and apply the CRDs that
//! `cargo xtask gitops build` makes from pinned Go modules (`cargo xtask test` passes them in
//! `GITROLLOUT_TEST_HELM` and `GITROLLOUT_TEST_CRDS`); without them such a test fails and says to
//! run it.

pub mod git;
pub mod output;
pub mod proxy;

use std::collections::hash_map::RandomState;
use std::fmt::Debug;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tempfile::NamedTempFile;
use tokio::sync::OnceCell;

/// The variable that points the tests at a disposable cluster of the user's own.
pub const KUBECONFIG_VAR: &str = "GITROLLOUT_TEST_KUBECONFIG";
/// The variable that names the kubectl to use; by default the one built with the local control
/// plane, else `kubectl` from `PATH`.
pub const KUBECTL_VAR: &str = "GITROLLOUT_TEST_KUBECTL";

/// The variable that names the helm to run; by default the one `cargo xtask gitops build` built,
/// `target/helm/<version>/helm` of the version `xtask/helm/go.mod` pins.
pub const HELM_VAR: &str = "GITROLLOUT_TEST_HELM";
/// The variable that names the directory of CRDs [`TestNamespace::ensure_crds`] applies; by
/// default `target/crds`, written by `cargo xtask gitops build`.
pub const CRDS_VAR: &str = "GITROLLOUT_TEST_CRDS";

/// Set once the CRDs are applied and Established, for every test of the process.
static CRDS_APPLIED: OnceCell<()> = OnceCell::const_new();

/// How long a rollout on the local control plane may take before a test gives up.
pub const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(120);

/// A namespace of its own for one test, on the test cluster, and a home directory of its own for
/// the commands the test runs, so no test sees another's files.
#[derive(Clone)]
pub struct TestNamespace {
    pub name: String,
    pub client: Client,
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    home: std::sync::Arc<tempfile::TempDir>,
}

impl Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

impl TestNamespace {
    /// Creates a fresh namespace named after the test. Panics, saying how to start a cluster, when
    /// there is none.
    pub async fn new(test: &str) -> Self {
        match Self::try_new(test).await {
            Ok(ns) => ns,
            Err(err) => panic!("{err:#}"),
        }
    }

    async fn try_new(test: &str) -> Result<Self> {
        let (kubeconfig, kubectl) = locate_cluster()?;
        let config = Kubeconfig::read_from(&kubeconfig)
            .with_context(|| format!("could not read {}", kubeconfig.display()))?;
        let config = Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await?;
        let client = Client::try_from(config)?;
        let name = format!("{}-{:08x}", test.replace('_', "-"), random_u32());
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"gitrollout.dev/test": "true"}},
        }))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .with_context(|| {
                format!(
                    "the test cluster at {} does not answer; start one with `cargo xtask cluster \
                     up`, or run everything with `cargo xtask test`",
                    kubeconfig.display()
                )
            })?;
        Ok(TestNamespace {
            name,
            client,
            kubeconfig,
            kubectl,
            home: std::sync::Arc::new(tempfile::tempdir()?),
        })
    }

    /// The test's own home directory, for `HOME` of the commands it runs.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Deletes the namespace. Call it at the end of a test: a failed test keeps its namespace, so
    /// what it left can be inspected.
    pub async fn delete(self) {
        Api::<Namespace>::all(self.client)
            .delete(&self.name, &DeleteParams::background())
            .await
            .expect("could not delete the test namespace");
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Creates an object in this namespace from its JSON form.
    pub async fn create<K>(&self, object: serde_json::Value) -> K
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + Serialize + DeserializeOwned,
    {
        let object: K = serde_json::from_value(object).expect("a valid object");
        self.api::<K>()
            .create(&PostParams::default(), &object)
            .await
            .expect("could not create the object")
    }

    /// Applies a strategic merge patch, as `kubectl patch` does by default.
    pub async fn patch<K>(&self, name: &str, patch: serde_json::Value) -> K
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + DeserializeOwned,
    {
        self.api::<K>()
            .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .unwrap_or_else(|err| panic!("could not patch {name}: {err}"))
    }

    /// A kubectl command aimed at this namespace.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home())
            .args(["--namespace", &self.name]);
        cmd
    }

    /// Runs kubectl with `args` and returns its stdout; panics with its stderr when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self
            .kubectl()
            .args(args)
            .output()
            .expect("could not run kubectl");
        assert_success(&format!("kubectl {}", args.join(" ")), &output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `kubectl rollout status` of `workload` (e.g. `deployment/team-app`), bounded by
    /// [`ROLLOUT_TIMEOUT`]; panics when the rollout does not complete in time.
    pub fn rollout_status(&self, workload: &str) {
        let timeout = format!("--timeout={}s", ROLLOUT_TIMEOUT.as_secs());
        self.kubectl_ok(&["rollout", "status", workload, &timeout]);
    }

    /// A release with kubectl: `kubectl set image <workload> <container>=<image>`, then its
    /// rollout, complete.
    pub fn release(&self, workload: &str, container_image: &str) {
        self.kubectl_ok(&["set", "image", workload, container_image]);
        self.rollout_status(workload);
    }

    /// Runs helm with `args` on the test cluster, in this namespace, with its cache, configuration
    /// and data in the test's home. Panics, saying how to build it, when there is no helm.
    pub fn helm(&self, args: &[&str]) -> Output {
        let helm = built_for_tests(HELM_VAR, default_helm());
        Command::new(&helm)
            .env("HOME", self.home())
            .env("HELM_CACHE_HOME", self.home().join(".cache/helm"))
            .env("HELM_CONFIG_HOME", self.home().join(".config/helm"))
            .env("HELM_DATA_HOME", self.home().join(".local/share/helm"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--namespace", &self.name])
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("could not run {}: {err}", helm.display()))
    }

    /// Runs helm with `args` and returns its stdout; panics with its stderr when it fails.
    pub fn helm_ok(&self, args: &[&str]) -> String {
        let output = self.helm(args);
        assert_success(&format!("helm {}", args.join(" ")), &output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Applies every CRD of `GITROLLOUT_TEST_CRDS` (by default `target/crds`) to the test cluster,
    /// once per test process, and waits until each is Established. The apply is server-side, so
    /// tests of other processes may apply the same CRDs at the same time. Panics, saying how to
    /// write them, when there are none.
    pub async fn ensure_crds(&self) {
        CRDS_APPLIED.get_or_init(|| self.apply_crds()).await;
    }

    async fn apply_crds(&self) {
        let dir = built_for_tests(CRDS_VAR, workspace_root().join("target/crds"));
        let dir = dir.to_str().expect("the CRD directory's path is UTF-8");
        let applied = self.kubectl_ok(&[
            "apply",
            "--server-side",
            "--field-manager=gitrollout-tests",
            "-o",
            "name",
            "-f",
            dir,
        ]);
        let api = Api::<CustomResourceDefinition>::all(self.client.clone());
        // `customresourcedefinition.apiextensions.k8s.io/<name>`, one a line.
        for name in applied
            .lines()
            .filter_map(|line| Some(line.split_once('/')?.1))
        {
            self.wait_for(
                &format!("the CRD {name} to be Established"),
                ROLLOUT_TIMEOUT,
                || async { api.get(name).await.expect("the CRD exists") },
                |crd| {
                    let conditions = crd.status.as_ref().and_then(|s| s.conditions.as_ref());
                    conditions.is_some_and(|c| {
                        c.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    })
                },
            )
            .await;
        }
    }

    /// A kubeconfig for the test cluster that authenticates as the ServiceAccount `account` of
    /// this namespace, with a token from the TokenRequest API.
    pub fn token_kubeconfig(&self, account: &str) -> NamedTempFile {
        let token = self.kubectl_ok(&["create", "token", account]);
        let view = self.kubectl_ok(&["config", "view", "--raw", "--minify", "-o", "json"]);
        let view: serde_json::Value =
            serde_json::from_str(&view).expect("kubectl config view prints JSON");
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": view["clusters"][0]["cluster"]}],
            "users": [{"name": account, "user": {"token": token.trim()}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": account}}],
            "current-context": "test",
        });
        let file = NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), config.to_string()).expect("the kubeconfig is written");
        file
    }

    /// Polls `get` until `done` holds for what it returns, and returns that; panics after
    /// `timeout` with the last value seen.
    pub async fn wait_for<K, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut get: F,
        done: impl Fn(&K) -> bool,
    ) -> K
    where
        K: Debug,
        F: FnMut() -> Fut,
        Fut: Future<Output = K>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let value = get().await;
            if done(&value) {
                return value;
            }
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {value:#?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the named workload satisfies `complete`, a judgement of its rollout status.
    pub async fn wait_rollout<K>(&self, name: &str, complete: impl Fn(&K) -> bool) -> K
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
        K: Clone + Debug + DeserializeOwned,
    {
        let api = self.api::<K>();
        self.wait_for(
            &format!("the rollout of {}/{name}", K::kind(&())),
            ROLLOUT_TIMEOUT,
            || async { api.get(name).await.expect("the workload exists") },
            complete,
        )
        .await
    }
}

/// An apps/v1 workload whose pods run one container, `nginx`, of `image`.
pub fn workload(kind: &str, name: &str, image: &str, replicas: Option<i32>) -> serde_json::Value {
    let mut object = json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "nginx", "image": image}]},
            },
        },
    });
    if let Some(replicas) = replicas {
        object["spec"]["replicas"] = json!(replicas);
    }
    object
}

/// A strategic merge patch that sets the `nginx` container's image.
pub fn set_image(image: &str) -> serde_json::Value {
    json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}}})
}

/// The first half of the 2 AM story with real kubectl: `team-app` on nginx:1.16, scaled to 10,
/// then releases 1.17 and 1.18, each rolled out completely. Revisions 1, 2 and 3.
pub fn play_deployment_story(ns: &TestNamespace) {
    ns.kubectl_ok(&["create", "deployment", "team-app", "--image=nginx:1.16"]);
    ns.rollout_status("deployment/team-app");
    ns.kubectl_ok(&["scale", "deployment/team-app", "--replicas=10"]);
    ns.rollout_status("deployment/team-app");
    for version in ["1.17", "1.18"] {
        ns.release("deployment/team-app", &format!("nginx=nginx:{version}"));
    }
}

/// StatefulSet `team-db` with 2 replicas on nginx:1.16, then releases 1.17 and 1.18, each rolled
/// out completely: ControllerRevisions 1, 2 and 3.
pub async fn play_statefulset_story(ns: &TestNamespace) {
    let mut sts = workload("StatefulSet", "team-db", "nginx:1.16", Some(2));
    sts["spec"]["serviceName"] = json!("team-db");
    ns.create::<StatefulSet>(sts).await;
    ns.wait_rollout("team-db", statefulset_complete(2)).await;
    for image in ["nginx:1.17", "nginx:1.18"] {
        ns.patch::<StatefulSet>("team-db", set_image(image)).await;
        ns.wait_rollout("team-db", statefulset_complete(2)).await;
    }
}

/// DaemonSet `team-agent` on nginx:1.16, then releases 1.17 and 1.18, each rolled out on the
/// stand-in's one node: ControllerRevisions 1, 2 and 3.
pub async fn play_daemonset_story(ns: &TestNamespace) {
    ns.create::<DaemonSet>(workload("DaemonSet", "team-agent", "nginx:1.16", None))
        .await;
    ns.wait_rollout("team-agent", daemonset_complete(1)).await;
    for image in ["nginx:1.17", "nginx:1.18"] {
        ns.patch::<DaemonSet>("team-agent", set_image(image)).await;
        ns.wait_rollout("team-agent", daemonset_complete(1)).await;
    }
}

/// Panics with the command's stderr when it did not succeed.
pub fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The kubeconfig and kubectl of the test cluster.
fn locate_cluster() -> Result<(PathBuf, PathBuf)> {
    let local = workspace_root().join("target/cluster");
    let kubectl_var = std::env::var_os(KUBECTL_VAR).map(PathBuf::from);
    if let Some(kubeconfig) = std::env::var_os(KUBECONFIG_VAR) {
        let kubeconfig = PathBuf::from(kubeconfig);
        if !kubeconfig.is_file() {
            bail!("{KUBECONFIG_VAR}={} is not a file", kubeconfig.display());
        }
        let kubectl = kubectl_var.unwrap_or_else(|| {
            let built = local.join("kubectl");
            if built.is_file() {
                built
            } else {
                PathBuf::from("kubectl")
            }
        });
        return Ok((kubeconfig, kubectl));
    }
    let kubeconfig = local.join("kubeconfig");
    if !kubeconfig.is_file() {
        bail!(
            "these tests need a Kubernetes control plane and none is running: start the local one \
             with `cargo xtask cluster up` (or run everything with `cargo xtask test`), or set \
             {KUBECONFIG_VAR} to the kubeconfig of a disposable cluster (kind, k3d)"
        );
    }
    Ok((
        kubeconfig,
        kubectl_var.unwrap_or_else(|| local.join("kubectl")),
    ))
}

/// What `var` names, else `default`; panics, saying how to make it, when it does not exist.
fn built_for_tests(var: &str, default: PathBuf) -> PathBuf {
    let path = std::env::var_os(var).map_or(default, PathBuf::from);
    assert!(
        path.exists(),
        "these tests need {}, which is not there: make it with `cargo xtask gitops build` (or run \
         everything with `cargo xtask test`), or set {var} to one",
        path.display()
    );
    path
}

/// `target/helm/<version>/helm` of the Helm release `xtask/helm/go.mod` pins.
fn default_helm() -> PathBuf {
    let go_mod = workspace_root().join("xtask/helm/go.mod");
    let text = std::fs::read_to_string(&go_mod)
        .unwrap_or_else(|err| panic!("could not read {}: {err}", go_mod.display()));
    let version = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("require helm.sh/helm/v4 "))
        .unwrap_or_else(|| panic!("{} does not require helm.sh/helm/v4", go_mod.display()));
    let helm = format!("helm{}", std::env::consts::EXE_SUFFIX);
    workspace_root()
        .join("target/helm")
        .join(version.trim())
        .join(helm)
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives one level below the workspace root")
}

fn random_u32() -> u32 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish() as u32
}

/// Whether a Deployment's rollout is complete with `replicas` pods, as `kubectl rollout status`
/// judges it: the controller has seen the latest spec and every pod is updated, ready and available.
pub fn deployment_complete(replicas: i32) -> impl Fn(&Deployment) -> bool {
    move |d| {
        let Some(status) = &d.status else {
            return false;
        };
        status.observed_generation >= d.metadata.generation
            && status.replicas == Some(replicas)
            && status.updated_replicas == Some(replicas)
            && status.ready_replicas == Some(replicas)
            && status.available_replicas == Some(replicas)
    }
}

/// Whether a StatefulSet has rolled every pod to its update revision and all are ready.
pub fn statefulset_complete(replicas: i32) -> impl Fn(&StatefulSet) -> bool {
    move |s| {
        let Some(status) = &s.status else {
            return false;
        };
        status.observed_generation >= s.metadata.generation
            && status.updated_replicas == Some(replicas)
            && status.ready_replicas == Some(replicas)
            && status.current_revision.is_some()
            && status.current_revision == status.update_revision
    }
}

/// Whether a DaemonSet runs an updated, available pod on each of its `nodes` nodes.
pub fn daemonset_complete(nodes: i32) -> impl Fn(&DaemonSet) -> bool {
    move |d| {
        let Some(status) = &d.status else {
            return false;
        };
        status.observed_generation >= d.metadata.generation
            && status.desired_number_scheduled == nodes
            && status.updated_number_scheduled == Some(nodes)
            && status.number_available == Some(nodes)
    }
}
