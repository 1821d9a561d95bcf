//! The objects `apply` applies, read as `kubectl apply -f` and `-k` read them, and put in the
//! order they can be applied in: Namespaces and CustomResourceDefinitions first.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

use crate::UsageError;
use crate::hints::{Hint, hinted};

/// One object of the manifests, and the file it came from.
#[derive(Debug, Clone)]
pub(super) struct Manifest {
    pub object: Value,
    pub source: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// The namespace the manifest names, if any.
    pub namespace: Option<String>,
}

/// The objects of `files` (files, directories of `.yaml`, `.yml` and `.json` files, or `-` for
/// stdin), or of the kustomization `kustomize` renders, in the order to apply them.
pub(super) fn read(files: &[PathBuf], kustomize: Option<&Path>) -> Result<Vec<Manifest>> {
    let mut texts = Vec::new();
    match kustomize {
        Some(dir) => texts.push((dir.display().to_string(), render_kustomization(dir)?)),
        None => {
            for path in files {
                read_path(path, &mut texts)?;
            }
        }
    }
    let mut manifests = Vec::new();
    for (source, text) in texts {
        let objects = rollout_git::manifest_objects(&text)
            .map_err(|e| anyhow!("{source} is not valid YAML: {e}"))?;
        for object in objects {
            manifests.push(Manifest::new(object, &source)?);
        }
    }
    if manifests.is_empty() {
        return Err(UsageError::new("the manifests hold no object to apply").into());
    }
    manifests.sort_by_key(|m| match (m.api_version.as_str(), m.kind.as_str()) {
        ("v1", "Namespace") => 0,
        (_, "CustomResourceDefinition") => 1,
        // Before the workloads that read them, so each revision records the content it runs with.
        ("v1", "ConfigMap" | "Secret") => 2,
        _ => 3,
    });
    Ok(manifests)
}

impl Manifest {
    /// An object with what applying it needs: apiVersion, kind and a name a URL can carry.
    fn new(object: Value, source: &str) -> Result<Manifest, UsageError> {
        let field = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
        let missing = |what: &str| {
            UsageError::new(format!(
                "an object in {source} has no {what}: every object needs apiVersion, kind and \
                 metadata.name"
            ))
        };
        let api_version = field("/apiVersion").ok_or_else(|| missing("apiVersion"))?;
        let kind = field("/kind").ok_or_else(|| missing("kind"))?;
        let name = field("/metadata/name").ok_or_else(|| missing("metadata.name"))?;
        let namespace = field("/metadata/namespace");
        for (what, value) in [("name", Some(name)), ("namespace", namespace)] {
            if let Some(value) = value.filter(|v| !is_path_segment(v)) {
                return Err(UsageError::new(format!(
                    "{kind} {value:?} in {source} has a {what} the API server would refuse: \
                     at most 253 letters, digits and '-', '.', ':', '_'"
                )));
            }
        }
        Ok(Manifest {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            source: source.to_owned(),
            object,
        })
    }
}

/// Whether `name` can be an object's name in a URL path as it is: no `/`, `?`, `#`, `%` or
/// space, not `.` or `..`. The API server checks each kind's own rule after that.
fn is_path_segment(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_');
    !name.is_empty() && name.len() <= 253 && name != "." && name != ".." && name.chars().all(ok)
}

/// Adds the text of `path` (a file, a directory's manifests, or `-` for stdin) to `texts`.
fn read_path(path: &Path, texts: &mut Vec<(String, String)>) -> Result<()> {
    let shown = path.display().to_string();
    if shown == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("could not read the manifests from stdin")?;
        texts.push(("stdin".to_owned(), text));
        return Ok(());
    }
    let metadata = std::fs::metadata(path).map_err(|e| {
        UsageError::new(format!(
            "{shown} cannot be read ({e}): name manifest files or directories"
        ))
    })?;
    if !metadata.is_dir() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("could not read {shown}"))?;
        texts.push((shown, text));
        return Ok(());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("could not read the directory {shown}"))?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|p| {
            let manifest = p
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
            manifest && p.is_file()
        })
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("could not read {}", file.display()))?;
        texts.push((file.display().to_string(), text));
    }
    Ok(())
}

/// Renders the kustomization in `dir` with `kubectl kustomize`, or `kustomize build`, whichever
/// is on PATH first.
pub(crate) fn render_kustomization(dir: &Path) -> Result<String> {
    let runs = [("kubectl", ["kustomize"]), ("kustomize", ["build"])];
    for (program, args) in runs {
        let output = match Command::new(program).args(args).arg(dir).output() {
            Ok(output) => output,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(anyhow!("could not run {program}: {err}")),
        };
        if !output.status.success() {
            return Err(anyhow!(
                "`{program} {} {}` could not render the kustomization: {}",
                args[0],
                dir.display(),
                first_error(&String::from_utf8_lossy(&output.stderr))
            ));
        }
        return String::from_utf8(output.stdout).map_err(|_| {
            anyhow!(
                "{program} rendered {} as something not UTF-8",
                dir.display()
            )
        });
    }
    Err(hinted(
        format_args!(
            "-k {} needs kubectl or kustomize to render it, and neither is on PATH",
            dir.display()
        ),
        Hint::InstallKustomize,
    ))
}

/// The first error a renderer printed: kustomize's `Error: ...`, or kubectl's, which its logger
/// may wrap as `E1203 13:54:13.52 30134 run.go:72] "command failed" err="..."`.
fn first_error(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    if let Some((_, quoted)) = line.split_once(" err=\"") {
        let message = quoted.strip_suffix('"').unwrap_or(quoted);
        return message.replace("\\\"", "\"");
    }
    let line = line
        .trim_start_matches("error: ")
        .trim_start_matches("Error: ");
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renderers_error_is_its_message() {
        let kubectl = "E1203 13:54:13.521841   30134 run.go:72] \"command failed\" err=\"unable to \
                       find one of 'kustomization.yaml' in directory '/tmp/x'\"\n";
        assert_eq!(
            first_error(kubectl),
            "unable to find one of 'kustomization.yaml' in directory '/tmp/x'"
        );
        let kustomize = "\nError: accumulating resources: \\\"app.yaml\\\" missing\n";
        assert_eq!(
            first_error(kustomize),
            "accumulating resources: \\\"app.yaml\\\" missing"
        );
    }

    #[test]
    fn names_that_cannot_be_a_path_segment_are_refused() {
        for good in ["team-app", "a.b", "system:auth", "x_y", &"a".repeat(253)] {
            assert!(is_path_segment(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a?b",
            "a b",
            "a#b",
            "a%2f",
            &"a".repeat(254),
        ] {
            assert!(!is_path_segment(bad), "{bad}");
        }
    }

    #[test]
    fn namespaces_definitions_and_config_come_first() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n---\n\
            apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\n\
            apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\n\
            apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: c.x.io}\n";
        std::fs::write(dir.path().join("all.yaml"), text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("notes.txt"), "not a manifest")
            .unwrap_or_else(|e| panic!("{e}"));
        let read = read(&[dir.path().to_path_buf()], None).unwrap_or_else(|e| panic!("{e:#}"));
        let kinds: Vec<&str> = read.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "CustomResourceDefinition",
                "ConfigMap",
                "Deployment"
            ]
        );
    }
}
