//! Waiting acquires woken by releases. While [`Redlock::acquire`] waits, it
//! listens to the resource's release channel on every node and attempts
//! again as soon as a quorum of nodes announced the same release, instead of
//! sleeping out its retry delay (as Redisson and python-redis-lock do).
//!
//! A wake-up is only a hint: the attempt after it takes the lock through
//! the quorum like any other, and a missed or lost announcement costs at
//! most the retry delay, which still runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use crate::listener::{Listener, QuorumOfAnnouncements};
use crate::redlock::Redlock;

/// A waiter listens only when its retry delay is at least this long: the
/// subscriptions cost a new connection to every node for every wait, and a
/// waiter that retries every few milliseconds anyway gains less than that
/// costs the nodes.
const LISTEN_FROM_RETRY_DELAY: Duration = Duration::from_millis(20);

pub(crate) struct ReleaseWaker {
    listener: Listener,
    released: Arc<Notify>,
    quorum: usize,
}

impl ReleaseWaker {
    /// Whether a waiter with this retry delay should listen for releases.
    pub(crate) fn worthwhile(retry_delay: Duration) -> bool {
        retry_delay >= LISTEN_FROM_RETRY_DELAY
    }

    /// Subscribes to the release channel of `resource` on every node of
    /// `client` until dropped.
    pub(crate) fn listen(client: &Redlock, resource: &str) -> ReleaseWaker {
        let quorum = client.quorum().size();
        let released = Arc::new(Notify::new());
        let heard = Mutex::new(QuorumOfAnnouncements::default());
        let wake = released.clone();
        let channel = client.config().key_format.release_channel(resource);
        let listener = Listener::start(
            client,
            vec![channel],
            Arc::new(move |node, _, message| {
                let mut heard = heard.lock().unwrap_or_else(|p| p.into_inner());
                if heard.hear(node, message, quorum) {
                    wake.notify_one();
                }
            }),
        );
        ReleaseWaker {
            listener,
            released,
            quorum,
        }
    }

    /// Completes once a quorum of nodes confirmed the subscription: a
    /// release from then on wakes the waiter.
    pub(crate) async fn subscribed(&self) {
        self.listener.subscribed_on(self.quorum).await
    }

    /// Completes when a quorum of nodes announced one release (also for a
    /// release heard since the last wait).
    pub(crate) fn released(&self) -> Notified<'_> {
        self.released.notified()
    }
}
