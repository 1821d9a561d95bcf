//! Waiting watches instead of polling: the requests a revert that waits makes, on the local
//! control plane.

use crate::common::{gitrollout, revisions_of, run_json, stderr, stdout};
use gitrollout_tests::{TestNamespace, play_deployment_story};

/// The API requests a `-v=6` run logged, without their timings.
fn requests(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.starts_with("GET ") || l.starts_with("PATCH ") || l.starts_with("PUT "))
        .map(|l| l.split(" 200 ").next().unwrap_or(l).to_owned())
        .collect()
}

#[tokio::test]
async fn a_revert_that_waits_watches_instead_of_polling() {
    let ns = TestNamespace::new("watch-requests").await;
    play_deployment_story(&ns);

    let run = gitrollout(&ns)
        .args(["-v=6", "revert", "deploy/team-app", "--to-revision", "2"])
        .args(["--wait", "--timeout", "120s"])
        .assert()
        .success();
    assert_eq!(
        stdout(&run),
        "deployment.apps/team-app reverted to revision 2 as revision 4\n"
    );
    let log = stderr(&run);
    assert!(
        log.contains("deployment.apps/team-app successfully rolled out"),
        "{log}"
    );
    let made = requests(&log);
    // GET and LIST to plan, the PATCH, a LIST and WATCH of the Deployment until the controller
    // observed the write, a LIST of ReplicaSets to find the revision it made, and a LIST and WATCH
    // until the rollout completes; a poll would have made one GET per 250 ms.
    assert!(
        made.len() <= 15,
        "{} requests:\n{}",
        made.len(),
        made.join("\n")
    );
    let watches = made.iter().filter(|r| r.contains("watch=true")).count();
    assert!(watches >= 1, "{}", made.join("\n"));
    let patches = made.iter().filter(|r| r.starts_with("PATCH ")).count();
    assert_eq!(patches, 1, "{}", made.join("\n"));

    // The revision it reported is the current one as soon as the command returns.
    let doc = run_json(&ns, &["history", "deploy/team-app", "-o", "json"]);
    let images = |v: &str| format!("nginx:{v}");
    assert_eq!(
        revisions_of(&doc),
        [
            (1, images("1.16"), false),
            (2, images("1.17"), false),
            (3, images("1.18"), false),
            (4, images("1.17"), true),
        ]
    );
    ns.delete().await;
}
