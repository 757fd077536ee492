//! The kinds of Redlock node, and the one connection each keeps.
//!
//! A Redlock node is whatever answers for a key as one: a single server, a
//! Redis Cluster (the master of the key's slot, found by the cluster client),
//! or the master a group of sentinels names. [`Connection`] hides which:
//! `node.rs` sends its commands, pipelines and scripts through it as through
//! any redis connection. Each kind keeps one multiplexed connection per
//! server, so a client's commands reach a server in the order they were sent;
//! the per-key queue in `node.rs` orders them further, for every kind.
//! docs/deployment.md says what each kind guarantees.

mod cluster;
mod node_url;
mod sentinel;
mod standalone;

use std::time::Duration;

use futures::StreamExt;
use redis::aio::ConnectionLike;
use redis::{Client, Cmd, Pipeline, RedisError, RedisFuture, Value};

use crate::config::Tls;

pub use node_url::redact;
pub(crate) use node_url::NodeUrl;

/// How a node's connections are made.
#[derive(Clone)]
pub(crate) struct Dialing {
    pub connect_timeout: Duration,
    /// The node timeout: how long one command may take.
    pub command_timeout: Duration,
    /// TLS material for `rediss://` (and `rediss+cluster://`, `rediss+sentinel://`).
    pub tls: Option<Tls>,
}

/// The kind of a node, for rules that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Standalone,
    Cluster,
    Sentinel,
}

/// One node's connection; cheap to clone, clones share it.
#[derive(Clone)]
pub(crate) enum Connection {
    Standalone(standalone::Standalone),
    Cluster(cluster::Cluster),
    Sentinel(sentinel::Sentinel),
}

impl Connection {
    /// Prepares the connection without dialling: a node that is down at
    /// start costs nothing until it comes back.
    pub fn open(url: NodeUrl, dialing: &Dialing) -> Result<Connection, RedisError> {
        Ok(match url {
            NodeUrl::Standalone(info) => {
                Connection::Standalone(standalone::Standalone::open(info, dialing)?)
            }
            NodeUrl::Cluster(seeds) => Connection::Cluster(cluster::Cluster::open(seeds, dialing)?),
            NodeUrl::Sentinel(url) => Connection::Sentinel(sentinel::Sentinel::open(url, dialing)?),
        })
    }

    pub fn kind(&self) -> NodeKind {
        match self {
            Connection::Standalone(_) => NodeKind::Standalone,
            Connection::Cluster(_) => NodeKind::Cluster,
            Connection::Sentinel(_) => NodeKind::Sentinel,
        }
    }

    /// Subscribes to `channels` on a connection of its own, calls
    /// `subscribed` once the server confirmed them, then
    /// `on_message(channel, payload)` for every message, until that
    /// connection fails (the caller subscribes again). A cluster node's
    /// subscription survives reconnects by itself and returns only when it
    /// could not be made.
    pub async fn watch_channels(
        &self,
        channels: &[String],
        subscribed: impl FnOnce(),
        on_message: impl FnMut(&str, &[u8]),
    ) -> Result<(), RedisError> {
        match self {
            Connection::Standalone(s) => {
                watch_on(&s.client, channels, subscribed, on_message).await
            }
            Connection::Cluster(c) => c.watch_channels(channels, subscribed, on_message).await,
            Connection::Sentinel(s) => s.watch_channels(channels, subscribed, on_message).await,
        }
    }
}

/// One subscription on one server, until its connection ends.
async fn watch_on(
    client: &Client,
    channels: &[String],
    subscribed: impl FnOnce(),
    mut on_message: impl FnMut(&str, &[u8]),
) -> Result<(), RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channels).await?;
    subscribed();
    let mut messages = pubsub.into_on_message();
    while let Some(msg) = messages.next().await {
        on_message(msg.get_channel_name(), msg.get_payload_bytes());
    }
    Ok(())
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Standalone(s) => s.conn.req_packed_command(cmd),
            Connection::Cluster(c) => c.conn.req_packed_command(cmd),
            Connection::Sentinel(s) => s.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Standalone(s) => s.conn.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.conn.req_packed_commands(pipeline, offset, count),
            Connection::Sentinel(s) => s.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Standalone(s) => s.conn.get_db(),
            Connection::Cluster(c) => c.conn.get_db(),
            Connection::Sentinel(s) => s.get_db(),
        }
    }
}
