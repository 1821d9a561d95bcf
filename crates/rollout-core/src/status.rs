//! Whether a rollout is complete, judged as `kubectl rollout status` judges it
//! (`k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go`).

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

impl RolloutProgress {
    /// What the rollout waits for, worded as `kubectl rollout status` words it: the pods of the
    /// new revision only, so a surge's old pods are never counted as progress (`3 of 10
    /// updated replicas are available`, never `13/10 ready`).
    pub fn describe(&self, kind: WorkloadKind) -> String {
        if self.observed_generation < self.generation {
            return "the controller has not seen the change yet".to_owned();
        }
        let (desired, updated) = (self.desired, self.updated);
        match kind {
            WorkloadKind::Deployment if updated < desired => {
                format!("{updated} out of {desired} new replicas have been updated")
            }
            WorkloadKind::Deployment if self.total > updated => {
                let old = self.total - updated;
                format!(
                    "{old} old {} pending termination",
                    plural(old, "replica is", "replicas are")
                )
            }
            WorkloadKind::Deployment => {
                format!(
                    "{} of {updated} updated replicas are available",
                    self.available
                )
            }
            WorkloadKind::StatefulSet if self.ready < desired => {
                let waiting = desired - self.ready;
                format!(
                    "waiting for {waiting} {} to be ready",
                    plural(waiting, "pod", "pods")
                )
            }
            WorkloadKind::StatefulSet => {
                format!("{updated} of {desired} pods are at the update revision")
            }
            WorkloadKind::DaemonSet if updated < desired => {
                format!("{updated} out of {desired} new pods have been updated")
            }
            WorkloadKind::DaemonSet => {
                format!("{} of {desired} updated pods are available", self.available)
            }
        }
    }
}

fn plural(n: i32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
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
            old_pods.describe(Deployment),
            "3 old replicas are pending termination"
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
    fn progress_counts_the_new_revision_only_as_kubectl_does() {
        // The surge of `cargo xtask demo`: 10 old pods and 3 new ones, all ready.
        let surge = RolloutProgress {
            total: 13,
            ready: 13,
            ..progress(10, 3, 13, 13)
        };
        assert_eq!(
            surge.describe(Deployment),
            "3 out of 10 new replicas have been updated"
        );
        assert_eq!(
            progress(10, 10, 10, 3).describe(Deployment),
            "3 of 10 updated replicas are available"
        );
        let one_old = RolloutProgress {
            total: 11,
            ..progress(10, 10, 10, 10)
        };
        assert_eq!(
            one_old.describe(Deployment),
            "1 old replica is pending termination"
        );
        assert_eq!(
            progress(3, 3, 1, 1).describe(StatefulSet),
            "waiting for 2 pods to be ready"
        );
        assert_eq!(
            progress(3, 1, 3, 3).describe(StatefulSet),
            "1 of 3 pods are at the update revision"
        );
        assert_eq!(
            progress(2, 1, 1, 1).describe(DaemonSet),
            "1 out of 2 new pods have been updated"
        );
        assert_eq!(
            progress(2, 2, 2, 1).describe(DaemonSet),
            "1 of 2 updated pods are available"
        );
        let unobserved = RolloutProgress {
            observed_generation: 1,
            ..progress(1, 1, 1, 1)
        };
        assert_eq!(
            unobserved.describe(Deployment),
            "the controller has not seen the change yet"
        );
    }
}
