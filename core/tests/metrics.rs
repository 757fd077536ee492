//! What the library records through the `metrics` facade, read back from a
//! debugging recorder (process-wide, hence a test binary of its own).

use std::time::Duration;

use metrics::{SharedString, Unit};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::CompositeKey;
use redlead::telemetry::{ACQUIRE_DURATION, LEADER, LEADERSHIP_CHANGES, LOCKS_LOST, NODE_REPLIES};
use redlead::{Config, Election, ElectionConfig, ErrorKind, Redlock};
use redlead_harness::Cluster;
use tokio::time::Instant;

type Metrics = Vec<(CompositeKey, Option<Unit>, Option<SharedString>, DebugValue)>;

/// The value of the metric `name` whose labels include all of `labels`,
/// summed over the other labels (None when nothing matched); a histogram's
/// value is its number of samples.
fn value(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut total = None;
    for (key, _, _, v) in metrics {
        let key = key.key();
        if key.name() != name
            || !labels
                .iter()
                .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
        {
            continue;
        }
        let v = match v {
            DebugValue::Counter(c) => *c as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(h) => h.len() as f64,
        };
        total = Some(total.unwrap_or(0.0) + v);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquires_node_replies_lost_locks_and_leadership_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snap = recorder.snapshotter();
    recorder.install().unwrap();

    let mut cluster = Cluster::start_in_memory(3);
    let rl = Redlock::new(
        &cluster.urls(),
        Config::default().with_node_timeout(Duration::from_millis(50)),
    )
    .unwrap();
    let lock = rl.try_acquire("m", Duration::from_secs(10)).await.unwrap();
    let err = rl
        .try_acquire("m", Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAcquired);
    // A snapshot drains what it reads (counters too): one per group of checks.
    let m = snap.snapshot().into_vec();
    assert_eq!(
        value(
            &m,
            ACQUIRE_DURATION,
            &[("result", "acquired"), ("fenced", "false")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&m, ACQUIRE_DURATION, &[("result", "not_acquired")]),
        Some(1.0)
    );
    assert!(value(&m, NODE_REPLIES, &[("outcome", "ok")]).unwrap() >= 2.0);
    assert!(value(&m, NODE_REPLIES, &[("outcome", "held")]).unwrap() >= 2.0);
    let first = &rl.node_names()[0];
    assert!(value(&m, NODE_REPLIES, &[("node", first)]).unwrap() >= 1.0);

    // A lock whose keys vanish is lost at its next extension, counted once.
    for node in &cluster.nodes {
        node.command(&["DEL", lock.key()]);
    }
    assert_eq!(
        lock.extend(Duration::from_secs(10))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Lost
    );
    let _ = lock.release().await;
    let m = snap.snapshot().into_vec();
    assert_eq!(value(&m, LOCKS_LOST, &[]), Some(1.0));

    // A killed node shows up as errors or timeouts of that node.
    cluster.nodes[2].kill();
    let dead = rl.node_names()[2].clone();
    let lock = rl.try_acquire("m2", Duration::from_secs(10)).await.unwrap();
    lock.release().await.unwrap();
    let m = snap.snapshot().into_vec();
    let failed = value(&m, NODE_REPLIES, &[("node", &dead), ("outcome", "error")]).unwrap_or(0.0)
        + value(&m, NODE_REPLIES, &[("node", &dead), ("outcome", "timeout")]).unwrap_or(0.0);
    assert!(failed >= 1.0, "no failed reply recorded for {dead}");

    let election = Election::start(
        &rl,
        "m-leader",
        "cand-1",
        ElectionConfig::with_ttl(Duration::from_secs(2)),
        |_| {},
    )
    .unwrap();
    let t = Instant::now();
    while !election.is_leader() && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let who = [("resource", "m-leader"), ("candidate", "cand-1")];
    let m = snap.snapshot().into_vec();
    assert_eq!(value(&m, LEADER, &who), Some(1.0));
    assert_eq!(
        value(
            &m,
            LEADERSHIP_CHANGES,
            &[("change", "elected"), ("candidate", "cand-1")]
        ),
        Some(1.0)
    );
    assert!(election.resign().await.unwrap());
    let m = snap.snapshot().into_vec();
    assert_eq!(value(&m, LEADER, &who), Some(0.0));
    assert_eq!(
        value(
            &m,
            LEADERSHIP_CHANGES,
            &[("change", "revoked"), ("reason", "resigned")]
        ),
        Some(1.0)
    );
    election.stop().await.unwrap();
}
