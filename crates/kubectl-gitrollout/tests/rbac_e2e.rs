//! README's RBAC section is enough: the Roles it shows, applied exactly as written, let each
//! command do its work, waits included, and nothing more.

use std::path::Path;

use crate::common::{gitrollout, stderr, stdout};
use gitrollout_tests::git::GitRepo;
use gitrollout_tests::{TestNamespace, play_deployment_story, play_statefulset_story};

/// The YAML blocks of README's `### RBAC` section, as one multi-document YAML.
fn readme_roles() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(readme).unwrap();
    let section = &readme[readme.find("### RBAC").expect("README has an RBAC section")..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let blocks: Vec<&str> = section
        .split("```yaml\n")
        .skip(1)
        .map(|block| &block[..block.find("```").unwrap()])
        .collect();
    assert!(
        blocks.len() >= 4,
        "the apply, read and write, config and deployed-by Roles"
    );
    blocks.join("---\n")
}

/// README's Roles, applied in `ns` as written.
pub(crate) fn apply_readme_roles(ns: &TestNamespace) {
    let roles = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(roles.path(), readme_roles()).unwrap();
    ns.kubectl_ok(&["apply", "-f", &roles.path().display().to_string()]);
}

/// A ServiceAccount bound to README's Roles `roles`; returns a kubeconfig that acts as it.
pub(crate) fn account_with(ns: &TestNamespace, roles: &[&str]) -> tempfile::NamedTempFile {
    let account = format!("{}-user", roles.join("-"));
    ns.kubectl_ok(&["create", "serviceaccount", &account]);
    let subject = format!("--serviceaccount={}:{account}", ns.name);
    for role in roles {
        let role_ref = format!("--role={role}");
        let binding = format!("{account}-{role}");
        ns.kubectl_ok(&["create", "rolebinding", &binding, &role_ref, &subject]);
    }
    ns.token_kubeconfig(&account)
}

#[tokio::test]
async fn the_roles_readme_shows_are_enough_for_every_command() {
    let ns = TestNamespace::new("rbac-readme").await;
    play_deployment_story(&ns);
    play_statefulset_story(&ns).await;
    apply_readme_roles(&ns);
    let (reader, writer) = (
        account_with(&ns, &["gitrollout-read"]),
        account_with(&ns, &["gitrollout-write"]),
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

/// README's apply Role beside the write Role lets CI's step apply a Deployment, a Service and a
/// ConfigMap and wait for the rollout.
#[tokio::test]
async fn the_apply_role_readme_shows_is_enough_for_apply() {
    let ns = TestNamespace::new("rbac-apply").await;
    apply_readme_roles(&ns);
    let ci = account_with(&ns, &["gitrollout-write", "gitrollout-apply"]);
    let repo = GitRepo::new();
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  \
                    selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      \
                    labels: {app: web}\n    spec:\n      containers:\n      - name: nginx\n        \
                    image: nginx:1.16\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n\
                    spec:\n  selector: {app: web}\n  ports:\n  - port: 80\n---\napiVersion: v1\n\
                    kind: ConfigMap\nmetadata:\n  name: web\ndata:\n  level: info\n";
    let sha = repo.commit("app.yaml", manifest, "Release web");
    let (file, repo_dir) = (
        repo.path().join("app.yaml").display().to_string(),
        repo.path().display().to_string(),
    );
    let args = [
        "apply", "-f", &file, "--commit", "HEAD", "--repo", &repo_dir, "--wait",
    ];
    let run = gitrollout(&ns)
        .env("KUBECONFIG", ci.path())
        .args(args)
        .assert()
        .success();
    assert_eq!(
        stdout(&run),
        format!(
            "configmap/web created\ndeployment.apps/web created: revision 1 from commit {}\n\
             service/web created\n",
            &sha[..7]
        ),
        "{}",
        stderr(&run)
    );
    ns.delete().await;
}

/// README's config Role beside the others lets CI keep snapshots and an operator restore from
/// them; without it, `revert --with-config` is refused before anything is written.
#[tokio::test]
async fn the_config_role_readme_shows_is_enough_for_snapshots_and_their_restore() {
    let ns = TestNamespace::new("rbac-config").await;
    apply_readme_roles(&ns);
    let ci = account_with(
        &ns,
        &["gitrollout-write", "gitrollout-apply", "gitrollout-config"],
    );
    let (reader, writer) = (
        account_with(&ns, &["gitrollout-read", "gitrollout-config"]),
        account_with(&ns, &["gitrollout-write"]),
    );
    let as_user = |kubeconfig: &tempfile::NamedTempFile, args: &[&str]| {
        gitrollout(&ns)
            .env("KUBECONFIG", kubeconfig.path())
            .args(args)
            .assert()
    };
    let repo = GitRepo::new();
    let (file, repo_dir) = (
        repo.path().join("app.yaml").display().to_string(),
        repo.path().display().to_string(),
    );
    for (level, image) in [("info", "nginx:1.16"), ("warn", "nginx:1.17")] {
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web}}\ndata: {{level: {level}}}\n\
             ---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  \
             selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      \
             labels: {{app: web}}\n    spec:\n      containers:\n      - name: nginx\n        \
             image: {image}\n        envFrom: [{{configMapRef: {{name: web}}}}]\n"
        );
        repo.commit("app.yaml", &manifest, &format!("Release {image}"));
        let args = [
            "apply",
            "-f",
            &file,
            "--commit",
            "HEAD",
            "--repo",
            &repo_dir,
            "--wait",
            "--snapshot-config",
        ];
        let run = as_user(&ci, &args).success();
        assert!(
            stderr(&run).contains(" keeps configmap/web for replicaset web-"),
            "{}",
            stderr(&run)
        );
    }
    let level = || ns.kubectl_ok(&["get", "configmap", "web", "-o", "jsonpath={.data.level}"]);
    ns.kubectl_ok(&[
        "patch",
        "configmap",
        "web",
        "-p",
        r#"{"data":{"level":"debug"}}"#,
    ]);

    // Reading: diff compares the config each revision ran with, from the snapshots.
    let diff = as_user(&reader, &["diff", "deploy/web", "1", "2"]).success();
    assert_eq!(stderr(&diff), "");
    assert!(
        stdout(&diff).contains("-  level: info\n+  level: warn\n"),
        "{}",
        stdout(&diff)
    );

    // Without the config Role, the restore is refused and nothing changes.
    let revert = [
        "revert",
        "deploy/web",
        "--to-revision",
        "1",
        "--with-config",
    ];
    let refused = as_user(&writer, &revert).code(1);
    assert!(
        stderr(&refused).contains("forbidden: RBAC does not allow update on configmaps"),
        "{}",
        stderr(&refused)
    );
    let history = |user| {
        let run = as_user(user, &["history", "deploy/web", "-o", "json"]).success();
        let doc: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
        doc["currentRevision"].clone()
    };
    assert_eq!(history(&reader), 2);
    assert_eq!(level(), "debug");

    // With it, the revert restores the ConfigMap with the template.
    let run = as_user(&ci, &[&revert[..], &["--wait"]].concat()).success();
    assert_eq!(
        stdout(&run),
        "deployment.apps/web reverted to revision 1 as revision 3\n",
        "{}",
        stderr(&run)
    );
    assert_eq!(level(), "info");
    ns.delete().await;
}
