//! A held lock: extend, release, and the early "lost" signal.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{positive, Config};
use crate::error::{Error, NodeOutcome, Outcomes, Result};
use crate::fencing::FencingToken;
use crate::quorum::Verdict;
use crate::redlock::{Pending, Redlock};

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
        if interval + safety_margin(ttl, cfg) >= ttl {
            return Err(Error::invalid(format!(
                "auto_extend.interval ({interval:?}) leaves no time to extend before the safety margin ({:?}) of ttl {ttl:?}",
                safety_margin(ttl, cfg)
            )));
        }
        Ok(())
    }

    fn interval(&self, ttl: Duration) -> Duration {
        self.interval.unwrap_or(ttl / 3)
    }
}

/// How long before the end of its validity a lock is reported lost when it
/// could not be extended: room for the holder to stop what it does.
pub(crate) fn safety_margin(ttl: Duration, cfg: &Config) -> Duration {
    (ttl / 10).max(cfg.node_timeout * 2).min(ttl / 2)
}

pub(crate) struct Acquired {
    pub resource: String,
    pub key: String,
    pub value: String,
    pub ttl: Duration,
    pub deadline: Instant,
    pub fencing_token: Option<FencingToken>,
    pub outcomes: Outcomes,
    pub chains: Vec<Pending>,
    pub auto_extend: Option<AutoExtend>,
}

struct State {
    /// End of validity: start of the last successful extend (or the acquire)
    /// + ttl - drift. Only a successful quorum moves it later.
    deadline: Instant,
    /// The last command sent to each node; the next one waits for it.
    chains: Vec<Pending>,
    released: bool,
    extensions: u32,
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
    state: Mutex<State>,
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
        let margin = safety_margin(a.ttl, client.config());
        let inner = Arc::new(Inner {
            resource: a.resource,
            key: a.key,
            value: a.value,
            ttl: a.ttl,
            acquired_at: Instant::now(),
            margin,
            fencing_token: a.fencing_token,
            outcomes: a.outcomes,
            state: Mutex::new(State {
                deadline: a.deadline,
                chains: a.chains,
                released: false,
                extensions: 0,
            }),
            lost: CancellationToken::new(),
            done: CancellationToken::new(),
            client,
        });
        let runtime = inner.client.shared.runtime.clone();
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

    /// The fencing token, for fenced acquisitions.
    pub fn fencing_token(&self) -> Option<FencingToken> {
        self.inner.fencing_token
    }

    /// Per-node outcomes of the acquisition.
    pub fn outcomes(&self) -> &Outcomes {
        &self.inner.outcomes
    }

    /// Time left before the lock may be taken by someone else (zero when over).
    pub fn validity(&self) -> Duration {
        self.deadline().saturating_duration_since(Instant::now())
    }

    /// The monotonic instant at which the validity ends.
    pub fn deadline(&self) -> Instant {
        self.inner.state.lock().unwrap().deadline
    }

    /// Still valid: not released, not known lost, validity left.
    pub fn is_held(&self) -> bool {
        let st = self.inner.state.lock().unwrap();
        !st.released && !self.inner.lost.is_cancelled() && Instant::now() < st.deadline
    }

    /// True once the lock is known lost or less than the safety margin of its
    /// validity is left without a successful extension.
    pub fn is_lost(&self) -> bool {
        self.inner.lost.is_cancelled() || Instant::now() + self.inner.margin >= self.deadline()
    }

    /// Completes when [`is_lost`](Lock::is_lost) becomes true: before the
    /// validity ends (by the safety margin), never after.
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
        self.inner.state.lock().unwrap().released = true;
        self.inner.done.cancel();
    }

    /// How many times the lock was extended.
    pub fn extensions(&self) -> u32 {
        self.inner.state.lock().unwrap().extensions
    }

    /// Sets the remaining time to live of the lock on every node where it is
    /// still this lock's, and returns the new validity. Succeeds only with a
    /// quorum; never re-creates a key that expired or vanished.
    ///
    /// Errors: `Lost` when a quorum says the key is no longer ours (the lost
    /// signal fires), `Connection` when too few nodes answered (the old
    /// validity still stands, shortened if `ttl` was shorter), `Closed` after
    /// release.
    pub async fn extend(&self, ttl: Duration) -> Result<Duration> {
        extend(&self.inner, ttl).await
    }

    /// Releases the lock on every node (each after its own earlier commands).
    /// Returns when a quorum has answered; the rest completes in the background.
    /// `Lost` tells that a quorum no longer held it: the lock had expired
    /// before the release, so the critical section may have overlapped another.
    pub async fn release(&self) -> Result<Outcomes> {
        release(&self.inner).await
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.inner.done.cancel();
        let released = self.inner.state.lock().unwrap().released;
        if !released {
            let inner = self.inner.clone();
            let rt = inner.client.shared.runtime.clone();
            rt.spawn(async move {
                let _ = release(&inner).await;
            });
        }
    }
}

fn send_to_all<F, Fut>(inner: &Inner, f: F) -> Vec<Pending>
where
    F: Fn(Arc<crate::node::Node>, Option<&crate::node::Reply>) -> Fut,
    Fut: std::future::Future<Output = crate::node::Reply> + Send + 'static,
{
    let mut st = inner.state.lock().unwrap();
    let none = vec![None; st.chains.len()];
    let next = inner.client.then_each(&st.chains, &none, f);
    st.chains = next.clone();
    next
}

async fn extend(inner: &Inner, ttl: Duration) -> Result<Duration> {
    let client = &inner.client;
    client.config().check_ttl(ttl)?;
    if inner.state.lock().unwrap().released {
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
    let ttl_ms = ttl.as_millis() as u64;
    let start = Instant::now();
    let chains = send_to_all(inner, |node, _| {
        let (key, value) = (inner.key.clone(), inner.value.clone());
        async move { node.extend(&key, &value, ttl_ms).await }
    });
    let (replies, verdict) = client.gather(&chains).await;
    let outcomes = client.outcomes(&replies);
    let new_deadline = start + ttl - client.config().drift(ttl);
    let q = client.quorum();
    let mut st = inner.state.lock().unwrap();
    if verdict == Verdict::Reached && new_deadline > Instant::now() {
        st.deadline = new_deadline;
        st.extensions += 1;
        // The lock is proven held on a quorum, so no one else can hold a
        // quorum: each node that answers (now or later) that it lacks our key
        // (refused at acquire time while a loser's key was still there, or
        // restarted empty) gets it again with SET NX, which never takes a key
        // from anyone. An expired lock is never re-created: this runs only
        // after a quorum extend.
        let (key, value) = (inner.key.clone(), inner.value.clone());
        st.chains = client.after_each(&st.chains, move |node, extended| {
            let (key, value) = (key.clone(), value.clone());
            async move {
                if extended.outcome == NodeOutcome::NotHeld {
                    node.set_nx(&key, &value, ttl_ms).await
                } else {
                    extended
                }
            }
        });
        return Ok(new_deadline.saturating_duration_since(Instant::now()));
    }
    // Nodes that did extend to a shorter ttl may now expire first: only the
    // earlier of the two deadlines is still known to hold on a quorum.
    st.deadline = st.deadline.min(new_deadline);
    let not_held = outcomes.count(|o| *o == NodeOutcome::NotHeld);
    drop(st);
    let message = format!(
        "{}: extend reached no quorum ({} needed)",
        inner.resource,
        q.size()
    );
    if not_held > q.nodes() - q.size() {
        inner.lost.cancel();
        return Err(Error::Lost { message, outcomes });
    }
    Err(Error::Connection { message, outcomes })
}

async fn release(inner: &Inner) -> Result<Outcomes> {
    {
        let mut st = inner.state.lock().unwrap();
        if st.released {
            return Err(Error::Closed(format!(
                "{}: lock already released",
                inner.resource
            )));
        }
        st.released = true;
    }
    inner.done.cancel();
    let client = &inner.client;
    let chains = send_to_all(inner, |node, _| {
        let (key, value) = (inner.key.clone(), inner.value.clone());
        async move { node.release(&key, &value).await }
    });
    let (replies, verdict) = client.gather(&chains).await;
    let outcomes = client.outcomes(&replies);
    if verdict == Verdict::Reached {
        return Ok(outcomes);
    }
    let q = client.quorum();
    let message = format!("{}: release reached no quorum", inner.resource);
    if outcomes.count(|o| *o == NodeOutcome::NotHeld) > q.nodes() - q.size() {
        inner.lost.cancel();
        return Err(Error::Lost {
            message: format!("{}: the lock had expired before release", inner.resource),
            outcomes,
        });
    }
    Err(Error::Connection { message, outcomes })
}

/// Fires the lost signal at deadline - margin unless an extension moved the
/// deadline in the meantime.
async fn watch_expiry(weak: Weak<Inner>) {
    loop {
        let (warn_at, lost, done) = {
            let Some(inner) = weak.upgrade() else { return };
            let d = inner.state.lock().unwrap().deadline;
            (
                d.checked_sub(inner.margin).unwrap_or(d),
                inner.lost.clone(),
                inner.done.clone(),
            )
        };
        tokio::select! {
            _ = lost.cancelled() => return,
            _ = done.cancelled() => return,
            _ = tokio::time::sleep_until(warn_at) => {}
        }
        let Some(inner) = weak.upgrade() else { return };
        let d = inner.state.lock().unwrap().deadline;
        if Instant::now() + inner.margin >= d {
            tracing::warn!(resource = %inner.resource, "lock validity about to end without extension: lost");
            inner.lost.cancel();
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
        let extensions = inner.state.lock().unwrap().extensions;
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
            Err(e) if e.is_lost() => return,
            Err(Error::Closed(_)) => return,
            Err(e) => {
                // Retry soon; watch_expiry reports the loss if this never works.
                tracing::debug!(resource = %inner.resource, error = %e, "extend failed; retrying");
                next = Instant::now() + (interval / 4).max(inner.client.config().node_timeout);
            }
        }
    }
}
