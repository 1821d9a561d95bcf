//! Reading a git repository with gix, and writing commits with the `git` command (so hooks,
//! signing and identity work as the user configured them).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::Timestamp;

/// What reading or writing the repository can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "{path} is not in a git repository\nhint: pass the repository of the manifests with --repo DIR"
    )]
    NotARepository { path: PathBuf },
    #[error("{reference:?} does not name a commit in {repo}")]
    Unresolved { reference: String, repo: PathBuf },
    #[error("short SHA {reference:?} is ambiguous in {repo}: it could be {}\nhint: give more digits", .candidates.join(", "))]
    Ambiguous {
        reference: String,
        repo: PathBuf,
        candidates: Vec<String>,
    },
    #[error("{path} is not inside the repository {repo}")]
    OutsideRepository { path: PathBuf, repo: PathBuf },
    #[error(
        "{path} is not in the repository {repo}: no commit has it\nhint: pass the manifest's path with --path, relative to the current directory"
    )]
    NotInRepository { path: String, repo: PathBuf },
    #[error(
        "{path} never defines {workload} in its {commits} commits\nhint: pass the manifest of \
         this workload with --path"
    )]
    NotDefined {
        path: String,
        workload: String,
        commits: usize,
    },
    #[error(
        "{path} has uncommitted changes\nhint: commit or stash them first, so the revert commit holds only the revert"
    )]
    Dirty { path: String },
    #[error("could not read the repository {repo}: {message}")]
    Read { repo: PathBuf, message: String },
    #[error("`git {args}` failed in {repo}: {stderr}")]
    Command {
        args: String,
        repo: PathBuf,
        stderr: String,
    },
}

type Result<T, E = GitError> = std::result::Result<T, E>;

/// One commit's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The full 40-digit SHA.
    pub sha: String,
    pub subject: String,
    /// `Name <email>`.
    pub author: String,
    pub time: Timestamp,
}

impl CommitInfo {
    /// The SHA cut to 7 digits, as git shows it.
    pub fn short(&self) -> &str {
        &self.sha[..7.min(self.sha.len())]
    }
}

/// A git repository with a work tree.
#[derive(Debug)]
pub struct Repo {
    repo: gix::Repository,
    workdir: PathBuf,
}

impl Repo {
    /// Opens the repository around `dir`, as git finds it.
    pub fn discover(dir: &Path) -> Result<Repo> {
        let not_a_repo = || GitError::NotARepository {
            path: dir.to_path_buf(),
        };
        let mut repo = gix::discover(dir).map_err(|_| not_a_repo())?;
        repo.object_cache_size_if_unset(16 * 1024 * 1024);
        let workdir = repo.workdir().ok_or_else(not_a_repo)?.to_path_buf();
        let workdir = workdir.canonicalize().unwrap_or(workdir);
        Ok(Repo { repo, workdir })
    }

    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    fn read_error(&self, err: impl std::fmt::Display) -> GitError {
        GitError::Read {
            repo: self.workdir.clone(),
            message: err.to_string(),
        }
    }

    /// A path given on the command line (relative to the current directory, or absolute) as a
    /// path inside the repository, with `/` separators.
    pub fn relative_path(&self, path: &Path) -> Result<String> {
        let absolute = std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf());
        // The file may no longer exist in the work tree: canonicalize its directory instead.
        let (dir, name) = (absolute.parent(), absolute.file_name());
        let canonical = match (dir.and_then(|d| d.canonicalize().ok()), name) {
            (Some(dir), Some(name)) => dir.join(name),
            _ => absolute.clone(),
        };
        let relative =
            canonical
                .strip_prefix(&self.workdir)
                .map_err(|_| GitError::OutsideRepository {
                    path: path.to_path_buf(),
                    repo: self.workdir.clone(),
                })?;
        Ok(relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"))
    }

    /// Resolves a REF as git does: a full or short SHA, a tag, a branch, `HEAD~2`.
    pub fn resolve(&self, reference: &str) -> Result<CommitInfo> {
        let unresolved = || GitError::Unresolved {
            reference: reference.to_owned(),
            repo: self.workdir.clone(),
        };
        let id = match self.repo.rev_parse_single(reference) {
            Ok(id) => id,
            Err(err) => {
                let text = err.to_string();
                if text.contains("is ambiguous") {
                    return Err(GitError::Ambiguous {
                        reference: reference.to_owned(),
                        repo: self.workdir.clone(),
                        candidates: candidates(&text),
                    });
                }
                return Err(unresolved());
            }
        };
        let commit = id
            .object()
            .map_err(|e| self.read_error(e))?
            .peel_to_commit()
            .map_err(|_| unresolved())?;
        self.info(&commit)
    }

    fn info(&self, commit: &gix::Commit<'_>) -> Result<CommitInfo> {
        let decoded = commit.decode().map_err(|e| self.read_error(e))?;
        let author = decoded.author().map_err(|e| self.read_error(e))?;
        let seconds = author.time().map(|t| t.seconds).unwrap_or_default();
        Ok(CommitInfo {
            sha: commit.id.to_string(),
            subject: decoded.message().summary().to_string(),
            author: format!("{} <{}>", author.name, author.email),
            time: Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH),
        })
    }

    /// The content of `path` at commit `sha`, or `None` when the commit has no such file.
    pub fn file_at(&self, sha: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let id = gix::ObjectId::from_hex(sha.as_bytes()).map_err(|e| self.read_error(e))?;
        let tree = self.tree_of(id)?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .map_err(|e| self.read_error(e))?
        else {
            return Ok(None);
        };
        let blob = entry.object().map_err(|e| self.read_error(e))?;
        Ok(Some(blob.data.clone()))
    }

    /// The commits reachable from HEAD that changed `path` (added or modified it), newest first,
    /// each with the content the file has there.
    pub fn file_history(&self, path: &str) -> Result<Vec<(CommitInfo, Vec<u8>)>> {
        let head = self.repo.head_id().map_err(|e| self.read_error(e))?;
        // Breadth-first, the cheapest walk; the changes are put in time order at the end.
        let walk = self
            .repo
            .rev_walk([head.detach()])
            .all()
            .map_err(|e| self.read_error(e))?;
        // The blob `path` has in each commit seen so far; a parent is usually the next commit.
        let mut blobs: HashMap<gix::ObjectId, Option<gix::ObjectId>> = HashMap::new();
        let graph = self.repo.commit_graph_if_enabled().ok().flatten();
        let mut changes = Vec::new();
        for info in walk {
            let info = info.map_err(|e| self.read_error(e))?;
            let blob = self.blob_at(info.id, path, graph.as_ref(), &mut blobs)?;
            let Some(blob) = blob else { continue };
            let parents: Vec<gix::ObjectId> = info.parent_ids().map(|p| p.detach()).collect();
            let mut changed = parents.is_empty();
            for parent in parents {
                if self.blob_at(parent, path, graph.as_ref(), &mut blobs)? != Some(blob) {
                    changed = true;
                }
            }
            blobs.remove(&info.id);
            if changed {
                let commit = info.object().map_err(|e| self.read_error(e))?;
                let data = self
                    .repo
                    .find_object(blob)
                    .map_err(|e| self.read_error(e))?
                    .data
                    .clone();
                changes.push((self.info(&commit)?, data));
            }
        }
        changes.sort_by_key(|(commit, _)| std::cmp::Reverse(commit.time));
        Ok(changes)
    }

    fn tree_of(&self, commit: gix::ObjectId) -> Result<gix::Tree<'_>> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.read_error(e))?;
        commit.tree().map_err(|e| self.read_error(e))
    }

    /// The blob `path` has in `commit`, remembered per commit. The commit-graph, when the
    /// repository has one, gives the root tree without inflating the commit.
    fn blob_at(
        &self,
        commit: gix::ObjectId,
        path: &str,
        graph: Option<&gix::commitgraph::Graph>,
        cache: &mut HashMap<gix::ObjectId, Option<gix::ObjectId>>,
    ) -> Result<Option<gix::ObjectId>> {
        if let Some(blob) = cache.get(&commit) {
            return Ok(*blob);
        }
        let root = graph
            .and_then(|g| g.commit_by_id(commit))
            .map(|c| c.root_tree_id().to_owned());
        let tree = match root {
            Some(root) => self.repo.find_tree(root).map_err(|e| self.read_error(e))?,
            None => self.tree_of(commit)?,
        };
        let entry = tree
            .lookup_entry_by_path(path)
            .map_err(|e| self.read_error(e))?;
        let blob = entry.filter(|e| e.mode().is_blob()).map(|e| e.object_id());
        cache.insert(commit, blob);
        Ok(blob)
    }

    /// Fails when `path` has changes that are not committed.
    pub fn ensure_clean(&self, path: &str) -> Result<()> {
        let status = self.git(&["status", "--porcelain", "--", path])?;
        if !status.trim().is_empty() {
            return Err(GitError::Dirty {
                path: path.to_owned(),
            });
        }
        Ok(())
    }

    /// Writes `content` to `path` and commits that file alone with `message`, through the `git`
    /// command. Returns the new commit.
    pub fn commit_file(&self, path: &str, content: &[u8], message: &str) -> Result<CommitInfo> {
        std::fs::write(self.workdir.join(path), content).map_err(|e| self.read_error(e))?;
        self.git(&["add", "--", path])?;
        self.git(&["commit", "--quiet", "-m", message, "--", path])?;
        let sha = self.git(&["rev-parse", "HEAD"])?;
        Repo::discover(&self.workdir)?.resolve(sha.trim())
    }

    fn git(&self, args: &[&str]) -> Result<String> {
        let output = Command::new("git")
            .current_dir(&self.workdir)
            .args(args)
            .output()
            .map_err(|e| self.read_error(format!("could not run git: {e}")))?;
        if !output.status.success() {
            return Err(GitError::Command {
                args: args.join(" "),
                repo: self.workdir.clone(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// The candidate lines of gix's "Short id ... is ambiguous. Candidates are:" message.
fn candidates(message: &str) -> Vec<String> {
    message
        .lines()
        .skip(1)
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}
