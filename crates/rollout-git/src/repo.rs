//! Reading a git repository with gix, and writing commits with the `git` command (so hooks,
//! signing and identity work as the user configured them).

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use gix::ObjectId;
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;

use jiff::Timestamp;

use crate::bloom::{ChangedPaths, CommitGraph};
use crate::pack::{PackError, PackedVersions};
use crate::text::Text;

/// What reading or writing the repository can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not in a git repository")]
    NotARepository { path: PathBuf },
    #[error("{reference:?} does not name a commit in {repo}")]
    Unresolved { reference: String, repo: PathBuf },
    #[error("short SHA {reference:?} is ambiguous in {repo}: it could be {}", .candidates.join(", "))]
    Ambiguous {
        reference: String,
        repo: PathBuf,
        candidates: Vec<String>,
    },
    #[error("{path} is not inside the repository {repo}")]
    OutsideRepository { path: PathBuf, repo: PathBuf },
    #[error("{path} is the root of the repository {repo}, not a file in it")]
    RepositoryRoot { path: PathBuf, repo: PathBuf },
    #[error("{path} is not in the repository {repo}: no commit has it")]
    NotInRepository { path: String, repo: PathBuf },
    #[error("{path} never defines {workload} in its {commits} commits")]
    NotDefined {
        path: String,
        workload: String,
        commits: usize,
    },
    #[error("{path} is a symbolic link")]
    Symlink { path: String },
    #[error("{path} has uncommitted changes")]
    Dirty { path: String },
    #[error("could not read the repository {repo}: {message}")]
    Read { repo: PathBuf, message: String },
    #[error("could not read blob {id} from the packs of {repo}")]
    Pack {
        repo: PathBuf,
        id: String,
        #[source]
        source: PackError,
    },
    #[error("`git {args}` failed in {repo}: {reason}")]
    Command {
        args: String,
        repo: PathBuf,
        /// The first line git or its hook printed that says why.
        reason: String,
    },
    /// The work tree holds the new content of `path`, and nothing is staged.
    #[error("git could not commit {path}: {reason}")]
    CommitFailed { path: String, reason: String },
}

type Result<T, E = GitError> = std::result::Result<T, E>;

/// The largest allocation gix may make from a size an object's header gives, before it reads
/// the object: a larger object is an error, where trusting the header could abort the process.
/// What gix reads is larger than what the pack reader itself keeps (32 MB at most).
const ALLOC_LIMIT: usize = 64 << 20;

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

/// What [`Repo::write_commit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The file already had the content: nothing was written or committed.
    Unchanged,
    /// The new commit.
    Committed(CommitInfo),
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
        let limit = format!("gitoxide.objects.allocLimit={ALLOC_LIMIT}");
        let options = |trust| {
            use gix::sec::trust::DefaultForLevel;
            gix::open::Options::default_for_level(trust).config_overrides([limit.as_str()])
        };
        let trust = gix::sec::trust::Mapping {
            full: options(gix::sec::Trust::Full),
            reduced: options(gix::sec::Trust::Reduced),
        };
        let mut repo: gix::Repository =
            gix::ThreadSafeRepository::discover_opts(dir, Default::default(), trust)
                .map_err(|_| not_a_repo())?
                .into();
        // Enough for the commits and trees of a walk; blobs are read once each.
        repo.object_cache_size_if_unset(4 * 1024 * 1024);
        // Root trees are long delta chains, one per commit: 64 cached bases (gix's default)
        // let every lookup inflate its chain again.
        repo.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::StaticLinkedList::<1024>::new(
                6 * 1024 * 1024,
            ))
        });
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

    /// A path given on the command line as a path inside the repository, with `/` separators.
    /// A relative `path` is relative to `base` (the directory given as the repository, as
    /// `git -C DIR` reads paths, or else the current directory).
    pub fn relative_path(&self, path: &Path, base: &Path) -> Result<String> {
        let absolute = base.join(path);
        let absolute = if absolute.is_absolute() {
            absolute
        } else {
            std::env::current_dir()
                .map(|cwd| cwd.join(&absolute))
                .unwrap_or(absolute)
        };
        let outside = || GitError::OutsideRepository {
            path: path.to_path_buf(),
            repo: self.workdir.clone(),
        };
        // The file may no longer exist in the work tree: canonicalize its directory instead.
        let canonical = match absolute.canonicalize() {
            Ok(canonical) if canonical.is_dir() => canonical,
            _ => {
                let (dir, name) = (absolute.parent(), absolute.file_name());
                match (dir.and_then(|d| d.canonicalize().ok()), name) {
                    (Some(dir), Some(name)) => dir.join(name),
                    _ => absolute.clone(),
                }
            }
        };
        let relative = canonical
            .strip_prefix(&self.workdir)
            .map_err(|_| outside())?;
        if relative.as_os_str().is_empty() {
            return Err(GitError::RepositoryRoot {
                path: path.to_path_buf(),
                repo: self.workdir.clone(),
            });
        }
        Ok(relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"))
    }

    /// Resolves a REF as `git rev-parse REF^{commit}` does: a full or short SHA (a short SHA
    /// that is also the prefix of a tree or blob still names its commit), a tag, a branch,
    /// `HEAD~2`.
    pub fn resolve(&self, reference: &str) -> Result<CommitInfo> {
        let unresolved = || GitError::Unresolved {
            reference: reference.to_owned(),
            repo: self.workdir.clone(),
        };
        let spec = format!("{reference}^{{commit}}");
        let id = match self.repo.rev_parse_single(spec.as_str()) {
            Ok(id) => id,
            Err(err) => {
                use gix::revision::spec::parse::Error as Parse;
                return Err(match err.downcast_any_ref::<Parse>() {
                    Some(
                        Parse::AmbiguousPrefix { candidates, .. }
                        | Parse::AmbiguousRefAndObject { candidates, .. },
                    ) => GitError::Ambiguous {
                        reference: reference.to_owned(),
                        repo: self.workdir.clone(),
                        candidates: candidates
                            .iter()
                            .map(|(prefix, info)| format!("{prefix} {info}"))
                            .collect(),
                    },
                    _ => unresolved(),
                });
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

    /// The commit `commit` reverts, when its message is git's revert message (`This reverts
    /// commit <sha>.`, as `git revert` writes it), resolved in this repository.
    pub fn reverted_by(&self, commit: &CommitInfo) -> Result<Option<CommitInfo>> {
        let id = ObjectId::from_hex(commit.sha.as_bytes()).map_err(|e| self.read_error(e))?;
        let object = self.repo.find_commit(id).map_err(|e| self.read_error(e))?;
        let decoded = object.decode().map_err(|e| self.read_error(e))?;
        let message = String::from_utf8_lossy(decoded.message);
        let reverted = message.lines().find_map(|line| {
            let sha = line.trim().strip_prefix("This reverts commit ")?;
            let sha = sha.strip_suffix('.').unwrap_or(sha);
            sha.bytes().all(|b| b.is_ascii_hexdigit()).then_some(sha)
        });
        match reverted {
            Some(sha) => self.resolve(sha).map(Some),
            None => Ok(None),
        }
    }

    /// The content of `path` at commit `sha`, or `None` when the commit has no such file.
    pub fn file_at(&self, sha: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let id = ObjectId::from_hex(sha.as_bytes()).map_err(|e| self.read_error(e))?;
        let tree = self.tree_of(id)?;
        let mut lookup = PathLookup::new(path);
        match lookup.blob(self, tree.id)? {
            Some(blob) => Ok(Some(self.blob(blob)?)),
            None => Ok(None),
        }
    }

    /// Calls `visit` with each commit reachable from HEAD that changed `path` (added it, or gave
    /// it content that none of its parents has, as `git log -- PATH` lists them), newest first by
    /// commit time, with the file's content there, until `visit` breaks. Versions are read from
    /// the packs as the pieces their deltas make ([`Text`]), never as one buffer each. The
    /// commit-graph, when the repository has one, gives parents and root trees without
    /// inflating commits, and its changed-path Bloom filters, when it has them, skip reading the
    /// trees of most commits that did not change `path`.
    pub fn for_each_version(
        &self,
        path: &str,
        mut visit: impl FnMut(CommitInfo, &Text) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        let Ok(head) = self.repo.head_id() else {
            return Ok(());
        };
        let (graph, filters) = self.commit_graph(path);
        let walk = self
            .repo
            .rev_walk([head.detach()])
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .use_commit_graph(graph.is_some())
            .all()
            .map_err(|e| self.read_error(e))?;
        let graph = graph.as_ref();
        let objects = self.repo.objects.store_ref().path();
        let mut lookup = PathLookup::new(path);
        let mut versions = PackedVersions::open(objects, self.repo.object_hash());
        // The blob of `path` in commits seen as parents but not yet visited themselves.
        let mut pending: HashMap<ObjectId, Option<ObjectId>> = HashMap::new();
        for info in walk {
            let info = info.map_err(|e| self.read_error(e))?;
            let known = pending.remove(&info.id);
            // A commit whose filter proves it left `path` as its first parent has it made no
            // version, and its first parent has the same blob.
            let unchanged = filters.as_ref().zip(graph).is_some_and(|(filters, graph)| {
                let position = graph.lookup(info.id);
                position.is_some_and(|at| filters.surely_unchanged(at.0))
            });
            if unchanged {
                if let (Some(blob), Some(parent)) = (known, info.parent_ids().next()) {
                    pending.entry(parent.detach()).or_insert(blob);
                }
                continue;
            }
            let blob = match known {
                Some(blob) => blob,
                None => lookup.blob(self, self.root_tree(info.id, graph)?)?,
            };
            let Some(blob) = blob else { continue };
            let parents = info.parent_ids().map(|p| p.detach());
            if self.differs_from_parents(blob, parents, &mut pending, &mut lookup, graph)? {
                let commit = info.object().map_err(|e| self.read_error(e))?;
                let content = self.version(&mut versions, blob)?;
                if visit(self.info(&commit)?, &content)?.is_break() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The commit-graph, when the repository has one whose files are whole, and its
    /// changed-path filters for `path`, when it has them. A commit-graph with a file that is not
    /// whole is not used at all: its parents and trees could be wrong too.
    fn commit_graph(&self, path: &str) -> (Option<gix::commitgraph::Graph>, Option<ChangedPaths>) {
        let info = self.repo.objects.store_ref().path().join("info");
        let CommitGraph::Whole { commits, filters } = CommitGraph::open(&info, path) else {
            return (None, None);
        };
        // Files that do not hold as many commits are not the ones gix read.
        let graph = self.repo.commit_graph_if_enabled().ok().flatten();
        let graph = graph.filter(|g| g.num_commits() as usize == commits);
        let filters = filters.filter(|_| graph.is_some());
        (graph, filters)
    }

    /// The content of `blob`: read from the packs as pieces when they hold it, else by gix.
    fn version(&self, versions: &mut PackedVersions, blob: ObjectId) -> Result<Text> {
        let read = versions.read(&blob).map_err(|source| GitError::Pack {
            repo: self.workdir.clone(),
            id: blob.to_string(),
            source,
        })?;
        match read {
            Some(content) => Ok(content),
            None => Ok(Text::whole(self.blob(blob)?)),
        }
    }

    /// Whether `blob`, the file in a commit, differs from the file in every one of `parents`
    /// (so the commit made a version of it). Each parent's blob is looked up once and kept in
    /// `pending`, for when the walk reaches that parent.
    fn differs_from_parents(
        &self,
        blob: ObjectId,
        parents: impl Iterator<Item = ObjectId>,
        pending: &mut HashMap<ObjectId, Option<ObjectId>>,
        lookup: &mut PathLookup<'_>,
        graph: Option<&gix::commitgraph::Graph>,
    ) -> Result<bool> {
        let mut changed = true;
        for parent in parents {
            let theirs = match pending.get(&parent) {
                Some(theirs) => *theirs,
                None => {
                    let theirs = lookup.blob(self, self.root_tree(parent, graph)?)?;
                    pending.insert(parent, theirs);
                    theirs
                }
            };
            changed &= theirs != Some(blob);
        }
        Ok(changed)
    }

    fn blob(&self, id: ObjectId) -> Result<Vec<u8>> {
        let mut blob = self.repo.find_blob(id).map_err(|e| self.read_error(e))?;
        Ok(blob.take_data())
    }

    fn tree_of(&self, commit: ObjectId) -> Result<gix::Tree<'_>> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.read_error(e))?;
        commit.tree().map_err(|e| self.read_error(e))
    }

    fn root_tree(
        &self,
        commit: ObjectId,
        graph: Option<&gix::commitgraph::Graph>,
    ) -> Result<ObjectId> {
        if let Some(root) = graph.and_then(|g| g.commit_by_id(commit)) {
            return Ok(root.root_tree_id().to_owned());
        }
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.read_error(e))?;
        commit
            .tree_id()
            .map(|id| id.detach())
            .map_err(|e| self.read_error(e))
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

    /// Refuses a `path` that is a symbolic link, or that leaves the work tree (through `..` or
    /// a linked directory): only the file itself may be written.
    pub fn ensure_writable(&self, path: &str) -> Result<PathBuf> {
        let file = self.workdir.join(path);
        let outside = || GitError::OutsideRepository {
            path: PathBuf::from(path),
            repo: self.workdir.clone(),
        };
        if Path::new(path)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(outside());
        }
        if file
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(GitError::Symlink {
                path: path.to_owned(),
            });
        }
        let dir = file.parent().and_then(|d| d.canonicalize().ok());
        match dir {
            Some(dir) if dir.starts_with(&self.workdir) => Ok(file),
            _ => Err(outside()),
        }
    }

    /// Writes `content` to `path` and commits that file alone with `message`, through the `git`
    /// command. A file that already has `content` is left alone: [`Written::Unchanged`]. When
    /// `git commit` fails (a hook refused it), the index is restored, so nothing stays staged,
    /// and the error says why in one line.
    pub fn write_commit(&self, path: &str, content: &[u8], message: &str) -> Result<Written> {
        let file = self.ensure_writable(path)?;
        if std::fs::read(&file).is_ok_and(|current| current == content) {
            return Ok(Written::Unchanged);
        }
        std::fs::write(&file, content).map_err(|e| self.read_error(e))?;
        self.git(&["add", "--", path])?;
        if let Err(err) = self.git(&["commit", "--quiet", "-m", message, "--", path]) {
            self.git(&["reset", "--quiet", "--", path])?;
            let reason = match err {
                GitError::Command { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(GitError::CommitFailed {
                path: path.to_owned(),
                reason,
            });
        }
        let sha = self.git(&["rev-parse", "HEAD"])?;
        let written = Repo::discover(&self.workdir)?.resolve(sha.trim())?;
        Ok(Written::Committed(written))
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
                reason: first_line(&String::from_utf8_lossy(&output.stderr))
                    .or_else(|| first_line(&String::from_utf8_lossy(&output.stdout)))
                    .unwrap_or_else(|| format!("it exited with {}", output.status)),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// The first non-empty line of what git printed, without git's `error: `/`fatal: ` prefix.
fn first_line(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = ["error: ", "fatal: "]
        .iter()
        .fold(line, |l, prefix| l.strip_prefix(prefix).unwrap_or(l));
    Some(line.to_owned())
}

/// Finds the blob at one path in many trees, remembering each tree seen on the way: commits
/// that did not touch a directory share its tree, so most lookups stop at the root.
struct PathLookup<'p> {
    components: Vec<&'p str>,
    /// (depth, tree) to the blob `path` has below that tree.
    seen: HashMap<(usize, ObjectId), Option<ObjectId>>,
}

impl<'p> PathLookup<'p> {
    fn new(path: &'p str) -> Self {
        PathLookup {
            components: path.split('/').filter(|c| !c.is_empty()).collect(),
            seen: HashMap::new(),
        }
    }

    fn blob(&mut self, repo: &Repo, root: ObjectId) -> Result<Option<ObjectId>> {
        self.below(repo, 0, root)
    }

    fn below(&mut self, repo: &Repo, depth: usize, tree: ObjectId) -> Result<Option<ObjectId>> {
        if let Some(found) = self.seen.get(&(depth, tree)) {
            return Ok(*found);
        }
        let Some(name) = self.components.get(depth) else {
            return Ok(None);
        };
        let object = repo.repo.find_tree(tree).map_err(|e| repo.read_error(e))?;
        let entry = object.find_entry(*name).map(|e| (e.mode(), e.object_id()));
        let last = depth + 1 == self.components.len();
        let found = match entry {
            Some((mode, id)) if last && mode.is_blob() => Some(id),
            Some((mode, id)) if !last && mode.is_tree() => self.below(repo, depth + 1, id)?,
            _ => None,
        };
        self.seen.insert((depth, tree), found);
        Ok(found)
    }
}
