//! Listening to a resource's announcements on every node: one pub/sub
//! connection per node, made again after a failure, for as long as the
//! [`Listener`] lives. Election followers listen for resignations, waiting
//! acquires for releases, observers for both.
//!
//! An announcement is only ever a hint to act sooner (attempt, ask the
//! nodes): nothing is decided on it alone.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::node::Node;
use crate::redlock::Redlock;

/// How long a node's listener waits before it subscribes again after its
/// connection failed.
const RECONNECT_DELAY: Duration = Duration::from_millis(250);

/// What a listener is told: the node's index, the channel, the payload.
pub(crate) type OnMessage = dyn Fn(usize, &str, &[u8]) + Send + Sync + 'static;

/// The subscriptions on every node; dropping it (or [`stop`](Listener::stop))
/// closes them.
pub(crate) struct Listener {
    tasks: Vec<JoinHandle<()>>,
    /// How many nodes confirmed their subscription (counted again after a
    /// reconnect, so it can exceed the node count).
    subscribed: watch::Receiver<usize>,
}

impl Listener {
    /// Subscribes to `channels` on every node of `client`, each on a task of
    /// the client's runtime, and calls `on_message` for every message.
    pub(crate) fn start(
        client: &Redlock,
        channels: Vec<String>,
        on_message: Arc<OnMessage>,
    ) -> Listener {
        let (count, subscribed) = watch::channel(0usize);
        let count = Arc::new(count);
        let runtime = client.nodes().runtime();
        let tasks = client
            .nodes()
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let listen = listen(
                    i,
                    node.clone(),
                    channels.clone(),
                    on_message.clone(),
                    count.clone(),
                );
                runtime.spawn(listen)
            })
            .collect();
        Listener { tasks, subscribed }
    }

    /// Completes once `n` nodes confirmed their subscription (never, when
    /// fewer nodes can be reached).
    pub(crate) async fn subscribed_on(&self, n: usize) {
        let mut s = self.subscribed.clone();
        let _ = s.wait_for(|c| *c >= n).await;
    }

    /// Closes every subscription now.
    pub(crate) fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn listen(
    i: usize,
    node: Arc<Node>,
    channels: Vec<String>,
    on_message: Arc<OnMessage>,
    subscribed: Arc<watch::Sender<usize>>,
) {
    loop {
        let confirmed = || {
            subscribed.send_modify(|c| *c += 1);
        };
        let on = |channel: &str, payload: &[u8]| on_message(i, channel, payload);
        if let Err(e) = node.watch_channels(&channels, confirmed, on).await {
            tracing::trace!(node = %node.name, error = %e, "subscription failed; subscribing again");
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

/// Counts one announcement per node until a quorum of nodes made the same
/// one: each node announces after its own release, so the key is then gone
/// on a quorum. Announcements of another release, heard in between, start
/// the count again.
#[derive(Debug, Default)]
pub(crate) struct QuorumOfAnnouncements {
    latest: Option<Vec<u8>>,
    nodes: Vec<usize>,
}

impl QuorumOfAnnouncements {
    /// True exactly once per announcement: when `node` makes it the
    /// `quorum`-th node to announce `message`.
    pub(crate) fn hear(&mut self, node: usize, message: &[u8], quorum: usize) -> bool {
        if self.latest.as_deref() != Some(message) {
            self.latest = Some(message.to_vec());
            self.nodes.clear();
        }
        if self.nodes.contains(&node) {
            return false;
        }
        self.nodes.push(node);
        self.nodes.len() == quorum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quorum_of_distinct_nodes_must_announce_the_same_release() {
        let mut q = QuorumOfAnnouncements::default();
        assert!(!q.hear(0, b"a", 2));
        assert!(!q.hear(0, b"a", 2), "the same node twice is one node");
        assert!(q.hear(1, b"a", 2));
        assert!(!q.hear(2, b"a", 2), "once per announcement");
        assert!(!q.hear(0, b"b", 2));
        assert!(!q.hear(1, b"c", 2), "another release starts again");
        assert!(q.hear(2, b"c", 2));
    }
}
