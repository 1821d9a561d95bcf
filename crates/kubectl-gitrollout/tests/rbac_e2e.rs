//! README's RBAC section is enough: the Roles it shows, applied exactly as written, let each
//! command do its work, waits included, and nothing more.

use std::path::Path;

use crate::common::{gitrollout, stderr, stdout};
use gitrollout_tests::git::GitRepo;
use gitrollout_tests::{TestNamespace, play_deployment_story, play_statefulset_story};

/// The YAML block of README's `### RBAC` section.
fn readme_roles() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(readme).unwrap();
    let section = &readme[readme.find("### RBAC").expect("README has an RBAC section")..];
    let block = &section[section.find("```yaml\n").expect("with a YAML block") + 8..];
    block[..block.find("```").unwrap()].to_owned()
}

/// A ServiceAccount bound to README's Role `role`; returns a kubeconfig that acts as it.
fn account_with(ns: &TestNamespace, role: &str) -> tempfile::NamedTempFile {
    let account = format!("{role}-user");
    ns.kubectl_ok(&["create", "serviceaccount", &account]);
    let subject = format!("--serviceaccount={}:{account}", ns.name);
    let role_ref = format!("--role={role}");
    ns.kubectl_ok(&["create", "rolebinding", &account, &role_ref, &subject]);
    ns.token_kubeconfig(&account)
}

#[tokio::test]
async fn the_roles_readme_shows_are_enough_for_every_command() {
    let ns = TestNamespace::new("rbac-readme").await;
    play_deployment_story(&ns);
    play_statefulset_story(&ns).await;
    let roles = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(roles.path(), readme_roles()).unwrap();
    ns.kubectl_ok(&["apply", "-f", &roles.path().display().to_string()]);
    let (reader, writer) = (
        account_with(&ns, "gitrollout-read"),
        account_with(&ns, "gitrollout-write"),
    );
    let as_user = |kubeconfig: &tempfile::NamedTempFile, args: &[&str]| {
        gitrollout(&ns)
            .env("KUBECONFIG", kubeconfig.path())
            .args(args)
            .assert()
    };

    // Reading.
    for args in [
        &["history", "deploy/team-app"][..],
        &["history", "sts/team-db", "-o", "wide"],
        &["history", "deploy", "-l", "app=team-app"],
        &["diff", "deploy/team-app", "1", "3"],
    ] {
        let run = as_user(&reader, args).success();
        assert!(
            !stderr(&run).contains("error"),
            "{args:?}: {}",
            stderr(&run)
        );
    }
    let refused = as_user(
        &reader,
        &["revert", "deploy/team-app", "--to-revision", "2"],
    )
    .code(1);
    assert!(
        stderr(&refused).starts_with("error: forbidden: RBAC does not allow patch on deployments"),
        "{}",
        stderr(&refused)
    );

    // Writing: a revert that waits for its rollout, then recording the commit.
    let reverted = as_user(
        &writer,
        &["revert", "deploy/team-app", "--to-revision", "2", "--wait"],
    )
    .success();
    assert_eq!(
        stdout(&reverted),
        "deployment.apps/team-app reverted to revision 2 as revision 4\n"
    );
    let repo = GitRepo::new();
    let sha = repo.commit("app.yaml", "kind: Deployment\n", "Back to 1.17");
    let repo_dir = repo.path().display().to_string();
    let recorded = as_user(
        &writer,
        &[
            "record",
            "deploy/team-app",
            "--commit",
            &sha,
            "--repo",
            &repo_dir,
        ],
    )
    .success();
    assert_eq!(
        stdout(&recorded),
        format!(
            "deployment.apps/team-app revision 4 recorded as commit {} (Back to 1.17)\n",
            &sha[..7]
        )
    );
    ns.delete().await;
}
