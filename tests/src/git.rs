//! Git repositories for tests: [`GitRepo`] lives in `gitrollout-test-git`, which needs neither
//! kube nor tokio, so the crates that test against git alone depend on it directly.

pub use gitrollout_test_git::GitRepo;
