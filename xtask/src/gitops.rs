//! `cargo xtask gitops build`: what the tests of Helm releases and of Argo CD and Flux objects run
//! on the control plane, made from pinned Go modules, once per version:
//!
//! - Helm, built from `helm.sh/helm/v4` as pinned in `xtask/helm/go.mod`, into
//!   `target/helm/<version>/helm`;
//! - the CRDs of Argo CD's `Application` and Flux's `Kustomization` and `HelmRelease`, from the
//!   modules pinned in `xtask/crds/go.mod`, into `target/crds/` as plain YAML files.
//!
//! The Application and Kustomization CRDs are the YAML files their modules ship. Flux's
//! helm-controller module is not on the Go module proxy; its api module is. The HelmRelease CRD
//! is generated from that module's kubebuilder markers by controller-gen (pinned in
//! `xtask/controller-gen/go.mod` at the version helm-controller's Makefile names), with the command
//! helm-controller's `make manifests` runs in its api directory: `controller-gen
//! crd:crdVersions=v1 paths="./..." output:crd:artifacts:config=...`. Only the CRDs are real: the
//! Argo CD and Flux controllers do not run, and the tests write `status` in their shape.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::gotool::{self, GoTool};
use crate::run_checked;

/// The variable that tells the tests which helm to run.
pub const HELM_VAR: &str = "GITROLLOUT_TEST_HELM";
/// The variable that tells the tests which directory holds the CRDs to apply.
pub const CRDS_VAR: &str = "GITROLLOUT_TEST_CRDS";

/// Helm, pinned in `xtask/helm/go.mod`.
const HELM: GoTool = GoTool {
    module_dir: "xtask/helm",
    module: "helm.sh/helm/v4",
    target_dir: "helm",
    // The flags Helm's Makefile sets for a build of a release tag (`metadata` is empty there).
    // The module archive carries no git commit, so `gitCommit` stays unset.
    version_ldflags: |version| {
        format!(
            "-X helm.sh/helm/v4/internal/version.version={version} \
             -X helm.sh/helm/v4/internal/version.metadata= \
             -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
        )
    },
};

/// controller-gen, pinned in `xtask/controller-gen/go.mod`.
const CONTROLLER_GEN: GoTool = GoTool {
    module_dir: "xtask/controller-gen",
    module: "sigs.k8s.io/controller-tools",
    target_dir: "controller-gen",
    // As controller-tools' Makefile stamps its release binaries.
    version_ldflags: |version| {
        format!("-X sigs.k8s.io/controller-tools/pkg/version.version={version}")
    },
};

/// The module that pins the modules the CRDs come from.
const CRDS_MODULE: &str = "xtask/crds";

/// The CRDs taken as their modules ship them: module, file in it.
const SHIPPED: [(&str, &str); 2] = [
    (
        "github.com/argoproj/argo-cd/v3",
        "manifests/crds/application-crd.yaml",
    ),
    (
        "github.com/fluxcd/kustomize-controller",
        "config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml",
    ),
];

/// The module of the HelmRelease types (`v2/helmrelease_types.go`), and the file controller-gen
/// writes their CRD to.
const HELM_CONTROLLER_API: &str = "github.com/fluxcd/helm-controller/api";
const HELMRELEASE_CRD: &str = "helm.toolkit.fluxcd.io_helmreleases.yaml";

/// The file of `target/crds/` that names the pinned versions its CRDs were written from.
const PINS_FILE: &str = "pinned.txt";

/// Where `build` put helm and the CRDs.
#[derive(Debug)]
pub struct Built {
    pub helm: PathBuf,
    pub crds: PathBuf,
}

/// Builds helm and writes the CRDs unless they are there already for the pinned versions.
pub fn build(root: &Path) -> Result<Built> {
    Ok(Built {
        helm: HELM.build(root, "helm.sh/helm/v4/cmd/helm")?,
        crds: write_crds(root)?,
    })
}

/// Writes the CRDs into `target/crds/`, unless they are there from the pinned versions, and says
/// where they are. They are written into a directory of their own and renamed into place, so an
/// interrupted run never leaves a part of them.
fn write_crds(root: &Path) -> Result<PathBuf> {
    let dest = root.join("target/crds");
    let pins = pins(root)?;
    if fs::read_to_string(dest.join(PINS_FILE)).is_ok_and(|text| text == pins) {
        return Ok(dest);
    }
    let started = Instant::now();
    let target = root.join("target");
    let scratch = tempfile::Builder::new()
        .prefix("crds-")
        .tempdir_in(&target)
        .with_context(|| format!("could not make a directory in {}", target.display()))?;
    for (module, file) in SHIPPED {
        let from = downloaded(root, module)?.join(file);
        let name = Path::new(file)
            .file_name()
            .context("a CRD file has a name")?;
        let text = fs::read(&from).with_context(|| format!("could not read {}", from.display()))?;
        fs::write(scratch.path().join(name), text)?;
    }
    generate_helmrelease_crd(root, scratch.path())?;
    fs::write(scratch.path().join(PINS_FILE), &pins)?;
    if dest.exists() {
        fs::remove_dir_all(&dest)
            .with_context(|| format!("could not remove the old {}", dest.display()))?;
    }
    fs::rename(scratch.keep(), &dest)
        .with_context(|| format!("could not write {}", dest.display()))?;
    eprintln!(
        "xtask: wrote the CRDs in {:.0?} into {}",
        started.elapsed(),
        dest.display()
    );
    Ok(dest)
}

/// The pinned versions the CRDs are made from, one `<module> <version>` a line.
fn pins(root: &Path) -> Result<String> {
    let crds_module = root.join(CRDS_MODULE);
    let mut pins = String::new();
    let modules = SHIPPED.map(|(module, _)| module);
    for module in modules.into_iter().chain([HELM_CONTROLLER_API]) {
        let version = gotool::pinned_version(&crds_module, module)?;
        let _ = writeln!(pins, "{module} {version}");
    }
    let _ = writeln!(
        pins,
        "{} {}",
        CONTROLLER_GEN.module,
        CONTROLLER_GEN.version(root)?
    );
    Ok(pins)
}

/// What `go mod download -json` says of a module.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Download {
    dir: Option<PathBuf>,
    error: Option<String>,
}

/// The directory of `module` in the module cache, downloaded at the version `xtask/crds/go.mod`
/// pins and verified against its go.sum (and the Go checksum database).
fn downloaded(root: &Path, module: &str) -> Result<PathBuf> {
    let output = gotool::go(&root.join(CRDS_MODULE))
        .args(["mod", "download", "-json", module])
        .output()
        .context("could not run `go mod download`: is Go 1.21 or newer installed?")?;
    let download: Option<Download> = serde_json::from_slice(&output.stdout).ok();
    match download {
        Some(Download { dir: Some(dir), .. }) if output.status.success() => Ok(dir),
        Some(Download {
            error: Some(error), ..
        }) => bail!("could not download {module}: {error}"),
        _ => bail!(
            "could not download {module}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
}

/// Generates the HelmRelease CRD into `out` from helm-controller's api module, as helm-controller
/// does.
fn generate_helmrelease_crd(root: &Path, out: &Path) -> Result<()> {
    let controller_gen =
        CONTROLLER_GEN.build(root, "sigs.k8s.io/controller-tools/cmd/controller-gen")?;
    let api = downloaded(root, HELM_CONTROLLER_API)?;
    let mut output_flag = OsString::from("output:crd:artifacts:config=");
    output_flag.push(out);
    run_checked(
        Command::new(&controller_gen)
            .current_dir(&api)
            // The packages are loaded with the api module's own go.mod and go.sum, and nothing is
            // written into the module cache.
            .env("GOFLAGS", "-mod=readonly")
            .args(["crd:crdVersions=v1", "paths=./..."])
            .arg(output_flag),
    )?;
    if !out.join(HELMRELEASE_CRD).is_file() {
        bail!(
            "controller-gen wrote no {HELMRELEASE_CRD} from {}",
            api.display()
        );
    }
    Ok(())
}
