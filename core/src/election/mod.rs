//! Leader election on fenced locks.
//!
//! A candidate campaigns by trying a fenced lock on the resource whose value
//! carries its id. The winner leads for a term numbered by the lock's fencing
//! token, renews by itself, and steps down *before* its validity ends when it
//! cannot renew: [`Election::is_leader`] is computed from the step-down instant,
//! so even a task that runs late never reports a leadership past it. Followers
//! retry on an interval with jitter and wake at once when a leader resigns (it
//! publishes on every node, on each node after its release there). Woken
//! followers, and followers whose attempt found the nodes split between
//! contenders with no majority holder, retry a few times after short random
//! delays (Raft's answer to split votes) before falling back to the interval.
//!
//! Events are delivered in order on one thread per election, named
//! `redlead-events`, never on a runtime worker and never on the renewal path:
//! a slow, blocking or panicking handler delays other events of the same
//! election but never a renewal. Every `Elected` is followed by a `Revoked`
//! before the next `Elected`.
//!
//! # Where each part lives
//! - `config`: the timing, its defaults scaled to the ttl, its checks.
//! - `events`: what the handler is told, and the thread that runs it.
//! - `leadership`: one term's step-down point and token, and every question
//!   asked of it.
//! - `state`: the state as a `watch` (leading, term, observed leader).
//! - `candidate`: what the handle and the campaign task share.
//! - `campaign`: the follower's loop: wait, attempt, observe the leader.
//! - `lead`: one term as leader: take office, renew, leave, release.
//! - `handover`: resign announcements, and the watchers that wake followers.
//! - `handle`: [`Election`], what the caller holds.

mod campaign;
mod candidate;
mod config;
mod events;
mod handle;
mod handover;
mod lead;
mod leadership;
mod state;

pub use config::{ElectionConfig, ElectionOverrides};
pub use events::{ElectionEvent, Handler, RevokeReason};
pub use handle::Election;
pub use state::LeadershipState;
