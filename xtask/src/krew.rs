//! The krew manifest, `krew-manifest.yaml` at the top of the repository: written from the
//! workspace and the archives in `target/dist`, and checked by krew's own manifest validator
//! (`validate-krew-manifest`, built from the krew module pinned in `xtask/krew/go.mod`) and by
//! this project's own rules.
//!
//! Where each `sha256` comes from, and what is checked about it:
//!
//! - A platform whose archive of the workspace version is in `target/dist` gets that archive's
//!   sha256. `cargo xtask dist` builds the host's archive first, so on a Linux x86_64 machine the
//!   `linux/amd64` entry is that of the archive just built.
//! - A platform without an archive here keeps the sha256 the manifest already has, if that
//!   manifest is of the same version; otherwise it gets a placeholder of 64 zeros, which no archive
//!   matches, so krew refuses to install from it rather than install something unchecked.
//! - The release workflow downloads the six archives it built natively and runs
//!   `cargo xtask dist --manifest-only`, which takes every sha256 from an archive and fails if one
//!   is missing. That manifest, attached to the release, is the one users install from.
//!
//! The committed manifest therefore cannot carry the sha256 of an archive built from the commit
//! that holds it: the binary embeds its commit (`kubectl gitrollout version`), so any commit
//! changes the archive, and every change to the code would change it too. `cargo xtask dist
//! --check` checks what is true of it: krew's validator accepts it (krew's rules are krew's, not
//! re-implemented here), it is exactly what the workspace gives now (version, URIs, binaries,
//! platforms, texts), and its sha256 values match every archive of this version present in
//! `target/dist` (all six in the release job). The install test (`cargo xtask krew-test`) builds
//! a fresh archive and installs it with a manifest written by the same code, and krew itself
//! checks the sha256 there.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::dist::{self, COMPLETION_HELPER, PLATFORMS, Platform};
use crate::gotool::GoTool;

/// The manifest's file name, at the top of the repository.
pub const MANIFEST: &str = "krew-manifest.yaml";

/// The name users install and run the plugin by: `kubectl krew install gitrollout`.
pub const PLUGIN_NAME: &str = "gitrollout";

const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
const KIND: &str = "Plugin";

/// Stands for a sha256 no archive built here could give; no archive matches it.
const PLACEHOLDER_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Starts the comment line naming the platforms whose sha256 is the placeholder.
const PLACEHOLDERS_NOTE: &str = "# Placeholder sha256 (no archive of this version built yet): ";

const SHORT_DESCRIPTION: &str = "Rollout history, diffs and reverts that behave like git";

const DESCRIPTION: &str = "\
Shows the rollout history of Deployments, StatefulSets and DaemonSets the way git
shows commits: what each revision ran, what changed between two revisions, and the
commit that produced it. A revert is a new revision with old contents, so history
stays append-only and revision numbers never move; with --dry-run it is a diff.

  kubectl gitrollout history deployment/my-app
  kubectl gitrollout diff deployment/my-app 1 3
  kubectl gitrollout revert deployment/my-app --to-revision 2 --dry-run
";

const CAVEATS: &str = "\
kubectl gitrollout reads rollout history with your credentials. In the workload's
namespace it needs:

  get, list, watch   deployments, statefulsets, daemonsets (apps)
  list, watch        replicasets, controllerrevisions (apps)
  list               pods (for -o wide of StatefulSets and DaemonSets)

`kubectl gitrollout revert` also needs:

  patch  deployments, statefulsets, daemonsets (apps)

and `kubectl gitrollout record`:

  patch  replicasets, controllerrevisions, deployments (apps)

For `kubectl gitrollout <TAB>` (kubectl 1.26 or newer), put the completion helper
on PATH once (krew links only the plugin itself):

  kubectl gitrollout completion kubectl > \"${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-gitrollout\"
  chmod +x \"${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-gitrollout\"
";

/// What the manifest is made from: the plugin package as `cargo metadata` describes it.
#[derive(Debug, Clone)]
pub struct Package {
    /// The workspace version without `v`, e.g. `0.1.0`.
    pub version: String,
    /// The repository URL; releases are downloaded from `<repository>/releases/download/...`.
    pub repository: String,
}

impl Package {
    /// The plugin package of the workspace at `root`.
    pub fn of_workspace(root: &Path) -> Result<Self> {
        let (version, repository) = dist::workspace_package(root)?;
        Ok(Self {
            version,
            repository: repository.trim_end_matches('/').to_owned(),
        })
    }

    pub fn tag(&self) -> String {
        format!("v{}", self.version)
    }

    /// Where the release workflow publishes a platform's archive.
    fn uri(&self, platform: Platform) -> String {
        format!(
            "{}/releases/download/{}/{}",
            self.repository,
            self.tag(),
            platform.archive_name(&self.version)
        )
    }
}

/// The parts of a plugin manifest (krew's `pkg/index/types.go`) this project's rules read; krew's
/// validator checks the rest.
#[derive(Debug, Default, Deserialize)]
struct Plugin {
    spec: Option<Spec>,
}

#[derive(Debug, Default, Deserialize)]
struct Spec {
    version: Option<String>,
    platforms: Option<Vec<PlatformSpec>>,
}

#[derive(Debug, Default, Deserialize)]
struct PlatformSpec {
    sha256: Option<String>,
    selector: Option<Selector>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_labels: Option<BTreeMap<String, String>>,
}

impl PlatformSpec {
    /// The platform its selector names, if it names one of ours by `matchLabels`.
    fn platform(&self) -> Option<Platform> {
        let labels = self.selector.as_ref()?.match_labels.as_ref()?;
        let (os, arch) = (labels.get("os")?, labels.get("arch")?);
        PLATFORMS.into_iter().find(|p| p.os == os && p.arch == arch)
    }
}

/// The manifest for `package` with these checksums; a platform without one gets the placeholder.
fn render(package: &Package, checksums: &BTreeMap<Platform, String>) -> String {
    let placeholders: Vec<String> = PLATFORMS
        .iter()
        .filter(|p| checksums.get(p).is_none_or(|sha| sha == PLACEHOLDER_SHA256))
        .map(ToString::to_string)
        .collect();
    let mut out = String::new();
    out.push_str(
        "# Written by `cargo xtask dist` from the workspace and the archives in target/dist; do not\n\
         # edit. `cargo xtask dist --check` validates it. The manifest attached to each release has\n\
         # the sha256 of all six archives that release publishes.\n",
    );
    if !placeholders.is_empty() {
        let _ = writeln!(out, "{PLACEHOLDERS_NOTE}{}.", placeholders.join(", "));
    }
    let _ = write!(
        out,
        "apiVersion: {API_VERSION}\n\
         kind: {KIND}\n\
         metadata:\n  name: {PLUGIN_NAME}\n\
         spec:\n  version: {version}\n  homepage: {homepage}\n  shortDescription: {SHORT_DESCRIPTION}\n",
        version = package.tag(),
        homepage = package.repository,
    );
    for (key, text) in [("description", DESCRIPTION), ("caveats", CAVEATS)] {
        let _ = writeln!(out, "  {key}: |");
        for line in text.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out.push_str("  platforms:\n");
    for platform in PLATFORMS {
        let sha256 = checksums
            .get(&platform)
            .map_or(PLACEHOLDER_SHA256, String::as_str);
        let bin = platform.bin();
        let helper = match platform.windows() {
            true => String::new(),
            false => format!("        - from: {COMPLETION_HELPER}\n          to: .\n"),
        };
        // The sha256 is quoted: one made of digits only would otherwise be read as a number.
        let _ = write!(
            out,
            "    - selector:\n        matchLabels:\n          os: {os}\n          arch: {arch}\n      \
             uri: {uri}\n      sha256: \"{sha256}\"\n      files:\n        - from: {bin}\n          \
             to: .\n        - from: LICENSE\n          to: .\n{helper}      bin: {bin}\n",
            os = platform.os,
            arch = platform.arch,
            uri = package.uri(platform),
        );
    }
    out
}

/// This project's rules, one message per problem; empty when the manifest is what the workspace
/// gives now and its sha256 values match every archive in `archives`.
fn project_problems(
    text: &str,
    package: &Package,
    archives: &BTreeMap<Platform, String>,
) -> Vec<String> {
    let plugin: Plugin = match serde_saphyr::from_str(text) {
        Ok(plugin) => plugin,
        Err(err) => return vec![format!("it is not a krew plugin manifest: {err}")],
    };
    let mut problems = Vec::new();
    let platforms = plugin.spec.as_ref().and_then(|s| s.platforms.as_deref());
    for (index, entry) in platforms.unwrap_or_default().iter().enumerate() {
        let (Some(platform), Some(sha256)) = (entry.platform(), &entry.sha256) else {
            continue;
        };
        if let Some(archive) = archives.get(&platform)
            && sha256 != archive
        {
            problems.push(format!(
                "spec.platforms[{index}] ({platform}): sha256 is {sha256}, but the archive {} in \
                 target/dist has sha256 {archive}",
                platform.archive_name(&package.version)
            ));
        }
    }
    // Everything but the checksums must be what the workspace gives now.
    let expected = render(package, &checksums_of(&plugin));
    if let Some(difference) = first_difference(text, &expected) {
        problems.push(format!(
            "it is not what `cargo xtask dist` writes from the workspace now: {difference}"
        ));
    }
    problems
}

/// The sha256 of each platform entry that has a well-formed one.
fn checksums_of(plugin: &Plugin) -> BTreeMap<Platform, String> {
    let platforms = plugin.spec.as_ref().and_then(|s| s.platforms.as_ref());
    platforms
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let sha256 = entry.sha256.as_ref().filter(|s| is_sha256(s))?;
            Some((entry.platform()?, sha256.clone()))
        })
        .collect()
}

fn first_difference(actual: &str, expected: &str) -> Option<String> {
    let (mut actual_lines, mut expected_lines) = (actual.lines(), expected.lines());
    for number in 1.. {
        match (actual_lines.next(), expected_lines.next()) {
            (None, None) => return None,
            (a, e) if a == e => {}
            (a, e) => {
                let show = |line: Option<&str>| {
                    line.map_or("the end of the file".to_owned(), |l| {
                        format!("`{}`", l.trim())
                    })
                };
                return Some(format!(
                    "line {number} is {} where it should be {}",
                    show(a),
                    show(e)
                ));
            }
        }
    }
    None
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Writes the manifest at `path` for the archives in `dist`; sha256 values of platforms without an
/// archive are kept from the manifest at `keep_from` (see the module's doc). With `release`, every
/// platform must have its archive in `dist`.
pub fn write_manifest(
    path: &Path,
    keep_from: &Path,
    package: &Package,
    dist: &Path,
    release: bool,
) -> Result<()> {
    let archives = dist::archives_in(dist, &package.version)?;
    let kept = match fs::read_to_string(keep_from) {
        Ok(text) => match serde_saphyr::from_str::<Plugin>(&text) {
            Ok(plugin)
                if plugin.spec.as_ref().and_then(|s| s.version.as_deref())
                    == Some(package.tag().as_str()) =>
            {
                checksums_of(&plugin)
            }
            _ => BTreeMap::new(),
        },
        Err(_) => BTreeMap::new(),
    };
    let mut checksums = BTreeMap::new();
    let (mut built, mut kept_for, mut missing) = (Vec::new(), Vec::new(), Vec::new());
    for platform in PLATFORMS {
        if let Some(sha256) = archives.get(&platform) {
            checksums.insert(platform, sha256.clone());
            built.push(platform.to_string());
        } else if release {
            missing.push(platform.archive_name(&package.version));
        } else if let Some(sha256) = kept.get(&platform).filter(|s| *s != PLACEHOLDER_SHA256) {
            checksums.insert(platform, sha256.clone());
            kept_for.push(platform.to_string());
        }
    }
    if !missing.is_empty() {
        bail!(
            "the release manifest needs an archive for every platform, and {} has no {}: \
             download the archives of all six release builds into it first",
            dist.display(),
            missing.join(", ")
        );
    }
    let text = render(package, &checksums);
    fs::write(path, &text).with_context(|| format!("could not write {}", path.display()))?;
    eprintln!(
        "dist: wrote {} for v{}: sha256 from archives for {}{}",
        path.display(),
        package.version,
        list_or_none(&built),
        if kept_for.is_empty() {
            String::new()
        } else {
            format!(
                ", kept from the previous manifest for {}",
                kept_for.join(", ")
            )
        }
    );
    Ok(())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// `cargo xtask dist --check`: krew's validator accepts the committed manifest, and it is up to
/// date with the workspace and matches the archives of this version in `dist`.
pub fn check(root: &Path, package: &Package, dist: &Path) -> Result<()> {
    let validator = build_tool(root, VALIDATOR)?;
    check_manifest(&validator, &root.join(MANIFEST), package, dist)
}

/// [`check`] of the manifest at `path`, with krew's validator at `validator`.
fn check_manifest(validator: &Path, path: &Path, package: &Package, dist: &Path) -> Result<()> {
    let text = fs::read_to_string(path).with_context(|| {
        format!("could not read {MANIFEST}: run `cargo xtask dist` to write it, and commit it")
    })?;
    validate_with_krew(validator, &text)?;
    let archives = dist::archives_in(dist, &package.version)?;
    let problems = project_problems(&text, package, &archives);
    if !problems.is_empty() {
        bail!(
            "{MANIFEST} is stale:\n  {}\nhint: run `cargo xtask dist` to write it again, and \
             commit it",
            problems.join("\n  ")
        );
    }
    let verified: Vec<String> = PLATFORMS
        .iter()
        .filter(|p| archives.contains_key(p))
        .map(ToString::to_string)
        .collect();
    let placeholders = text
        .lines()
        .find_map(|l| l.strip_prefix(PLACEHOLDERS_NOTE))
        .map_or("none".to_owned(), |l| l.trim_end_matches('.').to_owned());
    println!(
        "{MANIFEST}: valid for krew and up to date with v{}; sha256 checked against the archives \
         in {}: {}; placeholder sha256: {placeholders}",
        package.version,
        dist.display(),
        list_or_none(&verified),
    );
    Ok(())
}

/// krew's rules, by krew's own validator. It wants the file named `<plugin name>.yaml`, so it
/// checks a copy; `-skip-install` leaves out installing each platform's archive, which would
/// download archives that a release publishes only after this check.
fn validate_with_krew(validator: &Path, text: &str) -> Result<()> {
    let dir = tempfile::tempdir().context("could not make a directory for krew's validator")?;
    let copy = dir.path().join(format!("{PLUGIN_NAME}.yaml"));
    fs::write(&copy, text).with_context(|| format!("could not write {}", copy.display()))?;
    let mut manifest_flag = OsString::from("-manifest=");
    manifest_flag.push(&copy);
    let output = Command::new(validator)
        .arg(manifest_flag)
        .arg("-skip-install")
        .output()
        .with_context(|| format!("could not run {}", validator.display()))?;
    if !output.status.success() {
        bail!(
            "{MANIFEST} is not valid for krew: {}\nhint: run `cargo xtask dist` to write it \
             again, and commit it",
            klog_errors(&String::from_utf8_lossy(&output.stderr))
        );
    }
    Ok(())
}

/// The messages of klog's error and fatal lines (`F1127 10:00:14.914433  21145 main.go:63] ...`),
/// or all of `stderr` when it has none.
fn klog_errors(stderr: &str) -> String {
    let messages: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with(['E', 'F']))
        .filter_map(|line| line.split_once("] ").map(|(_, message)| message))
        .collect();
    if messages.is_empty() {
        stderr.trim().to_owned()
    } else {
        messages.join("\n  ")
    }
}

/// krew, pinned in `xtask/krew/go.mod`; its commands are built into `target/krew/<version>/`.
const KREW: GoTool = GoTool {
    module_dir: "xtask/krew",
    module: "sigs.k8s.io/krew",
    target_dir: "krew",
    version_ldflags: |version| format!("-X sigs.k8s.io/krew/internal/version.gitTag={version}"),
};

/// krew's manifest validator, a command of the pinned krew module.
const VALIDATOR: &str = "validate-krew-manifest";

/// Builds a command of the pinned krew module (`krew`, `validate-krew-manifest`) once per
/// version, and says where it is.
pub fn build_tool(root: &Path, command: &str) -> Result<PathBuf> {
    KREW.build(root, &format!("sigs.k8s.io/krew/cmd/{command}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package() -> Package {
        Package {
            version: "0.1.0".to_owned(),
            repository: "https://github.com/gitrollout/kubectl-gitrollout".to_owned(),
        }
    }

    /// A distinct, valid sha256 per platform.
    fn checksums() -> BTreeMap<Platform, String> {
        PLATFORMS
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, format!("{}", i + 1).repeat(64)))
            .collect()
    }

    fn manifest() -> String {
        render(&package(), &checksums())
    }

    fn problems_with(text: &str) -> Vec<String> {
        project_problems(text, &package(), &BTreeMap::new())
    }

    /// The manifest with its first occurrence of `from` replaced.
    fn edited(from: &str, to: &str) -> String {
        let text = manifest();
        assert!(text.contains(from), "{from:?} is not in the manifest");
        text.replacen(from, to, 1)
    }

    fn assert_rejected(text: &str, expected: &str) {
        let problems = problems_with(text);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "expected a problem containing {expected:?}, got {problems:#?}"
        );
    }

    /// `--check` of `text` as the committed manifest, with no archives in target/dist, and krew's
    /// validator built from the pinned module into this workspace's target/.
    fn check_text(text: &str) -> Result<()> {
        let validator = build_tool(&crate::workspace_root(), VALIDATOR).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MANIFEST);
        fs::write(&path, text).unwrap();
        check_manifest(&validator, &path, &package(), &dir.path().join("dist"))
    }

    #[test]
    fn the_manifest_written_is_up_to_date_and_names_every_platform() {
        let text = manifest();
        assert_eq!(problems_with(&text), Vec::<String>::new());
        let plugin: Plugin = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(
            plugin.spec.as_ref().unwrap().version.as_deref(),
            Some("v0.1.0")
        );
        assert_eq!(checksums_of(&plugin), checksums());
        assert!(text.contains(
            "      uri: https://github.com/gitrollout/kubectl-gitrollout/releases/download/v0.1.0/\
             kubectl-gitrollout_v0.1.0_linux_amd64.tar.gz\n"
        ));
        assert!(text.contains("      bin: kubectl-gitrollout.exe\n"));
        assert!(text.contains("list, watch        replicasets, controllerrevisions"));
        // The completion helper is installed beside the binary, except on Windows.
        let helper = "        - from: kubectl_complete-gitrollout\n          to: .\n";
        assert_eq!(text.matches(helper).count(), 4, "{text}");
        assert!(!text.contains("Placeholder"));
    }

    #[test]
    fn placeholders_are_quoted_and_named() {
        let only_linux = BTreeMap::from([(PLATFORMS[0], "ab".repeat(32))]);
        let text = render(&package(), &only_linux);
        assert!(text.contains(&format!("sha256: \"{PLACEHOLDER_SHA256}\"")));
        assert!(text.contains(
            "# Placeholder sha256 (no archive of this version built yet): linux/arm64, \
             darwin/amd64, darwin/arm64, windows/amd64, windows/arm64."
        ));
        assert_eq!(problems_with(&text), Vec::<String>::new());
    }

    #[test]
    fn rejects_a_sha256_that_does_not_match_the_archive() {
        let archives = BTreeMap::from([(PLATFORMS[0], "ab".repeat(32))]);
        let problems = project_problems(&manifest(), &package(), &archives);
        assert_eq!(
            problems,
            [format!(
                "spec.platforms[0] (linux/amd64): sha256 is {}, but the archive \
                 kubectl-gitrollout_v0.1.0_linux_amd64.tar.gz in target/dist has sha256 {}",
                "1".repeat(64),
                "ab".repeat(32)
            )]
        );
    }

    #[test]
    fn rejects_a_manifest_that_differs_from_what_the_workspace_gives() {
        assert_rejected(
            &edited("  caveats: |\n", "  caveats: |\n    edited by hand\n"),
            "it is not what `cargo xtask dist` writes from the workspace now: line",
        );
        assert_rejected(
            &edited(
                "  homepage: https://github.com/gitrollout/kubectl-gitrollout",
                "  homepage: https://example.com",
            ),
            "line 10 is `homepage: https://example.com` where it should be `homepage: https://github.com/gitrollout/kubectl-gitrollout`",
        );
        assert_rejected(
            &edited("  version: v0.1.0\n", "  version: v0.2.0\n"),
            "is `version: v0.2.0` where it should be `version: v0.1.0`",
        );
        assert_rejected(
            &edited("bin: kubectl-gitrollout.exe", "bin: kubectl-gitrollout"),
            "is `bin: kubectl-gitrollout` where it should be `bin: kubectl-gitrollout.exe`",
        );
        // Unquoted, a sha256 of digits only is a number to krew's YAML reader.
        assert_rejected(
            &edited(&format!("\"{}\"", "1".repeat(64)), &"1".repeat(64)),
            &format!(
                "is `sha256: {ones}` where it should be `sha256: \"{ones}\"`",
                ones = "1".repeat(64)
            ),
        );
    }

    #[test]
    fn reads_the_pinned_krew_release() {
        let version = KREW.version(&crate::workspace_root()).unwrap();
        assert!(version.starts_with("v0.4."), "{version}");
    }

    #[test]
    fn check_passes_a_manifest_krew_accepts() {
        check_text(&manifest()).unwrap();
        let only_linux = BTreeMap::from([(PLATFORMS[0], "ab".repeat(32))]);
        check_text(&render(&package(), &only_linux)).unwrap();
    }

    #[test]
    fn check_fails_on_what_krew_rejects() {
        for (text, krew_says) in [
            (
                edited(&"1".repeat(64), "abc"),
                "`sha256` value abc is not valid, must match pattern ^[a-f0-9]{64}$",
            ),
            (
                edited("  version: v0.1.0\n", "  version: \"0.1.0\"\n"),
                "failed to parse plugin version",
            ),
            (
                edited("  name: gitrollout\n", "  name: rollout\n"),
                "plugin should be named \"gitrollout\", not \"rollout\"",
            ),
        ] {
            let err = format!("{:#}", check_text(&text).unwrap_err());
            assert!(
                err.starts_with("krew-manifest.yaml is not valid for krew: ")
                    && err.contains(krew_says),
                "{err}"
            );
        }
    }
}
