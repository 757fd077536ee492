//! The election's state as a `watch`: leading or not, the term, the leader
//! observed. The campaign publishes each change; callers wait on it without
//! a handler and without polling.

use tokio::sync::watch;

/// What an election knows now, as [`Election::state`](super::Election::state)
/// publishes it.
///
/// A snapshot of what the campaign last published: `is_leader` turns false
/// when the term ends, which the campaign does at its step-down point or
/// before; [`Election::is_leader`](super::Election::is_leader), computed from
/// the clock, is the authority (it is false on time even when the campaign
/// runs late).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeadershipState {
    /// This candidate leads.
    pub is_leader: bool,
    /// The term (fencing token) while this candidate leads.
    pub term: Option<u64>,
    /// The leader id this candidate last observed (None: none known).
    pub leader: Option<String>,
}

/// The campaign's end of the state.
pub(super) struct StatePublisher(watch::Sender<LeadershipState>);

impl StatePublisher {
    pub(super) fn new() -> StatePublisher {
        StatePublisher(watch::Sender::new(LeadershipState::default()))
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<LeadershipState> {
        self.0.subscribe()
    }

    /// This candidate leads `term` from now.
    pub(super) fn elected(&self, term: u64) {
        self.0.send_if_modified(|s| {
            let new = (true, Some(term));
            let changed = (s.is_leader, s.term) != new;
            (s.is_leader, s.term) = new;
            changed
        });
    }

    /// This candidate's term ended.
    pub(super) fn revoked(&self) {
        self.0.send_if_modified(|s| {
            let changed = s.is_leader || s.term.is_some();
            (s.is_leader, s.term) = (false, None);
            changed
        });
    }

    /// The leader observed is now `leader`.
    pub(super) fn observed(&self, leader: &Option<String>) {
        self.0.send_if_modified(|s| {
            let changed = s.leader != *leader;
            s.leader.clone_from(leader);
            changed
        });
    }
}
