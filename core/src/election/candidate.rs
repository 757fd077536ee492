//! What one candidate's handle and its campaign task share.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::ElectionConfig;
use super::handover::Handover;
use super::leadership::Leadership;
use super::state::StatePublisher;
use crate::fork::Origin;
use crate::redlock::Redlock;

pub(super) struct Candidate {
    pub(super) client: Redlock,
    pub(super) resource: String,
    pub(super) id: String,
    pub(super) config: ElectionConfig,
    /// How long before its validity ends a leader steps down.
    pub(super) margin: Duration,
    /// Set by the leader's term, read by the handle.
    pub(super) leading: Mutex<Option<Leadership>>,
    /// The leader id the campaign last observed.
    pub(super) observed: Mutex<Option<String>>,
    /// Leading or not, the term and the observed leader, for watchers.
    pub(super) state: StatePublisher,
    /// How many times the campaign saw the lock's value change hands.
    pub(super) transitions: AtomicU64,
    /// Cancelled by stop or drop: the campaign and the watchers end.
    pub(super) stop: CancellationToken,
    /// The handle asks the leader to resign...
    pub(super) resign_request: Notify,
    /// ...and the leader answers once its release was announced.
    pub(super) resigned: Notify,
    pub(super) handover: Arc<Handover>,
    /// Set by the crash test hook: the campaign ends as a crash would (no
    /// release, no events).
    pub(super) crashed: AtomicBool,
    pub(super) origin: Origin,
}

impl Candidate {
    /// A candidate with a checked `config`.
    pub(super) fn new(
        client: &Redlock,
        resource: &str,
        id: &str,
        config: ElectionConfig,
    ) -> Candidate {
        let margin = config.step_down_margin(client.config().node_timeout);
        Candidate {
            client: client.clone(),
            resource: resource.to_string(),
            id: id.to_string(),
            config,
            margin,
            leading: Mutex::new(None),
            observed: Mutex::new(None),
            state: StatePublisher::new(),
            transitions: AtomicU64::new(0),
            stop: CancellationToken::new(),
            resign_request: Notify::new(),
            resigned: Notify::new(),
            handover: Arc::new(Handover::new(id, client.quorum().size())),
            crashed: AtomicBool::new(false),
            origin: Origin::here(),
        }
    }

    /// The pub/sub channel of the resource's resign announcements.
    pub(super) fn resign_channel(&self) -> String {
        self.client
            .config()
            .key_format
            .resign_channel(&self.resource)
    }

    /// The current leadership: set, before its step-down point, and in the
    /// process that won it.
    pub(super) fn leadership(&self) -> Option<Leadership> {
        if self.origin.forked() {
            return None;
        }
        let l = self.leading.lock().unwrap().clone();
        l.filter(|l| l.is_current(Instant::now()))
    }

    /// Ends the current term, if any: its token is cancelled first (before
    /// anything else is told), then it is unpublished. Returns it.
    pub(super) fn end_term(&self) -> Option<Leadership> {
        let ended = self
            .leading
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(l) = &ended {
            l.token.cancel();
        }
        self.state.revoked();
        ended
    }

    pub(super) fn is_leader(&self) -> bool {
        self.leadership().is_some()
    }
}
