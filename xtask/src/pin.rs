//! `cargo xtask cluster pin VERSION`: the wrapper module a Kubernetes release is built from,
//! written from that release's own go.mod; `--check` says whether each pinned module still is.
//!
//! `k8s.io/kubernetes` replaces its staging modules (`k8s.io/api`, `k8s.io/client-go`, ...) with
//! `./staging/src/...` paths, which `go build` cannot follow outside the Kubernetes repository.
//! The wrapper requires the release and etcd's server at the version the release names, maps
//! every staging module to its published `v0.X.Y`, and copies the release's `go` and `godebug`
//! lines; `go mod tidy` then selects every other requirement from the release's go.mod. A module
//! list copied from another release would not do: MVS keeps the higher of two versions, and a
//! release does not compile against the newer dependencies of a later one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::controlplane::{self, COMPONENTS, MODULES, Pinned};
use crate::run_checked;

/// etcd's server, built from the wrapper module too.
const ETCD: &str = "go.etcd.io/etcd/server/v3";

/// The parts of a go.mod file the wrapper is made from and checked against.
#[derive(Debug, Default, PartialEq)]
struct GoMod {
    go: Option<String>,
    godebug: Vec<String>,
    require: BTreeMap<String, String>,
    /// Module to what replaces it, as written (`./staging/src/k8s.io/api`, `k8s.io/api v0.36.3`).
    replace: BTreeMap<String, String>,
}

impl GoMod {
    fn parse(text: &str) -> GoMod {
        let mut parsed = GoMod::default();
        let mut block: Option<&str> = None;
        for line in text.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if line == ")" {
                block = None;
                continue;
            }
            let (verb, rest) = match block {
                Some(verb) => (verb, line),
                None => line.split_once(' ').unwrap_or((line, "")),
            };
            let rest = rest.trim();
            if rest == "(" {
                block = Some(verb);
                continue;
            }
            match verb {
                "go" => parsed.go = Some(rest.to_owned()),
                "godebug" => parsed.godebug.push(rest.to_owned()),
                "require" => {
                    if let Some((module, version)) = rest.split_once(char::is_whitespace) {
                        parsed
                            .require
                            .insert(module.to_owned(), version.trim().to_owned());
                    }
                }
                "replace" => {
                    if let Some((module, target)) = rest.split_once("=>") {
                        parsed
                            .replace
                            .insert(module.trim().to_owned(), target.trim().to_owned());
                    }
                }
                _ => {}
            }
        }
        parsed
    }

    /// The modules the release builds from its own tree.
    fn staging(&self) -> impl Iterator<Item = &String> {
        self.replace
            .iter()
            .filter(|(_, target)| target.starts_with("./staging/"))
            .map(|(module, _)| module)
    }
}

/// `v1.36.3` gives its staging modules as `v0.36.3`.
fn staging_version(version: &str) -> Result<String> {
    match version.strip_prefix("v1.") {
        Some(rest) => Ok(format!("v0.{rest}")),
        None => bail!("unexpected Kubernetes version {version}"),
    }
}

/// The go.mod the wrapper of `version` starts from, before `go mod tidy` fills in the rest.
fn wrapper(version: &str, upstream: &GoMod) -> Result<String> {
    let staging = staging_version(version)?;
    let etcd = upstream
        .require
        .get(ETCD)
        .with_context(|| format!("the go.mod of Kubernetes {version} does not require {ETCD}"))?;
    let mut text = format!(
        "// Written by `cargo xtask cluster pin {version}` from the go.mod of k8s.io/kubernetes\n\
         // {version}: its go and godebug lines, etcd's server at the version it requires, and each\n\
         // of its staging modules mapped to the published {staging}. `go mod tidy` took every other\n\
         // requirement from that go.mod; `cargo xtask cluster pin --check` checks that each still\n\
         // is the release's own. Keep this module dedicated: other dependencies could raise shared\n\
         // ones and break the build.\n\
         module gitrollout.dev/controlplane\n\n"
    );
    if let Some(go) = &upstream.go {
        writeln!(text, "go {go}\n")?;
    }
    for godebug in &upstream.godebug {
        writeln!(text, "godebug {godebug}\n")?;
    }
    writeln!(
        text,
        "require (\n\t{ETCD} {etcd}\n\tk8s.io/kubernetes {version}\n)\n\nreplace ("
    )?;
    for module in upstream.staging() {
        writeln!(text, "\t{module} => {module} {staging}")?;
    }
    text.push_str(")\n");
    Ok(text)
}

/// The file that names the commands the module builds, so `go mod tidy` keeps their
/// requirements.
fn tools_go() -> String {
    let mut text = String::from(
        "//go:build tools\n\n// Package tools records the commands this module builds, so `go mod \
         tidy` keeps their requirements.\npackage tools\n\nimport (\n",
    );
    for (_, package) in COMPONENTS {
        text.push_str(&format!("\t_ \"{package}\"\n"));
    }
    text.push_str(")\n");
    text
}

/// How the pinned module `ours` strays from the go.mod of its release, one line each.
fn problems(version: &str, ours: &GoMod, upstream: &GoMod) -> Result<Vec<String>> {
    let staging = staging_version(version)?;
    let mut found = Vec::new();
    if ours.require.get("k8s.io/kubernetes").map(String::as_str) != Some(version) {
        found.push(format!("it does not require k8s.io/kubernetes {version}"));
    }
    if ours.go != upstream.go || ours.godebug != upstream.godebug {
        found.push(format!(
            "its go and godebug lines are not the release's (go {}, godebug {})",
            upstream.go.as_deref().unwrap_or("none"),
            upstream.godebug.join(", ")
        ));
    }
    let expected: BTreeMap<String, String> = upstream
        .staging()
        .map(|m| (m.clone(), format!("{m} {staging}")))
        .collect();
    if ours.replace != expected {
        found.push(format!(
            "its replace block is not the release's staging modules, each at {staging}"
        ));
    }
    for (module, version) in &ours.require {
        let theirs = upstream.require.get(module);
        let staged = expected.contains_key(module);
        if let Some(theirs) = theirs.filter(|_| !staged)
            && theirs != version
        {
            found.push(format!(
                "it requires {module} {version}, the release {theirs}"
            ));
        }
    }
    Ok(found)
}

/// The go.mod of `k8s.io/kubernetes` at `version`, from the module proxy (or Go's module cache).
fn upstream_go_mod(version: &str) -> Result<GoMod> {
    // Outside any module, so no go.mod of ours takes part.
    let outside = tempfile::tempdir()?;
    let output = Command::new("go")
        .current_dir(outside.path())
        .env("GOTOOLCHAIN", "auto")
        .args([
            "list",
            "-m",
            "-json",
            &format!("k8s.io/kubernetes@{version}"),
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("could not run go: is Go 1.21 or newer installed (`go version`)?")?;
    if !output.status.success() {
        bail!(
            "go list -m k8s.io/kubernetes@{version} failed with {}",
            output.status
        );
    }
    let info: Value =
        serde_json::from_slice(&output.stdout).context("go list -m printed no JSON")?;
    let path = info["GoMod"]
        .as_str()
        .context("go list -m named no go.mod file")?;
    let text = fs::read_to_string(path).with_context(|| format!("could not read {path}"))?;
    Ok(GoMod::parse(&text))
}

/// Writes the module of `version` into `xtask/controlplane/<minor>/` (go.mod, go.sum, tools.go),
/// replacing the release pinned for that minor before.
pub fn pin(root: &Path, version: &str) -> Result<()> {
    let upstream = upstream_go_mod(version)?;
    let minor = version.rsplit_once('.').map_or(version, |(minor, _)| minor);
    let dir = root.join(MODULES).join(minor);
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("go.mod"), wrapper(version, &upstream)?)?;
    fs::write(dir.join("tools.go"), tools_go())?;
    let _ = fs::remove_file(dir.join("go.sum"));
    run_checked(
        Command::new("go")
            .current_dir(&dir)
            .env("GOTOOLCHAIN", "auto")
            .args(["mod", "tidy"]),
    )?;
    let pinned = controlplane::pinned(root, version)?;
    check_one(&pinned, &upstream)?;
    eprintln!("pinned Kubernetes {version} in {}", dir.display());
    Ok(())
}

/// Checks every pinned module against the go.mod of its release.
pub fn check(root: &Path) -> Result<()> {
    for pinned in controlplane::all_pinned(root)? {
        check_one(&pinned, &upstream_go_mod(&pinned.version)?)?;
        let dir = pinned
            .module_dir
            .strip_prefix(root)
            .unwrap_or(&pinned.module_dir);
        println!(
            "{}/go.mod takes its requirements from Kubernetes {}",
            dir.display(),
            pinned.version
        );
    }
    Ok(())
}

fn check_one(pinned: &Pinned, upstream: &GoMod) -> Result<()> {
    let version = &pinned.version;
    let path = pinned.module_dir.join("go.mod");
    let ours = GoMod::parse(&fs::read_to_string(&path)?);
    let mut found = problems(version, &ours, upstream)?;
    let tools = fs::read_to_string(pinned.module_dir.join("tools.go")).unwrap_or_default();
    if tools != tools_go() {
        found.push("its tools.go does not name the commands xtask builds".to_owned());
    }
    if !found.is_empty() {
        bail!(
            "{} is not what Kubernetes {version} gives: {}\nhint: write it again with `cargo \
             xtask cluster pin {version}`",
            path.display(),
            found.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPSTREAM: &str = "// This is a generated file. Do not edit directly.\n\
        module k8s.io/kubernetes\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nrequire (\n\
        \tgithub.com/spf13/cobra v1.9.1\n\tgo.etcd.io/etcd/client/v3 v3.6.4\n\
        \tk8s.io/api v0.0.0\n)\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v3.6.4 // indirect\n\
        \tk8s.io/streaming v0.0.0 // indirect\n)\n\nreplace (\n\
        \tk8s.io/api => ./staging/src/k8s.io/api\n\
        \tk8s.io/client-go => ./staging/src/k8s.io/client-go\n)\n";

    #[test]
    fn reads_go_mod_blocks_lines_and_comments() {
        let parsed = GoMod::parse(UPSTREAM);
        assert_eq!(parsed.go.as_deref(), Some("1.24.0"));
        assert_eq!(parsed.godebug, ["default=go1.24"]);
        assert_eq!(parsed.require[ETCD], "v3.6.4");
        assert_eq!(parsed.require["k8s.io/streaming"], "v0.0.0");
        assert_eq!(
            parsed.staging().collect::<Vec<_>>(),
            ["k8s.io/api", "k8s.io/client-go"]
        );
        let single = GoMod::parse("require k8s.io/kubernetes v1.2.3\nreplace a => b v1\n");
        assert_eq!(single.require["k8s.io/kubernetes"], "v1.2.3");
        assert_eq!(single.replace["a"], "b v1");
    }

    #[test]
    fn the_wrapper_takes_the_releases_lines_and_maps_its_staging_modules() {
        let upstream = GoMod::parse(UPSTREAM);
        let text = wrapper("v1.34.4", &upstream).unwrap();
        assert!(
            text.starts_with("// Written by `cargo xtask cluster pin v1.34.4`"),
            "{text}"
        );
        let ours = GoMod::parse(&text);
        assert_eq!(ours.go.as_deref(), Some("1.24.0"));
        assert_eq!(ours.godebug, ["default=go1.24"]);
        assert_eq!(
            ours.require,
            BTreeMap::from([
                (ETCD.to_owned(), "v3.6.4".to_owned()),
                ("k8s.io/kubernetes".to_owned(), "v1.34.4".to_owned()),
            ])
        );
        assert_eq!(ours.replace["k8s.io/client-go"], "k8s.io/client-go v0.34.4");
        assert_eq!(
            problems("v1.34.4", &ours, &upstream).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_requirement_of_another_release_is_a_problem() {
        let upstream = GoMod::parse(UPSTREAM);
        let mut ours = GoMod::parse(&wrapper("v1.34.4", &upstream).unwrap());
        // What tidy adds is fine: staging modules at their published version, etcd's own needs.
        ours.require.insert("k8s.io/api".into(), "v0.34.4".into());
        ours.require
            .insert("github.com/golang/groupcache".into(), "v0.0.0-1".into());
        assert!(problems("v1.34.4", &ours, &upstream).unwrap().is_empty());
        // v1.36's module list on v1.34: newer cobra, and a staging module v1.34 lacks.
        ours.require
            .insert("github.com/spf13/cobra".into(), "v1.10.2".into());
        ours.replace
            .insert("k8s.io/streaming".into(), "k8s.io/streaming v0.34.4".into());
        assert_eq!(
            problems("v1.34.4", &ours, &upstream).unwrap(),
            [
                "its replace block is not the release's staging modules, each at v0.34.4",
                "it requires github.com/spf13/cobra v1.10.2, the release v1.9.1",
            ]
        );
        assert_eq!(
            problems("v1.36.3", &ours, &upstream).unwrap()[0],
            "it does not require k8s.io/kubernetes v1.36.3"
        );
    }

    #[test]
    fn tools_go_names_every_component() {
        let text = tools_go();
        for (_, package) in COMPONENTS {
            assert!(text.contains(&format!("_ \"{package}\"")), "{text}");
        }
    }
}
