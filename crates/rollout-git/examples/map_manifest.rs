//! Maps revisions to the commits of a manifest, as `history --path` does, over a repository's
//! whole history. Used by `bench/git-mapping.sh`.
//!
//! `cargo run --release -p rollout-git --example map_manifest -- REPO FILE KIND NAME [REF...]`
//!
//! Each REF stands for one deployed revision whose pod template is FILE's at REF.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use rollout_core::{Current, History, Revision, WorkloadKind};
use rollout_git::{ManifestHistory, Repo, map_commits, workload_template};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, file, kind, name, refs @ ..] = &args[..] else {
        eprintln!("usage: map_manifest REPO FILE KIND NAME [REF...]");
        return ExitCode::from(2);
    };
    let run = || -> Result<(usize, usize), Box<dyn std::error::Error>> {
        let repo = Repo::discover(Path::new(repo))?;
        let kind: WorkloadKind = kind.parse()?;
        let mut revisions = Vec::new();
        for (number, reference) in (1..).zip(refs) {
            let commit = repo.resolve(reference)?;
            let content = repo
                .file_at(&commit.sha, file)?
                .ok_or("FILE is not at REF")?;
            let template = workload_template(&content, kind.kind(), name)?;
            revisions.push(Revision {
                number,
                created_at: None,
                template: template.ok_or("FILE does not define the workload at REF")?,
                change_cause: None,
                earlier_numbers: Vec::new(),
                object: format!("{name}-{number}"),
                pods: None,
                annotations: BTreeMap::new(),
            });
        }
        let history = History::new(kind, "bench", name.as_str(), revisions, Current::Unknown);
        let manifests = ManifestHistory::read(&repo, file, &history)?;
        let mapping = map_commits(&history, Some(&repo), Some(&manifests));
        Ok((history.revisions.len(), mapping.commits.len()))
    };
    match run() {
        Ok((revisions, mapped)) => {
            println!("{mapped} of {revisions} revisions mapped to commits of {file}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
