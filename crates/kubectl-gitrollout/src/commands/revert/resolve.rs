//! What a revert restores, and the commit of each revision, resolved once from the first read.
//! Notes and warnings are returned as data, for the command to show.

use anyhow::{Context, Result, anyhow};
use rollout_core::{History, RevisionSpec, resolve_revision};
use rollout_git::{
    CommitInfo, CommitSource, MappedCommit, revision_with_content, workload_template,
};
use serde_json::Value;

use crate::git::GitContext;
use crate::hints::{Hint, hinted};
use crate::render::{self, Commits};
use crate::workload::{Owned, Workload};

/// What the revert restores.
#[derive(Debug)]
pub(super) enum Target {
    Previous,
    Revision(u64),
    /// A pruned revision's pod template, from the manifest at a commit.
    Commit {
        sha: String,
        template: Value,
    },
    /// The change revision N made, undone (`--change`).
    Change(u64),
}

/// The target, the commit of each revision, and what to tell the user about them.
#[derive(Debug)]
pub(super) struct Resolved {
    pub target: Target,
    pub commits: Commits,
    /// Things to know (a revision found under a number `kubectl rollout undo` gave it).
    pub notes: Vec<String>,
    /// Things that may be wrong (objects the controller would not count, skipped commits).
    pub warnings: Vec<String>,
}

/// Resolves `--to-commit` (`commit`), `--to-revision` and `--change` against the first read.
pub(super) fn resolve(
    git: &GitContext,
    commit: Option<CommitInfo>,
    to_revision: Option<RevisionSpec>,
    change: Option<RevisionSpec>,
    (workload, owned): &(Workload, Owned),
) -> Result<Resolved> {
    let history = workload.history(owned.clone());
    let mut warnings: Vec<String> = history.warnings.iter().map(ToString::to_string).collect();
    let number =
        |spec: Option<RevisionSpec>| spec.map(|s| resolve_revision(&history, s)).transpose();
    let (to_revision, change) = (number(to_revision)?, number(change)?);
    let notes = to_revision
        .or(change)
        .and_then(|n| render::renumbered(&history, n))
        .into_iter()
        .collect();
    let manifests = git.manifests(&history)?;
    let mapping = git.map(&history, manifests.as_ref());
    warnings.extend(mapping.warnings);
    let mut commits = mapping.commits;
    let target = match commit {
        // The revision made from the commit, or, when it was pruned, the manifest at the commit.
        Some(commit) => commit_target(git, commit, &history, &mut commits)?,
        None => match change {
            // By its number now, when `kubectl rollout undo` renumbered it.
            Some(n) => Target::Change(history.get(n).map_or(n, |r| r.number)),
            None => to_revision.map_or(Target::Previous, Target::Revision),
        },
    };
    Ok(Resolved {
        target,
        commits,
        notes,
        warnings,
    })
}

/// What `--to-commit` restores: the revision made from the commit; else, when an older commit
/// had the content of an existing revision (the history shows the newest commit that made it),
/// that revision, now known to come from this commit too; else, when the revision was pruned,
/// the manifest's template at the commit.
fn commit_target(
    git: &GitContext,
    commit: CommitInfo,
    history: &History,
    commits: &mut Commits,
) -> Result<Target> {
    if let Some((number, _)) = commits.iter().rev().find(|(_, m)| m.sha == commit.sha) {
        return Ok(Target::Revision(*number));
    }
    let template = template_at(git, &commit, history)?;
    let Some(number) = revision_with_content(history, &template) else {
        return Ok(Target::Commit {
            template,
            sha: commit.sha,
        });
    };
    let source = CommitSource::Manifest(git.path.clone().unwrap_or_default());
    let mapped = MappedCommit {
        sha: commit.sha.clone(),
        source,
        info: Some(commit),
    };
    commits.insert(number, mapped);
    Ok(Target::Revision(number))
}

/// The workload's pod template in the manifest at `commit`, to restore a pruned revision.
fn template_at(git: &GitContext, commit: &CommitInfo, history: &History) -> Result<Value> {
    let Some(path) = &git.path else {
        return Err(hinted(
            format_args!(
                "no revision of {} was made from commit {} ({})",
                history.workload(),
                commit.short(),
                commit.subject
            ),
            Hint::PassPathToRestore,
        ));
    };
    let repo = git.require_repo("--to-commit")?;
    let content = repo
        .file_at(&commit.sha, path)?
        .with_context(|| format!("{path} does not exist at commit {}", commit.short()))?;
    let template = workload_template(&content, history.kind.kind(), &history.name)
        .map_err(|e| anyhow!("{path} at commit {} is not valid YAML: {e}", commit.short()))?;
    template.with_context(|| {
        format!(
            "{path} at commit {} does not define {}",
            commit.short(),
            history.workload()
        )
    })
}
