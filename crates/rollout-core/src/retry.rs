//! When to plan a conditional write again after the server refused it for a conflict.
//!
//! A conflict only means someone else wrote the object since it was read. Their write matters
//! only when it changed the spec (the generation): status updates by the controller during a
//! rollout just cost a re-read. Someone who keeps changing the spec wins: after a few such
//! changes the writer gives up rather than overwrite them.

/// The decision after each read of the object about to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Plan the write from this read.
    Plan,
    /// Plan again: someone else changed the spec since the last read.
    Replan,
    /// Stop: the spec kept changing, or the object never settled; says which limit was hit.
    GiveUp(Limit),
}

/// The limit that made a write give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Someone else changed the spec this many times.
    SpecChanges(usize),
    /// The object was read this many times without the write going through.
    Reads(usize),
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::SpecChanges(n) => write!(f, "its spec changed {n} times"),
            Limit::Reads(n) => write!(f, "{n} reads, each outdated before the write"),
        }
    }
}

/// Counts reads and spec changes across the attempts of one write.
#[derive(Debug, Clone)]
pub struct ConflictRetry {
    /// Spec changes by someone else before giving up.
    pub attempts: usize,
    /// Reads of any kind before giving up.
    max_reads: usize,
    reads: usize,
    spec_changes: usize,
    last_generation: Option<Option<i64>>,
}

impl ConflictRetry {
    pub fn new(attempts: usize, max_reads: usize) -> Self {
        ConflictRetry {
            attempts,
            max_reads,
            reads: 0,
            spec_changes: 0,
            last_generation: None,
        }
    }

    /// Takes the generation of a fresh read and says what to do with it.
    pub fn observe(&mut self, generation: Option<i64>) -> Retry {
        self.reads += 1;
        if self.reads > self.max_reads {
            return Retry::GiveUp(Limit::Reads(self.max_reads));
        }
        let changed = self.last_generation.is_some_and(|g| g != generation);
        self.last_generation = Some(generation);
        if !changed {
            return Retry::Plan;
        }
        self.spec_changes += 1;
        if self.spec_changes >= self.attempts {
            Retry::GiveUp(Limit::SpecChanges(self.spec_changes))
        } else {
            Retry::Replan
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisions(generations: &[i64]) -> Vec<Retry> {
        let mut retry = ConflictRetry::new(3, 10);
        generations
            .iter()
            .map(|g| retry.observe(Some(*g)))
            .collect()
    }

    #[test]
    fn status_updates_only_cost_a_read() {
        use Retry::*;
        assert_eq!(decisions(&[4, 4, 4]), [Plan, Plan, Plan]);
    }

    #[test]
    fn spec_changes_are_planned_on_until_the_third() {
        use Retry::*;
        assert_eq!(
            decisions(&[4, 5, 5, 6, 7]),
            [Plan, Replan, Plan, Replan, GiveUp(Limit::SpecChanges(3))]
        );
    }

    #[test]
    fn an_object_that_never_settles_is_given_up() {
        let mut retry = ConflictRetry::new(3, 2);
        assert_eq!(retry.observe(Some(1)), Retry::Plan);
        assert_eq!(retry.observe(Some(1)), Retry::Plan);
        assert_eq!(retry.observe(Some(1)), Retry::GiveUp(Limit::Reads(2)));
    }
}
