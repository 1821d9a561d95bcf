//! History output over objects captured from the real control plane (`cargo xtask fixtures`).
//!
//! `now` is fixed at 30 days after the newest object, so ages are stable; ages, timestamps and
//! the controllers' name hashes are filtered anyway, so a re-capture changes no snapshot unless
//! the output really changed.

use std::fs;
use std::path::Path;

use jiff::{Timestamp, ToSpan};
use k8s_openapi::api::apps::v1::{ControllerRevision, ReplicaSet};
use kubectl_gitrollout::render::{self, Commits, HistoryDoc, RevisionDoc};
use kubectl_gitrollout::workload::{Owned, Workload};
use rollout_core::History;
use serde_json::Value;

fn load(path: &Path) -> (History, Timestamp) {
    let fixture: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let object = fixture["workload"].clone();
    let owned = fixture["owned"].clone();
    let (workload, owned) = match object["kind"].as_str().unwrap() {
        "Deployment" => (
            Workload::Deployment(serde_json::from_value(object).unwrap()),
            Owned::ReplicaSets(serde_json::from_value::<Vec<ReplicaSet>>(owned).unwrap()),
        ),
        kind => {
            let workload = match kind {
                "StatefulSet" => Workload::StatefulSet(serde_json::from_value(object).unwrap()),
                _ => Workload::DaemonSet(serde_json::from_value(object).unwrap()),
            };
            let revisions: Vec<ControllerRevision> = serde_json::from_value(owned).unwrap();
            (workload, Owned::ControllerRevisions(revisions))
        }
    };
    let history = workload.history(owned);
    let newest = history.revisions.iter().filter_map(|r| r.created_at).max();
    let now = newest.unwrap_or(Timestamp::UNIX_EPOCH) + (30 * 24).hours();
    (history, now)
}

fn output(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    write(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => vec![
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
            (r"([\s(])\d+[smhdy](\d+[smhd])?\b", "$1[AGE]"),
            (r"\b(team-[a-z]+)-[0-9a-z]{6,10}\b", "$1-[HASH]"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

#[test]
fn history_outputs() {
    insta::glob!("fixtures/*.json", |path| {
        let (history, now) = load(path);
        if let Err(err) = history.ensure_not_empty() {
            snapshot!("empty", err.to_string());
            return;
        }
        snapshot!(
            "table",
            output(|out| render::table(out, &history, &Commits::new(), now, false))
        );
        snapshot!(
            "wide",
            output(|out| render::table(out, &history, &Commits::new(), now, true))
        );
        if !history.warnings.is_empty() {
            let warnings: Vec<String> = history.warnings.iter().map(|w| w.to_string()).collect();
            snapshot!("warnings", warnings.join("\n"));
        }
        let doc = HistoryDoc::new(&history, &Commits::new());
        snapshot!("json", output(|out| render::document(out, &doc, false)));
        snapshot!("yaml", output(|out| render::document(out, &doc, true)));
    });
}

#[test]
fn one_revision_in_full() {
    insta::glob!("fixtures/*.json", |path| {
        let (history, now) = load(path);
        let Ok(current) = history.current() else {
            return;
        };
        snapshot!(
            "show",
            output(|out| render::show(out, &history, &Commits::new(), current, now, false))
        );
        let first = &history.revisions[0];
        snapshot!(
            "show-first",
            output(|out| render::show(out, &history, &Commits::new(), first, now, false))
        );
        let doc = RevisionDoc::new(&history, &Commits::new(), current, true);
        snapshot!(
            "show-json",
            output(|out| render::document(out, &doc, false))
        );
    });
}

/// Reads `yaml` with PyYAML's `safe_load` (a YAML 1.1 reader) and prints it back as JSON.
/// Fails, never skips, without python3 and PyYAML: CI installs them.
fn pyyaml_read(yaml: &str) -> Value {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let script = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("this test needs python3 with PyYAML (pip install pyyaml)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python3 could not read the YAML (is PyYAML installed? pip install pyyaml): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn yaml_reads_back_equal_to_json_in_a_yaml_1_1_reader() {
    insta::glob!("fixtures/*.json", |path| {
        let (history, _) = load(path);
        let doc = HistoryDoc::new(&history, &Commits::new());
        let mut docs = vec![serde_json::to_value(&doc).unwrap()];
        for revision in &history.revisions {
            let doc = RevisionDoc::new(&history, &Commits::new(), revision, true);
            docs.push(serde_json::to_value(&doc).unwrap());
        }
        for json in docs {
            let yaml = output(|out| render::document(out, &json, true));
            let text = output(|out| render::document(out, &json, false));
            let json: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(pyyaml_read(&yaml), json, "{}", path.display());
        }
    });
}

#[test]
fn the_current_revision_is_resolved_for_each_kind() {
    for (fixture, current) in [
        ("deployment-story", Some(3)),
        ("deployment-undo", Some(4)),
        ("statefulset", Some(3)),
        ("daemonset", Some(3)),
        ("deployment-new", None),
    ] {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{fixture}.json"));
        assert_eq!(load(&path).0.current, current, "{fixture}");
    }
}

#[test]
fn undo_shows_the_number_the_revision_had_before() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deployment-undo.json");
    let (history, _) = load(&path);
    let numbers: Vec<(u64, Vec<u64>)> = history
        .revisions
        .iter()
        .map(|r| (r.number, r.earlier_numbers.clone()))
        .collect();
    assert_eq!(numbers, [(1, vec![]), (3, vec![]), (4, vec![2])]);
}
