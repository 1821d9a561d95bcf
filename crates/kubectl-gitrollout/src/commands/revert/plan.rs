//! One revert plan from one read: the refusals first (who else manages the workload, then the
//! core's), then the template to write and the commit it restores. Pure: no request, no output.

use anyhow::Result;
use jiff::Timestamp;
use rollout_core::{
    ChangeRevertRequest, Restored, RevertPlan, RevertRequest, RevertTo, plan_change_revert,
    plan_revert,
};

use super::RevertArgs;
use super::resolve::Target;
use crate::guard;
use crate::hints::{Hint, hinted};
use crate::render::Commits;
use crate::workload::{Owned, Workload};

/// Plans a revert from any read of the workload, as resolved from the first.
#[derive(Debug, Clone, Copy)]
pub(super) struct Planner<'a> {
    pub args: &'a RevertArgs,
    pub to: &'a Target,
    pub commits: &'a Commits,
    pub now: Timestamp,
}

/// A plan, the commit its content came from (for `--git`), and a warning to show about who else
/// manages the workload.
#[derive(Debug)]
pub(super) struct Planned {
    pub plan: RevertPlan,
    pub commit: Option<String>,
    /// Whether `--git` commits the revert.
    pub git: bool,
    pub warning: Option<String>,
}

impl Planner<'_> {
    pub fn plan(&self, (workload, owned): &(Workload, Owned)) -> Result<Planned> {
        let asked = guard::Asked {
            change: "revert",
            force: self.args.force,
            dry_run: self.args.dry_run,
        };
        let warning = guard::check(workload, asked)?;
        let plan = self.revert_plan(workload, owned)?;
        let commit = match &plan.target {
            Restored::Revision(n) | Restored::Change(n) => {
                self.commits.get(n).map(|m| m.sha.clone())
            }
            Restored::Commit(sha) => Some(sha.clone()),
        };
        if self.args.git && commit.is_none() {
            return Err(hinted(
                format_args!(
                    "cannot commit the revert: no commit is known for {} of {}/{}",
                    plan.target,
                    workload.kind(),
                    workload.metadata().name.as_deref().unwrap_or_default()
                ),
                Hint::PassPathForGit,
            ));
        }
        Ok(Planned {
            plan,
            commit,
            git: self.args.git,
            warning,
        })
    }

    fn revert_plan(&self, workload: &Workload, owned: &Owned) -> Result<RevertPlan> {
        let history = workload.history(owned.clone());
        let (live, message, paused) = (
            workload.template_value(),
            self.args.message.as_deref(),
            workload.paused(),
        );
        let restore = |target| {
            let request = RevertRequest {
                target,
                message,
                paused,
                now: self.now,
            };
            plan_revert(&history, &live, &request)
        };
        Ok(match self.to {
            Target::Previous => restore(RevertTo::Previous)?,
            Target::Revision(n) => restore(RevertTo::Revision(*n))?,
            Target::Commit { sha, template } => restore(RevertTo::Commit { sha, template })?,
            Target::Change(revision) => {
                let request = ChangeRevertRequest {
                    revision: *revision,
                    message,
                    paused,
                    now: self.now,
                };
                plan_change_revert(&history, &live, &request)?
            }
        })
    }
}
