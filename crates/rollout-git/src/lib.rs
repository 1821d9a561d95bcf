//! Maps the revisions of a Kubernetes workload to the git commits that produced them.
//!
//! Reading uses gix; writing commits goes through the `git` command, so hooks, signing and
//! identity work as the user configured them.

mod bloom;
mod inverse;
mod manifest;
mod map;
mod pack;
mod repo;
mod text;
pub mod yaml;

pub use inverse::{Inverse, InverseError, commit_inverse, inverse};
pub use manifest::{manifest_objects, workload_template};
pub use map::{
    CommitSource, EARLIER_COMMITS, ManifestHistory, MappedCommit, Mapping, RECORDED_COMMIT,
    RECORDED_REVISION, earlier_commits, map_commits, recording, revision_with_content,
};
pub use pack::PackError;
pub use repo::{CommitInfo, GitError, Repo, Written};
pub use text::{DeltaError, Text};
