//! `log` end to end: a timeline across workloads on the real control plane, who made each
//! revision, the time window, the selector, the requests it costs, and `-w`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::common::{gitrollout, run_json, stderr, stdout};
use gitrollout_tests::{TestNamespace, daemonset_complete, statefulset_complete, workload};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use serde_json::{Value, json};

/// Creation times are kept to the second: a pause longer than that puts each change in a second
/// of its own, so that the order they were made in is the order `log` can tell.
fn next_second() {
    std::thread::sleep(Duration::from_millis(1100));
}

/// This second, as the server will stamp what is made from now on.
fn this_second() -> String {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap().to_string()
}

/// (name, revision, by) of each item of a `log -o json` document, in order.
fn rows(doc: &Value) -> Vec<(String, u64, Option<String>)> {
    assert_eq!(doc["kind"], "List", "{doc:#}");
    let items = doc["items"].as_array().expect("an items array");
    items
        .iter()
        .map(|item| {
            (
                item["name"].as_str().unwrap().to_owned(),
                item["revision"].as_u64().unwrap(),
                item["by"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn row(name: &str, revision: u64, by: Option<&str>) -> (String, u64, Option<String>) {
    (name.to_owned(), revision, by.map(str::to_owned))
}

/// Three Deployments, a StatefulSet and a DaemonSet, each on nginx:1.16 and rolled out; `c`
/// also released on 1.17, so that it has a revision to revert to.
async fn five_workloads(ns: &TestNamespace) {
    for name in ["a", "b", "c"] {
        ns.kubectl_ok(&["create", "deployment", name, "--image=nginx:1.16"]);
        next_second();
    }
    let mut sts = workload("StatefulSet", "db", "nginx:1.16", Some(1));
    sts["spec"]["serviceName"] = json!("db");
    ns.create::<StatefulSet>(sts).await;
    next_second();
    ns.create::<DaemonSet>(workload("DaemonSet", "agent", "nginx:1.16", None))
        .await;
    for name in ["a", "b", "c"] {
        ns.rollout_status(&format!("deployment/{name}"));
    }
    ns.wait_rollout("db", statefulset_complete(1)).await;
    ns.wait_rollout("agent", daemonset_complete(1)).await;
    next_second();
    ns.release("deployment/c", "nginx=nginx:1.17");
}

#[tokio::test]
async fn log_tells_what_changed_across_workloads_and_who_changed_it() {
    let ns = TestNamespace::new("log-story").await;
    five_workloads(&ns).await;
    next_second();
    let start = this_second();

    // In a known order, each in a second of its own: kubectl set image, kubectl rollout
    // restart, and a revert of ours.
    ns.kubectl_ok(&["set", "image", "deployment/a", "nginx=nginx:1.17"]);
    next_second();
    ns.kubectl_ok(&["rollout", "restart", "deployment/b"]);
    next_second();
    let middle = this_second();
    ns.kubectl_ok(&["set", "image", "statefulset/db", "nginx=nginx:1.17"]);
    next_second();
    ns.kubectl_ok(&["rollout", "restart", "daemonset/agent"]);
    next_second();
    let revert = gitrollout(&ns)
        .args(["revert", "deployment/c", "--to-revision", "1"])
        .assert()
        .success();
    assert_eq!(
        stdout(&revert),
        "deployment.apps/c reverted to revision 1 as revision 3\n"
    );

    let changes = [
        row("c", 3, Some("kubectl-gitrollout")),
        row("agent", 2, Some("kubectl-rollout")),
        row("db", 2, Some("kubectl-set")),
        row("b", 2, Some("kubectl-rollout")),
        row("a", 2, Some("kubectl-set")),
    ];
    let doc = run_json(&ns, &["log", "--since-time", &start, "-o", "json"]);
    assert_eq!(rows(&doc), changes);
    let c = &doc["items"][0];
    assert_eq!(c["kind"], "Deployment");
    assert_eq!(c["namespace"], ns.name.as_str());
    assert_eq!(c["revertOf"], 1);
    assert_eq!(
        c["changedImages"],
        json!([{"name": "nginx", "image": "nginx:1.16", "init": false}])
    );
    assert_eq!(doc["items"][1]["summary"], "restart");
    assert_eq!(doc["items"][1]["changedImages"], json!([]));
    assert_eq!(doc["items"][4]["summary"], "nginx 1.16 -> 1.17");

    // The default window, the last day, has the workloads' first revisions too, oldest last;
    // no one can tell who made a revision that is no longer current.
    let day = rows(&run_json(&ns, &["log", "-o", "json"]));
    assert_eq!(day[..5], changes);
    assert_eq!(
        day[5..],
        [
            row("c", 2, None),
            row("agent", 1, None),
            row("db", 1, None),
            row("c", 1, None),
            row("b", 1, None),
            row("a", 1, None),
        ][..],
        "{day:?}"
    );

    // --since cuts between the changes.
    let late = run_json(&ns, &["log", "--since-time", &middle, "-o", "json"]);
    assert_eq!(rows(&late), changes[..3]);
    let recent = run_json(&ns, &["log", "--since", "1h", "-o", "json"]);
    assert_eq!(rows(&recent), day);

    // -l selects the workloads by their labels; a TYPE picks a kind.
    ns.kubectl_ok(&["label", "deployment", "a", "b", "tier=web"]);
    let web = run_json(
        &ns,
        &[
            "log",
            "-l",
            "tier=web",
            "--since-time",
            &start,
            "-o",
            "json",
        ],
    );
    assert_eq!(rows(&web), [changes[3].clone(), changes[4].clone()]);
    let sets = run_json(
        &ns,
        &["log", "sts,ds", "--since-time", &start, "-o", "json"],
    );
    assert_eq!(rows(&sets), changes[1..3]);
    let named = run_json(
        &ns,
        &[
            "log",
            "deploy",
            "a",
            "c",
            "--since-time",
            &start,
            "-o",
            "json",
        ],
    );
    assert_eq!(rows(&named), [changes[0].clone(), changes[4].clone()]);

    // The table says the same, newest first, reverts marked.
    let table = gitrollout(&ns)
        .args(["log", "--since-time", &start])
        .assert()
        .success();
    let table = stdout(&table);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6, "{table}");
    for column in [
        "AGE",
        "WORKLOAD",
        "REVISION",
        "IMAGES",
        "COMMIT",
        "BY",
        "CHANGE-CAUSE",
    ] {
        assert!(lines[0].contains(column), "{table}");
    }
    assert!(
        lines[1].contains("deployment.apps/c")
            && lines[1].contains("3* (revert of 1)")
            && lines[1].contains("kubectl-gitrollout"),
        "{table}"
    );
    assert!(
        lines[2].contains("daemonset.apps/agent") && lines[2].contains("(computed) restart"),
        "{table}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn log_costs_one_paged_list_per_kind() {
    let ns = TestNamespace::new("log-requests").await;
    five_workloads(&ns).await;
    let run = gitrollout(&ns).args(["-v=6", "log"]).assert().success();
    let log = stderr(&run);
    let requests: Vec<&str> = log.lines().filter(|l| l.starts_with("GET ")).collect();
    let resources = [
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "controllerrevisions",
    ];
    assert_eq!(requests.len(), resources.len(), "{log}");
    for (request, resource) in requests.iter().zip(resources) {
        let path = format!("/apis/apps/v1/namespaces/{}/{resource}?", ns.name);
        assert!(
            request.contains(&path) && request.contains("limit=500"),
            "{log}"
        );
    }
    assert_eq!(stdout(&run).lines().count(), 1 + 6, "{}", stdout(&run));

    // history of a selection pages the same way: its workloads, then their ReplicaSets.
    let run = gitrollout(&ns)
        .args(["-v=6", "history", "deploy", "-l", "app=a"])
        .assert()
        .success();
    let log = stderr(&run);
    let requests: Vec<&str> = log.lines().filter(|l| l.starts_with("GET ")).collect();
    assert_eq!(requests.len(), 2, "{log}");
    assert!(requests.iter().all(|r| r.contains("limit=500")), "{log}");

    // A workload that is not there is an error that names it.
    let missing = gitrollout(&ns)
        .args(["log", "deploy/zz"])
        .assert()
        .failure();
    let message = stderr(&missing);
    assert!(message.contains("deployment \"zz\" not found"), "{message}");
    let usage = gitrollout(&ns)
        .args(["log", "deploy/a", "-A"])
        .assert()
        .code(2);
    assert!(
        stderr(&usage).contains("give the TYPE alone"),
        "{}",
        stderr(&usage)
    );
    ns.delete().await;
}

#[tokio::test]
async fn log_watch_prints_a_revision_made_after_it_started() {
    let ns = TestNamespace::new("log-watch").await;
    ns.kubectl_ok(&["create", "deployment", "w", "--image=nginx:1.16"]);
    ns.rollout_status("deployment/w");
    next_second();
    ns.create::<DaemonSet>(workload("DaemonSet", "agent", "nginx:1.16", None))
        .await;
    ns.wait_rollout("agent", daemonset_complete(1)).await;
    next_second();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-gitrollout"))
        .env_clear()
        .env("HOME", ns.home())
        .env("KUBECONFIG", &ns.kubeconfig)
        .args(["-n", &ns.name, "log", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || lines.recv_timeout(Duration::from_secs(60));
    let listed: Vec<String> = (0..3).map_while(|_| next().ok()).collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed[0].contains("WORKLOAD"), "{listed:?}");
    assert!(listed[1].contains("daemonset.apps/agent") && listed[1].contains("1*"));
    assert!(listed[2].contains("deployment.apps/w") && listed[2].contains("1*"));

    // A new ReplicaSet, and a new ControllerRevision, each printed once made.
    ns.kubectl_ok(&["set", "image", "deployment/w", "nginx=nginx:1.17"]);
    let deployment = next();
    ns.kubectl_ok(&["rollout", "restart", "daemonset/agent"]);
    let daemonset = next();
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let made = |line: Result<String, _>| {
        line.unwrap_or_else(|e| panic!("no line for a new revision ({e:?}); stderr: {stderr}"))
    };
    let deployment = made(deployment);
    assert!(
        deployment.contains("deployment.apps/w")
            && deployment.contains("2*")
            && deployment.contains("nginx:1.17")
            && deployment.contains("kubectl-set"),
        "{deployment}"
    );
    let daemonset = made(daemonset);
    assert!(
        daemonset.contains("daemonset.apps/agent")
            && daemonset.contains("2*")
            && daemonset.contains("kubectl-rollout")
            && daemonset.contains("(computed) restart"),
        "{daemonset}"
    );
    ns.delete().await;
}

#[tokio::test]
async fn an_undo_is_on_the_timeline_when_it_was_made() {
    let ns = TestNamespace::new("log-undo").await;
    ns.kubectl_ok(&["create", "deployment", "u", "--image=nginx:1.16"]);
    ns.rollout_status("deployment/u");
    for version in ["1.17", "1.18"] {
        next_second();
        ns.release("deployment/u", &format!("nginx=nginx:{version}"));
    }
    next_second();
    let start = this_second();
    // The controller re-uses revision 2's ReplicaSet, made long before, as revision 4.
    ns.kubectl_ok(&["rollout", "undo", "deployment/u", "--to-revision=2"]);
    ns.rollout_status("deployment/u");
    let doc = run_json(&ns, &["log", "--since-time", &start, "-o", "json"]);
    // kubectl's undo sends its patch without a field manager: the server names the writer
    // after kubectl's user agent.
    assert_eq!(rows(&doc), [row("u", 4, Some("kubectl"))]);
    assert_eq!(doc["items"][0]["images"][0]["image"], "nginx:1.17");
    let table = gitrollout(&ns)
        .args(["log", "--since-time", &start])
        .assert()
        .success();
    assert!(stdout(&table).contains("4* (was 2)"), "{}", stdout(&table));
    ns.delete().await;
}

/// CI's `apply` on the timeline: a release applied, one made by hand, then the `git revert` of
/// the applied one applied: the revert is a revision of its own, made by `kubectl-gitrollout`,
/// marked as the revert and traced to the revert commit.
#[tokio::test]
async fn an_apply_is_on_the_timeline_with_its_commit() {
    let ns = TestNamespace::new("log-apply").await;
    let repo = gitrollout_tests::git::GitRepo::new();
    let manifest = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    \
             matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    \
             spec:\n      containers:\n      - name: nginx\n        image: {image}\n"
        )
    };
    let (file, dir) = (
        repo.path().join("app.yaml").display().to_string(),
        repo.path().display().to_string(),
    );
    let apply = |ns: &TestNamespace| {
        gitrollout(ns)
            .args([
                "apply", "-f", &file, "--commit", "HEAD", "--repo", &dir, "--wait",
            ])
            .assert()
            .success();
    };
    repo.commit("app.yaml", &manifest("nginx:1.16"), "Release 1.16");
    apply(&ns);
    next_second();
    repo.commit("app.yaml", &manifest("nginx:1.17"), "Release 1.17");
    apply(&ns);
    next_second();
    repo.git(&["revert", "--no-edit", "HEAD"]);
    let revert = repo.git(&["rev-parse", "HEAD"]);
    apply(&ns);

    let doc = run_json(&ns, &["log", "deploy/web", "-o", "json", "--repo", &dir]);
    assert_eq!(
        rows(&doc),
        [
            row("web", 3, Some("kubectl-gitrollout")),
            row("web", 2, None),
            row("web", 1, None),
        ]
    );
    let newest = &doc["items"][0];
    assert_eq!(newest["revertOf"], 1);
    assert_eq!(newest["commit"]["sha"], revert.as_str());
    assert!(
        newest["changeCause"]
            .as_str()
            .unwrap()
            .starts_with("Revert \"Release 1.17\""),
        "{newest:#}"
    );
    ns.delete().await;
}
