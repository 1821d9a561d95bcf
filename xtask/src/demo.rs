//! `cargo xtask demo`: the 2 AM story, played with real kubectl on the local control plane.

use std::process::Command;

use anyhow::Result;

use crate::cluster::Running;
use crate::run_checked;

const NAMESPACE: &str = "gitrollout-demo";

pub fn run(cluster: &Running) -> Result<()> {
    // Commands in the story's namespace; the namespace itself is made with `namespaced: false`.
    let run = |args: &str, namespaced: bool| -> Result<()> {
        println!("\n$ kubectl {args}");
        let mut cmd = Command::new(cluster.bin.path("kubectl"));
        cmd.env("KUBECONFIG", &cluster.kubeconfig);
        if namespaced {
            cmd.args(["--namespace", NAMESPACE]);
        }
        run_checked(cmd.args(args.split_whitespace()))
    };
    let kubectl = |args: &str| run(args, true);
    let say = |text: &str| println!("\n# {text}");

    say("a fresh namespace for the story");
    run(
        &format!("delete namespace {NAMESPACE} --ignore-not-found --wait"),
        false,
    )?;
    run(&format!("create namespace {NAMESPACE}"), false)?;

    say("deploy team-app on nginx:1.16, scale it to 10, release 1.17, then 1.18");
    kubectl("create deployment team-app --image=nginx:1.16")?;
    kubectl("rollout status deployment/team-app")?;
    kubectl("scale deployment/team-app --replicas=10")?;
    kubectl("rollout status deployment/team-app")?;
    for version in ["1.17", "1.18"] {
        kubectl(&format!(
            "set image deployment/team-app nginx=nginx:{version}"
        ))?;
        kubectl("rollout status deployment/team-app")?;
    }

    say("2 AM: payments fail on 1.18. What ran when? The history cannot say");
    kubectl("rollout history deployment/team-app")?;

    say("back to revision 2 (nginx:1.17) the only way kubectl knows");
    kubectl("rollout undo deployment/team-app --to-revision 2")?;
    kubectl("rollout status deployment/team-app")?;

    say("revision 2 is gone: its ReplicaSet now carries revision 4, the record is rewritten");
    kubectl("rollout history deployment/team-app")?;
    kubectl(
        "get replicasets -o custom-columns=NAME:.metadata.name,\
         REVISION:.metadata.annotations.deployment\\.kubernetes\\.io/revision,\
         REVISION-HISTORY:.metadata.annotations.deployment\\.kubernetes\\.io/revision-history,\
         IMAGE:.spec.template.spec.containers[0].image,READY:.status.readyReplicas",
    )?;
    Ok(())
}
