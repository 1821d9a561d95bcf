//! `history --kustomize OVERLAY`: revisions traced through a kustomize overlay, by rendering it
//! at each commit that changed the overlay or one of its local bases, newest first, and
//! matching the workload's rendered pod template with the revisions, as `--path` matches a file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow};
use rollout_core::History;
use rollout_git::{
    CommitInfo, ManifestHistory, Repo, manifest_objects, revision_with_content, workload_template,
};
use serde_json::Value;

use crate::commands::apply::manifests::render_kustomization;

/// The files a directory's kustomization may be in, as kustomize looks for them.
const KUSTOMIZATIONS: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Traces the revisions of `history` through the overlay `overlay` (a directory inside `repo`,
/// with `/` separators).
///
/// Renders are the cost (a `kubectl kustomize` each), so they run side by side, as many at a
/// time as there are cores, in batches of the newest commits not yet looked at; a commit whose
/// trees under the overlay and its bases equal an earlier one's (a revert) takes that render.
pub fn trace(repo: &Repo, overlay: &str, history: &History) -> Result<ManifestHistory> {
    let root = repo.workdir();
    let dirs = local_dirs(root, overlay)?;
    let width = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_RENDERS));
    let mut matcher = Runs::new(history);
    let (mut warnings, mut rendered) = (Vec::new(), 0);
    let mut renders: HashMap<String, Rendered> = HashMap::new();
    for batch in commits_touching(root, &dirs)?.chunks(width) {
        if matcher.done() {
            break;
        }
        let mut commits = Vec::new();
        for sha in batch {
            let trees = trees_at(root, sha, &dirs)?;
            if !trees.contains_key(overlay) {
                // Older than the overlay: nothing to render.
                continue;
            }
            commits.push((repo.resolve(sha)?, trees));
        }
        render_new(root, overlay, &commits, &mut renders);
        for (commit, trees) in commits {
            if matcher.done() {
                break;
            }
            let text = match &renders[&tree_key(&trees)] {
                Ok(text) => text,
                Err(err) => {
                    warnings.push(format!(
                        "skipping commit {} ({}): {err}",
                        commit.short(),
                        commit.subject
                    ));
                    continue;
                }
            };
            rendered += 1;
            let template = workload_template(text.as_bytes(), history.kind.kind(), &history.name)
                .map_err(|e| {
                anyhow!(
                    "the overlay {overlay} rendered at {} is not valid YAML: {e}",
                    commit.short()
                )
            })?;
            matcher.feed(commit, template.as_ref());
        }
    }
    if rendered == 0 && !history.revisions.is_empty() {
        return Err(anyhow!(
            "no commit of {} renders the overlay {overlay}",
            root.display()
        ));
    }
    Ok(ManifestHistory::from_commits(
        overlay.to_owned(),
        matcher.commits,
        warnings,
    ))
}

/// At most this many renders run at once, whatever the cores.
const MAX_RENDERS: usize = 8;

/// An overlay's rendering at a commit, or why it failed (with its causes).
type Rendered = std::result::Result<String, String>;

/// The tree id of each of the overlay's directories a commit has, by directory.
type Trees = BTreeMap<String, String>;

/// What makes two commits render alike: their trees under the overlay and its bases.
fn tree_key(trees: &Trees) -> String {
    trees
        .iter()
        .map(|(dir, id)| format!("{id} {dir}\n"))
        .collect()
}

/// Renders, side by side, each of `commits` whose trees have no rendering in `renders` yet.
fn render_new(
    root: &Path,
    overlay: &str,
    commits: &[(CommitInfo, Trees)],
    renders: &mut HashMap<String, Rendered>,
) {
    let mut todo: BTreeMap<String, (&str, Vec<String>)> = BTreeMap::new();
    for (commit, trees) in commits {
        let key = tree_key(trees);
        if !renders.contains_key(&key) {
            let dirs = trees.keys().cloned().collect();
            todo.entry(key).or_insert((commit.sha.as_str(), dirs));
        }
    }
    std::thread::scope(|scope| {
        let running: Vec<_> = todo
            .into_iter()
            .map(|(key, (sha, dirs))| {
                let render = scope.spawn(move || {
                    render_at(root, sha, &dirs, overlay).map_err(|e| format!("{e:#}"))
                });
                (key, render)
            })
            .collect();
        for (key, render) in running {
            let rendered = render
                .join()
                .unwrap_or_else(|_| Err("its render stopped unexpectedly".to_owned()));
            renders.insert(key, rendered);
        }
    });
}

/// The overlay and every local base it reaches (`resources`, `bases` and `components` entries
/// that are directories in the work tree), relative to the repository's top, as they are now.
fn local_dirs(root: &Path, overlay: &str) -> Result<Vec<String>> {
    let mut found = BTreeSet::new();
    let mut pending = vec![overlay.to_owned()];
    while let Some(dir) = pending.pop() {
        if !found.insert(dir.clone()) {
            continue;
        }
        let Some(text) = KUSTOMIZATIONS
            .iter()
            .find_map(|f| std::fs::read_to_string(root.join(&dir).join(f)).ok())
        else {
            if dir == overlay {
                return Err(anyhow!(
                    "{} holds no kustomization.yaml",
                    root.join(&dir).display()
                ));
            }
            continue;
        };
        let objects = manifest_objects(&text)
            .map_err(|e| anyhow!("{dir}/kustomization.yaml is not valid YAML: {e}"))?;
        for entry in objects.iter().flat_map(entries) {
            if entry.contains("://") || entry.starts_with("git@") {
                continue;
            }
            let Some(base) = within(&dir, entry) else {
                continue;
            };
            if root.join(&base).is_dir() {
                pending.push(base);
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// The `resources`, `bases` and `components` entries of a kustomization.
fn entries(kustomization: &Value) -> impl Iterator<Item = &str> {
    ["resources", "bases", "components"]
        .into_iter()
        .filter_map(|field| kustomization.get(field).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
}

/// `dir/entry` with `.` and `..` resolved, or `None` when it leaves the repository.
fn within(dir: &str, entry: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in entry.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The commits reachable from HEAD that changed any of `dirs`, newest first: `git log -- DIRS`.
fn commits_touching(root: &Path, dirs: &[String]) -> Result<Vec<String>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["log", "--format=%H", "--"])
        .args(dirs)
        .output()
        .context("could not run git to list the overlay's commits")?;
    if !output.status.success() {
        return Err(anyhow!(
            "git log of {}: {}",
            dirs.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The tree id of each of `dirs` that commit `sha` has: `git ls-tree`.
fn trees_at(root: &Path, sha: &str, dirs: &[String]) -> Result<Trees> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-tree", "-z", sha, "--"])
        .args(dirs)
        .output()
        .context("could not run git ls-tree")?;
    if !output.status.success() {
        return Err(anyhow!(
            "git ls-tree of {sha}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let listed = String::from_utf8_lossy(&output.stdout);
    // Each entry is `<mode> <type> <id>\t<path>`, NUL-terminated.
    let trees = listed
        .split('\0')
        .filter_map(|entry| {
            let (info, path) = entry.split_once('\t')?;
            let mut fields = info.split(' ');
            let (_mode, kind, id) = (fields.next()?, fields.next()?, fields.next()?);
            (kind == "tree" && dirs.iter().any(|d| d == path))
                .then(|| (path.to_owned(), id.to_owned()))
        })
        .collect();
    Ok(trees)
}

/// The overlay rendered from the tree of commit `sha`: `dirs` written out of git into a scratch
/// directory (`git archive`), then built there.
fn render_at(root: &Path, sha: &str, dirs: &[String], overlay: &str) -> Result<String> {
    let scratch = tempfile::tempdir().context("could not make a scratch directory")?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", sha, "--"])
        .args(dirs)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("could not run git archive")?;
    let tar = archive
        .stdout
        .take()
        .map(Stdio::from)
        .unwrap_or_else(Stdio::null);
    let unpacked = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(scratch.path())
        .stdin(tar)
        .stderr(Stdio::null())
        .status();
    let archived = archive.wait()?;
    if !unpacked.is_ok_and(|s| s.success()) || !archived.success() {
        return Err(anyhow!(
            "its tree under {} could not be read",
            dirs.join(", ")
        ));
    }
    render_kustomization(&scratch.path().join(overlay))
}

/// The ordered match of `--path`, over rendered versions: each revision takes the oldest commit
/// of the newest run of versions with its template; a version matching an older revision
/// decides every newer one still unmatched as having none.
struct Runs<'h> {
    history: &'h History,
    commits: BTreeMap<u64, CommitInfo>,
    /// The revision the newer version matched, while the run goes on.
    run: Option<u64>,
    /// Revisions at or above this are decided.
    decided_from: u64,
}

impl<'h> Runs<'h> {
    fn new(history: &'h History) -> Self {
        let top = history
            .revisions
            .iter()
            .map(|r| r.number)
            .max()
            .map_or(0, |n| n + 1);
        Runs {
            history,
            commits: BTreeMap::new(),
            run: None,
            decided_from: top,
        }
    }

    fn done(&self) -> bool {
        self.run.is_none()
            && self
                .history
                .revisions
                .iter()
                .all(|r| r.number >= self.decided_from)
    }

    fn feed(&mut self, commit: CommitInfo, template: Option<&Value>) {
        let matched = template.and_then(|t| revision_with_content(self.history, t));
        match matched {
            Some(number) if self.run == Some(number) => {
                self.commits.insert(number, commit);
            }
            Some(number) if number < self.decided_from => {
                self.commits.insert(number, commit);
                self.run = Some(number);
                self.decided_from = number;
            }
            _ => self.run = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_is_resolved_from_its_kustomization() {
        assert_eq!(
            within("overlays/prod", "../../base").as_deref(),
            Some("base")
        );
        assert_eq!(
            within("overlays/prod", "./extra/").as_deref(),
            Some("overlays/prod/extra")
        );
        assert_eq!(within("app", "../../outside"), None);
        assert_eq!(within("app", ".."), None);
        let kustomization = serde_json::json!({
            "resources": ["app.yaml", "../base"], "bases": ["../old"], "components": ["../c"],
            "patches": [{"path": "p.yaml"}],
        });
        assert_eq!(
            entries(&kustomization).collect::<Vec<_>>(),
            ["app.yaml", "../base", "../old", "../c"]
        );
    }
}
