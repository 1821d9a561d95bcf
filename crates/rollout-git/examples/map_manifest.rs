//! Maps revisions to the commits of a manifest, as `history --path` does, over a repository's
//! whole history. Used by `bench/git-mapping.sh`.
//!
//! `map_manifest capture REPO FILE KIND NAME N [handmade] > REVISIONS.json` writes the pod
//! templates of N revisions made from the N newest templates FILE gave the workload, oldest
//! first, as the API server stores them (defaults applied), the revisions a workload keeps in
//! its history. With `handmade`, a newest revision made by hand follows
//! (`kubectl set env ... HANDMADE=1` on the last one), which no commit made.
//!
//! `map_manifest map REPO FILE KIND NAME REVISIONS.json` maps them as `history --path` does,
//! prints how many mapped, and exits 1 when a revision made from a commit did not map or the
//! hand-made one did: a fast wrong answer is no answer.
//!
//! `map_manifest yaml-check < TEXTS` reads YAML texts separated by NUL bytes, checks that
//! `rollout_git::yaml::documents` reads each exactly as serde-saphyr does (the same values, or
//! the same error), prints how many took the fast path, and exits 1 on any difference.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;

use rollout_core::{Current, History, Revision, WorkloadKind};
use rollout_git::{ManifestHistory, Repo, map_commits, workload_template, yaml};
use serde::Deserialize;
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = match &args[..] {
        [mode, repo, file, kind, name, count, rest @ ..] if mode == "capture" => {
            let handmade = rest.iter().any(|a| a == "handmade");
            capture(repo, file, kind, name, count, handmade).map(|()| true)
        }
        [mode, repo, file, kind, name, revisions] if mode == "map" => {
            map(repo, file, kind, name, revisions)
        }
        [mode] if mode == "yaml-check" => yaml_check(),
        _ => {
            eprintln!(
                "usage: map_manifest capture REPO FILE KIND NAME N [handmade]\n       \
                 map_manifest map REPO FILE KIND NAME REVISIONS.json\n       \
                 map_manifest yaml-check < NUL-SEPARATED-TEXTS"
            );
            return ExitCode::from(2);
        }
    };
    match run {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn capture(
    repo: &str,
    file: &str,
    kind: &str,
    name: &str,
    count: &str,
    handmade: bool,
) -> Result<(), Error> {
    let repo = Repo::discover(Path::new(repo))?;
    let kind: WorkloadKind = kind.parse()?;
    let count: usize = count.parse()?;
    let mut newest: Vec<Value> = Vec::new();
    repo.for_each_version(file, |_, content| {
        let template = workload_template(&content.to_vec(), kind.kind(), name)
            .ok()
            .flatten();
        if let Some(template) = template
            && newest.last() != Some(&template)
        {
            newest.push(template);
        }
        Ok(if newest.len() == count {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    newest.reverse();
    let from_commits = newest.len();
    if handmade {
        let mut template = newest
            .last()
            .cloned()
            .ok_or("FILE never defines the workload")?;
        let container = &mut template["spec"]["containers"][0];
        let mut env = container["env"].as_array().cloned().unwrap_or_default();
        env.push(json!({"name": "HANDMADE", "value": "1"}));
        container["env"] = Value::Array(env);
        newest.push(template);
    }
    let doc = json!({"fromCommits": from_commits, "templates": newest});
    println!("{}", serde_json::to_string(&doc)?);
    Ok(())
}

/// What `capture` writes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Captured {
    from_commits: u64,
    templates: Vec<Value>,
}

fn map(repo: &str, file: &str, kind: &str, name: &str, revisions: &str) -> Result<bool, Error> {
    let Captured {
        from_commits,
        templates,
    } = serde_json::from_slice(&std::fs::read(revisions)?)?;
    let repo = Repo::discover(Path::new(repo))?;
    let kind: WorkloadKind = kind.parse()?;
    let revisions = (1..).zip(templates).map(|(number, template)| Revision {
        number,
        created_at: None,
        template,
        change_cause: None,
        earlier_numbers: Vec::new(),
        object: format!("{name}-{number}"),
        pods: None,
        annotations: BTreeMap::new(),
    });
    let history = History::new(kind, "bench", name, revisions.collect(), Current::Unknown);
    let manifests = ManifestHistory::read(&repo, file, &history)?;
    let mapping = map_commits(&history, Some(&repo), Some(&manifests));
    let mapped = mapping.commits.len() as u64;
    println!(
        "{mapped} of {} revisions of {name} mapped to commits of {file}",
        history.revisions.len()
    );
    let handmade_mapped = mapping.commits.keys().any(|n| *n > from_commits);
    Ok(mapped == from_commits && !handmade_mapped)
}

fn yaml_check() -> Result<bool, Error> {
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input)?;
    let texts: Vec<&str> = input
        .split(|&b| b == 0)
        .filter_map(|text| std::str::from_utf8(text).ok())
        .collect();
    let (mut fast, mut differing) = (0, 0);
    for (i, text) in texts.iter().enumerate() {
        fast += usize::from(yaml::plain_documents(text).is_some());
        if yaml::documents(text) != yaml::serde_saphyr_documents(text) {
            differing += 1;
            eprintln!("yaml-check: text {i} reads differently from serde-saphyr");
        }
    }
    println!(
        "yaml-check: {} texts, {fast} on the fast path, {differing} read differently",
        texts.len()
    );
    Ok(differing == 0)
}
