//! Fencing tokens: numbers that grow with every successful fenced acquisition
//! of a resource, so that a downstream system can reject a stale holder.
//!
//! Round 1 (`Node::acquire_fenced`) takes the key and reads each node's
//! counter in one pipeline; the token is the maximum over the quorum that
//! granted the key, plus one. Round 2 (`Node::raise_fence`, `ZADD GT`) raises
//! the counters of a quorum to at least the token. The acquisition succeeds
//! only if round 2 reaches a quorum within the validity.
//! Any later acquisition's round-1 quorum meets this round-2 quorum in at least
//! one node, whose counter is already >= the token: so the later token is
//! strictly greater. docs/fencing.md has the whole argument and its limits.

use std::fmt;

/// A fencing token: compare it, pass it downstream, persist it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(pub u64);

impl FencingToken {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
