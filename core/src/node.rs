//! One Redlock node and the commands Redlock sends it.
//!
//! A node is one server, a Redis Cluster or a Sentinel-managed master; its
//! [`Connection`] (connection/) hides which, and keeps one multiplexed
//! connection per server, which reconnects in the background. Commands on it
//! reach the server in the order they were issued. On top of that, every command of this client for a
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

use redis::{RedisError, Value};
use tokio::time::Instant;

use crate::connection::{redact, Connection, Dialing, NodeKind, NodeUrl};
use crate::error::{Error, NodeOutcome, Result};
use crate::round::{self, Round};
use crate::scripts;

pub(crate) use crate::round::Pending;

/// The client's last unsettled command per key on one node.
#[derive(Default)]
struct Queue {
    next_id: u64,
    tails: HashMap<Arc<str>, (u64, Pending)>,
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
    reply_keys: crate::telemetry::NodeReplyKeys,
    /// Set once the server refused `ZADD GT`.
    legacy_zadd: AtomicBool,
    /// Set once the server refused `SET ... NX GET` (Redis < 7.0).
    legacy_set_get: AtomicBool,
    conn: Connection,
    timeout: Duration,
    queue: Mutex<Queue>,
}

impl Node {
    /// Parses the URL (any form of docs/deployment.md) and prepares a lazy
    /// connection: nothing is dialled here, so a node that is down at start
    /// costs nothing until it comes back.
    pub fn new(url: &str, dialing: &Dialing) -> Result<Arc<Node>> {
        let parsed = NodeUrl::parse(url).map_err(Error::invalid)?;
        let name = parsed.name(url);
        let conn = Connection::open(parsed, dialing)
            .map_err(|e| Error::invalid(format!("node {}: {e}", redact(url))))?;
        Ok(Arc::new(Node {
            reply_keys: crate::telemetry::NodeReplyKeys::new(&name),
            name,
            legacy_zadd: AtomicBool::new(false),
            legacy_set_get: AtomicBool::new(false),
            conn,
            timeout: dialing.command_timeout,
            queue: Mutex::new(Queue::default()),
        }))
    }

    /// A single server, a Redis Cluster, or a Sentinel-managed master.
    pub fn kind(&self) -> NodeKind {
        self.conn.kind()
    }

    /// Makes `pending` the last command for `key` on this node and returns
    /// `command` to run in its place: it starts once every command enqueued
    /// earlier for `key` on this node has settled (each is bounded by the
    /// node timeout), so its own timeout starts when it is sent. The caller
    /// runs the returned future in the round whose slot `pending` is.
    pub fn queue(
        self: &Arc<Self>,
        key: &Arc<str>,
        pending: Pending,
        command: impl Future<Output = Reply> + Send + 'static,
    ) -> impl Future<Output = Reply> + Send + 'static {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.next_id += 1;
        let id = queue.next_id;
        let previous = queue
            .tails
            .insert(key.clone(), (id, pending))
            .map(|(_, p)| p);
        drop(queue);
        let (node, key) = (self.clone(), key.clone());
        async move {
            if let Some(p) = previous {
                p.await;
            }
            let reply = command.await;
            crate::telemetry::node_replied(&node.reply_keys, &reply.outcome);
            let mut queue = node.queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.tails.get(&key).is_some_and(|(i, _)| *i == id) {
                queue.tails.remove(&key);
            }
            reply
        }
    }

    /// One command on this node alone, through its queue for `key` (see
    /// [`queue`](Node::queue)), run as a round of its own.
    pub fn enqueue(
        self: &Arc<Self>,
        runtime: &tokio::runtime::Handle,
        key: &str,
        command: impl Future<Output = Reply> + Send + 'static,
    ) -> Pending {
        let round = Round::new(1);
        let pending = round.pending(0);
        let queued = self.queue(&Arc::from(key), pending.clone(), command);
        round::spawn(runtime, &round, vec![queued]);
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

    /// [`release`](Node::release), and in the same script, once the key is
    /// free on this node (deleted, or absent), `PUBLISH channel message`:
    /// the announcement costs no round trip of its own.
    pub async fn release_announced(
        &self,
        key: &str,
        value: &str,
        channel: &str,
        message: &str,
    ) -> Reply {
        let mut conn = self.conn.clone();
        let script = &*scripts::RELEASE;
        let mut call = script.call(key);
        call.arg(value).arg(channel).arg(message);
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

    /// Subscribes to `channels` on a connection of its own, calls `subscribed`
    /// once the node confirmed them, then `on_message(channel, payload)` for
    /// every message until the connection fails (the caller reconnects).
    pub async fn watch_channels(
        &self,
        channels: &[String],
        subscribed: impl FnOnce(),
        on_message: impl FnMut(&str, &[u8]),
    ) -> Result<(), RedisError> {
        self.conn
            .watch_channels(channels, subscribed, on_message)
            .await
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
}

#[cfg(test)]
mod url_tests {
    use super::*;

    fn dialing() -> Dialing {
        Dialing {
            connect_timeout: Duration::from_millis(50),
            command_timeout: Duration::from_millis(50),
            tls: None,
        }
    }

    #[tokio::test]
    async fn every_documented_url_form_parses() {
        for (url, kind) in [
            ("redis://127.0.0.1:6379", NodeKind::Standalone),
            ("redis://user:secret@127.0.0.1:6379/2", NodeKind::Standalone),
            ("rediss://example.com:6380", NodeKind::Standalone),
            ("redis+unix:///run/redis.sock", NodeKind::Standalone),
            ("unix:///run/redis.sock", NodeKind::Standalone),
            (
                "redis+cluster://u:secret@10.0.0.1:7000,10.0.0.2:7000",
                NodeKind::Cluster,
            ),
            ("rediss+cluster://10.0.0.1:7000", NodeKind::Cluster),
            (
                "redis+sentinel://u:secret@10.0.0.1:26379,10.0.0.2/mymaster/1",
                NodeKind::Sentinel,
            ),
            (
                "rediss+sentinel://10.0.0.1/mymaster?sentinel_password=secret",
                NodeKind::Sentinel,
            ),
        ] {
            let node = Node::new(url, &dialing()).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(!node.name.contains("secret"), "{}", node.name);
            assert_eq!(node.kind(), kind, "{url}");
        }
        for bad in [
            "",
            "   ",
            "http://h:1",
            "redis://h:port",
            "not a url",
            "redis+cluster://",
            "redis+cluster://h:1,",
            "redis+sentinel://h:1",
            "redis+unix+cluster://h:1",
        ] {
            let e = Node::new(bad, &dialing())
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(e.is_invalid_argument());
        }
        for secret in [
            "redis://u:secret@h:notaport",
            "redis+cluster://u:secret@h:1,h:x",
            "redis+sentinel://u:secret@h:1/?sentinel_password=secret",
        ] {
            let e = Node::new(secret, &dialing()).err().unwrap();
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }
}
