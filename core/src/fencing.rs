//! Fencing tokens: numbers that grow with every successful fenced acquisition
//! of a resource, so that a downstream system can reject a stale holder.
//!
//! Round 1 (`Node::acquire_fenced`) takes the key and reads each node's
//! counter in one pipeline; the token is the maximum over the nodes that
//! granted the key, plus one ([`next_token`]). Round 2 ([`raise`]) raises
//! the counter to at least the token (`ZADD GT`) on the nodes that granted
//! the key, and only there: a raise counts only where our key is, so that a
//! later holder, whose key on that node can only come after ours, reads the
//! counter after the raise. The acquisition succeeds only if a quorum of
//! such raises succeeds and enough validity is left. docs/fencing.md has the
//! whole argument and its limits.

use std::fmt;

use crate::error::NodeOutcome;
use crate::node::{Pending, Reply};
use crate::nodeset::NodeSet;

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

/// One more than the highest counter read on the nodes that granted the key.
pub(crate) fn next_token(round1: &[Option<Reply>]) -> u64 {
    round1
        .iter()
        .flatten()
        .filter(|r| r.outcome == NodeOutcome::Ok)
        .filter_map(|r| r.counter)
        .max()
        .unwrap_or(0)
        + 1
}

/// Round 2: on each node, once its round-1 command settled, raise the counter
/// to `token` if that node granted the key (also when it granted after the
/// quorum was reached). A node that did not grant the key answers with its
/// round-1 outcome and so never counts toward the raise quorum.
pub(crate) fn raise(
    nodes: &NodeSet,
    key: &str,
    fence_key: &str,
    round1: &[Pending],
    token: u64,
) -> Vec<Pending> {
    nodes.send(key, |i, node| {
        let (fence_key, taken) = (fence_key.to_string(), round1[i].clone());
        async move {
            let taken = taken.await;
            if taken.outcome != NodeOutcome::Ok {
                return Reply::of(taken.outcome);
            }
            node.raise_fence(&fence_key, token).await
        }
    })
}
