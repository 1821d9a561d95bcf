//! The control plane binaries: built from the official Go modules of one Kubernetes release,
//! pinned per minor in `xtask/controlplane/<minor>/go.mod` (written by `cargo xtask cluster pin`),
//! once per version, into `target/controlplane/<version>/bin`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{gotool, run_checked};

/// The binaries a local control plane is made of, with the Go package each is built from.
pub const COMPONENTS: [(&str, &str); 4] = [
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

/// Where the pinned modules live, one directory per minor, relative to the workspace root.
pub const MODULES: &str = "xtask/controlplane";

/// A Kubernetes release pinned by a module of `xtask/controlplane/`.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The exact release, e.g. `v1.36.3`.
    pub version: String,
    pub module_dir: PathBuf,
}

/// The minor of a release a user names: `v1.34`, `v1.34.x` and `v1.34.4` are all `v1.34`, with
/// the patch when one is given.
fn minor_of(requested: &str) -> Result<(String, Option<u32>)> {
    let numbers = requested.strip_prefix('v').unwrap_or(requested);
    let mut parts = numbers.split('.');
    let number = |part: Option<&str>| part.and_then(|p| p.parse::<u32>().ok());
    let (Some(major), Some(minor)) = (number(parts.next()), number(parts.next())) else {
        bail!(
            "{requested:?} is not a Kubernetes version: name a minor (v1.36) or a release (v1.36.3)"
        );
    };
    let patch = match parts.next() {
        None | Some("x") => None,
        Some(patch) => Some(number(Some(patch)).with_context(|| {
            format!("{requested:?} is not a Kubernetes version: its patch is not a number")
        })?),
    };
    if parts.next().is_some() {
        bail!(
            "{requested:?} is not a Kubernetes version: name a minor (v1.36) or a release (v1.36.3)"
        );
    }
    Ok((format!("v{major}.{minor}"), patch))
}

/// The release pinned for `requested`: a minor (`v1.34`, `v1.34.x`) picks the patch release
/// pinned for it; an exact release must be the one pinned.
pub fn pinned(root: &Path, requested: &str) -> Result<Pinned> {
    let (minor, patch) = minor_of(requested)?;
    let module_dir = root.join(MODULES).join(&minor);
    if !module_dir.join("go.mod").is_file() {
        let known: Vec<String> = all_pinned(root)?.into_iter().map(|p| p.version).collect();
        bail!(
            "Kubernetes {minor} is not pinned (pinned: {})\nhint: pin a release of it with `cargo \
             xtask cluster pin {minor}.PATCH`",
            known.join(", ")
        );
    }
    let version = pinned_version(&module_dir)?;
    if let Some(patch) = patch
        && version != format!("{minor}.{patch}")
    {
        bail!(
            "Kubernetes {requested} is not pinned: {minor} is pinned at {version}\nhint: use \
             `--kubernetes {minor}`, or pin {requested} with `cargo xtask cluster pin {requested}`"
        );
    }
    Ok(Pinned {
        version,
        module_dir,
    })
}

/// Every pinned release, oldest minor first.
pub fn all_pinned(root: &Path) -> Result<Vec<Pinned>> {
    let dir = root.join(MODULES);
    let mut pinned = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("could not read {}", dir.display()))? {
        let module_dir = entry?.path();
        if module_dir.join("go.mod").is_file() {
            let version = pinned_version(&module_dir)?;
            pinned.push(Pinned {
                version,
                module_dir,
            });
        }
    }
    pinned.sort_by_key(|p| numeric(&p.version));
    Ok(pinned)
}

/// `v1.36.3` as numbers, to sort releases.
fn numeric(version: &str) -> Vec<u32> {
    version
        .trim_start_matches('v')
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The Kubernetes release a wrapper module pins, e.g. `v1.36.3`.
fn pinned_version(module_dir: &Path) -> Result<String> {
    gotool::pinned_version(module_dir, "k8s.io/kubernetes")
}

/// Builds the binaries of `pinned` unless they are already in `target/`, and says where they are.
pub fn ensure_built(root: &Path, pinned: &Pinned) -> Result<Binaries> {
    let version = pinned.version.clone();
    let module_dir = &pinned.module_dir;
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
            gotool::go(module_dir)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_a_minor_and_maybe_its_patch() {
        for (given, minor, patch) in [
            ("v1.34", "v1.34", None),
            ("1.34", "v1.34", None),
            ("v1.34.x", "v1.34", None),
            ("v1.34.4", "v1.34", Some(4)),
        ] {
            assert_eq!(
                minor_of(given).unwrap(),
                (minor.to_owned(), patch),
                "{given}"
            );
        }
        for not in ["v1", "latest", "v1.x", "v1.34.4.1", "v1.34.rc1"] {
            assert!(minor_of(not).is_err(), "{not}");
        }
    }

    #[test]
    fn a_minor_picks_its_pinned_release_and_other_releases_are_refused() {
        let root = tempfile::tempdir().unwrap();
        for version in ["v1.36.3", "v1.9.1"] {
            let (minor, _) = minor_of(version).unwrap();
            let dir = root.path().join(MODULES).join(minor);
            fs::create_dir_all(&dir).unwrap();
            let go_mod = format!("module m\n\nrequire (\n\tk8s.io/kubernetes {version}\n)\n");
            fs::write(dir.join("go.mod"), go_mod).unwrap();
        }
        assert_eq!(pinned(root.path(), "v1.36").unwrap().version, "v1.36.3");
        assert_eq!(pinned(root.path(), "v1.36.3").unwrap().version, "v1.36.3");
        let err = pinned(root.path(), "v1.36.2").unwrap_err().to_string();
        assert!(
            err.starts_with("Kubernetes v1.36.2 is not pinned: v1.36 is pinned at v1.36.3"),
            "{err}"
        );
        let err = pinned(root.path(), "v1.35").unwrap_err().to_string();
        assert!(
            err.starts_with("Kubernetes v1.35 is not pinned (pinned: v1.9.1, v1.36.3)"),
            "{err}"
        );
        assert!(
            err.contains("`cargo xtask cluster pin v1.35.PATCH`"),
            "{err}"
        );
    }
}
