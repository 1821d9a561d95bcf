//! Revisions as the command line names them: by number, or counted back from the current one
//! (`-1` is the revision before the current, `-2` the one before that), counting the revisions
//! that still exist, as `git` counts `HEAD~N` over the commits there are.

use std::fmt;
use std::str::FromStr;

use crate::history::History;

/// A revision as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionSpec {
    /// A revision by its number, e.g. `3`.
    Number(u64),
    /// So many existing revisions before the current one, e.g. `-1`.
    BeforeCurrent(u64),
}

/// A revision that cannot be named so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error(
        "a revision is a positive integer, not {0:?}, or a negative one counting back from the \
         current revision (-1 is the one before it)"
    )]
    Malformed(String),
    #[error(
        "{workload} has no current revision to count back from: the controller has not rolled out \
         its template yet"
    )]
    NoCurrent { workload: String },
    #[error(
        "revision -{back} of {workload} does not exist: revision {current} is current and only \
         {before} revision{} exist before it ({})",
        if *.before == 1 { "" } else { "s" },
        numbers(.existing)
    )]
    TooFarBack {
        workload: String,
        back: u64,
        current: u64,
        before: usize,
        existing: Vec<u64>,
    },
}

fn numbers(numbers: &[u64]) -> String {
    let numbers: Vec<String> = numbers.iter().map(u64::to_string).collect();
    format!("revisions {}", numbers.join(", "))
}

impl FromStr for RevisionSpec {
    type Err = SelectError;

    /// `3` or `-1`; zero is no revision (for `--to-revision 0`, kubectl's "the previous one", the
    /// caller maps it to `-1`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || SelectError::Malformed(s.to_owned());
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        match digits.parse::<u64>() {
            Ok(0) | Err(_) => Err(malformed()),
            Ok(n) if negative => Ok(RevisionSpec::BeforeCurrent(n)),
            Ok(n) => Ok(RevisionSpec::Number(n)),
        }
    }
}

impl fmt::Display for RevisionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevisionSpec::Number(n) => write!(f, "{n}"),
            RevisionSpec::BeforeCurrent(n) => write!(f, "-{n}"),
        }
    }
}

/// The number `spec` names in `history`. A number is returned as given, for the history to
/// look up (and to say which exist); a count back is resolved over the existing revisions.
pub fn resolve_revision(history: &History, spec: RevisionSpec) -> Result<u64, SelectError> {
    let back = match spec {
        RevisionSpec::Number(n) => return Ok(n),
        RevisionSpec::BeforeCurrent(back) => back,
    };
    let current = history.current.ok_or_else(|| SelectError::NoCurrent {
        workload: history.workload(),
    })?;
    let existing: Vec<u64> = history.revisions.iter().map(|r| r.number).collect();
    let before = existing.iter().filter(|n| **n < current).count();
    usize::try_from(back)
        .ok()
        .and_then(|back| before.checked_sub(back))
        .map(|index| existing[index])
        .ok_or_else(|| SelectError::TooFarBack {
            workload: history.workload(),
            back,
            current,
            before,
            existing,
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::{Current, Revision, WorkloadKind};

    fn history(numbers: &[u64], current: Option<u64>) -> History {
        let revisions = numbers
            .iter()
            .map(|&number| Revision {
                number,
                created_at: None,
                template: json!({"spec": {"containers": [{"name": "c", "image": format!("i:{number}")}]}}),
                change_cause: None,
                earlier_numbers: Vec::new(),
                object: format!("a-{number}"),
                pods: None,
                annotations: BTreeMap::new(),
            })
            .collect();
        let current = current.map_or(Current::Unknown, Current::Number);
        History::new(WorkloadKind::Deployment, "ns", "a", revisions, current)
    }

    fn check(numbers: &[u64], current: Option<u64>, spec: &str, expect: Result<u64, &str>) {
        let got = spec
            .parse()
            .and_then(|spec| resolve_revision(&history(numbers, current), spec))
            .map_err(|e| e.to_string());
        assert_eq!(got, expect.map_err(String::from), "{spec} of {numbers:?}");
    }

    #[test]
    fn numbers_are_taken_as_given() {
        check(&[1, 2, 3], Some(3), "2", Ok(2));
        // Whether 9 exists is the history's to say, with the list of those that do.
        check(&[1, 2, 3], Some(3), "9", Ok(9));
    }

    #[test]
    fn counts_back_over_existing_revisions() {
        check(&[1, 2, 3], Some(3), "-1", Ok(2));
        check(&[1, 2, 3], Some(3), "-2", Ok(1));
        // Pruned revisions are not counted: -1 is the one before that still exists.
        check(&[2, 5, 7, 9], Some(9), "-1", Ok(7));
        check(&[2, 5, 7, 9], Some(9), "-3", Ok(2));
        // After a rollback the current revision need not be the newest.
        check(&[1, 2, 3, 4], Some(2), "-1", Ok(1));
    }

    #[test]
    fn too_far_back_names_what_exists() {
        check(
            &[1, 2, 3],
            Some(3),
            "-3",
            Err(
                "revision -3 of deployment.apps/a does not exist: revision 3 is current and only \
                 2 revisions exist before it (revisions 1, 2, 3)",
            ),
        );
        check(
            &[4],
            Some(4),
            "-1",
            Err(
                "revision -1 of deployment.apps/a does not exist: revision 4 is current and only \
                 0 revisions exist before it (revisions 4)",
            ),
        );
        check(
            &[1, 2],
            None,
            "-1",
            Err(
                "deployment.apps/a has no current revision to count back from: the controller \
                 has not rolled out its template yet",
            ),
        );
    }

    #[test]
    fn refuses_what_is_no_revision() {
        for bad in [
            "0",
            "-0",
            "",
            "-",
            "two",
            "1.5",
            "+1",
            "--1",
            "99999999999999999999",
        ] {
            let err = bad.parse::<RevisionSpec>().unwrap_err();
            assert_eq!(err, SelectError::Malformed(bad.to_owned()), "{bad}");
        }
        assert_eq!(
            "-2".parse::<RevisionSpec>().map(|s| s.to_string()),
            Ok("-2".into())
        );
    }
}
