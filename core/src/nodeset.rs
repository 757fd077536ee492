//! The N nodes as one: fan a command out to every node (through each node's
//! per-key queue) and gather the replies until the quorum is decided.
//!
//! The lock and the election see the nodes only through this type.

use std::future::Future;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::error::{NodeOutcome, NodeReport, Outcomes};
use crate::node::{Node, Pending, Reply};
use crate::quorum::{Quorum, Verdict};

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
    /// pending replies, in node order. Nothing waits here.
    pub fn send<F, Fut>(&self, key: &str, command: F) -> Vec<Pending>
    where
        F: Fn(usize, Arc<Node>) -> Fut,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| node.enqueue(&self.runtime, key, command(i, node.clone())))
            .collect()
    }

    /// Waits until a quorum said `Ok` or that has become impossible. Replies
    /// not awaited are None; their commands go on in the background.
    pub async fn gather(&self, pending: &[Pending]) -> (Vec<Option<Reply>>, Verdict) {
        let mut replies: Vec<Option<Reply>> = vec![None; pending.len()];
        let mut waiting: FuturesUnordered<_> = pending
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, p)| async move { (i, p.await) })
            .collect();
        let (mut oks, mut fails) = (0, 0);
        let mut verdict = Verdict::Open;
        while let Some((i, reply)) = waiting.next().await {
            if reply.outcome == NodeOutcome::Ok {
                oks += 1;
            } else {
                fails += 1;
            }
            replies[i] = Some(reply);
            verdict = self.quorum.verdict(oks, fails);
            if verdict != Verdict::Open {
                break;
            }
        }
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
