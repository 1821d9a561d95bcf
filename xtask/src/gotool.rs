//! Commands built from Go modules pinned in dedicated modules of `xtask/` (`xtask/krew`,
//! `xtask/helm`, `xtask/controller-gen`): each names the release it builds in its go.mod, and its
//! go.sum and the Go checksum database verify what is downloaded. A command is built once per
//! pinned version into `target/<name>/<version>/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::run_checked;

/// A Go module pinned in a dedicated module of `xtask/`, and how its commands are built.
#[derive(Debug)]
pub struct GoTool {
    /// The dedicated module, relative to the workspace root, e.g. `xtask/krew`.
    pub module_dir: &'static str,
    /// The module whose version its go.mod pins, e.g. `sigs.k8s.io/krew`.
    pub module: &'static str,
    /// The directory of `target/` its builds go to, one directory per version.
    pub target_dir: &'static str,
    /// The `-X` flags that stamp the pinned version into a command, as its own release build
    /// does; given the version.
    pub version_ldflags: fn(&str) -> String,
}

impl GoTool {
    /// The release `<module_dir>/go.mod` pins, e.g. `v0.4.4`.
    pub fn version(&self, root: &Path) -> Result<String> {
        pinned_version(&root.join(self.module_dir), self.module)
    }

    /// Builds the command of `package` (its last element names it) unless
    /// `target/<target_dir>/<version>/<command>` exists, and says where it is.
    pub fn build(&self, root: &Path, package: &str) -> Result<PathBuf> {
        let module_dir = root.join(self.module_dir);
        let version = self.version(root)?;
        let dir = root.join("target").join(self.target_dir).join(&version);
        let command = package.rsplit('/').next().unwrap_or(package);
        let file = format!("{command}{}", std::env::consts::EXE_SUFFIX);
        let bin = dir.join(&file);
        if bin.is_file() {
            return Ok(bin);
        }
        let started = Instant::now();
        fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        // Built in a directory of this build's own and renamed into place, so that two builds at
        // once (tests run in parallel) never leave half a binary where the other looks for it.
        let scratch = tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(&dir)
            .with_context(|| format!("could not make a build directory in {}", dir.display()))?;
        let built = scratch.path().join(&file);
        let ldflags = format!("-s -w {}", (self.version_ldflags)(&version));
        run_checked(
            go(&module_dir)
                .args(["build", "-trimpath", "-ldflags", &ldflags, "-o"])
                .arg(&built)
                .arg(package),
        )
        .with_context(|| {
            format!("could not build {command}: is Go 1.21 or newer installed (`go version`)?")
        })?;
        fs::rename(&built, &bin).with_context(|| format!("could not write {}", bin.display()))?;
        eprintln!(
            "xtask: built {command} {version} in {:.0?} into {}",
            started.elapsed(),
            bin.display()
        );
        Ok(bin)
    }
}

/// A `go` command in `module_dir`, building without cgo, and fetching the Go that the module's
/// go.mod names when the local one is older.
pub fn go(module_dir: &Path) -> Command {
    let mut command = Command::new("go");
    command
        .current_dir(module_dir)
        .env("CGO_ENABLED", "0")
        .env("GOTOOLCHAIN", "auto");
    command
}

/// The version of `module` that `<module_dir>/go.mod` requires, e.g. `v0.4.4` for
/// `sigs.k8s.io/krew`, whether on a `require` line of its own or in a `require (...)` block.
pub fn pinned_version(module_dir: &Path, module: &str) -> Result<String> {
    let path = module_dir.join("go.mod");
    let go_mod =
        fs::read_to_string(&path).with_context(|| format!("could not read {}", path.display()))?;
    go_mod
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("require ").unwrap_or(line);
            line.strip_prefix(module)?.strip_prefix([' ', '\t'])
        })
        .find_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .with_context(|| format!("{} does not require {module}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_requirement_of_its_own_line_or_of_a_block() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("go.mod"),
            "module example.dev/tools\n\ngo 1.26.0\n\nrequire example.dev/a v1.2.3\n\n\
             require (\n\texample.dev/a/api v0.9.0\n\texample.dev/b v2.0.0 // indirect\n)\n",
        )
        .unwrap();
        let version = |module| pinned_version(dir.path(), module);
        assert_eq!(version("example.dev/a").unwrap(), "v1.2.3");
        assert_eq!(version("example.dev/a/api").unwrap(), "v0.9.0");
        assert_eq!(version("example.dev/b").unwrap(), "v2.0.0");
        let err = version("example.dev").unwrap_err().to_string();
        assert!(
            err.ends_with("go.mod does not require example.dev"),
            "{err}"
        );
    }
}
