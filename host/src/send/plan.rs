//! The stage plan and the gates between stages: pure arithmetic over journal counts.
//!
//! `stages = [1, 10, 100, "all"]` are cumulative: stage 1 ends when 1 recipient has been dealt
//! with, stage 2 at 10, and so on. A recipient is dealt with once it is sent, failed or
//! ambiguous; pending and in-flight ones are not.

use crate::campaign::Stage;

/// Absolute cumulative targets for a list of `total` recipients (duplicates after capping at
/// `total` are dropped; the last target is always `total`).
pub fn targets(stages: &[Stage], total: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for stage in stages {
        let t = match stage {
            Stage::Count(n) => (*n as usize).min(total),
            Stage::All => total,
        };
        if out.last() != Some(&t) && t > 0 {
            out.push(t);
        }
    }
    if out.last() != Some(&total) {
        out.push(total);
    }
    out
}

/// The 1-based number of the stage that `processed` recipients fall in, and its target; `None`
/// when every stage is done.
pub fn next_stage(targets: &[usize], processed: usize) -> Option<(usize, usize)> {
    targets
        .iter()
        .enumerate()
        .find(|(_, t)| **t > processed)
        .map(|(i, t)| (i + 1, *t))
}

/// The failure-rate gate: whether a stage's permanent failures so far exceed the ceiling.
/// `attempted` is how many of the stage's recipients have a final outcome.
pub fn gate_tripped(permanent_failures: usize, attempted: usize, max_failure_rate: f64) -> bool {
    attempted > 0 && permanent_failures as f64 / attempted as f64 > max_failure_rate
}

/// Whether a stage of `size` recipients is certain to trip the gate already, so sending the
/// rest of it would only add failures: more permanent failures than the whole stage may have.
pub fn gate_certain(permanent_failures: usize, size: usize, max_failure_rate: f64) -> bool {
    permanent_failures as f64 > max_failure_rate * size as f64
        && permanent_failures >= GATE_MIN_FAILURES
}

/// A single bounce in a tiny stage is not enough to stop mid-stage; the end-of-stage gate
/// still judges it.
const GATE_MIN_FAILURES: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(stages: &[u64], all: bool) -> Vec<Stage> {
        let mut v: Vec<Stage> = stages.iter().map(|n| Stage::Count(*n)).collect();
        if all {
            v.push(Stage::All);
        }
        v
    }

    #[test]
    fn targets_are_cumulative_and_capped() {
        assert_eq!(
            targets(&plan(&[1, 10, 100, 1000], true), 383),
            vec![1, 10, 100, 383]
        );
        assert_eq!(targets(&plan(&[1, 10], false), 5), vec![1, 5]);
        assert_eq!(targets(&plan(&[1, 10], false), 50), vec![1, 10, 50]);
        assert_eq!(targets(&plan(&[], true), 3), vec![3]);
    }

    #[test]
    fn next_stage_follows_processed_count() {
        let t = vec![1, 10, 100];
        assert_eq!(next_stage(&t, 0), Some((1, 1)));
        assert_eq!(next_stage(&t, 1), Some((2, 10)));
        assert_eq!(next_stage(&t, 9), Some((2, 10)));
        assert_eq!(next_stage(&t, 100), None);
    }

    #[test]
    fn gates() {
        assert!(!gate_tripped(0, 0, 0.05));
        assert!(!gate_tripped(5, 100, 0.05));
        assert!(gate_tripped(6, 100, 0.05));
        assert!(!gate_certain(2, 10, 0.05));
        assert!(gate_certain(3, 10, 0.05));
        assert!(!gate_certain(5, 100, 0.05));
    }
}
