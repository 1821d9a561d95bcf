//! Reading and writing real repositories made with git itself (see `gitrollout_test_git`).

// A test states what it expects with unwrap: a failure there is the test failing.
#![allow(clippy::unwrap_used)]

use gitrollout_test_git::GitRepo;
use rollout_git::{GitError, Repo, Written};

fn story() -> (GitRepo, [String; 3]) {
    let repo = GitRepo::new();
    let shas = ["1.16", "1.17", "1.18"].map(|v| {
        repo.commit(
            "deploy/app.yaml",
            &format!("image: nginx:{v}\n"),
            &format!("Release nginx {v}"),
        )
    });
    repo.commit("README.md", "docs\n", "Write docs");
    repo.git(&["tag", "v1.17", &shas[1]]);
    (repo, shas)
}

#[test]
fn resolves_refs_as_git_does() {
    let (repo, shas) = story();
    let git = Repo::discover(&repo.path().join("deploy")).unwrap();
    for (reference, expect) in [
        (shas[0].as_str(), &shas[0]),
        (&shas[1][..8], &shas[1]),
        ("v1.17", &shas[1]),
        ("main~1", &shas[2]),
        ("HEAD~3", &shas[0]),
    ] {
        assert_eq!(&git.resolve(reference).unwrap().sha, expect, "{reference}");
    }
    let info = git.resolve("HEAD~2").unwrap();
    assert_eq!(info.subject, "Release nginx 1.17");
    assert_eq!(info.author, "Ada Operator <ada@example.com>");
    assert_eq!(info.time.to_string(), "2026-01-02T03:04:05Z");
    assert_eq!(info.short(), &shas[1][..7]);

    let err = git.resolve("no-such-branch").unwrap_err();
    assert!(matches!(err, GitError::Unresolved { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("\"no-such-branch\" does not name a commit in ")
    );
}

#[test]
fn an_ambiguous_short_sha_lists_its_candidates() {
    let repo = GitRepo::new();
    // Enough commits that two share their first four digits.
    let mut stream = String::new();
    for i in 0..400 {
        stream += &format!(
            "commit refs/heads/main\ncommitter Ada <ada@example.com> 1767323045 +0000\n\
             data <<EOF\nchange {i}\nEOF\nM 644 inline f\ndata <<EOF\n{i}\nEOF\n\n"
        );
    }
    repo.fast_import(&stream);
    let all = repo.git(&["log", "--format=%H"]);
    let mut seen = std::collections::HashMap::new();
    let prefix = all
        .lines()
        .find_map(|sha| seen.insert(&sha[..4], sha).map(|_| &sha[..4]))
        .expect("400 commits share a 4-digit prefix");
    let err = Repo::discover(repo.path())
        .unwrap()
        .resolve(prefix)
        .unwrap_err();
    let GitError::Ambiguous { candidates, .. } = &err else {
        panic!("{err}");
    };
    assert!(candidates.len() >= 2, "{err}");
    // Which flag or command helps is the binary's to say.
    assert!(!err.to_string().contains("hint"), "{err}");
}

#[test]
fn reads_a_file_at_a_commit_and_its_history() {
    let (repo, shas) = story();
    let git = Repo::discover(repo.path()).unwrap();
    assert_eq!(
        git.file_at(&shas[0], "deploy/app.yaml").unwrap().unwrap(),
        b"image: nginx:1.16\n"
    );
    assert_eq!(git.file_at(&shas[0], "README.md").unwrap(), None);
    let versions = |path: &str, stop_after: usize| {
        let mut seen = Vec::new();
        git.for_each_version(path, |commit, content| {
            seen.push((commit.sha, String::from_utf8(content.to_vec()).unwrap()));
            Ok(if seen.len() == stop_after {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            })
        })
        .unwrap();
        seen
    };
    assert_eq!(
        versions("deploy/app.yaml", usize::MAX),
        [
            (shas[2].clone(), "image: nginx:1.18\n".to_owned()),
            (shas[1].clone(), "image: nginx:1.17\n".to_owned()),
            (shas[0].clone(), "image: nginx:1.16\n".to_owned()),
        ]
    );
    // The walk stops when asked to.
    assert_eq!(versions("deploy/app.yaml", 1).len(), 1);
    assert!(versions("missing.yaml", usize::MAX).is_empty());
}

#[test]
fn paths_are_relative_to_the_work_tree() {
    let (repo, _) = story();
    let git = Repo::discover(repo.path()).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let absolute = repo.path().join("deploy/app.yaml");
    assert_eq!(
        git.relative_path(&absolute, elsewhere.path()).unwrap(),
        "deploy/app.yaml"
    );
    // A relative path is read from the base directory, as `git -C DIR` reads it.
    let relative = std::path::Path::new("deploy/app.yaml");
    assert_eq!(
        git.relative_path(relative, repo.path()).unwrap(),
        "deploy/app.yaml"
    );
    let err = git.relative_path(relative, elsewhere.path()).unwrap_err();
    assert!(matches!(err, GitError::OutsideRepository { .. }), "{err}");
    let err = git
        .relative_path(&elsewhere.path().join("x.yaml"), repo.path())
        .unwrap_err();
    assert!(matches!(err, GitError::OutsideRepository { .. }), "{err}");
    for root in [".", "deploy/.."] {
        let err = git
            .relative_path(std::path::Path::new(root), repo.path())
            .unwrap_err();
        assert!(
            matches!(err, GitError::RepositoryRoot { .. }),
            "{root}: {err}"
        );
        assert!(
            err.to_string().contains("is the root of the repository"),
            "{err}"
        );
    }
}

#[test]
fn a_directory_outside_any_repository_says_so_without_naming_flags() {
    let dir = tempfile::tempdir().unwrap();
    let err = Repo::discover(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} is not in a git repository", dir.path().display())
    );
}

#[test]
fn a_short_sha_that_is_also_a_blob_prefix_names_its_commit() {
    let repo = GitRepo::new();
    let sha = repo.commit("f", "1\n", "One");
    // A blob whose id starts with the commit's first four digits, found by hashing as git does.
    let prefix = &sha[..4];
    let content = (0u64..)
        .map(|i| format!("blob {i}\n"))
        .find(|c| {
            gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, c.as_bytes())
                .unwrap()
                .to_string()
                .starts_with(prefix)
        })
        .unwrap();
    std::fs::write(repo.path().join("blob"), &content).unwrap();
    let blob = repo.git(&["hash-object", "-w", "blob"]);
    assert!(blob.starts_with(prefix), "{blob}");
    std::fs::remove_file(repo.path().join("blob")).unwrap();
    assert_eq!(
        repo.git(&["rev-parse", &format!("{prefix}^{{commit}}")]),
        sha
    );
    let git = Repo::discover(repo.path()).unwrap();
    assert_eq!(git.resolve(prefix).unwrap().sha, sha);
}

#[test]
fn commits_one_file_through_git_and_refuses_a_dirty_one() {
    let (repo, shas) = story();
    let git = Repo::discover(repo.path()).unwrap();
    git.ensure_clean("deploy/app.yaml").unwrap();
    std::fs::write(repo.path().join("deploy/app.yaml"), "image: nginx:9\n").unwrap();
    let err = git.ensure_clean("deploy/app.yaml").unwrap_err();
    assert!(matches!(err, GitError::Dirty { .. }), "{err}");
    assert_eq!(err.to_string(), "deploy/app.yaml has uncommitted changes");

    repo.git(&["checkout", "--quiet", "--", "deploy/app.yaml"]);
    let old = git.file_at(&shas[1], "deploy/app.yaml").unwrap().unwrap();
    let Written::Committed(commit) = git
        .write_commit("deploy/app.yaml", &old, "Revert to nginx 1.17")
        .unwrap()
    else {
        panic!("nothing was committed");
    };
    assert_eq!(commit.subject, "Revert to nginx 1.17");
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), commit.sha);
    assert_eq!(
        std::fs::read_to_string(repo.path().join("deploy/app.yaml")).unwrap(),
        "image: nginx:1.17\n"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn writing_the_content_a_file_already_has_commits_nothing() {
    let (repo, shas) = story();
    let git = Repo::discover(repo.path()).unwrap();
    let head = repo.git(&["rev-parse", "HEAD"]);
    let current = git.file_at(&shas[2], "deploy/app.yaml").unwrap().unwrap();
    let written = git
        .write_commit("deploy/app.yaml", &current, "No change")
        .unwrap();
    assert_eq!(written, Written::Unchanged);
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_failing_hook_is_one_line_and_leaves_nothing_staged() {
    let (repo, _) = story();
    let hook = repo.path().join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'lint: app.yaml is not formatted' >&2\necho more >&2\nexit 1\n",
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&hook).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&hook, permissions).unwrap();
    let git = Repo::discover(repo.path()).unwrap();
    let err = git
        .write_commit("deploy/app.yaml", b"image: nginx:9\n", "Change")
        .unwrap_err();
    assert!(matches!(err, GitError::CommitFailed { .. }), "{err}");
    let message = err.to_string();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(
        lines[0],
        "git could not commit deploy/app.yaml: lint: app.yaml is not formatted"
    );
    assert_eq!(lines.len(), 1, "{message}");
    // Nothing staged: the index is HEAD's, the work tree has the new content.
    assert_eq!(repo.git(&["diff", "--cached", "--name-only"]), "");
    assert_eq!(repo.git(&["status", "--porcelain"]), "M deploy/app.yaml");
}

#[test]
fn refuses_to_write_through_a_symlink_or_outside_the_work_tree() {
    let (repo, _) = story();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("x.yaml"), repo.path().join("link.yaml"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("out")).unwrap();
    let git = Repo::discover(repo.path()).unwrap();
    let err = git.write_commit("link.yaml", b"x", "x").unwrap_err();
    assert!(matches!(err, GitError::Symlink { .. }), "{err}");
    assert_eq!(err.to_string(), "link.yaml is a symbolic link");
    for path in ["out/x.yaml", "../x.yaml"] {
        let err = git.write_commit(path, b"x", "x").unwrap_err();
        assert!(
            matches!(err, GitError::OutsideRepository { .. }),
            "{path}: {err}"
        );
    }
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
}

/// 41 versions of a multi-document manifest of about 30 KB, each one a small edit of the one
/// before (an image tag, a line dropped, a document added), as a real manifest evolves: git
/// stores them as chains of deltas.
fn manifest_versions() -> Vec<String> {
    let mut lines: Vec<String> = (0..120)
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
    (0..41)
        .map(|v| {
            // Never the first line: `git show`, as the test runs it, loses leading blanks.
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

/// Every version `for_each_version` gives of `path`, by commit.
fn versions_read(repo: &GitRepo, path: &str) -> Vec<(String, Vec<u8>)> {
    let mut seen = Vec::new();
    Repo::discover(repo.path())
        .unwrap()
        .for_each_version(path, |commit, content| {
            seen.push((commit.sha, content.to_vec()));
            Ok(std::ops::ControlFlow::Continue(()))
        })
        .unwrap();
    seen
}

#[test]
fn versions_read_from_packed_deltas_are_what_git_shows() {
    let repo = GitRepo::new();
    let mut stream = String::new();
    let manifests = manifest_versions();
    for (v, manifest) in manifests[..40].iter().enumerate() {
        stream += &format!(
            "commit refs/heads/main\ncommitter Ada <ada@example.com> {} +0000\ndata 3\nv{v}\n\
             M 644 inline deploy/all.yaml\ndata {}\n{manifest}\n\
             M 644 inline notes.txt\ndata 3\nn{v}\n\n",
            1767323045 + v * 60,
            manifest.len()
        );
    }
    repo.fast_import(&stream);
    let path = "deploy/all.yaml";
    let expected = |repo: &GitRepo| -> Vec<(String, Vec<u8>)> {
        let log = repo.git(&["log", "--format=%H", "--", path]);
        log.lines()
            .map(|sha| {
                let shown = repo.git(&["show", &format!("{sha}:{path}")]);
                (sha.to_owned(), format!("{shown}\n").into_bytes())
            })
            .collect()
    };
    // Offset deltas (git's default), then deltas naming their base by id; a last version stays
    // a loose object, read through gix.
    for offsets in ["true", "false"] {
        let setting = format!("repack.useDeltaBaseOffset={offsets}");
        repo.git(&["-c", &setting, "repack", "-a", "-d", "-f", "-q"]);
        let packed = repo.git(&["count-objects", "-v"]);
        assert!(packed.starts_with("count: 0\n"), "{packed}");
        let index = std::fs::read_dir(repo.path().join(".git/objects/pack"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "idx"))
            .unwrap();
        let listed = repo.git(&["verify-pack", "-v", index.to_str().unwrap()]);
        assert!(listed.contains("chain length = 10: "), "{listed}");
        let read = versions_read(&repo, path);
        assert_eq!(read.len(), 40);
        assert!(read == expected(&repo), "{setting}");
    }
    repo.commit(path, &manifests[40], "v40");
    let read = versions_read(&repo, path);
    assert_eq!(read.len(), 41);
    assert!(read == expected(&repo));
}

#[test]
fn a_git_revert_names_the_commit_it_reverts() {
    let (repo, shas) = story();
    repo.git(&["revert", "--no-edit", &shas[2]]);
    let git = Repo::discover(repo.path()).unwrap();
    let revert = git.resolve("HEAD").unwrap();
    assert_eq!(revert.subject, "Revert \"Release nginx 1.18\"");
    let reverted = git.reverted_by(&revert).unwrap().unwrap();
    assert_eq!(reverted.sha, shas[2]);
    // An ordinary commit reverts nothing.
    let release = git.resolve(&shas[1]).unwrap();
    assert_eq!(git.reverted_by(&release).unwrap(), None);
}
