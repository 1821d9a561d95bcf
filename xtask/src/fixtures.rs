//! `cargo xtask fixtures`: capture the API objects the unit tests use from the local control plane.
//!
//! Each scenario is played with real kubectl in a namespace of its own, waiting for every rollout
//! to complete, and ends up as one JSON file in [`FIXTURE_DIR`]:
//!
//! ```json
//! {"capturedWith": "v1.36.3", "workload": {...}, "owned": [...]}
//! ```
//!
//! `workload` is the object as `kubectl get <kind>/<name> -o json` prints it, and `owned` every
//! ReplicaSet (for a Deployment) or ControllerRevision (for a StatefulSet or DaemonSet) of the
//! namespace, sorted by name. `metadata.managedFields` is removed from all of them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cluster::Running;
use crate::{env_or, run_checked};

/// Where the fixtures go, relative to the workspace root.
const FIXTURE_DIR: &str = "crates/kubectl-gitrollout/tests/fixtures";

/// Every scenario gets a fresh namespace named this prefix followed by the scenario's name.
const NAMESPACE_PREFIX: &str = "gitrollout-fixtures-";

/// How long a single rollout may take.
const ROLLOUT_TIMEOUT: &str = "--timeout=120s";

/// How long the Deployment controller may take to copy an annotation to a ReplicaSet.
const ANNOTATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The annotation `kubectl rollout history` shows as CHANGE-CAUSE.
const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// The annotation holding the revision of a Deployment and of its ReplicaSets.
const REVISION: &str = "deployment.kubernetes.io/revision";

/// The objects that record a workload's revisions.
#[derive(Debug, Clone, Copy)]
enum History {
    /// A Deployment's revisions.
    ReplicaSets,
    /// A StatefulSet's or DaemonSet's revisions.
    ControllerRevisions,
}

impl History {
    /// The resource name kubectl knows them by.
    fn resource(self) -> &'static str {
        match self {
            History::ReplicaSets => "replicasets",
            History::ControllerRevisions => "controllerrevisions",
        }
    }
}

/// One story played against the control plane, captured into `<name>.json`.
#[derive(Debug)]
struct Scenario {
    /// The file stem of the fixture, and the suffix of its namespace.
    name: &'static str,
    /// The workload as `kind/name`.
    workload: &'static str,
    /// The objects owned by the workload that the fixture records.
    history: History,
    /// Creates the workload and changes it; leaves it settled.
    play: fn(&Kubectl) -> Result<()>,
}

const SCENARIOS: [Scenario; 14] = [
    Scenario {
        name: "deployment-story",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: deployment_story,
    },
    Scenario {
        name: "deployment-undo",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: deployment_undo,
    },
    Scenario {
        name: "statefulset",
        workload: "statefulset/team-db",
        history: History::ControllerRevisions,
        play: statefulset,
    },
    Scenario {
        name: "daemonset",
        workload: "daemonset/team-agent",
        history: History::ControllerRevisions,
        play: daemonset,
    },
    Scenario {
        name: "deployment-new",
        workload: "deployment/fresh",
        history: History::ReplicaSets,
        play: deployment_new,
    },
    Scenario {
        name: "deployment-revert-set-image",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: revert_then_set_image,
    },
    Scenario {
        name: "deployment-revert-apply",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: revert_then_apply,
    },
    Scenario {
        name: "deployment-revert-restart",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: revert_then_restart,
    },
    Scenario {
        name: "deployment-revert-twice",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: revert_twice,
    },
    Scenario {
        name: "deployment-duplicate-revisions",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: duplicate_revisions,
    },
    Scenario {
        name: "deployment-cause-escapes",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: cause_escapes,
    },
    Scenario {
        name: "deployment-yaml-specials",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: yaml_specials,
    },
    Scenario {
        name: "daemonset-init-container",
        workload: "daemonset/team-agent",
        history: History::ControllerRevisions,
        play: init_container,
    },
    Scenario {
        name: "deployment-kept-defaults",
        workload: "deployment/team-app",
        history: History::ReplicaSets,
        play: kept_defaults,
    },
];

/// Plays every scenario (or those named in `only`) and writes its fixture under `root`.
pub fn run(root: &Path, cluster: &Running, only: &[String]) -> Result<()> {
    if let Some(unknown) = only
        .iter()
        .find(|name| !SCENARIOS.iter().any(|s| s.name == name.as_str()))
    {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        bail!(
            "no fixture scenario is named {unknown:?}\nhint: scenarios are {}",
            names.join(", ")
        );
    }
    let captured_with = client_version(cluster)?;
    let plugin = build_plugin(root)?;
    let dir = root.join(FIXTURE_DIR);
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let chosen = SCENARIOS
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|name| name == s.name));
    for scenario in chosen {
        let kubectl = Kubectl {
            cluster,
            namespace: format!("{NAMESPACE_PREFIX}{}", scenario.name),
            plugin: plugin.clone(),
        };
        println!("\n# {}", scenario.name);
        kubectl.recreate_namespace()?;
        (scenario.play)(&kubectl)
            .with_context(|| format!("could not play scenario {}", scenario.name))?;
        let fixture = capture(&kubectl, scenario, &captured_with)
            .with_context(|| format!("could not capture scenario {}", scenario.name))?;
        let path = dir.join(format!("{}.json", scenario.name));
        let mut text = serde_json::to_string_pretty(&fixture)?;
        text.push('\n');
        fs::write(&path, text).with_context(|| format!("could not write {}", path.display()))?;
        println!("wrote {}", path.display());
        kubectl.delete_namespace()?;
    }
    Ok(())
}

/// The `Client Version` of kubectl, e.g. `v1.36.3`.
fn client_version(cluster: &Running) -> Result<String> {
    let mut cmd = Command::new(cluster.bin.path("kubectl"));
    cmd.args(["version", "--client", "--output=json"]);
    let version = output_json(&mut cmd)?;
    version
        .pointer("/clientVersion/gitVersion")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("kubectl version --client printed no clientVersion.gitVersion")
}

/// Reads the workload and its history objects into the fixture document.
fn capture(kubectl: &Kubectl, scenario: &Scenario, captured_with: &str) -> Result<Value> {
    let mut workload = kubectl.get_json(&["get", scenario.workload, "--output=json"])?;
    strip_managed_fields(&mut workload);
    let list = kubectl.get_json(&["get", scenario.history.resource(), "--output=json"])?;
    let mut owned = items(&list)?.clone();
    owned.iter_mut().for_each(strip_managed_fields);
    owned.sort_by(|a, b| object_name(a).cmp(object_name(b)));
    Ok(json!({
        "capturedWith": captured_with,
        "workload": workload,
        "owned": owned,
    }))
}

/// Removes `metadata.managedFields`, which kubectl omits by default anyway.
fn strip_managed_fields(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
}

/// The `items` of a list kubectl printed.
fn items(list: &Value) -> Result<&Vec<Value>> {
    list.get("items")
        .and_then(Value::as_array)
        .context("kubectl printed a list without items")
}

/// The value of one of the object's annotations.
fn annotation_of<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(key)?
        .as_str()
}

/// The object's `metadata.name`, or the empty string.
fn object_name(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Deployment `team-app` on nginx:1.16, scaled to 10, then releases 1.17 and 1.18, each with a
/// change cause.
///
/// The cause is annotated after the release: the controller copies the Deployment's annotations
/// to its newest ReplicaSet whenever they change, so a cause annotated before `set image` would
/// also land on the previous revision (or not, depending on timing).
fn deployment_story(kubectl: &Kubectl) -> Result<()> {
    create_team_app(kubectl)?;
    for version in ["1.17", "1.18"] {
        set_image(kubectl, "deployment/team-app", version)?;
        annotate_cause(kubectl, &format!("release {version}"))?;
    }
    Ok(())
}

/// Annotates Deployment `team-app` with `kubernetes.io/change-cause=<cause>` and waits until the
/// controller has copied it to the ReplicaSet of the current revision.
fn annotate_cause(kubectl: &Kubectl, cause: &str) -> Result<()> {
    let annotation = format!("{CHANGE_CAUSE}={cause}");
    kubectl.run(&["annotate", "deployment/team-app", &annotation])?;
    let deadline = Instant::now() + ANNOTATION_TIMEOUT;
    loop {
        let deployment = kubectl.get_json(&["get", "deployment/team-app", "--output=json"])?;
        let revision = annotation_of(&deployment, REVISION)
            .context("deployment/team-app has no revision annotation")?;
        let replica_sets = kubectl.get_json(&["get", "replicasets", "--output=json"])?;
        let copied = items(&replica_sets)?.iter().any(|rs| {
            annotation_of(rs, REVISION) == Some(revision)
                && annotation_of(rs, CHANGE_CAUSE) == Some(cause)
        });
        if copied {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the ReplicaSet of revision {revision} did not get the change cause {cause:?}");
        }
        sleep(Duration::from_millis(250));
    }
}

/// Deployment `team-app` on nginx:1.16, scaled to 10, releases 1.17 and 1.18, then undone to
/// revision 2.
fn deployment_undo(kubectl: &Kubectl) -> Result<()> {
    create_team_app(kubectl)?;
    for version in ["1.17", "1.18"] {
        set_image(kubectl, "deployment/team-app", version)?;
    }
    kubectl.change(
        "deployment/team-app",
        &["rollout", "undo", "deployment/team-app", "--to-revision=2"],
    )
}

/// StatefulSet `team-db` with 2 replicas on nginx:1.16, then 1.17 and 1.18.
fn statefulset(kubectl: &Kubectl) -> Result<()> {
    let mut spec = pod_spec("team-db");
    spec["serviceName"] = json!("team-db");
    spec["replicas"] = json!(2);
    kubectl.apply(
        "statefulset/team-db",
        &manifest("StatefulSet", "team-db", spec),
    )?;
    for version in ["1.17", "1.18"] {
        set_image(kubectl, "statefulset/team-db", version)?;
    }
    Ok(())
}

/// DaemonSet `team-agent` on nginx:1.16, then 1.17 and 1.18.
fn daemonset(kubectl: &Kubectl) -> Result<()> {
    let spec = pod_spec("team-agent");
    kubectl.apply(
        "daemonset/team-agent",
        &manifest("DaemonSet", "team-agent", spec),
    )?;
    for version in ["1.17", "1.18"] {
        set_image(kubectl, "daemonset/team-agent", version)?;
    }
    Ok(())
}

/// Deployment `fresh`, paused from the start, so it has no ReplicaSet: a workload with no history
/// yet. A paused Deployment never completes a rollout, so this waits a moment instead.
fn deployment_new(kubectl: &Kubectl) -> Result<()> {
    let mut spec = pod_spec("fresh");
    spec["paused"] = json!(true);
    kubectl.pipe(
        &["apply", "--filename=-"],
        &manifest("Deployment", "fresh", spec),
    )?;
    sleep(Duration::from_secs(2));
    Ok(())
}

/// Builds the plugin, whose `revert` the revert scenarios use, and returns its path.
fn build_plugin(root: &Path) -> Result<PathBuf> {
    run_checked(
        Command::new(env_or("CARGO", "cargo"))
            .current_dir(root)
            .args(["build", "--quiet", "--package", "kubectl-gitrollout"]),
    )?;
    Ok(root.join("target/debug/kubectl-gitrollout"))
}

/// Reverts `workload` to `revision` with the plugin and waits for the rollout.
fn revert(kubectl: &Kubectl, workload: &str, revision: &str) -> Result<()> {
    kubectl.gitrollout(&["revert", workload, "--to-revision", revision, "--wait"])
}

/// Deployment `team-app` (one replica) on nginx:1.16, releases 1.17 and 1.18 with causes.
fn small_team_app(kubectl: &Kubectl) -> Result<()> {
    kubectl.apply(
        "deployment/team-app",
        &manifest("Deployment", "team-app", pod_spec("team-app")),
    )?;
    for version in ["1.17", "1.18"] {
        set_image(kubectl, "deployment/team-app", version)?;
        annotate_cause(kubectl, &format!("release {version}"))?;
    }
    Ok(())
}

/// A revert to revision 1, then a hand change with `kubectl set image`: revision 5 inherits the
/// revert's markers and change cause, and is no revert.
fn revert_then_set_image(kubectl: &Kubectl) -> Result<()> {
    small_team_app(kubectl)?;
    revert(kubectl, "deployment/team-app", "1")?;
    set_image(kubectl, "deployment/team-app", "1.19")
}

/// A revert to revision 1, then `kubectl apply` of nginx:1.18 and `kubectl apply
/// --server-side` of nginx:1.19: neither removes the markers it does not know of.
fn revert_then_apply(kubectl: &Kubectl) -> Result<()> {
    small_team_app(kubectl)?;
    revert(kubectl, "deployment/team-app", "1")?;
    let with_image = |image: &str| {
        let mut spec = pod_spec("team-app");
        spec["template"]["spec"]["containers"][0]["image"] = json!(image);
        manifest("Deployment", "team-app", spec)
    };
    kubectl.apply("deployment/team-app", &with_image("nginx:1.18"))?;
    kubectl.pipe(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--filename=-",
        ],
        &with_image("nginx:1.19"),
    )?;
    kubectl.run(&["rollout", "status", "deployment/team-app", ROLLOUT_TIMEOUT])
}

/// A revert to revision 1, then `kubectl rollout restart`.
fn revert_then_restart(kubectl: &Kubectl) -> Result<()> {
    small_team_app(kubectl)?;
    revert(kubectl, "deployment/team-app", "1")?;
    kubectl.change(
        "deployment/team-app",
        &["rollout", "restart", "deployment/team-app"],
    )
}

/// Two reverts to revision 1 with a release between them (revisions 4 and 6), then a revert of
/// the last revert (back to 5).
fn revert_twice(kubectl: &Kubectl) -> Result<()> {
    small_team_app(kubectl)?;
    revert(kubectl, "deployment/team-app", "1")?;
    set_image(kubectl, "deployment/team-app", "1.19")?;
    revert(kubectl, "deployment/team-app", "1")?;
    revert(kubectl, "deployment/team-app", "5")
}

/// Four releases; then the ReplicaSet of revision 1 is annotated with revision 2 (two objects
/// claim 2) and the one of revision 3 with `three` (not a number).
fn duplicate_revisions(kubectl: &Kubectl) -> Result<()> {
    small_team_app(kubectl)?;
    set_image(kubectl, "deployment/team-app", "1.19")?;
    for (from, to) in [("1", "2"), ("3", "three")] {
        let name = replicaset_of(kubectl, from)?;
        let annotation = format!("{REVISION}={to}");
        kubectl.run(&[
            "annotate",
            "--overwrite",
            &format!("replicaset/{name}"),
            &annotation,
        ])?;
    }
    Ok(())
}

/// The name of the ReplicaSet of `revision`.
fn replicaset_of(kubectl: &Kubectl, revision: &str) -> Result<String> {
    let list = kubectl.get_json(&["get", "replicasets", "--output=json"])?;
    let found = items(&list)?
        .iter()
        .find(|rs| annotation_of(rs, REVISION) == Some(revision));
    found
        .map(|rs| object_name(rs).to_owned())
        .with_context(|| format!("no ReplicaSet has revision {revision}"))
}

/// A change cause with a newline and an escape sequence, as a careless script might write it.
fn cause_escapes(kubectl: &Kubectl) -> Result<()> {
    kubectl.apply(
        "deployment/team-app",
        &manifest("Deployment", "team-app", pod_spec("team-app")),
    )?;
    set_image(kubectl, "deployment/team-app", "1.17")?;
    annotate_cause(kubectl, "release 1.17\n9   [AGE]   fake:row\x1b[31m red")
}

/// Env values that YAML 1.1 reads as booleans, numbers, dates, null or a merge key, then a
/// release that adds one more.
fn yaml_specials(kubectl: &Kubectl) -> Result<()> {
    let specials = [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "~",
        "1_000",
        "0x1F",
        "0o17",
        "2026-01-01",
        "<<",
        ".inf",
        "=",
        "null",
        "1e3",
    ];
    let env: Vec<Value> = specials
        .iter()
        .enumerate()
        .map(|(i, value)| json!({"name": format!("V{i}"), "value": value}))
        .collect();
    let mut spec = pod_spec("team-app");
    spec["template"]["spec"]["containers"][0]["env"] = json!(env);
    kubectl.apply(
        "deployment/team-app",
        &manifest("Deployment", "team-app", spec),
    )?;
    kubectl.change(
        "deployment/team-app",
        &["set", "env", "deployment/team-app", "LOG_LEVEL=off"],
    )
}

/// DaemonSet `team-agent` with an init container on busybox:1.35, then busybox:1.36.
fn init_container(kubectl: &Kubectl) -> Result<()> {
    let mut spec = pod_spec("team-agent");
    spec["template"]["spec"]["initContainers"] =
        json!([{"name": "setup", "image": "busybox:1.35", "command": ["true"]}]);
    kubectl.apply(
        "daemonset/team-agent",
        &manifest("DaemonSet", "team-agent", spec),
    )?;
    kubectl.change(
        "daemonset/team-agent",
        &["set", "image", "daemonset/team-agent", "setup=busybox:1.36"],
    )
}

/// The manifests of [`kept_defaults`], with an init container on `init_image`, and
/// `serviceAccountName: default` when `account`.
fn kept_defaults_manifest(init_image: &str, account: bool) -> Value {
    let mut spec = pod_spec("team-app");
    let template = &mut spec["template"]["spec"];
    template["initContainers"] =
        json!([{"name": "init", "image": init_image, "command": ["true"]}]);
    if account {
        template["serviceAccountName"] = json!("default");
    }
    manifest("Deployment", "team-app", spec)
}

/// The image the second manifest of [`kept_defaults`] pins its init container to.
const PINNED_BUSYBOX: &str = "busybox:1.38.0@sha256:\
    0000000000000000000000000000000000000000000000000000000000000000";

/// `kubectl apply` of a manifest whose init container runs `busybox:latest` (the server defaults
/// `imagePullPolicy: Always`) with `serviceAccountName: default`, then of one that pins the init
/// image by digest and drops the account: the server keeps both. Then a hand-made change.
fn kept_defaults(kubectl: &Kubectl) -> Result<()> {
    kubectl.apply(
        "deployment/team-app",
        &kept_defaults_manifest("busybox:latest", true),
    )?;
    kubectl.apply(
        "deployment/team-app",
        &kept_defaults_manifest(PINNED_BUSYBOX, false),
    )?;
    kubectl.change(
        "deployment/team-app",
        &["set", "env", "deployment/team-app", "HANDMADE=1"],
    )
}

/// Creates Deployment `team-app` on nginx:1.16 and scales it to 10.
fn create_team_app(kubectl: &Kubectl) -> Result<()> {
    kubectl.change(
        "deployment/team-app",
        &["create", "deployment", "team-app", "--image=nginx:1.16"],
    )?;
    kubectl.change(
        "deployment/team-app",
        &["scale", "deployment/team-app", "--replicas=10"],
    )
}

/// Releases nginx:`version` to the `nginx` container of `workload`.
fn set_image(kubectl: &Kubectl, workload: &str, version: &str) -> Result<()> {
    let image = format!("nginx=nginx:{version}");
    kubectl.change(workload, &["set", "image", workload, &image])
}

/// A workload manifest.
fn manifest(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// A workload spec selecting `app=<app>`, with one `nginx` container on nginx:1.16.
fn pod_spec(app: &str) -> Value {
    json!({
        "selector": {"matchLabels": {"app": app}},
        "template": {
            "metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.16"}]},
        },
    })
}

/// kubectl bound to the local control plane and one namespace.
#[derive(Debug)]
struct Kubectl<'a> {
    cluster: &'a Running,
    namespace: String,
    /// The plugin binary, for the scenarios that revert with it.
    plugin: PathBuf,
}

impl Kubectl<'_> {
    /// kubectl with `args`, outside the namespace (for cluster-scoped objects).
    fn cluster_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.cluster.bin.path("kubectl"));
        cmd.env("KUBECONFIG", &self.cluster.kubeconfig).args(args);
        cmd
    }

    /// kubectl with `args`, in the namespace.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.cluster_command(&["--namespace", &self.namespace]);
        cmd.args(args);
        cmd
    }

    /// Runs `kubectl gitrollout` (the plugin just built) in the namespace, showing the command
    /// line.
    fn gitrollout(&self, args: &[&str]) -> Result<()> {
        println!("$ kubectl gitrollout {}", shown(args));
        let mut cmd = Command::new(&self.plugin);
        cmd.env("KUBECONFIG", &self.cluster.kubeconfig)
            .args(args)
            .args(["--namespace", &self.namespace]);
        run_checked(&mut cmd)
    }

    /// Runs kubectl in the namespace, showing the command line.
    fn run(&self, args: &[&str]) -> Result<()> {
        println!("$ kubectl {}", shown(args));
        run_checked(&mut self.command(args))
    }

    /// Runs kubectl outside the namespace, showing the command line.
    fn run_cluster_scoped(&self, args: &[&str]) -> Result<()> {
        println!("$ kubectl {}", shown(args));
        run_checked(&mut self.cluster_command(args))
    }

    /// Runs kubectl with `input` on its standard input.
    fn pipe(&self, args: &[&str], input: &Value) -> Result<()> {
        println!("$ kubectl {} <<< '{input}'", shown(args));
        let mut cmd = self.command(args);
        let mut child = cmd
            .stdin(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not run {cmd:?}"))?;
        let mut stdin = child
            .stdin
            .take()
            .context("kubectl has no standard input")?;
        let written = stdin.write_all(input.to_string().as_bytes());
        drop(stdin);
        let status = child
            .wait()
            .with_context(|| format!("could not wait for {cmd:?}"))?;
        written.with_context(|| format!("could not write to {cmd:?}"))?;
        if !status.success() {
            bail!("{cmd:?} failed with {status}");
        }
        Ok(())
    }

    /// Runs kubectl and parses what it prints as JSON.
    fn get_json(&self, args: &[&str]) -> Result<Value> {
        output_json(&mut self.command(args))
    }

    /// Makes a change to `workload` and waits until its rollout completes.
    fn change(&self, workload: &str, args: &[&str]) -> Result<()> {
        self.run(args)?;
        self.run(&["rollout", "status", workload, ROLLOUT_TIMEOUT])
    }

    /// Creates `workload` with `kubectl apply` and waits until its rollout completes.
    fn apply(&self, workload: &str, manifest: &Value) -> Result<()> {
        self.pipe(&["apply", "--filename=-"], manifest)?;
        self.run(&["rollout", "status", workload, ROLLOUT_TIMEOUT])
    }

    /// Deletes the namespace if it exists, waits until it is gone, and creates it again.
    fn recreate_namespace(&self) -> Result<()> {
        self.delete_namespace()?;
        self.run_cluster_scoped(&["create", "namespace", &self.namespace])
    }

    /// Deletes the namespace if it exists and waits until it is gone.
    fn delete_namespace(&self) -> Result<()> {
        self.run_cluster_scoped(&[
            "delete",
            "namespace",
            &self.namespace,
            "--ignore-not-found",
            "--wait",
        ])
    }
}

/// Runs a command to completion and parses its standard output as JSON.
fn output_json(cmd: &mut Command) -> Result<Value> {
    let output = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not run {cmd:?}"))?;
    if !output.status.success() {
        bail!("{cmd:?} failed with {}", output.status);
    }
    serde_json::from_slice(&output.stdout).with_context(|| format!("{cmd:?} did not print JSON"))
}

/// A command line as a shell would take it back, for showing what runs.
fn shown(args: &[&str]) -> String {
    args.iter()
        .map(|arg| {
            if arg.contains(char::is_whitespace) {
                format!("'{arg}'")
            } else {
                (*arg).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
