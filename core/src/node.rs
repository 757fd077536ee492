//! One Redis master and the commands Redlock sends it.
//!
//! Each node has exactly one multiplexed connection (a `ConnectionManager`,
//! which reconnects in the background). Commands on it reach the server in the
//! order they were issued. On top of that, every command of this client for a
//! resource on a node goes through the node's per-key queue
//! ([`Node::enqueue`]): it is sent only once the client's previous command for
//! the same key on that node has settled. So a release never overtakes the
//! acquire it undoes, and the next acquire of the same client never overtakes
//! the release before it (see docs/safety.md).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use redis::aio::ConnectionManager;
use redis::aio::ConnectionManagerConfig;
use redis::{Client, IntoConnectionInfo, RedisError, Value};
use tokio::time::Instant;

use crate::config::Tls;
use crate::error::{Error, NodeOutcome, Result};
use crate::scripts;

/// A node command already running as a task; cloneable, so that the next
/// command for the same key on the node, and the quorum gathering, can both
/// wait for it.
pub(crate) type Pending = Shared<BoxFuture<'static, Reply>>;

/// The client's last unsettled command per key on one node.
#[derive(Default)]
struct Queue {
    next_id: u64,
    tails: HashMap<String, (u64, Pending)>,
}

/// What a node answered, plus the data some commands return.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub outcome: NodeOutcome,
    /// Fenced acquire: the node's fencing counter when the key was taken.
    pub counter: Option<u64>,
}

impl Reply {
    pub(crate) fn of(outcome: NodeOutcome) -> Reply {
        Reply {
            outcome,
            counter: None,
        }
    }
}

pub(crate) struct Node {
    /// host:port or socket path; never the password.
    pub name: String,
    /// Set once the server refused `ZADD GT`.
    legacy_zadd: AtomicBool,
    /// Set once the server refused `SET ... NX GET` (Redis < 7.0).
    legacy_set_get: AtomicBool,
    client: Client,
    conn: ConnectionManager,
    timeout: Duration,
    queue: Mutex<Queue>,
}

impl Node {
    /// Parses the URL and prepares a lazy connection: nothing is dialled here,
    /// so a node that is down at start costs nothing until it comes back.
    pub fn new(
        url: &str,
        timeout: Duration,
        connect_timeout: Duration,
        tls: Option<&Tls>,
    ) -> Result<Arc<Node>> {
        if url.trim().is_empty() {
            return Err(Error::invalid("node URL must not be empty"));
        }
        let info = url
            .into_connection_info()
            .map_err(|e| Error::invalid(format!("bad node URL {:?}: {e}", redact(url))))?;
        let name = info.addr().to_string();
        let is_tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
        let client = match tls.filter(|_| is_tls) {
            Some(t) => Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: t
                        .client_cert_pem
                        .as_ref()
                        .zip(t.client_key_pem.as_ref())
                        .map(|(c, k)| redis::ClientTlsConfig {
                            client_cert: c.clone(),
                            client_key: k.clone(),
                        }),
                    root_cert: t.root_ca_pem.clone(),
                },
            ),
            None => Client::open(info),
        }
        .map_err(|e| Error::invalid(format!("bad node URL {:?}: {e}", redact(url))))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(None)
            .set_number_of_retries(0)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| Error::invalid(format!("node {name}: {e}")))?;
        Ok(Arc::new(Node {
            name,
            legacy_zadd: AtomicBool::new(false),
            legacy_set_get: AtomicBool::new(false),
            client,
            conn,
            timeout,
            queue: Mutex::new(Queue::default()),
        }))
    }

    /// Runs `command` as a task once every command enqueued earlier for `key`
    /// on this node has settled (each is bounded by the node timeout), and
    /// returns its pending reply. `command` is not polled before then, so its
    /// own timeout starts when it is sent.
    pub fn enqueue(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        key: &str,
        command: impl Future<Output = Reply> + Send + 'static,
    ) -> Pending {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.next_id += 1;
        let id = queue.next_id;
        let previous = queue.tails.get(key).map(|(_, p)| p.clone());
        let (node, owned_key) = (self.clone(), key.to_string());
        let task = runtime.spawn(async move {
            if let Some(p) = previous {
                p.await;
            }
            let reply = command.await;
            let mut queue = node.queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.tails.get(&owned_key).is_some_and(|(i, _)| *i == id) {
                queue.tails.remove(&owned_key);
            }
            reply
        });
        let pending = async move {
            task.await
                .unwrap_or_else(|e| Reply::of(NodeOutcome::Error(format!("node task ended: {e}"))))
        }
        .boxed()
        .shared();
        queue.tails.insert(key.to_string(), (id, pending.clone()));
        pending
    }

    /// The last command of every key still queued or in flight.
    pub fn tails(&self) -> Vec<Pending> {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.tails.values().map(|(_, p)| p.clone()).collect()
    }

    /// Keys with commands still queued or in flight (for leak tests).
    pub fn queued_keys(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tails
            .len()
    }

    /// One command with the node timeout. A reply read after the timeout
    /// counts as a timeout even when it arrived in time: on a starved runtime
    /// the reply may sit unread while the timer cannot fire, and accepting it
    /// would stretch the time the acquisition believes it took.
    async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<T, NodeOutcome> {
        let sent = Instant::now();
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(_)) if sent.elapsed() > self.timeout => Err(NodeOutcome::Timeout),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(NodeOutcome::Error(e.to_string())),
            Err(_) => Err(NodeOutcome::Timeout),
        }
    }

    /// Plain `SET key value NX PX ttl`: the same command every Redlock
    /// implementation sends, so locks interoperate across libraries.
    pub async fn set_nx(&self, key: &str, value: &str, ttl_ms: u64) -> Reply {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("NX").arg("PX").arg(ttl_ms);
        match self.timed(cmd.query_async::<Value>(&mut conn)).await {
            Ok(Value::Okay) => Reply::of(NodeOutcome::Ok),
            Ok(Value::Nil) => Reply::of(NodeOutcome::Held(None)),
            Ok(other) => Reply::of(NodeOutcome::Error(format!(
                "unexpected reply to SET: {other:?}"
            ))),
            Err(o) => Reply::of(o),
        }
    }

    /// Fenced acquire, round 1, as one pipeline (one round trip, no Lua):
    /// `SET key value NX PX ttl GET` (sets, or returns the holder) and
    /// `ZSCORE fence_key counter` (this node's fencing counter). Servers older
    /// than Redis 7.0 refuse NX with GET and get `SET NX PX` + `GET` instead.
    /// The commands need not be atomic: see docs/fencing.md.
    pub async fn acquire_fenced(
        &self,
        key: &str,
        fence_key: &str,
        value: &str,
        ttl_ms: u64,
    ) -> Reply {
        if !self.legacy_set_get.load(Ordering::Relaxed) {
            let mut conn = self.conn.clone();
            let mut pipe = redis::pipe();
            pipe.cmd("SET")
                .arg(key)
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .arg("GET");
            pipe.cmd("ZSCORE").arg(fence_key).arg(scripts::FENCE_MEMBER);
            let reply = self
                .timed(pipe.query_async::<(Option<String>, Option<String>)>(&mut conn))
                .await;
            match reply {
                Ok((None, counter)) => return counted(counter.as_deref()),
                Ok((Some(holder), _)) => return Reply::of(NodeOutcome::Held(Some(holder))),
                Err(NodeOutcome::Error(e)) if refused_as_syntax(&e) => {
                    tracing::info!(node = %self.name, "server refuses SET NX GET (Redis < 7.0); using SET + GET");
                    self.legacy_set_get.store(true, Ordering::Relaxed);
                }
                Err(o) => return Reply::of(o),
            }
        }
        self.acquire_fenced_legacy(key, fence_key, value, ttl_ms)
            .await
    }

    async fn acquire_fenced_legacy(
        &self,
        key: &str,
        fence_key: &str,
        value: &str,
        ttl_ms: u64,
    ) -> Reply {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms);
        pipe.cmd("GET").arg(key);
        pipe.cmd("ZSCORE").arg(fence_key).arg(scripts::FENCE_MEMBER);
        let reply = self
            .timed(pipe.query_async::<(Value, Option<String>, Option<String>)>(&mut conn))
            .await;
        match reply {
            Ok((Value::Okay, _, counter)) => counted(counter.as_deref()),
            Ok((Value::Nil, holder, _)) => Reply::of(NodeOutcome::Held(holder)),
            Ok((other, _, _)) => Reply::of(NodeOutcome::Error(format!(
                "unexpected reply to SET: {other:?}"
            ))),
            Err(o) => Reply::of(o),
        }
    }

    /// Fenced acquire, round 2: raise this node's counter to `token` unless it
    /// is already higher. `ZADD GT` is an atomic max (Redis >= 6.2); older
    /// servers reject the flag and get the same operation as a script.
    pub async fn raise_fence(&self, fence_key: &str, token: u64) -> Reply {
        let mut conn = self.conn.clone();
        if !self.legacy_zadd.load(Ordering::Relaxed) {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(fence_key)
                .arg("GT")
                .arg(token)
                .arg(scripts::FENCE_MEMBER);
            match self.timed(cmd.query_async::<i64>(&mut conn)).await {
                Ok(_) => return Reply::of(NodeOutcome::Ok),
                Err(NodeOutcome::Error(e)) if refused_as_syntax(&e) => {
                    tracing::info!(node = %self.name, "server lacks ZADD GT (Redis < 6.2); using a script");
                    self.legacy_zadd.store(true, Ordering::Relaxed);
                }
                Err(o) => return Reply::of(o),
            }
        }
        let script = &*scripts::RAISE_FENCE;
        let mut call = script.call(fence_key);
        call.arg(token);
        Reply::of(self.flag(script.run::<i64>(&call, &mut conn)).await)
    }

    pub async fn extend(&self, key: &str, value: &str, ttl_ms: u64) -> Reply {
        let mut conn = self.conn.clone();
        let script = &*scripts::EXTEND;
        let mut call = script.call(key);
        call.arg(value).arg(ttl_ms);
        Reply::of(self.flag(script.run::<i64>(&call, &mut conn)).await)
    }

    pub async fn release(&self, key: &str, value: &str) -> Reply {
        let mut conn = self.conn.clone();
        let script = &*scripts::RELEASE;
        let mut call = script.call(key);
        call.arg(value);
        Reply::of(self.flag(script.run::<i64>(&call, &mut conn)).await)
    }

    /// 1 -> Ok, 0 -> NotHeld.
    async fn flag(
        &self,
        f: impl std::future::Future<Output = Result<i64, RedisError>>,
    ) -> NodeOutcome {
        match self.timed(f).await {
            Ok(1) => NodeOutcome::Ok,
            Ok(_) => NodeOutcome::NotHeld,
            Err(o) => o,
        }
    }

    /// GET, for "who holds this": Ok(None) when absent.
    pub async fn get(&self, key: &str) -> Result<Option<String>, NodeOutcome> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        self.timed(cmd.query_async::<Option<String>>(&mut conn))
            .await
    }

    pub async fn publish(&self, channel: &str, message: &str) -> NodeOutcome {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(message);
        match self.timed(cmd.query_async::<i64>(&mut conn)).await {
            Ok(_) => NodeOutcome::Ok,
            Err(o) => o,
        }
    }

    /// Subscribes to `channel` on a connection of its own and calls `on_message`
    /// for every message until the connection fails (the caller reconnects).
    pub async fn watch_channel(
        &self,
        channel: &str,
        mut on_message: impl FnMut(&[u8]),
    ) -> Result<(), RedisError> {
        use futures::StreamExt;
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            on_message(msg.get_payload_bytes());
        }
        Ok(())
    }

    /// Test hook: behave as with a server older than Redis 6.2 (no
    /// `SET NX GET`, no `ZADD GT`), to exercise the fallbacks.
    pub fn assume_legacy_server(&self) {
        self.legacy_set_get.store(true, Ordering::Relaxed);
        self.legacy_zadd.store(true, Ordering::Relaxed);
    }

    /// True once the node uses a fallback command form.
    pub fn uses_legacy_commands(&self) -> bool {
        self.legacy_set_get.load(Ordering::Relaxed) || self.legacy_zadd.load(Ordering::Relaxed)
    }

    /// Connects and loads the scripts, so that the first real operation
    /// costs one round trip instead of three. Best effort.
    pub async fn warm_up(&self) {
        let mut conn = self.conn.clone();
        for script in [
            &*scripts::RELEASE,
            &*scripts::EXTEND,
            &*scripts::RAISE_FENCE,
        ] {
            if let Err(e) = script.load(&mut conn).await {
                tracing::debug!(node = %self.name, error = %e, "warm-up failed; the node is retried on use");
                return;
            }
        }
    }

    pub async fn ping(&self) -> NodeOutcome {
        let mut conn = self.conn.clone();
        match self
            .timed(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
        {
            Ok(_) => NodeOutcome::Ok,
            Err(o) => o,
        }
    }
}

/// True when a server refused a command form it does not know (an older
/// Redis answers `ERR syntax error` to `SET ... NX GET` and `ZADD ... GT`).
/// Other errors, WRONGTYPE among them, are the key's problem, not the
/// server's age, and must not switch the node to the fallback forms.
fn refused_as_syntax(error: &str) -> bool {
    error.to_ascii_lowercase().contains("syntax error") && !error.contains("WRONGTYPE")
}

/// The reply of a node that granted a fenced acquisition.
fn counted(score: Option<&str>) -> Reply {
    match parse_counter(score) {
        Ok(c) => Reply {
            outcome: NodeOutcome::Ok,
            counter: Some(c),
        },
        Err(e) => Reply::of(NodeOutcome::Error(e)),
    }
}

/// A ZSCORE reply as a counter: absent is 0. Scores are doubles; counters
/// stay far below 2^53, where doubles are exact.
fn parse_counter(score: Option<&str>) -> Result<u64, String> {
    match score {
        None => Ok(0),
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < 9_007_199_254_740_992.0)
            .map(|f| f as u64)
            .ok_or_else(|| format!("fencing counter is not a count: {s:?}")),
    }
}

/// The URL with any password replaced, for error messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_syntax_errors_mean_an_old_server() {
        assert!(super::refused_as_syntax("ERR syntax error"));
        assert!(!super::refused_as_syntax(
            "WRONGTYPE: Operation against a key holding the wrong kind of value"
        ));
        assert!(!super::refused_as_syntax("ERR value is not a valid float"));
    }

    #[test]
    fn redact_hides_credentials() {
        assert_eq!(super::redact("redis://u:secret@h:1/0"), "redis://***@h:1/0");
        assert_eq!(super::redact("redis://h:1"), "redis://h:1");
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[tokio::test]
    async fn every_documented_url_form_parses() {
        let t = Duration::from_millis(50);
        for url in [
            "redis://127.0.0.1:6379",
            "redis://user:secret@127.0.0.1:6379/2",
            "rediss://example.com:6380",
            "redis+unix:///run/redis.sock",
            "unix:///run/redis.sock",
        ] {
            let node = Node::new(url, t, t, None).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(!node.name.contains("secret"), "{}", node.name);
        }
        for bad in ["", "   ", "http://h:1", "redis://h:port", "not a url"] {
            let e = Node::new(bad, t, t, None)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(e.is_invalid_argument());
            assert!(!e.to_string().contains("secret"));
        }
        let e = Node::new("redis://u:secret@h:notaport", t, t, None)
            .err()
            .unwrap();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
