//! `cargo xtask test`: every test of the workspace on the local control plane, then the krew
//! install test and the check that every insta snapshot file is one a test asserts, summed up in
//! one line.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result};

use crate::cluster::with_cluster;
use crate::controlplane::Pinned;
use crate::{env_or, gitops, krew_test, openapi};

/// Runs `cargo test` over the whole workspace against the local control plane of `pinned`, then
/// the krew install test (`krew-test`) and the unreferenced-snapshot check as one more test each,
/// and ends with one line that sums up all results. With `e2e`, only the tests that run on the
/// control plane (the plugin's `*_e2e` modules, the controllers' tests) and the krew test. The
/// tests get the helm and the CRDs `cargo xtask gitops build` makes.
pub fn run(root: &Path, pinned: &Pinned, e2e: bool, cargo_args: &[String]) -> Result<ExitCode> {
    ensure_pyyaml()?;
    let gitops = gitops::build(root)?;
    with_cluster(root, pinned, false, |running| {
        // insta appends the path of every snapshot file a test asserts to this file, as it does
        // for `cargo insta test --unreferenced=reject`.
        let references = tempfile::NamedTempFile::new_in(root.join("target"))
            .context("could not make a snapshot references file in target/")?;
        let mut totals = TestCounts::default();
        let mut passed = true;
        for selection in selections(e2e) {
            let mut command = Command::new(env_or("CARGO", "cargo"));
            command
                .current_dir(root)
                .args(["test", "--locked", "--no-fail-fast"])
                .args(selection)
                .args(cargo_args)
                .env("GITROLLOUT_TEST_KUBECONFIG", &running.kubeconfig)
                .env(gitops::HELM_VAR, &gitops.helm)
                .env(gitops::CRDS_VAR, &gitops.crds)
                .env("INSTA_SNAPSHOT_REFERENCES_FILE", references.path());
            passed &= cargo_test(&mut command, &mut totals)?;
        }
        if e2e {
            eprintln!("note: the unreferenced-snapshot check runs without --e2e");
        } else {
            let full_pass = cargo_args.is_empty() && passed;
            count_snapshot_check(root, references.path(), full_pass, &mut totals);
        }
        // The merge-key table generated from the control plane's OpenAPI schema is up to date.
        match openapi::run(root, running, true) {
            Ok(()) => totals.passed += 1,
            Err(err) => {
                eprintln!("error: {err:#}");
                totals.failed += 1;
            }
        }
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
        Ok(if passed && totals.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// The `cargo test` arguments of each run: the whole workspace, or with `e2e` the tests that use
/// the control plane.
fn selections(e2e: bool) -> Vec<&'static [&'static str]> {
    if e2e {
        vec![
            &[
                "-p",
                "kubectl-gitrollout",
                "--test",
                "runner",
                "--",
                "_e2e::",
            ],
            &["-p", "gitrollout-tests", "--test", "controllers"],
        ]
    } else {
        vec![&["--workspace"]]
    }
}

/// Runs one `cargo test`, echoing its output and adding its counts to `totals`; whether it
/// passed.
fn cargo_test(command: &mut Command, totals: &mut TestCounts) -> Result<bool> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .context("could not run cargo test")?;
    let stdout = child.stdout.take().context("cargo test has no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        totals.add_summary(&line);
    }
    Ok(child.wait()?.success())
}

/// The render tests read `-o yaml` back with PyYAML, as a YAML 1.1 reader of the output would:
/// install it with pip when python3 lacks it.
fn ensure_pyyaml() -> Result<()> {
    let has_yaml = |python: &str| {
        Command::new(python)
            .args(["-c", "import yaml"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has_yaml("python3") {
        return Ok(());
    }
    eprintln!("installing PyYAML for the render tests (python3 -m pip install pyyaml)");
    let installed = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "pyyaml"])
        .status()
        .is_ok_and(|s| s.success());
    if installed && has_yaml("python3") {
        return Ok(());
    }
    anyhow::bail!(
        "the render tests need python3 with PyYAML, and it could not be installed with pip\nhint: \
         install it, e.g. `apt-get install python3-yaml`"
    )
}

/// Counts the check that every `.snap` file is one a test asserted (per `references`) into
/// `totals`, as one test; skipped unless `cargo test` ran every test and all passed.
fn count_snapshot_check(root: &Path, references: &Path, full_pass: bool, totals: &mut TestCounts) {
    if !full_pass {
        // Tests filtered out or failed before their assertion reference no snapshot.
        eprintln!("note: skipped the unreferenced-snapshot check, which needs a full, passing run");
        totals.ignored += 1;
    } else {
        match unreferenced_snapshots(root, references) {
            Ok(files) if files.is_empty() => totals.passed += 1,
            Ok(files) => {
                eprintln!(
                    "error: no test asserts these snapshot files:\n  {}\nhint: delete them, \
                     or restore the test that asserted them",
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join("\n  ")
                );
                totals.failed += 1;
            }
            Err(err) => {
                eprintln!("error: the unreferenced-snapshot check failed: {err:#}");
                totals.failed += 1;
            }
        }
    }
}

/// The `.snap` files under `crates/`, `tests/` and `xtask/` that are not in `references` (one
/// path a line, as insta writes them), relative to `root`.
fn unreferenced_snapshots(root: &Path, references: &Path) -> Result<Vec<PathBuf>> {
    let text = fs::read_to_string(references)
        .with_context(|| format!("could not read {}", references.display()))?;
    let referenced: BTreeSet<PathBuf> = text
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| fs::canonicalize(line).unwrap_or_else(|_| PathBuf::from(line)))
        .collect();
    let mut snapshots = Vec::new();
    for dir in ["crates", "tests", "xtask"] {
        snapshot_files(&root.join(dir), &mut snapshots)?;
    }
    let root = fs::canonicalize(root)?;
    let mut unreferenced = Vec::new();
    for file in snapshots {
        let file = fs::canonicalize(&file)?;
        if !referenced.contains(&file) {
            unreferenced.push(file.strip_prefix(&root).unwrap_or(&file).to_path_buf());
        }
    }
    unreferenced.sort();
    Ok(unreferenced)
}

/// Adds every `.snap` file under `dir` to `found`.
fn snapshot_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("could not read {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            snapshot_files(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "snap") {
            found.push(path);
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_snapshot_files_no_test_asserts() {
        let root = tempfile::tempdir().unwrap();
        let snapshots = root.path().join("crates/plugin/tests/snapshots");
        fs::create_dir_all(&snapshots).unwrap();
        for name in ["render__table.snap", "render__gone.snap", "notes.txt"] {
            fs::write(snapshots.join(name), "---\n").unwrap();
        }
        fs::create_dir_all(root.path().join("xtask")).unwrap();
        let references = root.path().join("references");
        fs::write(
            &references,
            format!("{}\n", snapshots.join("render__table.snap").display()),
        )
        .unwrap();
        assert_eq!(
            unreferenced_snapshots(root.path(), &references).unwrap(),
            [PathBuf::from(
                "crates/plugin/tests/snapshots/render__gone.snap"
            )]
        );

        fs::write(
            &references,
            format!(
                "{}\n{}\n",
                snapshots.join("render__gone.snap").display(),
                snapshots.join("render__table.snap").display()
            ),
        )
        .unwrap();
        assert!(
            unreferenced_snapshots(root.path(), &references)
                .unwrap()
                .is_empty()
        );
    }

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
