//! `cargo xtask krew-test`: installs the plugin as users do, with krew, and uses it through
//! kubectl's plugin discovery on the local control plane.
//!
//! krew is built from its Go module, pinned in `xtask/krew/go.mod`, once per version into
//! `target/krew/<version>/krew`. The host's release archive is built with the `dist` profile into
//! `target/krew/dist` (not `target/dist`, whose archives `cargo xtask dist --check` compares with
//! the committed manifest), with a manifest written beside it by the same code as
//! `krew-manifest.yaml`. Everything krew writes goes to a throwaway `KREW_ROOT`, and kubectl sees
//! a PATH of that root's `bin` and a directory holding `kubectl-krew` only.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::cluster::Running;
use crate::dist::{self, Platform};
use crate::krew::{self, PLUGIN_NAME};
use crate::run_checked;

/// Runs the install test; an error says which step failed, with the command's output.
pub fn run(root: &Path, cluster: &Running) -> Result<()> {
    let started = Instant::now();
    step("building krew from its Go module");
    let krew_bin = krew::build_tool(root, "krew")?;

    step("building the release archive of this machine");
    let package = krew::Package::of_workspace(root)?;
    let platform = Platform::host()?;
    let out = root.join("target/krew/dist");
    let archive = dist::build_archive(root, platform, &package.version, &out)?;
    let manifest = out.join(krew::MANIFEST);
    krew::write_manifest(&manifest, &root.join(krew::MANIFEST), &package, &out, false)?;

    // A throwaway krew home, and kubectl-krew on PATH so that `kubectl krew` is a plugin too.
    let scratch = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(root.join("target/krew"))
        .context("could not make a scratch directory in target/krew")?;
    let krew_root = scratch.path().join("krew-root");
    let tools = scratch.path().join("bin");
    fs::create_dir_all(&tools)?;
    fs::copy(&krew_bin, tools.join("kubectl-krew"))
        .context("could not put kubectl-krew on the test's PATH")?;
    let path = std::env::join_paths([krew_root.join("bin"), tools.clone()])
        .context("the scratch directory's path cannot be on PATH")?;
    let kubectl = Kubectl {
        bin: cluster.bin.path("kubectl"),
        kubeconfig: cluster.kubeconfig.clone(),
        krew_root: krew_root.clone(),
        path,
    };

    // `kubectl krew list` and `uninstall` want a local plugin index, which `kubectl krew update`
    // would clone from GitHub; an empty git repository stands in for it, offline.
    let index = krew_root.join("index/default");
    fs::create_dir_all(index.join("plugins"))?;
    run_checked(Command::new("git").args(["init", "--quiet"]).arg(&index))
        .context("could not make an empty krew index: is git installed?")?;

    step("kubectl krew version");
    kubectl.run(&["krew", "version"])?;

    step(&format!(
        "kubectl krew install --manifest={} --archive={}",
        manifest.display(),
        archive.display()
    ));
    let mut manifest_flag = OsString::from("--manifest=");
    manifest_flag.push(&manifest);
    let mut archive_flag = OsString::from("--archive=");
    archive_flag.push(&archive);
    let installed = kubectl.run(&["krew".into(), "install".into(), manifest_flag, archive_flag])?;
    expect(
        &installed,
        &format!("Installed plugin: {PLUGIN_NAME}"),
        "kubectl krew install",
    )?;
    let linked = krew_root.join("bin").join(platform.bin());
    if !linked.exists() {
        bail!(
            "krew installed {PLUGIN_NAME} but made no {}",
            linked.display()
        );
    }
    let listed = kubectl.run(&["krew", "list"])?;
    expect(&listed, PLUGIN_NAME, "kubectl krew list")?;

    step("kubectl plugin list");
    let plugins = kubectl.run(&["plugin", "list"])?;
    expect(
        &plugins,
        &linked.display().to_string(),
        "kubectl plugin list",
    )?;

    step("kubectl gitrollout version");
    let version = kubectl.run(&["gitrollout", "version"])?;
    expect(
        &version,
        &format!("kubectl-gitrollout v{} (commit ", package.version),
        "kubectl gitrollout version",
    )?;

    let namespace = format!(
        "gitrollout-krew-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    );
    step(&format!(
        "a Deployment on nginx:1.16 in namespace {namespace}"
    ));
    kubectl.run(&["create", "namespace", &namespace])?;
    kubectl.run(&[
        "create",
        "deployment",
        "krew-app",
        "--image=nginx:1.16",
        "-n",
        &namespace,
    ])?;
    kubectl.run(&[
        "rollout",
        "status",
        "deployment/krew-app",
        "--timeout=120s",
        "-n",
        &namespace,
    ])?;

    step(&format!(
        "kubectl gitrollout history deployment/krew-app -n {namespace}"
    ));
    // kubectl takes no flags before a plugin's name: they go after it.
    let history = kubectl.run(&[
        "gitrollout",
        "history",
        "deployment/krew-app",
        "-n",
        &namespace,
    ])?;
    print!("{history}");
    let first_revision = history.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.contains(&"1") && words.contains(&"nginx:1.16")
    });
    if !history.contains("REVISION") || !first_revision {
        bail!(
            "kubectl gitrollout history shows no revision 1 on nginx:1.16; it printed:\n{history}"
        );
    }
    completes_through_kubectl(&kubectl, &krew_root, &package.tag(), &namespace)?;
    kubectl.run(&["delete", "namespace", &namespace, "--wait=false"])?;

    step(&format!("kubectl krew uninstall {PLUGIN_NAME}"));
    kubectl.run(&["krew", "uninstall", PLUGIN_NAME])?;
    if linked.exists() || krew_root.join("store").join(PLUGIN_NAME).exists() {
        bail!(
            "kubectl krew uninstall left {} or its store behind",
            linked.display()
        );
    }
    let plugins = kubectl.run(&["plugin", "list"])?;
    if plugins.contains("kubectl-gitrollout") {
        bail!("kubectl plugin list still shows kubectl-gitrollout after uninstall:\n{plugins}");
    }
    eprintln!(
        "krew-test: passed in {:.0?}: installed, listed, ran and uninstalled with krew",
        started.elapsed()
    );
    Ok(())
}

/// `kubectl gitrollout <TAB>` through kubectl's plugin completion: the helper the archive shipped
/// (krew links only the plugin into its bin directory, so it is linked as the caveats say), then
/// `kubectl __complete` lists the namespace's Deployments after `history deploy/`.
fn completes_through_kubectl(
    kubectl: &Kubectl,
    krew_root: &Path,
    version: &str,
    namespace: &str,
) -> Result<()> {
    step("kubectl __complete gitrollout history deploy/");
    let shipped = krew_root
        .join("store")
        .join(PLUGIN_NAME)
        .join(version)
        .join(dist::COMPLETION_HELPER);
    if !shipped.is_file() {
        bail!("the archive did not ship {}", shipped.display());
    }
    std::os::unix::fs::symlink(
        &shipped,
        krew_root.join("bin").join(dist::COMPLETION_HELPER),
    )
    .context("could not link the completion helper into krew's bin directory")?;
    let completions = kubectl.run(&[
        "__complete",
        "gitrollout",
        "history",
        "-n",
        namespace,
        "deploy/",
    ])?;
    if !completions
        .lines()
        .any(|line| line.starts_with("deploy/krew-app"))
    {
        bail!(
            "kubectl __complete gitrollout history deploy/ did not offer deploy/krew-app:\n{completions}"
        );
    }
    Ok(())
}

fn step(text: &str) {
    eprintln!("krew-test: {text}");
}

fn expect(output: &str, wanted: &str, command: &str) -> Result<()> {
    if !output.contains(wanted) {
        bail!("{command} does not say {wanted:?}; it printed:\n{output}");
    }
    Ok(())
}

/// kubectl with the test's kubeconfig, krew home and PATH.
#[derive(Debug)]
struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    krew_root: PathBuf,
    path: OsString,
}

impl Kubectl {
    /// Runs kubectl and returns its stdout and stderr; fails with both when it fails.
    fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KREW_ROOT", &self.krew_root)
            .env("PATH", &self.path)
            // Offline, and no release lookups on GitHub.
            .env("KREW_NO_UPGRADE_CHECK", "1")
            // The platform krew installs for is this machine's, not one set for a manual test.
            .env_remove("KREW_OS")
            .env_remove("KREW_ARCH");
        let output = cmd
            .output()
            .with_context(|| format!("could not run {}", self.bin.display()))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            let args: Vec<_> = args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect();
            bail!(
                "`kubectl {}` failed with {}:\n{text}",
                args.join(" "),
                output.status
            );
        }
        Ok(text)
    }
}
