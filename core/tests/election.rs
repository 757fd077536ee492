//! Leader election on real redis-server nodes, with real faults.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redlead::{Config, Election, ElectionConfig, ElectionEvent, ErrorKind, Redlock, RevokeReason};
use redlead_harness::Cluster;
use tokio::time::Instant;

type Log = Arc<Mutex<Vec<ElectionEvent>>>;

fn config(ttl_ms: u64) -> ElectionConfig {
    let mut c = ElectionConfig::with_ttl(Duration::from_millis(ttl_ms));
    c.retry_interval = Duration::from_millis(ttl_ms / 4);
    c
}

fn fast_client(cluster: &Cluster) -> Redlock {
    Redlock::new(
        &cluster.urls(),
        Config::default().with_node_timeout(Duration::from_millis(20)),
    )
    .unwrap()
}

fn candidate(rl: &Redlock, resource: &str, id: &str, cfg: ElectionConfig) -> (Election, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let e = Election::start(rl, resource, id, cfg, move |ev| {
        l.lock().unwrap().push(ev.clone())
    })
    .unwrap();
    (e, log)
}

async fn wait_for_leader(es: &[Election], within: Duration) -> usize {
    let t = Instant::now();
    loop {
        let leaders: Vec<usize> = (0..es.len()).filter(|&i| es[i].is_leader()).collect();
        assert!(leaders.len() <= 1, "two leaders at once: {leaders:?}");
        if let [i] = leaders[..] {
            return i;
        }
        assert!(t.elapsed() < within, "no leader within {within:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn elected_count(log: &Log) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ElectionEvent::Elected { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_leader_among_five_candidates() {
    let cluster = Cluster::start(5);
    let rl = fast_client(&cluster);
    let mut es = Vec::new();
    let mut logs = Vec::new();
    for i in 0..5 {
        let (e, l) = candidate(&rl, "svc", &format!("c{i}"), config(600));
        es.push(e);
        logs.push(l);
    }
    let first = wait_for_leader(&es, Duration::from_secs(2)).await;
    let term = es[first].term().unwrap();
    // Over three ttls: never two leaders, and the same one throughout.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(1800) {
        let leaders: Vec<usize> = (0..5).filter(|&i| es[i].is_leader()).collect();
        assert_eq!(leaders, vec![first]);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(es[first].term(), Some(term));
    assert_eq!(
        es[first].leader().await.unwrap().as_deref(),
        Some(format!("c{first}").as_str())
    );
    for (i, e) in es.iter().enumerate() {
        assert_eq!(
            e.observed_leader().as_deref(),
            Some(format!("c{first}").as_str()),
            "candidate {i}"
        );
        assert!(e.is_healthy());
    }
    assert_eq!(elected_count(&logs[first]), 1);
    for e in &es {
        e.stop().await.unwrap();
    }
    let l = logs[first].lock().unwrap();
    assert!(
        matches!(
            l.last(),
            Some(ElectionEvent::LeaderChanged { leader: None })
                | Some(ElectionEvent::Revoked {
                    reason: RevokeReason::Stopped,
                    ..
                })
        ),
        "{l:?}"
    );
    assert_eq!(
        cluster.count_key("redlead:{svc}"),
        0,
        "stopped leader left its key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_leader_is_replaced_within_ttl_plus_retry_interval() {
    let cluster = Cluster::start(5);
    let rl = fast_client(&cluster);
    let cfg = config(500);
    let bound = cfg.ttl + cfg.retry_interval + cfg.retry_jitter + Duration::from_millis(100);
    let es: Vec<Election> = (0..3)
        .map(|i| candidate(&rl, "svc", &format!("c{i}"), cfg.clone()).0)
        .collect();
    let first = wait_for_leader(&es, Duration::from_secs(2)).await;
    let term = es[first].term().unwrap();
    let t = Instant::now();
    es[first].crash();
    let next = wait_for_leader(&es, bound).await;
    let took = t.elapsed();
    println!("leader crashed; new leader after {took:?} (bound {bound:?})");
    assert_ne!(next, first);
    assert!(es[next].term().unwrap() > term);
    // The crashed leader's last renewal was at most one renew interval ago,
    // so its key lives at least ttl - renew_interval (- drift) after the crash.
    let earliest = cfg.ttl - cfg.renew_interval() - rl.config().drift(cfg.ttl);
    assert!(
        took >= earliest,
        "took over before the lease could expire: {took:?} < {earliest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resign_hands_over_within_milliseconds() {
    let cluster = Cluster::start(5);
    let rl = fast_client(&cluster);
    // A long retry interval: only the resign announcement can explain a fast takeover.
    let mut cfg = config(3000);
    cfg.retry_interval = Duration::from_secs(2);
    let (es, logs): (Vec<Election>, Vec<Log>) = (0..3)
        .map(|i| candidate(&rl, "svc", &format!("c{i}"), cfg.clone()))
        .unzip();
    let first = wait_for_leader(&es, Duration::from_secs(3)).await;
    // Every follower has seen the leader (so it counts the change) and subscribed.
    let t = Instant::now();
    while !es
        .iter()
        .all(|e| e.observed_leader() == Some(format!("c{first}")))
    {
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "followers never observed the leader"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let term = es[first].term().unwrap();
    let t = Instant::now();
    assert!(es[first].resign().await.unwrap());
    let next = wait_for_leader(&es, Duration::from_millis(500)).await;
    let took = t.elapsed();
    println!("resign -> new leader in {took:?}");
    assert_ne!(next, first);
    assert!(es[next].term().unwrap() > term);
    assert!(took < Duration::from_millis(200), "handover took {took:?}");
    assert!(
        !es[first].resign().await.unwrap(),
        "resign when not leader is a no-op returning false"
    );
    let l = logs[first].lock().unwrap().clone();
    assert!(
        l.iter().any(|e| matches!(
            e,
            ElectionEvent::Revoked {
                reason: RevokeReason::Resigned,
                ..
            }
        )),
        "{l:?}"
    );
    assert_eq!(
        es[next].transitions(),
        1,
        "the new leader counts the change of hands"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_keeps_leading_with_two_of_five_nodes_down() {
    let mut cluster = Cluster::start(5);
    let rl = fast_client(&cluster);
    let (es, logs): (Vec<Election>, Vec<Log>) = (0..3)
        .map(|i| candidate(&rl, "svc", &format!("c{i}"), config(800)))
        .unzip();
    let first = wait_for_leader(&es, Duration::from_secs(2)).await;
    let term = es[first].term();
    // The leader may have won on exactly 3 nodes (a rival's key was still on
    // the others); its first renewal puts its key on every live node.
    let value = rl
        .holder_value("svc")
        .await
        .unwrap()
        .expect("a leader holds the key");
    let t = Instant::now();
    while cluster.count_value("redlead:{svc}", &value) < 5 {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "the renewal did not repair the missing nodes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.nodes[1].kill();
    cluster.nodes[3].freeze();
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(2000) {
        assert!(
            es[first].is_leader(),
            "leader stepped down with a quorum alive: {:?}",
            logs[first].lock().unwrap()
        );
        assert_eq!((0..3).filter(|&i| es[i].is_leader()).count(), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(es[first].term(), term);
    assert!(es[first].is_healthy());
    cluster.nodes[3].thaw();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_steps_down_before_its_validity_ends_when_a_quorum_dies() {
    let mut cluster = Cluster::start(5);
    let rl = fast_client(&cluster);
    let cfg = config(900);
    let (es, logs): (Vec<Election>, Vec<Log>) = (0..3)
        .map(|i| candidate(&rl, "svc", &format!("c{i}"), cfg.clone()))
        .unzip();
    let first = wait_for_leader(&es, Duration::from_secs(2)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed_at = std::time::Instant::now();
    for i in [0, 2, 4] {
        cluster.nodes[i].kill();
    }
    // The last renewal started before the kill, so its validity ends before
    // killed_at + ttl - drift; the step-down must come before that.
    let validity_bound = killed_at + cfg.ttl - rl.config().drift(cfg.ttl);
    let t = Instant::now();
    while es[first].is_leader() {
        assert!(t.elapsed() < cfg.ttl * 2, "leader never stepped down");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let stepped = std::time::Instant::now();
    println!(
        "quorum killed; leader stepped down after {:?}",
        stepped - killed_at
    );
    assert!(
        stepped < validity_bound,
        "stepped down after its validity ended"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let revoked = logs[first].lock().unwrap().iter().find_map(|e| match e {
        ElectionEvent::Revoked { reason, at, .. } => Some((*reason, *at)),
        _ => None,
    });
    let (reason, at) = revoked.expect("no revoked event");
    assert_eq!(reason, RevokeReason::LostQuorum);
    assert!(at < validity_bound);
    assert!(!es[first].is_healthy() || !es[first].is_leader());
    for i in [0, 2, 4] {
        cluster.nodes[i].restart();
    }
    let again = wait_for_leader(&es, cfg.ttl * 3).await;
    println!("nodes back; c{again} elected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_panicking_callbacks_never_delay_renewal() {
    let cluster = Cluster::start(5);
    let rl = fast_client(&cluster);
    let cfg = config(600);
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    let blocker = Election::start(&rl, "svc", "blocker", cfg.clone(), move |ev| {
        *c.lock().unwrap() += 1;
        if matches!(ev, ElectionEvent::Elected { .. }) {
            std::thread::sleep(Duration::from_millis(1500)); // ~4 ttls
            panic!("handler panics on purpose");
        }
    })
    .unwrap();
    let t = Instant::now();
    while !blocker.is_leader() {
        assert!(t.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let term = blocker.term();
    let (other, _) = candidate(&rl, "svc", "other", cfg.clone());
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(2000) {
        assert!(
            blocker.is_leader(),
            "a blocked handler made the leader lose its lease"
        );
        assert!(!other.is_leader());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(blocker.term(), term);
    assert!(
        *calls.lock().unwrap() >= 2,
        "events after the panic were not delivered"
    );
    // The election survived the panic: resign still hands over.
    assert!(blocker.resign().await.unwrap());
    let es = [blocker, other];
    assert_eq!(wait_for_leader(&es, Duration::from_secs(1)).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_alternate_and_stop_from_a_callback_is_refused() {
    let cluster = Cluster::start(3);
    let rl = fast_client(&cluster);
    let slot: Arc<Mutex<Option<Arc<Election>>>> = Arc::default();
    let refused = Arc::new(Mutex::new(None));
    let (s, r) = (slot.clone(), refused.clone());
    let log: Log = Arc::default();
    let l = log.clone();
    let handle = tokio::runtime::Handle::current();
    let e = Arc::new(
        Election::start(&rl, "svc", "solo", config(600), move |ev| {
            l.lock().unwrap().push(ev.clone());
            if matches!(ev, ElectionEvent::Elected { .. }) {
                if let Some(e) = s.lock().unwrap().clone() {
                    let res = handle.block_on(e.stop());
                    *r.lock().unwrap() = Some(res.map_err(|e| e.kind()));
                }
            }
        })
        .unwrap(),
    );
    *slot.lock().unwrap() = Some(e.clone());
    for _ in 0..3 {
        let t = Instant::now();
        while !e.is_leader() {
            assert!(t.elapsed() < Duration::from_secs(2));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        e.resign().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*refused.lock().unwrap(), Some(Err(ErrorKind::WrongThread)));
    *slot.lock().unwrap() = None;
    e.stop().await.unwrap();
    e.stop().await.unwrap(); // idempotent
    assert_eq!(e.resign().await.unwrap_err().kind(), ErrorKind::Closed);
    let log = log.lock().unwrap();
    let mut leading = false;
    let mut last_term = 0;
    for ev in log.iter() {
        match ev {
            ElectionEvent::Elected { term, .. } => {
                assert!(!leading, "two elected without revoked: {log:?}");
                assert!(*term > last_term);
                last_term = *term;
                leading = true;
            }
            ElectionEvent::Revoked { term, .. } => {
                assert!(leading);
                assert_eq!(*term, last_term);
                leading = false;
            }
            ElectionEvent::LeaderChanged { .. } => {}
        }
    }
    assert!(!leading);
    assert!(last_term >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_election_input_gets_clear_errors() {
    let cluster = Cluster::start(1);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    let ok = ElectionConfig::with_ttl(Duration::from_secs(1));
    let mut renew_too_long = ok.clone();
    renew_too_long.renew_interval = Some(Duration::from_secs(1));
    let mut no_room = ok.clone();
    no_room.renew_interval = Some(Duration::from_millis(950));
    let mut zero_retry = ok.clone();
    zero_retry.retry_interval = Duration::ZERO;
    let mut tight = ElectionConfig::with_ttl(Duration::from_millis(200));
    tight.renew_interval = Some(Duration::from_millis(60)); // < 2 x node_timeout (50 ms)
    let cases = [
        ("resource", "", "a", ok.clone()),
        ("id", "r", "", ok.clone()),
        ("ttl", "r", "a", ElectionConfig::with_ttl(Duration::ZERO)),
        ("renew_interval", "r", "a", renew_too_long),
        ("step_down_margin", "r", "a", no_room),
        ("retry_interval", "r", "a", zero_retry),
        ("node_timeout", "r", "a", tight),
    ];
    for (word, res, id, cfg) in cases {
        let e = Election::start(&rl, res, id, cfg, |_| {})
            .err()
            .expect(word);
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains(word), "{e} should name {word}");
    }
    let long_id = "x".repeat(300);
    assert!(Election::start(&rl, "r", &long_id, ok, |_| {}).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resign_hands_over_even_to_a_follower_that_missed_the_announcement() {
    let cluster = Cluster::start(5);
    let rl = fast_client(&cluster);
    let cfg = config(1000);
    for round in 0..5 {
        let res = format!("late-{round}");
        let (a, _) = candidate(&rl, &res, "a", cfg.clone());
        wait_for_leader(std::slice::from_ref(&a), Duration::from_secs(2)).await;
        // b starts and a resigns at once: b may not be subscribed yet.
        let (b, _) = candidate(&rl, &res, "b", cfg.clone());
        assert!(a.resign().await.unwrap());
        let es = [a, b];
        let bound = cfg.retry_interval + cfg.retry_jitter + Duration::from_millis(200);
        let t = Instant::now();
        let next = wait_for_leader(&es, bound).await;
        println!(
            "round {round}: c{next} leads {:?} after the resign",
            t.elapsed()
        );
        assert_eq!(next, 1, "the resigned candidate took the lock back");
    }
}

/// A leader whose runtime is blocked cannot renew or step down by itself:
/// `is_leader()` turns false from the clock and `is_healthy()` reports it.
#[test]
fn a_leader_with_a_stuck_runtime_reports_unhealthy() {
    let cluster = Cluster::start(3);
    let urls = cluster.urls();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let rl = Redlock::new(&urls, Config::default()).unwrap();
            let e = Arc::new(Election::start(&rl, "stuck", "a", config(600), |_| {}).unwrap());
            while !e.is_leader() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tx.send(e.clone()).unwrap();
            // Block the only runtime thread: no renewal, no step-down task.
            std::thread::sleep(Duration::from_millis(1500));
            e.stop().await.unwrap();
        })
    });
    let e = rx.recv().unwrap();
    assert!(e.is_healthy());
    let t = Instant::now();
    while e.is_healthy() {
        assert!(
            t.elapsed() < Duration::from_millis(1400),
            "a stuck leader stayed healthy"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    println!("stuck leader: unhealthy after {:?}", t.elapsed());
    assert!(!e.is_leader(), "unhealthy but still claiming leadership");
    worker.join().unwrap();
    assert!(
        e.is_healthy(),
        "healthy again once the runtime ran and it stepped down"
    );
}
