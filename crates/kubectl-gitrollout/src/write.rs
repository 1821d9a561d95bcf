//! The write path every command that changes the cluster shares (`revert`, `record`, `apply`):
//!
//! - a write conditional on what was read, planned from one read and retried after a conflict
//!   by one policy ([`rollout_core::ConflictRetry`]), which says which limit gave up;
//! - after a lost answer (a transport error, a timeout), reading again until the cluster answers
//!   and finding the write by its unique markers, so the user is told whether it landed;
//! - waiting, by watching, for the revision the controller makes of a written pod template.

use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use rollout_core::{ConflictRetry, History, Limit, Retry, Revision, template};
use serde_json::Value;

use crate::cli::WorkloadRef;
use crate::client::{self, Cluster};
use crate::hints::{Hint, hinted};
use crate::ui::Ui;
use crate::wait::{self, Watched};
use crate::workload::Workload;

/// Spec changes by someone else before a write gives up on a workload that keeps changing.
const ATTEMPTS: usize = 3;
/// Reads before a write gives up on a workload that keeps changing in any way.
const MAX_READS: usize = 10;
/// How long the controller may take to record the revision of a written template.
const RECORD_TIMEOUT: Duration = Duration::from_secs(60);

/// What is being written, for the messages of the write loop.
#[derive(Debug, Clone, Copy)]
pub struct Writing<'a> {
    pub target: &'a WorkloadRef,
    /// The change, as a noun: `revert`, `apply`.
    pub change: &'static str,
}

impl Writing<'_> {
    /// `deployment.apps/team-app`.
    pub fn name(&self) -> String {
        self.target.to_string()
    }
}

/// Writes the plan made from `first`, conditionally on that read: when the server refuses it for
/// a conflict (someone wrote since), reads again, plans again and writes again, until the server
/// accepts a write or the policy gives up. `send` answers `None` for a conflict. Returns the
/// plan that was written and what `send` returned for it.
pub async fn conditional<R, P, T>(
    writing: Writing<'_>,
    (first, first_plan): (R, P),
    generation: impl Fn(&R) -> Option<i64>,
    mut read: impl AsyncFnMut() -> Result<R>,
    mut plan: impl FnMut(&R) -> Result<P>,
    mut send: impl AsyncFnMut(&R, &P) -> Result<Option<T>>,
    ui: &mut Ui<'_>,
) -> Result<(P, T)> {
    let mut retry = ConflictRetry::new(ATTEMPTS, MAX_READS);
    retry.observe(generation(&first));
    let (mut read_now, mut plan_now) = (first, first_plan);
    loop {
        if let Some(sent) = send(&read_now, &plan_now).await? {
            return Ok((plan_now, sent));
        }
        read_now = read().await?;
        match retry.observe(generation(&read_now)) {
            Retry::Plan => {}
            Retry::Replan => ui.note(format_args!(
                "{} changed while {}; planning again",
                writing.name(),
                doing(writing.change)
            ))?,
            Retry::GiveUp(limit) => return Err(kept_changing(writing, limit)),
        }
        plan_now = plan(&read_now)?;
    }
}

/// `reverting`, `applying`.
fn doing(change: &str) -> String {
    format!("{}ing", change.trim_end_matches('e'))
}

fn kept_changing(writing: Writing<'_>, limit: Limit) -> anyhow::Error {
    hinted(
        format_args!(
            "{} kept changing while {} ({limit}): someone else is changing it, and their change \
             was not overwritten",
            writing.name(),
            doing(writing.change)
        ),
        Hint::FindWhoChanges {
            kind: writing.target.kind.singular(),
            name: writing.target.name.clone(),
        },
    )
}

/// Whether a write whose answer was lost landed, as a fresh read tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landed {
    /// Applied, and recorded by the controller as this revision.
    Recorded(u64),
    /// Applied (for a pod template: the controller has not made its revision yet).
    Applied,
    NotApplied,
    /// The cluster did not answer the re-reads either.
    Unknown,
}

/// Reads again, with backoff, until the cluster answers, and returns what `judge` made of the
/// first answer; [`Landed::Unknown`] when it never answered.
pub async fn find_out<F, Fut>(mut judge: F) -> Landed
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Landed>>,
{
    let mut delay = Duration::from_millis(500);
    for _ in 0..5 {
        tokio::time::sleep(delay).await;
        delay *= 2;
        if let Ok(landed) = judge().await {
            return landed;
        }
    }
    Landed::Unknown
}

/// Whether `workload`'s write landed: the revision whose template `ours` recognises, else the
/// live template when it is ours.
pub fn judge_template(
    workload: &Workload,
    history: &History,
    ours: impl Fn(&Value) -> bool,
) -> Landed {
    if let Some(revision) = history.revisions.iter().find(|r| ours(&r.template)) {
        return Landed::Recorded(revision.number);
    }
    if ours(&workload.template_value()) {
        Landed::Applied
    } else {
        Landed::NotApplied
    }
}

/// A write whose answer was lost: what a fresh read found of it, said with how to check.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct LostWrite {
    message: String,
    pub landed: Landed,
    pub hint: Hint,
}

/// Whether `err` is that of a write that may have landed (its answer was lost, and a fresh read
/// did not find it unapplied): what was written with it must stay.
pub fn may_have_landed(err: &anyhow::Error) -> bool {
    err.downcast_ref::<LostWrite>()
        .is_some_and(|lost| lost.landed != Landed::NotApplied)
}

/// The error for a write whose answer was lost: what is known of it, and how to check.
pub fn lost(
    cluster: &Cluster,
    writing: Writing<'_>,
    err: &kube::Error,
    landed: Landed,
) -> anyhow::Error {
    let change = writing.change;
    let what = match landed {
        Landed::Recorded(revision) => format!("the {change} was applied as revision {revision}"),
        Landed::Applied => format!(
            "the {change} was applied, and the controller has not recorded it as a revision yet"
        ),
        Landed::NotApplied => format!("the {change} was not applied; nothing was changed"),
        Landed::Unknown => format!(
            "it could not be found out whether the {change} was applied: the cluster did not \
             answer again"
        ),
    };
    let message = format!(
        "lost the answer of the Kubernetes API at {} to the {change} of {} ({}): {what}",
        cluster.server,
        writing.name(),
        client::error_chain(err),
    );
    anyhow::Error::new(LostWrite {
        message,
        landed,
        hint: Hint::CheckHistory {
            workload: format!("{}/{}", writing.target.kind.singular(), writing.target.name),
        },
    })
}

/// The revision the controller recorded for a write, with the workload and history it was
/// found in.
#[derive(Debug)]
pub struct RevisionMade {
    pub number: u64,
    pub workload: Workload,
    pub history: History,
}

/// Waits, watching, until the controller has acted on the write that gave the workload
/// `generation`, and returns the revision it recorded for it, the one whose template `ours`
/// recognises. A write that someone else's replaced before the controller
/// recorded it is said to be overtaken, naming what replaced it. `has` says what the workload
/// was given (`the pod template of revision 2`), for the error when the controller never acts.
pub async fn revision_made(
    cluster: &Cluster,
    writing: Writing<'_>,
    generation: i64,
    ours: impl Fn(&Value) -> bool,
    has: &str,
) -> Result<RevisionMade> {
    let target = writing.target;
    let work = async {
        let observed = wait::workload_until(cluster, target, Duration::ZERO, |workload| {
            let progress = workload.progress();
            (progress.observed_generation >= generation).then(|| workload.clone())
        });
        let Watched::Done(workload) = observed.await? else {
            return Ok(Watched::TimedOut);
        };
        let live_is_ours = ours(&workload.template_value());
        wait::history_until(cluster, &workload, Duration::ZERO, |history| match history
            .revisions
            .iter()
            .find(|r| ours(&r.template))
        {
            Some(revision) => Some(Ok(RevisionMade {
                number: revision.number,
                workload: workload.clone(),
                history: history.clone(),
            })),
            None if !live_is_ours => Some(Err(overtaken(writing, history))),
            None => None,
        })
        .await
    };
    match wait::bounded(RECORD_TIMEOUT, work).await {
        Some(Ok(Watched::Done(found))) => found,
        Some(Err(err)) => Err(err),
        None | Some(Ok(Watched::TimedOut)) => Err(hinted(
            format_args!(
                "{} now has {has}, but its controller has not recorded a new revision within {}",
                writing.name(),
                wait::humantime(RECORD_TIMEOUT)
            ),
            Hint::CheckControllerManager,
        )),
    }
}

/// The error for a write that a newer one replaced before the controller recorded it.
fn overtaken(writing: Writing<'_>, history: &History) -> anyhow::Error {
    let newer = match history.current() {
        Ok(revision) => {
            let cause = revision
                .change_cause
                .as_deref()
                .unwrap_or("no change cause");
            format!("revision {} ({cause})", revision.number)
        }
        Err(_) => "a change the controller has not recorded yet".to_owned(),
    };
    let target = writing.target;
    hinted(
        format_args!(
            "the {} of {} was applied, but a newer change replaced it before the controller \
             recorded it: the workload now runs {newer}",
            writing.change,
            writing.name()
        ),
        Hint::SeeHistoryThenRetry {
            workload: format!("{}/{}", target.kind.singular(), target.name),
        },
    )
}

/// Waits, watching, until the controller has seen the workload's spec and made the revision for
/// its current pod template; returns the workload as then read and that revision.
pub async fn current_revision(
    cluster: &Cluster,
    target: &WorkloadRef,
    timeout: Duration,
) -> Result<(Workload, Revision)> {
    let timed_out = || {
        let name = format!("{}/{}", target.kind, target.name);
        hinted(
            format_args!(
                "the controller has not made a revision for the current pod template of {name} \
                 within {}",
                wait::humantime(timeout)
            ),
            Hint::RolloutStatus {
                workload: name.clone(),
            },
        )
    };
    let work = async {
        let observed = wait::workload_until(cluster, target, Duration::ZERO, |workload| {
            let progress = workload.progress();
            (progress.observed_generation >= progress.generation).then(|| workload.clone())
        });
        let Watched::Done(workload) = observed.await? else {
            return Err(timed_out());
        };
        let live = workload.template_value();
        let made = wait::history_until(cluster, &workload, Duration::ZERO, |history| {
            let current = history.current().ok();
            current
                .filter(|r| template::same_content(&r.template, &live))
                .cloned()
        });
        match made.await? {
            Watched::Done(revision) => Ok((workload, revision)),
            Watched::TimedOut => Err(timed_out()),
        }
    };
    wait::bounded(timeout, work)
        .await
        .unwrap_or_else(|| Err(timed_out()))
}
