//! Faults between the plugin and the real control plane, injected by a proxy that drops or
//! stalls one request: whatever happens, the user is told truthfully whether the revert landed,
//! and the workload is never half-changed.

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::proxy::{Fault, FaultProxy, Trigger};
use gitrollout_tests::{TestNamespace, play_deployment_story};
use http::Method;

/// The story's Deployment (revisions 1-3, on 1.18), and a proxy in front of the cluster.
async fn story_behind(test: &str, trigger: Trigger) -> (TestNamespace, FaultProxy) {
    let ns = TestNamespace::new(test).await;
    play_deployment_story(&ns);
    let proxy = FaultProxy::start(ns.client.clone(), trigger)
        .await
        .expect("a proxy");
    (ns, proxy)
}

/// `revert deploy/team-app --to-revision 2` through the proxy.
fn revert_through(
    ns: &TestNamespace,
    proxy: &FaultProxy,
    extra: &[&str],
) -> assert_cmd::assert::Assert {
    gitrollout(ns)
        .env("KUBECONFIG", &proxy.kubeconfig)
        .args(["revert", "deploy/team-app", "--to-revision", "2"])
        .args(extra)
        .assert()
}

/// (revision, image, current) of every revision, read directly from the cluster.
fn revisions(ns: &TestNamespace) -> Vec<(u64, String, bool)> {
    revisions_of(&run_json(ns, &["history", "deploy/team-app", "-o", "json"]))
}

/// The revisions once there are `count` of them and the controller has marked one current.
async fn settled(ns: &TestNamespace, count: usize) -> Vec<(u64, String, bool)> {
    for _ in 0..120 {
        let now = revisions(ns);
        if now.len() >= count && now.iter().any(|r| r.2) {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    revisions(ns)
}

fn story(current: u64) -> Vec<(u64, String, bool)> {
    [(1, "1.16"), (2, "1.17"), (3, "1.18")]
        .into_iter()
        .map(|(n, v)| (n, format!("nginx:{v}"), n == current))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_dropped_before_the_server_was_not_applied() {
    let trigger = Trigger::first(Method::PATCH, Fault::DropBefore);
    let (ns, proxy) = story_behind("fault-drop-before", trigger).await;
    let run = revert_through(&ns, &proxy, &[]).code(1);
    let err = stderr(&run);
    assert!(
        err.contains("the revert was not applied; nothing was changed")
            && err.contains("hint: check with `kubectl gitrollout history deployment/team-app`"),
        "{err}"
    );
    assert!(stdout(&run).is_empty());
    assert_eq!(revisions(&ns), story(3));
    ns.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_whose_answer_was_dropped_was_applied() {
    let trigger = Trigger::first(Method::PATCH, Fault::DropAfter);
    let (ns, proxy) = story_behind("fault-drop-after", trigger).await;
    let run = revert_through(&ns, &proxy, &[]).code(1);
    let err = stderr(&run);
    assert!(err.contains("the revert was applied"), "{err}");
    assert!(!err.contains("not applied"), "{err}");
    // Exactly one new revision, with revision 2's content: written once, never twice.
    let ns_revisions = settled(&ns, 4).await;
    let mut expected = story(0);
    expected.push((4, "nginx:1.17".into(), true));
    assert_eq!(ns_revisions, expected);
    ns.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_patch_past_the_request_timeout_was_applied() {
    let trigger = Trigger::first(Method::PATCH, Fault::Stall);
    let (ns, proxy) = story_behind("fault-stall", trigger).await;
    let run = revert_through(&ns, &proxy, &["--request-timeout", "2s"]).code(1);
    let err = stderr(&run);
    assert!(err.contains("the revert was applied"), "{err}");
    let mut expected = story(0);
    expected.push((4, "nginx:1.17".into(), true));
    assert_eq!(settled(&ns, 4).await, expected);
    ns.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_dropped_after_the_patch_is_retried_and_the_revert_reported() {
    let trigger = Trigger::first_after(Method::GET, Method::PATCH, Fault::DropBefore);
    let (ns, proxy) = story_behind("fault-read-after", trigger).await;
    let run = revert_through(&ns, &proxy, &[]).success();
    assert_eq!(
        stdout(&run),
        "deployment.apps/team-app reverted to revision 2 as revision 4\n"
    );
    let hit: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with('!'))
        .collect();
    assert_eq!(hit.len(), 1, "{:?}", proxy.requests());
    assert!(hit[0].starts_with("!GET "), "{hit:?}");
    let mut expected = story(0);
    expected.push((4, "nginx:1.17".into(), true));
    assert_eq!(revisions(&ns), expected);
    ns.delete().await;
}

/// `record` after its one write lost its answer: it says whether the commit was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_whose_answer_was_dropped_says_it_was_written() {
    let trigger = Trigger::first(Method::PATCH, Fault::DropAfter);
    let (ns, proxy) = story_behind("fault-record", trigger).await;
    let repo = gitrollout_tests::git::GitRepo::new();
    let sha = repo.commit("app.yaml", "kind: Deployment\n", "Release nginx 1.18");
    let run = gitrollout(&ns)
        .env("KUBECONFIG", &proxy.kubeconfig)
        .args(["record", "deploy/team-app", "--commit", &sha])
        .args(["--repo", &repo.path().display().to_string()])
        .assert()
        .code(1);
    let err = stderr(&run);
    assert!(
        err.contains("lost the answer") && err.contains("was written; nothing was written before"),
        "{err}"
    );
    let repo_arg = repo.path().display().to_string();
    let doc = run_json(
        &ns,
        &[
            "history",
            "deploy/team-app",
            "-o",
            "json",
            "--repo",
            &repo_arg,
        ],
    );
    let current = &doc["revisions"][2];
    assert_eq!(current["commit"]["sha"], sha.as_str(), "{doc}");
    ns.delete().await;
}

/// Six reverts at once: each is told the truth about its own revert, and no revision is lost.
#[tokio::test]
async fn concurrent_reverts_each_tell_the_truth() {
    let ns = TestNamespace::new("fault-concurrent").await;
    play_deployment_story(&ns);
    let targets = ["1", "2", "1", "2", "1", "2"];
    let runs: Vec<_> = targets
        .iter()
        .map(|target| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-gitrollout"));
            cmd.env_clear()
                .env("HOME", ns.home())
                .env("KUBECONFIG", &ns.kubeconfig)
                .args([
                    "-n",
                    &ns.name,
                    "revert",
                    "deploy/team-app",
                    "--to-revision",
                    target,
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().map(|child| (*target, child))
        })
        .collect::<Result<_, _>>()
        .expect("the reverts start");
    let mut reported = Vec::new();
    for (target, child) in runs {
        let output = child.wait_with_output().expect("a revert ends");
        let (out, err) = (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        let prefix = format!("deployment.apps/team-app reverted to revision {target} as revision ");
        match output.status.code() {
            Some(0) => {
                let made: u64 = out
                    .trim()
                    .strip_prefix(&prefix)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected success message: {out}"));
                reported.push((made, target));
            }
            Some(1) => assert!(
                err.contains("a newer change replaced it")
                    || err.contains("kept changing while reverting")
                    || err.contains("nothing to revert"),
                "an untrue or unclear failure: {err}"
            ),
            code => panic!("exit {code:?}: {err}"),
        }
    }
    assert!(!reported.is_empty(), "no revert went through");
    let history = settled(&ns, 3 + reported.len()).await;
    let numbers: Vec<u64> = history.iter().map(|r| r.0).collect();
    let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
    assert_eq!(numbers, expected, "a revision was lost");
    for (made, target) in reported {
        let image = if target == "1" {
            "nginx:1.16"
        } else {
            "nginx:1.17"
        };
        let revision = history.iter().find(|r| r.0 == made);
        assert_eq!(revision.map(|r| r.1.as_str()), Some(image), "{history:?}");
    }
    ns.delete().await;
}

/// `record` needs two writes when the Deployment has a cause of its own; an identity that may
/// make only the first gets a refusal, and nothing is written at all.
#[tokio::test]
async fn a_record_refused_halfway_writes_nothing() {
    let ns = TestNamespace::new("fault-record-rbac").await;
    play_deployment_story(&ns);
    ns.kubectl_ok(&[
        "annotate",
        "deploy/team-app",
        "kubernetes.io/change-cause=release 1.18",
    ]);
    ns.kubectl_ok(&["create", "serviceaccount", "recorder"]);
    for (role, verbs, resource) in [
        (
            "read",
            "--verb=get,list,watch",
            "--resource=deployments.apps,replicasets.apps",
        ),
        ("annotate", "--verb=patch", "--resource=replicasets.apps"),
    ] {
        ns.kubectl_ok(&["create", "role", role, verbs, resource]);
        let account = format!("--serviceaccount={}:recorder", ns.name);
        let role_ref = format!("--role={role}");
        ns.kubectl_ok(&["create", "rolebinding", role, &role_ref, &account]);
    }
    let kubeconfig = ns.token_kubeconfig("recorder");
    let repo = gitrollout_tests::git::GitRepo::new();
    let sha = repo.commit("app.yaml", "kind: Deployment\n", "Release nginx 1.18");
    let repo_arg = repo.path().display().to_string();

    let err = gitrollout_tests::output::failure(
        gitrollout(&ns).env("KUBECONFIG", kubeconfig.path()).args([
            "record",
            "deploy/team-app",
            "--commit",
            &sha,
            "--repo",
            &repo_arg,
        ]),
        1,
    );
    assert!(
        err.contains("forbidden: RBAC does not allow patch on deployments.apps")
            && err.contains("nothing was recorded"),
        "{err}"
    );
    let doc = run_json(
        &ns,
        &[
            "history",
            "deploy/team-app",
            "-o",
            "json",
            "--repo",
            &repo_arg,
        ],
    );
    assert_eq!(
        doc["revisions"][2]["commit"],
        serde_json::Value::Null,
        "{doc}"
    );
    assert_eq!(doc["revisions"][2]["changeCause"], "release 1.18", "{doc}");
    ns.delete().await;
}
