//! Embeds the git commit the binary is built from as `GITROLLOUT_COMMIT`, for `version`.
//!
//! The commit is `git rev-parse --short=12 HEAD`, with `-dirty` when tracked files differ from it.
//! Without git or a repository (a source tarball), the `GITROLLOUT_COMMIT` environment variable
//! names it; otherwise it is `unknown`. The script runs again only when HEAD moves (a checkout or a
//! commit), so `-dirty` tells the state of the tree at that moment, not at every later build.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GITROLLOUT_COMMIT");
    let commit = git_commit()
        .or_else(|| {
            std::env::var("GITROLLOUT_COMMIT")
                .ok()
                .map(|commit| commit.trim().to_owned())
                .filter(|commit| !commit.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=GITROLLOUT_COMMIT={commit}");
}

/// The short commit of HEAD with `-dirty` if tracked files changed, or `None` outside a repository.
fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // HEAD names the branch; the branch's ref (loose or packed) moves on every commit.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "--quiet", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        // A path that does not exist would make cargo run the script on every build.
        if let Some(path) = git(&["rev-parse", "--git-path", &name]).map(PathBuf::from)
            && path.exists()
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let status = git(&["status", "--porcelain", "--untracked-files=no"]);
    let dirty = status.is_none_or(|changes| !changes.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

/// Runs git in this crate's directory and returns its trimmed output, or `None` if it failed.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_owned())
}
