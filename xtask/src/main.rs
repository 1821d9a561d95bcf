//! Developer tasks for kubectl-gitrollout: `cargo xtask <task>`.
//!
//! Every path is relative to the workspace root, so the tasks work from any directory.

mod cluster;
mod controlplane;
mod demo;
mod process;
mod standin;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Developer tasks for kubectl-gitrollout")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run a local throwaway control plane (etcd, kube-apiserver, kube-controller-manager)
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Start the local control plane if needed, run every test of the workspace, stop what was started
    Test {
        /// Arguments passed on to `cargo test`, e.g. `-- --nocapture`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_args: Vec<String>,
    },
    /// Play the 2 AM story on the local control plane with real kubectl
    Demo {
        /// Leave the control plane running afterwards, to look around
        #[arg(long)]
        keep: bool,
    },
    /// Mark pods Ready in place of a kubelet (started by `cluster up`)
    #[command(hide = true)]
    KubeletStandin {
        #[arg(long)]
        kubeconfig: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterAction {
    /// Build the pinned control plane binaries into target/ (once per version)
    Build,
    /// Start the control plane (or reuse the running one) and print `export KUBECONFIG=<path>`
    Up,
    /// Stop the processes `cluster up` started
    Down,
    /// Say which components run, with their pids and logs
    Status,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let root = workspace_root();
    match cli.task {
        Task::Cluster { action } => {
            match action {
                ClusterAction::Build => {
                    controlplane::ensure_built(&root)?;
                }
                ClusterAction::Up => {
                    let running = cluster::up(&root)?;
                    println!("export KUBECONFIG={}", running.kubeconfig.display());
                }
                ClusterAction::Down => cluster::down(&root)?,
                ClusterAction::Status => cluster::status(&root)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Task::Test { cargo_args } => test(&root, &cargo_args),
        Task::Demo { keep } => {
            with_cluster(&root, keep, demo::run)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::KubeletStandin { kubeconfig } => {
            standin::run(&kubeconfig)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `cargo test` over the whole workspace against the local control plane.
fn test(root: &Path, cargo_args: &[String]) -> Result<ExitCode> {
    with_cluster(root, false, |running| {
        let status = Command::new(env_or("CARGO", "cargo"))
            .current_dir(root)
            .args(["test", "--workspace", "--locked"])
            .args(cargo_args)
            .env("KUBECONFIG", &running.kubeconfig)
            .status()
            .context("could not run cargo test")?;
        Ok(if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// Runs `f` with the local control plane up, and stops it afterwards (even when `f` fails) if this
/// call is the one that started it and `keep` is false.
fn with_cluster<T>(
    root: &Path,
    keep: bool,
    f: impl FnOnce(&cluster::Running) -> Result<T>,
) -> Result<T> {
    let running = cluster::up(root)?;
    let result = f(&running);
    if running.started_here
        && !keep
        && let Err(err) = cluster::down(root)
    {
        eprintln!("warning: could not stop the local control plane: {err:#}");
    }
    result
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// Runs a command to completion and fails with its name when it does not succeed.
fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
