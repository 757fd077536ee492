//! What the library reports through the `metrics` facade: acquire latency,
//! every node reply by outcome, lost locks, leadership. Without a recorder
//! installed by the application each call reaches the no-op recorder; the
//! per-reply counter (the hot path) builds no key to get there. Names and labels are
//! listed in docs/metrics.md; keep both in step.

use std::time::Duration;

use crate::election::RevokeReason;
use crate::error::{NodeOutcome, Result};

pub const ACQUIRE_DURATION: &str = "redlead_acquire_duration_seconds";
pub const NODE_REPLIES: &str = "redlead_node_replies_total";
pub const LOCKS_LOST: &str = "redlead_locks_lost_total";
pub const LEADER: &str = "redlead_leader";
pub const LEADERSHIP_CHANGES: &str = "redlead_leadership_changes_total";

/// One acquire call (all its attempts), by how it ended.
pub(crate) fn acquire_finished<T>(took: Duration, fenced: bool, result: &Result<T>) {
    let result = match result {
        Ok(_) => "acquired",
        Err(e) if e.kind() == crate::ErrorKind::NotAcquired => "not_acquired",
        Err(_) => "error",
    };
    let fenced = if fenced { "true" } else { "false" };
    metrics::histogram!(ACQUIRE_DURATION, "result" => result, "fenced" => fenced)
        .record(took.as_secs_f64());
}

/// The keys of one node's reply counter, one per outcome, built once per
/// node: the `counter!` macro would build a key (a label vector and the
/// node's name, two allocations) for every reply, recorder or not.
pub(crate) struct NodeReplyKeys([metrics::Key; 6]);

const OUTCOMES: [&str; 6] = ["ok", "held", "not_held", "error", "timeout", "not_awaited"];

static REPLY_METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl NodeReplyKeys {
    pub(crate) fn new(node: &str) -> NodeReplyKeys {
        let node = metrics::SharedString::from(std::sync::Arc::<str>::from(node));
        NodeReplyKeys(OUTCOMES.map(|outcome| {
            metrics::Key::from_parts(
                NODE_REPLIES,
                vec![
                    metrics::Label::new("node", node.clone()),
                    metrics::Label::new("outcome", outcome),
                ],
            )
        }))
    }
}

/// One reply of one node to any command.
pub(crate) fn node_replied(keys: &NodeReplyKeys, outcome: &NodeOutcome) {
    let i = match outcome {
        NodeOutcome::Ok => 0,
        NodeOutcome::Held(_) => 1,
        NodeOutcome::NotHeld => 2,
        NodeOutcome::Error(_) => 3,
        NodeOutcome::Timeout => 4,
        NodeOutcome::NotAwaited => 5,
    };
    metrics::with_recorder(|r| r.register_counter(&keys.0[i], &REPLY_METADATA).increment(1));
}

/// A held lock became lost (its lost signal fired).
pub(crate) fn lock_lost() {
    metrics::counter!(LOCKS_LOST).increment(1);
}

pub(crate) fn elected(resource: &str, candidate: &str) {
    let (resource, candidate) = (resource.to_string(), candidate.to_string());
    metrics::gauge!(LEADER, "resource" => resource.clone(), "candidate" => candidate.clone())
        .set(1.0);
    metrics::counter!(LEADERSHIP_CHANGES, "resource" => resource, "candidate" => candidate,
        "change" => "elected", "reason" => "")
    .increment(1);
}

pub(crate) fn revoked(resource: &str, candidate: &str, reason: RevokeReason) {
    let (resource, candidate) = (resource.to_string(), candidate.to_string());
    let reason = match reason {
        RevokeReason::LostQuorum => "lost_quorum",
        RevokeReason::TakenOver => "taken_over",
        RevokeReason::Resigned => "resigned",
        RevokeReason::Stopped => "stopped",
    };
    metrics::gauge!(LEADER, "resource" => resource.clone(), "candidate" => candidate.clone())
        .set(0.0);
    metrics::counter!(LEADERSHIP_CHANGES, "resource" => resource, "candidate" => candidate,
        "change" => "revoked", "reason" => reason)
    .increment(1);
}
