//! History output over objects captured from the real control plane (`cargo xtask fixtures`).
//!
//! `now` is fixed at 30 days after the newest object, so ages are stable; ages, timestamps and
//! the controllers' name hashes are filtered anyway, so a re-capture changes no snapshot unless
//! the output really changed.

// A test states what it expects with unwrap: a failure there is the test failing.
#![allow(clippy::unwrap_used)]

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
            (r"\b\d+[smhdy](\d+[smhd])?\b", "[AGE]"),
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
