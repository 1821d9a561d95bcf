//! Whatever a user or a repository hands them, the parsers of REFs and manifests answer; none
//! panics.

use proptest::prelude::*;
use rollout_git::{Repo, workload_template};

/// A manifest-like document: YAML keys and values from a small alphabet that reaches the
/// parser's paths (kinds, names, templates, lists, documents, quoting, odd scalars).
fn manifest() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("apiVersion: apps/v1\n".to_owned()),
        Just("kind: Deployment\n".to_owned()),
        Just("metadata:\n  name: team-app\n".to_owned()),
        Just("spec:\n  template:\n    spec:\n      containers:\n".to_owned()),
        Just("      - name: nginx\n        image: nginx:1.17\n".to_owned()),
        Just("---\n".to_owned()),
        Just("kind: List\nitems:\n- ".to_owned()),
        Just("  ports: [{containerPort: 80}]\n".to_owned()),
        Just("  defaultMode: 0644\n".to_owned()),
        Just("&a *a <<: ".to_owned()),
        "[ -~\n\t]{0,40}",
    ];
    proptest::collection::vec(token, 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn no_manifest_panics(text in manifest(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = workload_template(text.as_bytes(), "Deployment", "team-app");
        let _ = workload_template(&bytes, "StatefulSet", "team-app");
    }
}

#[test]
fn no_ref_panics() {
    let git = gitrollout_test_git::GitRepo::new();
    let sha = git.commit("app.yaml", "kind: Deployment\n", "release 1.16");
    git.git(&["tag", "v1.16"]);
    let repo = Repo::discover(git.path()).expect("a repository");
    let refs = "[0-9a-f]{0,40}|[ -~]{0,30}|HEAD(~[0-9]{1,3}|\\^{1,3}|@\\{[0-9]\\})?|v1\\.16(\\^\\{[a-z]*\\})?";
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(&refs, |reference| {
            if let Ok(commit) = repo.resolve(&reference) {
                // Whatever resolves names the one commit there is.
                prop_assert_eq!(&commit.sha, &sha);
            }
            Ok(())
        })
        .expect("every REF resolves to the one commit or is refused");
}
