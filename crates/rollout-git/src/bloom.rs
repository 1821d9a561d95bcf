//! git's changed-path Bloom filters, read from the commit-graph (`git commit-graph write
//! --changed-paths`), which gix does not read. A commit's filter holds every path its tree diff
//! against its first parent changed, with each leading directory; a path missing from it was
//! surely not changed, so the walk skips reading that commit's trees (as `git log -- PATH` does).
//!
//! The format is git's `Documentation/gitformat-commit-graph.txt` (chunks `OIDF`, `OIDL`, `BIDX`
//! and `BDAT`) and `bloom.c` (the hashes): murmur3 with seeds 0x293ae76f and 0x7e646e2c, the
//! number of hashes and the hash version taken from the `BDAT` header.

use std::path::Path;

use gix::ObjectId;

/// The changed-path filters of a commit-graph (a single file or a split chain), with the keys of
/// one path.
#[derive(Debug)]
pub(crate) struct ChangedPaths {
    files: Vec<FilterFile>,
}

impl ChangedPaths {
    /// The filters of the commit-graph in `info` (the repository's `objects/info`), for `path`
    /// (with `/` separators). `None` when there is no commit-graph, or none of its files has
    /// filters that can answer for `path`.
    pub fn open(info: &Path, path: &str) -> Option<Self> {
        let chain = info.join("commit-graphs");
        let files: Vec<std::path::PathBuf> =
            match std::fs::read_to_string(chain.join("commit-graph-chain")) {
                Ok(list) => list
                    .lines()
                    .map(|hash| chain.join(format!("graph-{}.graph", hash.trim())))
                    .collect(),
                Err(_) => vec![info.join("commit-graph")],
            };
        let files: Vec<FilterFile> = files
            .iter()
            .filter_map(|file| FilterFile::parse(std::fs::read(file).ok()?, path))
            .collect();
        (!files.is_empty()).then_some(ChangedPaths { files })
    }

    /// True when `commit`'s filter proves that its diff against its first parent (against the
    /// empty tree for a root commit) leaves the path unchanged; false when it may have changed
    /// it, or the commit has no usable filter.
    pub fn surely_unchanged(&self, commit: &ObjectId) -> bool {
        self.files.iter().any(|file| file.surely_unchanged(commit))
    }
}

/// One commit-graph file with filters: the file's bytes and where its chunks are.
#[derive(Debug)]
struct FilterFile {
    data: Vec<u8>,
    hash_len: usize,
    /// Offsets of the `OIDF` (256 cumulative counts) and `OIDL` (sorted ids) chunks.
    fanout: usize,
    ids: usize,
    commits: usize,
    /// Offset of `BIDX`: for each commit, the end of its filter in the filter data.
    index: usize,
    /// The filter data: `BDAT` after its 12-byte header.
    filters: std::ops::Range<usize>,
    /// For the path and each of its leading directories: the bit positions to test, unreduced.
    keys: Vec<Vec<u32>>,
}

const SEEDS: [u32; 2] = [0x293a_e76f, 0x7e64_6e2c];

impl FilterFile {
    fn parse(data: Vec<u8>, path: &str) -> Option<Self> {
        if data.get(..4)? != b"CGPH" || data[4] != 1 {
            return None;
        }
        let hash_len = match data[5] {
            1 => 20,
            2 => 32,
            _ => return None,
        };
        let chunks = usize::from(data[6]);
        let mut table = std::collections::HashMap::new();
        for i in 0..chunks {
            let entry = 8 + 12 * i;
            let id: [u8; 4] = data.get(entry..entry + 4)?.try_into().ok()?;
            let start = usize::try_from(be64(&data, entry + 4)?).ok()?;
            let end = usize::try_from(be64(&data, entry + 16)?).ok()?;
            if start > end || end > data.len() {
                return None;
            }
            table.insert(id, start..end);
        }
        let fanout = table.get(b"OIDF")?.clone();
        let ids = table.get(b"OIDL")?.clone();
        let index = table.get(b"BIDX")?.clone();
        let filters = table.get(b"BDAT")?.clone();
        let commits = usize::try_from(be32(&data, fanout.start + 4 * 255)?).ok()?;
        let (version, hashes) = (be32(&data, filters.start)?, be32(&data, filters.start + 4)?);
        let sizes_fit = fanout.len() == 4 * 256
            && ids.len() == commits * hash_len
            && index.len() == 4 * commits
            && filters.len() >= 12;
        // Version 1 hashed bytes above 0x7f as signed chars: only ASCII paths hash the same.
        if !sizes_fit || !(version == 2 || (version == 1 && path.is_ascii())) || hashes == 0 {
            return None;
        }
        Some(FilterFile {
            keys: keys(path, hashes),
            hash_len,
            fanout: fanout.start,
            ids: ids.start,
            commits,
            index: index.start,
            filters: filters.start + 12..filters.end,
            data,
        })
    }

    /// The position of `commit` in this file, by its first byte's fanout and a binary search.
    fn position(&self, commit: &ObjectId) -> Option<usize> {
        let id = commit.as_bytes();
        if id.len() != self.hash_len {
            return None;
        }
        let first = usize::from(id[0]);
        let start = match first {
            0 => 0,
            _ => be32(&self.data, self.fanout + 4 * (first - 1))? as usize,
        };
        let end = (be32(&self.data, self.fanout + 4 * first)? as usize).min(self.commits);
        let (mut low, mut high) = (start, end);
        while low < high {
            let middle = (low + high) / 2;
            let at = self.ids + middle * self.hash_len;
            match self.data[at..at + self.hash_len].cmp(id) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Some(middle),
            }
        }
        None
    }

    fn surely_unchanged(&self, commit: &ObjectId) -> bool {
        let Some(position) = self.position(commit) else {
            return false;
        };
        let end = |position: usize| be32(&self.data, self.index + 4 * position).map(|e| e as usize);
        let start = match position {
            0 => Some(0),
            _ => end(position - 1),
        };
        let (Some(start), Some(end)) = (start, end(position)) else {
            return false;
        };
        let filter = self.filters.start + start..self.filters.start + end;
        if start >= end || filter.end > self.filters.end {
            // No filter was computed for this commit.
            return false;
        }
        let filter = &self.data[filter];
        let bits = filter.len() as u64 * 8;
        self.keys.iter().any(|key| {
            key.iter().any(|&hash| {
                let bit = u64::from(hash) % bits;
                filter[(bit / 8) as usize] & (1 << (bit % 8)) == 0
            })
        })
    }
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
    use gitrollout_tests::git::GitRepo;

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
        let filters = ChangedPaths::open(&info, path).unwrap();
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
            let id = ObjectId::from_hex(sha.as_bytes()).unwrap();
            let surely = filters.surely_unchanged(&id);
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
        assert!(ChangedPaths::open(&info, "deploy/app.yaml").is_none());
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
