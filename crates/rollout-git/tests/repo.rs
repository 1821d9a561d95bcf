//! Reading and writing real repositories made with git itself (see `gitrollout_tests::git`).

// A test states what it expects with unwrap: a failure there is the test failing.
#![allow(clippy::unwrap_used)]

use gitrollout_tests::git::GitRepo;
use rollout_git::{GitError, Repo};

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
    assert!(err.to_string().contains("hint: give more digits"), "{err}");
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
    let history: Vec<(String, String)> = git
        .file_history("deploy/app.yaml")
        .unwrap()
        .into_iter()
        .map(|(c, content)| (c.sha, String::from_utf8(content).unwrap()))
        .collect();
    assert_eq!(
        history,
        [
            (shas[2].clone(), "image: nginx:1.18\n".to_owned()),
            (shas[1].clone(), "image: nginx:1.17\n".to_owned()),
            (shas[0].clone(), "image: nginx:1.16\n".to_owned()),
        ]
    );
    assert!(git.file_history("missing.yaml").unwrap().is_empty());
}

#[test]
fn paths_are_relative_to_the_work_tree() {
    let (repo, _) = story();
    let git = Repo::discover(repo.path()).unwrap();
    let absolute = repo.path().join("deploy/app.yaml");
    assert_eq!(git.relative_path(&absolute).unwrap(), "deploy/app.yaml");
    let outside = tempfile::tempdir().unwrap();
    let err = git
        .relative_path(&outside.path().join("x.yaml"))
        .unwrap_err();
    assert!(matches!(err, GitError::OutsideRepository { .. }), "{err}");
}

#[test]
fn a_directory_outside_any_repository_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = Repo::discover(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not in a git repository\nhint: pass the repository of the manifests with \
             --repo DIR",
            dir.path().display()
        )
    );
}

#[test]
fn commits_one_file_through_git_and_refuses_a_dirty_one() {
    let (repo, shas) = story();
    let git = Repo::discover(repo.path()).unwrap();
    git.ensure_clean("deploy/app.yaml").unwrap();
    std::fs::write(repo.path().join("deploy/app.yaml"), "image: nginx:9\n").unwrap();
    let err = git.ensure_clean("deploy/app.yaml").unwrap_err();
    assert!(matches!(err, GitError::Dirty { .. }), "{err}");

    repo.git(&["checkout", "--quiet", "--", "deploy/app.yaml"]);
    let old = git.file_at(&shas[1], "deploy/app.yaml").unwrap().unwrap();
    let commit = git
        .commit_file("deploy/app.yaml", &old, "Revert to nginx 1.17")
        .unwrap();
    assert_eq!(commit.subject, "Revert to nginx 1.17");
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), commit.sha);
    assert_eq!(
        std::fs::read_to_string(repo.path().join("deploy/app.yaml")).unwrap(),
        "image: nginx:1.17\n"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}
