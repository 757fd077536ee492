//! The client: N nodes, a quorum, and the acquire algorithm.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Config;
use crate::connection::{Dialing, NodeKind};
use crate::error::{Error, NodeOutcome, Outcomes, Result};
use crate::fencing::{self, FencingToken};
use crate::lock::{Acquired, AutoExtend, Lock};
use crate::node::{Node, Pending, Reply};
use crate::nodeset::NodeSet;
use crate::quorum::{Quorum, Verdict};
use crate::telemetry;
use crate::validate::{self, bounded};
use crate::wake::ReleaseWaker;
use crate::{lock_value, random, validity};

// The election reads holders through this path; `lock_value` owns it.
pub(crate) use crate::lock_value::owner_of;

/// Options of one acquisition.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LockOptions {
    /// Also obtain a fencing token (one more round trip; see docs/fencing.md).
    pub fenced: bool,
    /// A label stored in the key's value (`<token>:<owner>`, see
    /// [`lock_value`](crate::lock_value)), so that anyone can ask who holds
    /// the resource. UTF-8, at most 256 bytes, no NUL.
    pub owner: Option<String>,
    /// Keep extending the lock in the background (off by default).
    pub auto_extend: Option<AutoExtend>,
}

impl LockOptions {
    pub fn fenced() -> LockOptions {
        LockOptions {
            fenced: true,
            ..Default::default()
        }
    }
    pub fn with_owner(mut self, owner: impl Into<String>) -> LockOptions {
        self.owner = Some(owner.into());
        self
    }
    pub fn with_auto_extend(mut self, auto: AutoExtend) -> LockOptions {
        self.auto_extend = Some(auto);
        self
    }
}

pub(crate) struct Shared_ {
    pub nodes: NodeSet,
    pub config: Config,
}

/// A Redlock client over N independent Redis masters.
///
/// Cheap to clone; clones share the node connections. Build it inside a tokio
/// runtime: the connections and background work live on that runtime.
#[derive(Clone)]
pub struct Redlock {
    pub(crate) shared: Arc<Shared_>,
}

impl std::fmt::Debug for Redlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redlock")
            .field("nodes", &self.shared.nodes.names())
            .field("quorum", &self.shared.nodes.quorum().size())
            .finish()
    }
}

impl Redlock {
    /// Validates the configuration and the node URLs
    /// (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS,
    /// `redis+unix:///path`; a Redis Cluster as one node,
    /// `redis+cluster://h1:p1,h2:p2`; a Sentinel-managed master as one node,
    /// `redis+sentinel://s1:p1,s2:p2/<master name>`: docs/deployment.md).
    /// Connections are made lazily and kept; a node that
    /// is down now is retried in the background and never delays an operation
    /// by more than `node_timeout`.
    pub fn new<S: AsRef<str>>(node_urls: &[S], config: Config) -> Result<Redlock> {
        config.validate()?;
        if node_urls.is_empty() {
            return Err(Error::invalid("at least one node URL is required"));
        }
        crate::tls::check_provider(node_urls)?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::invalid("Redlock::new must be called within a tokio runtime"))?;
        let dialing = Dialing {
            connect_timeout: config.connect_timeout,
            command_timeout: config.node_timeout,
            tls: config.tls.clone(),
        };
        let nodes = node_urls
            .iter()
            .map(|u| Node::new(u.as_ref(), &dialing))
            .collect::<Result<Vec<_>>>()?;
        if !config.key_format.hash_tag && nodes.iter().any(|n| n.kind() == NodeKind::Cluster) {
            // The fenced acquisition reads the fencing key in the same
            // pipeline that sets the lock key; on a cluster both must hash
            // to one slot, which only the hash tag guarantees.
            return Err(Error::invalid(
                "key_format.hash_tag must be true with a Redis Cluster node \
                 (redis+cluster://): the lock key and its fencing key must share a slot",
            ));
        }
        for node in &nodes {
            let node = node.clone();
            runtime.spawn(async move { node.warm_up().await });
        }
        Ok(Redlock {
            shared: Arc::new(Shared_ {
                nodes: NodeSet::new(nodes, runtime),
                config,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn quorum(&self) -> Quorum {
        self.shared.nodes.quorum()
    }

    pub(crate) fn nodes(&self) -> &NodeSet {
        &self.shared.nodes
    }

    /// Node addresses, in the order given (no passwords).
    pub fn node_names(&self) -> Vec<String> {
        self.shared.nodes.names()
    }

    /// The Redis key that holds a resource's lock.
    pub fn lock_key(&self, resource: &str) -> String {
        self.shared.config.key_format.lock_key(resource)
    }

    /// One attempt: the lock, or `NotAcquired` (held elsewhere) or
    /// `Connection` (fewer than a quorum answered), each with per-node outcomes.
    ///
    /// # Cancel safety
    /// The attempt runs as a task of its own: dropping the future (a timeout,
    /// `select!`, Ctrl-C in a binding) lets it finish, and a lock nobody
    /// waits for any more is released at once, so no key outlives the
    /// cancellation by more than a few node round trips.
    pub async fn try_acquire(&self, resource: &str, ttl: Duration) -> Result<Lock> {
        self.try_acquire_with(resource, ttl, &LockOptions::default())
            .await
    }

    /// [`try_acquire`](Redlock::try_acquire) with options. Same cancel safety.
    pub async fn try_acquire_with(
        &self,
        resource: &str,
        ttl: Duration,
        opts: &LockOptions,
    ) -> Result<Lock> {
        self.check(resource, ttl, opts)?;
        let start = Instant::now();
        let result = self.attempt(resource, ttl, opts).await;
        telemetry::acquire_finished(start.elapsed(), opts.fenced, &result);
        result
    }

    /// Retries with randomized delays (`retry_delay` + up to `retry_jitter`)
    /// until the lock is acquired, `wait` is spent, or `retry_count` attempts
    /// were made. The last failure is returned.
    ///
    /// While it waits (with a retry delay of 20 ms or more) it listens to
    /// the resource's release announcements (one pub/sub connection per
    /// node, closed when it returns) and
    /// attempts again as soon as a quorum of nodes announced a release, so
    /// a released lock passes to a waiter within about one round trip. The
    /// first wait ends once the subscriptions are confirmed, with one more
    /// attempt, so that a release in between is not missed. A wake-up is
    /// only a hint: every attempt goes through the quorum.
    ///
    /// # Cancel safety
    /// As [`try_acquire`](Redlock::try_acquire): an attempt in flight
    /// completes and cleans up after itself.
    pub async fn acquire(&self, resource: &str, ttl: Duration, wait: Duration) -> Result<Lock> {
        self.acquire_with(resource, ttl, wait, &LockOptions::default())
            .await
    }

    /// [`acquire`](Redlock::acquire) with options. Same cancel safety.
    pub async fn acquire_with(
        &self,
        resource: &str,
        ttl: Duration,
        wait: Duration,
        opts: &LockOptions,
    ) -> Result<Lock> {
        self.check(resource, ttl, opts)?;
        bounded("wait", wait)?;
        let start = Instant::now();
        let result = self.retry(resource, ttl, start + wait, opts).await;
        telemetry::acquire_finished(start.elapsed(), opts.fenced, &result);
        result
    }

    async fn retry(
        &self,
        resource: &str,
        ttl: Duration,
        give_up: Instant,
        opts: &LockOptions,
    ) -> Result<Lock> {
        let cfg = &self.shared.config;
        let mut attempts = 0u32;
        let mut waker: Option<ReleaseWaker> = None;
        loop {
            attempts += 1;
            let err = match self.attempt(resource, ttl, opts).await {
                Ok(lock) => return Ok(lock),
                Err(e) if e.is_retryable() => e,
                Err(e) => return Err(e),
            };
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() || cfg.retry_count.is_some_and(|n| attempts >= n) {
                tracing::debug!(resource, attempts, "acquire gave up");
                return Err(err);
            }
            let delay = (cfg.retry_delay + random::jitter(cfg.retry_jitter)).min(left);
            let sleep = tokio::time::sleep(delay);
            match &waker {
                None if !ReleaseWaker::worthwhile(cfg.retry_delay) => sleep.await,
                None => {
                    let w = waker.insert(ReleaseWaker::listen(self, resource));
                    tokio::select! {
                        _ = sleep => {}
                        _ = w.subscribed() => {}
                        _ = w.released() => {}
                    }
                }
                Some(w) => tokio::select! {
                    _ = sleep => {}
                    _ = w.released() => {}
                },
            }
        }
    }

    fn check(&self, resource: &str, ttl: Duration, opts: &LockOptions) -> Result<()> {
        validate::resource(resource)?;
        self.shared.config.check_ttl(ttl)?;
        if let Some(owner) = &opts.owner {
            lock_value::check_owner(owner)?;
        }
        if let Some(auto) = &opts.auto_extend {
            auto.validate(ttl, &self.shared.config)?;
        }
        Ok(())
    }

    /// One attempt, as a task of its own (see the cancel safety notes).
    async fn attempt(&self, resource: &str, ttl: Duration, opts: &LockOptions) -> Result<Lock> {
        let attempt = Attempt {
            client: self.clone(),
            resource: resource.to_string(),
            key: self.lock_key(resource),
            fence_key: self.shared.config.key_format.fence_key(resource),
            value: lock_value::new(opts.owner.as_deref())?,
            ttl,
            opts: opts.clone(),
            unsure: unsure(self.shared.nodes.quorum().nodes()),
        };
        self.shared
            .nodes
            .runtime()
            .spawn(attempt.run())
            .await
            .map_err(|e| Error::Internal(format!("acquire task ended: {e}")))?
    }

    /// The value that a quorum of nodes holds for a resource's lock key, if
    /// any: `<token>` or `<token>:<owner>`.
    pub async fn holder_value(&self, resource: &str) -> Result<Option<String>> {
        validate::resource(resource)?;
        let key = self.lock_key(resource);
        let nodes = &self.shared.nodes;
        let results = nodes.each(|n| n.get(&key)).await;
        let values: Vec<Option<String>> = results.iter().filter_map(|r| r.clone().ok()).collect();
        let q = nodes.quorum().size();
        if values.len() < q {
            let outcomes = nodes.report(results.into_iter().map(|r| match r {
                Ok(_) => NodeOutcome::Ok,
                Err(o) => o,
            }));
            return Err(Error::Connection {
                message: format!("{resource}: fewer than {q} nodes answered"),
                outcomes,
            });
        }
        Ok(majority(values.iter().flatten().map(String::as_str), q).map(str::to_string))
    }

    /// Who holds a resource: the owner label of the value a quorum agrees on
    /// (None when nobody holds it on a quorum, or the holder set no owner).
    pub async fn holder(&self, resource: &str) -> Result<Option<String>> {
        Ok(self
            .holder_value(resource)
            .await?
            .and_then(|v| lock_value::owner_of(&v).map(str::to_string)))
    }

    /// PING every node; returns per-node outcomes (for health checks).
    pub async fn ping(&self) -> Outcomes {
        let nodes = &self.shared.nodes;
        let res = nodes.each(|n| n.ping()).await;
        nodes.report(res.into_iter())
    }

    /// Test hook: use the command forms for servers older than Redis 6.2 on
    /// every node (the fallbacks otherwise chosen when a server refuses).
    #[doc(hidden)]
    pub fn assume_legacy_servers(&self) {
        for n in self.shared.nodes.iter() {
            n.assume_legacy_server();
        }
    }

    /// Test hook: how many nodes switched to the fallback command forms.
    #[doc(hidden)]
    pub fn nodes_on_legacy_commands(&self) -> usize {
        self.shared
            .nodes
            .iter()
            .filter(|n| n.uses_legacy_commands())
            .count()
    }

    /// Waits until every command this client has sent so far has settled on
    /// every node (answered or timed out), at most `within`; true when they
    /// all did. Operations return at the quorum and finish on the other nodes
    /// in the background: call this before a short-lived process exits, so
    /// that a release reaches the minority nodes instead of leaving its key
    /// there until the ttl. (Deletes repeated on nodes with an unknown outcome
    /// run on for up to a ttl and are not waited for.)
    pub async fn settled(&self, within: Duration) -> bool {
        let tails: Vec<Pending> = self.shared.nodes.iter().flat_map(|n| n.tails()).collect();
        tokio::time::timeout(within, futures::future::join_all(tails))
            .await
            .is_ok()
    }

    /// Test hook: keys with commands still queued or in flight, summed over
    /// the nodes (0 once every operation settled: the queues keep nothing).
    #[doc(hidden)]
    pub fn queued_keys(&self) -> usize {
        self.shared.nodes.iter().map(|n| n.queued_keys()).sum()
    }

    /// The latency floor of any quorum operation: PING every node in
    /// parallel, through the same per-node connections and tasks as a lock
    /// operation, and time the quorum-th reply.
    #[doc(hidden)]
    pub async fn quorum_round_trip(&self) -> Duration {
        let start = Instant::now();
        let nodes = &self.shared.nodes;
        let pings = nodes.send(
            "redlead:ping",
            |_, n| async move { Reply::of(n.ping().await) },
        );
        nodes.gather(&pings).await;
        start.elapsed()
    }
}

/// One acquisition attempt: the Redlock steps, each named.
struct Attempt {
    client: Redlock,
    resource: String,
    key: String,
    fence_key: String,
    value: String,
    ttl: Duration,
    opts: LockOptions,
    unsure: Unsure,
}

impl Attempt {
    async fn run(self) -> Result<Lock> {
        let nodes = &self.client.shared.nodes;
        let cfg = &self.client.shared.config;
        let start = Instant::now();
        let taken = self.take_keys();
        let (replies, verdict) = nodes.gather(&taken).await;
        let mut outcomes = nodes.outcomes(&replies);
        let mut fencing_token = None;
        let mut failure = None;
        if verdict != Verdict::Reached {
            failure = Some("no quorum granted the lock".to_string());
        } else if self.opts.fenced {
            let token = fencing::next_token(&replies);
            let raised = fencing::raise(nodes, &self.key, &self.fence_key, &taken, token);
            let (raise_replies, v2) = nodes.gather(&raised).await;
            if v2 == Verdict::Reached {
                fencing_token = Some(FencingToken(token));
            } else {
                outcomes = nodes.outcomes(&raise_replies);
                failure = Some(
                    "the fencing counter could not be raised on a quorum of the nodes that granted the lock"
                        .to_string(),
                );
            }
        }
        let deadline = validity::deadline(start, self.ttl, cfg);
        let least = validity::least_to_succeed(self.ttl, cfg);
        let left = deadline.saturating_duration_since(Instant::now());
        if failure.is_none() && left < least {
            failure = Some(format!(
                "only {left:?} of validity was left after acquiring, less than the safety margin {least:?}"
            ));
        }
        if let Some(why) = failure {
            self.undo(&taken).await;
            let q = nodes.quorum();
            let message = format!(
                "{}: {why} (quorum {} of {})",
                self.resource,
                q.size(),
                q.nodes()
            );
            tracing::debug!(%message, %outcomes, "acquire failed");
            return Err(if q.unreachable(&outcomes) {
                Error::Connection { message, outcomes }
            } else {
                Error::NotAcquired { message, outcomes }
            });
        }
        Ok(Lock::new(
            self.client.clone(),
            Acquired {
                resource: self.resource,
                key: self.key,
                value: self.value,
                ttl: self.ttl,
                deadline,
                fencing_token,
                outcomes,
                auto_extend: self.opts.auto_extend,
                unsure: self.unsure.clone(),
            },
        ))
    }

    /// Step 1: `SET key value NX PX ttl` on every node (fenced: with the
    /// node's fencing counter read in the same pipeline).
    fn take_keys(&self) -> Vec<Pending> {
        let ttl_ms = self.ttl.as_millis() as u64;
        let fenced = self.opts.fenced;
        self.client.shared.nodes.send(&self.key, |i, node| {
            let (key, fence_key, value) =
                (self.key.clone(), self.fence_key.clone(), self.value.clone());
            let unsure = self.unsure.clone();
            async move {
                let reply = if fenced {
                    node.acquire_fenced(&key, &fence_key, &value, ttl_ms).await
                } else {
                    node.set_nx(&key, &value, ttl_ms).await
                };
                note_unsure(&unsure, i, &reply);
                reply
            }
        })
    }

    /// A failed attempt deletes its key wherever it may be, each node after
    /// its own SET, and waits for that, so the caller never returns with keys
    /// behind. A node that answered "held by another" cannot hold our fresh
    /// random value and is skipped.
    async fn undo(&self, taken: &[Pending]) {
        let nodes = &self.client.shared.nodes;
        let ttl = self.ttl;
        let undo = nodes.send(&self.key, |i, node| {
            let (key, value, taken) = (self.key.clone(), self.value.clone(), taken[i].clone());
            let runtime = nodes.runtime().clone();
            async move {
                let taken = taken.await;
                if matches!(taken.outcome, NodeOutcome::Held(_)) {
                    return Reply::of(NodeOutcome::NotHeld);
                }
                let unsure = !taken.outcome.is_answer();
                release_on(&node, &runtime, &key, &value, ttl, unsure, None).await
            }
        });
        nodes.settle(&undo).await;
    }
}

/// Per node: was the outcome of any command that may have set this lock's
/// key there unknown (a timeout, a connection error)? Such a command may
/// still run later — a command written to a connection that was then
/// replaced can reach the server after commands on the new one.
pub(crate) type Unsure = Arc<[AtomicBool]>;

pub(crate) fn unsure(nodes: usize) -> Unsure {
    (0..nodes).map(|_| AtomicBool::new(false)).collect()
}

/// Records an unknown outcome of a command that may set the key on node `i`.
pub(crate) fn note_unsure(unsure: &Unsure, i: usize, reply: &Reply) {
    if !reply.outcome.is_answer() {
        unsure[i].store(true, Ordering::Release);
    }
}

/// Compare-and-delete on node `i`. When the delete's own outcome is unknown,
/// or a command that may set our key there had an unknown outcome, the
/// delete is sent again, through the key's queue, with growing delays (50 ms
/// doubling to 1 s) until the ttl has passed: a late `SET` of ours then finds
/// itself deleted within a second instead of blocking others for a whole
/// ttl. Deleting our own value again is always harmless: no one else ever
/// holds it. `announce` (channel, message) is published by the first
/// delete once the key is free on the node; the repeated deletes announce
/// nothing.
pub(crate) async fn release_on(
    node: &Arc<Node>,
    runtime: &tokio::runtime::Handle,
    key: &str,
    value: &str,
    ttl: Duration,
    was_unsure: bool,
    announce: Option<(&str, &str)>,
) -> Reply {
    let reply = match announce {
        Some((channel, message)) => node.release_announced(key, value, channel, message).await,
        None => node.release(key, value).await,
    };
    if was_unsure || !reply.outcome.is_answer() {
        let (node2, rt, key, value) = (
            node.clone(),
            runtime.clone(),
            key.to_string(),
            value.to_string(),
        );
        runtime.spawn(async move {
            let give_up = Instant::now() + ttl;
            let mut delay = Duration::from_millis(50);
            let mut deleted = 0;
            while Instant::now() + delay < give_up {
                tokio::time::sleep(delay).await;
                let (n, k, v) = (node2.clone(), key.clone(), value.clone());
                let again = node2
                    .enqueue(&rt, &key, async move { n.release(&k, &v).await })
                    .await;
                if again.outcome == NodeOutcome::Ok {
                    deleted += 1;
                    tracing::info!(node = %node2.name, key, "deleted a late key of a released lock");
                }
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            tracing::debug!(node = %node2.name, key, deleted, "delete retries over");
        });
    }
    reply
}

/// The value that at least `q` of the values equal, if any.
pub(crate) fn majority<'a>(values: impl Iterator<Item = &'a str>, q: usize) -> Option<&'a str> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in values {
        match counts.iter_mut().find(|(x, _)| *x == v) {
            Some((_, c)) => *c += 1,
            None => counts.push((v, 1)),
        }
    }
    counts.into_iter().find(|(_, c)| *c >= q).map(|(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_needs_quorum_equal_values() {
        assert_eq!(majority(["a", "a", "b"].into_iter(), 2), Some("a"));
        assert_eq!(majority(["a", "b", "c"].into_iter(), 2), None);
    }
}
