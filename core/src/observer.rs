//! Watching who holds a resource without campaigning for it, as etcd's
//! `Observe` and `etcdctl elect -l` do: [`Redlock::observe`].
//!
//! # What "the current leader" means here
//! The holder is the lock value that a quorum of nodes holds, read with a
//! `GET` of the key on every node; the leader is that value's owner label
//! (an election's candidate id, see [`lock_value`](crate::lock_value)). When
//! the nodes disagree — no value on a quorum (nobody holds the resource, a
//! handover or an acquisition is under way, contenders split the nodes, a
//! lock lives on only a minority of nodes until its ttl), or fewer than a
//! quorum of nodes answered — there is no leader: an observer reports one
//! only when a quorum of nodes confirm it, the same rule by which a lock is
//! held at all. A value on a quorum may still be one whose holder already
//! stepped down and whose key has not expired yet: an observation is a
//! snapshot of the nodes, never a promise about the holder.
//!
//! # How it stays current
//! It asks the nodes every poll interval, and at once when any node
//! announces a release or a resignation of the resource (then again after
//! 2, 4, ... 64 ms until a new holder shows up, since the next leader takes
//! the lock a few milliseconds after the release). Acquisitions are not
//! announced: a new holder after a crash or an expiry is seen within one
//! poll interval.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::listener::Listener;
use crate::lock_value::owner_of;
use crate::redlock::Redlock;
use crate::validate::{self, bounded, positive};

/// How often an observer asks the nodes when it hears nothing.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Quick polls after an announcement, before the poll interval again.
const FOLLOW_UPS: u32 = 6;
/// The first quick poll comes this long after the announcement, each later
/// one twice as long after the previous one.
const FOLLOW_UP_STEP: Duration = Duration::from_millis(2);

/// What an observer saw on the nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observation {
    /// The lock value a quorum of nodes holds (`<token>[:<owner>]`), None
    /// when no value has a quorum or fewer than a quorum of nodes answered.
    pub value: Option<String>,
}

impl Observation {
    /// The owner label of the value a quorum holds: the leader's id.
    pub fn leader(&self) -> Option<&str> {
        self.value.as_deref().and_then(owner_of)
    }
}

/// Watches who holds a resource, without campaigning. Made by
/// [`Redlock::observe`]; stops when dropped (or [`stop`](Observer::stop)).
pub struct Observer {
    resource: String,
    state: watch::Receiver<Observation>,
    task: JoinHandle<()>,
    listener: Listener,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("resource", &self.resource)
            .field("observation", &*self.state.borrow())
            .finish()
    }
}

impl Redlock {
    /// Starts observing `resource`, polling every [`DEFAULT_POLL_INTERVAL`].
    /// See [`observe_every`](Redlock::observe_every).
    pub async fn observe(&self, resource: &str) -> Result<Observer> {
        self.observe_every(resource, DEFAULT_POLL_INTERVAL).await
    }

    /// Starts observing `resource`: subscribes to its announcements, asks
    /// the nodes once before it returns (a few round trips; at most the
    /// connect timeout plus twice the node timeout), then every
    /// `poll_interval` and whenever a node announces a release or a
    /// resignation of it. See the `observer` module docs for what counts
    /// as the leader.
    ///
    /// # Cancel safety
    /// Dropping the future before it returns leaves nothing running.
    pub async fn observe_every(&self, resource: &str, poll_interval: Duration) -> Result<Observer> {
        validate::resource(resource)?;
        positive("poll_interval", poll_interval)?;
        bounded("poll_interval", poll_interval)?;
        let announced = Arc::new(Notify::new());
        let wake = announced.clone();
        let key_format = &self.config().key_format;
        let listener = Listener::start(
            self,
            vec![
                key_format.release_channel(resource),
                key_format.resign_channel(resource),
            ],
            Arc::new(move |_, _, _| wake.notify_one()),
        );
        // A release announced before the subscriptions are in place would be
        // missed until the next poll, so the first ask waits for them: on a
        // quorum of nodes, which always includes a node of any quorum that
        // holds (and so announces the release of) a value. Bounded, so that
        // unreachable nodes delay the start by one connection attempt at most.
        let settle = self.config().connect_timeout + self.config().node_timeout;
        let quorum = self.quorum().size();
        let _ = tokio::time::timeout(settle, listener.subscribed_on(quorum)).await;
        let first = ask(self, resource).await;
        let (tx, state) = watch::channel(first);
        let poll = Poll {
            client: self.clone(),
            resource: resource.to_string(),
            interval: poll_interval,
            announced,
            state: tx,
        };
        let task = self.nodes().runtime().spawn(poll.run());
        Ok(Observer {
            resource: resource.to_string(),
            state,
            task,
            listener,
        })
    }
}

impl Observer {
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The leader seen last (no network call): the owner label of the value
    /// a quorum of nodes held.
    pub fn leader(&self) -> Option<String> {
        self.state.borrow().leader().map(str::to_string)
    }

    /// The observation now (no network call).
    pub fn observation(&self) -> Observation {
        self.state.borrow().clone()
    }

    /// The observations as a `watch`: `borrow()` for the latest,
    /// `changed().await` for the next change (changes coalesce to the
    /// latest when read slower than they come). Closed once the observer
    /// stopped.
    pub fn changes(&self) -> watch::Receiver<Observation> {
        self.state.clone()
    }

    /// Stops polling and closes the subscriptions; idempotent.
    pub fn stop(&self) {
        self.listener.stop();
        self.task.abort();
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The observer's task.
struct Poll {
    client: Redlock,
    resource: String,
    interval: Duration,
    announced: Arc<Notify>,
    state: watch::Sender<Observation>,
}

impl Poll {
    async fn run(self) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => self.publish(ask(&self.client, &self.resource).await),
                _ = self.announced.notified() => self.follow_up().await,
            }
        }
    }

    /// After an announcement: now, then quickly a few more times until a
    /// holder shows up.
    async fn follow_up(&self) {
        let mut delay = FOLLOW_UP_STEP;
        for _ in 0..FOLLOW_UPS {
            let seen = ask(&self.client, &self.resource).await;
            let held = seen.value.is_some();
            self.publish(seen);
            if held {
                return;
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }

    fn publish(&self, seen: Observation) {
        self.state.send_if_modified(|s| {
            let changed = *s != seen;
            *s = seen;
            changed
        });
    }
}

/// Asks the nodes: the value a quorum holds, or none (also when fewer than
/// a quorum answered).
async fn ask(client: &Redlock, resource: &str) -> Observation {
    match client.holder_value(resource).await {
        Ok(value) => Observation { value },
        Err(e) => {
            tracing::debug!(resource, error = %e, "observer: no quorum answered");
            Observation::default()
        }
    }
}
