//! The client: N nodes, a quorum, and the acquire algorithm.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{FuturesUnordered, StreamExt};
use rand::Rng;
use tokio::time::Instant;

use crate::config::{check_resource, Config, MAX_DURATION};
use crate::error::{Error, NodeOutcome, NodeReport, Outcomes, Result};
use crate::fencing::FencingToken;
use crate::lock::{AutoExtend, Lock};
use crate::node::{Node, Reply};
use crate::quorum::{Quorum, Verdict};

/// A node command already running as a task; cloneable so that the next
/// command for the same node can wait for it (see `Lock`'s per-node order).
pub(crate) type Pending = Shared<BoxFuture<'static, Reply>>;

/// Options of one acquisition.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LockOptions {
    /// Also obtain a fencing token (one more round trip; see docs/fencing.md).
    pub fenced: bool,
    /// A label stored in the key's value (`<token>:<owner>`), so that anyone can
    /// ask who holds the resource. UTF-8, at most 256 bytes, no NUL.
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

/// Longest owner label, in bytes.
pub const MAX_OWNER_LEN: usize = 256;

pub(crate) struct Shared_ {
    pub nodes: Vec<Arc<Node>>,
    pub quorum: Quorum,
    pub config: Config,
    pub runtime: tokio::runtime::Handle,
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
        let names: Vec<&str> = self.shared.nodes.iter().map(|n| n.name.as_str()).collect();
        f.debug_struct("Redlock")
            .field("nodes", &names)
            .field("quorum", &self.shared.quorum.size())
            .finish()
    }
}

impl Redlock {
    /// Validates the configuration and the node URLs
    /// (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS,
    /// `redis+unix:///path`). Connections are made lazily and kept; a node that
    /// is down now is retried in the background and never delays an operation
    /// by more than `node_timeout`.
    pub fn new<S: AsRef<str>>(node_urls: &[S], config: Config) -> Result<Redlock> {
        config.validate()?;
        if node_urls.is_empty() {
            return Err(Error::invalid("at least one node URL is required"));
        }
        // rustls needs a process-wide crypto provider for rediss:// nodes;
        // install ours unless the application already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::invalid("Redlock::new must be called within a tokio runtime"))?;
        let nodes = node_urls
            .iter()
            .map(|u| {
                Node::new(
                    u.as_ref(),
                    config.node_timeout,
                    config.connect_timeout,
                    config.tls.as_ref(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let quorum = Quorum::new(nodes.len());
        for node in &nodes {
            let node = node.clone();
            runtime.spawn(async move { node.warm_up().await });
        }
        Ok(Redlock {
            shared: Arc::new(Shared_ {
                nodes,
                quorum,
                config,
                runtime,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn quorum(&self) -> Quorum {
        self.shared.quorum
    }

    /// Node addresses, in the order given (no passwords).
    pub fn node_names(&self) -> Vec<String> {
        self.shared.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The Redis key that holds a resource's lock.
    pub fn lock_key(&self, resource: &str) -> String {
        self.shared.config.key_format.lock_key(resource)
    }

    /// One attempt: the lock, or `NotAcquired` (held elsewhere) or
    /// `Connection` (fewer than a quorum answered), each with per-node outcomes.
    ///
    /// # Cancel safety
    /// Dropping the future before it completes leaves no lock behind for longer
    /// than the ttl; node commands already sent finish in the background.
    pub async fn try_acquire(&self, resource: &str, ttl: Duration) -> Result<Lock> {
        self.try_acquire_with(resource, ttl, &LockOptions::default())
            .await
    }

    pub async fn try_acquire_with(
        &self,
        resource: &str,
        ttl: Duration,
        opts: &LockOptions,
    ) -> Result<Lock> {
        self.check(resource, ttl, opts)?;
        self.attempt(resource, ttl, opts).await
    }

    /// Retries with randomized delays (`retry_delay` + up to `retry_jitter`)
    /// until the lock is acquired, `wait` is spent, or `retry_count` attempts
    /// were made. The last failure is returned.
    pub async fn acquire(&self, resource: &str, ttl: Duration, wait: Duration) -> Result<Lock> {
        self.acquire_with(resource, ttl, wait, &LockOptions::default())
            .await
    }

    pub async fn acquire_with(
        &self,
        resource: &str,
        ttl: Duration,
        wait: Duration,
        opts: &LockOptions,
    ) -> Result<Lock> {
        self.check(resource, ttl, opts)?;
        if wait > MAX_DURATION {
            return Err(Error::invalid(format!(
                "wait must be at most 24 h, got {wait:?}"
            )));
        }
        let cfg = &self.shared.config;
        let give_up = Instant::now() + wait;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let err = match self.attempt(resource, ttl, opts).await {
                Ok(lock) => return Ok(lock),
                Err(e) if e.is_not_acquired() || e.is_quorum_unreachable() => e,
                Err(e) => return Err(e),
            };
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() || cfg.retry_count.is_some_and(|n| attempts >= n) {
                tracing::debug!(resource, attempts, "acquire gave up");
                return Err(err);
            }
            let jitter = if cfg.retry_jitter.is_zero() {
                Duration::ZERO
            } else {
                rand::rng().random_range(Duration::ZERO..=cfg.retry_jitter)
            };
            tokio::time::sleep((cfg.retry_delay + jitter).min(left)).await;
        }
    }

    fn check(&self, resource: &str, ttl: Duration, opts: &LockOptions) -> Result<()> {
        check_resource(resource)?;
        self.shared.config.check_ttl(ttl)?;
        if let Some(owner) = &opts.owner {
            check_owner(owner)?;
        }
        if let Some(auto) = &opts.auto_extend {
            auto.validate(ttl, &self.shared.config)?;
        }
        Ok(())
    }

    async fn attempt(&self, resource: &str, ttl: Duration, opts: &LockOptions) -> Result<Lock> {
        let cfg = &self.shared.config;
        let key = cfg.key_format.lock_key(resource);
        let fence_key = cfg.key_format.fence_key(resource);
        let token = new_token();
        let value = match &opts.owner {
            Some(owner) => format!("{token}:{owner}"),
            None => token,
        };
        let ttl_ms = ttl.as_millis() as u64;
        let drift = cfg.drift(ttl);
        let start = Instant::now();

        let chains: Vec<Pending> = self
            .shared
            .nodes
            .iter()
            .map(|node| {
                let (node, key, fence_key, value) =
                    (node.clone(), key.clone(), fence_key.clone(), value.clone());
                let fenced = opts.fenced;
                self.spawn(async move {
                    if fenced {
                        node.acquire_fenced(&key, &fence_key, &value, ttl_ms).await
                    } else {
                        node.set_nx(&key, &value, ttl_ms).await
                    }
                })
            })
            .collect();
        let (replies, verdict) = self.gather(&chains).await;
        let mut outcomes = self.outcomes(&replies);
        let mut chains = chains;
        let mut fencing_token = None;

        let mut failure = None;
        if verdict == Verdict::Reached && opts.fenced {
            let max = replies
                .iter()
                .flatten()
                .filter(|r| r.outcome == NodeOutcome::Ok)
                .filter_map(|r| r.counter)
                .max()
                .unwrap_or(0);
            let t = max + 1;
            // Round 2 goes to every node (any quorum of raised counters will
            // do), each after its round-1 command.
            chains = self.then_each(&chains, &replies, |node, _| {
                let fence_key = fence_key.clone();
                async move { node.raise_fence(&fence_key, t).await }
            });
            let (raised, v2) = self.gather(&chains).await;
            if v2 != Verdict::Reached {
                outcomes = self.outcomes(&raised);
                failure = Some("the fencing counter could not be raised on a quorum");
            } else {
                fencing_token = Some(FencingToken(t));
            }
            // `replies` stays round 1's: it tells where our key cannot be.
        } else if verdict != Verdict::Reached {
            failure = Some("no quorum granted the lock");
        }

        let elapsed = start.elapsed();
        let validity = ttl.checked_sub(elapsed + drift).unwrap_or_default();
        if failure.is_none() && validity.is_zero() {
            failure = Some("the validity was used up while acquiring");
        }
        if let Some(why) = failure {
            // Undo everywhere our key may be, each node after its own acquire,
            // and wait for it, so the caller never returns with keys behind.
            let undo = self.then_each(&chains, &replies, |node, reply| {
                let (key, value) = (key.clone(), value.clone());
                // A node that refused cannot hold our (fresh, random) value.
                let refused = matches!(
                    reply,
                    Some(Reply {
                        outcome: NodeOutcome::Held(_),
                        ..
                    })
                );
                async move {
                    if refused {
                        Reply {
                            outcome: NodeOutcome::NotHeld,
                            counter: None,
                        }
                    } else {
                        node.release(&key, &value).await
                    }
                }
            });
            futures::future::join_all(undo).await;
            let message = format!(
                "{resource}: {why} (quorum {} of {})",
                self.shared.quorum.size(),
                self.shared.quorum.nodes()
            );
            tracing::debug!(%message, %outcomes, "acquire failed");
            return Err(if self.shared.quorum.unreachable(&outcomes) {
                Error::Connection { message, outcomes }
            } else {
                Error::NotAcquired { message, outcomes }
            });
        }
        Ok(Lock::new(
            self.clone(),
            crate::lock::Acquired {
                resource: resource.to_string(),
                key,
                value,
                ttl,
                deadline: start + ttl - drift,
                fencing_token,
                outcomes,
                chains,
                auto_extend: opts.auto_extend.clone(),
            },
        ))
    }

    pub(crate) fn spawn(
        &self,
        f: impl std::future::Future<Output = Reply> + Send + 'static,
    ) -> Pending {
        let handle = self.shared.runtime.spawn(f);
        async move {
            handle.await.unwrap_or_else(|e| Reply {
                outcome: NodeOutcome::Error(format!("node task failed: {e}")),
                counter: None,
            })
        }
        .boxed()
        .shared()
    }

    /// For each node, a new command that starts once the previous command on
    /// that node settled. `f` sees the node's reply to an earlier round, when
    /// it was awaited.
    pub(crate) fn then_each<F, Fut>(
        &self,
        prev: &[Pending],
        replies: &[Option<Reply>],
        f: F,
    ) -> Vec<Pending>
    where
        F: Fn(Arc<Node>, Option<&Reply>) -> Fut,
        Fut: std::future::Future<Output = Reply> + Send + 'static,
    {
        self.shared
            .nodes
            .iter()
            .zip(prev)
            .zip(replies)
            .map(|((node, prev), reply)| {
                let prev = prev.clone();
                let next = f(node.clone(), reply.as_ref());
                self.spawn(async move {
                    prev.await;
                    next.await
                })
            })
            .collect()
    }

    /// For each node, a follow-up that runs once the previous command on that
    /// node settled and sees its reply.
    pub(crate) fn after_each<F, Fut>(&self, prev: &[Pending], f: F) -> Vec<Pending>
    where
        F: Fn(Arc<Node>, Reply) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Reply> + Send + 'static,
    {
        let f = Arc::new(f);
        self.shared
            .nodes
            .iter()
            .zip(prev)
            .map(|(node, prev)| {
                let (node, prev, f) = (node.clone(), prev.clone(), f.clone());
                self.spawn(async move {
                    let reply = prev.await;
                    f(node, reply).await
                })
            })
            .collect()
    }

    /// Waits until the quorum of `Ok` is reached or has become impossible.
    /// Replies not awaited are None; their commands go on in the background.
    pub(crate) async fn gather(&self, chains: &[Pending]) -> (Vec<Option<Reply>>, Verdict) {
        let q = self.shared.quorum;
        let mut replies: Vec<Option<Reply>> = vec![None; chains.len()];
        let mut pending: FuturesUnordered<_> = chains
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, f)| f.map(move |r| (i, r)))
            .collect();
        let (mut oks, mut fails) = (0, 0);
        let mut verdict = Verdict::Open;
        while let Some((i, reply)) = pending.next().await {
            if reply.outcome == NodeOutcome::Ok {
                oks += 1;
            } else {
                fails += 1;
            }
            replies[i] = Some(reply);
            verdict = q.verdict(oks, fails);
            if verdict != Verdict::Open {
                break;
            }
        }
        (replies, verdict)
    }

    pub(crate) fn outcomes(&self, replies: &[Option<Reply>]) -> Outcomes {
        Outcomes(
            self.shared
                .nodes
                .iter()
                .zip(replies)
                .map(|(n, r)| NodeReport {
                    node: n.name.clone(),
                    outcome: r
                        .as_ref()
                        .map(|r| r.outcome.clone())
                        .unwrap_or(NodeOutcome::NotAwaited),
                })
                .collect(),
        )
    }

    /// The value that a quorum of nodes holds for a resource's lock key, if
    /// any: `<token>` or `<token>:<owner>`.
    pub async fn holder_value(&self, resource: &str) -> Result<Option<String>> {
        check_resource(resource)?;
        let key = self.lock_key(resource);
        let reads = self.shared.nodes.iter().map(|n| {
            let key = key.clone();
            async move { n.get(&key).await }
        });
        let results = futures::future::join_all(reads).await;
        let mut outcomes = Vec::new();
        let mut values: Vec<Option<String>> = Vec::new();
        for (n, r) in self.shared.nodes.iter().zip(results) {
            match r {
                Ok(v) => {
                    outcomes.push(NodeReport {
                        node: n.name.clone(),
                        outcome: NodeOutcome::Ok,
                    });
                    values.push(v);
                }
                Err(o) => outcomes.push(NodeReport {
                    node: n.name.clone(),
                    outcome: o,
                }),
            }
        }
        let q = self.shared.quorum.size();
        if values.len() < q {
            return Err(Error::Connection {
                message: format!("{resource}: fewer than {q} nodes answered"),
                outcomes: Outcomes(outcomes),
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
            .and_then(|v| owner_of(&v).map(str::to_string)))
    }

    /// PING every node; returns per-node outcomes (for health checks).
    pub async fn ping(&self) -> Outcomes {
        let pings = self.shared.nodes.iter().map(|n| n.ping());
        let res = futures::future::join_all(pings).await;
        Outcomes(
            self.shared
                .nodes
                .iter()
                .zip(res)
                .map(|(n, o)| NodeReport {
                    node: n.name.clone(),
                    outcome: o,
                })
                .collect(),
        )
    }

    /// Test hook: use the command forms for servers older than Redis 6.2 on
    /// every node (the fallbacks otherwise chosen when a server refuses).
    #[doc(hidden)]
    pub fn assume_legacy_servers(&self) {
        for n in &self.shared.nodes {
            n.assume_legacy_server();
        }
    }

    /// The latency floor of any quorum operation: PING every node in
    /// parallel, through the same per-node connections and tasks as a lock
    /// operation, and time the quorum-th reply.
    #[doc(hidden)]
    pub async fn quorum_round_trip(&self) -> Duration {
        let start = Instant::now();
        let chains: Vec<Pending> = self
            .shared
            .nodes
            .iter()
            .map(|n| {
                let n = n.clone();
                self.spawn(async move {
                    Reply {
                        outcome: n.ping().await,
                        counter: None,
                    }
                })
            })
            .collect();
        self.gather(&chains).await;
        start.elapsed()
    }

    /// Publishes a message on every node (best effort, waits for all).
    pub(crate) async fn publish_all(&self, channel: &str, message: &str) {
        let pubs = self
            .shared
            .nodes
            .iter()
            .map(|n| n.publish(channel, message));
        futures::future::join_all(pubs).await;
    }
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

/// The owner part of a lock value `<32 hex token>:<owner>`.
pub fn owner_of(value: &str) -> Option<&str> {
    let (token, owner) = value.split_at_checked(TOKEN_HEX_LEN)?;
    if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    owner.strip_prefix(':')
}

const TOKEN_HEX_LEN: usize = 32;

/// 128 bits from the thread-local CSPRNG, as 32 hex digits; new for every
/// acquisition so that no two acquisitions ever share a value.
pub(crate) fn new_token() -> String {
    let bits: u128 = rand::rng().random();
    format!("{bits:032x}")
}

pub(crate) fn check_owner(owner: &str) -> Result<()> {
    if owner.is_empty() {
        return Err(Error::invalid("owner/candidate id must not be empty"));
    }
    if owner.len() > MAX_OWNER_LEN {
        return Err(Error::invalid(format!(
            "owner/candidate id is {} bytes; at most {MAX_OWNER_LEN} allowed",
            owner.len()
        )));
    }
    if owner.contains('\0') {
        return Err(Error::invalid("owner/candidate id must not contain NUL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_bit_hex_and_distinct() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn owner_is_read_back_from_the_value() {
        let v = format!("{}:node-a:1", new_token());
        assert_eq!(owner_of(&v), Some("node-a:1"));
        assert_eq!(owner_of(&new_token()), None);
        assert_eq!(owner_of("short"), None);
    }

    #[test]
    fn majority_needs_quorum_equal_values() {
        assert_eq!(majority(["a", "a", "b"].into_iter(), 2), Some("a"));
        assert_eq!(majority(["a", "b", "c"].into_iter(), 2), None);
    }
}
