//! Leadership scoped to a term: the term's token, and the state as a watch.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use redlead::{Config, Election, ElectionConfig, ElectionEvent, Redlock, RevokeReason};
use redlead_harness::Cluster;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn fast_client(cluster: &Cluster) -> Redlock {
    Redlock::new(
        &cluster.urls(),
        Config::default().with_node_timeout(Duration::from_millis(20)),
    )
    .unwrap()
}

fn config(ttl_ms: u64) -> ElectionConfig {
    let mut c = ElectionConfig::with_ttl(Duration::from_millis(ttl_ms));
    c.retry_interval = Duration::from_millis(ttl_ms / 4);
    c
}

/// What the handler saw: the token of the first term, and whether that
/// token was already cancelled when the term's `Revoked` arrived.
#[derive(Default)]
struct Seen {
    token: Option<CancellationToken>,
    revoked: Option<(RevokeReason, bool)>,
}

fn watcher(seen: Arc<Mutex<Seen>>) -> impl FnMut(&ElectionEvent) + Send + 'static {
    move |ev| {
        let mut s = seen.lock().unwrap();
        match ev {
            ElectionEvent::Elected { term_token, .. } if s.token.is_none() => {
                s.token = Some(term_token.clone())
            }
            ElectionEvent::Revoked { reason, .. } if s.revoked.is_none() => {
                let cancelled = s.token.as_ref().is_some_and(|t| t.is_cancelled());
                s.revoked = Some((*reason, cancelled));
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn term_token_fires_before_the_step_down_and_the_validity_end_when_a_quorum_freezes() {
    let mut cluster = Cluster::start_in_memory(5);
    let rl = fast_client(&cluster);
    common::warm(&rl).await;
    let cfg = config(900);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let e = Election::start(&rl, "terms", "a", cfg.clone(), watcher(seen.clone())).unwrap();
    let t = Instant::now();
    while !e.is_leader() {
        assert!(t.elapsed() < Duration::from_secs(2), "not elected");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let token = e.term_token().expect("a leader has a term token");
    assert!(!token.is_cancelled());
    let cancelled_at = Arc::new(Mutex::new(None));
    let c = cancelled_at.clone();
    let waiting = token.clone();
    tokio::spawn(async move {
        waiting.cancelled().await;
        *c.lock().unwrap() = Some(std::time::Instant::now());
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let frozen_at = std::time::Instant::now();
    for i in [0, 2, 4] {
        cluster.nodes[i].freeze();
    }
    // The last renewal began before the freeze: its validity ends before this.
    let validity_bound = frozen_at + cfg.ttl - rl.config().drift(cfg.ttl);
    // Sampled every millisecond, token first: `is_leader` may say false
    // only once the token is cancelled.
    let t = Instant::now();
    loop {
        let cancelled = token.is_cancelled();
        let leading = e.is_leader();
        if !leading {
            assert!(
                token.is_cancelled(),
                "is_leader turned false before the term token was cancelled"
            );
            break;
        }
        assert!(
            !cancelled,
            "token cancelled while is_leader still said true"
        );
        assert!(t.elapsed() < cfg.ttl * 2, "never stepped down");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    common::settle("the token's waiter ran", || {
        cancelled_at.lock().unwrap().is_some()
    })
    .await;
    let fired = cancelled_at.lock().unwrap().unwrap();
    println!(
        "froze 3 of 5 nodes; the term token fired {:?} after, {:?} before the validity bound",
        fired - frozen_at,
        validity_bound.saturating_duration_since(fired)
    );
    assert!(
        fired < validity_bound,
        "token fired after the validity ended"
    );
    common::settle("Revoked delivered", || {
        seen.lock().unwrap().revoked.is_some()
    })
    .await;
    {
        let s = seen.lock().unwrap();
        assert!(s.token.as_ref().is_some_and(|t| t.is_cancelled()));
        assert_eq!(
            s.revoked,
            Some((RevokeReason::LostQuorum, true)),
            "Revoked must come after the token was cancelled"
        );
    }
    for i in [0, 2, 4] {
        cluster.nodes[i].thaw();
    }
    let _ = e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resign_cancels_the_term_token_and_the_state_watch_follows_the_handover() {
    let cluster = Cluster::start_in_memory(3);
    let rl = fast_client(&cluster);
    common::warm(&rl).await;
    let cfg = config(900);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let a = Election::start(&rl, "terms-w", "a", cfg.clone(), watcher(seen.clone())).unwrap();
    let mut a_state = a.state();
    let within = Duration::from_secs(2);
    tokio::time::timeout(within, a_state.wait_for(|s| s.is_leader))
        .await
        .expect("a not elected")
        .unwrap();
    let term = a.term().expect("a leads");
    assert_eq!(a_state.borrow().term, Some(term));
    assert_eq!(a_state.borrow().leader.as_deref(), Some("a"));
    let token = a.term_token().unwrap();

    let b = Election::start(&rl, "terms-w", "b", cfg, |_| {}).unwrap();
    let mut b_states = Box::pin(b.states());
    let first = b_states.next().await.unwrap();
    assert!(!first.is_leader);
    assert!(a.resign().await.unwrap());
    assert!(
        token.is_cancelled(),
        "resign returned before the token was cancelled"
    );
    assert!(!a_state.borrow().is_leader);
    assert_eq!(a_state.borrow().term, None);
    let b_leads = tokio::time::timeout(within, async {
        while let Some(s) = b_states.next().await {
            if s.is_leader {
                return s;
            }
        }
        panic!("b's state stream ended")
    })
    .await
    .expect("b not elected after a resigned");
    assert_eq!(b_leads.term, b.term());
    assert!(b_leads.term > Some(term), "terms increase");
    assert_eq!(b_leads.leader.as_deref(), Some("b"));
    common::settle("Revoked delivered", || {
        seen.lock().unwrap().revoked.is_some()
    })
    .await;
    assert_eq!(
        seen.lock().unwrap().revoked,
        Some((RevokeReason::Resigned, true))
    );
    b.stop().await.unwrap();
    a.stop().await.unwrap();
    drop(b);
    // The stream ends once the election is gone.
    assert_eq!(
        tokio::time::timeout(within, async { while b_states.next().await.is_some() {} }).await,
        Ok(())
    );
}
