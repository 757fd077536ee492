//! Leader election on fenced locks.
//!
//! A candidate campaigns by trying a fenced lock on the resource whose value
//! carries its id. The winner leads for a term numbered by the lock's fencing
//! token, renews by itself, and steps down *before* its validity ends when it
//! cannot renew: [`Election::is_leader`] is computed from the step-down instant,
//! so even a task that runs late never reports a leadership past it. Followers
//! retry on an interval with jitter and wake at once when a leader resigns (it
//! publishes on every node after releasing).
//!
//! Events are delivered in order on one thread per election, named
//! `redlead-events`, never on a runtime worker and never on the renewal path:
//! a slow, blocking or panicking handler delays other events of the same
//! election but never a renewal. Every `Elected` is followed by a `Revoked`
//! before the next `Elected`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{check_resource, positive};
use crate::error::{Error, NodeOutcome, Result};
use crate::lock::Lock;
use crate::redlock::{check_owner, majority, owner_of, LockOptions, Redlock};

/// Timing of an election. Start from `ElectionConfig::default()` or
/// [`ElectionConfig::with_ttl`]; validated by [`Election::start`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ElectionConfig {
    /// Lease length: how long a crashed leader blocks the others at most.
    pub ttl: Duration,
    /// Time between renewals; default ttl / 3.
    pub renew_interval: Option<Duration>,
    /// Time between a follower's attempts (plus jitter).
    pub retry_interval: Duration,
    /// Random extra delay, uniform in [0, retry_jitter], per follower attempt.
    pub retry_jitter: Duration,
    /// How long before the end of its validity a leader that could not renew
    /// steps down; default max(ttl / 10, 2 x node_timeout).
    pub step_down_margin: Option<Duration>,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig::with_ttl(Duration::from_secs(5))
    }
}

impl ElectionConfig {
    /// Defaults scaled to a ttl: renew every ttl/3, retry every ttl/5 with
    /// ttl/50 of jitter.
    pub fn with_ttl(ttl: Duration) -> ElectionConfig {
        ElectionConfig {
            ttl,
            renew_interval: None,
            retry_interval: ttl / 5,
            retry_jitter: ttl / 50,
            step_down_margin: None,
        }
    }

    pub fn renew_interval(&self) -> Duration {
        self.renew_interval.unwrap_or(self.ttl / 3)
    }

    pub fn step_down_margin(&self, node_timeout: Duration) -> Duration {
        self.step_down_margin
            .unwrap_or((self.ttl / 10).max(node_timeout * 2))
    }

    fn validate(&self, client: &Redlock) -> Result<()> {
        positive("ttl", self.ttl)?;
        client.config().check_ttl(self.ttl)?;
        let renew = self.renew_interval();
        positive("renew_interval", renew)?;
        positive("retry_interval", self.retry_interval)?;
        crate::config::bounded("retry_jitter", self.retry_jitter)?;
        let node_timeout = client.config().node_timeout;
        let margin = self.step_down_margin(node_timeout);
        positive("step_down_margin", margin)?;
        if renew >= self.ttl {
            return Err(Error::invalid(format!(
                "renew_interval ({renew:?}) must be shorter than ttl ({:?})",
                self.ttl
            )));
        }
        if renew + margin >= self.ttl {
            return Err(Error::invalid(format!(
                "renew_interval ({renew:?}) + step_down_margin ({margin:?}) must be shorter than ttl ({:?}), or the leader steps down before its first renewal",
                self.ttl
            )));
        }
        if node_timeout * 2 > renew {
            return Err(Error::invalid(format!(
                "node_timeout ({node_timeout:?}) must be at most half the renew_interval ({renew:?})"
            )));
        }
        if node_timeout * 2 > margin {
            return Err(Error::invalid(format!(
                "step_down_margin ({margin:?}) must be at least 2 x node_timeout ({node_timeout:?})"
            )));
        }
        Ok(())
    }
}

/// Why a leadership ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevokeReason {
    /// Renewals could not reach a quorum before the step-down point.
    LostQuorum,
    /// A quorum says the lock is no longer ours.
    TakenOver,
    /// [`Election::resign`] was called.
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

/// What an election tells its handler.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ElectionEvent {
    /// This candidate leads from `at` for `term` (the fencing token).
    Elected { term: u64, at: std::time::Instant },
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

#[derive(Debug, Clone, Copy)]
struct Leadership {
    term: u64,
    since: Instant,
    step_down_at: Instant,
}

struct Inner {
    client: Redlock,
    resource: String,
    id: String,
    config: ElectionConfig,
    margin: Duration,
    leading: Mutex<Option<Leadership>>,
    observed: Mutex<Option<String>>,
    transitions: AtomicU64,
    stop: CancellationToken,
    resign_request: Notify,
    resigned: Notify,
    announced: Arc<Notify>,
    crashed: std::sync::atomic::AtomicBool,
    event_thread: OnceLock<ThreadId>,
}

/// A candidate in a leader election. See the module docs for the guarantees.
pub struct Election {
    inner: Arc<Inner>,
    campaign: Mutex<Option<JoinHandle<()>>>,
    watchers: Vec<JoinHandle<()>>,
    events_done: watch::Receiver<bool>,
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
        check_resource(resource)?;
        check_owner(id)?;
        config.validate(client)?;
        let margin = config.step_down_margin(client.config().node_timeout);
        let inner = Arc::new(Inner {
            client: client.clone(),
            resource: resource.to_string(),
            id: id.to_string(),
            config,
            margin,
            leading: Mutex::new(None),
            observed: Mutex::new(None),
            transitions: AtomicU64::new(0),
            stop: CancellationToken::new(),
            resign_request: Notify::new(),
            resigned: Notify::new(),
            announced: Arc::new(Notify::new()),
            crashed: std::sync::atomic::AtomicBool::new(false),
            event_thread: OnceLock::new(),
        });
        let (tx, rx) = std::sync::mpsc::channel::<ElectionEvent>();
        let (done_tx, events_done) = watch::channel(false);
        let mut handler: Handler = Box::new(handler);
        let thread_inner = inner.clone();
        let resource_name = inner.resource.clone();
        std::thread::Builder::new()
            .name("redlead-events".into())
            .spawn(move || {
                let _ = thread_inner.event_thread.set(std::thread::current().id());
                drop(thread_inner);
                while let Ok(ev) = rx.recv() {
                    if catch_unwind(AssertUnwindSafe(|| handler(&ev))).is_err() {
                        tracing::error!(resource = %resource_name, ?ev, "election event handler panicked; event dropped");
                    }
                }
                if catch_unwind(AssertUnwindSafe(move || drop(handler))).is_err() {
                    tracing::error!(resource = %resource_name, "election event handler panicked while dropped");
                }
                let _ = done_tx.send(true);
            })
            .map_err(|e| Error::Internal(format!("cannot start the event thread: {e}")))?;

        let runtime = client.shared.runtime.clone();
        let channel = client.config().key_format.resign_channel(resource);
        let watchers = client
            .shared
            .nodes
            .iter()
            .map(|node| {
                let (node, channel, announced, stop) = (node.clone(), channel.clone(), inner.announced.clone(), inner.stop.clone());
                let own_id = inner.id.clone();
                runtime.spawn(async move {
                    loop {
                        // Our own resignation must not wake us: the others go first.
                        let watch = node.watch_channel(&channel, |who| {
                            if who != own_id.as_bytes() {
                                announced.notify_one()
                            }
                        });
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            r = watch => if let Err(e) = r {
                                tracing::trace!(node = %node.name, error = %e, "resign watch failed; reconnecting");
                            }
                        }
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                        }
                    }
                })
            })
            .collect();
        let campaign = runtime.spawn(campaign(inner.clone(), tx));
        Ok(Election {
            inner,
            campaign: Mutex::new(Some(campaign)),
            watchers,
            events_done,
        })
    }

    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// True while this candidate leads: elected, and the step-down instant
    /// (validity end - margin) not reached. Computed from the clock, so it turns
    /// false on time even if the renewal task is delayed.
    pub fn is_leader(&self) -> bool {
        self.inner.is_leader()
    }

    /// The current term (fencing token) while leading.
    pub fn term(&self) -> Option<u64> {
        let l = *self.inner.leading.lock().unwrap();
        l.filter(|l| Instant::now() < l.step_down_at)
            .map(|l| l.term)
    }

    /// The leader id this candidate last observed (no network call).
    pub fn observed_leader(&self) -> Option<String> {
        self.inner.observed.lock().unwrap().clone()
    }

    /// Asks the nodes who leads now: the id in the value a quorum holds.
    pub async fn leader(&self) -> Result<Option<String>> {
        self.inner.client.holder(&self.inner.resource).await
    }

    /// How many times this candidate saw leadership change hands (a new
    /// term of any candidate, including its own), since it started.
    pub fn transitions(&self) -> u64 {
        self.inner.transitions.load(Ordering::Relaxed)
    }

    /// False when the campaign is stuck: it still holds leadership more than
    /// one renew interval past its step-down point (it should have renewed or
    /// stepped down by then; `is_leader()` already says false), or it ended
    /// without being stopped. Like client-go's healthz adaptor: wire it into a
    /// liveness probe. A leader that fails to renew and steps down on time is
    /// healthy: that is the fail-safe working.
    pub fn is_healthy(&self) -> bool {
        let finished = self
            .campaign
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|h| h.is_finished());
        if finished && !self.inner.stop.is_cancelled() {
            return false;
        }
        match *self.inner.leading.lock().unwrap() {
            Some(l) => Instant::now() <= l.step_down_at + self.inner.config.renew_interval(),
            None => true,
        }
    }

    /// Releases leadership now and tells the followers (they take over within
    /// milliseconds). Returns false, doing nothing, when not leading. The
    /// candidate waits two retry intervals plus the jitter before campaigning
    /// again, so that any live follower gets the lock first.
    pub async fn resign(&self) -> Result<bool> {
        if self.inner.stop.is_cancelled() {
            return Err(Error::Closed("election stopped".into()));
        }
        if !self.is_leader() {
            return Ok(false);
        }
        let resigned = self.inner.resigned.notified();
        tokio::pin!(resigned);
        resigned.as_mut().enable();
        self.inner.resign_request.notify_one();
        tokio::select! {
            _ = resigned => Ok(true),
            // The campaign ended leadership on its own meanwhile.
            _ = tokio::time::sleep(self.inner.config.ttl) => Ok(!self.is_leader()),
        }
    }

    /// True on this election's event thread (where stopping would deadlock).
    pub fn is_callback_thread(&self) -> bool {
        self.inner.event_thread.get() == Some(&std::thread::current().id())
    }

    /// Stops campaigning, resigns if leading, and returns once no callback
    /// runs any more and the handler was dropped. Idempotent. From inside a
    /// callback it returns `WrongThread` instead of deadlocking.
    pub async fn stop(&self) -> Result<()> {
        if self.is_callback_thread() {
            return Err(Error::WrongThread(
                "Election::stop called from its own event handler".into(),
            ));
        }
        self.inner.stop.cancel();
        let campaign = self.campaign.lock().unwrap().take();
        if let Some(c) = campaign {
            let _ = c.await;
        }
        let mut done = self.events_done.clone();
        let _ = done.wait_for(|d| *d).await;
        Ok(())
    }

    /// Test hook: ends the campaign as a crash would (no release, no events).
    #[doc(hidden)]
    pub fn crash(&self) {
        self.inner.crashed.store(true, Ordering::SeqCst);
        if let Some(c) = self.campaign.lock().unwrap().take() {
            c.abort();
        }
        for w in &self.watchers {
            w.abort();
        }
        *self.inner.leading.lock().unwrap() = None;
    }
}

impl Drop for Election {
    fn drop(&mut self) {
        // The campaign sees the token, resigns if leading and ends; the event
        // thread ends when the campaign drops its sender.
        self.inner.stop.cancel();
    }
}

impl Inner {
    fn is_leader(&self) -> bool {
        self.leading
            .lock()
            .unwrap()
            .is_some_and(|l| Instant::now() < l.step_down_at)
    }

    fn observe(
        &self,
        value: Option<&str>,
        tx: &std::sync::mpsc::Sender<ElectionEvent>,
        last_value: &mut Option<String>,
    ) {
        if let Some(v) = value {
            if last_value.as_deref() != Some(v) {
                if last_value.is_some() {
                    self.transitions.fetch_add(1, Ordering::Relaxed);
                }
                *last_value = Some(v.to_string());
            }
        }
        let leader = value.and_then(owner_of).map(str::to_string);
        let mut observed = self.observed.lock().unwrap();
        if *observed != leader {
            *observed = leader.clone();
            let _ = tx.send(ElectionEvent::LeaderChanged { leader });
        }
    }
}

async fn campaign(inner: Arc<Inner>, tx: std::sync::mpsc::Sender<ElectionEvent>) {
    let opts = LockOptions::fenced().with_owner(inner.id.clone());
    let q = inner.client.quorum().size();
    let mut last_value: Option<String> = None;
    let mut backoff = false;
    let mut resigned = false;
    loop {
        if resigned {
            // Give the followers the first chance, including one that missed
            // the announcement (not subscribed yet) and is still sleeping a
            // whole retry interval plus jitter.
            let wait = inner.config.retry_interval * 2 + inner.config.retry_jitter;
            tokio::select! {
                _ = inner.stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            resigned = false;
        } else if backoff {
            let jitter = if inner.config.retry_jitter.is_zero() {
                Duration::ZERO
            } else {
                rand::rng().random_range(Duration::ZERO..=inner.config.retry_jitter)
            };
            let wake = inner.announced.notified();
            tokio::select! {
                _ = inner.stop.cancelled() => break,
                _ = tokio::time::sleep(inner.config.retry_interval + jitter) => {}
                _ = wake => {}
            }
        }
        if inner.stop.is_cancelled() {
            break;
        }
        match inner
            .client
            .try_acquire_with(&inner.resource, inner.config.ttl, &opts)
            .await
        {
            Ok(lock) => {
                inner.observe(Some(lock.value()), &tx, &mut last_value);
                let reason = lead(&inner, lock, &tx).await;
                inner.observe(None, &tx, &mut last_value);
                backoff = true;
                resigned = reason == RevokeReason::Resigned;
                if reason == RevokeReason::Stopped {
                    break;
                }
            }
            Err(e) => {
                let holders = e.outcomes().iter().filter_map(|r| match &r.outcome {
                    NodeOutcome::Held(Some(v)) => Some(v.as_str()),
                    _ => None,
                });
                let holder = majority(holders, q).map(str::to_string);
                inner.observe(holder.as_deref(), &tx, &mut last_value);
                if !(e.is_not_acquired() || e.is_quorum_unreachable()) {
                    tracing::warn!(resource = %inner.resource, error = %e, "campaign attempt failed");
                }
                backoff = true;
            }
        }
    }
}

/// The leader's lock; a simulated crash (the test hook) leaves it behind
/// unreleased, as a real crash would.
struct Held<'a> {
    lock: Option<Lock>,
    crashed: &'a std::sync::atomic::AtomicBool,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.crashed.load(Ordering::SeqCst) {
            if let Some(l) = self.lock.take() {
                l.abandon();
            }
        }
    }
}

/// Leads until the lock is lost, resigned or stopped; returns why.
async fn lead(
    inner: &Inner,
    lock: Lock,
    tx: &std::sync::mpsc::Sender<ElectionEvent>,
) -> RevokeReason {
    // resign() only asks a leader, so a request stored before this term
    // began was meant for an earlier one: drop it.
    let _ = futures::FutureExt::now_or_never(inner.resign_request.notified());
    let mut held = Held {
        lock: Some(lock),
        crashed: &inner.crashed,
    };
    let lock = held.lock.as_ref().expect("just set");
    let term = lock.fencing_token().map(|t| t.get()).unwrap_or_default();
    let now = Instant::now();
    let step_down_at = |lock: &Lock| lock.deadline().checked_sub(inner.margin).unwrap_or(now);
    *inner.leading.lock().unwrap() = Some(Leadership {
        term,
        since: now,
        step_down_at: step_down_at(lock),
    });
    tracing::info!(resource = %inner.resource, id = %inner.id, term, "elected");
    let _ = tx.send(ElectionEvent::Elected {
        term,
        at: now.into_std(),
    });

    let renew = inner.config.renew_interval();
    let mut next_renewal = now + renew;
    let reason = loop {
        let deadline = step_down_at(lock);
        tokio::select! {
            biased;
            _ = inner.stop.cancelled() => break RevokeReason::Stopped,
            _ = inner.resign_request.notified() => break RevokeReason::Resigned,
            _ = tokio::time::sleep_until(deadline) => break RevokeReason::LostQuorum,
            _ = tokio::time::sleep_until(next_renewal) => {}
        }
        let result = tokio::select! {
            biased;
            _ = tokio::time::sleep_until(deadline) => break RevokeReason::LostQuorum,
            r = lock.extend(inner.config.ttl) => r,
        };
        match result {
            Ok(_) => {
                let t = Instant::now();
                if let Some(l) = inner.leading.lock().unwrap().as_mut() {
                    l.step_down_at = step_down_at(lock);
                }
                next_renewal = t + renew;
            }
            Err(e) if e.is_lost() => break RevokeReason::TakenOver,
            Err(e) => {
                tracing::debug!(resource = %inner.resource, error = %e, "renewal failed; retrying");
                next_renewal =
                    Instant::now() + (renew / 4).max(inner.client.config().node_timeout * 2);
            }
        }
    };
    // Leadership ends here, before anything else is sent: at the step-down
    // point for LostQuorum (is_leader was already false from then), now for
    // the others.
    let ended = {
        let mut l = inner.leading.lock().unwrap();
        let end = match (*l, reason) {
            (Some(x), RevokeReason::LostQuorum) => x.step_down_at.min(Instant::now()),
            _ => Instant::now(),
        };
        if let Some(x) = *l {
            tracing::info!(resource = %inner.resource, id = %inner.id, term, %reason, held_ms = (end - x.since).as_millis() as u64, "revoked");
        }
        *l = None;
        end
    };
    let _ = tx.send(ElectionEvent::Revoked {
        term,
        reason,
        at: ended.into_std(),
    });
    let lock = held.lock.take().expect("still held");
    match reason {
        RevokeReason::Resigned | RevokeReason::Stopped => {
            let _ = lock.release().await;
            let channel = inner
                .client
                .config()
                .key_format
                .resign_channel(&inner.resource);
            inner.client.publish_all(&channel, &inner.id).await;
            inner.resigned.notify_waiters();
        }
        RevokeReason::LostQuorum | RevokeReason::TakenOver => drop(lock),
    }
    reason
}
