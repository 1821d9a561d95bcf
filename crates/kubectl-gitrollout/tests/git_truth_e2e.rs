//! Commits you can trust, end to end on the real control plane: manifests compared exactly with
//! what the API server stores, revisions attributed in history order, and paths read as git
//! reads them.

use std::path::Path;
use std::time::Duration;

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::TestNamespace;
use gitrollout_tests::git::GitRepo;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::ListParams;
use rollout_core::template::normalize;
use rollout_git::workload_template;
use serde_json::Value;

/// Workloads with what the server fills in: probes of every kind, volumes of every common
/// source, ports, env from fields and secrets, quantities in non-canonical form, init
/// containers, images with and without tags.
const DEFAULTED: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: probes}
spec:
  selector: {matchLabels: {app: probes}}
  template:
    metadata: {labels: {app: probes}, annotations: {}}
    spec:
      serviceAccountName: default
      initContainers:
      - {name: init, image: "busybox:latest", command: ["true"]}
      containers:
      - name: app
        image: nginx
        args: []
        ports: [{containerPort: 80, name: http}, {containerPort: 53, protocol: UDP}]
        env:
        - {name: EMPTY, value: ""}
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: SECRET
          valueFrom: {secretKeyRef: {name: s, key: k, optional: true}}
        - name: CPU
          valueFrom: {resourceFieldRef: {containerName: app, resource: limits.cpu}}
        resources:
          limits: {cpu: 0.5, memory: 1.5Gi, ephemeral-storage: 1000Mi}
          requests: {cpu: 100m, memory: 1024Mi}
        livenessProbe: {httpGet: {port: 80}, initialDelaySeconds: 0}
        readinessProbe: {tcpSocket: {port: http}, initialDelaySeconds: 3}
        startupProbe: {grpc: {port: 9000}, periodSeconds: 5}
        lifecycle: {preStop: {httpGet: {port: http, path: /stop}}}
        securityContext: {allowPrivilegeEscalation: false}
        volumeMounts: [{name: config, mountPath: /config, readOnly: false}]
      - name: pinned
        image: registry.local:5000/team/app@sha256:0000000000000000000000000000000000000000000000000000000000000000
        stdin: false
      volumes:
      - name: config
        configMap: {name: c, items: [{key: a, path: a}]}
      - {name: secret, secret: {secretName: s, defaultMode: 256}}
      - {name: scratch}
      - {name: memory, emptyDir: {medium: Memory, sizeLimit: 0.5Gi}}
      - {name: host, hostPath: {path: /tmp}}
      - name: projected
        projected:
          sources:
          - serviceAccountToken: {path: token}
          - configMap: {name: c}
          - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
      - name: downward
        downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
      - name: claim
        ephemeral:
          volumeClaimTemplate:
            spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
      nodeSelector: {}
      tolerations: [{key: dedicated, operator: Exists}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: stateful}
spec:
  serviceName: stateful
  selector: {matchLabels: {app: stateful}}
  template:
    metadata: {labels: {app: stateful}}
    spec:
      serviceAccount: default
      hostNetwork: false
      terminationGracePeriodSeconds: 5
      containers:
      - name: db
        image: postgres:16
        ports: [{containerPort: 5432, hostPort: 0}]
        resources: {requests: {cpu: 1, memory: 128974848}}
"#;

/// The kind and name of every workload document in `manifest`.
fn workloads(manifest: &str) -> Vec<(String, String)> {
    manifest
        .split("\n---")
        .filter_map(|document| {
            let mut kind = None;
            let mut name = None;
            for line in document.lines() {
                if let Some(k) = line.strip_prefix("kind: ") {
                    kind = Some(k.trim().to_owned());
                }
                if let Some(n) = line.strip_prefix("  name: ") {
                    name = name.or(Some(n.trim().to_owned()));
                }
                if let Some(n) = line.strip_prefix("metadata: {name: ") {
                    name = name.or(Some(n.trim_end_matches('}').to_owned()));
                }
            }
            Some((kind?, name?))
        })
        .filter(|(kind, _)| kind == "Deployment" || kind == "StatefulSet")
        .collect()
}

fn live_template(ns: &TestNamespace, kind: &str, name: &str) -> Value {
    let json = ns.kubectl_ok(&["get", kind, name, "-o", "json"]);
    let object: Value = serde_json::from_str(&json).unwrap();
    object["spec"]["template"].clone()
}

#[tokio::test]
async fn manifest_templates_with_the_server_defaults_equal_the_live_ones() {
    let ns = TestNamespace::new("defaults-exact").await;
    let dir = tempfile::tempdir().unwrap();
    let argocd = include_str!("fixtures/argocd-workloads.yaml");
    let mut checked = 0;
    for (file, manifest) in [("argocd.yaml", argocd), ("defaulted.yaml", DEFAULTED)] {
        let path = dir.path().join(file);
        std::fs::write(&path, manifest).unwrap();
        ns.kubectl_ok(&["apply", "-f", &path.display().to_string()]);
        for (kind, name) in workloads(manifest) {
            let ours = workload_template(manifest.as_bytes(), &kind, &name)
                .unwrap()
                .unwrap();
            let live = live_template(&ns, &kind, &name);
            assert_eq!(
                normalize(&ours),
                normalize(&live),
                "{kind}/{name}: the manifest with defaults differs from the live template"
            );
            checked += 1;
        }
    }
    // Six Deployments and a StatefulSet of Argo CD, and two of ours.
    assert_eq!(checked, 9);
    ns.delete().await;
}

/// A manifest repository whose file holds two workloads.
fn two_workloads(api: &str, worker: &str) -> String {
    let deployment = |name: &str, image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  \
             replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    \
             metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      \
             - name: main\n        image: {image}\n        ports:\n        - containerPort: 80\n"
        )
    };
    format!(
        "{}---\n{}",
        deployment("api", api),
        deployment("worker", worker)
    )
}

fn apply(ns: &TestNamespace, repo: &GitRepo, file: &str, workloads: &[&str]) {
    let path = repo.path().join(file).display().to_string();
    ns.kubectl_ok(&["apply", "-f", &path]);
    for workload in workloads {
        ns.kubectl_ok(&[
            "rollout",
            "status",
            &format!("deployment/{workload}"),
            "--timeout=120s",
        ]);
    }
}

/// The commit SHA (or `-`) of each revision of `workload`, as `history -o json` shows them.
fn commits(ns: &TestNamespace, workload: &str, repo: &Path, path: &str) -> Vec<(u64, String)> {
    let repo = repo.display().to_string();
    let doc = run_json(
        ns,
        &[
            "history", workload, "-o", "json", "--repo", &repo, "--path", path,
        ],
    );
    doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let sha = r["commit"]["sha"].as_str().unwrap_or("-").to_owned();
            (r["revision"].as_u64().unwrap(), sha)
        })
        .collect()
}

#[tokio::test]
async fn a_hand_made_env_change_maps_to_no_commit() {
    let ns = TestNamespace::new("handmade-env").await;
    let repo = GitRepo::new();
    let file = "deploy/app.yaml";
    let first = repo.commit(file, &two_workloads("nginx:1.16", "busybox:1"), "First");
    apply(&ns, &repo, file, &["api", "worker"]);
    let second = repo.commit(file, &two_workloads("nginx:1.17", "busybox:1"), "Api 1.17");
    apply(&ns, &repo, file, &["api"]);
    ns.kubectl_ok(&["set", "env", "deployment/api", "HANDMADE=1"]);
    ns.kubectl_ok(&["rollout", "status", "deployment/api", "--timeout=120s"]);
    let path = repo.path().join(file).display().to_string();
    assert_eq!(
        commits(&ns, "deployment/api", repo.path(), &path),
        [(1, first), (2, second), (3, "-".to_owned())]
    );
    ns.delete().await;
}

#[tokio::test]
async fn commits_that_changed_another_workload_never_take_a_revision() {
    let ns = TestNamespace::new("multi-doc").await;
    let repo = GitRepo::new();
    let file = "deploy/all.yaml";
    // Commits alternate between the two workloads; each is applied as it lands.
    let steps = [
        ("nginx:1.16", "busybox:1", "Both at first"),
        ("nginx:1.16", "busybox:2", "Worker 2"),
        ("nginx:1.17", "busybox:2", "Api 1.17"),
        ("nginx:1.17", "busybox:3", "Worker 3"),
        ("nginx:1.18", "busybox:3", "Api 1.18"),
        ("nginx:1.18", "busybox:4", "Worker 4"),
    ];
    let mut shas = Vec::new();
    for (api, worker, message) in steps {
        shas.push(repo.commit(file, &two_workloads(api, worker), message));
        apply(&ns, &repo, file, &["api", "worker"]);
    }
    let path = repo.path().join(file).display().to_string();
    let sha = |i: usize| shas[i].clone();
    assert_eq!(
        commits(&ns, "deployment/api", repo.path(), &path),
        [(1, sha(0)), (2, sha(2)), (3, sha(4))]
    );
    assert_eq!(
        commits(&ns, "deployment/worker", repo.path(), &path),
        [(1, sha(0)), (2, sha(1)), (3, sha(3)), (4, sha(5))]
    );
    ns.delete().await;
}

#[tokio::test]
async fn a_relative_path_is_read_from_the_repo_dir_not_the_current_directory() {
    let ns = TestNamespace::new("repo-relative").await;
    let repo = GitRepo::new();
    let file = "deploy/app.yaml";
    let sha = repo.commit(file, &two_workloads("nginx:1.16", "busybox:1"), "First");
    apply(&ns, &repo, file, &["api"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let repo_arg = repo.path().display().to_string();
    let run = gitrollout(&ns)
        .current_dir(elsewhere.path())
        .args(["history", "deployment/api", "-o", "json"])
        .args(["--repo", &repo_arg, "--path", file])
        .assert()
        .success();
    let doc: Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(revisions_of(&doc), [(1, "nginx:1.16".to_owned(), true)]);
    assert_eq!(doc["revisions"][0]["commit"]["sha"], sha.as_str());

    // The root of the repository is not a manifest.
    let run = gitrollout(&ns)
        .current_dir(elsewhere.path())
        .args([
            "history",
            "deployment/api",
            "--repo",
            &repo_arg,
            "--path",
            ".",
        ])
        .assert()
        .code(1);
    let err = stderr(&run);
    assert!(err.contains("is the root of the repository"), "{err}");
    assert!(
        err.contains("hint: pass the manifest's file with --path"),
        "{err}"
    );
    ns.delete().await;
}

/// The plugin with PATH, so it can run git.
fn with_path(ns: &TestNamespace) -> assert_cmd::Command {
    let mut cmd = gitrollout(ns);
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

#[tokio::test]
async fn reverts_to_commits_find_revisions_and_commit_only_what_changes() {
    let ns = TestNamespace::new("revert-commits").await;
    let repo = GitRepo::new();
    let file = "deploy/app.yaml";
    let mut shas = Vec::new();
    // The fourth commit brings 1.16 back: the controller re-uses revision 1 as revision 3.
    for (api, message) in [
        ("nginx:1.16", "Api 1.16"),
        ("nginx:1.17", "Api 1.17"),
        ("nginx:1.16", "Back to 1.16"),
        ("nginx:1.18", "Api 1.18"),
    ] {
        shas.push(repo.commit(file, &two_workloads(api, "busybox:1"), message));
        apply(&ns, &repo, file, &["api"]);
    }
    let path = repo.path().join(file).display().to_string();
    assert_eq!(
        commits(&ns, "deployment/api", repo.path(), &path),
        [
            (2, shas[1].clone()),
            (3, shas[2].clone()),
            (4, shas[3].clone())
        ]
    );
    let repo_arg = repo.path().display().to_string();
    let revert = |args: &[&str]| {
        let mut cmd = with_path(&ns);
        cmd.args([
            "revert",
            "deployment/api",
            "--repo",
            &repo_arg,
            "--path",
            &path,
        ])
        .args(args);
        cmd
    };

    // The first commit's revision is shown with the newer commit that made it again: reverting
    // to the first commit restores that revision, not a copy of the manifest.
    let run = revert(&["--to-commit", &shas[0][..8]]).assert().success();
    assert_eq!(
        stdout(&run),
        "deployment.apps/api reverted to revision 3 as revision 5\n"
    );
    // Reverting to what runs already is refused, whichever commit names it.
    let run = revert(&["--to-commit", &shas[0][..8]]).assert().code(1);
    assert!(
        stderr(&run).contains("nothing to revert"),
        "{}",
        stderr(&run)
    );

    // FILE already has the content of the target's commit: the cluster is reverted, no commit.
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = revert(&["--to-commit", &shas[3], "--git"])
        .assert()
        .success();
    assert_eq!(
        stdout(&run),
        format!(
            "deployment.apps/api reverted to revision 4 as revision 6\n{file} already matches \
             commit {}: no commit\n",
            &shas[3][..7]
        )
    );
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);

    // A hook refuses the commit after the cluster changed: one line and a hint that say what
    // each holds, and nothing left staged.
    let hook = repo.path().join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'lint: app.yaml is not formatted' >&2\nexit 1\n",
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&hook).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&hook, permissions).unwrap();
    let run = revert(&["--to-commit", &shas[1], "--git"]).assert().code(1);
    let err = stderr(&run);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "error: deployment.apps/api was reverted to revision 2 as revision 7, but git did \
             not commit {file}: lint: app.yaml is not formatted"
        ),
        "{err}"
    );
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[1].starts_with("hint: the cluster runs revision 7; "),
        "{err}"
    );
    assert_eq!(repo.git(&["diff", "--cached", "--name-only"]), "");
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    ns.delete().await;
}

#[tokio::test]
async fn the_dry_run_of_a_restore_from_a_manifest_shows_only_real_changes() {
    let ns = TestNamespace::new("restore-diff").await;
    let repo = GitRepo::new();
    let file = "deploy/app.yaml";
    let mut shas = Vec::new();
    for api in ["nginx:1.16", "nginx:1.17", "nginx:1.18"] {
        let manifest = two_workloads(api, "busybox:1").replace(
            "  replicas: 1\n  selector:\n    matchLabels:\n      app: api\n",
            "  replicas: 1\n  revisionHistoryLimit: 0\n  selector:\n    matchLabels:\n      app: api\n",
        );
        shas.push(repo.commit(file, &manifest, api));
        apply(&ns, &repo, file, &["api"]);
    }
    // The controller prunes old ReplicaSets after the rollout is complete, on a later sync:
    // wait until only the current one is left, so revision 1 exists only in git.
    let replica_sets = ns.api::<ReplicaSet>();
    let selector = ListParams::default().labels("app=api");
    ns.wait_for(
        "the controller to prune the old ReplicaSets of deployment/api",
        Duration::from_secs(60),
        || async {
            replica_sets
                .list(&selector)
                .await
                .expect("ReplicaSets list")
                .items
                .len()
        },
        |left| *left == 1,
    )
    .await;
    let path = repo.path().join(file).display().to_string();
    let repo_arg = repo.path().display().to_string();
    // The first revision is pruned: its template comes from the manifest, defaults applied.
    let run = with_path(&ns)
        .args([
            "revert",
            "deployment/api",
            "--dry-run",
            "--to-commit",
            &shas[0],
        ])
        .args(["--repo", &repo_arg, "--path", &path])
        .assert()
        .success();
    let diff = stdout(&run);
    let note = stderr(&run);
    assert!(
        note.contains(&format!("would be reverted to commit {}", &shas[0][..7])),
        "{note}"
    );
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++"))
        .filter(|l| !l.starts_with("---"))
        .collect();
    assert!(
        changed
            .iter()
            .any(|l| l.starts_with('-') && l.ends_with("image: nginx:1.18"))
            && changed
                .iter()
                .any(|l| l.starts_with('+') && l.ends_with("image: nginx:1.16")),
        "{diff}"
    );
    // Besides the image, only this tool's markers change: no server default shows as removed.
    let others: Vec<&&str> = changed
        .iter()
        .filter(|l| !l.contains("image: nginx:"))
        .filter(|l| {
            !l.contains("gitrollout.dev/")
                && !l.trim_start_matches(['+', '-']).trim().eq("annotations:")
        })
        .collect();
    assert!(others.is_empty(), "{diff}");
    ns.delete().await;
}

/// A manifest of `app` whose init container runs `init_image`, with `serviceAccountName:
/// default` when `account`.
fn with_init(init_image: &str, account: bool) -> String {
    let account = if account {
        "      serviceAccountName: default\n"
    } else {
        ""
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector:\n    \
         matchLabels:\n      app: app\n  template:\n    metadata:\n      labels:\n        app: \
         app\n    spec:\n{account}      initContainers:\n      - name: init\n        image: \
         {init_image}\n        command: [\"true\"]\n      containers:\n      - name: main\n        \
         image: nginx:1.16\n"
    )
}

#[tokio::test]
async fn a_commit_maps_to_its_revision_whatever_defaults_the_server_kept() {
    let ns = TestNamespace::new("kept-defaults").await;
    let repo = GitRepo::new();
    let file = "deploy/app.yaml";
    let first = repo.commit(file, &with_init("busybox:latest", true), "Init on latest");
    apply(&ns, &repo, file, &["app"]);
    // `kubectl apply` keeps `imagePullPolicy: Always`, defaulted for `latest`, and the account
    // the server mirrors into the deprecated `serviceAccount`: a fresh object would have neither.
    let pinned = "busybox:1.38.0@sha256:\
                  0000000000000000000000000000000000000000000000000000000000000000";
    let second = repo.commit(file, &with_init(pinned, false), "Pin init, default account");
    apply(&ns, &repo, file, &["app"]);
    let live = live_template(&ns, "deployment", "app");
    assert_eq!(
        live["spec"]["initContainers"][0]["imagePullPolicy"],
        "Always"
    );
    assert_eq!(live["spec"]["serviceAccountName"], "default");
    let fresh = workload_template(with_init(pinned, false).as_bytes(), "Deployment", "app")
        .unwrap()
        .unwrap();
    assert_ne!(normalize(&fresh), normalize(&live));

    ns.kubectl_ok(&["set", "env", "deployment/app", "HANDMADE=1"]);
    ns.rollout_status("deployment/app");
    let path = repo.path().join(file).display().to_string();
    assert_eq!(
        commits(&ns, "deployment/app", repo.path(), &path),
        [(1, first), (2, second), (3, "-".to_owned())]
    );
    ns.delete().await;
}
