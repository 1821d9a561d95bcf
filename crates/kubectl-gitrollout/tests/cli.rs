//! The command line without a cluster: usage errors, help, completion, an unreachable server.

use assert_cmd::Command;
use gitrollout_tests::output::failure;

fn gitrollout(home: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-gitrollout"));
    cmd.env_clear().env("HOME", home.path());
    cmd
}

#[test]
fn bad_usage_exits_2_before_any_request() {
    let home = tempfile::tempdir().unwrap();
    for (args, message) in [
        (
            &["history", "pod/web"][..],
            "error: unknown workload type \"pod\": use deployment (deploy), statefulset (sts) or \
             daemonset (ds)\n",
        ),
        (
            &["history", "deployment"][..],
            "error: name the workload as TYPE/NAME or TYPE NAME, e.g. deployment/team-app\n",
        ),
        (
            &["diff", "deploy/web", "0"][..],
            "error: a revision is a positive integer, not \"0\", or a negative one counting back \
             from the current revision (-1 is the one before it); list them with `kubectl \
             gitrollout history`\n",
        ),
        (
            &["diff", "deploy/web", "1", "2", "3"][..],
            "error: too many arguments: this command takes at most 2 revisions after the \
             workloads, FROM and TO\n",
        ),
    ] {
        assert_eq!(
            failure(gitrollout(&home).args(args), 2),
            message,
            "{args:?}"
        );
    }
    let clap_error = failure(
        gitrollout(&home).args(["history", "deploy/web", "--revision", "abc"]),
        2,
    );
    assert!(
        clap_error.contains("--revision <N>")
            && clap_error.contains("a revision is a positive integer"),
        "{clap_error}"
    );
}

#[test]
fn an_unreachable_cluster_says_where_it_looked() {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        r#"{"apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1",
                          "insecure-skip-tls-verify": true}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c"}"#,
    )
    .unwrap();
    let stderr = failure(
        gitrollout(&home)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["history", "deployment/team-app"]),
        1,
    );
    assert!(
        stderr.starts_with("error: cannot reach the Kubernetes API at https://127.0.0.1:1/"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: check that the cluster runs"),
        "{stderr}"
    );
}

#[test]
fn no_kubeconfig_at_all_says_how_to_name_one() {
    let home = tempfile::tempdir().unwrap();
    let stderr = failure(gitrollout(&home).args(["history", "deploy/web"]), 1);
    assert!(
        stderr.starts_with("error: could not find a cluster to talk to"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: set KUBECONFIG or pass --kubeconfig"),
        "{stderr}"
    );
}

#[test]
fn help_shows_examples_as_kubectl_gitrollout() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["history", "--help"], &["diff", "--help"]] {
        let run = gitrollout(&home).args(args).assert().success();
        let help = String::from_utf8(run.get_output().stdout.clone()).unwrap();
        assert!(help.contains("Examples:"), "{args:?}: {help}");
        assert!(help.contains("kubectl gitrollout "), "{args:?}: {help}");
    }
}

#[test]
fn completion_scripts_know_the_subcommands() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let run = gitrollout(&home)
            .args(["completion", shell])
            .assert()
            .success();
        let script = String::from_utf8(run.get_output().stdout.clone()).unwrap();
        assert!(
            script.contains("history") && script.contains("diff"),
            "{shell}"
        );
    }
}

#[test]
fn version_names_the_release() {
    let home = tempfile::tempdir().unwrap();
    let run = gitrollout(&home).arg("version").assert().success();
    assert_eq!(
        String::from_utf8_lossy(&run.get_output().stdout),
        format!(
            "kubectl-gitrollout v{} (commit {})\n",
            env!("CARGO_PKG_VERSION"),
            env!("GITROLLOUT_COMMIT")
        )
    );
}

/// What a hostile or clumsy user types is refused before any request (the kubeconfig names a
/// server that would answer nothing), with exit 2 and one error line, and never a panic.
#[test]
fn hostile_input_is_refused_before_any_request() {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, unreachable_kubeconfig()).unwrap();
    let huge = "18446744073709551615";
    let long = format!("deploy/{}", "a".repeat(254));
    for args in [
        &["history", "deploy/app?labelSelector=zz"][..],
        &["revert", "deploy/app?dryRun=All&x=", "--to-revision", "2"],
        &["history", "deploy/team app"],
        &["history", "deploy/a#b"],
        &["diff", "sts/a.b"],
        &["history", &long],
        &["--request-timeout", huge, "history", "deploy/a"],
        &[
            "--request-timeout",
            "9999999999999999999h",
            "history",
            "deploy/a",
        ],
        &["record", "deploy/a", "--commit", "HEAD", "--timeout", huge],
        &["revert", "deploy/a", "--wait", "--timeout", huge],
        &["-n", "a b", "history", "deploy/a"],
        &["revert", "deploy/a", "deploy/b"],
    ] {
        let err = failure(
            gitrollout(&home).env("KUBECONFIG", &kubeconfig).args(args),
            2,
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: "), "{args:?}: {err}");
        assert!(
            !err.contains("cannot reach"),
            "{args:?} sent a request: {err}"
        );
    }
}

/// The durations kubectl takes are taken: fractions and small units reach the cluster (which
/// here answers nothing), they are not refused as bad usage.
#[test]
fn durations_with_fractions_are_taken_as_kubectl_takes_them() {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, unreachable_kubeconfig()).unwrap();
    for timeout in ["1.5s", "500ms", ".5s", "1m0.5s"] {
        let err = failure(
            gitrollout(&home).env("KUBECONFIG", &kubeconfig).args([
                "--request-timeout",
                timeout,
                "history",
                "deploy/a",
            ]),
            1,
        );
        assert!(err.starts_with("error: cannot reach"), "{timeout}: {err}");
    }
}

/// A malformed kubeconfig is reported by file and line, never by its content.
#[test]
fn a_malformed_kubeconfig_never_shows_its_secrets() {
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kubeconfig");
    let broken = unreachable_kubeconfig().replace(
        "users:",
        "users:\n- name: leaked\n  user:\n    token: SECRET-TOKEN\n    client-key-data: SECRET-KEY\n  bad: [",
    );
    std::fs::write(&kubeconfig, broken).unwrap();
    for env in [true, false] {
        let mut cmd = gitrollout(&home);
        if env {
            cmd.env("KUBECONFIG", &kubeconfig);
        } else {
            cmd.arg("--kubeconfig").arg(&kubeconfig);
        }
        let err = failure(cmd.args(["history", "deploy/a"]), 1);
        assert!(!err.contains("SECRET"), "{err}");
        assert!(err.contains("not valid YAML at line"), "{err}");
        assert!(err.lines().count() <= 2, "{err}");
    }
}

/// A kubeconfig whose server listens nowhere.
fn unreachable_kubeconfig() -> String {
    "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: \
     https://127.0.0.1:1\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: c\n  context:\n    \
     cluster: c\n    user: u\ncurrent-context: c\n"
        .to_owned()
}

#[test]
fn apply_says_what_it_cannot_read_before_any_request() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().display().to_string();
    let missing = home.path().join("absent.yaml").display().to_string();
    // PATH holds neither kubectl nor kustomize to render a kustomization.
    let no_kustomize = failure(
        gitrollout(&home)
            .env("PATH", home.path())
            .args(["apply", "-k", &dir, "--commit", "HEAD"]),
        1,
    );
    assert_eq!(
        no_kustomize,
        format!(
            "error: -k {dir} needs kubectl or kustomize to render it, and neither is on PATH\n\
             hint: install kubectl (which has kustomize built in) or kustomize, or render the \
             overlay yourself and pass it with -f -\n"
        )
    );
    let no_file = failure(
        gitrollout(&home).args(["apply", "-f", &missing, "--commit", "HEAD"]),
        2,
    );
    assert_eq!(
        no_file,
        format!(
            "error: {missing} cannot be read (No such file or directory (os error 2)): name \
             manifest files or directories\n"
        )
    );
    let nothing = failure(
        gitrollout(&home).args(["apply", "-f", &dir, "--commit", "HEAD"]),
        2,
    );
    assert_eq!(nothing, "error: the manifests hold no object to apply\n");
    let no_commit = failure(gitrollout(&home).args(["apply", "-f", &missing]), 2);
    assert!(no_commit.contains("--commit <REF>"), "{no_commit}");
}
