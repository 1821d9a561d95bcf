//! The next step after an error, as data, and worded here alone.
//!
//! The library crates say what went wrong in terms of revisions and commits; the binary's own
//! errors say what went wrong in terms of objects and requests. Neither names the command or flag
//! that fixes it in its message: the binary carries the next step beside the error as a [`Hint`]
//! ([`Hinted`]), or finds it here for a library error ([`hint`]), and `main` prints it once, as a
//! `hint:` line under the error.

use std::fmt;

use rollout_core::RevertError;
use rollout_git::{GitError, InverseError};

/// A next step the user can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// An object was not found: list those there are.
    ListObjects { kind: String, namespace: String },
    /// The cluster did not answer.
    CheckCluster,
    /// No kubeconfig was found.
    SetKubeconfig,
    /// The connection flags have no context to apply to.
    PassContext,
    /// RBAC refused a request.
    AskForRole { verb: String, resource: String },
    /// The credentials were refused.
    RefreshCredentials,
    /// A command that needs the manifests' repository has none.
    PassRepo,
    /// A command was given more than the one workload it acts on.
    OncePerWorkload { command: &'static str },
    /// A write's answer was lost: see what the workload holds now.
    CheckHistory { workload: String },
    /// A write was overtaken by a newer one.
    SeeHistoryThenRetry { workload: String },
    /// Someone else keeps changing the workload.
    FindWhoChanges { kind: &'static str, name: String },
    /// The controller did not act on a write.
    CheckControllerManager,
    /// A rollout did not complete in time.
    DescribeRollout {
        change: &'static str,
        kind: &'static str,
        name: String,
    },
    /// The controller made no revision for the current template in time.
    RolloutStatus { workload: String },
    /// A watch fell behind what the server keeps.
    WatchAgain,
    /// `--git` needs a commit for the revision, which only `--path` can find.
    PassPathForGit,
    /// A pruned revision can be restored from the manifest at its commit.
    PassPathToRestore,
    /// git refused the commit after the cluster changed.
    CommitByHand {
        revision: u64,
        path: String,
        /// True when git stopped the commit (a hook): the new content is in the work tree.
        stopped: bool,
    },
    /// Argo CD or Flux manages the workload: the change belongs in git.
    RevertInGit { tool: &'static str },
    /// A Helm release manages the workload.
    HelmRollback { release: String, namespace: String },
    /// The ambiguous instance label: Argo CD may manage it.
    MaybeArgo { change: &'static str },
    /// `-k` needs a kustomize to render the overlay.
    InstallKustomize,
    /// The manifests name a kind the cluster does not serve.
    InstallDefinition { kind: String },
    /// A revert's pods would read configuration that is gone.
    RestoreConfig { objects: String, namespace: String },
    /// A refusal that `--force` overrides, for a change (`revert`, `apply`) in the cluster.
    OrForce {
        route: Box<Hint>,
        change: &'static str,
    },
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::ListObjects { kind, namespace } => write!(
                f,
                "list them with `kubectl get {kind} -n {namespace}`, or pass -n/--namespace"
            ),
            Hint::CheckCluster => write!(
                f,
                "check that the cluster runs and that --kubeconfig/--context point at it"
            ),
            Hint::SetKubeconfig => write!(f, "set KUBECONFIG or pass --kubeconfig, as for kubectl"),
            Hint::PassContext => write!(f, "pass --context, or --cluster and --user"),
            Hint::AskForRole { verb, resource } => write!(
                f,
                "ask your cluster admin for a Role that grants {verb} on {resource}"
            ),
            Hint::RefreshCredentials => write!(f, "refresh them in your kubeconfig"),
            Hint::PassRepo => write!(f, "pass the repository with --repo DIR"),
            Hint::InstallKustomize => write!(
                f,
                "install kubectl (which has kustomize built in) or kustomize, or render the \
                 overlay yourself and pass it with -f -"
            ),
            Hint::InstallDefinition { kind } => write!(
                f,
                "install the CustomResourceDefinition of {kind} first, or apply it with the \
                 manifests"
            ),
            Hint::RestoreConfig { objects, namespace } => write!(
                f,
                "create {objects} in namespace {namespace} again (from git, or a copy) before \
                 reverting"
            ),
            Hint::OncePerWorkload { command } => {
                write!(f, "run `kubectl gitrollout {command}` once per workload")
            }
            _ => self.fmt_write(f),
        }
    }
}

impl Hint {
    /// The next steps after a write: what to check, what to wait for, what to commit.
    fn fmt_write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::CheckHistory { workload } => {
                write!(f, "check with `kubectl gitrollout history {workload}`")
            }
            Hint::SeeHistoryThenRetry { workload } => write!(
                f,
                "see what happened with `kubectl gitrollout history {workload}`, then try again \
                 if needed"
            ),
            Hint::FindWhoChanges { kind, name } => write!(
                f,
                "find out who with `kubectl get {kind} {name} -o yaml --show-managed-fields`, \
                 then try again"
            ),
            Hint::CheckControllerManager => write!(f, "check that kube-controller-manager runs"),
            Hint::DescribeRollout { change, kind, name } => write!(
                f,
                "the {change} is in place; see what holds it up with `kubectl describe {kind} \
                 {name}`"
            ),
            Hint::RolloutStatus { workload } => write!(
                f,
                "see what holds it up with `kubectl rollout status {workload}`"
            ),
            Hint::WatchAgain => write!(
                f,
                "run `kubectl gitrollout log -w` again: it lists, then watches from the list"
            ),
            _ => self.fmt_git(f),
        }
    }

    /// The next steps that involve git, or the tools that manage a workload.
    fn fmt_git(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::PassPathForGit => write!(
                f,
                "pass the manifest with --path so revisions are matched to its commits, or \
                 revert without --git"
            ),
            Hint::PassPathToRestore => write!(
                f,
                "pass the manifest with --path to restore its pod template from that commit"
            ),
            Hint::CommitByHand {
                revision,
                path,
                stopped: true,
            } => write!(
                f,
                "the cluster runs revision {revision}; {path} holds its content uncommitted, \
                 nothing staged: fix what stopped the commit (often a hook), then `git commit \
                 {path}`"
            ),
            Hint::CommitByHand { revision, path, .. } => write!(
                f,
                "the cluster runs revision {revision}; the repository is as it was: commit \
                 {path} yourself"
            ),
            _ => self.fmt_managers(f),
        }
    }

    /// The routes that work with the tools that manage a workload.
    fn fmt_managers(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::RevertInGit { tool } => {
                write!(f, "revert the change in git and let {tool} sync it")
            }
            Hint::HelmRollback { release, namespace } => write!(
                f,
                "see the release's revisions with `helm history {release} -n {namespace}` and \
                 roll back with `helm rollback {release} REVISION -n {namespace}`"
            ),
            Hint::MaybeArgo { change } => write!(
                f,
                "if Argo CD manages it, it will undo this {change}: {change} in git instead"
            ),
            Hint::OrForce { route, change } => {
                write!(
                    f,
                    "{route}, or pass --force to {change} in the cluster anyway"
                )
            }
            // Every other hint is worded by the functions above.
            _ => Ok(()),
        }
    }
}

/// An error of the binary with its next step: the message says what went wrong, the hint what
/// to do, and `main` prints the hint under the error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: Hint,
}

/// An error that says `message`, with `hint` as its next step.
pub fn hinted(message: impl fmt::Display, hint: Hint) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        message: message.to_string(),
        hint,
    })
}

/// The hint for an error: the one carried beside it, or the one for a library error.
pub fn hint(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(hinted) = cause.downcast_ref::<Hinted>() {
            return Some(hinted.hint.to_string());
        }
        if let Some(lost) = cause.downcast_ref::<crate::write::LostWrite>() {
            return Some(lost.hint.to_string());
        }
        if let Some(usage) = cause.downcast_ref::<crate::UsageError>() {
            return usage.hint.as_ref().map(Hint::to_string);
        }
        if let Some(git) = cause.downcast_ref::<GitError>() {
            return git_hint(git).map(str::to_owned);
        }
        if let Some(inverse) = cause.downcast_ref::<InverseError>() {
            return inverse_hint(inverse);
        }
        if let Some(revert) = cause.downcast_ref::<RevertError>() {
            return revert_hint(revert);
        }
    }
    None
}

/// What to do about a refused revert.
fn revert_hint(err: &RevertError) -> Option<String> {
    match err {
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

    #[test]
    fn a_hint_carried_beside_an_error_is_found_under_its_context() {
        let err = hinted(
            "the revert was not applied",
            Hint::CheckHistory {
                workload: "deployment/a".into(),
            },
        )
        .context("reverting");
        assert_eq!(
            hint(&err).as_deref(),
            Some("check with `kubectl gitrollout history deployment/a`")
        );
        // The message never carries the hint itself.
        assert!(!format!("{err:#}").contains("hint"), "{err:#}");
        let forced = Hint::OrForce {
            route: Box::new(Hint::RevertInGit { tool: "Flux" }),
            change: "revert",
        };
        assert_eq!(
            forced.to_string(),
            "revert the change in git and let Flux sync it, or pass --force to revert in the \
             cluster anyway"
        );
    }
}
