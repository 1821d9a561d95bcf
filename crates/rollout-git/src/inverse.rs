//! The inverse of one commit's change to one file, as `git revert <commit>` computes it but for
//! that file alone: a three-way merge, by `git merge-file`, of the file at HEAD with the file
//! before the commit, based on the file at the commit. Every later change to the file is kept;
//! one that overlaps the commit's change is a conflict.
//!
//! The merge reads and writes nothing in the work tree or the index: the three versions go to
//! a temporary directory, and the result is only written when it is committed.

use std::process::Command;

use crate::repo::{CommitInfo, GitError, Repo, Written};

/// Why one commit's change to a file cannot be reverted.
#[derive(Debug, thiserror::Error)]
pub enum InverseError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("commit {short} ({subject}) did not change {path}: there is nothing of it to revert")]
    Unchanged {
        short: String,
        subject: String,
        path: String,
    },
    #[error("commit {short} ({subject}) {did} {path}; reverting it would {undo} the file")]
    WholeFile {
        short: String,
        subject: String,
        path: String,
        did: &'static str,
        undo: &'static str,
    },
    #[error(
        "reverting commit {short} ({subject}) conflicts with later changes to {path} ({conflicts} \
         {}); nothing was changed",
        if *conflicts == 1 { "conflict" } else { "conflicts" }
    )]
    Conflict {
        short: String,
        subject: String,
        path: String,
        conflicts: i32,
    },
    #[error(
        "{path} was deleted after commit {short} ({subject}): there is no change of it left to \
         revert"
    )]
    Gone {
        short: String,
        subject: String,
        path: String,
    },
    #[error("could not merge {path} with `git merge-file`: {message}")]
    Merge { path: String, message: String },
}

/// FILE with the commit's change to it undone, and git's message for a revert of the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inverse {
    pub content: Vec<u8>,
    pub message: String,
}

/// The inverse of what `commit` did to `path`, applied three-way onto `path` at HEAD.
pub fn inverse(repo: &Repo, commit: &CommitInfo, path: &str) -> Result<Inverse, InverseError> {
    let head = repo.resolve("HEAD")?;
    let parent = repo.resolve(&format!("{}^", commit.sha)).ok();
    let before = match &parent {
        Some(parent) => repo.file_at(&parent.sha, path)?,
        None => None,
    };
    let at = repo.file_at(&commit.sha, path)?;
    let whole = |did, undo| InverseError::WholeFile {
        short: commit.short().to_owned(),
        subject: commit.subject.clone(),
        path: path.to_owned(),
        did,
        undo,
    };
    let (before, at) = match (before, at) {
        (before, at) if before == at => {
            return Err(InverseError::Unchanged {
                short: commit.short().to_owned(),
                subject: commit.subject.clone(),
                path: path.to_owned(),
            });
        }
        (None, _) => return Err(whole("created", "delete")),
        (_, None) => return Err(whole("deleted", "restore")),
        (Some(before), Some(at)) => (before, at),
    };
    let Some(current) = repo.file_at(&head.sha, path)? else {
        return Err(InverseError::Gone {
            short: commit.short().to_owned(),
            subject: commit.subject.clone(),
            path: path.to_owned(),
        });
    };
    let content = merge_file(repo, commit, path, [&current, &at, &before])?;
    Ok(Inverse {
        content,
        message: format!(
            "Revert \"{}\"\n\nThis reverts commit {}.\n",
            commit.subject, commit.sha
        ),
    })
}

/// Writes the inverse of what `commit` did to `path` onto `path` and commits that file alone,
/// with git's revert message. Returns the new commit.
pub fn commit_inverse(
    repo: &Repo,
    commit: &CommitInfo,
    path: &str,
) -> Result<Written, InverseError> {
    let inverse = inverse(repo, commit, path)?;
    Ok(repo.write_commit(path, &inverse.content, &inverse.message)?)
}

/// `git merge-file -p CURRENT BASE OTHER`: its exit status is the number of conflicts.
fn merge_file(
    repo: &Repo,
    commit: &CommitInfo,
    path: &str,
    [current, base, other]: [&[u8]; 3],
) -> Result<Vec<u8>, InverseError> {
    let failed = |message: String| InverseError::Merge {
        path: path.to_owned(),
        message,
    };
    // A directory of its own, made with a name no one can guess and with only our access, so
    // nothing else can put a file or a link where the versions are written.
    let dir = tempfile::Builder::new()
        .prefix("gitrollout-revert-")
        .tempdir()
        .map_err(|e| failed(e.to_string()))?;
    let mut files = Vec::new();
    for (name, content) in [("current", current), ("base", base), ("other", other)] {
        let file = dir.path().join(name);
        std::fs::write(&file, content).map_err(|e| failed(e.to_string()))?;
        files.push(file);
    }
    let output = Command::new("git")
        .current_dir(repo.workdir())
        .args(["merge-file", "-p", "-q"])
        .args(&files)
        .output()
        .map_err(|e| failed(format!("could not run git: {e}")))?;
    match output.status.code() {
        Some(0) => Ok(output.stdout),
        Some(conflicts) if conflicts > 0 && conflicts < 128 => Err(InverseError::Conflict {
            short: commit.short().to_owned(),
            subject: commit.subject.clone(),
            path: path.to_owned(),
            conflicts,
        }),
        _ => Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use gitrollout_test_git::GitRepo;

    use super::*;

    const MANIFEST: &str = "image: nginx:1.16\nreplicas: 2\nenv: none\n";

    /// A repository where commit `release` changed the image in `app.yaml` and `other.yaml`,
    /// and a later commit changed the env of `app.yaml`.
    fn story() -> (GitRepo, Repo, CommitInfo) {
        let git = GitRepo::new();
        git.commit("other.yaml", "x: 1\n", "other");
        git.commit("app.yaml", MANIFEST, "app on 1.16");
        std::fs::write(git.path().join("other.yaml"), "x: 2\n").unwrap();
        git.git(&["add", "other.yaml"]);
        let release = git.commit(
            "app.yaml",
            &MANIFEST.replace("1.16", "1.17"),
            "release 1.17",
        );
        let both = git.git(&["show", "--name-only", "--format=", &release]);
        assert_eq!(both, "app.yaml\nother.yaml");
        git.commit(
            "app.yaml",
            &MANIFEST
                .replace("1.16", "1.17")
                .replace("env: none", "env: debug"),
            "debug logs",
        );
        let repo = Repo::discover(git.path()).unwrap();
        let release = repo.resolve(&release).unwrap();
        (git, repo, release)
    }

    #[test]
    fn inverts_only_what_the_commit_did_to_the_file_and_keeps_later_changes() {
        let (git, repo, release) = story();
        let Written::Committed(made) = commit_inverse(&repo, &release, "app.yaml").unwrap() else {
            panic!("the inverse of the release was not committed");
        };
        assert_eq!(made.subject, "Revert \"release 1.17\"");
        assert_eq!(
            git.git(&["log", "-1", "--format=%B"]),
            format!(
                "Revert \"release 1.17\"\n\nThis reverts commit {}.",
                release.sha
            )
        );
        assert_eq!(
            std::fs::read_to_string(git.path().join("app.yaml")).unwrap(),
            MANIFEST.replace("env: none", "env: debug")
        );
        // The commit's change to the other file stays; nothing is left staged or changed.
        assert_eq!(
            git.git(&["show", "--name-only", "--format=", "HEAD"]),
            "app.yaml"
        );
        assert_eq!(
            std::fs::read_to_string(git.path().join("other.yaml")).unwrap(),
            "x: 2\n"
        );
        assert_eq!(git.git(&["status", "--porcelain"]), "");
    }

    /// The names the scratch directory once had, predictable from the process and the commit.
    #[cfg(unix)]
    #[test]
    fn no_one_can_plant_a_link_where_the_versions_are_written() {
        let (_git, repo, release) = story();
        let victim = tempfile::tempdir().unwrap();
        let mut planted = Vec::new();
        for n in 0..64 {
            let name = format!(
                "gitrollout-revert-{}-{n}-{}",
                std::process::id(),
                release.short()
            );
            let link = std::env::temp_dir().join(name);
            if std::os::unix::fs::symlink(victim.path(), &link).is_ok() {
                planted.push(link);
            }
        }
        let inverse = inverse(&repo, &release, "app.yaml");
        for link in &planted {
            let _ = std::fs::remove_file(link);
        }
        assert!(inverse.is_ok(), "{inverse:?}");
        let written: Vec<_> = std::fs::read_dir(victim.path()).unwrap().collect();
        assert!(
            written.is_empty(),
            "written through a planted link: {written:?}"
        );
    }

    #[test]
    fn a_conflict_is_refused_and_changes_nothing() {
        let (git, repo, release) = story();
        let head = git.commit(
            "app.yaml",
            &MANIFEST
                .replace("1.16", "1.18")
                .replace("env: none", "env: debug"),
            "release 1.18",
        );
        let err = commit_inverse(&repo, &release, "app.yaml").unwrap_err();
        assert!(
            matches!(err, InverseError::Conflict { conflicts: 1, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string().lines().next().unwrap(),
            format!(
                "reverting commit {} (release 1.17) conflicts with later changes to app.yaml (1 \
                 conflict); nothing was changed",
                release.short()
            )
        );
        assert_eq!(git.git(&["rev-parse", "HEAD"]), head);
        assert_eq!(git.git(&["status", "--porcelain"]), "");
    }

    #[test]
    fn a_commit_that_did_not_change_the_file_or_created_it_is_refused() {
        let (git, repo, _) = story();
        let other = repo.resolve("HEAD~3").unwrap();
        assert_eq!(other.subject, "other");
        assert!(matches!(
            inverse(&repo, &other, "app.yaml").unwrap_err(),
            InverseError::Unchanged { .. }
        ));
        let created = repo.resolve("HEAD~2").unwrap();
        assert_eq!(
            inverse(&repo, &created, "app.yaml")
                .unwrap_err()
                .to_string()
                .lines()
                .next()
                .unwrap(),
            format!(
                "commit {} (app on 1.16) created app.yaml; reverting it would delete the file",
                created.short()
            )
        );
        assert_eq!(git.git(&["status", "--porcelain"]), "");
    }
}
