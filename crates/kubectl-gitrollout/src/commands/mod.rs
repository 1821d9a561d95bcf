//! One module per subcommand, each with its clap arguments beside its handler.
//!
//! Every handler has the same shape: resolve (its arguments, then the cluster reads) -> plan
//! (pure, in `rollout_core` or `rollout_git`) -> execute (the writes, kept thin) -> render an
//! outcome through the [`Ui`](crate::ui::Ui), the one output handle.

pub mod apply;
pub mod completion;
pub mod diff;
pub mod history;
pub mod log;
pub mod record;
pub mod revert;
pub mod version;
