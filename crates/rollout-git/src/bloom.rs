//! git's changed-path Bloom filters, read from the commit-graph (`git commit-graph write
//! --changed-paths`), which gix does not read. A commit's filter holds every path its tree diff
//! against its first parent changed, with each leading directory; a path missing from it was
//! surely not changed, so the walk skips reading that commit's trees (as `git log -- PATH` does).
//!
//! The format is git's `Documentation/gitformat-commit-graph.txt` (chunks `OIDF`, `OIDL`, `BIDX`
//! and `BDAT`) and `bloom.c` (the hashes): murmur3 with seeds 0x293ae76f and 0x7e646e2c, the
//! number of hashes and the hash version taken from the `BDAT` header.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The changed-path filters of a commit-graph (a single file or a split chain), with the keys of
/// one path. Commits are named by their position in the commit-graph, as gix's
/// [`gix::commitgraph::Graph`] numbers them, so no commit id is looked up here, and only the
/// filters are read from the files.
#[derive(Debug)]
pub(crate) struct ChangedPaths {
    files: Vec<FilterFile>,
}

impl ChangedPaths {
    /// The filters of the commit-graph in `info` (the repository's `objects/info`), for `path`
    /// (with `/` separators), read from the files git and gix read: `commit-graph` when there
    /// is one, else the chain in `commit-graphs`. `commits` is how many commits gix found in
    /// them: files that do not hold as many are not the ones gix read. `None` when there is no
    /// commit-graph, or none of its files has filters that can answer for `path`.
    pub fn open(info: &Path, path: &str, commits: u32) -> Option<Self> {
        let single = info.join("commit-graph");
        let files: Vec<PathBuf> = if single.is_file() {
            vec![single]
        } else {
            let chain = info.join("commit-graphs");
            let list = std::fs::read_to_string(chain.join("commit-graph-chain")).ok()?;
            list.lines()
                .map(|hash| chain.join(format!("graph-{}.graph", hash.trim())))
                .collect()
        };
        let files: Vec<FilterFile> = files
            .iter()
            .map(|file| FilterFile::read(file, path))
            .collect::<Option<_>>()?;
        let total: usize = files.iter().map(|f| f.commits).sum();
        let usable = files.iter().any(|f| f.filters.is_some());
        (usable && total == commits as usize).then_some(ChangedPaths { files })
    }

    /// True when the filter of the commit at `position` proves that its diff against its first
    /// parent (against the empty tree for a root commit) leaves the path unchanged; false when
    /// it may have changed it, or the commit has no usable filter.
    pub fn surely_unchanged(&self, position: u32) -> bool {
        let mut position = position as usize;
        for file in &self.files {
            if position < file.commits {
                return file
                    .filters
                    .as_ref()
                    .is_some_and(|f| f.surely_unchanged(position));
            }
            position -= file.commits;
        }
        false
    }
}

/// One file of a commit-graph: how many commits it holds, and their filters if it has them.
#[derive(Debug)]
struct FilterFile {
    commits: usize,
    filters: Option<Filters>,
}

/// The `BIDX` and `BDAT` chunks of a commit-graph file.
#[derive(Debug)]
struct Filters {
    /// For each commit, the end of its filter in `data`.
    index: Vec<u8>,
    /// The filter data: `BDAT` without its 12-byte header.
    data: Vec<u8>,
    /// For the path and each of its leading directories: the bit positions to test, unreduced.
    keys: Vec<Vec<u32>>,
}

const SEEDS: [u32; 2] = [0x293a_e76f, 0x7e64_6e2c];

impl FilterFile {
    /// Reads the header, the chunk table, the commit count and the filters of `file`; `None`
    /// when it is not a commit-graph this reader knows.
    fn read(file: &Path, path: &str) -> Option<Self> {
        let mut file = File::open(file).ok()?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header).ok()?;
        if header[..4] != *b"CGPH" || header[4] != 1 || !matches!(header[5], 1 | 2) {
            return None;
        }
        let mut table = vec![0u8; 12 * (usize::from(header[6]) + 1)];
        file.read_exact(&mut table).ok()?;
        // A chunk must lie inside the file: its bounds say how much is read.
        let size = file.metadata().ok()?.len();
        let chunk = |id: &[u8; 4]| -> Option<Range<u64>> {
            let entry = table.chunks_exact(12).position(|e| e[..4] == *id)?;
            let (start, end) = (
                be64(&table, 12 * entry + 4)?,
                be64(&table, 12 * entry + 16)?,
            );
            (start <= end && end <= size).then_some(start..end)
        };
        let fanout = chunk(b"OIDF").filter(|r| r.end - r.start == 4 * 256)?;
        let last = read_range(&mut file, fanout.end - 4..fanout.end)?;
        let commits = usize::try_from(be32(&last, 0)?).ok()?;
        let filters = match (chunk(b"BIDX"), chunk(b"BDAT")) {
            (Some(index), Some(data)) => Filters::read(&mut file, index, data, commits, path),
            _ => None,
        };
        Some(FilterFile { commits, filters })
    }
}

impl Filters {
    fn read(
        file: &mut File,
        index: Range<u64>,
        data: Range<u64>,
        commits: usize,
        path: &str,
    ) -> Option<Self> {
        let index = read_range(file, index)?;
        let data = read_range(file, data)?;
        let (version, hashes) = (be32(&data, 0)?, be32(&data, 4)?);
        // Version 1 hashed bytes above 0x7f as signed chars: only ASCII paths hash the same.
        let known = version == 2 || (version == 1 && path.is_ascii());
        if index.len() != 4 * commits || data.len() < 12 || !known || hashes == 0 {
            return None;
        }
        Some(Filters {
            index,
            data: data[12..].to_vec(),
            keys: keys(path, hashes),
        })
    }

    fn surely_unchanged(&self, position: usize) -> bool {
        let end = |position: usize| be32(&self.index, 4 * position).map(|e| e as usize);
        let start = match position {
            0 => Some(0),
            _ => end(position - 1),
        };
        let (Some(start), Some(end)) = (start, end(position)) else {
            return false;
        };
        if start >= end || end > self.data.len() {
            // No filter was computed for this commit.
            return false;
        }
        let filter = &self.data[start..end];
        let bits = filter.len() as u64 * 8;
        self.keys.iter().any(|key| {
            key.iter().any(|&hash| {
                let bit = u64::from(hash) % bits;
                filter[(bit / 8) as usize] & (1 << (bit % 8)) == 0
            })
        })
    }
}

/// The bytes of `range` in `file`.
fn read_range(file: &mut File, range: Range<u64>) -> Option<Vec<u8>> {
    file.seek(SeekFrom::Start(range.start)).ok()?;
    let mut data = vec![0u8; usize::try_from(range.end - range.start).ok()?];
    file.read_exact(&mut data).ok()?;
    Some(data)
}

/// The keys git tests for `path`: the path itself and each leading directory (`a/b/c`, `a/b`,
/// `a`), each as `hashes` bit positions `h0 + i * h1`.
fn keys(path: &str, hashes: u32) -> Vec<Vec<u32>> {
    let path = path.trim_matches('/');
    let mut prefixes = vec![path];
    prefixes.extend(path.rmatch_indices('/').map(|(at, _)| &path[..at]));
    prefixes
        .into_iter()
        .map(|prefix| {
            let [h0, h1] = SEEDS.map(|seed| murmur3(seed, prefix.as_bytes()));
            (0..hashes)
                .map(|i| h0.wrapping_add(i.wrapping_mul(h1)))
                .collect()
        })
        .collect()
}

/// 32-bit murmur3 (x86), as git's `murmur3_seeded_v2`.
fn murmur3(seed: u32, data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut hash = seed;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        hash = (hash ^ mix(k))
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .rev()
            .fold(0u32, |k, &byte| (k << 8) | u32::from(byte));
        hash ^= mix(k);
    }
    hash ^= data.len() as u32;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitrollout_test_git::GitRepo;

    #[test]
    fn murmur3_matches_the_reference_values() {
        assert_eq!(murmur3(0, b""), 0);
        assert_eq!(murmur3(0, b"Hello world!"), 0x627b_0c2c);
        assert_eq!(
            murmur3(0, b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }

    #[test]
    fn keys_cover_each_leading_directory() {
        let keys = keys("a/b/c.yaml", 7);
        assert_eq!(keys.len(), 3);
        assert!(keys.iter().all(|k| k.len() == 7));
        assert_eq!(keys[2], super::keys("a", 7)[0]);
    }

    /// A repository whose files change in turns, in three directories, with a merge.
    fn repository() -> GitRepo {
        let repo = GitRepo::new();
        let mut stream = String::new();
        for i in 0..60 {
            let path = ["deploy/app.yaml", "deploy/other.yaml", "docs/x.md", "y"][i % 4];
            stream += &format!(
                "commit refs/heads/main\ncommitter Ada <ada@example.com> {} +0000\n\
                 data <<EOF\nchange {i}\nEOF\nM 644 inline {path}\ndata <<EOF\n{i}\nEOF\n\n",
                1_767_323_045 + i
            );
        }
        repo.fast_import(&stream);
        repo.git(&["checkout", "--quiet", "-b", "side", "HEAD~5"]);
        repo.commit("deploy/side.yaml", "side\n", "Side change");
        repo.git(&["checkout", "--quiet", "main"]);
        repo.git(&["merge", "--quiet", "--no-edit", "side"]);
        repo
    }

    /// Checks every commit against `git diff-tree`: a filter never hides a change of `path`,
    /// and proves most commits that did not change it.
    fn check(repo: &GitRepo, path: &str) {
        let info = repo.path().join(".git/objects/info");
        let graph = gix::commitgraph::Graph::from_info_dir(&info, gix::hash::Kind::Sha1).unwrap();
        let filters = ChangedPaths::open(&info, path, graph.num_commits()).unwrap();
        let (mut unchanged, mut proved) = (0, 0);
        for sha in repo.git(&["rev-list", "--all"]).lines() {
            let changed = !repo
                .git(&[
                    "diff-tree",
                    "--root",
                    "--no-commit-id",
                    "--diff-merges=first-parent",
                    "-r",
                    "--name-only",
                    sha,
                    "--",
                    path,
                ])
                .is_empty();
            let id = gix::ObjectId::from_hex(sha.as_bytes()).unwrap();
            let surely = filters.surely_unchanged(graph.lookup(id).unwrap().0);
            assert!(!(changed && surely), "{sha} changed {path}");
            unchanged += usize::from(!changed);
            proved += usize::from(surely);
        }
        assert!(unchanged > 40, "{unchanged}");
        assert!(proved * 10 >= unchanged * 8, "{proved} of {unchanged}");
    }

    #[test]
    fn filters_written_by_git_tell_which_commits_left_a_path_alone() {
        let repo = repository();
        let info = repo.path().join(".git/objects/info");
        repo.git(&["commit-graph", "write", "--reachable"]);
        let commits = repo.git(&["rev-list", "--all", "--count"]).parse().unwrap();
        assert!(ChangedPaths::open(&info, "deploy/app.yaml", commits).is_none());
        repo.git(&["commit-graph", "write", "--reachable", "--changed-paths"]);
        for path in [
            "deploy/app.yaml",
            "deploy/other.yaml",
            "deploy/side.yaml",
            "y",
            "missing/file",
        ] {
            check(&repo, path);
        }
    }

    #[test]
    fn a_split_commit_graph_is_read_file_by_file() {
        let repo = repository();
        let split = ["commit-graph", "write", "--reachable", "--changed-paths"];
        repo.git(&[&split[..], &["--split=no-merge"]].concat());
        repo.commit("deploy/app.yaml", "newer\n", "Newer");
        repo.commit("README.md", "docs\n", "Docs");
        repo.git(&[&split[..], &["--split=no-merge"]].concat());
        let chain = repo.path().join(".git/objects/info/commit-graphs");
        let chain = std::fs::read_to_string(chain.join("commit-graph-chain")).unwrap();
        assert_eq!(chain.lines().count(), 2);
        check(&repo, "deploy/app.yaml");
    }
}
