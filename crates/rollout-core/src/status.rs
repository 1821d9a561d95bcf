//! Whether a rollout is complete, judged as `kubectl rollout status` judges it
//! (`k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go`).

use std::fmt;

use crate::kind::WorkloadKind;

/// The counts a rollout is judged by, read from a workload's spec and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutProgress {
    pub generation: i64,
    pub observed_generation: i64,
    /// Pods wanted: `spec.replicas`, or a DaemonSet's `desiredNumberScheduled`.
    pub desired: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    /// Pods of every revision (a Deployment's `status.replicas`); old ones still terminating
    /// keep a rollout from being complete.
    pub total: i32,
    /// A Deployment whose Progressing condition says `ProgressDeadlineExceeded`.
    pub deadline_exceeded: bool,
    /// A StatefulSet's `currentRevision` equals its `updateRevision`.
    pub revisions_converged: bool,
    /// The update strategy rolls pods out by itself (not `OnDelete`).
    pub rolling: bool,
}

/// The verdict on a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutStatus {
    Complete,
    /// Still rolling out; the progress line says how far.
    Waiting,
    /// It will not complete by waiting; the reason says why.
    Failed(String),
}

impl RolloutProgress {
    pub fn status(&self, kind: WorkloadKind) -> RolloutStatus {
        if !self.rolling {
            return RolloutStatus::Failed(format!(
                "the {} update strategy is OnDelete: pods change only when deleted, so there is \
                 no rollout to wait for",
                kind.singular()
            ));
        }
        if self.observed_generation < self.generation {
            return RolloutStatus::Waiting;
        }
        match kind {
            WorkloadKind::Deployment => {
                if self.deadline_exceeded {
                    return RolloutStatus::Failed(
                        "the rollout exceeded its progress deadline".to_owned(),
                    );
                }
                let done = self.updated >= self.desired
                    && self.total <= self.updated
                    && self.available >= self.updated;
                verdict(done)
            }
            WorkloadKind::StatefulSet => verdict(
                self.observed_generation > 0
                    && self.ready >= self.desired
                    && self.revisions_converged,
            ),
            WorkloadKind::DaemonSet => {
                verdict(self.updated >= self.desired && self.available >= self.desired)
            }
        }
    }
}

fn verdict(done: bool) -> RolloutStatus {
    if done {
        RolloutStatus::Complete
    } else {
        RolloutStatus::Waiting
    }
}

/// `3/10 updated, 2/10 ready, 2/10 available`.
impl fmt::Display for RolloutProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.observed_generation < self.generation {
            return write!(f, "the controller has not seen the change yet");
        }
        let d = self.desired;
        write!(
            f,
            "{}/{d} updated, {}/{d} ready, {}/{d} available",
            self.updated, self.ready, self.available
        )?;
        if self.total > self.updated && self.updated >= d {
            write!(f, ", {} old pods terminating", self.total - self.updated)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkloadKind::*;

    fn progress(desired: i32, updated: i32, ready: i32, available: i32) -> RolloutProgress {
        RolloutProgress {
            generation: 2,
            observed_generation: 2,
            desired,
            updated,
            ready,
            available,
            total: updated,
            deadline_exceeded: false,
            revisions_converged: true,
            rolling: true,
        }
    }

    #[test]
    fn judges_deployments_as_kubectl() {
        use RolloutStatus::*;
        assert_eq!(progress(10, 10, 10, 10).status(Deployment), Complete);
        assert_eq!(progress(10, 3, 3, 3).status(Deployment), Waiting);
        assert_eq!(progress(10, 10, 10, 8).status(Deployment), Waiting);
        let old_pods = RolloutProgress {
            total: 13,
            ..progress(10, 10, 10, 10)
        };
        assert_eq!(old_pods.status(Deployment), Waiting);
        assert_eq!(
            old_pods.to_string(),
            "10/10 updated, 10/10 ready, 10/10 available, 3 old pods terminating"
        );
        let unobserved = RolloutProgress {
            observed_generation: 1,
            ..progress(1, 1, 1, 1)
        };
        assert_eq!(unobserved.status(Deployment), Waiting);
        let stuck = RolloutProgress {
            deadline_exceeded: true,
            ..progress(10, 3, 0, 0)
        };
        assert!(matches!(stuck.status(Deployment), Failed(_)));
    }

    #[test]
    fn judges_statefulsets_and_daemonsets_as_kubectl() {
        use RolloutStatus::*;
        assert_eq!(progress(2, 2, 2, 2).status(StatefulSet), Complete);
        let rolling = RolloutProgress {
            revisions_converged: false,
            ..progress(2, 1, 2, 2)
        };
        assert_eq!(rolling.status(StatefulSet), Waiting);
        assert_eq!(progress(2, 2, 1, 1).status(StatefulSet), Waiting);
        assert_eq!(progress(1, 1, 1, 1).status(DaemonSet), Complete);
        assert_eq!(progress(1, 1, 0, 0).status(DaemonSet), Waiting);
        let on_delete = RolloutProgress {
            rolling: false,
            ..progress(1, 1, 1, 1)
        };
        assert!(matches!(on_delete.status(DaemonSet), Failed(_)));
    }

    #[test]
    fn shows_progress_against_desired() {
        assert_eq!(
            progress(10, 3, 2, 1).to_string(),
            "3/10 updated, 2/10 ready, 1/10 available"
        );
    }
}
