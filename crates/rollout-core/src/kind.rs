//! The workload kinds whose history this tool reads, and the names kubectl accepts for them.

use std::fmt;
use std::str::FromStr;

/// A workload kind with a rollout history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

/// A TYPE that names none of the supported kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown workload type {0:?}: use deployment (deploy), statefulset (sts) or daemonset (ds)"
)]
pub struct UnknownKind(pub String);

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 3] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
    ];

    /// The API kind, e.g. `Deployment`.
    pub fn kind(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }

    /// The lowercase singular resource name, e.g. `deployment`.
    pub fn singular(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
        }
    }

    /// The plural resource name, e.g. `deployments`.
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
        }
    }

    /// The resource as RBAC names it, e.g. `deployments.apps`.
    pub fn resource(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments.apps",
            WorkloadKind::StatefulSet => "statefulsets.apps",
            WorkloadKind::DaemonSet => "daemonsets.apps",
        }
    }

    /// The short name kubectl knows, e.g. `deploy`.
    pub fn short(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deploy",
            WorkloadKind::StatefulSet => "sts",
            WorkloadKind::DaemonSet => "ds",
        }
    }

    /// The kind of object that keeps this workload's revisions.
    pub fn history_kind(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "ReplicaSet",
            WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => "ControllerRevision",
        }
    }

    /// The resource that keeps this workload's revisions, as RBAC names it.
    pub fn history_resource(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "replicasets.apps",
            WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => "controllerrevisions.apps",
        }
    }
}

/// `deployment.apps`, as kubectl prints a kind with its group.
impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.apps", self.singular())
    }
}

/// Parses every TYPE kubectl accepts for these kinds: singular, plural, short name, each
/// optionally qualified with the `apps` group, in any case.
impl FromStr for WorkloadKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let name = lower
            .strip_suffix(".v1.apps")
            .or_else(|| lower.strip_suffix(".apps"))
            .unwrap_or(&lower);
        WorkloadKind::ALL
            .into_iter()
            .find(|k| [k.singular(), k.plural(), k.short()].contains(&name))
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_kubectl_accepts() {
        for (input, kind) in [
            ("deployment", WorkloadKind::Deployment),
            ("deployments", WorkloadKind::Deployment),
            ("deploy", WorkloadKind::Deployment),
            ("deployment.apps", WorkloadKind::Deployment),
            ("Deployment", WorkloadKind::Deployment),
            ("deployments.v1.apps", WorkloadKind::Deployment),
            ("statefulset", WorkloadKind::StatefulSet),
            ("statefulsets", WorkloadKind::StatefulSet),
            ("sts", WorkloadKind::StatefulSet),
            ("statefulset.apps", WorkloadKind::StatefulSet),
            ("daemonset", WorkloadKind::DaemonSet),
            ("daemonsets", WorkloadKind::DaemonSet),
            ("ds", WorkloadKind::DaemonSet),
            ("daemonset.apps", WorkloadKind::DaemonSet),
        ] {
            assert_eq!(input.parse(), Ok(kind), "{input}");
        }
    }

    #[test]
    fn refuses_other_kinds() {
        for input in ["pod", "replicaset", "deployment.extensions", "", "apps"] {
            let err = input.parse::<WorkloadKind>().unwrap_err();
            assert_eq!(err, UnknownKind(input.to_owned()));
        }
    }

    #[test]
    fn prints_kind_with_group() {
        assert_eq!(WorkloadKind::StatefulSet.to_string(), "statefulset.apps");
    }
}
