//! The repository and manifest a command maps revisions to commits with.

use std::path::{Path, PathBuf};

use anyhow::Result;
use rollout_core::{History, Origin};
use rollout_git::{CommitInfo, ManifestHistory, Mapping, Repo, map_commits};

use crate::hints::{Hint, hinted};

/// The repository (given with `--repo`, or the one around the current directory) and the
/// manifest file in it (`--path`).
#[derive(Debug, Default)]
pub struct GitContext {
    pub repo: Option<Repo>,
    /// The manifest's path inside the repository.
    pub path: Option<String>,
    /// The directory `--repo` named, when it named one.
    pub repo_dir: Option<PathBuf>,
    /// The kustomize overlay `--kustomize` names, inside the repository.
    pub overlay: Option<String>,
}

impl GitContext {
    /// Opens what the flags name. Without `--repo`, a current directory outside any repository
    /// just means no repository: every command works without one. A relative `--path` is
    /// relative to `--repo DIR` when that is given (as `git -C DIR` reads paths), else to the
    /// current directory.
    pub fn open(repo: Option<&PathBuf>, path: Option<&PathBuf>) -> Result<Self> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let repo_dir = repo;
        let repo = match repo {
            Some(dir) => Some(Repo::discover(dir)?),
            None => Repo::discover(&cwd).ok(),
        };
        let path = match (path, &repo) {
            (Some(path), Some(repo)) => {
                let base = repo_dir.map_or(cwd.as_path(), PathBuf::as_path);
                Some(repo.relative_path(path, base)?)
            }
            (Some(path), None) => {
                return Err(hinted(
                    format_args!(
                        "--path {} needs a git repository, and the current directory is not in one",
                        path.display()
                    ),
                    Hint::PassRepo,
                ));
            }
            (None, _) => None,
        };
        Ok(GitContext {
            repo,
            path,
            repo_dir: repo_dir.cloned(),
            overlay: None,
        })
    }

    /// The repository, or an error saying `what` needs one.
    pub fn require_repo(&self, what: &str) -> Result<&Repo> {
        self.repo.as_ref().ok_or_else(|| {
            hinted(
                format_args!(
                    "{what} needs a git repository, and the current directory is not in one"
                ),
                Hint::PassRepo,
            )
        })
    }

    /// Takes `overlay` (relative to `--repo DIR`) as the kustomize overlay to trace.
    pub fn overlay(&mut self, overlay: &Path) -> Result<()> {
        let repo = self.require_repo("--kustomize")?;
        let base = self.repo_dir.clone().unwrap_or_default();
        self.overlay = Some(repo.relative_path(overlay, &base)?);
        Ok(())
    }

    /// The manifest's history, when `--path` names one.
    pub fn manifests(&self, history: &History) -> Result<Option<ManifestHistory>> {
        let (Some(repo), Some(path)) = (&self.repo, &self.path) else {
            return Ok(None);
        };
        Ok(Some(ManifestHistory::read(repo, path, history)?))
    }

    /// The history of the file kustomize took the workload from (`origin`, its
    /// `config.kubernetes.io/origin` path, relative to the `--repo` directory once its leading
    /// `../` are dropped), when `--repo` names a repository and `--path` names no file. A remote
    /// base's origin is not in it.
    pub fn origin_manifests(
        &self,
        history: &History,
        origin: Option<&Origin>,
    ) -> Result<Option<ManifestHistory>> {
        let (Some(repo), Some(dir), None) = (&self.repo, &self.repo_dir, &self.path) else {
            return Ok(None);
        };
        let Some(origin) = origin.filter(|o| o.repo.is_none()) else {
            return Ok(None);
        };
        // Rooted at the kustomization built: an overlay's base is `../../base/app.yaml`, taken
        // from the top of the repository as `base/app.yaml`.
        let mut within = std::path::Path::new(&origin.path);
        while let Ok(rest) = within.strip_prefix("..") {
            within = rest;
        }
        let path = repo.relative_path(within, dir)?;
        Ok(Some(ManifestHistory::read(repo, &path, history)?))
    }

    /// The commit of each revision that has one, and warnings about manifest versions that had
    /// to be skipped, for the command to show.
    pub fn map(&self, history: &History, manifests: Option<&ManifestHistory>) -> Mapping {
        map_commits(history, self.repo.as_ref(), manifests)
    }

    /// Resolves a REF in the repository.
    pub fn resolve(&self, reference: &str) -> Result<CommitInfo> {
        self.require_repo(&format!("resolving {reference:?}"))?
            .resolve(reference)
            .map_err(Into::into)
    }
}
