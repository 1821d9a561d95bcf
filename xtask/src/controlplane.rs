//! The control plane binaries: built from the official Go modules pinned in
//! `xtask/controlplane/go.mod`, once per version, into `target/controlplane/<version>/bin`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::run_checked;

/// The binaries a local control plane is made of, with the Go package each is built from.
const COMPONENTS: [(&str, &str); 4] = [
    ("etcd", "go.etcd.io/etcd/server/v3"),
    ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
    (
        "kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
    ),
    ("kubectl", "k8s.io/kubernetes/cmd/kubectl"),
];

/// Where the binaries of one Kubernetes release live.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub version: String,
    pub dir: PathBuf,
}

impl Binaries {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The Kubernetes release pinned by the wrapper module, e.g. `v1.36.3`.
fn pinned_version(module_dir: &Path) -> Result<String> {
    let go_mod = fs::read_to_string(module_dir.join("go.mod"))
        .with_context(|| format!("could not read {}", module_dir.join("go.mod").display()))?;
    go_mod
        .lines()
        .find_map(|line| line.trim().strip_prefix("k8s.io/kubernetes v"))
        .map(|v| format!("v{}", v.trim()))
        .context("xtask/controlplane/go.mod does not require k8s.io/kubernetes")
}

/// Builds the pinned binaries unless they are already in `target/`, and says where they are.
pub fn ensure_built(root: &Path) -> Result<Binaries> {
    let module_dir = root.join("xtask/controlplane");
    let version = pinned_version(&module_dir)?;
    let home = root.join("target/controlplane").join(&version);
    let bin = Binaries {
        version: version.clone(),
        dir: home.join("bin"),
    };
    if COMPONENTS.iter().all(|(name, _)| bin.path(name).is_file()) {
        return Ok(bin);
    }

    eprintln!("building the Kubernetes {version} control plane from Go modules (once per version)");
    let started = Instant::now();
    // Build next to the final directory and rename it at the end, so an interrupted build is never
    // mistaken for a finished one.
    let partial = home.join("bin.partial");
    if partial.exists() {
        fs::remove_dir_all(&partial)?;
    }
    fs::create_dir_all(&partial)?;
    let ldflags = version_ldflags(&version)?;
    for (name, package) in COMPONENTS {
        eprintln!("  go build {package}");
        run_checked(
            Command::new("go")
                .current_dir(&module_dir)
                .env("CGO_ENABLED", "0")
                // Fetches the Go that go.mod names when the local one is older.
                .env("GOTOOLCHAIN", "auto")
                .args(["build", "-ldflags", &ldflags, "-o"])
                .arg(partial.join(name))
                .arg(package),
        )
        .with_context(|| {
            format!("could not build {name}: is Go 1.21 or newer installed (`go version`)?")
        })?;
    }
    if bin.dir.exists() {
        fs::remove_dir_all(&bin.dir)?;
    }
    fs::rename(&partial, &bin.dir)?;
    eprintln!(
        "built the control plane in {:.0?} into {}",
        started.elapsed(),
        bin.dir.display()
    );
    Ok(bin)
}

/// Stamps the release into the binaries, as the upstream build does; without it they report
/// `v0.0.0-master` and kubectl warns about version skew.
fn version_ldflags(version: &str) -> Result<String> {
    let mut parts = version.trim_start_matches('v').split('.');
    let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
        bail!("unexpected Kubernetes version {version}");
    };
    let base = "k8s.io/component-base/version";
    let client = "k8s.io/client-go/pkg/version";
    Ok([
        "-s -w".to_owned(),
        format!("-X {base}.gitVersion={version} -X {client}.gitVersion={version}"),
        format!("-X {base}.gitMajor={major} -X {client}.gitMajor={major}"),
        format!("-X {base}.gitMinor={minor} -X {client}.gitMinor={minor}"),
        format!("-X {base}.gitTreeState=clean -X {client}.gitTreeState=clean"),
    ]
    .join(" "))
}
