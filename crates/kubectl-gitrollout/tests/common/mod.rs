//! What the end-to-end tests of the binary share.

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use gitrollout_tests::TestNamespace;
use serde_json::Value;

/// The plugin binary aimed at the test namespace, with a cleared environment: only the test
/// cluster's kubeconfig and the test's own empty home.
pub fn gitrollout(ns: &TestNamespace) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-gitrollout"));
    cmd.env_clear()
        .env("HOME", ns.home())
        .env("KUBECONFIG", &ns.kubeconfig)
        .args(["-n", &ns.name]);
    cmd
}

/// The standard output of a finished run, as text.
pub fn stdout(run: &Assert) -> String {
    String::from_utf8_lossy(&run.get_output().stdout).into_owned()
}

/// The standard error of a finished run, as text.
pub fn stderr(run: &Assert) -> String {
    String::from_utf8_lossy(&run.get_output().stderr).into_owned()
}

/// Runs the binary and parses its stdout as JSON.
pub fn run_json(ns: &TestNamespace, args: &[&str]) -> Value {
    let run = gitrollout(ns).args(args).assert().success();
    serde_json::from_slice(&run.get_output().stdout).expect("the output is JSON")
}

/// (revision, first image, current) of each revision in a `history -o json` document.
pub fn revisions_of(doc: &Value) -> Vec<(u64, String, bool)> {
    let revisions = doc["revisions"].as_array().expect("a revisions array");
    revisions
        .iter()
        .map(|r| {
            let image = r["containers"][0]["image"].as_str().unwrap_or_default();
            let current = r["current"].as_bool().expect("a current flag");
            (
                r["revision"].as_u64().expect("a number"),
                image.to_owned(),
                current,
            )
        })
        .collect()
}
