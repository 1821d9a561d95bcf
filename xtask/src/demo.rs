//! `cargo xtask demo`: the 2 AM story on the local control plane, with real kubectl and the plugin
//! found through kubectl's plugin discovery.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::cluster::Running;
use crate::{env_or, run_checked};

const NAMESPACE: &str = "gitrollout-demo";

pub fn run(root: &Path, cluster: &Running) -> Result<()> {
    run_checked(
        Command::new(env_or("CARGO", "cargo"))
            .current_dir(root)
            .args(["build", "--quiet", "--package", "kubectl-gitrollout"]),
    )?;
    // kubectl finds `kubectl-gitrollout` on PATH and runs it for `kubectl gitrollout`.
    let mut path = OsString::from(root.join("target/debug"));
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());

    // Commands in the story's namespace; the namespace itself is made with `namespaced: false`.
    let run = |args: &str, namespaced: bool| -> Result<()> {
        println!("\n$ kubectl {args}");
        let mut cmd = Command::new(cluster.bin.path("kubectl"));
        cmd.env("KUBECONFIG", &cluster.kubeconfig)
            .env("PATH", &path)
            .args(args.split_whitespace());
        // Last: kubectl takes no flags before a plugin's name.
        if namespaced {
            cmd.args(["--namespace", NAMESPACE]);
        }
        run_checked(&mut cmd)
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

    say("2 AM: payments fail on 1.18. What ran when?");
    kubectl("gitrollout history deployment/team-app")?;

    say("what would going back to revision 2 change?");
    kubectl("gitrollout revert deployment/team-app --to-revision 2 --dry-run")?;

    say("go back: the revert is a new revision, revision 2 keeps its number");
    kubectl("gitrollout revert deployment/team-app --to-revision 2 --wait")?;
    kubectl("gitrollout history deployment/team-app")?;

    say("kubectl's own history agrees, and says why revision 4 exists");
    kubectl("rollout history deployment/team-app")?;
    Ok(())
}
