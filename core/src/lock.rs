//! A held lock: extend, release, and the early "lost" signal.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{Error, NodeOutcome, Outcomes, Result};
use crate::fencing::FencingToken;
use crate::fork::Origin;
use crate::node::Pending;
use crate::quorum::Verdict;
use crate::redlock::{note_unsure, release_on, Redlock, Unsure};
use crate::validate::positive;
use crate::validity;

/// Keep a lock alive in the background (opt-in).
///
/// The Redlock spec's liveness rule asks that a holder not extend forever, so
/// auto-extension needs a cap: `max_hold` (total time since acquisition) and/or
/// `max_extensions`. When the cap is reached, extension stops and the lock ends
/// at its validity, with the usual early `lost` signal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AutoExtend {
    /// Time between extensions; default ttl / 3.
    pub interval: Option<Duration>,
    /// Stop extending once the lock was held this long.
    pub max_hold: Option<Duration>,
    /// Stop extending after this many extensions.
    pub max_extensions: Option<u32>,
}

impl AutoExtend {
    /// Extends until `max_hold` has passed since acquisition.
    pub fn for_at_most(max_hold: Duration) -> AutoExtend {
        AutoExtend {
            interval: None,
            max_hold: Some(max_hold),
            max_extensions: None,
        }
    }

    /// Extends at most `n` times.
    pub fn times(n: u32) -> AutoExtend {
        AutoExtend {
            interval: None,
            max_hold: None,
            max_extensions: Some(n),
        }
    }

    pub fn with_interval(mut self, interval: Duration) -> AutoExtend {
        self.interval = Some(interval);
        self
    }

    pub(crate) fn validate(&self, ttl: Duration, cfg: &Config) -> Result<()> {
        if self.max_hold.is_none() && self.max_extensions.is_none() {
            return Err(Error::invalid(
                "auto_extend needs a cap: max_hold or max_extensions",
            ));
        }
        if let Some(h) = self.max_hold {
            positive("auto_extend.max_hold", h)?;
        }
        if self.max_extensions == Some(0) {
            return Err(Error::invalid(
                "auto_extend.max_extensions must be at least 1",
            ));
        }
        let interval = self.interval(ttl);
        positive("auto_extend.interval", interval)?;
        if interval >= ttl {
            return Err(Error::invalid(
                "auto_extend.interval must be shorter than the ttl",
            ));
        }
        let margin = validity::safety_margin(ttl, cfg.node_timeout);
        if interval + margin >= ttl {
            return Err(Error::invalid(format!(
                "auto_extend.interval ({interval:?}) leaves no time to extend before the safety margin ({margin:?}) of ttl {ttl:?}"
            )));
        }
        Ok(())
    }

    fn interval(&self, ttl: Duration) -> Duration {
        self.interval.unwrap_or(ttl / 3)
    }
}

pub(crate) struct Acquired {
    pub resource: String,
    pub key: String,
    pub value: String,
    pub ttl: Duration,
    pub deadline: Instant,
    pub fencing_token: Option<FencingToken>,
    pub outcomes: Outcomes,
    pub auto_extend: Option<AutoExtend>,
    pub unsure: Unsure,
}

struct Inner {
    client: Redlock,
    resource: String,
    key: String,
    value: String,
    ttl: Duration,
    acquired_at: Instant,
    margin: Duration,
    fencing_token: Option<FencingToken>,
    outcomes: Outcomes,
    origin: Origin,
    /// End of validity: the start of the last successful extend (or of the
    /// acquire) plus ttl minus drift. Only a successful quorum moves it later.
    /// A watch, so that the lost signal re-arms whenever it moves.
    deadline: watch::Sender<Instant>,
    extensions: AtomicU32,
    /// Nodes where a command that may set our key had an unknown outcome.
    unsure: Unsure,
    /// Set when release begins (also by drop); read by queued repairs at the
    /// moment they run, so none re-creates a key after the release.
    released: Arc<AtomicBool>,
    /// Cancelled when the lock is known lost or about to run out unextended.
    lost: CancellationToken,
    /// Cancelled on release or drop; stops the auto-extend task.
    done: CancellationToken,
}

/// A held lock. Dropping it releases it in the background; call
/// [`release`](Lock::release) to release it and see the outcome.
pub struct Lock {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("resource", &self.inner.resource)
            .field("fencing_token", &self.inner.fencing_token)
            .field("validity", &self.validity())
            .finish()
    }
}

impl Lock {
    pub(crate) fn new(client: Redlock, a: Acquired) -> Lock {
        let margin = validity::safety_margin(a.ttl, client.config().node_timeout);
        let inner = Arc::new(Inner {
            resource: a.resource,
            key: a.key,
            value: a.value,
            ttl: a.ttl,
            acquired_at: Instant::now(),
            margin,
            fencing_token: a.fencing_token,
            outcomes: a.outcomes,
            origin: Origin::here(),
            deadline: watch::Sender::new(a.deadline),
            extensions: AtomicU32::new(0),
            unsure: a.unsure,
            released: Arc::new(AtomicBool::new(false)),
            lost: CancellationToken::new(),
            done: CancellationToken::new(),
            client,
        });
        let runtime = inner.client.nodes().runtime().clone();
        runtime.spawn(watch_expiry(Arc::downgrade(&inner)));
        if let Some(auto) = a.auto_extend {
            runtime.spawn(auto_extend(Arc::downgrade(&inner), auto));
        }
        Lock { inner }
    }

    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// The Redis key of the lock.
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// The value stored on the nodes: `<128-bit hex token>[:<owner>]`.
    pub fn value(&self) -> &str {
        &self.inner.value
    }

    /// The fencing token, for fenced acquisitions (None in a forked child:
    /// the parent holds the lock).
    pub fn fencing_token(&self) -> Option<FencingToken> {
        self.inner
            .fencing_token
            .filter(|_| !self.inner.origin.forked())
    }

    /// Per-node outcomes of the acquisition.
    pub fn outcomes(&self) -> &Outcomes {
        &self.inner.outcomes
    }

    /// Time left before the lock may be taken by someone else (zero when over,
    /// and in a forked child).
    pub fn validity(&self) -> Duration {
        if self.inner.origin.forked() {
            return Duration::ZERO;
        }
        self.deadline().saturating_duration_since(Instant::now())
    }

    /// The monotonic instant at which the validity ends.
    pub fn deadline(&self) -> Instant {
        *self.inner.deadline.borrow()
    }

    /// Still valid: not released, not known lost, validity left, and in the
    /// process that acquired it.
    pub fn is_held(&self) -> bool {
        !self.inner.released.load(Ordering::Acquire)
            && !self.inner.lost.is_cancelled()
            && !self.inner.origin.forked()
            && Instant::now() < self.deadline()
    }

    /// True once the lock is known lost or less than the safety margin of its
    /// validity is left without a successful extension (and always in a
    /// forked child).
    pub fn is_lost(&self) -> bool {
        self.inner.lost.is_cancelled()
            || self.inner.origin.forked()
            || Instant::now() + self.inner.margin >= self.deadline()
    }

    /// Completes when [`is_lost`](Lock::is_lost) becomes true: before the
    /// validity ends (by the safety margin), never after, also when an extend
    /// moved the deadline earlier.
    pub async fn lost(&self) {
        self.inner.lost.cancelled().await
    }

    /// A token cancelled when the lock is lost (see [`lost`](Lock::lost)), for
    /// scoping work to the lock.
    pub fn lost_token(&self) -> CancellationToken {
        self.inner.lost.clone()
    }

    /// Test hook: forget the lock without releasing it, as a crashed
    /// process would.
    #[doc(hidden)]
    pub fn abandon(self) {
        self.inner.released.store(true, Ordering::Release);
        self.inner.done.cancel();
    }

    /// How many times the lock was extended.
    pub fn extensions(&self) -> u32 {
        self.inner.extensions.load(Ordering::Relaxed)
    }

    /// Sets the remaining time to live of the lock on every node where it is
    /// still this lock's, and returns the new validity. Succeeds only with a
    /// quorum; never re-creates a key that expired or vanished.
    ///
    /// Errors: `Lost` when a quorum says the key is no longer ours (the lost
    /// signal fires), `Connection` when too few nodes answered (the old
    /// validity still stands, shortened if `ttl` was shorter), `Closed` after
    /// release, `Forked` in a forked child.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the commands to finish in the background;
    /// the deadline then keeps its old value.
    pub async fn extend(&self, ttl: Duration) -> Result<Duration> {
        extend(&self.inner, ttl).await
    }

    /// Releases the lock on every node (each after this client's earlier
    /// commands for the key there). Returns when a quorum has answered; the
    /// rest completes in the background. Each node announces the release on
    /// the resource's release channel from the release script itself (no
    /// extra round trip), which wakes this client's and other clients'
    /// waiting acquires (`Redlock::acquire`) and observers.
    ///
    /// `Lost` tells that the critical section may have run without the lock:
    /// the lost signal had fired (validity ran out unextended, or a quorum
    /// said the key was gone) and the release could not show it still held a
    /// quorum — whatever the nodes answer, even when they do not answer.
    pub async fn release(&self) -> Result<Outcomes> {
        let channel = self.release_channel();
        release(&self.inner, (&channel, &self.inner.value)).await
    }

    /// Releases, announcing `message` on `channel` instead of the release
    /// channel (a leader's resignation), from the release script on each
    /// node.
    pub(crate) async fn release_and_announce(
        &self,
        channel: &str,
        message: &str,
    ) -> Result<Outcomes> {
        release(&self.inner, (channel, message)).await
    }

    fn release_channel(&self) -> String {
        let client = &self.inner.client;
        client
            .config()
            .key_format
            .release_channel(&self.inner.resource)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.inner.origin.forked() {
            // The parent holds the lock; its runtime threads are not here.
            return;
        }
        if !self.inner.released.swap(true, Ordering::AcqRel) {
            // Enqueued now, not from a spawned task, so that a later acquire
            // of the same resource by this client queues behind the release.
            let channel = self.release_channel();
            send_release(&self.inner, (&channel, &self.inner.value));
        }
        self.inner.done.cancel();
    }
}

async fn extend(inner: &Inner, ttl: Duration) -> Result<Duration> {
    let client = &inner.client;
    client.config().check_ttl(ttl)?;
    inner.origin.check("lock")?;
    if inner.released.load(Ordering::Acquire) {
        return Err(Error::Closed(format!(
            "{}: lock already released",
            inner.resource
        )));
    }
    if inner.lost.is_cancelled() {
        return Err(Error::Lost {
            message: format!("{}: lock was already lost", inner.resource),
            outcomes: Outcomes::default(),
        });
    }
    let nodes = client.nodes();
    let ttl_ms = ttl.as_millis() as u64;
    let start = Instant::now();
    let extended = nodes.send(&inner.key, |_, node| {
        let (key, value) = (inner.key.clone(), inner.value.clone());
        async move { node.extend(&key, &value, ttl_ms).await }
    });
    let (replies, verdict) = nodes.gather(&extended).await;
    let outcomes = nodes.outcomes(&replies);
    let new_deadline = validity::deadline(start, ttl, client.config());
    let q = nodes.quorum();
    if verdict == Verdict::Reached && new_deadline > Instant::now() {
        inner.deadline.send_replace(new_deadline);
        inner.extensions.fetch_add(1, Ordering::Relaxed);
        repair(inner, &extended, ttl_ms);
        return Ok(new_deadline.saturating_duration_since(Instant::now()));
    }
    // Nodes that did extend to a shorter ttl may now expire first: only the
    // earlier of the two deadlines is still known to hold on a quorum.
    inner.deadline.send_if_modified(|d| {
        let earlier = new_deadline < *d;
        *d = (*d).min(new_deadline);
        earlier
    });
    let not_held = outcomes.count(|o| *o == NodeOutcome::NotHeld);
    let message = format!(
        "{}: extend reached no quorum ({} needed)",
        inner.resource,
        q.size()
    );
    if not_held > q.nodes() - q.size() {
        mark_lost(&inner.lost);
        return Err(Error::Lost { message, outcomes });
    }
    Err(Error::Connection { message, outcomes })
}

/// After a quorum extend — which proves the key was continuously ours on a
/// quorum, so no one else can hold one — each node that answered (now or
/// later) that it lacks our key (it refused at acquire time while a loser's
/// key was still there, or restarted empty) gets it again with SET NX, which
/// never takes a key from anyone. Each repair is queued behind that node's
/// extend and checks, when it runs, that release has not begun: a repair
/// never re-creates a key after (or while) the lock is released.
fn repair(inner: &Inner, extended: &[Pending], ttl_ms: u64) {
    let nodes = inner.client.nodes();
    nodes.send(&inner.key, |i, node| {
        let (key, value, extended) = (inner.key.clone(), inner.value.clone(), extended[i].clone());
        let (released, unsure) = (inner.released.clone(), inner.unsure.clone());
        async move {
            let reply = extended.await;
            if reply.outcome != NodeOutcome::NotHeld || released.load(Ordering::Acquire) {
                return reply;
            }
            let repaired = node.set_nx(&key, &value, ttl_ms).await;
            note_unsure(&unsure, i, &repaired);
            repaired
        }
    });
}

/// Enqueues the compare-and-delete on every node, each announcing
/// `(channel, message)` once the key is free there.
fn send_release(inner: &Inner, (channel, message): (&str, &str)) -> Vec<Pending> {
    let nodes = inner.client.nodes();
    let ttl = inner.ttl;
    nodes.send(&inner.key, |i, node| {
        let (key, value, runtime) = (
            inner.key.clone(),
            inner.value.clone(),
            nodes.runtime().clone(),
        );
        let (channel, message) = (channel.to_string(), message.to_string());
        let unsure = inner.unsure.clone();
        async move {
            let was_unsure = unsure[i].load(Ordering::Acquire);
            let announce = Some((channel.as_str(), message.as_str()));
            release_on(&node, &runtime, &key, &value, ttl, was_unsure, announce).await
        }
    })
}

async fn release(inner: &Inner, announce: (&str, &str)) -> Result<Outcomes> {
    inner.origin.check("lock")?;
    if inner.released.swap(true, Ordering::AcqRel) {
        return Err(Error::Closed(format!(
            "{}: lock already released",
            inner.resource
        )));
    }
    inner.done.cancel();
    let nodes = inner.client.nodes();
    let released = send_release(inner, announce);
    let (replies, verdict) = nodes.gather(&released).await;
    let outcomes = nodes.outcomes(&replies);
    if verdict == Verdict::Reached {
        // A quorum still held our value at release: no one else could have
        // held the lock meanwhile.
        return Ok(outcomes);
    }
    let q = nodes.quorum();
    let expired = Instant::now() >= *inner.deadline.borrow();
    if inner.lost.is_cancelled()
        || expired
        || outcomes.count(|o| *o == NodeOutcome::NotHeld) > q.nodes() - q.size()
    {
        mark_lost(&inner.lost);
        return Err(Error::Lost {
            message: format!(
                "{}: the lock was lost before the release (its validity ran out or a quorum no longer held it); the critical section may have overlapped another holder",
                inner.resource
            ),
            outcomes,
        });
    }
    Err(Error::Connection {
        message: format!("{}: release reached no quorum", inner.resource),
        outcomes,
    })
}

/// Fires the lost signal at deadline - margin; re-arms whenever the deadline
/// moves (an extend moves it later on success, earlier when a shorter extend
/// failed).
async fn watch_expiry(weak: Weak<Inner>) {
    let (mut deadline, lost, done, margin) = {
        let Some(inner) = weak.upgrade() else { return };
        (
            inner.deadline.subscribe(),
            inner.lost.clone(),
            inner.done.clone(),
            inner.margin,
        )
    };
    loop {
        let d = *deadline.borrow_and_update();
        let warn_at = d.checked_sub(margin).unwrap_or(d);
        tokio::select! {
            _ = lost.cancelled() => return,
            _ = done.cancelled() => return,
            changed = deadline.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            _ = tokio::time::sleep_until(warn_at) => {}
        }
        if Instant::now() + margin >= *deadline.borrow() {
            if let Some(inner) = weak.upgrade() {
                tracing::warn!(resource = %inner.resource, "lock validity about to end without extension: lost");
            }
            mark_lost(&lost);
            return;
        }
    }
}

async fn auto_extend(weak: Weak<Inner>, auto: AutoExtend) {
    let Some((ttl, interval, done)) = weak
        .upgrade()
        .map(|i| (i.ttl, auto.interval(i.ttl), i.done.clone()))
    else {
        return;
    };
    let mut next = Instant::now() + interval;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
        let Some(inner) = weak.upgrade() else { return };
        if inner.lost.is_cancelled() {
            return;
        }
        let extensions = inner.extensions.load(Ordering::Relaxed);
        let capped = auto.max_extensions.is_some_and(|m| extensions >= m)
            || auto
                .max_hold
                .is_some_and(|h| inner.acquired_at.elapsed() + ttl > h);
        if capped {
            tracing::debug!(resource = %inner.resource, "auto-extend cap reached; the lock will run out");
            return;
        }
        match extend(&inner, ttl).await {
            Ok(_) => next = Instant::now() + interval,
            Err(e) if e.is_terminal() => return,
            Err(e) => {
                // Retry soon; watch_expiry reports the loss if this never works.
                tracing::debug!(resource = %inner.resource, error = %e, "extend failed; retrying");
                next = Instant::now() + (interval / 4).max(inner.client.config().node_timeout);
            }
        }
    }
}

/// Fires the lost signal, counting the lock once.
fn mark_lost(lost: &CancellationToken) {
    if !lost.is_cancelled() {
        crate::telemetry::lock_lost();
    }
    lost.cancel();
}
