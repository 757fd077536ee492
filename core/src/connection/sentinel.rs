//! A Sentinel-managed master as one Redlock node: the sentinels name the
//! master, the node keeps one multiplexed connection to it, and asks the
//! sentinels again when the master may have changed.
//!
//! The redis crate finds the master (`SentinelClient`, which also checks that
//! the server it names says `ROLE master`) but has no connection that follows
//! it; this file is that connection. Signs that the master may have moved:
//! the connection failed, the server answered `READONLY` (a demoted master),
//! or a command got no reply before the node timeout (a frozen or
//! partitioned master never closes its connection, and only a new lookup
//! leaves it once the sentinels promoted a replica), or the sentinels
//! announced `+switch-master` for it. That announcement matters when the old
//! master is alive: the sentinels demote it only on their next look at it,
//! seconds later, and until then it takes writes that its demotion throws
//! away. After any of these signs the next command starts one lookup, which
//! every command waits for; commands are not repeated on the new master (a
//! failed command is one node's error, as on any node).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ErrorKind, Pipeline, RedisError, RedisFuture,
    ServerErrorKind, Value,
};
use tokio_util::sync::CancellationToken;

use super::node_url::SentinelUrl;
use super::Dialing;
#[cfg(feature = "tls-rustls")]
use crate::tls::certificates;

/// A connection to the master being looked up or made, shared by every
/// command waiting for it.
type Dialled = Shared<BoxFuture<'static, Result<MultiplexedConnection, RedisError>>>;

#[derive(Clone)]
pub(crate) struct Sentinel {
    inner: Arc<Inner>,
}

struct Inner {
    /// One lookup at a time (the client keeps its sentinel connections).
    sentinels: tokio::sync::Mutex<SentinelClient>,
    master: Mutex<Master>,
    master_name: String,
    connect_timeout: Duration,
    db: i64,
    /// Set once the `+switch-master` follower runs; it ends with `stop`,
    /// which dropping the last clone of the connection cancels.
    following: AtomicBool,
    stop: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[derive(Default)]
struct Master {
    /// Counts lookups, so that a command failing on an old connection does
    /// not throw away a newer one.
    generation: u64,
    dialled: Option<Dialled>,
}

impl Sentinel {
    /// Nothing is dialled here; the first command looks the master up.
    pub fn open(url: SentinelUrl, dialing: &Dialing) -> Result<Sentinel, RedisError> {
        let addrs = url.sentinels.iter().map(|s| s.addr().clone());
        let mut b =
            SentinelClientBuilder::new(addrs, &url.master_name, SentinelServerType::Master)?
                .set_client_to_redis_db(url.master.db())
                .set_client_to_redis_protocol(url.master.protocol());
        if let Some(user) = url.master.username() {
            b = b.set_client_to_redis_username(user);
        }
        if let Some(password) = url.master.password() {
            b = b.set_client_to_redis_password(password);
        }
        let sentinel_auth = url.sentinels.first().map(|s| s.redis_settings());
        if let Some(user) = sentinel_auth.and_then(|a| a.username()) {
            b = b.set_client_to_sentinel_username(user);
        }
        if let Some(password) = sentinel_auth.and_then(|a| a.password()) {
            b = b.set_client_to_sentinel_password(password);
        }
        #[cfg(not(feature = "tls-rustls"))]
        if url.tls {
            return Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "rediss+sentinel:// needs redlead's tls-rustls feature",
            )));
        }
        #[cfg(feature = "tls-rustls")]
        if url.tls {
            b = b.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
            if let Some(tls) = &dialing.tls {
                b = b
                    .set_client_to_redis_certificates(certificates(tls))
                    .set_client_to_sentinel_certificates(certificates(tls));
            }
        }
        Ok(Sentinel {
            inner: Arc::new(Inner {
                sentinels: tokio::sync::Mutex::new(b.build()?),
                master: Mutex::default(),
                master_name: url.master_name.clone(),
                connect_timeout: dialing.connect_timeout,
                db: url.master.db(),
                following: AtomicBool::new(false),
                stop: CancellationToken::new(),
            }),
        })
    }

    /// Subscribes on the master the sentinels name now, until that
    /// connection ends (the master died, or the sentinels demoted it and
    /// closed its clients); the caller subscribes again, on the new master.
    pub async fn watch_channels(
        &self,
        channels: &[String],
        subscribed: impl FnOnce(),
        on_message: impl FnMut(&str, &[u8]),
    ) -> Result<(), RedisError> {
        let client = self.inner.lookup().await?;
        super::watch_on(&client, channels, subscribed, on_message).await
    }

    /// The connection to the master, or the lookup under way, and its
    /// generation.
    fn current(&self) -> (u64, Dialled) {
        if !self.inner.following.swap(true, Ordering::Relaxed) {
            let stop = self.inner.stop.clone();
            tokio::spawn(follow_switches(Arc::downgrade(&self.inner), stop));
        }
        let mut master = self.inner.master.lock().unwrap_or_else(|p| p.into_inner());
        if master.dialled.is_none() {
            master.generation += 1;
            // A task of its own: a command that stops waiting (its node
            // timeout) does not cancel the lookup the next command needs.
            let task = tokio::spawn(self.inner.clone().dial());
            let dialled = async move {
                task.await
                    .unwrap_or_else(|e| Err(io_error(format!("sentinel lookup ended: {e}"))))
            };
            master.dialled = Some(dialled.boxed().shared());
        }
        (
            master.generation,
            master.dialled.clone().expect("set above"),
        )
    }

    async fn send<T, F>(
        &self,
        command: impl FnOnce(MultiplexedConnection) -> F,
    ) -> Result<T, RedisError>
    where
        F: Future<Output = Result<T, RedisError>>,
    {
        let (generation, dialled) = self.current();
        let mut unanswered = ForgetUnlessAnswered {
            inner: &self.inner,
            generation,
            answered: false,
        };
        // A failed lookup is never kept: the next command tries again.
        let conn = dialled.await?;
        let result = command(conn).await;
        unanswered.answered = !result.as_ref().is_err_and(master_may_have_moved);
        result
    }
}

impl Inner {
    /// A client for the master the sentinels name now.
    async fn lookup(&self) -> Result<Client, RedisError> {
        let lookup = async { self.sentinels.lock().await.async_get_client().await };
        // Asking a sentinel, the master's ROLE check: two round trips that
        // each get a connect timeout.
        tokio::time::timeout(self.connect_timeout * 2, lookup)
            .await
            .unwrap_or_else(|_| Err(io_error("no sentinel named a master in time".into())))
    }

    async fn dial(self: Arc<Self>) -> Result<MultiplexedConnection, RedisError> {
        let client = self.lookup().await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(None);
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// A client for a sentinel that answers.
    async fn sentinel(&self) -> Result<Client, RedisError> {
        let lookup = async {
            self.sentinels
                .lock()
                .await
                .async_get_sentinel_client()
                .await
        };
        tokio::time::timeout(self.connect_timeout * 2, lookup)
            .await
            .unwrap_or_else(|_| Err(io_error("no sentinel answered in time".into())))
    }

    /// Drops the connection of `generation` (None: whichever is current).
    fn forget(&self, generation: Option<u64>) {
        let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        if generation.is_none_or(|g| g == master.generation) {
            master.dialled = None;
        }
    }
}

/// How long the follower waits before subscribing again after its
/// sentinel connection failed.
const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(250);

/// Listens on one sentinel for `+switch-master <name> <old ip> <old port>
/// <new ip> <new port>` and, for this node's master, makes the next command
/// look the master up. A follower on a sentinel cut off from the others
/// hears nothing; the other signs still lead to the new master.
async fn follow_switches(inner: Weak<Inner>, stop: CancellationToken) {
    loop {
        let listen = async {
            let (client, name) = {
                let Some(this) = inner.upgrade() else {
                    return Ok(());
                };
                (this.sentinel().await?, this.master_name.clone())
            };
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe("+switch-master").await?;
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                let payload = msg.get_payload_bytes();
                if payload.split(|b| *b == b' ').next() == Some(name.as_bytes()) {
                    let Some(this) = inner.upgrade() else {
                        return Ok(());
                    };
                    tracing::info!(master = %name, "sentinels switched the master; looking it up");
                    this.forget(None);
                }
            }
            Ok::<(), RedisError>(())
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            r = listen => if let Err(e) = r {
                tracing::debug!(error = %e, "+switch-master subscription failed; subscribing again");
            },
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RESUBSCRIBE_DELAY) => {}
        }
    }
}

/// Dropped without an answer (the node timeout cancelled the command) or
/// with an error that says the master may have moved: the next command
/// looks the master up again.
struct ForgetUnlessAnswered<'a> {
    inner: &'a Inner,
    generation: u64,
    answered: bool,
}

impl Drop for ForgetUnlessAnswered<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.inner.forget(Some(self.generation));
        }
    }
}

/// Errors after which the server this node talks to may no longer be the
/// master. Other server errors (a script's, WRONGTYPE) are the command's.
fn master_may_have_moved(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
                | ErrorKind::MasterNameNotFoundBySentinel
        )
}

fn io_error(message: String) -> RedisError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, message).into()
}

impl ConnectionLike for Sentinel {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        async move {
            self.send(|mut c| async move { c.req_packed_command(cmd).await })
                .await
        }
        .boxed()
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        async move {
            self.send(|mut c| async move { c.req_packed_commands(pipeline, offset, count).await })
                .await
        }
        .boxed()
    }

    fn get_db(&self) -> i64 {
        self.inner.db
    }
}
