//! `cargo xtask test`: every test of the workspace on the local control plane, then the krew
//! install test, summed up in one line.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result};

use crate::cluster::with_cluster;
use crate::{env_or, krew_test};

/// Runs `cargo test` over the whole workspace against the local control plane, then the krew
/// install test (`krew-test`) as one more test, and ends with one line that sums up all results.
pub fn run(root: &Path, cargo_args: &[String]) -> Result<ExitCode> {
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
