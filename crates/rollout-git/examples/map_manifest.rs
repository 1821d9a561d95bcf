//! Maps a workload's manifest over a repository's whole history, as `history --path` does:
//! walks every commit that changed the file and reads the workload's pod template at each.
//! Used by `bench/git-mapping.sh`.
//!
//! `cargo run --release -p rollout-git --example map_manifest -- REPO FILE KIND NAME`

use std::path::Path;
use std::process::ExitCode;

use rollout_core::{Current, History, WorkloadKind};
use rollout_git::{ManifestHistory, Repo};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, file, kind, name] = &args[..] else {
        eprintln!("usage: map_manifest REPO FILE KIND NAME");
        return ExitCode::from(2);
    };
    let run = || -> Result<usize, Box<dyn std::error::Error>> {
        let repo = Repo::discover(Path::new(repo))?;
        let kind: WorkloadKind = kind.parse()?;
        let history = History::new(kind, "bench", name.as_str(), Vec::new(), Current::Unknown);
        Ok(ManifestHistory::read(&repo, file, &history)?
            .templates
            .len())
    };
    match run() {
        Ok(versions) => {
            println!("{versions} versions of {file} define {kind}/{name}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
