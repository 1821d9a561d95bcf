//! The krew manifest, `krew-manifest.yaml` at the top of the repository: written from the
//! workspace and the archives in `target/dist`, and validated as krew validates plugin manifests
//! (kubernetes-sigs/krew `internal/index/validation/validate.go`), plus this project's own rules.
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
//! --check` checks what is true of it: it passes krew's rules, its version, URIs, binaries,
//! platforms and texts are exactly what the workspace gives now, and its sha256 values match every
//! archive of this version present in `target/dist` (all six in the release job). The install test
//! (`cargo xtask krew-test`) builds a fresh archive and installs it with a manifest written by the
//! same code, and krew itself checks the sha256 there.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::dist::{self, PLATFORMS, Platform};

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

  get    deployments, statefulsets, daemonsets (apps)
  list   replicasets, controllerrevisions (apps)

`kubectl gitrollout revert` also needs:

  patch  deployments, statefulsets, daemonsets (apps)

and `kubectl gitrollout record`:

  patch  replicasets, controllerrevisions, deployments (apps)
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

    fn tag(&self) -> String {
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

/// A plugin manifest as krew reads it (`pkg/index/types.go`). Every field is optional here so
/// that a missing one is reported by name rather than as a parse error; like krew, fields it does
/// not know are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Plugin {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<Metadata>,
    spec: Option<Spec>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    version: Option<String>,
    short_description: Option<String>,
    description: Option<String>,
    caveats: Option<String>,
    homepage: Option<String>,
    platforms: Option<Vec<PlatformSpec>>,
}

#[derive(Debug, Default, Deserialize)]
struct PlatformSpec {
    uri: Option<String>,
    sha256: Option<String>,
    selector: Option<Selector>,
    files: Option<Vec<FileOperation>>,
    bin: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_labels: Option<BTreeMap<String, String>>,
    match_expressions: Option<Vec<MatchExpression>>,
}

#[derive(Debug, Default, Deserialize)]
struct MatchExpression {
    key: String,
}

#[derive(Debug, Default, Deserialize)]
struct FileOperation {
    from: Option<String>,
    to: Option<String>,
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
        // The sha256 is quoted: one made of digits only would otherwise be read as a number.
        let _ = write!(
            out,
            "    - selector:\n        matchLabels:\n          os: {os}\n          arch: {arch}\n      \
             uri: {uri}\n      sha256: \"{sha256}\"\n      files:\n        - from: {bin}\n          \
             to: .\n        - from: LICENSE\n          to: .\n      bin: {bin}\n",
            os = platform.os,
            arch = platform.arch,
            uri = package.uri(platform),
        );
    }
    out
}

/// Everything wrong with a manifest, one message per problem, each naming the field; empty when
/// it is valid, up to date with the workspace, and matches every archive in `archives`.
fn problems(text: &str, package: &Package, archives: &BTreeMap<Platform, String>) -> Vec<String> {
    let plugin: Plugin = match serde_norway::from_str(text) {
        Ok(plugin) => plugin,
        Err(err) => return vec![format!("it is not a krew plugin manifest: {err}")],
    };
    let mut problems = validate(&plugin, package, archives);
    if problems.is_empty() {
        // Valid: then everything but the checksums must be what the workspace gives now.
        let checksums = checksums_of(&plugin);
        let expected = render(package, &checksums);
        if let Some(difference) = first_difference(text, &expected) {
            problems.push(format!(
                "it is not what `cargo xtask dist` writes from the workspace now: {difference}"
            ));
        }
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

/// krew's rules (validate.go), then this project's: the name, the workspace version, the release
/// URIs, the binaries and all six platforms once each.
fn validate(
    plugin: &Plugin,
    package: &Package,
    archives: &BTreeMap<Platform, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |text: String| problems.push(text);

    match plugin.api_version.as_deref() {
        Some(API_VERSION) => {}
        other => problem(format!(
            "apiVersion is {}, krew supports only {API_VERSION}",
            shown(other)
        )),
    }
    match plugin.kind.as_deref() {
        Some(KIND) => {}
        other => problem(format!(
            "kind is {}, krew supports only {KIND}",
            shown(other)
        )),
    }
    let name = plugin.metadata.as_ref().and_then(|m| m.name.as_deref());
    match name {
        Some(PLUGIN_NAME) => {}
        Some(name) if !is_safe_plugin_name(name) => problem(format!(
            "metadata.name `{name}` is not a plugin name krew allows (letters, digits, `_` and \
             `-`, not a reserved Windows name); it must be `{PLUGIN_NAME}`"
        )),
        other => problem(format!(
            "metadata.name is {}, it must be `{PLUGIN_NAME}`",
            shown(other)
        )),
    }
    let Some(spec) = &plugin.spec else {
        problem("spec is missing".to_owned());
        return problems;
    };

    match spec.short_description.as_deref() {
        None | Some("") => problem("spec.shortDescription is missing".to_owned()),
        Some(text) if text.contains(['\r', '\n']) => {
            problem("spec.shortDescription has a line break; it must be one line".to_owned());
        }
        Some(_) => {}
    }
    for (field, value) in [
        ("spec.description", &spec.description),
        ("spec.caveats", &spec.caveats),
        ("spec.homepage", &spec.homepage),
    ] {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            problem(format!("{field} is missing"));
        }
    }

    let tag = package.tag();
    match spec.version.as_deref() {
        None | Some("") => problem(format!("spec.version is missing; it must be `{tag}`")),
        Some(version) => {
            if let Some(why) = semver_problem(version) {
                problem(format!("spec.version `{version}` {why}"));
            } else if version != tag {
                problem(format!(
                    "spec.version is `{version}` but the workspace version is `{tag}`"
                ));
            }
        }
    }

    let platforms = spec.platforms.as_deref().unwrap_or_default();
    if platforms.is_empty() {
        problem("spec.platforms is empty; krew needs at least one platform".to_owned());
    }
    let mut seen = BTreeSet::new();
    for (index, entry) in platforms.iter().enumerate() {
        let platform = entry.platform();
        let at = match platform {
            Some(p) => format!("spec.platforms[{index}] ({p})"),
            None => format!("spec.platforms[{index}]"),
        };
        for why in platform_problems(entry) {
            problem(format!("{at}: {why}"));
        }
        let Some(platform) = platform else {
            problem(format!(
                "{at}: selector.matchLabels must name `os` and `arch`, one of {}",
                PLATFORMS.map(|p| p.to_string()).join(", ")
            ));
            continue;
        };
        if !seen.insert(platform) {
            problem(format!("{at}: {platform} appears more than once"));
        }
        if let Some(uri) = &entry.uri {
            let expected = package.uri(platform);
            if !uri.is_empty() && *uri != expected {
                problem(format!("{at}: uri is `{uri}`, it must be `{expected}`"));
            }
        }
        if let Some(bin) = entry.bin.as_deref().filter(|b| !b.is_empty())
            && bin != platform.bin()
        {
            problem(format!(
                "{at}: bin is `{bin}`, it must be `{}`",
                platform.bin()
            ));
        }
        if let (Some(sha256), Some(archive)) = (&entry.sha256, archives.get(&platform))
            && is_sha256(sha256)
            && sha256 != archive
        {
            problem(format!(
                "{at}: sha256 is {sha256}, but the archive {} in target/dist has sha256 {archive}",
                platform.archive_name(&package.version)
            ));
        }
    }
    for platform in PLATFORMS {
        if !seen.contains(&platform) && !platforms.is_empty() {
            problem(format!("spec.platforms has no entry for {platform}"));
        }
    }
    problems
}

/// krew's `validatePlatform`, with the URI's archive type added.
fn platform_problems(entry: &PlatformSpec) -> Vec<String> {
    let mut problems = Vec::new();
    match entry.uri.as_deref() {
        None | Some("") => problems.push("uri is missing".to_owned()),
        Some(uri) if !(uri.ends_with(".tar.gz") || uri.ends_with(".zip")) => {
            problems.push(format!("uri `{uri}` must end in .tar.gz or .zip"));
        }
        Some(_) => {}
    }
    match entry.sha256.as_deref() {
        None | Some("") => problems.push("sha256 is missing".to_owned()),
        Some(sha256) if !is_sha256(sha256) => problems.push(format!(
            "sha256 `{sha256}` is not a sha256: it must be 64 lowercase hex digits"
        )),
        Some(_) => {}
    }
    if entry.bin.as_deref().is_none_or(str::is_empty) {
        problems.push("bin is missing".to_owned());
    }
    if let Some(files) = &entry.files {
        if files.is_empty() {
            problems.push("files is empty; leave it out or list files".to_owned());
        }
        for (index, op) in files.iter().enumerate() {
            if op.from.as_deref().is_none_or(str::is_empty) {
                problems.push(format!("files[{index}].from is missing"));
            }
            if op.to.as_deref().is_none_or(str::is_empty) {
                problems.push(format!("files[{index}].to is missing"));
            }
        }
    }
    match &entry.selector {
        None => problems.push("selector is missing".to_owned()),
        Some(selector) => {
            let labels = selector.match_labels.as_ref();
            let expressions = selector.match_expressions.as_ref();
            if labels.is_none() && expressions.is_none_or(Vec::is_empty) {
                problems.push("selector is empty".to_owned());
            }
            let keys = labels
                .into_iter()
                .flat_map(|l| l.keys())
                .chain(expressions.into_iter().flatten().map(|e| &e.key));
            for key in keys {
                if key != "os" && key != "arch" {
                    problems.push(format!(
                        "selector key `{key}` is not supported; krew knows `os` and `arch`"
                    ));
                }
            }
            if labels.is_some_and(BTreeMap::is_empty) {
                problems.push("selector.matchLabels is empty".to_owned());
            }
            if expressions.is_some_and(Vec::is_empty) {
                problems.push("selector.matchExpressions is empty".to_owned());
            }
        }
    }
    problems
}

fn shown(value: Option<&str>) -> String {
    value.map_or("missing".to_owned(), |v| format!("`{v}`"))
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// krew's `IsSafePluginName`.
fn is_safe_plugin_name(name: &str) -> bool {
    const WINDOWS_RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !WINDOWS_RESERVED
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// Why a version is not one krew accepts (a `v`, then a semantic version, as
/// `semver.Parse` in krew and `ParseSemantic` in k8s.io/apimachinery), or `None`.
fn semver_problem(version: &str) -> Option<String> {
    const EXAMPLE: &str = "as in `v0.1.0` or `v1.2.3-rc.1`";
    let Some(rest) = version.strip_prefix('v') else {
        return Some(format!("must start with `v`, {EXAMPLE}"));
    };
    let (rest, build) = match rest.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let numeric = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    if numbers.len() != 3 || !numbers.iter().all(|n| numeric(n)) {
        return Some(format!(
            "is not a semantic version: it needs MAJOR.MINOR.PATCH numbers, {EXAMPLE}"
        ));
    }
    if numbers.iter().any(|n| n.len() > 1 && n.starts_with('0')) {
        return Some(format!("has a number with a leading zero, {EXAMPLE}"));
    }
    let identifiers_ok = |part: &str, numbers_unpadded: bool| {
        part.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !(numbers_unpadded && numeric(id) && id.len() > 1 && id.starts_with('0'))
        })
    };
    if pre.is_some_and(|pre| !identifiers_ok(pre, true)) {
        return Some(format!("has a malformed pre-release part, {EXAMPLE}"));
    }
    if build.is_some_and(|build| !identifiers_ok(build, false)) {
        return Some(format!("has malformed build metadata, {EXAMPLE}"));
    }
    None
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
        Ok(text) => match serde_norway::from_str::<Plugin>(&text) {
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
    let problems = problems(&text, package, &archives);
    if !problems.is_empty() {
        bail!(
            "the manifest xtask writes is invalid, which is a bug in xtask/src/krew.rs:\n  {}",
            problems.join("\n  ")
        );
    }
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

/// `cargo xtask dist --check`: the committed manifest is valid for krew, up to date with the
/// workspace, and matches the archives of this version in `dist`.
pub fn check(root: &Path, package: &Package, dist: &Path) -> Result<()> {
    let path = root.join(MANIFEST);
    let text = fs::read_to_string(&path).with_context(|| {
        format!("could not read {MANIFEST}: run `cargo xtask dist` to write it, and commit it")
    })?;
    let archives = dist::archives_in(dist, &package.version)?;
    let problems = problems(&text, package, &archives);
    if !problems.is_empty() {
        bail!(
            "{MANIFEST} is stale or invalid:\n  {}\nrun `cargo xtask dist` to write it again, and \
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
        problems(text, &package(), &BTreeMap::new())
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

    #[test]
    fn the_manifest_written_is_valid_and_names_every_platform() {
        let text = manifest();
        assert_eq!(problems_with(&text), Vec::<String>::new());
        let plugin: Plugin = serde_norway::from_str(&text).unwrap();
        let spec = plugin.spec.unwrap();
        assert_eq!(spec.version.as_deref(), Some("v0.1.0"));
        let platforms = spec.platforms.unwrap();
        assert_eq!(platforms.len(), 6);
        assert_eq!(
            platforms[0].uri.as_deref(),
            Some(
                "https://github.com/gitrollout/kubectl-gitrollout/releases/download/v0.1.0/\
                 kubectl-gitrollout_v0.1.0_linux_amd64.tar.gz"
            )
        );
        assert_eq!(platforms[5].bin.as_deref(), Some("kubectl-gitrollout.exe"));
        assert!(
            spec.caveats
                .unwrap()
                .contains("list   replicasets, controllerrevisions")
        );
        assert!(!text.contains("Placeholder"));
    }

    #[test]
    fn placeholders_are_quoted_named_and_valid() {
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
        let problems = problems(&manifest(), &package(), &archives);
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
    fn rejects_a_malformed_sha256() {
        let upper = "A".repeat(64);
        assert_rejected(
            &edited(&"1".repeat(64), &upper),
            &format!(
                "spec.platforms[0] (linux/amd64): sha256 `{upper}` is not a sha256: it must be 64 lowercase hex digits"
            ),
        );
        assert_rejected(
            &edited(&"1".repeat(64), "abc"),
            "spec.platforms[0] (linux/amd64): sha256 `abc` is not a sha256",
        );
        // Unquoted, a sha256 of digits only is a number to krew's YAML reader, which then fails.
        assert_rejected(
            &edited(&format!("\"{}\"", "1".repeat(64)), &"1".repeat(64)),
            &format!(
                "is `sha256: {ones}` where it should be `sha256: \"{ones}\"`",
                ones = "1".repeat(64)
            ),
        );
    }

    #[test]
    fn rejects_a_platform_with_a_missing_field() {
        let cases = [
            (
                "      bin: kubectl-gitrollout\n",
                "spec.platforms[0] (linux/amd64): bin is missing",
            ),
            (
                "      sha256: ",
                "spec.platforms[0] (linux/amd64): sha256 is missing",
            ),
            (
                "      uri: ",
                "spec.platforms[0] (linux/amd64): uri is missing",
            ),
            (
                "        - from: LICENSE\n",
                "spec.platforms[0] (linux/amd64): files[1].from is missing",
            ),
            (
                "    - selector:\n        matchLabels:\n          os: linux\n          arch: amd64\n      uri",
                "spec.platforms[0]: selector is missing",
            ),
        ];
        for (line, expected) in cases {
            // Drop the field: remove the line, or (for uri and sha256) rename the key away.
            let text = if line.ends_with(": ") {
                edited(line, &line.replace(':', "_gone:"))
            } else if line.starts_with("    - selector") {
                edited(line, "    - uri")
            } else if line.contains("from") {
                edited(line, "        - to_gone: LICENSE\n")
            } else {
                edited(line, "")
            };
            assert_rejected(&text, expected);
        }
        assert_rejected(
            &edited("          arch: amd64\n", ""),
            "spec.platforms[0]: selector.matchLabels must name `os` and `arch`",
        );
        assert_rejected(
            &edited(
                "          arch: amd64\n",
                "          arch: amd64\n          cpu: x\n",
            ),
            "selector key `cpu` is not supported",
        );
        assert_rejected(
            &edited("os: darwin\n", "os: linux\n"),
            "linux/amd64 appears more than once",
        );
        assert_rejected(
            &edited("os: darwin\n", "os: linux\n"),
            "no entry for darwin/amd64",
        );
        assert_rejected(
            &edited("  platforms:\n", "  platforms: []\n  ignored:\n"),
            "spec.platforms is empty",
        );
        assert_rejected(
            &edited("bin: kubectl-gitrollout.exe", "bin: kubectl-gitrollout"),
            "spec.platforms[4] (windows/amd64): bin is `kubectl-gitrollout`, it must be `kubectl-gitrollout.exe`",
        );
        assert_rejected(
            &edited("_linux_amd64.tar.gz", "_linux_amd64.tgz"),
            "uri `https://github.com/gitrollout/kubectl-gitrollout/releases/download/v0.1.0/kubectl-gitrollout_v0.1.0_linux_amd64.tgz` must end in .tar.gz or .zip",
        );
    }

    #[test]
    fn rejects_a_bad_version() {
        for (version, expected) in [
            ("1.0", "spec.version `1.0` must start with `v`"),
            ("0.1.0", "spec.version `0.1.0` must start with `v`"),
            (
                "v1",
                "spec.version `v1` is not a semantic version: it needs MAJOR.MINOR.PATCH",
            ),
            ("vx", "spec.version `vx` is not a semantic version"),
            (
                "v1.02.0",
                "spec.version `v1.02.0` has a number with a leading zero",
            ),
            (
                "v1.0.0-",
                "spec.version `v1.0.0-` has a malformed pre-release part",
            ),
            (
                "v0.2.0",
                "spec.version is `v0.2.0` but the workspace version is `v0.1.0`",
            ),
        ] {
            assert_rejected(
                &edited(
                    "  version: v0.1.0\n",
                    &format!("  version: \"{version}\"\n"),
                ),
                expected,
            );
        }
        assert_rejected(
            &edited("  version: v0.1.0\n", ""),
            "spec.version is missing",
        );
        for good in ["v0.1.0", "v1.2.3-rc.1", "v1.2.3+build.5", "v10.0.0-alpha-2"] {
            assert_eq!(semver_problem(good), None, "{good}");
        }
    }

    #[test]
    fn rejects_a_wrong_plugin_identity() {
        assert_rejected(
            &edited(
                "apiVersion: krew.googlecontainertools.github.com/v1alpha2",
                "apiVersion: v1",
            ),
            "apiVersion is `v1`, krew supports only krew.googlecontainertools.github.com/v1alpha2",
        );
        assert_rejected(
            &edited("kind: Plugin", "kind: Deployment"),
            "kind is `Deployment`",
        );
        assert_rejected(
            &edited("  name: gitrollout", "  name: rollout"),
            "metadata.name is `rollout`, it must be `gitrollout`",
        );
        assert_rejected(
            &edited("  name: gitrollout", "  name: git/rollout"),
            "is not a plugin name krew allows",
        );
        assert!(!is_safe_plugin_name("lpt1"));
        assert_rejected(
            &edited(
                &format!("shortDescription: {SHORT_DESCRIPTION}"),
                "shortDescription: \"two\\nlines\"",
            ),
            "spec.shortDescription has a line break",
        );
    }

    #[test]
    fn rejects_a_manifest_that_differs_from_what_the_workspace_gives() {
        assert_rejected(
            &edited("  caveats: |\n", "  caveats: |\n    edited by hand\n"),
            "it is not what `cargo xtask dist` writes from the workspace now: line",
        );
        let other_repo = edited(
            "  homepage: https://github.com/gitrollout/kubectl-gitrollout",
            "  homepage: https://example.com",
        );
        assert_rejected(
            &other_repo,
            "line 10 is `homepage: https://example.com` where it should be `homepage: https://github.com/gitrollout/kubectl-gitrollout`",
        );
    }
}
