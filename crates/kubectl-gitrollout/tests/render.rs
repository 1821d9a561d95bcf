//! History output over objects captured from the real control plane (`cargo xtask fixtures`),
//! with the commits of a real repository (fixed identity and dates, so its SHAs are stable).
//!
//! `now` is fixed at 30 days after the newest object, so ages are what they are in the output,
//! columns included. In documents, timestamps and the controllers' name hashes are filtered, so
//! a re-capture changes no document snapshot unless the output really changed; tables are
//! snapshotted as printed.

use std::fs;
use std::path::Path;

use gitrollout_tests::git::GitRepo;
use jiff::{Timestamp, ToSpan};
use k8s_openapi::api::apps::v1::{ControllerRevision, ReplicaSet};
use kubectl_gitrollout::cli::parse_output;
use kubectl_gitrollout::commands::apply::{Applied, ObjectOutcome, RevisionOutcome};
use kubectl_gitrollout::commands::record::RecordOutcome;
use kubectl_gitrollout::commands::revert::{GitOutcome, RevertOutcome};
use kubectl_gitrollout::listing::{self, ListDoc, TableStyle};
use kubectl_gitrollout::render::{self, Commits, HistoryDoc, LogDoc, LogItem, RevisionDoc};
use kubectl_gitrollout::workload::{Owned, Workload};
use rollout_core::{History, Made, Restored, diff_templates};
use rollout_git::{CommitSource, MappedCommit, Repo};
use serde_json::Value;

fn load(path: &Path) -> (History, Timestamp) {
    let (workload, owned) = load_objects(path);
    let history = workload.history(owned);
    let newest = history.revisions.iter().filter_map(|r| r.created_at).max();
    let now = newest.unwrap_or(Timestamp::UNIX_EPOCH) + (30 * 24).hours();
    (history, now)
}

/// The workload of a fixture, and the objects that keep its revisions.
fn load_objects(path: &Path) -> (Workload, Owned) {
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
    (workload, owned)
}

fn output(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    write(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// A document snapshot, with timestamps and name hashes filtered.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => vec![
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
            (r"\b(team-[a-z]+)-[0-9a-z]{6,10}\b", "$1-[HASH]"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

/// The commits of a repository of the manifests, one per revision, as `record` would have
/// recorded them: a real commit map, with subjects, authors and dates from git.
fn commits(history: &History) -> Commits {
    static REPO: std::sync::OnceLock<(GitRepo, Vec<String>)> = std::sync::OnceLock::new();
    let (git, shas) = REPO.get_or_init(|| {
        let git = GitRepo::new();
        let shas = (1..=8)
            .map(|n| {
                git.commit(
                    "app.yaml",
                    &format!("release: {n}\n"),
                    &format!("Release {n}"),
                )
            })
            .collect();
        (git, shas)
    });
    let repo = Repo::discover(git.path()).unwrap();
    // Every revision but the first has a commit, the nth "Release n"; the first shows none.
    history
        .revisions
        .iter()
        .skip(1)
        .zip(shas.iter().skip(1))
        .map(|(revision, sha)| {
            let commit = MappedCommit {
                sha: sha.clone(),
                source: CommitSource::Recorded,
                info: Some(repo.resolve(sha).unwrap()),
            };
            (revision.number, commit)
        })
        .collect()
}

#[test]
fn history_outputs() {
    insta::glob!("fixtures/*.json", |path| {
        let (history, now) = load(path);
        if let Err(err) = history.ensure_not_empty() {
            snapshot!("empty", err.to_string());
            return;
        }
        let commits = commits(&history);
        insta::assert_snapshot!(
            "table",
            output(|out| render::table(out, &history, &commits, now, false))
        );
        insta::assert_snapshot!(
            "wide",
            output(|out| render::table(out, &history, &commits, now, true))
        );
        if !history.warnings.is_empty() {
            let warnings: Vec<String> = history.warnings.iter().map(|w| w.to_string()).collect();
            snapshot!("warnings", warnings.join("\n"));
        }
        let doc = HistoryDoc::new(&history, &commits);
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
        let commits = commits(&history);
        snapshot!(
            "show",
            output(|out| render::show(out, &history, &commits, current, now, false))
        );
        let first = &history.revisions[0];
        snapshot!(
            "show-first",
            output(|out| render::show(out, &history, &commits, first, now, false))
        );
        let doc = RevisionDoc::new(&history, &commits, current, true);
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
        let commits = commits(&history);
        let doc = HistoryDoc::new(&history, &commits);
        let mut docs = vec![serde_json::to_value(&doc).unwrap()];
        for revision in &history.revisions {
            let doc = RevisionDoc::new(&history, &commits, revision, true);
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

/// Every fixture's path, in order.
fn fixture_paths() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

/// Every fixture with revisions, as a selection (`history deploy -A`) lists them.
fn every_history() -> Vec<(History, Commits)> {
    fixture_paths()
        .iter()
        .map(|path| load(path).0)
        .filter(|history| !history.revisions.is_empty())
        .map(|history| {
            let commits = commits(&history);
            (history, commits)
        })
        .collect()
}

/// The newest object of every fixture, plus 30 days.
fn list_now(items: &[(History, Commits)]) -> Timestamp {
    let newest = items
        .iter()
        .flat_map(|(h, _)| h.revisions.iter().filter_map(|r| r.created_at))
        .max();
    newest.unwrap_or(Timestamp::UNIX_EPOCH) + (30 * 24).hours()
}

#[test]
fn several_workloads_in_every_format() {
    let items = every_history();
    let now = list_now(&items);
    for (name, style) in [
        (
            "list-table",
            TableStyle {
                wide: false,
                headers: true,
                namespaces: true,
            },
        ),
        (
            "list-wide-no-headers",
            TableStyle {
                wide: true,
                headers: false,
                namespaces: false,
            },
        ),
    ] {
        insta::assert_snapshot!(name, output(|out| listing::table(out, &items, now, style)));
    }
    let doc = ListDoc::new(&items);
    for (name, format) in [
        ("list-json", "json"),
        (
            "list-jsonpath",
            "jsonpath={range .items[*]}{.name}{\"\\t\"}{.currentRevision}{\"\\t\"}{.revisions[?(@.current==true)].commit.shortSha}{\"\\n\"}{end}",
        ),
    ] {
        let format = parse_output(format).unwrap();
        let text = output(|out| listing::document(out, &doc, &format).map(drop));
        snapshot!(name, text);
    }
    let names: Vec<String> = items.iter().map(|(h, _)| h.workload()).collect();
    insta::assert_snapshot!("list-name", names.join("\n"));
}

/// Every revision of every fixture on one timeline, as `log -A` shows them.
fn timeline() -> Vec<LogItem> {
    let mut items = Vec::new();
    for path in fixture_paths() {
        let (workload, owned) = load_objects(&path);
        let history = workload.history(owned);
        let commits = commits(&history);
        for entry in rollout_core::log::entries(&history, &workload.template_writer()) {
            let commit = commits.get(&entry.revision).cloned();
            items.push(LogItem { entry, commit });
        }
    }
    items.sort_by(|a, b| rollout_core::log::newest_first(&a.entry, &b.entry));
    items
}

#[test]
fn the_timeline_in_every_format() {
    let items = timeline();
    let newest = items.iter().filter_map(|i| i.entry.time).max();
    let now = newest.unwrap() + (30 * 24).hours();
    for (name, style) in [
        (
            "log-table",
            TableStyle {
                wide: false,
                headers: true,
                namespaces: true,
            },
        ),
        (
            "log-wide-no-headers",
            TableStyle {
                wide: true,
                headers: false,
                namespaces: false,
            },
        ),
    ] {
        insta::assert_snapshot!(
            name,
            output(|out| render::log_table(out, &items, now, style))
        );
    }
    let doc = LogDoc::new(&items);
    let json = output(|out| render::document(out, &doc, false));
    snapshot!("log-json", json);
    let yaml = output(|out| render::document(out, &doc, true));
    assert_eq!(
        pyyaml_read(&yaml),
        serde_json::from_str::<Value>(&json).unwrap()
    );
    insta::assert_snapshot!("log-name", output(|out| render::log_names(out, &items)));
}

#[test]
fn every_command_outcome() {
    let sha = "0123456789abcdef0123456789abcdef01234567".to_owned();
    let outcome = |target, manifest: Option<&str>, git| RevertOutcome {
        workload: "deployment.apps/team-app".into(),
        target,
        revision: 4,
        manifest: manifest.map(str::to_owned),
        git,
    };
    let outcomes = [
        outcome(Restored::Revision(2), None, None),
        outcome(Restored::Change(3), None, None),
        outcome(Restored::Commit(sha.clone()), Some("deploy/app.yaml"), None),
        outcome(
            Restored::Revision(2),
            None,
            Some(GitOutcome::Committed {
                short: "89abcde".into(),
                subject: "Revert deploy/app.yaml to 0123456 (Release nginx 1.17)".into(),
            }),
        ),
        outcome(
            Restored::Change(3),
            None,
            Some(GitOutcome::Unchanged {
                path: "deploy/app.yaml".into(),
                short: "0123456".into(),
            }),
        ),
    ];
    let mut text = String::new();
    for outcome in &outcomes {
        text += &output(|out| render::revert_outcome(out, outcome));
    }
    let recorded = RecordOutcome {
        workload: "statefulset.apps/team-db".into(),
        revision: 3,
        short: "0123456".into(),
        subject: "Release nginx 1.18\twith a tab".into(),
    };
    text += &output(|out| render::record_outcome(out, &recorded));
    text += &apply_outcomes();
    insta::assert_snapshot!("outcomes", text);
}

/// `apply`'s line per object: plain objects as kubectl's, workloads with the revision made or
/// kept, and a dry run's diff before the revision it would make.
fn apply_outcomes() -> String {
    let workload = |applied, revision: Option<(u64, Made, Option<&str>)>| ObjectOutcome {
        name: "deployment.apps/team-app".into(),
        applied,
        revision: revision.map(|(number, made, commit)| RevisionOutcome {
            number,
            made,
            commit: commit.map(str::to_owned),
        }),
        diff: None,
    };
    let image =
        |tag: &str| serde_json::json!({"spec": {"containers": [{"name": "nginx", "image": tag}]}});
    let mut dry_run = workload(Applied::Configured, Some((4, Made::Restores(2), None)));
    dry_run.diff = Some(diff_templates(
        &image("nginx:1.18"),
        "revision 3 (current)",
        &image("nginx:1.17"),
        "deployment.apps/team-app (server dry run)",
    ));
    let outcomes = [
        ObjectOutcome {
            name: "service/team-app".into(),
            ..workload(Applied::Unchanged, None)
        },
        ObjectOutcome {
            name: "configmap/app".into(),
            ..workload(Applied::Created, None)
        },
        workload(Applied::Created, Some((1, Made::New, Some("255930c")))),
        workload(Applied::Configured, Some((3, Made::New, Some("63f6e68")))),
        workload(
            Applied::Configured,
            Some((4, Made::Restores(2), Some("d5c020c"))),
        ),
        workload(Applied::Unchanged, Some((4, Made::Current(4), None))),
        dry_run,
    ];
    let mut text = String::new();
    for outcome in &outcomes {
        text += &output(|out| render::apply_outcome(out, outcome, false));
    }
    text
}

/// Who deployed the revisions of the story: Helm exactly (the first has no commit, so the table
/// names the release), an Argo CD sync by time, a CI annotation; in the table, in full, in JSON.
#[test]
fn who_deployed_in_every_format() {
    use rollout_core::deployed::{DeployedBy, Match, Tool};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deployment-story.json");
    let (mut history, now) = load(&path);
    let by =
        |tool, kind, name: &str, revision: Value, matched, details: &[(&'static str, &str)]| {
            DeployedBy {
                tool,
                kind,
                name: name.to_owned(),
                namespace: (tool != Tool::Ci).then(|| "prod".to_owned()),
                revision,
                matched,
                details: details.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
                commit: None,
            }
        };
    let numbers: Vec<u64> = history.revisions.iter().map(|r| r.number).collect();
    history.deployed = [
        by(
            Tool::Helm,
            "Release",
            "web",
            1.into(),
            Match::Exact,
            &[
                ("chart", "web-0.1.0"),
                ("status", "superseded"),
                ("description", "Install complete"),
            ],
        ),
        by(
            Tool::ArgoCd,
            "Application",
            "guestbook",
            4.into(),
            Match::Window,
            &[("initiatedBy", "automated")],
        ),
        by(
            Tool::Ci,
            "Annotation",
            "k8s-deploy",
            "0123456".into(),
            Match::Exact,
            &[],
        ),
    ]
    .into_iter()
    .zip(numbers)
    .map(|(by, number)| (number, by))
    .collect();
    let commits = commits(&history);
    let first = &history.revisions[0];
    let text = [
        output(|out| render::table(out, &history, &commits, now, false)),
        output(|out| render::show(out, &history, &commits, first, now, false)),
    ]
    .join("\n");
    insta::assert_snapshot!("deployed-table-and-show", text);
    let docs: Vec<Value> = history
        .revisions
        .iter()
        .map(|r| serde_json::to_value(RevisionDoc::new(&history, &commits, r, false)).unwrap())
        .map(|doc| doc["deployedBy"].clone())
        .collect();
    insta::assert_snapshot!(
        "deployed-json",
        serde_json::to_string_pretty(&docs).unwrap()
    );
}
