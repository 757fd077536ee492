//! One command sent to several nodes at once, run as one task: a [`Round`].
//!
//! Each node's command must go on after the caller stopped waiting (an
//! acquire returns at the quorum; its late `SET`s must still settle before
//! the release behind them is sent), so the commands cannot live in the
//! caller's future. Before this module every node command was a task of its
//! own, with a boxed shared future and a join handle per node: ten spawns and
//! some thirty allocations per acquire+release on five nodes, a measurable
//! share of the client's CPU (docs/performance.md). A round is one task and
//! one allocation for all its nodes; each node's reply is a [`Pending`] slot
//! that any number of waiters (the quorum gathering, the node's next command
//! for the same key, `Redlock::settled`) can await.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use futures::FutureExt;

use crate::error::NodeOutcome;
use crate::node::Reply;

/// The replies of one round, filled as they come.
pub(crate) struct Round {
    slots: Box<[OnceLock<Reply>]>,
    /// Waiters of any slot; woken on every fill (few waiters, few slots).
    waiters: Mutex<Vec<Waker>>,
}

impl Round {
    /// A round of `n` node commands, none answered yet.
    pub fn new(n: usize) -> Arc<Round> {
        Arc::new(Round {
            slots: (0..n).map(|_| OnceLock::new()).collect(),
            waiters: Mutex::new(Vec::new()),
        })
    }

    /// The pending reply of slot `i`.
    pub fn pending(self: &Arc<Self>, i: usize) -> Pending {
        Pending {
            round: self.clone(),
            slot: i,
        }
    }

    /// Sets slot `i` (once; later fills are ignored) and wakes the waiters.
    fn fill(&self, i: usize, reply: Reply) {
        if self.slots[i].set(reply).is_ok() {
            let waiters = std::mem::take(&mut *self.lock_waiters());
            for w in waiters {
                w.wake();
            }
        }
    }

    fn lock_waiters(&self) -> std::sync::MutexGuard<'_, Vec<Waker>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One node's reply in a round: cloneable, and a future that any number of
/// clones can await.
#[derive(Clone)]
pub(crate) struct Pending {
    round: Arc<Round>,
    slot: usize,
}

impl Future for Pending {
    type Output = Reply;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let slot = &self.round.slots[self.slot];
        if let Some(r) = slot.get() {
            return Poll::Ready(r.clone());
        }
        {
            let mut waiters = self.round.lock_waiters();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        // A fill sets the slot before it takes the waiters: whichever came
        // first, this check or that wake-up sees the reply.
        match slot.get() {
            Some(r) => Poll::Ready(r.clone()),
            None => Poll::Pending,
        }
    }
}

/// Runs `commands` as one task on `runtime`, filling slot i with the reply
/// of the i-th command. A command that panics, and every
/// command of a round whose task is dropped unfinished (the runtime shut
/// down), fills its slot with an error instead of leaving waiters hanging.
pub(crate) fn spawn<F>(runtime: &tokio::runtime::Handle, round: &Arc<Round>, commands: Vec<F>)
where
    F: Future<Output = Reply> + Send + 'static,
{
    let guard = Unfinished(round.clone());
    runtime.spawn(async move {
        let guard = guard;
        let round = &guard.0;
        let each = commands
            .into_iter()
            .enumerate()
            .map(|(i, command)| async move {
                let reply = AssertUnwindSafe(command)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        Reply::of(NodeOutcome::Error("node command panicked".into()))
                    });
                round.fill(i, reply);
            });
        futures::future::join_all(each).await;
    });
}

/// Fills what is still empty when the round's task ends without finishing.
struct Unfinished(Arc<Round>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        for i in 0..self.0.slots.len() {
            self.0
                .fill(i, Reply::of(NodeOutcome::Error("node task ended".into())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_gets_the_reply_and_a_panic_becomes_an_error() {
        let round = Round::new(2);
        let (a, b) = (round.pending(0), round.pending(1));
        let a2 = a.clone();
        spawn(
            &tokio::runtime::Handle::current(),
            &round,
            vec![
                Box::pin(async {
                    tokio::task::yield_now().await;
                    Reply::of(NodeOutcome::Ok)
                }) as Pin<Box<dyn Future<Output = Reply> + Send>>,
                Box::pin(async { panic!("boom") }),
            ],
        );
        assert_eq!(a.await.outcome, NodeOutcome::Ok);
        assert_eq!(a2.await.outcome, NodeOutcome::Ok);
        assert!(matches!(b.await.outcome, NodeOutcome::Error(e) if e.contains("panicked")));
    }

    #[test]
    fn a_round_dropped_unfinished_answers_its_waiters() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let round = Round::new(1);
        let waiter = round.pending(0);
        spawn(rt.handle(), &round, vec![std::future::pending::<Reply>()]);
        drop(rt);
        let reply = futures::executor::block_on(waiter);
        assert!(matches!(reply.outcome, NodeOutcome::Error(e) if e.contains("ended")));
    }
}
