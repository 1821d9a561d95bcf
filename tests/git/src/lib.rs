//! Git repositories for tests, made with git itself: a fixed author and date, and no user or
//! system configuration, so every SHA is the same on every machine.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// A repository in a temporary directory, on branch `main`, with an identity of its own (the
/// plugin's own commits go through git and need one).
#[derive(Debug)]
pub struct GitRepo {
    dir: tempfile::TempDir,
}

impl GitRepo {
    pub fn new() -> Self {
        let repo = GitRepo {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo.git(&["config", "user.name", "Ada Operator"]);
        repo.git(&["config", "user.email", "ada@example.com"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git in the repository and returns its trimmed stdout; panics when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        let output = isolated(Command::new("git").current_dir(self.path()).args(args))
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Commits `content` as `path`; returns the new commit's SHA.
    pub fn commit(&self, path: &str, content: &str, message: &str) -> String {
        let file = self.path().join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).expect("the directory is made");
        }
        std::fs::write(file, content).expect("the file is written");
        self.git(&["add", path]);
        self.git(&["commit", "--quiet", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Feeds a `git fast-import` stream (many commits in one process) and checks out `main`.
    pub fn fast_import(&self, stream: &str) {
        let mut child = isolated(Command::new("git").current_dir(self.path()))
            .args(["fast-import", "--quiet"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("git fast-import runs");
        let mut stdin = child.stdin.take().expect("a stdin");
        stdin
            .write_all(stream.as_bytes())
            .expect("the stream is written");
        drop(stdin);
        assert!(child.wait().expect("git fast-import ends").success());
        self.git(&["reset", "--quiet", "--hard", "main"]);
    }
}

impl Default for GitRepo {
    fn default() -> Self {
        Self::new()
    }
}

/// git with a fixed identity and dates, and no configuration but the repository's.
fn isolated(cmd: &mut Command) -> &mut Command {
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Ada Operator")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_NAME", "Ada Operator")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
}
