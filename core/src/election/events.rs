//! What an election tells its handler, and the one thread per election that
//! runs the handler: off the runtime and off the renewal path, so that a
//! slow, blocking or panicking handler delays later events of its own
//! election but never a renewal.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// Why a leadership ended.
///
/// Exhaustive on purpose (like [`ErrorKind`](crate::ErrorKind)): the doors
/// match it without a catch-all arm, so a new reason cannot be swallowed by
/// one of them; adding one is a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokeReason {
    /// Renewals could not reach a quorum before the step-down point.
    LostQuorum,
    /// A quorum says the lock is no longer ours.
    TakenOver,
    /// [`Election::resign`](super::Election::resign) was called.
    Resigned,
    /// The election was stopped or dropped.
    Stopped,
}

impl std::fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RevokeReason::LostQuorum => "lost quorum",
            RevokeReason::TakenOver => "taken over",
            RevokeReason::Resigned => "resigned",
            RevokeReason::Stopped => "stopped",
        })
    }
}

/// What an election tells its handler. Exhaustive on purpose, as
/// [`RevokeReason`]. (Not `PartialEq`: a term's token has no equality.)
#[derive(Debug, Clone)]
pub enum ElectionEvent {
    /// This candidate leads from `at` for `term` (the fencing token).
    /// `term_token` is cancelled when this term ends, before the `Revoked`
    /// of the term is sent and before `is_leader` turns false (but for a
    /// runtime late by more than the term notice, see docs/election.md):
    /// scope the leader's work with it, like client-go's
    /// `OnStartedLeading(ctx)`.
    Elected {
        term: u64,
        at: std::time::Instant,
        term_token: CancellationToken,
    },
    /// This candidate stopped leading at `at` (`is_leader` was false from then).
    Revoked {
        term: u64,
        reason: RevokeReason,
        at: std::time::Instant,
    },
    /// The leader this candidate observes changed (None: none known).
    LeaderChanged { leader: Option<String> },
}

/// The callback type an election runs on its event thread.
pub type Handler = Box<dyn FnMut(&ElectionEvent) + Send + 'static>;

/// The campaign's end of the queue to the event thread; the thread ends
/// once this is dropped and the events already queued were handled.
pub(super) struct Events(mpsc::Sender<ElectionEvent>);

impl Events {
    pub(super) fn send(&self, event: ElectionEvent) {
        // Fails only when the thread is gone, and then nobody is listening.
        let _ = self.0.send(event);
    }
}

/// The handle's view of the event thread.
pub(super) struct EventThread {
    state: Arc<ThreadState>,
    /// Turns true once the handler was dropped.
    done: watch::Receiver<bool>,
}

/// What the event thread tells the handle while it runs.
#[derive(Default)]
struct ThreadState {
    id: OnceLock<ThreadId>,
    /// When the handler call now running began (None: idle).
    busy_since: Mutex<Option<Instant>>,
}

impl EventThread {
    /// Starts the thread that runs `handler` on every event sent through
    /// the returned `Events`, in order, and drops it there at the end.
    pub(super) fn spawn(resource: &str, handler: Handler) -> Result<(EventThread, Events)> {
        let (tx, rx) = mpsc::channel();
        let (done_tx, done) = watch::channel(false);
        let state = Arc::new(ThreadState::default());
        let thread_state = state.clone();
        let resource = resource.to_string();
        std::thread::Builder::new()
            .name("redlead-events".into())
            .spawn(move || {
                thread_state.run(&resource, rx, handler);
                let _ = done_tx.send(true);
            })
            .map_err(|e| Error::Internal(format!("cannot start the event thread: {e}")))?;
        Ok((EventThread { state, done }, Events(tx)))
    }

    /// True when called on this thread (from inside the handler).
    pub(super) fn is_current(&self) -> bool {
        self.state.id.get() == Some(&std::thread::current().id())
    }

    /// True while a handler call has been running for longer than `bound`.
    pub(super) fn handler_busy_longer_than(&self, bound: Duration) -> bool {
        self.state
            .busy_since
            .lock()
            .unwrap()
            .is_some_and(|t| t.elapsed() > bound)
    }

    /// Waits at most `bound` for the thread to finish (the handler dropped);
    /// false when the bound ran out first.
    pub(super) async fn finished_within(&self, bound: Duration) -> bool {
        let mut done = self.done.clone();
        tokio::time::timeout(bound, async { done.wait_for(|d| *d).await.is_ok() })
            .await
            .is_ok()
    }
}

impl ThreadState {
    fn run(&self, resource: &str, events: mpsc::Receiver<ElectionEvent>, mut handler: Handler) {
        let _ = self.id.set(std::thread::current().id());
        let busy = |since| *self.busy_since.lock().unwrap_or_else(|p| p.into_inner()) = since;
        while let Ok(ev) = events.recv() {
            busy(Some(Instant::now()));
            if catch_unwind(AssertUnwindSafe(|| handler(&ev))).is_err() {
                tracing::error!(resource = %resource, ?ev, "election event handler panicked; event dropped");
            }
            busy(None);
        }
        if catch_unwind(AssertUnwindSafe(move || drop(handler))).is_err() {
            tracing::error!(resource = %resource, "election event handler panicked while dropped");
        }
    }
}
