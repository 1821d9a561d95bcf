//! The next step for errors of the library crates. `rollout_core` and `rollout_git` say what
//! went wrong in terms of revisions and commits; which command or flag fixes it is the binary's
//! to say, here, printed as a `hint:` line under the error.

use rollout_core::RevertError;
use rollout_git::{GitError, InverseError};

/// The hint for an error, when one of the libraries made it.
pub fn hint(err: &anyhow::Error) -> Option<String> {
    if let Some(git) = err.chain().find_map(|e| e.downcast_ref::<GitError>()) {
        return git_hint(git).map(str::to_owned);
    }
    if let Some(inverse) = err.chain().find_map(|e| e.downcast_ref::<InverseError>()) {
        return inverse_hint(inverse);
    }
    let revert = err.chain().find_map(|e| e.downcast_ref::<RevertError>())?;
    match revert {
        RevertError::Paused { workload } => Some(format!(
            "resume it first with `kubectl rollout resume {workload}`"
        )),
        RevertError::AlreadyCurrent { workload, .. } => Some(format!(
            "see what each revision ran with `kubectl gitrollout history {workload}`"
        )),
        RevertError::NoPrevious { .. } => Some("name one with --to-revision".to_owned()),
        RevertError::NoChangeBefore { workload, .. } => Some(format!(
            "restore a whole revision with --to-revision; see them with `kubectl gitrollout \
             history {workload}`"
        )),
        RevertError::NothingToRevert { workload, .. } => Some(format!(
            "see what each revision changed with `kubectl gitrollout history {workload}`"
        )),
        RevertError::Conflicts { before, .. } => Some(format!(
            "restore the whole revision before it with `--to-revision {before}`, or edit the \
             fields by hand"
        )),
        RevertError::History(_) => None,
    }
}

/// The flags, or the git commands, that fix a git error where they can.
fn git_hint(err: &GitError) -> Option<&'static str> {
    match err {
        GitError::NotARepository { .. } => {
            Some("pass the repository of the manifests with --repo DIR")
        }
        GitError::OutsideRepository { .. } | GitError::RepositoryRoot { .. } => Some(
            "pass the manifest's file with --path, relative to --repo DIR when given, else to the \
             current directory",
        ),
        GitError::NotInRepository { .. } => Some(
            "pass the manifest's path with --path, relative to --repo DIR when given, else to the \
             current directory",
        ),
        GitError::NotDefined { .. } => Some("pass the manifest of this workload with --path"),
        GitError::Ambiguous { .. } => Some("give more digits"),
        GitError::Symlink { .. } => {
            Some("name the file it points to, so only that file is written")
        }
        GitError::Dirty { .. } => {
            Some("commit or stash them first, so the revert commit holds only the revert")
        }
        GitError::CommitFailed { .. } => Some(
            "the work tree holds the new content and nothing is staged; fix what stopped the \
             commit (often a hook), then commit the file with `git commit`",
        ),
        _ => None,
    }
}

/// `revert --change N --git` could not undo the commit's change in the manifest.
fn inverse_hint(err: &InverseError) -> Option<String> {
    match err {
        InverseError::WholeFile { .. } => {
            Some("revert it in git by hand, or revert without --git".to_owned())
        }
        InverseError::Conflict { short, .. } => Some(format!(
            "revert it by hand with `git revert --no-commit {short}`, or restore a whole \
             revision with --to-revision"
        )),
        InverseError::Gone { .. } => Some("revert without --git".to_owned()),
        InverseError::Git(_) | InverseError::Unchanged { .. } | InverseError::Merge { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_refusals_say_what_to_do() {
        let paused = anyhow::Error::new(RevertError::Paused {
            workload: "deployment.apps/a".into(),
        });
        assert_eq!(
            hint(&paused).as_deref(),
            Some("resume it first with `kubectl rollout resume deployment.apps/a`")
        );
        let first = anyhow::Error::new(RevertError::NoPrevious {
            workload: "deployment.apps/a".into(),
            current: 1,
        });
        assert_eq!(hint(&first).as_deref(), Some("name one with --to-revision"));
        let gone = anyhow::Error::new(InverseError::Gone {
            short: "abc1234".into(),
            subject: "release".into(),
            path: "app.yaml".into(),
        });
        assert_eq!(hint(&gone).as_deref(), Some("revert without --git"));
        let conflict = anyhow::Error::new(RevertError::Conflicts {
            workload: "deployment.apps/a".into(),
            revision: 3,
            before: 2,
            conflicts: Vec::new(),
        });
        assert_eq!(
            hint(&conflict).as_deref(),
            Some(
                "restore the whole revision before it with `--to-revision 2`, or edit the fields \
                 by hand"
            )
        );
        assert_eq!(hint(&anyhow::anyhow!("something else")), None);
        let dirty = anyhow::Error::new(GitError::Dirty {
            path: "app.yaml".into(),
        });
        assert_eq!(
            hint(&dirty).as_deref(),
            Some("commit or stash them first, so the revert commit holds only the revert")
        );
    }
}
