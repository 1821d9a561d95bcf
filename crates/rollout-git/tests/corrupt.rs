//! Corrupt input: packs, commit-graphs and their Bloom filters written by git, then mutated.
//!
//! A mutation git's own checksums can see (a pack entry against the CRC-32 its index holds, a
//! commit-graph file against its trailing SHA-1) must be an error or a correct read. A mutation
//! made to look whole (the checksum written anew, as a writer with a bug would) cannot always be
//! told from what git wrote, so it must only be an error or a read. Neither may panic, abort, or
//! take more memory than a bound: the peak memory of every mutated read is measured on its own
//! (`/proc/self/clear_refs` resets the peak), which is why one test runs every campaign in
//! turn. `GITROLLOUT_MUTATIONS` sets how many random mutations each campaign tries (64).

// A test states what it expects with unwrap: a failure there is the test failing.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::{ControlFlow, Range};
use std::path::{Path, PathBuf};

use gitrollout_test_git::GitRepo;
use gix::odb::pack::Bundle;
use gix::odb::pack::data::entry::Header;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rollout_git::{GitError, Repo};

/// The versions `for_each_version` gives of a path: commit and content.
type Versions = Vec<(String, Vec<u8>)>;

/// The most memory one mutated read may take above what the process held before it: what gix
/// may allocate for one object (64 MiB), and some.
const MOST_KIB: u64 = 96 * 1024;

/// Every version of `path` in the repository at `dir`.
fn read(dir: &Path, path: &str) -> Result<Versions, GitError> {
    let mut seen = Vec::new();
    Repo::discover(dir)?.for_each_version(path, |commit, content| {
        seen.push((commit.sha, content.to_vec()));
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(seen)
}

/// Mutated reads so far, and the largest peak of memory one of them took.
#[derive(Debug, Default)]
struct Tally {
    tried: u64,
    errors: u64,
    peak_kib: u64,
    worst: String,
}

impl Tally {
    /// Reads `path` in `dir` after the mutation named `what`, measuring the memory it takes.
    fn read(&mut self, what: &str, dir: &Path, path: &str) -> Result<Versions, GitError> {
        let read = self.measure(what, || read(dir, path));
        self.errors += u64::from(read.is_err());
        read
    }

    /// Runs `f`, the read after the mutation named `what`, measuring the memory it takes.
    fn measure<T>(&mut self, what: &str, f: impl FnOnce() -> T) -> T {
        let status = |key: &str| -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").expect("a status");
            let line = status.lines().find(|l| l.starts_with(key)).expect(key);
            line.split_whitespace()
                .nth(1)
                .expect("a size")
                .parse()
                .expect("KiB")
        };
        std::fs::write("/proc/self/clear_refs", "5").expect("the peak is reset");
        let before = status("VmRSS:");
        let done = f();
        let peak = status("VmHWM:").saturating_sub(before);
        self.tried += 1;
        if peak > self.peak_kib {
            (self.peak_kib, self.worst) = (peak, what.to_owned());
        }
        assert!(peak <= MOST_KIB, "{what}: {peak} KiB");
        done
    }
}

/// One change to a file: `with` xored into the byte at `at`, or the file cut at `at`.
#[derive(Debug, Clone, Copy)]
enum Mutation {
    Xor { at: usize, with: u8 },
    Cut { at: usize },
}

impl Mutation {
    fn apply(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mutation::Xor { at, with } => {
                let mut data = data.to_vec();
                data[at] ^= with;
                data
            }
            Mutation::Cut { at } => data[..at].to_vec(),
        }
    }

    /// A mutation inside `range`: mostly a byte changed, near its start (a header) or anywhere,
    /// sometimes the file cut there.
    fn inside(range: Range<usize>) -> impl Strategy<Value = Mutation> {
        let len = range.len();
        let start = range.start;
        let at = prop_oneof![0..len.min(8), 0..len].prop_map(move |at| start + at);
        prop_oneof![
            7 => (at.clone(), 1..=255u8).prop_map(|(at, with)| Mutation::Xor { at, with }),
            1 => at.prop_map(|at| Mutation::Cut { at }),
        ]
    }
}

/// The mutations of one campaign that a random run tries.
fn cases() -> u32 {
    std::env::var("GITROLLOUT_MUTATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// A manifest of 60 documents, in 30 versions that each change one line of the one before,
/// so git stores them as chains of deltas.
fn manifests() -> Vec<String> {
    let mut lines: Vec<String> = (0..60)
        .flat_map(|doc| {
            format!(
                "---\nkind: Deployment\nmetadata:\n  name: app-{doc}\nspec:\n  template:\n    \
                 spec:\n      containers:\n      - name: c\n        image: nginx:1.{doc}\n"
            )
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
        })
        .collect();
    (0..30)
        .map(|v| {
            let at = 1 + (v * 379) % (lines.len() - 1);
            match v % 3 {
                0 => lines[at] = format!("        image: nginx:2.{v}"),
                1 => drop(lines.remove(at)),
                _ => lines.push(format!("---\nkind: ConfigMap\nmetadata:\n  name: c-{v}")),
            }
            lines.join("\n") + "\n"
        })
        .collect()
}

/// A `git fast-import` stream of commits of `versions` of `path`, each with a note beside it,
/// numbered from `first`; from the tip of `main` when `first` is not 0.
fn stream(path: &str, versions: &[String], first: usize) -> String {
    let mut stream = String::new();
    for (v, manifest) in versions.iter().enumerate() {
        let from = if v == 0 && first > 0 {
            "from refs/heads/main^0\n"
        } else {
            ""
        };
        let v = first + v;
        stream += &format!(
            "commit refs/heads/main\ncommitter Ada <ada@example.com> {} +0000\ndata 3\nv{v:02}\n\
             {from}M 644 inline {path}\ndata {}\n{manifest}\nM 644 inline notes.txt\ndata 3\n\
             n{v:02}\n\n",
            1_767_323_045 + v * 60,
            manifest.len()
        );
    }
    stream
}

/// The manifests in a repository, as deltas in one pack.
fn packed(path: &str) -> GitRepo {
    let repo = GitRepo::new();
    repo.fast_import(&stream(path, &manifests(), 0));
    repo.git(&["repack", "-a", "-d", "-f", "-q"]);
    repo
}

/// The pack files (`.pack`) of a repository.
fn packs(repo: &GitRepo) -> Vec<PathBuf> {
    let dir = repo.path().join(".git/objects/pack");
    let mut packs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect();
    packs.sort();
    packs
}

/// Where the entries of the blobs of `path` lie in `pack`: each entry's bytes, and its
/// position in the index.
/// `repo` is where git lists the blobs.
fn blob_entries(repo: &GitRepo, pack: &Path, path: &str) -> Vec<(Range<usize>, u32)> {
    let log = repo.git(&[
        "log",
        "--all",
        "--raw",
        "--no-abbrev",
        "--format=",
        "--",
        path,
    ]);
    let bundle = Bundle::at(pack.with_extension("idx"), gix::hash::Kind::Sha1).unwrap();
    let mut offsets = bundle.index.sorted_offsets();
    offsets.push(bundle.pack.pack_end() as u64);
    let mut entries: Vec<(Range<usize>, u32)> = log
        .lines()
        .filter_map(|line| {
            let id = line.split_whitespace().nth(3)?;
            let position = bundle
                .index
                .lookup(gix::ObjectId::from_hex(id.as_bytes()).ok()?)?;
            let start = bundle.index.pack_offset_at_index(position);
            let end = offsets[offsets.partition_point(|&o| o <= start)];
            Some((start as usize..end as usize, position))
        })
        .collect();
    entries.sort_by_key(|(range, _)| range.start);
    entries.dedup();
    entries
}

/// Writes `data` as the file `path`, which git made read-only.
fn overwrite(path: &Path, data: &[u8]) {
    let writable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    std::fs::set_permissions(path, writable).unwrap();
    std::fs::write(path, data).unwrap();
}

/// A file of a repository, restored to what git wrote when dropped.
struct Mutable {
    path: PathBuf,
    original: Vec<u8>,
}

impl Mutable {
    fn new(path: PathBuf) -> Self {
        let original = std::fs::read(&path).unwrap();
        Mutable { path, original }
    }

    fn write(&self, data: &[u8]) {
        overwrite(&self.path, data);
    }
}

impl Drop for Mutable {
    fn drop(&mut self) {
        self.write(&self.original.clone());
    }
}

/// Writes each mutation `of` the pack file picks, reads `path` and checks the read: an error or
/// what was read before.
fn check_pack_mutations(
    tally: &RefCell<Tally>,
    repo: &GitRepo,
    path: &str,
    entries: &[(PathBuf, Range<usize>)],
) {
    let expected = read(repo.path(), path).unwrap();
    let files: HashMap<&PathBuf, Mutable> = entries
        .iter()
        .map(|(pack, _)| (pack, Mutable::new(pack.clone())))
        .collect();
    let check = |(pack, mutation): (&PathBuf, Mutation)| {
        let file = &files[pack];
        file.write(&mutation.apply(&file.original));
        let read = tally
            .borrow_mut()
            .read(&format!("{mutation:?} of {pack:?}"), repo.path(), path);
        file.write(&file.original);
        match read {
            Ok(read) if read != expected => Err(TestCaseError::fail(format!(
                "{mutation:?} of {pack:?} read other versions"
            ))),
            _ => Ok(()),
        }
    };
    // Each bit of the first bytes of every entry: its header, a delta's base, zlib's header.
    for (pack, range) in entries {
        for at in range.start..range.end.min(range.start + 4) {
            for bit in 0..8 {
                check((pack, Mutation::Xor { at, with: 1 << bit })).unwrap();
            }
        }
    }
    let strategy = (0..entries.len()).prop_flat_map(|i| {
        let (pack, range) = entries[i].clone();
        Mutation::inside(range).prop_map(move |m| (pack.clone(), m))
    });
    runner()
        .run(&strategy, |(pack, mutation)| check((&pack, mutation)))
        .unwrap();
}

/// Mutations of the pack entries of `path`'s versions: the index's CRC-32s see each one.
fn mutated_pack_entries(tally: &RefCell<Tally>) {
    let path = "déploiement/app.yaml";
    let repo = packed(path);
    let [pack] = &packs(&repo)[..] else {
        panic!("one pack");
    };
    let entries: Vec<(PathBuf, Range<usize>)> = blob_entries(&repo, pack, path)
        .into_iter()
        .map(|(range, _)| (pack.clone(), range))
        .collect();
    assert!(entries.len() >= 30, "{entries:?}");
    check_pack_mutations(tally, &repo, path, &entries);
}

/// Mutations of pack entries whose CRC-32 in the index is written anew, as if git had written
/// them so: the reader must parse them, and only fail.
fn mutated_pack_entries_with_their_crc(tally: &RefCell<Tally>) {
    let path = "deploy/app.yaml";
    let repo = packed(path);
    let [pack] = &packs(&repo)[..] else {
        panic!("one pack");
    };
    let entries = blob_entries(&repo, pack, path);
    let pack_file = Mutable::new(pack.clone());
    let index_file = Mutable::new(pack.with_extension("idx"));
    let objects = index_file.original[8 + 255 * 4..8 + 256 * 4]
        .try_into()
        .unwrap();
    let crc_table = 8 + 1024 + 20 * u32::from_be_bytes(objects) as usize;
    let strategy = (0..entries.len()).prop_flat_map(|i| {
        let (range, position) = entries[i].clone();
        (Mutation::inside(range.clone()), Just((range, position)))
    });
    runner()
        .run(&strategy, |(mutation, (range, position))| {
            let data = mutation.apply(&pack_file.original);
            pack_file.write(&data);
            let end = range.end.min(data.len());
            let crc = crc32(data.get(range.start..end).unwrap_or_default());
            let mut index = index_file.original.clone();
            let at = crc_table + 4 * position as usize;
            index[at..at + 4].copy_from_slice(&crc.to_be_bytes());
            let body = index.len() - 20;
            let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
            hasher.update(&index[..body]);
            let sum = hasher.try_finalize().unwrap();
            index[body..].copy_from_slice(sum.as_slice());
            index_file.write(&index);
            // An error or a read: a crafted entry can say anything git could have written.
            let _ =
                tally
                    .borrow_mut()
                    .read(&format!("{mutation:?}, CRC-32 anew"), repo.path(), path);
            Ok(())
        })
        .unwrap();
}

/// CRC-32 (IEEE), as pack indices hold it.
fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &byte| {
        (0..8).fold(crc ^ u32::from(byte), |crc, _| {
            (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg())
        })
    })
}

/// A repository whose newest versions are in a thin pack: deltas that name their base by id, a
/// base that only the older pack holds (git never writes such a pack, but reads one).
fn thin(path: &str) -> GitRepo {
    let repo = GitRepo::new();
    let versions = manifests();
    repo.fast_import(&stream(path, &versions[..20], 0));
    repo.git(&["repack", "-a", "-d", "-f", "-q"]);
    repo.git(&["tag", "old"]);
    let [old] = &packs(&repo)[..] else {
        panic!("one pack");
    };
    repo.fast_import(&stream(path, &versions[20..], 20));
    let thin = git_stdin(
        &repo,
        &["pack-objects", "--revs", "--thin", "--stdout"],
        b"main\n^old\n",
    );
    // index-pack writes the index of the pack it completes with the missing bases: keep the
    // entries of the thin pack alone.
    let dir = tempfile::tempdir().unwrap();
    let fixed = dir.path().join("fixed.pack");
    let args = [
        "index-pack",
        "--fix-thin",
        "--stdin",
        fixed.to_str().unwrap(),
    ];
    git_stdin(&repo, &args, &thin);
    let index = thin_index(&std::fs::read(fixed.with_extension("idx")).unwrap(), &thin);
    for pack in packs(&repo).iter().filter(|p| *p != old) {
        std::fs::remove_file(pack).unwrap();
        std::fs::remove_file(pack.with_extension("idx")).unwrap();
    }
    let name = repo.path().join(".git/objects/pack/pack-thin");
    std::fs::write(name.with_extension("pack"), &thin).unwrap();
    std::fs::write(name.with_extension("idx"), index).unwrap();
    repo.git(&["prune-packed"]);
    repo
}

/// Runs git with `input` on its stdin; returns its stdout.
fn git_stdin(repo: &GitRepo, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .current_dir(repo.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "git {args:?}");
    output.stdout
}

/// A version 2 index of `pack` made from `fixed`, the index of the pack git completed from
/// it: the entries that lie in `pack`, with its checksum.
fn thin_index(fixed: &[u8], pack: &[u8]) -> Vec<u8> {
    let be32 = |at: usize| u32::from_be_bytes(fixed[at..at + 4].try_into().unwrap());
    let count = be32(8 + 255 * 4) as usize;
    let (ids, crcs, offsets) = (8 + 1024, 8 + 1024 + 20 * count, 8 + 1024 + 24 * count);
    let end = (pack.len() - 20) as u32;
    let kept: Vec<usize> = (0..count)
        .filter(|&i| be32(offsets + 4 * i) < end)
        .collect();
    let mut index = b"\xfftOc\0\0\0\x02".to_vec();
    for byte in 0..=255u8 {
        let below = kept
            .iter()
            .filter(|&&i| fixed[ids + 20 * i] <= byte)
            .count();
        index.extend((below as u32).to_be_bytes());
    }
    for (table, width) in [(ids, 20), (crcs, 4), (offsets, 4)] {
        for &i in &kept {
            index.extend(&fixed[table + width * i..table + width * (i + 1)]);
        }
    }
    index.extend(&pack[pack.len() - 20..]);
    let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
    hasher.update(&index);
    index.extend(hasher.try_finalize().unwrap().as_slice());
    index
}

/// Mutations of a thin pack's entries and of the bases its deltas name in another pack.
fn mutated_packs_with_a_base_in_another(tally: &RefCell<Tally>) {
    let path = "déploiement/app.yaml";
    let repo = thin(path);
    let thin = repo.path().join(".git/objects/pack/pack-thin.pack");
    let bundle = Bundle::at(thin.with_extension("idx"), gix::hash::Kind::Sha1).unwrap();
    let elsewhere = bundle.index.iter().any(|entry| {
        let header = bundle.pack.entry(entry.pack_offset).unwrap().header;
        matches!(header, Header::RefDelta { base_id } if bundle.index.lookup(base_id).is_none())
    });
    assert!(
        elsewhere,
        "no delta of the thin pack has its base in the other pack"
    );
    // What the repository held before its newest versions went into a thin pack.
    let whole = GitRepo::new();
    let versions = manifests();
    whole.fast_import(&stream(path, &versions[..20], 0));
    whole.fast_import(&stream(path, &versions[20..], 20));
    assert_eq!(
        read(repo.path(), path).unwrap(),
        read(whole.path(), path).unwrap()
    );
    let entries: Vec<(PathBuf, Range<usize>)> = packs(&repo)
        .iter()
        .flat_map(|pack| {
            let ranges = blob_entries(&whole, pack, path).into_iter();
            ranges.map(|(range, _)| (pack.clone(), range))
        })
        .collect();
    check_pack_mutations(tally, &repo, path, &entries);
}

/// A repository whose `paths` change in turns, with a commit-graph of version 1 filters, or of
/// version 2 ones (the same bits for ASCII paths: git 2.39 writes only version 1).
fn graph_repository(paths: [&str; 4], version: u32) -> GitRepo {
    let repo = GitRepo::new();
    let mut stream = String::new();
    for i in 0..60 {
        stream += &format!(
            "commit refs/heads/main\ncommitter Ada <ada@example.com> {} +0000\n\
             data <<EOF\nchange {i}\nEOF\nM 644 inline {}\ndata <<EOF\n{i}\nEOF\n\n",
            1_767_323_045 + i,
            paths[i % 4]
        );
    }
    repo.fast_import(&stream);
    repo.git(&["repack", "-a", "-d", "-q"]);
    repo.git(&["commit-graph", "write", "--reachable", "--changed-paths"]);
    if version == 2 {
        assert!(paths.iter().all(|p| p.is_ascii()));
        let file = repo.path().join(".git/objects/info/commit-graph");
        let mut data = std::fs::read(&file).unwrap();
        let entry = (0..usize::from(data[6]))
            .find(|entry| data[8 + 12 * entry..].starts_with(b"BDAT"))
            .unwrap();
        let bdat = graph_regions(&data)[2 + entry].start;
        data[bdat..bdat + 4].copy_from_slice(&2u32.to_be_bytes());
        rehash(&mut data);
        overwrite(&file, &data);
    }
    repo
}

/// Writes the trailing checksum of a commit-graph file anew.
fn rehash(data: &mut [u8]) {
    let body = data.len() - 20;
    let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
    hasher.update(&data[..body]);
    data[body..].copy_from_slice(hasher.try_finalize().unwrap().as_slice());
}

/// The parts of a commit-graph file that mutations aim at: all of it, its header and chunk
/// table, and each of its chunks (the filters' `BIDX` and `BDAT` among them).
fn graph_regions(data: &[u8]) -> Vec<Range<usize>> {
    let chunks = usize::from(data[6]);
    let table = 8 + 12 * (chunks + 1);
    let offset = |entry: usize| {
        let at = 8 + 12 * entry + 4;
        u64::from_be_bytes(data[at..at + 8].try_into().unwrap()) as usize
    };
    let mut regions = vec![0..data.len(), 0..table];
    regions.extend((0..chunks).map(|entry| offset(entry)..offset(entry + 1)));
    regions
}

/// Mutations of commit-graphs and their filters, as git wrote them and with their checksum
/// written anew: version 1 filters, read for an ASCII path and one in UTF-8 (which they cannot
/// answer for), and version 2 filters.
fn mutated_commit_graphs(tally: &RefCell<Tally>) {
    let utf8 = ["deploy/app.yaml", "deploy/other.yaml", "café/x.yaml", "y"];
    let ascii = ["deploy/app.yaml", "deploy/other.yaml", "docs/x.md", "y"];
    for (paths, version, read_paths) in [
        (utf8, 1, ["deploy/app.yaml", "café/x.yaml"]),
        (ascii, 2, ["deploy/app.yaml", "y"]),
    ] {
        let repo = graph_repository(paths, version);
        mutated_commit_graph(tally, &repo, &read_paths);
    }
}

fn mutated_commit_graph(tally: &RefCell<Tally>, repo: &GitRepo, paths: &[&str]) {
    let file = Mutable::new(repo.path().join(".git/objects/info/commit-graph"));
    let expected: Vec<Versions> = paths
        .iter()
        .map(|p| read(repo.path(), p).unwrap())
        .collect();
    let regions = graph_regions(&file.original);
    let strategy = (
        proptest::sample::select(regions).prop_flat_map(Mutation::inside),
        any::<bool>(),
        0..paths.len(),
    );
    runner()
        .run(&strategy, |(mutation, anew, p)| {
            let mut data = mutation.apply(&file.original);
            if anew && data.len() >= 20 {
                rehash(&mut data);
            }
            file.write(&data);
            let what = format!("{mutation:?} of the commit-graph, checksum anew: {anew}");
            let read = tally.borrow_mut().read(&what, repo.path(), paths[p]);
            match read {
                Ok(read) if !anew && read != expected[p] => {
                    Err(TestCaseError::fail(format!("{what}: other versions")))
                }
                _ => Ok(()),
            }
        })
        .unwrap();
}

/// A blob larger than what the pack reader keeps is read by gix; one larger than gix may
/// allocate is an error.
fn large_blobs(tally: &RefCell<Tally>) {
    let repo = GitRepo::new();
    let mut stream = String::new();
    for (v, mib) in [(0, 33), (1, 65)] {
        let content = format!("{v}: {}\n", "x".repeat(60)).repeat(mib << 14);
        stream += &format!(
            "commit refs/heads/main\ncommitter Ada <ada@example.com> {} +0000\ndata 3\nv{v:02}\n\
             M 644 inline big.txt\ndata {}\n{content}\n",
            1_767_323_045 + v * 60,
            content.len()
        );
    }
    repo.fast_import(&stream);
    let mut versions = Vec::new();
    let err = Repo::discover(repo.path())
        .unwrap()
        .for_each_version("big.txt", |_, content| {
            versions.push(content.len());
            Ok(ControlFlow::Continue(()))
        })
        .unwrap_err();
    assert!(versions.is_empty(), "{versions:?}");
    assert!(matches!(err, GitError::Read { .. }), "{err}");
    let newest = repo.git(&["rev-parse", "HEAD~1"]);
    repo.git(&["update-ref", "refs/heads/main", &newest]);
    let lengths = tally.borrow_mut().measure("a 33 MiB blob", || {
        let mut lengths = Vec::new();
        let repo = Repo::discover(repo.path())?;
        repo.for_each_version("big.txt", |_, content| {
            lengths.push(content.len());
            Ok(ControlFlow::Continue(()))
        })?;
        Ok::<_, GitError>(lengths)
    });
    assert_eq!(lengths.unwrap(), [33 << 20]);
}

#[test]
fn corrupt_input_is_an_error_or_a_correct_read() {
    let tally = RefCell::new(Tally::default());
    mutated_pack_entries(&tally);
    mutated_pack_entries_with_their_crc(&tally);
    mutated_packs_with_a_base_in_another(&tally);
    mutated_commit_graphs(&tally);
    let Tally {
        tried,
        errors,
        peak_kib,
        worst,
    } = tally.into_inner();
    eprintln!(
        "corrupt input: {tried} mutations, {errors} errors; the largest read took {peak_kib} KiB ({worst})"
    );
    let large = RefCell::new(Tally::default());
    large_blobs(&large);
    eprintln!(
        "a blob of 33 MiB read by gix took {} KiB",
        large.into_inner().peak_kib
    );
}
