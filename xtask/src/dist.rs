//! `cargo xtask dist`: the release archives krew installs, and the krew manifest naming them.
//!
//! An archive holds the plugin binary, built with the size-tuned `dist` profile, and LICENSE. It
//! is named `kubectl-gitrollout_v<version>_<os>_<arch>.tar.gz` (`.zip` for Windows) and written to
//! `target/dist/` with a `<archive>.sha256` beside it, in `sha256sum` format.
//!
//! Archives are reproducible: entries in a fixed order with a fixed mtime, uid, gid and mode, a
//! gzip header without a name or time, and paths of the build machine remapped out of the binary.
//! The same commit and toolchain give the same sha256 on any machine and in any directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::{env_or, krew, run_checked};

/// The cargo profile of release binaries (root Cargo.toml: fat LTO, one codegen unit, stripped).
const PROFILE: &str = "dist";

/// The plugin binary's name, without `.exe`.
pub const BIN: &str = "kubectl-gitrollout";

/// 1980-01-01T00:00:00Z, the earliest time a zip entry can hold; tar entries get it too.
const MTIME: u64 = 315_532_800;

/// An operating system and architecture krew tells apart, and the Rust target built for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// Go's name of the operating system, as krew's selectors use it.
    pub os: &'static str,
    /// Go's name of the architecture.
    pub arch: &'static str,
    /// The Rust target triple the release workflow builds natively for it.
    pub triple: &'static str,
}

/// Every platform a release ships, in the order of the manifest.
pub const PLATFORMS: [Platform; 6] = [
    Platform::new("linux", "amd64", "x86_64-unknown-linux-gnu"),
    Platform::new("linux", "arm64", "aarch64-unknown-linux-gnu"),
    Platform::new("darwin", "amd64", "x86_64-apple-darwin"),
    Platform::new("darwin", "arm64", "aarch64-apple-darwin"),
    Platform::new("windows", "amd64", "x86_64-pc-windows-msvc"),
    Platform::new("windows", "arm64", "aarch64-pc-windows-msvc"),
];

impl Platform {
    const fn new(os: &'static str, arch: &'static str, triple: &'static str) -> Self {
        Self { os, arch, triple }
    }

    /// The platform a Rust target triple builds for.
    pub fn for_triple(triple: &str) -> Result<Self> {
        PLATFORMS
            .into_iter()
            .find(|p| p.triple == triple)
            .with_context(|| {
                let known: Vec<_> = PLATFORMS.iter().map(|p| p.triple).collect();
                format!(
                    "no release archive is made for target {triple}: use one of {}",
                    known.join(", ")
                )
            })
    }

    /// The platform of the machine this runs on.
    pub fn host() -> Result<Self> {
        Self::for_triple(&host_triple()?)
    }

    pub fn windows(self) -> bool {
        self.os == "windows"
    }

    /// The binary's file name, in the archive and in the manifest's `bin`.
    pub fn bin(self) -> String {
        if self.windows() {
            format!("{BIN}.exe")
        } else {
            BIN.to_owned()
        }
    }

    /// The archive's file name for a version (without the `v`), e.g.
    /// `kubectl-gitrollout_v0.1.0_linux_amd64.tar.gz`.
    pub fn archive_name(self, version: &str) -> String {
        let ext = if self.windows() { "zip" } else { "tar.gz" };
        format!("{BIN}_v{version}_{}_{}.{ext}", self.os, self.arch)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)
    }
}

/// What `cargo xtask dist` was asked to do.
#[derive(Debug)]
pub enum Mode {
    /// Build an archive per target (the host's when none is named), then write the manifest.
    Build { targets: Vec<String> },
    /// Write the manifest from the archives in `target/dist`, all six of them (the release job).
    ManifestOnly,
    /// Check the committed manifest, building nothing.
    Check,
}

/// Runs `cargo xtask dist`.
pub fn run(root: &Path, mode: Mode) -> Result<()> {
    let package = krew::Package::of_workspace(root)?;
    let out = dist_dir(root);
    let manifest = root.join(krew::MANIFEST);
    match mode {
        Mode::Build { targets } => {
            let platforms = if targets.is_empty() {
                vec![Platform::host()?]
            } else {
                targets
                    .iter()
                    .map(|t| Platform::for_triple(t))
                    .collect::<Result<_>>()?
            };
            for platform in platforms {
                build_archive(root, platform, &package.version, &out)?;
            }
            krew::write_manifest(&manifest, &manifest, &package, &out, false)
        }
        Mode::ManifestOnly => krew::write_manifest(&manifest, &manifest, &package, &out, true),
        Mode::Check => krew::check(root, &package, &out),
    }
}

/// Where archives go: `target/dist`.
pub fn dist_dir(root: &Path) -> PathBuf {
    root.join("target/dist")
}

/// Builds the binary for `platform`, writes its archive and `.sha256` into `out`, and says where
/// the archive is.
pub fn build_archive(
    root: &Path,
    platform: Platform,
    version: &str,
    out: &Path,
) -> Result<PathBuf> {
    let started = Instant::now();
    eprintln!(
        "dist: building {BIN} v{version} for {platform} ({}, profile {PROFILE})",
        platform.triple
    );
    let binary = build_binary(root, platform)?;
    let built = started.elapsed();
    let bin_bytes =
        fs::read(&binary).with_context(|| format!("could not read {}", binary.display()))?;
    let entries = archive_entries(root, platform, bin_bytes)?;
    let bytes = if platform.windows() {
        zip_archive(&entries)?
    } else {
        tar_gz_archive(&entries)?
    };
    let name = platform.archive_name(version);
    let sha256 = sha256_hex(&bytes);
    fs::create_dir_all(out).with_context(|| format!("could not create {}", out.display()))?;
    let path = out.join(&name);
    write_atomically(&path, &bytes)?;
    write_atomically(&sidecar(&path), format!("{sha256}  {name}\n").as_bytes())?;
    eprintln!(
        "dist: {} ({}, binary {}) sha256 {sha256}, built in {:.0?}",
        path.display(),
        megabytes(bytes.len()),
        megabytes(entries[0].data.len()),
        built
    );
    Ok(path)
}

/// The completion helper kubectl runs for `kubectl gitrollout <TAB>`: in the plugin's crate in
/// the repository, at the top of the archive.
pub const COMPLETION_HELPER: &str = "kubectl_complete-gitrollout";

/// What an archive holds, in order: the binary, LICENSE, and (a shell script, so not on Windows)
/// `kubectl_complete-gitrollout`, which kubectl runs for `kubectl gitrollout <TAB>`.
fn archive_entries(root: &Path, platform: Platform, binary: Vec<u8>) -> Result<Vec<Entry>> {
    let license = fs::read(root.join("LICENSE"))
        .context("could not read LICENSE at the workspace root, which every archive holds")?;
    let mut entries = vec![
        Entry {
            name: platform.bin(),
            mode: 0o755,
            data: binary,
        },
        Entry {
            name: "LICENSE".to_owned(),
            mode: 0o644,
            data: license,
        },
    ];
    if !platform.windows() {
        let helper = root
            .join("crates/kubectl-gitrollout")
            .join(COMPLETION_HELPER);
        let data =
            fs::read(&helper).with_context(|| format!("could not read {}", helper.display()))?;
        entries.push(Entry {
            name: COMPLETION_HELPER.to_owned(),
            mode: 0o755,
            data,
        });
    }
    Ok(entries)
}

fn megabytes(bytes: usize) -> String {
    let mb = bytes as f64 / 1_000_000.0;
    format!("{mb:.2} MB")
}

/// Runs `cargo build --profile dist` for the platform's target and says where the binary is.
fn build_binary(root: &Path, platform: Platform) -> Result<PathBuf> {
    // Remapping the checkout and cargo's home keeps the build machine's paths out of the binary,
    // so the same commit gives the same bytes in any directory.
    let mut remaps = vec![remap(root, "/gitrollout")];
    if let Some(home) = cargo_home() {
        remaps.push(remap(&home, "/cargo"));
    }
    let flags = remaps.join(&OsString::from("\u{1f}"));
    run_checked(
        Command::new(env_or("CARGO", "cargo"))
            .current_dir(root)
            .args(["build", "--locked", "--package", BIN, "--profile", PROFILE])
            .args(["--target", platform.triple])
            // Encoded flags survive spaces in paths; with `--target` they apply to the plugin and
            // its dependencies only, not to build scripts.
            .env("CARGO_ENCODED_RUSTFLAGS", flags),
    )
    .with_context(|| {
        format!(
            "could not build {BIN} for {}: building for another platform needs its standard \
             library (`rustup target add {}`) and linker; the release workflow builds each \
             platform on its own runner",
            platform, platform.triple
        )
    })?;
    let binary = root
        .join("target")
        .join(platform.triple)
        .join(PROFILE)
        .join(platform.bin());
    if !binary.is_file() {
        bail!(
            "cargo built no {}: unset CARGO_TARGET_DIR so that release builds land in target/",
            binary.display()
        );
    }
    Ok(binary)
}

fn remap(from: &Path, to: &str) -> OsString {
    let mut flag = OsString::from("--remap-path-prefix=");
    flag.push(from);
    flag.push("=");
    flag.push(to);
    flag
}

fn cargo_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Some(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))?;
    Some(PathBuf::from(home).join(".cargo"))
}

/// The target triple rustc builds for by default.
pub fn host_triple() -> Result<String> {
    let output = Command::new(env_or("RUSTC", "rustc"))
        .arg("-vV")
        .output()
        .context("could not run `rustc -vV`: is Rust installed?")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("`rustc -vV` names no host target")
}

/// The version (e.g. `0.1.0`) and repository URL of the plugin package, from `cargo metadata`.
pub fn workspace_package(root: &Path) -> Result<(String, String)> {
    let output = Command::new(env_or("CARGO", "cargo"))
        .current_dir(root)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .output()
        .context("could not run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == BIN)
        .with_context(|| format!("cargo metadata lists no package {BIN}"))?;
    let field = |name: &str| {
        package[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the {BIN} package has no {name} in its Cargo.toml"))
    };
    Ok((field("version")?, field("repository")?))
}

/// The sha256 of each platform's archive of `version` found in `dir`, checked against the
/// `.sha256` beside it when there is one.
pub fn archives_in(dir: &Path, version: &str) -> Result<BTreeMap<Platform, String>> {
    let mut found = BTreeMap::new();
    for platform in PLATFORMS {
        let path = dir.join(platform.archive_name(version));
        if !path.is_file() {
            continue;
        }
        let bytes =
            fs::read(&path).with_context(|| format!("could not read {}", path.display()))?;
        let sha256 = sha256_hex(&bytes);
        let sidecar = sidecar(&path);
        if sidecar.is_file() {
            let recorded = fs::read_to_string(&sidecar)
                .with_context(|| format!("could not read {}", sidecar.display()))?;
            let recorded = recorded.split_whitespace().next().unwrap_or_default();
            if recorded != sha256 {
                bail!(
                    "{} says {recorded} but {} hashes to {sha256}: the archive changed after it \
                     was made; build it again with `cargo xtask dist`",
                    sidecar.display(),
                    path.display()
                );
            }
        }
        found.insert(platform, sha256);
    }
    Ok(found)
}

fn sidecar(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes next to `path` and renames, so an interrupted run never leaves half an archive.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    fs::write(&partial, bytes).with_context(|| format!("could not write {}", partial.display()))?;
    fs::rename(&partial, path).with_context(|| format!("could not write {}", path.display()))
}

/// One file of an archive, at its top level.
#[derive(Debug)]
struct Entry {
    name: String,
    mode: u32,
    data: Vec<u8>,
}

/// A gzip-compressed ustar archive whose bytes depend on the entries only.
fn tar_gz_archive(entries: &[Entry]) -> Result<Vec<u8>> {
    // No file name and mtime 0 in the gzip header.
    let gzip = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gzip);
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(entry.data.len() as u64);
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(MTIME);
        tar.append_data(&mut header, &entry.name, entry.data.as_slice())
            .with_context(|| format!("could not add {} to the archive", entry.name))?;
    }
    let gzip = tar
        .into_inner()
        .context("could not finish the tar archive")?;
    gzip.finish().context("could not finish the gzip stream")
}

/// A deflated zip archive whose bytes depend on the entries only.
fn zip_archive(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for entry in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(9))
            .last_modified_time(zip::DateTime::default())
            // Unix attributes on any build machine: on Windows the zip crate would mark entries
            // as DOS ones, which drops the mode and makes the bytes depend on the machine.
            .system(zip::System::Unix)
            .unix_permissions(entry.mode);
        zip.start_file(entry.name.as_str(), options)
            .with_context(|| format!("could not add {} to the archive", entry.name))?;
        zip.write_all(&entry.data)?;
    }
    Ok(zip
        .finish()
        .context("could not finish the zip archive")?
        .into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn entries(binary: &[u8]) -> Vec<Entry> {
        vec![
            Entry {
                name: "kubectl-gitrollout".to_owned(),
                mode: 0o755,
                data: binary.to_vec(),
            },
            Entry {
                name: "LICENSE".to_owned(),
                mode: 0o644,
                data: b"Apache-2.0\n".to_vec(),
            },
        ]
    }

    #[test]
    fn archives_ship_the_completion_helper_except_on_windows() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let names = |platform: Platform| -> Vec<String> {
            let entries = archive_entries(root, platform, b"binary".to_vec()).unwrap();
            entries
                .into_iter()
                .map(|e| format!("{} {:o}", e.name, e.mode))
                .collect()
        };
        assert_eq!(
            names(PLATFORMS[0]),
            [
                "kubectl-gitrollout 755",
                "LICENSE 644",
                "kubectl_complete-gitrollout 755"
            ]
        );
        assert_eq!(
            names(PLATFORMS[4]),
            ["kubectl-gitrollout.exe 755", "LICENSE 644"]
        );
    }

    #[test]
    fn names_archives_as_krew_expects() {
        let names: Vec<_> = PLATFORMS.iter().map(|p| p.archive_name("0.1.0")).collect();
        assert_eq!(
            names,
            [
                "kubectl-gitrollout_v0.1.0_linux_amd64.tar.gz",
                "kubectl-gitrollout_v0.1.0_linux_arm64.tar.gz",
                "kubectl-gitrollout_v0.1.0_darwin_amd64.tar.gz",
                "kubectl-gitrollout_v0.1.0_darwin_arm64.tar.gz",
                "kubectl-gitrollout_v0.1.0_windows_amd64.zip",
                "kubectl-gitrollout_v0.1.0_windows_arm64.zip",
            ]
        );
        assert_eq!(PLATFORMS[4].bin(), "kubectl-gitrollout.exe");
        assert!(Platform::for_triple("x86_64-unknown-linux-musl").is_err());
    }

    #[test]
    fn tar_gz_is_reproducible_and_holds_the_binary_and_license() {
        let first = tar_gz_archive(&entries(b"binary")).unwrap();
        let second = tar_gz_archive(&entries(b"binary")).unwrap();
        assert_eq!(sha256_hex(&first), sha256_hex(&second));
        assert_ne!(
            sha256_hex(&first),
            sha256_hex(&tar_gz_archive(&entries(b"other")).unwrap())
        );

        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(first.as_slice()));
        let mut seen = Vec::new();
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header();
            let line = format!(
                "{} {:o} {} {}:{}",
                entry.path().unwrap().display(),
                header.mode().unwrap(),
                header.mtime().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap()
            );
            let mut data = String::new();
            entry.read_to_string(&mut data).unwrap();
            seen.push(format!("{line} {data:?}"));
        }
        assert_eq!(
            seen,
            [
                "kubectl-gitrollout 755 315532800 0:0 \"binary\"",
                "LICENSE 644 315532800 0:0 \"Apache-2.0\\n\"",
            ]
        );
    }

    #[test]
    fn zip_is_reproducible_and_keeps_the_executable_bit() {
        let first = zip_archive(&entries(b"binary")).unwrap();
        let second = zip_archive(&entries(b"binary")).unwrap();
        assert_eq!(first, second);

        let mut zip = zip::ZipArchive::new(Cursor::new(first)).unwrap();
        let names: Vec<_> = (0..zip.len())
            .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
            .collect();
        assert_eq!(names, ["kubectl-gitrollout", "LICENSE"]);
        let mut binary = zip.by_name("kubectl-gitrollout").unwrap();
        assert_eq!(binary.unix_mode().map(|m| m & 0o777), Some(0o755));
        let mut data = String::new();
        binary.read_to_string(&mut data).unwrap();
        assert_eq!(data, "binary");
    }

    #[test]
    fn finds_archives_and_refuses_a_changed_one() {
        let dir = tempfile::tempdir().unwrap();
        let name = PLATFORMS[0].archive_name("0.1.0");
        fs::write(dir.path().join(&name), b"archive").unwrap();
        let sha = sha256_hex(b"archive");
        fs::write(
            dir.path().join(format!("{name}.sha256")),
            format!("{sha}  {name}\n"),
        )
        .unwrap();
        let found = archives_in(dir.path(), "0.1.0").unwrap();
        assert_eq!(found, BTreeMap::from([(PLATFORMS[0], sha)]));
        // Archives of another version are not this version's.
        assert!(archives_in(dir.path(), "0.2.0").unwrap().is_empty());

        fs::write(dir.path().join(&name), b"changed").unwrap();
        let err = archives_in(dir.path(), "0.1.0").unwrap_err().to_string();
        assert!(
            err.contains("the archive changed after it was made"),
            "{err}"
        );
    }
}
