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

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{check_resource, positive};
use crate::error::{Error, NodeOutcome, Result};
use crate::fork::Origin;
use crate::lock::Lock;
use crate::redlock::{check_owner, majority, owner_of, LockOptions, Redlock};
use crate::{random, validity};

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
    /// steps down; default [`safety_margin`](crate::safety_margin):
    /// max(ttl / 10, 2 x node_timeout), at most ttl / 2.
    pub step_down_margin: Option<Duration>,
    /// How long [`Election::stop`] waits for a handler call still running
    /// (a handler that blocks); after it, stop returns `Timeout` and the
    /// handler is dropped when it returns. Default 5 s.
    pub stop_timeout: Duration,
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
            stop_timeout: Duration::from_secs(5),
        }
    }

    pub fn renew_interval(&self) -> Duration {
        self.renew_interval.unwrap_or(self.ttl / 3)
    }

    pub fn step_down_margin(&self, node_timeout: Duration) -> Duration {
        self.step_down_margin
            .unwrap_or_else(|| validity::safety_margin(self.ttl, node_timeout))
    }

    fn validate(&self, client: &Redlock) -> Result<()> {
        positive("ttl", self.ttl)?;
        client.config().check_ttl(self.ttl)?;
        let renew = self.renew_interval();
        positive("renew_interval", renew)?;
        positive("retry_interval", self.retry_interval)?;
        crate::config::bounded("retry_jitter", self.retry_jitter)?;
        positive("stop_timeout", self.stop_timeout)?;
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

/// One term of this candidate's leadership.
#[derive(Debug, Clone, Copy)]
struct Leadership {
    term: u64,
    since: Instant,
    step_down_at: Instant,
}

impl Leadership {
    /// Leading means: before the step-down point, by the clock.
    fn current(self, now: Instant) -> bool {
        now < self.step_down_at
    }
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
    /// The latest resignation heard: its term, and from how many nodes.
    heard: Arc<Mutex<(u64, usize)>>,
    crashed: AtomicBool,
    event_thread: OnceLock<ThreadId>,
    /// When the handler call now running began (None: idle).
    handler_busy_since: Mutex<Option<Instant>>,
    origin: Origin,
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
            heard: Arc::default(),
            crashed: AtomicBool::new(false),
            event_thread: OnceLock::new(),
            handler_busy_since: Mutex::new(None),
            origin: Origin::here(),
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
                let busy = |since| *thread_inner.handler_busy_since.lock().unwrap_or_else(|p| p.into_inner()) = since;
                while let Ok(ev) = rx.recv() {
                    busy(Some(Instant::now()));
                    if catch_unwind(AssertUnwindSafe(|| handler(&ev))).is_err() {
                        tracing::error!(resource = %resource_name, ?ev, "election event handler panicked; event dropped");
                    }
                    busy(None);
                }
                drop(thread_inner);
                if catch_unwind(AssertUnwindSafe(move || drop(handler))).is_err() {
                    tracing::error!(resource = %resource_name, "election event handler panicked while dropped");
                }
                let _ = done_tx.send(true);
            })
            .map_err(|e| Error::Internal(format!("cannot start the event thread: {e}")))?;

        let runtime = client.nodes().runtime().clone();
        let channel = client.config().key_format.resign_channel(resource);
        let watchers = client
            .nodes()
            .iter()
            .map(|node| {
                let (node, channel, stop) = (node.clone(), channel.clone(), inner.stop.clone());
                let (announced, heard) = (inner.announced.clone(), inner.heard.clone());
                let own_id = inner.id.clone();
                let quorum = client.quorum().size();
                runtime.spawn(async move {
                    loop {
                        let watch = node.watch_channel(&channel, |message| {
                            // Our own resignation must not wake us (the others
                            // go first). A resignation wakes us once, when a
                            // quorum of nodes announced it: each announces
                            // after its release, so the key is then gone on a
                            // quorum and one attempt can win. A stale wake-up
                            // would send a resigned leader straight back in.
                            if let Some(term) = announcement_term(message, &own_id) {
                                let mut h = heard.lock().unwrap_or_else(|p| p.into_inner());
                                match term.cmp(&h.0) {
                                    std::cmp::Ordering::Greater => *h = (term, 1),
                                    std::cmp::Ordering::Equal => h.1 += 1,
                                    std::cmp::Ordering::Less => return,
                                }
                                if h.1 == quorum {
                                    announced.notify_one()
                                }
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
        self.inner.leadership().map(|l| l.term)
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
    ///
    /// Also false while a handler call has been running for longer than
    /// `stop_timeout` (a blocked handler delays every later event and makes
    /// [`stop`](Election::stop) time out), and in a forked child.
    pub fn is_healthy(&self) -> bool {
        if self.inner.origin.forked() {
            return false;
        }
        let handler_stuck = self
            .inner
            .handler_busy_since
            .lock()
            .unwrap()
            .is_some_and(|t| t.elapsed() > self.inner.config.stop_timeout);
        if handler_stuck {
            return false;
        }
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
        self.inner.origin.check("election")?;
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
        self.inner.origin.check("election")?;
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
        let bound = self.inner.config.stop_timeout;
        let finished = tokio::time::timeout(bound, async { done.wait_for(|d| *d).await.is_ok() })
            .await
            .is_ok();
        if finished {
            return Ok(());
        }
        Err(Error::Timeout(format!(
            "election stopped, but its event handler is still running after {bound:?}; it will be dropped when it returns"
        )))
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
    /// The current leadership: set, before its step-down point, and in the
    /// process that won it.
    fn leadership(&self) -> Option<Leadership> {
        if self.origin.forked() {
            return None;
        }
        let l = *self.leading.lock().unwrap();
        l.filter(|l| l.current(Instant::now()))
    }

    fn is_leader(&self) -> bool {
        self.leadership().is_some()
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

/// Fast retries after a resign announcement or a split vote, before falling
/// back to the retry interval.
const FAST_RETRIES: u32 = 4;
/// The first fast retry waits up to this long, each later one twice as long.
const FAST_STEP: Duration = Duration::from_millis(2);

/// What a follower waits for before its next attempt.
enum Wait {
    /// Nothing: attempt now.
    Nothing,
    /// The retry interval plus jitter, or a resign announcement.
    Interval,
    /// After its own resignation: two retry intervals plus jitter, so that a
    /// follower that missed the announcement still gets the lock first, or an
    /// announcement of another candidate's resignation.
    Resigned,
    /// A short random delay before fast retry number `n` (1-based).
    Fast(u32),
}

/// Ends a leadership that the campaign task did not end itself (the runtime
/// shut down and dropped the task): the handler still gets its `Revoked`.
struct CampaignGuard<'a> {
    inner: &'a Inner,
    tx: &'a std::sync::mpsc::Sender<ElectionEvent>,
}

impl Drop for CampaignGuard<'_> {
    fn drop(&mut self) {
        if self.inner.crashed.load(Ordering::SeqCst) {
            return;
        }
        let ended = self
            .inner
            .leading
            .lock()
            .map(|mut l| l.take())
            .ok()
            .flatten();
        if let Some(l) = ended {
            let at = Instant::now().min(l.step_down_at);
            tracing::info!(resource = %self.inner.resource, id = %self.inner.id, term = l.term, "campaign dropped while leading (runtime shut down): revoked");
            let _ = self.tx.send(ElectionEvent::Revoked {
                term: l.term,
                reason: RevokeReason::Stopped,
                at: at.into_std(),
            });
        }
    }
}

/// The message a resigning leader publishes: `<term> <id>`.
fn announcement(term: u64, id: &str) -> String {
    format!("{term} {id}")
}

/// The term of another candidate's resignation (None for our own, or junk).
fn announcement_term(message: &[u8], own_id: &str) -> Option<u64> {
    let text = std::str::from_utf8(message).ok()?;
    let (term, id) = text.split_once(' ')?;
    (id != own_id).then(|| term.parse().ok()).flatten()
}

async fn campaign(inner: Arc<Inner>, tx: std::sync::mpsc::Sender<ElectionEvent>) {
    let _guard = CampaignGuard {
        inner: &inner,
        tx: &tx,
    };
    let opts = LockOptions::fenced().with_owner(inner.id.clone());
    let q = inner.client.quorum().size();
    let mut last_value: Option<String> = None;
    let mut wait = Wait::Nothing;
    loop {
        let woken = match wait {
            Wait::Nothing => false,
            Wait::Interval | Wait::Resigned => {
                let base = if matches!(wait, Wait::Resigned) {
                    inner.config.retry_interval * 2
                } else {
                    inner.config.retry_interval
                };
                let announced = inner.announced.notified();
                tokio::select! {
                    _ = inner.stop.cancelled() => break,
                    _ = tokio::time::sleep(base + random::jitter(inner.config.retry_jitter)) => false,
                    _ = announced => true,
                }
            }
            Wait::Fast(n) => {
                let delay = random::between(Duration::from_millis(1), FAST_STEP * (1 << (n - 1)));
                tokio::select! {
                    _ = inner.stop.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
                false
            }
        };
        if inner.stop.is_cancelled() {
            break;
        }
        let fast_so_far = match wait {
            Wait::Fast(n) => n,
            _ => 0,
        };
        match inner
            .client
            .try_acquire_with(&inner.resource, inner.config.ttl, &opts)
            .await
        {
            Ok(lock) => {
                inner.observe(Some(lock.value()), &tx, &mut last_value);
                let reason = lead(&inner, lock, &tx).await;
                inner.observe(None, &tx, &mut last_value);
                wait = match reason {
                    Some(RevokeReason::Stopped) => break,
                    Some(RevokeReason::Resigned) => Wait::Resigned,
                    _ => Wait::Interval,
                };
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
                // No majority holder after an answer from a quorum: the
                // contenders split the nodes (or a key was just released on
                // some): retry soon, at random, instead of a whole interval.
                let split = holder.is_none() && e.is_not_acquired();
                wait = if (split || woken) && fast_so_far < FAST_RETRIES {
                    Wait::Fast(fast_so_far + 1)
                } else {
                    Wait::Interval
                };
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

/// Leads until the lock is lost, resigned or stopped; returns why. None when
/// the lock came with its step-down point already passed: no `Elected` is
/// sent for a leadership that would already be over.
async fn lead(
    inner: &Inner,
    lock: Lock,
    tx: &std::sync::mpsc::Sender<ElectionEvent>,
) -> Option<RevokeReason> {
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
    if now >= step_down_at(lock) {
        tracing::warn!(resource = %inner.resource, id = %inner.id, term, "acquired with less validity than the step-down margin; not leading");
        drop(held.lock.take());
        return None;
    }
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
    // Resignations heard while leading were of earlier terms: forget them.
    let _ = futures::FutureExt::now_or_never(inner.announced.notified());
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
            let channel = inner
                .client
                .config()
                .key_format
                .resign_channel(&inner.resource);
            let _ = lock
                .release_and_announce(&channel, &announcement(term, &inner.id))
                .await;
            inner.resigned.notify_waiters();
        }
        RevokeReason::LostQuorum | RevokeReason::TakenOver => drop(lock),
    }
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_carry_the_term_and_skip_our_own() {
        let m = announcement(7, "node a");
        assert_eq!(announcement_term(m.as_bytes(), "other"), Some(7));
        assert_eq!(announcement_term(m.as_bytes(), "node a"), None);
        assert_eq!(announcement_term(b"garbage", "x"), None);
        assert_eq!(announcement_term(b"x y", "z"), None);
    }
}
