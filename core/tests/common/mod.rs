//! What the core's test binaries share. Each binary uses only part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redlead::{ElectionEvent, Redlock};
use tokio::time::Instant;

/// Operations return at the quorum; the other nodes settle just after. Waits
/// until `done` holds, at most 3 s, else fails with `what`.
pub async fn settle(what: &str, done: impl FnMut() -> bool) {
    settle_within(what, Duration::from_secs(3), done).await
}

pub async fn settle_within(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < within, "{what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Two acquire+release rounds, so that connections and scripts are ready and
/// a timing measured next is the faults', not the first connect's. Each may
/// retry for a few seconds: on a loaded machine the first connects can take
/// longer than a test's short node timeout (seen once in a full run).
pub async fn warm(rl: &Redlock) {
    for _ in 0..2 {
        rl.acquire("warm", Duration::from_secs(10), Duration::from_secs(5))
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
    }
}

/// Every event an election delivered, in order.
pub type Events = Arc<Mutex<Vec<ElectionEvent>>>;

/// A handler that records into `Events`.
pub fn recorder() -> (Events, impl FnMut(&ElectionEvent) + Send + 'static) {
    let events: Events = Arc::default();
    let e = events.clone();
    (events, move |ev: &ElectionEvent| {
        e.lock().unwrap().push(ev.clone())
    })
}

pub async fn wait_elected(events: &Events, within: Duration) {
    let t = Instant::now();
    while !events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, ElectionEvent::Elected { .. }))
    {
        assert!(t.elapsed() < within, "not elected within {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
