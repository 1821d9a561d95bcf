//! Developer tasks for kubectl-gitrollout: `cargo xtask <task>`.
//!
//! Every path is relative to the workspace root, so the tasks work from any directory.

mod cluster;
mod controlplane;
mod demo;
mod dist;
mod fixtures;
mod krew;
mod krew_test;
mod openapi;
mod process;
mod standin;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

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
    /// Start the local control plane if needed, run every test of the workspace and the krew
    /// install test, stop what was started
    Test {
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
        /// Fail if the checked-in table is out of date instead of writing it
        #[arg(long)]
        check: bool,
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
            with_cluster(&root, keep, |running| demo::run(&root, running))?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Fixtures { only } => {
            with_cluster(&root, false, |running| fixtures::run(&root, running, &only))?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Openapi { check } => {
            openapi::run(&root, check)?;
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
        Task::KrewTest => {
            with_cluster(&root, false, |running| krew_test::run(&root, running))?;
            Ok(ExitCode::SUCCESS)
        }
        Task::KubeletStandin { kubeconfig } => {
            standin::run(&kubeconfig)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `cargo test` over the whole workspace against the local control plane, then the krew
/// install test (`krew-test`) as one more test, and ends with one line that sums up all results.
fn test(root: &Path, cargo_args: &[String]) -> Result<ExitCode> {
    with_cluster(root, false, |running| {
        let mut child = Command::new(env_or("CARGO", "cargo"))
            .current_dir(root)
            .args(["test", "--workspace", "--locked", "--no-fail-fast"])
            .args(cargo_args)
            .env("GITROLLOUT_TEST_KUBECONFIG", &running.kubeconfig)
            .stdout(Stdio::piped())
            .spawn()
            .context("could not run cargo test")?;
        let stdout = child.stdout.take().context("cargo test has no stdout")?;
        let mut totals = TestCounts::default();
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            totals.add_summary(&line);
        }
        let status = child.wait()?;
        match krew_test::run(root, running) {
            Ok(()) => totals.passed += 1,
            Err(err) => {
                eprintln!("error: the krew install test failed: {err:#}");
                totals.failed += 1;
            }
        }
        println!(
            "tests: {} passed, {} failed, {} skipped",
            totals.passed, totals.failed, totals.ignored
        );
        if totals.passed == 0 {
            eprintln!("error: no test ran");
            return Ok(ExitCode::FAILURE);
        }
        Ok(if status.success() && totals.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// Test counts summed over `cargo test`'s `test result:` lines.
#[derive(Debug, Default, PartialEq)]
struct TestCounts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestCounts {
    /// Adds the counts of a line like `test result: ok. 4 passed; 0 failed; 1 ignored; ...`.
    fn add_summary(&mut self, line: &str) {
        let Some(counts) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in counts.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(number)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_cargo_test_results() {
        let mut counts = TestCounts::default();
        for line in [
            "test result: ok. 4 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; \
             finished in 16.39s",
            "running 4 tests",
            "test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out",
        ] {
            counts.add_summary(line);
        }
        assert_eq!(
            counts,
            TestCounts {
                passed: 6,
                failed: 3,
                ignored: 1
            }
        );
    }
}
