//! Where the quorum is counted.

use crate::error::{NodeOutcome, Outcomes};

/// Majority of N independent nodes: N/2 + 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    nodes: usize,
}

/// What a set of outcomes decides, as early as it can be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At least a quorum said ok.
    Reached,
    /// Too many nodes said no or failed: a quorum of ok can no longer happen.
    Impossible,
    /// Still waiting for answers that could go either way.
    Open,
}

impl Quorum {
    pub fn new(nodes: usize) -> Quorum {
        Quorum { nodes }
    }

    pub fn nodes(&self) -> usize {
        self.nodes
    }

    pub fn size(&self) -> usize {
        self.nodes / 2 + 1
    }

    /// `oks` ok answers and `fails` other settled answers so far.
    pub fn verdict(&self, oks: usize, fails: usize) -> Verdict {
        if oks >= self.size() {
            Verdict::Reached
        } else if fails > self.nodes - self.size() {
            Verdict::Impossible
        } else {
            Verdict::Open
        }
    }

    /// True when fewer than a quorum of nodes answered at all, so a failure
    /// is a reachability problem rather than contention.
    pub fn unreachable(&self, outcomes: &Outcomes) -> bool {
        outcomes.count(NodeOutcome::is_answer) < self.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_sizes() {
        assert_eq!(Quorum::new(1).size(), 1);
        assert_eq!(Quorum::new(2).size(), 2);
        assert_eq!(Quorum::new(3).size(), 2);
        assert_eq!(Quorum::new(5).size(), 3);
        assert_eq!(Quorum::new(6).size(), 4);
    }

    #[test]
    fn verdict_decides_as_early_as_possible() {
        let q = Quorum::new(5);
        assert_eq!(q.verdict(3, 0), Verdict::Reached);
        assert_eq!(q.verdict(2, 2), Verdict::Open);
        assert_eq!(q.verdict(2, 3), Verdict::Impossible);
        assert_eq!(q.verdict(0, 3), Verdict::Impossible);
    }
}
