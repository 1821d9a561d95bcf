//! `cargo xtask demo`: the 2 AM story on the local control plane, with real kubectl, real git and
//! the plugin found through kubectl's plugin discovery. Act one goes back with `revert`; act two
//! plays the pledge through git: releases and a `git revert` applied as CI applies them.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::cluster::Running;
use crate::{env_or, run_checked};

const NAMESPACE: &str = "gitrollout-demo";
const GIT_NAMESPACE: &str = "gitrollout-demo-git";

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
    let repo = tempfile::tempdir().context("could not make the demo's git repository")?;
    let demo = Demo {
        cluster,
        path,
        repo: repo.path(),
    };
    demo.story()?;
    demo.pledge()
}

struct Demo<'a> {
    cluster: &'a Running,
    path: OsString,
    /// The git repository of act two, where its commands run.
    repo: &'a Path,
}

impl Demo<'_> {
    fn say(&self, text: &str) {
        println!("\n# {text}");
    }

    /// `kubectl ARGS`, in `namespace` when given (last: kubectl takes no flags before a plugin's
    /// name), in the git repository.
    fn kubectl_in(&self, namespace: Option<&str>, args: &str) -> Result<()> {
        println!("\n$ kubectl {args}");
        let mut cmd = Command::new(self.cluster.bin.path("kubectl"));
        cmd.env("KUBECONFIG", &self.cluster.kubeconfig)
            .env("PATH", &self.path)
            .current_dir(self.repo)
            .args(args.split_whitespace());
        if let Some(namespace) = namespace {
            cmd.args(["--namespace", namespace]);
        }
        run_checked(&mut cmd)
    }

    fn fresh_namespace(&self, namespace: &str) -> Result<()> {
        self.say("a fresh namespace for the story");
        self.kubectl_in(
            None,
            &format!("delete namespace {namespace} --ignore-not-found --wait"),
        )?;
        self.kubectl_in(None, &format!("create namespace {namespace}"))
    }

    fn story(&self) -> Result<()> {
        let kubectl = |args: &str| self.kubectl_in(Some(NAMESPACE), args);
        self.fresh_namespace(NAMESPACE)?;
        self.say("deploy team-app on nginx:1.16, scale it to 10, release 1.17, then 1.18");
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

        self.say("2 AM: payments fail on 1.18. What ran when?");
        kubectl("gitrollout history deployment/team-app")?;

        self.say("what would going back to revision 2 change?");
        kubectl("gitrollout revert deployment/team-app --to-revision 2 --dry-run")?;

        self.say("go back: the revert is a new revision, revision 2 keeps its number");
        kubectl("gitrollout revert deployment/team-app --to-revision 2 --wait")?;
        kubectl("gitrollout history deployment/team-app")?;

        self.say("kubectl's own history agrees, and says why revision 4 exists");
        kubectl("rollout history deployment/team-app")
    }

    /// `git ARGS` in the repository, as the demo's author.
    fn git(&self, args: &[&str]) -> Result<()> {
        println!("\n$ git {}", args.join(" "));
        run_checked(
            Command::new("git")
                .current_dir(self.repo)
                .env("GIT_AUTHOR_NAME", "Demo")
                .env("GIT_AUTHOR_EMAIL", "demo@example.com")
                .env("GIT_COMMITTER_NAME", "Demo")
                .env("GIT_COMMITTER_EMAIL", "demo@example.com")
                .args(args),
        )
    }

    /// Writes and commits the manifest of release `version`.
    fn release(&self, version: &str) -> Result<()> {
        let manifest = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: team-app\nspec:\n  \
             replicas: 10\n  selector:\n    matchLabels: {{app: team-app}}\n  template:\n    \
             metadata:\n      labels: {{app: team-app}}\n    spec:\n      containers:\n      - \
             name: nginx\n        image: nginx:{version}\n"
        );
        println!("\n# deploy/team-app.yaml: image nginx:{version}");
        std::fs::write(self.repo.join("deploy/team-app.yaml"), manifest)?;
        self.git(&["add", "deploy/team-app.yaml"])?;
        self.git(&[
            "commit",
            "--quiet",
            "-m",
            &format!("Release nginx {version}"),
        ])
    }

    /// Act two: CI applies each commit; the `git revert` of 1.18 becomes a revert of revision 2.
    fn pledge(&self) -> Result<()> {
        let kubectl = |args: &str| self.kubectl_in(Some(GIT_NAMESPACE), args);
        let apply = "gitrollout apply -f deploy/team-app.yaml --commit HEAD --wait";
        println!("\n# act two: the same story through git, CI running `kubectl {apply}`");
        self.fresh_namespace(GIT_NAMESPACE)?;
        self.git(&["init", "--quiet", "--initial-branch", "main"])?;
        std::fs::create_dir_all(self.repo.join("deploy"))?;
        for version in ["1.16", "1.17", "1.18"] {
            self.release(version)?;
            kubectl(apply)?;
        }

        self.say("2 AM again: revert the release in git, and CI applies the revert commit");
        self.git(&["revert", "--no-edit", "HEAD"])?;
        kubectl("gitrollout apply -f deploy/team-app.yaml --commit HEAD --dry-run")?;
        kubectl(apply)?;

        self.say("revision 2 keeps its number and commit; revision 4 reverts it, from the revert");
        kubectl("gitrollout history deployment/team-app --path deploy/team-app.yaml")?;
        kubectl("rollout history deployment/team-app")
    }
}
