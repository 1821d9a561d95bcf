//! git's changed-path Bloom filters, read from the commit-graph (`git commit-graph write
//! --changed-paths`), which gix does not read. A commit's filter holds every path its tree diff
//! against its first parent changed, with each leading directory; a path missing from it was
//! surely not changed, so the walk skips reading that commit's trees (as `git log -- PATH` does).
//!
//! The format is git's `Documentation/gitformat-commit-graph.txt` (chunks `OIDF`, `OIDL`, `BIDX`
//! and `BDAT`) and `bloom.c` (the hashes): murmur3 with seeds 0x293ae76f and 0x7e646e2c, the
//! number of hashes and the hash version taken from the `BDAT` header.

use std::path::{Path, PathBuf};

/// The commit-graph of a repository (a single file or a split chain), as far as this reader
/// vouches for it.
#[derive(Debug)]
pub(crate) enum CommitGraph {
    /// There is none.
    Absent,
    /// A file of it is not whole: its checksum does not match its content, or its chunk table
    /// is invalid. Neither gix nor this reader may trust what it says.
    Corrupt,
    /// Whole files that hold `commits` commits, and their changed-path filters for one path
    /// when they have filters that can answer for it.
    Whole {
        commits: usize,
        filters: Option<ChangedPaths>,
    },
}

/// The changed-path filters of a commit-graph, with the keys of one path. Commits are named by
/// their position in the commit-graph, as gix's [`gix::commitgraph::Graph`] numbers them, so no
/// commit id is looked up here.
#[derive(Debug)]
pub(crate) struct ChangedPaths {
    files: Vec<FilterFile>,
}

impl CommitGraph {
    /// The commit-graph in `info` (the repository's `objects/info`), with its filters for `path`
    /// (with `/` separators), read from the files git and gix read: `commit-graph` when there
    /// is one, else the chain in `commit-graphs`. Each file is checked against its checksum:
    /// a filter whose bits are wrong would hide a commit that changed `path`.
    pub fn open(info: &Path, path: &str) -> CommitGraph {
        let single = info.join("commit-graph");
        let files: Vec<PathBuf> = if single.is_file() {
            vec![single]
        } else {
            let chain = info.join("commit-graphs");
            let Ok(list) = std::fs::read_to_string(chain.join("commit-graph-chain")) else {
                return CommitGraph::Absent;
            };
            list.lines()
                .map(|hash| chain.join(format!("graph-{}.graph", hash.trim())))
                .collect()
        };
        let files: Option<Vec<FilterFile>> = files
            .iter()
            .map(|file| FilterFile::read(file, path))
            .collect();
        let Some(files) = files else {
            return CommitGraph::Corrupt;
        };
        let commits = files.iter().map(|f| f.commits).sum();
        let usable = files.iter().any(|f| f.filters.is_some());
        let filters = usable.then_some(ChangedPaths { files });
        CommitGraph::Whole { commits, filters }
    }
}

impl ChangedPaths {
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
/// The most hashes a filter is tested with (git's filters use 7).
const MOST_HASHES: u32 = 32;
/// The length of a commit-graph file's header, before its chunk table.
const HEADER: usize = 8;

impl FilterFile {
    /// Reads `file` whole, checks its checksum, its header and its chunk table (with
    /// `gix-chunk`), and takes its commit count and filters; `None` when it is not a whole
    /// commit-graph file with SHA-1 ids.
    fn read(file: &Path, path: &str) -> Option<Self> {
        let data = std::fs::read(file).ok()?;
        let hash = gix::hash::Kind::Sha1;
        let body = data.len().checked_sub(hash.len_in_bytes())?;
        if body < HEADER || data[..4] != *b"CGPH" || data[4] != 1 || data[5] != 1 {
            return None;
        }
        let mut hasher = gix::hash::hasher(hash);
        hasher.update(&data[..body]);
        if hasher.try_finalize().ok()?.as_slice() != &data[body..] {
            return None;
        }
        let table = gix_chunk::file::Index::from_bytes(&data, HEADER, u32::from(data[6])).ok()?;
        if table.highest_offset() > body as u64 {
            return None;
        }
        let chunk = |id: &[u8; 4]| table.data_by_id(&data, *id).ok();
        let fanout = chunk(b"OIDF").filter(|f| f.len() == 4 * 256)?;
        let commits = usize::try_from(be32(fanout, 4 * 255)?).ok()?;
        let filters = match (chunk(b"BIDX"), chunk(b"BDAT")) {
            (Some(index), Some(data)) => Filters::read(index, data, commits, path),
            _ => None,
        };
        Some(FilterFile { commits, filters })
    }
}

impl Filters {
    /// The filters in the chunks `index` (`BIDX`) and `data` (`BDAT`) of a file of `commits`
    /// commits, with the keys of `path`; `None` when they cannot answer for it.
    fn read(index: &[u8], data: &[u8], commits: usize, path: &str) -> Option<Self> {
        let (version, hashes) = (be32(data, 0)?, be32(data, 4)?);
        // Version 1 hashed bytes above 0x7f as signed chars: only ASCII paths hash the same.
        let known = version == 2 || (version == 1 && path.is_ascii());
        // The count is read from the file: bounded before keys are made of it. Testing fewer of
        // a filter's hashes still proves a path absent, only less often.
        let hashes = hashes.min(MOST_HASHES);
        if index.len() != 4 * commits || data.len() < 12 || !known || hashes == 0 {
            return None;
        }
        Some(Filters {
            index: index.to_vec(),
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

    /// Version 2 filters hash a path's bytes as unsigned: the value of git's own test
    /// (`t0095-bloom.sh`, `get_murmur3_seven_highbit`), and of the reference MurmurHash3.
    #[test]
    fn murmur3_hashes_bytes_above_0x7f_as_unsigned() {
        assert_eq!(murmur3(0, b"\x99\xaa\xbb\xcc\xdd\xee\xff"), 0xa183_ccfd);
        assert_eq!(
            murmur3(SEEDS[0], "déploiement/app.yaml".as_bytes()),
            0x4659_f591
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
        let CommitGraph::Whole {
            commits,
            filters: Some(filters),
        } = CommitGraph::open(&info, path)
        else {
            panic!("no filters for {path}");
        };
        assert_eq!(commits, graph.num_commits() as usize);
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
        let commits: usize = repo.git(&["rev-list", "--all", "--count"]).parse().unwrap();
        let graph = CommitGraph::open(&info, "deploy/app.yaml");
        assert!(
            matches!(graph, CommitGraph::Whole { commits: c, filters: None } if c == commits),
            "{graph:?}"
        );
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

    /// Makes the commit-graph file `file` one of version 2 filters, with its checksum: for a
    /// repository of ASCII paths alone, version 1 and 2 filters have the same bits.
    fn as_version_2(file: &Path) {
        let mut data = std::fs::read(file).unwrap();
        let table = gix_chunk::file::Index::from_bytes(&data, HEADER, u32::from(data[6])).unwrap();
        let bdat = table.offset_by_id(*b"BDAT").unwrap().start as usize;
        assert_eq!(be32(&data, bdat), Some(1));
        data[bdat..bdat + 4].copy_from_slice(&2u32.to_be_bytes());
        let body = data.len() - 20;
        let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
        hasher.update(&data[..body]);
        data[body..].copy_from_slice(hasher.try_finalize().unwrap().as_slice());
        std::fs::remove_file(file).unwrap();
        std::fs::write(file, data).unwrap();
    }

    #[test]
    fn version_2_filters_answer_for_paths_in_utf_8_too() {
        let repo = repository();
        let info = repo.path().join(".git/objects/info");
        repo.git(&["commit-graph", "write", "--reachable", "--changed-paths"]);
        let utf8 = "déploiement/app.yaml";
        let graph = CommitGraph::open(&info, utf8);
        assert!(
            matches!(graph, CommitGraph::Whole { filters: None, .. }),
            "{graph:?}"
        );
        as_version_2(&info.join("commit-graph"));
        for path in ["deploy/app.yaml", "y", utf8] {
            check(&repo, path);
        }
    }

    #[test]
    fn a_commit_graph_whose_checksum_fails_is_not_used() {
        let repo = repository();
        let info = repo.path().join(".git/objects/info");
        repo.git(&["commit-graph", "write", "--reachable", "--changed-paths"]);
        let file = info.join("commit-graph");
        let mut data = std::fs::read(&file).unwrap();
        data[HEADER + 1] ^= 1;
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, data).unwrap();
        let graph = CommitGraph::open(&info, "deploy/app.yaml");
        assert!(matches!(graph, CommitGraph::Corrupt), "{graph:?}");
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
