//! Developer tasks for kubectl-gitrollout: `cargo xtask <task>`.
//!
//! Every path is relative to the workspace root, so the tasks work from any directory.
//!
//! What the release workflow runs on every platform it builds on (Linux, macOS, Windows) is
//! portable: `dist` and the krew manifest (`dist.rs`, `krew.rs`); so is `gitops build`
//! (`gitops.rs`), which builds helm and writes CRDs for the tests. The local control plane and the
//! tasks that need it (`cluster`, `test`, `demo`, `fixtures`, `krew-test`) run processes in their
//! own process groups and signal them, so they are compiled on Unix only, and on other platforms
//! those tasks fail with an error that says so.

mod dist;
mod gitops;
mod gotool;
mod krew;

#[cfg(unix)]
mod cluster;
#[cfg(unix)]
mod controlplane;
#[cfg(unix)]
mod demo;
#[cfg(unix)]
mod fixtures;
#[cfg(unix)]
mod krew_test;
#[cfg(unix)]
mod openapi;
#[cfg(unix)]
mod pin;
#[cfg(unix)]
mod process;
#[cfg(unix)]
mod standin;
#[cfg(unix)]
mod workspace_test;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[cfg(unix)]
use cluster::with_cluster;

/// The Kubernetes minor the project is developed and fully tested on.
const MAIN_KUBERNETES: &str = "v1.36";

/// Which pinned Kubernetes release a task runs.
#[derive(Debug, clap::Args)]
struct Kubernetes {
    /// A pinned minor (v1.34, v1.36, v1.37), which picks the release pinned for it, or that
    /// exact release (v1.34.4)
    #[arg(long = "kubernetes", value_name = "VERSION", default_value = MAIN_KUBERNETES)]
    version: String,
}

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
    /// Start the local control plane if needed, run every test of the workspace, the krew
    /// install test and the unreferenced-snapshot check, stop what was started
    Test {
        #[command(flatten)]
        kubernetes: Kubernetes,
        /// Only what runs on the control plane: the plugin's end-to-end tests, the controllers'
        /// tests, the OpenAPI table check and the krew install test
        #[arg(long, conflicts_with = "cargo_args")]
        e2e: bool,
        /// Arguments passed on to `cargo test`, e.g. `-- --nocapture`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_args: Vec<String>,
    },
    /// Play the 2 AM story on the local control plane, with kubectl and the plugin
    Demo {
        /// Leave the control plane running afterwards, to look around
        #[arg(long)]
        keep: bool,
    },
    /// Capture the API objects the unit tests use from the local control plane
    Fixtures {
        /// Capture only these scenarios (default: all), leaving the other fixtures as they are
        #[arg(value_name = "SCENARIO")]
        only: Vec<String>,
    },
    /// Regenerate rollout-core's merge-key table from the local control plane's OpenAPI schema
    Openapi {
        /// Fail if the checked-in table differs from this release's schema instead of writing it
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        kubernetes: Kubernetes,
    },
    /// Build release archives for krew into target/dist and write krew-manifest.yaml
    Dist {
        /// Rust target to build for, repeatable (default: this machine's)
        #[arg(long = "target", value_name = "TRIPLE")]
        targets: Vec<String>,
        /// Write krew-manifest.yaml from the six archives in target/dist, building nothing
        #[arg(long, conflicts_with_all = ["targets", "check"])]
        manifest_only: bool,
        /// Check that krew-manifest.yaml is valid for krew, up to date, and matches target/dist
        #[arg(long, conflicts_with = "targets")]
        check: bool,
    },
    /// Install the plugin with krew from its release archive and use it through kubectl
    KrewTest,
    /// Build what the tests of Helm, Argo CD and Flux objects use, from pinned Go modules
    Gitops {
        #[command(subcommand)]
        action: GitopsAction,
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
    Build {
        #[command(flatten)]
        kubernetes: Kubernetes,
    },
    /// Start the control plane (or reuse the running one) and print `export KUBECONFIG=<path>`
    Up {
        #[command(flatten)]
        kubernetes: Kubernetes,
    },
    /// Stop the processes `cluster up` started
    Down,
    /// Say which components run, with their pids and logs
    Status,
    /// Pin a Kubernetes release: write xtask/controlplane/<minor>/ from the release's go.mod
    Pin {
        /// The exact release, e.g. v1.37.2
        #[arg(required_unless_present = "check", conflicts_with = "check")]
        version: Option<String>,
        /// Check that every pinned module is what its release's go.mod gives, writing nothing
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, Subcommand)]
enum GitopsAction {
    /// Build helm into target/helm/<version>/ and write the Argo CD and Flux CRDs into
    /// target/crds/ (once per version), and print the variables the tests read them from
    Build,
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
        #[cfg(unix)]
        Task::Cluster { action } => {
            match action {
                ClusterAction::Build { kubernetes } => {
                    controlplane::ensure_built(&root, &kubernetes.pinned(&root)?)?;
                }
                ClusterAction::Up { kubernetes } => {
                    let running = cluster::up(&root, &kubernetes.pinned(&root)?)?;
                    println!("export KUBECONFIG={}", running.kubeconfig.display());
                }
                ClusterAction::Down => cluster::down(&root)?,
                ClusterAction::Status => cluster::status(&root)?,
                ClusterAction::Pin { check: true, .. } => pin::check(&root)?,
                ClusterAction::Pin { version, .. } => {
                    pin::pin(&root, &version.context("name the release to pin")?)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(unix)]
        Task::Test {
            kubernetes,
            e2e,
            cargo_args,
        } => {
            let pinned = kubernetes.pinned(&root)?;
            workspace_test::run(&root, &pinned, e2e, &cargo_args)
        }
        #[cfg(unix)]
        Task::Demo { keep } => {
            let main = Kubernetes::main().pinned(&root)?;
            with_cluster(&root, &main, keep, |running| demo::run(&root, running))?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(unix)]
        Task::Fixtures { only } => {
            let main = Kubernetes::main().pinned(&root)?;
            with_cluster(&root, &main, false, |running| {
                fixtures::run(&root, running, &only)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(unix)]
        Task::Openapi { check, kubernetes } => {
            let pinned = kubernetes.pinned(&root)?;
            with_cluster(&root, &pinned, false, |running| {
                openapi::run(&root, running, check)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Dist {
            targets,
            manifest_only,
            check,
        } => {
            let mode = if check {
                dist::Mode::Check
            } else if manifest_only {
                dist::Mode::ManifestOnly
            } else {
                dist::Mode::Build { targets }
            };
            dist::run(&root, mode)?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(unix)]
        Task::KrewTest => {
            let main = Kubernetes::main().pinned(&root)?;
            with_cluster(&root, &main, false, |running| {
                krew_test::run(&root, running)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Gitops {
            action: GitopsAction::Build,
        } => {
            let built = gitops::build(&root)?;
            println!("export {}={}", gitops::HELM_VAR, built.helm.display());
            println!("export {}={}", gitops::CRDS_VAR, built.crds.display());
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(unix)]
        Task::KubeletStandin { kubeconfig } => {
            standin::run(&kubeconfig)?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(not(unix))]
        _ => bail!(
            "`cargo xtask {}` runs the local control plane, which needs Linux or macOS; on this \
             platform xtask runs `cargo xtask dist` only",
            std::env::args().nth(1).unwrap_or_default()
        ),
    }
}

#[cfg(unix)]
impl Kubernetes {
    fn main() -> Self {
        Kubernetes {
            version: MAIN_KUBERNETES.to_owned(),
        }
    }

    fn pinned(&self, root: &Path) -> Result<controlplane::Pinned> {
        controlplane::pinned(root, &self.version)
    }
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
