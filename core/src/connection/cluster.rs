//! A Redis Cluster as one Redlock node, through the redis crate's cluster
//! client: it learns the topology from any seed, routes each command to the
//! master of its key's slot, follows MOVED and ASK, and refreshes the
//! topology after a failover.
//!
//! Commands of one lock touch one slot: the lock key and the fencing key
//! share a hash tag (Redlock::new refuses a cluster node without one), so
//! the fenced pipeline goes to one master in one round trip.

use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{ConnectionInfo, ProtocolVersion, PushKind, RedisError, Value};

use super::Dialing;
#[cfg(feature = "tls-rustls")]
use crate::tls::certificates;

#[derive(Clone)]
pub(crate) struct Cluster {
    seeds: Vec<ConnectionInfo>,
    dialing: Dialing,
    pub conn: ClusterConnection,
}

impl Cluster {
    /// Nothing is dialled here; the first command connects.
    pub fn open(seeds: Vec<ConnectionInfo>, dialing: &Dialing) -> Result<Cluster, RedisError> {
        let conn = client(&seeds, dialing, builder(&seeds, dialing))?
            .get_pending_async_connection_with_config(config(dialing));
        Ok(Cluster {
            seeds,
            dialing: dialing.clone(),
            conn,
        })
    }

    /// Classic pub/sub is cluster-wide (a `PUBLISH` on any master reaches
    /// subscribers on every node), so one subscription anywhere hears every
    /// announcement. It needs RESP3, whose push messages the cluster client
    /// forwards; the client subscribes again by itself after a reconnect or a
    /// topology change, so this returns only when the subscription could
    /// not be made.
    pub async fn watch_channels(
        &self,
        channels: &[String],
        subscribed: impl FnOnce(),
        mut on_message: impl FnMut(&str, &[u8]),
    ) -> Result<(), RedisError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let builder = builder(&self.seeds, &self.dialing)
            .use_protocol(ProtocolVersion::RESP3)
            .push_sender(tx);
        let mut conn = client(&self.seeds, &self.dialing, builder)?
            .get_async_connection_with_config(config(&self.dialing))
            .await?;
        conn.subscribe(channels).await?;
        subscribed();
        while let Some(push) = rx.recv().await {
            if push.kind == PushKind::Message {
                if let [Value::BulkString(channel), Value::BulkString(payload), ..] = &push.data[..]
                {
                    on_message(&String::from_utf8_lossy(channel), payload);
                }
            }
        }
        // The push sender lives as long as the connection: keep it to here.
        drop(conn);
        Ok(())
    }
}

fn builder(seeds: &[ConnectionInfo], dialing: &Dialing) -> ClusterClientBuilder {
    // The node timeout is enforced by Node::timed; the overall timeout makes
    // the client stop retrying (MOVED, reconnects) when the caller stops
    // waiting, so that a command does not land long after it was given up.
    ClusterClientBuilder::new(seeds.iter().cloned())
        .overall_response_timeout(Some(dialing.command_timeout))
        .retries(8)
        .min_retry_wait(10)
        .max_retry_wait(500)
        .retry_wait_formula(10, 2)
}

fn client(
    seeds: &[ConnectionInfo],
    dialing: &Dialing,
    builder: ClusterClientBuilder,
) -> Result<ClusterClient, RedisError> {
    let is_tls = seeds
        .iter()
        .any(|s| matches!(s.addr(), redis::ConnectionAddr::TcpTls { .. }));
    match dialing.tls.as_ref().filter(|_| is_tls) {
        #[cfg(feature = "tls-rustls")]
        Some(tls) => builder.certs(certificates(tls)).build(),
        // Without TLS compiled in, rediss+cluster:// seeds do not parse.
        _ => builder.build(),
    }
}

/// The connect timeout also bounds the client's own requests (topology
/// refreshes); the caller's commands are bounded by the overall timeout.
fn config(dialing: &Dialing) -> ClusterConfig {
    ClusterConfig::new()
        .set_connection_timeout(dialing.connect_timeout)
        .set_response_timeout(dialing.connect_timeout)
}
