//! `revert --git`: the commit that makes the repository agree with what the cluster now runs.

use anyhow::{Context, Result};
use rollout_core::Restored;
use rollout_git::{GitError, InverseError, Repo, Written};

use super::{GitOutcome, RevertOutcome};
use crate::git::GitContext;
use crate::hints::{Hint, hinted};
use crate::render::Commits;

/// Refuses a manifest `--git` could not commit alone (a symlink, a path outside the work tree,
/// uncommitted changes), before anything changes in the cluster.
pub(super) fn ensure_committable(git: &GitContext) -> Result<()> {
    let (repo, path) = git_file(git)?;
    repo.ensure_writable(path)?;
    repo.ensure_clean(path)?;
    Ok(())
}

/// Fails when the change of the commit that made `revision` cannot be undone in `--path`: no
/// commit is known for it, or its inverse conflicts with later changes of the file.
pub(super) fn inverse_of(git: &GitContext, commits: &Commits, revision: u64) -> Result<()> {
    let (repo, path) = git_file(git)?;
    let Some(made) = commits.get(&revision) else {
        return Err(hinted(
            format_args!(
                "cannot revert the change of revision {revision} in git: no commit is known to \
                 have made it"
            ),
            Hint::PassPathForGit,
        ));
    };
    rollout_git::inverse(repo, &repo.resolve(&made.sha)?, path)?;
    Ok(())
}

/// Commits in `--path` what the cluster now runs (the target's content, or the inverse of the
/// reverted change); a git failure says what each side holds.
pub(super) fn commit(git: &GitContext, sha: &str, outcome: &RevertOutcome) -> Result<GitOutcome> {
    let committed = match outcome.target {
        Restored::Change(_) => commit_change_revert(git, sha),
        _ => commit_revert(git, sha, outcome),
    };
    let path = git.path.clone().unwrap_or_default();
    match committed {
        Ok(Written::Committed(made)) => Ok(GitOutcome::Committed {
            short: made.short().to_owned(),
            subject: made.subject,
        }),
        Ok(Written::Unchanged) => Ok(GitOutcome::Unchanged {
            path,
            short: sha[..7.min(sha.len())].to_owned(),
        }),
        Err(err) => Err(git_failed(outcome, &path, err)),
    }
}

/// Commits in `--path` the inverse of what commit `sha` did to it, with git's revert message.
fn commit_change_revert(git: &GitContext, sha: &str) -> Result<Written> {
    let (repo, path) = git_file(git)?;
    rollout_git::commit_inverse(repo, &repo.resolve(sha)?, path).map_err(|err| match err {
        // A git failure is reported as one, with what the repository now holds.
        InverseError::Git(git) => anyhow::Error::new(git),
        other => anyhow::Error::new(other),
    })
}

/// Commits `--path` as of `sha`, with a message naming the revert; nothing when FILE already has
/// that content.
fn commit_revert(git: &GitContext, sha: &str, outcome: &RevertOutcome) -> Result<Written> {
    let (repo, path) = git_file(git)?;
    let content = repo
        .file_at(sha, path)?
        .with_context(|| format!("{path} does not exist at commit {}", &sha[..7]))?;
    let info = repo.resolve(sha)?;
    let message = format!(
        "Revert {path} to {} ({})\n\nkubectl gitrollout reverted {} to {} as revision {}.\nThis \
         restores {path} as of commit {}.",
        info.short(),
        info.subject,
        outcome.workload,
        outcome.target,
        outcome.revision,
        info.sha
    );
    Ok(repo.write_commit(path, &content, &message)?)
}

/// A git failure after the cluster changed: one line saying what happened, and a hint saying
/// what the cluster and the repository now hold.
fn git_failed(outcome: &RevertOutcome, path: &str, err: anyhow::Error) -> anyhow::Error {
    let done = format!(
        "{} was reverted to {} as revision {}",
        outcome.workload, outcome.target, outcome.revision
    );
    let (reason, stopped) = match err.downcast_ref::<GitError>() {
        Some(GitError::CommitFailed { reason, .. }) => (reason.clone(), true),
        _ => {
            let reason = err.to_string();
            (reason.lines().next().unwrap_or_default().to_owned(), false)
        }
    };
    let said = match stopped {
        true => format!("{done}, but git did not commit {path}: {reason}"),
        false => format!("{done}, but {path} was not committed: {reason}"),
    };
    let hint = Hint::CommitByHand {
        revision: outcome.revision,
        path: path.to_owned(),
        stopped,
    };
    hinted(said, hint)
}

/// The repository and manifest `--git` commits to.
fn git_file(git: &GitContext) -> Result<(&Repo, &str)> {
    let repo = git.require_repo("--git")?;
    let path = git
        .path
        .as_deref()
        .context("--git needs the manifest's --path")?;
    Ok((repo, path))
}
