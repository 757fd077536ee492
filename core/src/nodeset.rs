//! The N nodes as one: fan a command out to every node (through each node's
//! per-key queue) and gather the replies until the quorum is decided.
//!
//! The lock and the election see the nodes only through this type.

use std::future::Future;
use std::sync::Arc;

use std::pin::Pin;
use std::task::Poll;

use crate::error::{NodeOutcome, NodeReport, Outcomes};
use crate::node::{Node, Pending, Reply};
use crate::quorum::{Quorum, Verdict};
use crate::round::{self, Round};

pub(crate) struct NodeSet {
    nodes: Vec<Arc<Node>>,
    quorum: Quorum,
    runtime: tokio::runtime::Handle,
}

impl NodeSet {
    pub fn new(nodes: Vec<Arc<Node>>, runtime: tokio::runtime::Handle) -> NodeSet {
        NodeSet {
            quorum: Quorum::new(nodes.len()),
            nodes,
            runtime,
        }
    }

    pub fn quorum(&self) -> Quorum {
        self.quorum
    }

    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.nodes.iter()
    }

    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// Enqueues `command(i, node)` for `key` on every node (after the
    /// client's earlier commands for `key` on that node) and returns the
    /// pending replies, in node order, all run as one round (one task).
    /// Nothing waits here.
    pub fn send<F, Fut>(&self, key: &str, command: F) -> Vec<Pending>
    where
        F: Fn(usize, Arc<Node>) -> Fut,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let round = Round::new(self.nodes.len());
        let key: Arc<str> = Arc::from(key);
        let mut commands = Vec::with_capacity(self.nodes.len());
        let pending = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let p = round.pending(i);
                commands.push(node.queue(&key, p.clone(), command(i, node.clone())));
                p
            })
            .collect();
        round::spawn(&self.runtime, &round, commands);
        pending
    }

    /// Waits until a quorum said `Ok` or that has become impossible. Replies
    /// not awaited are None; their commands go on in the background.
    pub async fn gather(&self, pending: &[Pending]) -> (Vec<Option<Reply>>, Verdict) {
        let mut replies: Vec<Option<Reply>> = vec![None; pending.len()];
        let mut waiting: Vec<Option<Pending>> = pending.iter().cloned().map(Some).collect();
        let (mut oks, mut fails) = (0, 0);
        let mut verdict = Verdict::Open;
        // Polls the unanswered slots on each wake-up: with a handful of nodes
        // this costs less than a FuturesUnordered's allocation per node.
        std::future::poll_fn(|cx| {
            for (i, slot) in waiting.iter_mut().enumerate() {
                let Some(p) = slot else { continue };
                let Poll::Ready(reply) = Pin::new(p).poll(cx) else {
                    continue;
                };
                *slot = None;
                if reply.outcome == NodeOutcome::Ok {
                    oks += 1;
                } else {
                    fails += 1;
                }
                replies[i] = Some(reply);
                verdict = self.quorum.verdict(oks, fails);
                if verdict != Verdict::Open {
                    return Poll::Ready(());
                }
            }
            if waiting.iter().all(Option::is_none) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        (replies, verdict)
    }

    /// Waits for every reply.
    pub async fn settle(&self, pending: &[Pending]) -> Vec<Reply> {
        futures::future::join_all(pending.iter().cloned()).await
    }

    /// Replies as per-node outcomes (`NotAwaited` for None).
    pub fn outcomes(&self, replies: &[Option<Reply>]) -> Outcomes {
        self.report(replies.iter().map(|r| {
            r.as_ref()
                .map(|r| r.outcome.clone())
                .unwrap_or(NodeOutcome::NotAwaited)
        }))
    }

    pub fn report(&self, outcomes: impl Iterator<Item = NodeOutcome>) -> Outcomes {
        Outcomes(
            self.nodes
                .iter()
                .zip(outcomes)
                .map(|(n, outcome)| NodeReport {
                    node: n.name.clone(),
                    outcome,
                })
                .collect(),
        )
    }

    /// Runs `f` on every node at once, outside the queues, and waits for all.
    pub async fn each<'a, F, Fut, T>(&'a self, f: F) -> Vec<T>
    where
        F: Fn(&'a Arc<Node>) -> Fut,
        Fut: Future<Output = T> + 'a,
    {
        futures::future::join_all(self.nodes.iter().map(f)).await
    }
}
