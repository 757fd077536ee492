//! [`Election`]: what the caller holds. It starts the event thread, the
//! resign watchers and the campaign, answers from the shared state without a
//! network call (but for `leader`), and stops them.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::Stream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::campaign::campaign;
use super::candidate::Candidate;
use super::config::ElectionConfig;
use super::events::{ElectionEvent, EventThread};
use super::state::LeadershipState;
use crate::error::{Error, Result};
use crate::listener::Listener;
use crate::redlock::Redlock;
use crate::validate;

/// A candidate in a leader election. See the module docs for the guarantees.
pub struct Election {
    candidate: Arc<Candidate>,
    campaign: Mutex<Option<JoinHandle<()>>>,
    /// The resign announcements, heard on every node.
    listener: Listener,
    events: EventThread,
}

impl Election {
    /// Starts campaigning for `resource` as `id` (UTF-8, 1..=256 bytes, no NUL).
    /// Must be called within the tokio runtime of `client`. The handler runs
    /// on a dedicated thread; a panic in it is caught and logged.
    pub fn start(
        client: &Redlock,
        resource: &str,
        id: &str,
        config: ElectionConfig,
        handler: impl FnMut(&ElectionEvent) + Send + 'static,
    ) -> Result<Election> {
        validate::resource(resource)?;
        validate::owner(id)?;
        config.validate(client.config())?;
        let (events, sender) = EventThread::spawn(resource, Box::new(handler))?;
        let candidate = Arc::new(Candidate::new(client, resource, id, config));
        let listener = candidate
            .handover
            .watch(client, &candidate.resign_channel());
        let campaign = client
            .nodes()
            .runtime()
            .spawn(campaign(candidate.clone(), sender));
        Ok(Election {
            candidate,
            campaign: Mutex::new(Some(campaign)),
            listener,
            events,
        })
    }

    pub fn id(&self) -> &str {
        &self.candidate.id
    }

    pub fn resource(&self) -> &str {
        &self.candidate.resource
    }

    /// True while this candidate leads: elected, and the step-down instant
    /// (validity end - margin) not reached. Computed from the clock, so it turns
    /// false on time even if the renewal task is delayed.
    pub fn is_leader(&self) -> bool {
        self.candidate.is_leader()
    }

    /// The current term (fencing token) while leading.
    pub fn term(&self) -> Option<u64> {
        self.candidate.leadership().map(|l| l.term)
    }

    /// The token of the current term while leading: cancelled when the term
    /// ends (the same token `ElectionEvent::Elected` carries). None when not
    /// leading.
    pub fn term_token(&self) -> Option<CancellationToken> {
        self.candidate.leadership().map(|l| l.token)
    }

    /// The election's state (leading, term, observed leader) as a `watch`:
    /// `borrow()` for now, `changed().await` for the next change. The
    /// campaign publishes each change; see [`LeadershipState`] for how it
    /// relates to [`is_leader`](Election::is_leader).
    pub fn state(&self) -> watch::Receiver<LeadershipState> {
        self.candidate.state.subscribe()
    }

    /// The state now, then each change, as a `Stream` (changes that come
    /// faster than they are read are coalesced to the latest). Ends once the
    /// election stopped and its handle was dropped.
    pub fn states(&self) -> impl Stream<Item = LeadershipState> + Send + 'static {
        futures::stream::unfold((self.state(), true), |(mut rx, first)| async move {
            if !first {
                rx.changed().await.ok()?;
            }
            let now = rx.borrow_and_update().clone();
            Some((now, (rx, false)))
        })
    }

    /// The leader id this candidate last observed (no network call).
    pub fn observed_leader(&self) -> Option<String> {
        self.candidate.observed.lock().unwrap().clone()
    }

    /// Asks the nodes who leads now: the id in the value a quorum holds.
    pub async fn leader(&self) -> Result<Option<String>> {
        self.candidate.client.holder(&self.candidate.resource).await
    }

    /// How many times this candidate saw leadership change hands (a new
    /// term of any candidate, including its own), since it started.
    pub fn transitions(&self) -> u64 {
        self.candidate.transitions.load(Ordering::Relaxed)
    }

    /// False when the campaign is stuck: it still holds leadership more than
    /// one renew interval past its step-down point (it should have renewed or
    /// stepped down by then; `is_leader()` already says false), or it ended
    /// without being stopped. Like client-go's healthz adaptor: wire it into a
    /// liveness probe. A leader that fails to renew and steps down on time is
    /// healthy: that is the fail-safe working.
    ///
    /// Also false while a handler call has been running for longer than
    /// `stop_timeout` (a blocked handler delays every later event and makes
    /// [`stop`](Election::stop) time out), and in a forked child.
    pub fn is_healthy(&self) -> bool {
        let c = &self.candidate;
        if c.origin.forked() {
            return false;
        }
        if self.events.handler_busy_longer_than(c.config.stop_timeout) {
            return false;
        }
        let finished = self
            .campaign
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|h| h.is_finished());
        if finished && !c.stop.is_cancelled() {
            return false;
        }
        match c.leading.lock().unwrap().as_ref() {
            Some(l) => !l.is_overdue(Instant::now(), c.config.renew_interval()),
            None => true,
        }
    }

    /// Releases leadership now and tells the followers (they take over within
    /// milliseconds). Returns false, doing nothing, when not leading. The
    /// candidate waits two retry intervals plus the jitter before campaigning
    /// again, so that any live follower gets the lock first.
    pub async fn resign(&self) -> Result<bool> {
        let c = &self.candidate;
        c.origin.check("election")?;
        if c.stop.is_cancelled() {
            return Err(Error::Closed("election stopped".into()));
        }
        if !self.is_leader() {
            return Ok(false);
        }
        let resigned = c.resigned.notified();
        tokio::pin!(resigned);
        resigned.as_mut().enable();
        c.resign_request.notify_one();
        tokio::select! {
            _ = resigned => Ok(true),
            // The campaign ended leadership on its own meanwhile.
            _ = tokio::time::sleep(c.config.ttl) => Ok(!self.is_leader()),
        }
    }

    /// True on this election's event thread (where stopping would deadlock).
    pub fn is_callback_thread(&self) -> bool {
        self.events.is_current()
    }

    /// Stops campaigning, resigns if leading (the release and the
    /// announcement are sent before this returns), and returns once no
    /// callback runs any more and the handler was dropped. Idempotent. From
    /// inside a callback it returns `WrongThread` instead of deadlocking.
    ///
    /// A handler that blocks does not make it wait forever: after
    /// `stop_timeout` it returns `Timeout`; leadership has ended and the lock
    /// is released by then, and the handler is dropped on its own thread when
    /// its call returns. In a forked child it returns `Forked` (the parent's
    /// campaign is not here to stop).
    pub async fn stop(&self) -> Result<()> {
        self.candidate.origin.check("election")?;
        if self.is_callback_thread() {
            return Err(Error::WrongThread(
                "Election::stop called from its own event handler".into(),
            ));
        }
        self.candidate.stop.cancel();
        self.listener.stop();
        let campaign = self.campaign.lock().unwrap().take();
        if let Some(c) = campaign {
            let _ = c.await;
        }
        let bound = self.candidate.config.stop_timeout;
        if self.events.finished_within(bound).await {
            return Ok(());
        }
        Err(Error::Timeout(format!(
            "election stopped, but its event handler is still running after {bound:?}; it will be dropped when it returns"
        )))
    }

    /// Test hook: ends the campaign as a crash would (no release, no events).
    #[doc(hidden)]
    pub fn crash(&self) {
        self.candidate.crashed.store(true, Ordering::SeqCst);
        if let Some(c) = self.campaign.lock().unwrap().take() {
            c.abort();
        }
        self.listener.stop();
        self.candidate.end_term();
    }
}

impl Drop for Election {
    fn drop(&mut self) {
        // The campaign sees the token, resigns if leading and ends; the event
        // thread ends when the campaign drops its sender.
        self.candidate.stop.cancel();
    }
}
