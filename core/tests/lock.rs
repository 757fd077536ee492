//! The lock on real redis-server nodes, with real faults.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redlead::{AutoExtend, Config, ErrorKind, KeyFormat, LockOptions, NodeOutcome, Redlock};
use redlead_harness::Cluster;
use tokio::time::Instant;

mod common;
use common::*;

const TTL: Duration = Duration::from_secs(10);

fn client(cluster: &Cluster) -> Redlock {
    Redlock::new(&cluster.urls(), Config::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_exclusion_loses_no_update_under_contention() {
    let cluster = Cluster::start(5);
    let counter = Arc::new(AtomicU64::new(0));
    let inside = Arc::new(AtomicUsize::new(0));
    let mut cfg = Config::default();
    cfg.retry_delay = Duration::from_millis(1);
    cfg.retry_jitter = Duration::from_millis(3);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let rl = Redlock::new(&cluster.urls(), cfg.clone()).unwrap();
        let (counter, inside) = (counter.clone(), inside.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let lock = rl
                    .acquire("counter", TTL, Duration::from_secs(30))
                    .await
                    .unwrap();
                assert_eq!(
                    inside.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two holders at once"
                );
                // A read-modify-write that loses updates if two run at once.
                let v = counter.load(Ordering::SeqCst);
                tokio::task::yield_now().await;
                counter.store(v + 1, Ordering::SeqCst);
                inside.fetch_sub(1, Ordering::SeqCst);
                lock.release().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 200);
    settle("a released lock left keys", || {
        cluster.count_key("redlead:{counter}") == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_survives_two_dead_nodes() {
    let mut cluster = Cluster::start(5);
    let rl = client(&cluster);
    cluster.nodes[0].kill();
    cluster.nodes[3].kill();
    let lock = rl
        .try_acquire("res", TTL)
        .await
        .expect("3 of 5 alive is a quorum");
    assert!(lock.validity() > Duration::ZERO);
    let errors = lock.outcomes().count(|o| !o.is_answer());
    println!("acquired with 2 dead nodes; outcomes: {}", lock.outcomes());
    assert!(errors <= 2);
    assert_eq!(cluster.count_value(lock.key(), lock.value()), 3);
    lock.release().await.unwrap();
    assert_eq!(cluster.count_key("redlead:{res}"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_dead_nodes_fail_cleanly_leaving_no_keys() {
    let mut cluster = Cluster::start(5);
    let rl = client(&cluster);
    for i in [1, 2, 4] {
        cluster.nodes[i].kill();
    }
    let err = rl.try_acquire("res", TTL).await.unwrap_err();
    println!("3 dead: {err}");
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(err.outcomes().len(), 5);
    // The dead nodes refuse at once, so the failure may be decided before
    // the live ones answer; each node is either ok, not awaited, or failed.
    for (i, r) in err.outcomes().iter().enumerate() {
        let dead = [1, 2, 4].contains(&i);
        assert!(
            dead == matches!(r.outcome, NodeOutcome::Error(_) | NodeOutcome::Timeout),
            "node {i}: {}",
            r.outcome
        );
    }
    assert_eq!(
        cluster.count_key("redlead:{res}"),
        0,
        "failed acquire left keys on live nodes"
    );
    let err = rl
        .try_acquire_with("res", TTL, &LockOptions::fenced())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert_eq!(cluster.count_key("redlead:{res}"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_node_delays_nothing_beyond_the_node_timeout() {
    let mut cluster = Cluster::start(5);
    let rl = client(&cluster);
    // Warm the connections so that the timing below is the frozen node's.
    warm(&rl).await;
    cluster.nodes[2].freeze();
    cluster.nodes[4].freeze();
    let t = Instant::now();
    let lock = rl
        .try_acquire_with("res", TTL, &LockOptions::fenced())
        .await
        .unwrap();
    let took = t.elapsed();
    println!("fenced acquire with 2 frozen nodes took {took:?}");
    assert!(
        took < rl.config().node_timeout * 3 + Duration::from_millis(100),
        "took {took:?}"
    );
    let t = Instant::now();
    lock.release().await.unwrap();
    println!("release took {:?}", t.elapsed());
    cluster.nodes[3].freeze();
    let t = Instant::now();
    let err = rl.try_acquire("res2", TTL).await.unwrap_err();
    let took = t.elapsed();
    println!("acquire with 3 frozen nodes failed in {took:?}: {err}");
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(
        took < rl.config().node_timeout * 4 + Duration::from_millis(100),
        "took {took:?}"
    );
    for i in [2, 3, 4] {
        cluster.nodes[i].thaw();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_never_overtakes_a_late_acquire_on_a_slow_node() {
    let mut cluster = Cluster::start(5);
    let rl = client(&cluster);
    warm(&rl).await;
    cluster.nodes[4].freeze();
    let lock = rl.try_acquire("res", TTL).await.unwrap();
    let key = lock.key().to_string();
    lock.release().await.unwrap();
    // The frozen node still has our SET NX queued; when it wakes it runs the
    // SET and then the release that was sent after it.
    cluster.nodes[4].thaw();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cluster.nodes[4].get(&key),
        None,
        "a stale key was left on the slow node"
    );
    assert_eq!(cluster.count_key(&key), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_owner_extend_and_release_change_nothing() {
    let cluster = Cluster::start(5);
    let rl = client(&cluster);
    let old = rl
        .try_acquire("res", Duration::from_millis(150))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let new = rl
        .try_acquire("res", TTL)
        .await
        .expect("expired lock can be taken");
    let err = old.extend(TTL).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Lost, "{err}");
    assert!(old.is_lost());
    let err = old.release().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Lost, "{err}");
    assert_eq!(
        cluster.count_value(new.key(), new.value()),
        5,
        "the new holder's keys were touched"
    );
    let pttl: i64 = cluster.nodes[0]
        .command(&["PTTL", new.key()])
        .unwrap()
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!(pttl > 9_000, "new holder's ttl changed: {pttl}");
    new.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_never_recreates_an_expired_key() {
    let cluster = Cluster::start(5);
    let rl = client(&cluster);
    let lock = rl
        .try_acquire("res", Duration::from_millis(100))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = lock.extend(TTL).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Lost);
    assert_eq!(
        cluster.count_key(lock.key()),
        0,
        "extend re-created an expired key"
    );
    // Vanished on a quorum (deleted by hand) but alive on two: still lost.
    let lock = rl.try_acquire("res2", TTL).await.unwrap();
    settle("acquire did not reach every node", || {
        cluster.count_value(lock.key(), lock.value()) == 5
    })
    .await;
    for n in &cluster.nodes[..3] {
        n.command(&["DEL", lock.key()]);
    }
    let err = lock.extend(TTL).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Lost);
    assert_eq!(cluster.count_key(lock.key()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_moves_the_validity_and_the_node_ttl() {
    let cluster = Cluster::start(5);
    let rl = client(&cluster);
    let lock = rl
        .try_acquire("res", Duration::from_millis(500))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v = lock.extend(TTL).await.unwrap();
    assert!(
        v > Duration::from_millis(9_000) && v < TTL,
        "validity {v:?}"
    );
    let pttl = |n: usize| -> i64 {
        let reply = cluster.nodes[n].command(&["PTTL", lock.key()]).unwrap();
        reply.trim_start_matches(':').parse().unwrap()
    };
    // Every node gets the new ttl (the ones after the quorum a moment later).
    settle("a node kept the old ttl", || {
        (0..5).all(|n| pttl(n) > 9_000)
    })
    .await;
    assert_eq!(lock.extensions(), 1);
    lock.release().await.unwrap();
    assert_eq!(
        lock.extend(TTL).await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(lock.release().await.unwrap_err().kind(), ErrorKind::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validity_is_ttl_minus_elapsed_minus_drift() {
    let cluster = Cluster::start(5);
    let rl = client(&cluster);
    let ttl = Duration::from_secs(2);
    let drift = rl.config().drift(ttl);
    let t = Instant::now();
    let lock = rl.try_acquire("res", ttl).await.unwrap();
    let elapsed = t.elapsed();
    let v = lock.validity();
    println!("ttl {ttl:?}, drift {drift:?}, elapsed {elapsed:?}, validity {v:?}");
    assert!(v <= ttl - drift);
    assert!(v >= ttl - drift - elapsed - Duration::from_millis(5));
    // A ttl that the drift alone uses up can never be acquired.
    match rl.try_acquire("small", Duration::from_millis(51)).await {
        Ok(lock) => assert!(
            lock.validity()
                <= Duration::from_millis(51) - rl.config().drift(Duration::from_millis(51))
        ),
        Err(e) => assert!(e.is_not_acquired(), "{e}"),
    }
    let mut cfg = Config::default();
    cfg.node_timeout = Duration::from_millis(1);
    let rl = Redlock::new(&cluster.urls(), cfg).unwrap();
    let err = rl
        .try_acquire("tiny", Duration::from_millis(2))
        .await
        .unwrap_err();
    assert!(
        err.is_not_acquired() || err.is_quorum_unreachable(),
        "{err}"
    );
    assert_eq!(
        cluster.count_key("redlead:{tiny}"),
        0,
        "a failed acquire left keys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_tokens_strictly_increase_across_node_restarts() {
    let mut cluster = Cluster::start(5);
    let rl = client(&cluster);
    let mut last = 0;
    for round in 0..30 {
        if round % 5 == 4 {
            // Restart two nodes (AOF keeps their counters).
            let (a, b) = (round % 5, (round + 2) % 5);
            cluster.nodes[a].restart();
            cluster.nodes[b].restart();
            println!("round {round}: restarted nodes {a} and {b}");
        }
        let lock = rl
            .acquire_with(
                "fenced",
                TTL,
                Duration::from_secs(5),
                &LockOptions::fenced(),
            )
            .await
            .unwrap();
        let t = lock.fencing_token().unwrap().get();
        assert!(t > last, "token {t} not above {last}");
        last = t;
        if round % 3 == 0 {
            drop(lock); // released in the background
            tokio::time::sleep(Duration::from_millis(20)).await;
        } else {
            lock.release().await.unwrap();
        }
    }
    println!("30 fenced acquisitions, last token {last}");
    assert!(last >= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_works_the_same_with_the_commands_for_old_servers() {
    let cluster = Cluster::start(5);
    let modern = client(&cluster);
    let legacy = client(&cluster);
    legacy.assume_legacy_servers();
    let mut last = 0;
    for i in 0..10 {
        let rl = if i % 2 == 0 { &legacy } else { &modern };
        let lock = rl
            .try_acquire_with(
                "mixed",
                TTL,
                &LockOptions::fenced().with_owner(format!("o{i}")),
            )
            .await
            .unwrap();
        let t = lock.fencing_token().unwrap().get();
        assert!(t > last, "token {t} after {last}");
        last = t;
        // Both forms report the holder to a refused contender.
        let other = if i % 2 == 0 { &modern } else { &legacy };
        let err = other
            .try_acquire_with("mixed", TTL, &LockOptions::fenced())
            .await
            .unwrap_err();
        let holders: Vec<_> = err
            .outcomes()
            .iter()
            .filter_map(|r| match &r.outcome {
                NodeOutcome::Held(Some(v)) => Some(v.clone()),
                _ => None,
            })
            .collect();
        assert!(
            holders.len() >= 3 && holders.iter().all(|v| v == lock.value()),
            "{err}"
        );
        lock.release().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contenders_never_share_a_fencing_token() {
    let cluster = Cluster::start(5);
    let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut cfg = Config::default();
        cfg.retry_delay = Duration::from_millis(2);
        cfg.retry_jitter = Duration::from_millis(5);
        let rl = Redlock::new(&cluster.urls(), cfg).unwrap();
        let tokens = tokens.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let lock = rl
                    .acquire_with("f", TTL, Duration::from_secs(30), &LockOptions::fenced())
                    .await
                    .unwrap();
                tokens
                    .lock()
                    .unwrap()
                    .push(lock.fencing_token().unwrap().get());
                lock.release().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let tokens = tokens.lock().unwrap();
    // Pushed inside the critical section, so in acquisition order.
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
    assert_eq!(tokens.len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_key_formats_exclude_each_other_during_a_migration() {
    let cluster = Cluster::start(5);
    for (format, key) in [
        (KeyFormat::new("redlock:", false), "redlock:jobs"),
        (KeyFormat::new("", false), "jobs"),
    ] {
        let mut cfg = Config::default();
        cfg.key_format = format;
        let rl = Redlock::new(&cluster.urls(), cfg).unwrap();
        // Ours held: the other library's SET NX PX fails on every node.
        let lock = rl.try_acquire("jobs", TTL).await.unwrap();
        assert_eq!(lock.key(), key);
        settle("acquire did not reach every node", || {
            cluster.count_value(key, lock.value()) == 5
        })
        .await;
        for n in &cluster.nodes {
            assert_eq!(
                n.command(&["SET", key, "other-lib", "NX", "PX", "10000"])
                    .as_deref(),
                Some("(nil)")
            );
        }
        lock.release().await.unwrap();
        settle("release did not reach every node", || {
            cluster.count_key(key) == 0
        })
        .await;
        // Theirs held: ours is refused until their compare-and-delete.
        for n in &cluster.nodes {
            assert_eq!(
                n.command(&["SET", key, "other-lib", "NX", "PX", "10000"])
                    .as_deref(),
                Some("+OK")
            );
        }
        let err = rl.try_acquire("jobs", TTL).await.unwrap_err();
        assert!(err.is_not_acquired(), "{err}");
        for n in &cluster.nodes {
            n.command(&[
                "EVAL",
                "if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end",
                "1",
                key,
                "other-lib",
            ]);
        }
        rl.try_acquire("jobs", TTL)
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_extend_holds_past_the_ttl_until_its_cap_then_warns_before_the_end() {
    let cluster = Cluster::start(5);
    let rl = client(&cluster);
    let ttl = Duration::from_millis(600);
    let opts = LockOptions::default()
        .with_auto_extend(AutoExtend::for_at_most(Duration::from_millis(1500)));
    let t = Instant::now();
    let lock = rl.try_acquire_with("auto", ttl, &opts).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(lock.is_held(), "auto-extended lock expired");
    assert!(lock.extensions() >= 2);
    assert_eq!(cluster.count_value(lock.key(), lock.value()), 5);
    lock.lost().await;
    let at = Instant::now();
    println!(
        "cap reached; lost signalled at {:?}, {:?} before the validity ended",
        at - t,
        lock.deadline() - at
    );
    assert!(
        at < lock.deadline(),
        "lost signalled after the validity ended"
    );
    lock.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_is_signalled_before_the_validity_ends_when_a_quorum_dies() {
    let mut cluster = Cluster::start(5);
    let rl = client(&cluster);
    let ttl = Duration::from_millis(900);
    let opts =
        LockOptions::default().with_auto_extend(AutoExtend::for_at_most(Duration::from_secs(60)));
    let lock = rl.try_acquire_with("doomed", ttl, &opts).await.unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    for i in [0, 1, 2] {
        cluster.nodes[i].kill();
    }
    let t = Instant::now();
    lock.lost().await;
    let at = Instant::now();
    let deadline = lock.deadline();
    println!(
        "quorum killed; lost after {:?}, {:?} before the end of validity",
        at - t,
        deadline.saturating_duration_since(at)
    );
    assert!(at < deadline, "lost signalled after the validity ended");
    assert!(!lock.is_held() || lock.is_lost());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_lock_is_released_in_the_background() {
    let cluster = Cluster::start(5);
    let rl = client(&cluster);
    let key = {
        let lock = rl.try_acquire("dropme", TTL).await.unwrap();
        lock.key().to_string()
    };
    let t = Instant::now();
    while cluster.count_key(&key) > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "dropped lock not released"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rl.try_acquire("dropme", TTL).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let cluster = Cluster::start(1);
    let urls = cluster.urls();
    let empty: [&str; 0] = [];
    let cases: Vec<(&str, redlead::Result<Redlock>)> = vec![
        ("node", Redlock::new(&empty, Config::default())),
        ("URL", Redlock::new(&[""], Config::default())),
        ("URL", Redlock::new(&["http://x"], Config::default())),
        (
            "URL",
            Redlock::new(&["redis://host:notaport"], Config::default()),
        ),
        (
            "drift_factor",
            Redlock::new(&urls, Config::default().with_drift_factor(-0.1)),
        ),
        (
            "node_timeout",
            Redlock::new(&urls, Config::default().with_node_timeout(Duration::ZERO)),
        ),
        (
            "retry_count",
            Redlock::new(
                &urls,
                Config::default().with_retry(Duration::ZERO, Duration::ZERO, Some(0)),
            ),
        ),
    ];
    for (word, r) in cases {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains(word), "{e} should name {word}");
    }
    let rl = client(&cluster);
    let checks = [
        ("resource", rl.try_acquire("", TTL).await.unwrap_err()),
        (
            "resource",
            rl.try_acquire(&"r".repeat(5000), TTL).await.unwrap_err(),
        ),
        (
            "ttl",
            rl.try_acquire("r", Duration::ZERO).await.unwrap_err(),
        ),
        (
            "24 h",
            rl.try_acquire("r", Duration::from_secs(1 << 40))
                .await
                .unwrap_err(),
        ),
        (
            "node_timeout",
            rl.try_acquire("r", Duration::from_millis(20))
                .await
                .unwrap_err(),
        ),
        (
            "wait",
            rl.acquire("r", TTL, Duration::from_secs(1 << 40))
                .await
                .unwrap_err(),
        ),
        (
            "owner",
            rl.try_acquire_with("r", TTL, &LockOptions::default().with_owner(""))
                .await
                .unwrap_err(),
        ),
        (
            "max_extensions",
            rl.try_acquire_with(
                "r",
                TTL,
                &LockOptions::default().with_auto_extend(AutoExtend::times(0)),
            )
            .await
            .unwrap_err(),
        ),
        (
            "interval",
            rl.try_acquire_with(
                "r",
                TTL,
                &LockOptions::default().with_auto_extend(AutoExtend::times(3).with_interval(TTL)),
            )
            .await
            .unwrap_err(),
        ),
    ];
    for (word, e) in checks {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains(word), "{e} should name {word}");
    }
    assert_eq!(
        cluster.nodes[0].dbsize(),
        Some(0),
        "rejected input reached the node"
    );
    assert!(Redlock::new(&urls, Config::default()).is_ok());
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    let e = Redlock::new(&["redis://127.0.0.1:1"], Config::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("runtime"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fenced_lock_extends_with_two_nodes_down() {
    let mut cluster = Cluster::start(5);
    let rl = client(&cluster);
    let lock = rl
        .try_acquire_with("res", Duration::from_millis(800), &LockOptions::fenced())
        .await
        .unwrap();
    cluster.nodes[1].kill();
    cluster.nodes[3].freeze();
    for _ in 0..5 {
        let t = Instant::now();
        let r = lock.extend(Duration::from_millis(800)).await;
        println!(
            "extend: {:?} in {:?}",
            r.as_ref().map_err(|e| e.to_string()),
            t.elapsed()
        );
        r.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.nodes[3].thaw();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_extend_repairs_nodes_that_lost_the_key_but_takes_none() {
    let cluster = Cluster::start(5);
    let rl = client(&cluster);
    let lock = rl.try_acquire("res", TTL).await.unwrap();
    settle("acquire did not reach every node", || {
        cluster.count_value(lock.key(), lock.value()) == 5
    })
    .await;
    // Node 0 lost the key (restart without data); node 1 has someone else's.
    cluster.nodes[0].command(&["DEL", lock.key()]);
    cluster.nodes[1].command(&["SET", lock.key(), "intruder", "PX", "10000"]);
    lock.extend(TTL).await.unwrap();
    settle("node 0 was not repaired", || {
        cluster.nodes[0].get(lock.key()).as_deref() == Some(lock.value())
    })
    .await;
    assert_eq!(
        cluster.nodes[1].get(lock.key()).as_deref(),
        Some("intruder"),
        "repair took a key from another owner"
    );
    assert_eq!(cluster.count_value(lock.key(), lock.value()), 4);
    lock.release().await.unwrap();
}
