//! Rollout history and diff logic for kubectl-gitrollout.
//!
//! Plain values in, plain values out: this crate knows nothing of HTTP, kube clients, git, files
//! or the clock (`now` is always passed in). The binary turns API objects into [`Revision`]s,
//! this crate answers questions about them.

mod age;
mod apply;
pub mod change;
mod config;
mod configdiff;
pub mod defaults;
pub mod deployed;
mod diff;
mod gitops;
mod history;
mod kind;
pub mod log;
mod retry;
mod revert;
pub mod schema;
mod select;
mod snapshot;
mod status;
pub mod takeover;
pub mod template;
mod threeway;
pub mod yaml;

pub use age::human_age;
pub use apply::{ApplyPlan, Made, plan_apply};
pub use change::{Change, FieldPath, Op, Segment};
pub use config::{
    CONFIG_DIGESTS, ConfigKind, Reference, config_key, digest, recorded_digests, references,
};
pub use configdiff::{ConfigDiff, Pair, compare as compare_config, pairs as config_pairs};
pub use deployed::{DeployedBy, Match, Source, Sync, Tool};
pub use diff::{TemplateDiff, diff_raw, diff_templates};
pub use gitops::{Manager, Origin, SourceRef, kustomize_origin, manager, sources};
pub use history::{
    Container, Current, Found, History, HistoryError, HistoryWarning, Listed, Revision, Unnumbered,
};
pub use kind::{UnknownKind, WorkloadKind};
pub use retry::{ConflictRetry, Limit, Retry};
pub use revert::{
    Restored, RevertError, RevertPlan, RevertRequest, RevertTo, made_by, plan_revert,
};
pub use select::{RevisionSpec, SelectError, resolve_revision};
pub use snapshot::{
    Owner, SNAPSHOT_DIGEST, SNAPSHOT_LABEL, SNAPSHOT_OF, is_snapshot_of, restored, snapshot,
    snapshot_name,
};
pub use status::{RolloutProgress, RolloutStatus};
pub use threeway::{ChangeRevertRequest, Conflict, plan_change_revert, revert_change};
