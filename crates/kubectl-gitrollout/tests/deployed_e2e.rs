//! Who deployed each revision, on the real control plane: a chart installed, upgraded and rolled
//! back by Helm (built from its Go module), and Deployments tracked by an Argo CD Application and
//! labelled by a Flux Kustomization, whose CRDs come from the tools' pinned modules so the API
//! server validates every status these tests write. The Argo CD and Flux controllers do not run
//! here: the tests write `status.history` as they do, around real applies.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::common::{run_json, stderr, stdout};
use gitrollout_tests::TestNamespace;

const SHA_A: &str = "aaaaaaa000000000000000000000000000000001";
const SHA_B: &str = "bbbbbbb000000000000000000000000000000002";
const SHA_C: &str = "ccccccc000000000000000000000000000000003";
const SHA_D: &str = "ddddddd000000000000000000000000000000004";

/// A chart of one Deployment (labelled with the value `labels`), and a Secret whose value must
/// never be printed.
fn chart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let chart = "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"1.16\"\n";
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name \
                      }}\n  {{- with .Values.labels }}\n  labels: {{ toJson . }}\n  {{- end }}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  \
                      template:\n    metadata:\n      labels: {app: web}\n    spec:\n      \
                      containers:\n      - name: nginx\n        image: {{ .Values.image }}\n";
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-db\n\
                  stringData:\n  password: {{ .Values.password }}\n";
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("Chart.yaml"), chart).unwrap();
    std::fs::write(dir.path().join("templates/deployment.yaml"), deployment).unwrap();
    std::fs::write(dir.path().join("templates/secret.yaml"), secret).unwrap();
    dir
}

/// The plugin, run outside any git repository: the commits shown are the records' own, not
/// looked up in the repository around the current directory.
fn gitrollout(ns: &TestNamespace) -> assert_cmd::Command {
    let mut command = crate::common::gitrollout(ns);
    command.current_dir(ns.home());
    command
}

/// Revision `number` of a history document.
fn revision(doc: &Value, number: u64) -> &Value {
    let revisions = doc["revisions"].as_array().unwrap();
    let revision = revisions.iter().find(|r| r["revision"] == number);
    revision.unwrap_or_else(|| panic!("no revision {number}: {doc}"))
}

fn deployed_by(doc: &Value, number: u64) -> &Value {
    &revision(doc, number)["deployedBy"]
}

/// (deployedBy, commit) of each revision.
fn deployed_and_commits(doc: &Value) -> Vec<(Value, Value)> {
    let revisions = doc["revisions"].as_array().unwrap();
    revisions
        .iter()
        .map(|r| (r["deployedBy"].clone(), r["commit"].clone()))
        .collect()
}

/// `history -o json` with `args`, as an account bound to README's `gitrollout-read` and
/// `gitrollout-deployed-by` Roles, which must be enough to say the same of every revision as
/// `doc` (the cluster admin's answer) says, with no note.
fn assert_readme_roles_say_the_same(ns: &TestNamespace, args: &[&str], doc: &Value) {
    crate::rbac_e2e::apply_readme_roles(ns);
    let reader = crate::rbac_e2e::account_with(ns, &["gitrollout-read", "gitrollout-deployed-by"]);
    let run = gitrollout(ns)
        .env("KUBECONFIG", reader.path())
        .args(args)
        .args(["-o", "json"])
        .assert()
        .success();
    assert_eq!(stderr(&run), "", "a note as README's reader");
    let read: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(
        deployed_and_commits(&read),
        deployed_and_commits(doc),
        "{read}"
    );
}

/// The requests a run made, from its `-v=6` log.
fn requests(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.starts_with("GET ") || l.starts_with("LIST "))
        .collect()
}

#[tokio::test]
async fn each_helm_revision_names_its_release_and_the_commit_the_release_carries() {
    let ns = TestNamespace::new("deployed-helm").await;
    let chart = chart();
    let chart = chart.path().to_str().unwrap();
    let helm = |verb: &str, image: &str, extra: &[&str]| {
        let image = format!("image={image}");
        let base = [
            verb,
            "web",
            chart,
            "--set",
            &image,
            "--set",
            "password=hunter2",
        ];
        ns.helm_ok(&[&base[..], extra].concat());
        ns.rollout_status("deployment/web");
    };
    helm("install", "nginx:1.16", &[]);
    let labels = format!("commit={SHA_A}");
    helm("upgrade", "nginx:1.17", &["--labels", &labels]);
    let description = format!("Release from commit {SHA_B}");
    helm("upgrade", "nginx:1.18", &["--description", &description]);
    let labels = format!("commit={SHA_C}");
    helm("upgrade", "nginx:1.19", &["--labels", &labels]);
    ns.helm_ok(&["rollback", "web", "2"]);
    ns.rollout_status("deployment/web");

    let run = gitrollout(&ns)
        .args(["-v=6", "history", "deploy/web", "-o", "json"])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    // The rollback re-used revision 2's ReplicaSet as revision 5: it is release 5's.
    let numbers: Vec<u64> = doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 3, 4, 5], "{doc}");
    let releases: Vec<Value> =
        serde_json::from_str(&ns.helm_ok(&["history", "web", "-o", "json"])).unwrap();
    let release = |n: u64| releases.iter().find(|r| r["revision"] == n).unwrap();
    for (number, made_by, commit) in [
        (1, 1, None),
        (3, 3, Some(SHA_B)),
        (4, 4, Some(SHA_C)),
        (5, 5, Some(SHA_A)),
    ] {
        let by = deployed_by(&doc, number);
        let helm = release(made_by);
        assert_eq!(
            (&by["tool"], &by["name"], &by["namespace"]),
            (&json!("helm"), &json!("web"), &json!(ns.name)),
            "{by}"
        );
        assert_eq!(by["revision"], made_by, "revision {number}: {by}");
        assert_eq!(by["match"], "exact", "{by}");
        // What `helm history` says of the same release.
        assert_eq!(by["status"], helm["status"], "{by} {helm}");
        assert_eq!(by["description"], helm["description"], "{by} {helm}");
        assert_eq!(by["chart"], helm["chart"], "{by} {helm}");
        assert_eq!(by["appVersion"], helm["app_version"], "{by} {helm}");
        let found = revision(&doc, number);
        assert_eq!(found["commit"]["sha"].as_str(), commit, "{found}");
    }
    assert_eq!(deployed_by(&doc, 5)["description"], "Rollback to 2");
    // One request more than GET + LIST: the release's Secrets, by their labels.
    let log = stderr(&run);
    let made = requests(&log);
    assert_eq!(made.len(), 3, "{log}");
    assert!(
        made[2].contains("/secrets?") && made[2].contains("owner%3Dhelm%2Cname%3Dweb"),
        "{log}"
    );

    // The table names the release where no commit is known; nothing shows a value.
    let table = gitrollout(&ns)
        .args(["history", "deploy/web"])
        .assert()
        .success();
    let table = stdout(&table);
    assert!(table.contains("helm web 1"), "{table}");
    let show = gitrollout(&ns)
        .args(["history", "deploy/web", "--revision", "5"])
        .assert()
        .success();
    let show = stdout(&show);
    assert!(
        show.contains("Deployed By:") && show.contains("Rollback to 2"),
        "{show}"
    );
    for text in [&table, &show, &doc.to_string(), &log] {
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVyMg"),
            "{text}"
        );
    }

    // The next ordinary release after the rollback is a new revision and release 6; the
    // rollback's revision keeps its release and commit.
    let labels = format!("commit={SHA_D}");
    helm("upgrade", "nginx:1.20", &["--labels", &labels]);
    let run = gitrollout(&ns)
        .args(["history", "deploy/web", "-o", "json"])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let numbers: Vec<&Value> = doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["revision"])
        .collect();
    assert_eq!(numbers, [1, 3, 4, 5, 6], "{doc}");
    for (number, release, commit) in [(5, 5, SHA_A), (6, 6, SHA_D)] {
        let by = deployed_by(&doc, number);
        assert_eq!(
            (&by["revision"], &by["match"]),
            (&json!(release), &json!("exact")),
            "{by}"
        );
        assert_eq!(revision(&doc, number)["commit"]["sha"], commit, "{doc}");
    }
    assert_eq!(deployed_by(&doc, 6)["description"], "Upgrade complete");
    assert_readme_roles_say_the_same(&ns, &["history", "deploy/web"], &doc);

    // Without the right to read Secrets: one note, and the history as before.
    ns.kubectl_ok(&["create", "serviceaccount", "reader"]);
    ns.kubectl_ok(&[
        "create",
        "role",
        "reader",
        "--verb=get,list,watch",
        "--resource=deployments,replicasets",
    ]);
    let subject = format!("--serviceaccount={}:reader", ns.name);
    ns.kubectl_ok(&["create", "rolebinding", "reader", "--role=reader", &subject]);
    let reader = ns.token_kubeconfig("reader");
    let run = gitrollout(&ns)
        .env("KUBECONFIG", reader.path())
        .args(["history", "deploy/web", "-o", "json"])
        .assert()
        .success();
    let notes = stderr(&run);
    assert_eq!(notes.lines().count(), 1, "{notes}");
    assert!(
        notes.contains("cannot read the Helm release records of web") && notes.contains("secrets"),
        "{notes}"
    );
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert!(
        doc["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["deployedBy"].is_null())
    );
    ns.delete().await;
}

/// Now, to the second: what creation timestamps and the tools' records keep.
fn second(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap()
}

/// Applies `image` to the Deployment `name` with `marks` and waits for it; the sync's start and
/// end, to the second. Syncs are seconds apart, as they are minutes apart in a cluster.
fn sync(ns: &TestNamespace, name: &str, image: &str, marks: &Value) -> (Timestamp, Timestamp) {
    std::thread::sleep(PAUSE);
    let started = second(Timestamp::now());
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": marks["labels"], "annotations": marks["annotations"]},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), deployment.to_string()).unwrap();
    ns.kubectl_ok(&["apply", "-f", &file.path().display().to_string()]);
    ns.rollout_status(&format!("deployment/{name}"));
    let ended = second(Timestamp::now()) + SignedDuration::from_secs(1);
    (started, ended)
}

/// Longer than the second that creation times are rounded to, and the second of slack a window
/// is given on each side.
const PAUSE: Duration = Duration::from_millis(3500);

/// A change by hand, well outside any sync's window.
fn by_hand(ns: &TestNamespace, name: &str, image: &str) {
    std::thread::sleep(PAUSE);
    let deployment = format!("deployment/{name}");
    ns.kubectl_ok(&["set", "image", &deployment, &format!("app={image}")]);
    ns.rollout_status(&deployment);
}

/// Writes `status` on the custom resource `resource`/`name`: through its status subresource when
/// its CRD has one (Flux's), else on the object (Argo CD's Application has none).
fn write_status(ns: &TestNamespace, resource: &str, name: &str, status: &Value) {
    let patch = json!({ "status": status }).to_string();
    let target = format!("{resource}/{name}");
    let mut args = vec!["patch", &target, "--type=merge", "-p", &patch];
    if !resource.starts_with("applications.") {
        args.push("--subresource=status");
    }
    ns.kubectl_ok(&args);
}

fn apply_object(ns: &TestNamespace, object: &Value) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), object.to_string()).unwrap();
    ns.kubectl_ok(&["apply", "-f", &file.path().display().to_string()]);
}

/// (revision, deployedBy.revision, match, commit) of each revision.
fn attribution(doc: &Value) -> Vec<(u64, Value, Value, Value)> {
    doc["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let by = &r["deployedBy"];
            (
                r["revision"].as_u64().unwrap(),
                by["revision"].clone(),
                by["match"].clone(),
                r["commit"]["sha"].clone(),
            )
        })
        .collect()
}

/// Three syncs of an Argo CD Application (`RevisionHistory` in Argo CD's
/// `pkg/apis/application/v1alpha1/types.go`), and a change by hand between the second and the
/// third: each synced revision gets its sync's history id and commit, by time; the hand-made one
/// none.
#[tokio::test]
async fn argo_cd_syncs_name_the_revisions_they_made_and_a_change_by_hand_gets_none() {
    let ns = TestNamespace::new("deployed-argocd").await;
    ns.ensure_crds().await;
    let tracking = format!("guestbook:apps/Deployment:{}/guestbook", ns.name);
    let marks = json!({"labels": {}, "annotations": {"argocd.argoproj.io/tracking-id": tracking}});
    apply_object(
        &ns,
        &json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "guestbook"},
            "spec": {
                "project": "default",
                "destination": {"server": "https://kubernetes.default.svc", "namespace": ns.name},
                "source": {"repoURL": "https://git.example.com/guestbook.git", "path": "app",
                           "targetRevision": "HEAD"},
            },
        }),
    );
    let mut history = Vec::new();
    for (id, (image, sha)) in [
        ("nginx:1.16", SHA_A),
        ("nginx:1.17", SHA_B),
        ("nginx:1.18", SHA_C),
    ]
    .into_iter()
    .enumerate()
    {
        if id == 2 {
            by_hand(&ns, "guestbook", "nginx:1.17-alpine");
        }
        let (started, ended) = sync(&ns, "guestbook", image, &marks);
        history.push(json!({
            "id": id, "revision": sha,
            "deployStartedAt": started.to_string(), "deployedAt": ended.to_string(),
            "source": {"repoURL": "https://git.example.com/guestbook.git", "path": "app",
                       "targetRevision": "HEAD"},
            "initiatedBy": {"automated": true},
        }));
        let status = json!({"history": history, "sync": {"status": "Synced", "revision": sha}});
        write_status(&ns, "applications.argoproj.io", "guestbook", &status);
    }

    let run = gitrollout(&ns)
        .args([
            "-v=6",
            "history",
            "deploy/guestbook",
            "--argocd-namespace",
            &ns.name,
        ])
        .args(["-o", "json"])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let window = json!("window");
    assert_eq!(
        attribution(&doc),
        [
            (1, json!(0), window.clone(), json!(SHA_A)),
            (2, json!(1), window.clone(), json!(SHA_B)),
            (3, Value::Null, Value::Null, Value::Null),
            (4, json!(2), window.clone(), json!(SHA_C)),
        ],
        "{doc}"
    );
    let by = deployed_by(&doc, 4);
    assert_eq!(
        (&by["tool"], &by["kind"], &by["initiatedBy"]),
        (&json!("argocd"), &json!("Application"), &json!("automated"))
    );
    let log = stderr(&run);
    assert_eq!(requests(&log).len(), 3, "{log}");
    let args = [
        "history",
        "deploy/guestbook",
        "--argocd-namespace",
        &ns.name,
    ];
    assert_readme_roles_say_the_same(&ns, &args, &doc);

    // In Argo CD's own namespace by default: there is none here, and one note says so.
    let run = gitrollout(&ns)
        .args(["history", "deploy/guestbook"])
        .assert()
        .success();
    let note = stderr(&run);
    assert_eq!(note.lines().count(), 1, "{note}");
    assert!(note.contains("Application argocd/guestbook"), "{note}");
    ns.delete().await;
}

/// Three reconciliations of a Flux Kustomization (`Snapshot` in fluxcd/pkg's `apis/meta`, as
/// kustomize-controller's `status.history` keeps them), and a change by hand between the second
/// and the third.
#[tokio::test]
async fn flux_reconciliations_name_the_revisions_they_made_and_a_change_by_hand_gets_none() {
    let ns = TestNamespace::new("deployed-flux").await;
    ns.ensure_crds().await;
    let marks = json!({"labels": {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": ns.name,
    }, "annotations": {}});
    apply_object(
        &ns,
        &json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps"},
            "spec": {"interval": "10m", "prune": true, "path": "./apps",
                     "sourceRef": {"kind": "GitRepository", "name": "fleet"}},
        }),
    );
    let mut history = Vec::new();
    for (index, (image, sha)) in [
        ("nginx:1.16", SHA_A),
        ("nginx:1.17", SHA_B),
        ("nginx:1.18", SHA_C),
    ]
    .into_iter()
    .enumerate()
    {
        if index == 2 {
            by_hand(&ns, "podinfo", "nginx:1.17-alpine");
        }
        let (started, ended) = sync(&ns, "podinfo", image, &marks);
        let took = ended.duration_since(started).as_secs_f64();
        // The newest snapshot first, as kustomize-controller keeps them.
        history.insert(
            0,
            json!({
                "digest": format!("sha256:{index:064}"),
                "firstReconciled": ended.to_string(), "lastReconciled": ended.to_string(),
                "lastReconciledDuration": format!("{took}s"),
                "lastReconciledStatus": "ReconciliationSucceeded", "totalReconciliations": 1,
                "metadata": {"revision": format!("main@sha1:{sha}")},
            }),
        );
        let revision = format!("main@sha1:{sha}");
        let status = json!({"history": history, "lastAppliedRevision": revision});
        write_status(
            &ns,
            "kustomizations.kustomize.toolkit.fluxcd.io",
            "apps",
            &status,
        );
    }

    let run = gitrollout(&ns)
        .args(["-v=6", "history", "deploy/podinfo", "-o", "json"])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let (window, source) = (json!("window"), |sha: &str| {
        json!(format!("main@sha1:{sha}"))
    });
    assert_eq!(
        attribution(&doc),
        [
            (1, source(SHA_A), window.clone(), json!(SHA_A)),
            (2, source(SHA_B), window.clone(), json!(SHA_B)),
            (3, Value::Null, Value::Null, Value::Null),
            (4, source(SHA_C), window.clone(), json!(SHA_C)),
        ],
        "{doc}"
    );
    let by = deployed_by(&doc, 4);
    assert_eq!(
        (&by["tool"], &by["kind"]),
        (&json!("flux"), &json!("Kustomization"))
    );
    let log = stderr(&run);
    assert_eq!(requests(&log).len(), 3, "{log}");
    assert_readme_roles_say_the_same(&ns, &["history", "deploy/podinfo"], &doc);

    // A workload with no marks costs nothing more: GET + LIST.
    ns.kubectl_ok(&["create", "deployment", "plain", "--image=nginx:1.16"]);
    ns.rollout_status("deployment/plain");
    let run = gitrollout(&ns)
        .args(["-v=6", "history", "deploy/plain"])
        .assert()
        .success();
    let log = stderr(&run);
    assert_eq!(requests(&log).len(), 2, "{log}");
    let table = run_json(&ns, &["history", "deploy/plain", "-o", "json"]);
    assert!(deployed_by(&table, 1).is_null());
    ns.delete().await;
}

/// (commit.sha, commit.source) of each revision.
fn commits_and_sources(doc: &Value) -> Vec<(Value, Value)> {
    let revisions = doc["revisions"].as_array().unwrap();
    revisions
        .iter()
        .map(|r| (r["commit"]["sha"].clone(), r["commit"]["source"].clone()))
        .collect()
}

/// An overlay built with `buildMetadata: [originAnnotations]` marks the workload with the file
/// of the base it came from, and `history --repo` traces that file without `--path`.
#[tokio::test]
async fn a_kustomize_origin_names_the_file_to_trace() {
    let ns = TestNamespace::new("deployed-origin").await;
    let repo = gitrollout_tests::git::GitRepo::new();
    let base = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    \
             matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    \
             spec:\n      containers:\n      - name: app\n        image: {image}\n"
        )
    };
    repo.commit(
        "base/kustomization.yaml",
        "resources: [deployment.yaml]\n",
        "base",
    );
    let overlay = "resources: [../../base]\nbuildMetadata: [originAnnotations]\n";
    repo.commit("overlays/prod/kustomization.yaml", overlay, "overlay");
    let overlay = repo.path().join("overlays/prod").display().to_string();
    let mut shas = Vec::new();
    for image in ["nginx:1.16", "nginx:1.17"] {
        shas.push(repo.commit("base/deployment.yaml", &base(image), image));
        ns.kubectl_ok(&["apply", "-k", &overlay]);
        ns.rollout_status("deployment/web");
    }
    let dir = repo.path().display().to_string();
    let run = gitrollout(&ns)
        .args(["history", "deploy/web", "--repo", &dir, "-o", "json"])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let commits = commits_and_sources(&doc);
    let source = json!("manifest base/deployment.yaml");
    assert_eq!(
        commits,
        [
            (json!(shas[0]), source.clone()),
            (json!(shas[1]), source.clone())
        ],
        "{doc} {}",
        stderr(&run)
    );
    ns.delete().await;
}

/// A Helm release that a Flux HelmRelease installs: the workload carries Helm's marks and Flux's
/// labels (helm-controller's post-renderer adds them), and the HelmRelease's `status.history`
/// names each release version it installed. Each revision is the HelmRelease's, exactly, with
/// the release it came from.
#[tokio::test]
async fn a_flux_helm_release_names_the_helm_releases_it_installed() {
    let ns = TestNamespace::new("deployed-flux-helm").await;
    ns.ensure_crds().await;
    apply_object(
        &ns,
        &json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "web"},
            "spec": {"interval": "10m", "chart": {"spec": {
                "chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}},
        }),
    );
    let chart = chart();
    let chart = chart.path().to_str().unwrap();
    let labels = json!({
        "helm.toolkit.fluxcd.io/name": "web",
        "helm.toolkit.fluxcd.io/namespace": ns.name,
    });
    let labels = format!("labels={labels}");
    for (verb, image) in [("install", "nginx:1.16"), ("upgrade", "nginx:1.17")] {
        let image = format!("image={image}");
        let base = [verb, "web", chart, "--set", &image, "--set-json", &labels];
        ns.helm_ok(&[&base[..], &["--set", "password=hunter2"]].concat());
        ns.rollout_status("deployment/web");
    }
    // helm-controller's `Snapshot`s, the newest first, from the releases Helm made.
    let releases: Vec<Value> =
        serde_json::from_str(&ns.helm_ok(&["history", "web", "-o", "json"])).unwrap();
    let digest = format!("sha256:{}", "0".repeat(64));
    let history: Vec<Value> = releases
        .iter()
        .rev()
        .map(|release| {
            json!({
                "name": "web", "namespace": ns.name, "version": release["revision"],
                "status": release["status"], "chartName": "web", "chartVersion": "0.1.0",
                "appVersion": release["app_version"], "digest": digest, "configDigest": digest,
                "firstDeployed": release["updated"], "lastDeployed": release["updated"],
            })
        })
        .collect();
    let resource = "helmreleases.helm.toolkit.fluxcd.io";
    write_status(&ns, resource, "web", &json!({ "history": history }));

    let run = gitrollout(&ns)
        .args(["-v=6", "history", "deploy/web", "-o", "json"])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    for revision in [1, 2] {
        let by = deployed_by(&doc, revision);
        assert_eq!(
            (&by["tool"], &by["kind"], &by["name"], &by["namespace"]),
            (
                &json!("flux"),
                &json!("HelmRelease"),
                &json!("web"),
                &json!(ns.name)
            ),
            "{by}"
        );
        assert_eq!(
            (&by["revision"], &by["match"]),
            (&json!("0.1.0"), &json!("exact")),
            "{by}"
        );
        assert_eq!(by["release"], revision.to_string(), "{by}");
        assert_eq!(
            by["status"],
            releases[usize::try_from(revision).unwrap() - 1]["status"]
        );
    }
    // GET and LIST, the release's Secrets, and the HelmRelease: two more.
    let log = stderr(&run);
    let made = requests(&log);
    assert_eq!(made.len(), 4, "{log}");
    assert!(made[3].contains("/helmreleases/web"), "{log}");
    assert_readme_roles_say_the_same(&ns, &["history", "deploy/web"], &doc);
    ns.delete().await;
}

/// `--kustomize OVERLAY`: an overlay with its base in another directory, released by
/// `kubectl apply -k` at three commits (the overlay's image, then the base's env), with a commit
/// elsewhere in the repository between them and a change by hand at the end. Each revision is
/// traced to the commit that rendered its template; the change by hand gets none.
#[tokio::test]
async fn a_kustomize_overlay_is_traced_by_rendering_it_at_its_commits() {
    let ns = TestNamespace::new("deployed-kustomize").await;
    let repo = gitrollout_tests::git::GitRepo::new();
    let base = |env: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    \
             matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    \
             spec:\n      containers:\n      - name: app\n        image: nginx:1.16\n        \
             env: [{{name: MODE, value: {env}}}]\n"
        )
    };
    repo.commit("base/kustomization.yaml", "resources: [app.yaml]\n", "Base");
    let overlay = |tag: &str| {
        format!("resources: [../../base]\nimages:\n- name: nginx\n  newTag: \"{tag}\"\n")
    };
    let dir = repo.path().join("overlays/prod").display().to_string();
    let apply = |ns: &TestNamespace| {
        ns.kubectl_ok(&["apply", "-k", &dir]);
        ns.rollout_status("deployment/web");
    };
    let mut shas = vec![repo.commit("base/app.yaml", &base("blue"), "Release blue")];
    repo.commit(
        "overlays/prod/kustomization.yaml",
        &overlay("1.16"),
        "Overlay",
    );
    shas.push(repo.git(&["rev-parse", "HEAD"]));
    apply(&ns);
    shas.push(repo.commit(
        "overlays/prod/kustomization.yaml",
        &overlay("1.17"),
        "Release 1.17",
    ));
    apply(&ns);
    repo.commit("README.md", "elsewhere\n", "Docs");
    shas.push(repo.commit("base/app.yaml", &base("green"), "Release green"));
    apply(&ns);
    ns.kubectl_ok(&["set", "image", "deploy/web", "app=nginx:1.19"]);
    ns.rollout_status("deployment/web");

    let path = format!(
        "{}:{}",
        ns.kubectl.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let root = repo.path().display().to_string();
    let run = gitrollout(&ns)
        .env("PATH", path)
        .args([
            "history",
            "deploy/web",
            "--repo",
            &root,
            "--kustomize",
            "overlays/prod",
            "-o",
            "json",
        ])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let commits = commits_and_sources(&doc);
    let source = json!("manifest overlays/prod");
    let sha = |i: usize| json!(shas[i].trim());
    assert_eq!(
        commits,
        [
            (sha(1), source.clone()),
            (sha(2), source.clone()),
            (sha(3), source),
            (Value::Null, Value::Null)
        ],
        "{doc} {}",
        stderr(&run)
    );
    assert_eq!(stderr(&run), "");
    ns.delete().await;
}

/// CI actions that annotate the workload on each deploy: the Deployment controller copies the
/// annotations onto the new ReplicaSet, the StatefulSet and DaemonSet controllers onto the new
/// ControllerRevision. Each deploy's revision gets its commit; a later `kubectl set image` that
/// inherited the last value gets none, as the value is the older revision's.
#[tokio::test]
async fn ci_annotations_name_the_commit_of_each_kind_s_revisions() {
    let ns = TestNamespace::new("deployed-ci").await;
    let deploys = [
        (
            "actions.github.com/k8s-deploy",
            json!({ "commit": SHA_A, "run": "7", "workflow": "deploy" }).to_string(),
            "k8s-deploy",
            SHA_A,
        ),
        ("ci.werf.io/commit", SHA_B.to_owned(), "werf", SHA_B),
    ];
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
        let name = kind.to_lowercase();
        for (image, (key, value, _, _)) in ["nginx:1.16", "nginx:1.17"].iter().zip(&deploys) {
            let mut object = gitrollout_tests::workload(kind, &name, image, None);
            object["metadata"]["annotations"] = json!({ *key: value });
            if kind == "StatefulSet" {
                object["spec"]["serviceName"] = json!(name);
            }
            apply_object(&ns, &object);
            ns.rollout_status(&format!("{name}/{name}"));
        }
        ns.release(&format!("{name}/{name}"), "nginx=nginx:1.18");

        let run = gitrollout(&ns)
            .args(["history", &format!("{name}/{name}"), "-o", "json"])
            .assert()
            .success();
        let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
        let found: Vec<(Value, Value, Value)> = doc["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let by = &r["deployedBy"];
                (
                    by["tool"].clone(),
                    by["name"].clone(),
                    r["commit"]["sha"].clone(),
                )
            })
            .collect();
        let expected: Vec<(Value, Value, Value)> = deploys
            .iter()
            .map(|(_, _, tool, sha)| (json!("ci"), json!(tool), json!(sha)))
            .chain([(Value::Null, Value::Null, Value::Null)])
            .collect();
        assert_eq!(found, expected, "{kind}: {doc}");
        let source = &doc["revisions"][0]["commit"]["source"];
        assert_eq!(source, "annotation actions.github.com/k8s-deploy", "{kind}");
    }
    ns.delete().await;
}
