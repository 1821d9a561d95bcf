//! The plugin's one test binary, as jj keeps its tests: every file in `tests/` is a module here,
//! so kube and the shared helpers are compiled and linked once, not once per file.
//!
//! `*_e2e` modules run on the real control plane (`cargo xtask test` starts it); `cli` and
//! `render` need none. A file in `tests/` that is not declared here would never run:
//! `no_test_file_is_forgotten` fails for it.

// A test states what it expects with unwrap: a failure there is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

mod apply_e2e;
mod change_e2e;
mod cli;
mod config_e2e;
mod deployed_e2e;
mod faults_e2e;
mod git_e2e;
mod git_truth_e2e;
mod habits_e2e;
mod history_e2e;
mod history_truth_e2e;
mod log_e2e;
mod rbac_e2e;
mod render;
mod revert_e2e;
mod watch_e2e;

/// Every `.rs` file and directory module in `tests/` is declared above.
#[test]
fn no_test_file_is_forgotten() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let runner = std::fs::read_to_string(dir.join("runner.rs")).unwrap();
    let declared: Vec<&str> = runner
        .lines()
        .filter_map(|line| line.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let mut forgotten = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let module = match path.extension() {
            Some(ext) if ext == "rs" => path.file_stem(),
            None if path.join("mod.rs").is_file() => path.file_name(),
            _ => None,
        };
        let Some(module) = module.and_then(|m| m.to_str()) else {
            continue;
        };
        if module != "runner" && !declared.contains(&module) {
            forgotten.push(module.to_owned());
        }
    }
    assert!(
        forgotten.is_empty(),
        "declare these test files in tests/runner.rs, or they never run: {forgotten:?}"
    );
}
