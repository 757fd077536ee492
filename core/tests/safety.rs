//! The safety holes of issue 8, each reproduced on real redis-server nodes with
//! real faults. Every test here failed before its fix.

use std::sync::Mutex;
use std::time::Duration;

use redlead::{
    AutoExtend, Config, Election, ElectionConfig, ElectionEvent, LockOptions, Redlock, RevokeReason,
};
use redlead_harness::Cluster;
use tokio::time::Instant;

mod common;
use common::*;

const TTL: Duration = Duration::from_secs(10);

/// Item 4: a release returns at the quorum; its delete on a slower node must
/// not land after the same client's next SET NX of the resource. One node
/// sits behind a 3 ms link (toxiproxy), so the release returns before that
/// node answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_then_acquire_by_one_client_leaves_the_new_lock_on_every_node() {
    use redlead_harness::toxiproxy::{Direction, Toxiproxy};
    let cluster = Cluster::start_in_memory(5);
    let tp = Toxiproxy::start();
    let slow = tp.proxy_for(&cluster.nodes[4]);
    let mut urls = cluster.urls();
    urls[4] = slow.url();
    let rl = Redlock::new(&urls, Config::default()).unwrap();
    warm(&rl).await;
    slow.latency(Direction::Upstream, 3, 0);
    let key = rl.lock_key("cycle");
    let mut short = 0;
    for _ in 0..300 {
        // Released at once, while the slow node has not answered the SET yet.
        let first = rl.try_acquire("cycle", TTL).await.unwrap();
        first.release().await.unwrap();
        let lock = rl.try_acquire("cycle", TTL).await.unwrap();
        let value = lock.value().to_string();
        // Every node has the new value once its commands settle; with the
        // old per-lock chains the release's delete on the slow node waited
        // for the first SET's reply, the new SET NX overtook it and was
        // refused there, and the node kept no key at all.
        let t = Instant::now();
        while cluster.count_value(&key, &value) < 5 && t.elapsed() < Duration::from_millis(100) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if cluster.count_value(&key, &value) < 5 {
            short += 1;
        }
        lock.release().await.unwrap();
    }
    println!("300 release+acquire cycles: {short} left the new lock missing on a node");
    assert_eq!(short, 0);
    settle("the per-key queues empty once everything settled", || {
        rl.queued_keys() == 0
    })
    .await;
}

/// Item 4 with faults: two of five nodes frozen, a fenced try_acquire right
/// after a release must find the three live nodes free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fenced_acquire_right_after_release_succeeds_with_two_nodes_frozen() {
    let mut cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    warm(&rl).await;
    cluster.nodes[0].freeze();
    cluster.nodes[1].freeze();
    let mut failures = 0;
    for _ in 0..14 {
        let lock = rl
            .try_acquire_with("frozen2", TTL, &LockOptions::fenced())
            .await
            .unwrap();
        lock.release().await.unwrap();
        match rl
            .try_acquire_with("frozen2", TTL, &LockOptions::fenced())
            .await
        {
            Ok(l) => {
                l.release().await.unwrap();
            }
            Err(e) => {
                println!("acquire after release failed: {e}");
                failures += 1;
            }
        }
    }
    cluster.nodes[0].thaw();
    cluster.nodes[1].thaw();
    assert_eq!(
        failures, 0,
        "{failures} of 14 acquisitions right after a release failed"
    );
}

/// Item 5: a lock lost while held (a quorum frozen past its validity) makes
/// release say Lost, not Connection: the critical section ran unprotected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_after_the_lock_was_lost_says_lost_even_when_nodes_do_not_answer() {
    let mut cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    warm(&rl).await;
    let lock = rl
        .try_acquire("lost-inside", Duration::from_millis(400))
        .await
        .unwrap();
    for n in &mut cluster.nodes[..3] {
        n.freeze();
    }
    tokio::time::timeout(Duration::from_secs(2), lock.lost())
        .await
        .expect("lost fires");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = lock.release().await.unwrap_err();
    for n in &mut cluster.nodes[..3] {
        n.thaw();
    }
    println!("release after loss: {err}");
    assert!(err.is_lost(), "{err}");
    assert_eq!(err.outcomes().len(), 5);
}

/// Item 7: an extend that reaches a quorum repairs nodes that lack the key —
/// but a repair must never run after a release that began meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_racing_release_recreates_no_key() {
    let cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    warm(&rl).await;
    let key = rl.lock_key("race");
    for round in 0..20 {
        let lock = rl.try_acquire("race", TTL).await.unwrap();
        let value = lock.value().to_string();
        settle("acquired everywhere", || {
            cluster.count_value(&key, &value) == 5
        })
        .await;
        // Two nodes lose the key, so the extend answers "not held" there and
        // would repair them.
        cluster.nodes[0].command(&["DEL", &key]);
        cluster.nodes[1].command(&["DEL", &key]);
        let (extended, released) = tokio::join!(lock.extend(TTL), lock.release());
        extended.unwrap();
        released.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let left = cluster.count_key(&key);
        assert_eq!(
            left, 0,
            "round {round}: {left} nodes hold the key after release"
        );
    }
}

/// Item 8: an acquisition that leaves less validity than the safety margin
/// fails (and cleans up) instead of handing over a lock that is already
/// "lost". Three nodes pause in DEBUG SLEEP so the acquisition is slow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquisition_with_less_validity_than_the_margin_fails_and_leaves_no_key() {
    let cluster = Cluster::start_in_memory(5);
    let cfg = Config::default().with_node_timeout(Duration::from_millis(120));
    let rl = Redlock::new(&cluster.urls(), cfg).unwrap();
    warm(&rl).await;
    let ttl = Duration::from_millis(150); // margin = min(max(15, 240), 75) = 75 ms
    let mut cluster = cluster;
    for n in &mut cluster.nodes[..3] {
        n.freeze();
    }
    let started = Instant::now();
    let attempt = {
        let rl = rl.clone();
        tokio::spawn(async move { rl.try_acquire("slow", ttl).await })
    };
    tokio::time::sleep(Duration::from_millis(90)).await;
    for n in &mut cluster.nodes[..3] {
        n.thaw();
    }
    let result = attempt.await.unwrap();
    let took = started.elapsed();
    match &result {
        Ok(l) => println!("acquired after {took:?} with validity {:?}", l.validity()),
        Err(e) => println!("refused after {took:?}: {e}"),
    }
    assert!(
        took >= Duration::from_millis(70),
        "the nodes did not pause ({took:?})"
    );
    let err = result.expect_err("a lock with validity below the margin was handed out");
    assert!(err.is_not_acquired(), "{err}");
    assert!(err.to_string().contains("safety margin"), "{err}");
    let key = rl.lock_key("slow");
    settle("no key left", || cluster.count_key(&key) == 0).await;
}

/// Item 9: `lost()` must re-arm when an extend moves the deadline earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_fires_on_time_after_an_extend_shortens_the_lock() {
    let cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    warm(&rl).await;
    let lock = rl.try_acquire("shorten", TTL).await.unwrap();
    let t = Instant::now();
    lock.extend(Duration::from_millis(600)).await.unwrap();
    let deadline = lock.deadline();
    tokio::time::timeout(Duration::from_secs(3), lock.lost())
        .await
        .expect("lost did not fire within 3 s of a 600 ms extend");
    let fired = Instant::now();
    println!(
        "lost fired {:?} after the extend, {:?} before the deadline",
        fired - t,
        deadline.saturating_duration_since(fired)
    );
    assert!(fired < deadline, "lost fired after the validity ended");
}

/// Item 11: cancelling an acquire in flight leaves no key behind for a ttl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_acquire_leaves_no_keys() {
    let mut cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    warm(&rl).await;
    // Three frozen nodes keep the attempt waiting for the node timeout, while
    // the two live ones already hold its key.
    for n in &mut cluster.nodes[..3] {
        n.freeze();
    }
    let key = rl.lock_key("cancelled");
    let cancelled =
        tokio::time::timeout(Duration::from_millis(10), rl.try_acquire("cancelled", TTL)).await;
    assert!(cancelled.is_err(), "the acquire was not cancelled");
    settle(
        "the live nodes are cleaned up after the cancellation",
        || cluster.nodes[3].get(&key).is_none() && cluster.nodes[4].get(&key).is_none(),
    )
    .await;
    for n in &mut cluster.nodes[..3] {
        n.thaw();
    }
    settle("no key anywhere after the thaw", || {
        cluster.count_key(&key) == 0
    })
    .await;
    println!("cancelled after 10 ms; no key left on any node");
}

/// Item 15: WRONGTYPE is not "old server": the node keeps the modern forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrongtype_errors_do_not_switch_nodes_to_the_old_server_commands() {
    let cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    warm(&rl).await;
    let fence = rl.config().key_format.fence_key("typed");
    cluster.nodes[0].command(&["SET", &fence, "not a sorted set"]);
    cluster.nodes[1].command(&["SET", &fence, "not a sorted set"]);
    let lock = rl
        .try_acquire_with("typed", TTL, &LockOptions::fenced())
        .await
        .unwrap();
    lock.release().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(rl.nodes_on_legacy_commands(), 0);
}

/// Item 10: stop() is bounded behind a handler that blocks, and is_healthy
/// says so meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_is_bounded_behind_a_blocked_handler() {
    let cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    let mut cfg = ElectionConfig::with_ttl(Duration::from_millis(1000));
    cfg.stop_timeout = Duration::from_millis(400);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = Mutex::new(rx);
    let election = Election::start(&rl, "blocked", "a", cfg, move |ev| {
        if matches!(ev, ElectionEvent::Elected { .. }) {
            // Blocks until the test lets it go (or 10 s).
            let _ = rx.lock().unwrap().recv_timeout(Duration::from_secs(10));
        }
    })
    .unwrap();
    let t = Instant::now();
    while !election.is_leader() {
        assert!(t.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !election.is_healthy(),
        "a handler blocked for 500 ms (> stop_timeout 400 ms) must make the election unhealthy"
    );
    let t = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(5), election.stop())
        .await
        .expect("stop hung behind the blocked handler");
    println!("stop returned after {:?}: {stopped:?}", t.elapsed());
    assert!(stopped.unwrap_err().kind() == redlead::ErrorKind::Timeout);
    assert!(!election.is_leader());
    let key = rl.lock_key("blocked");
    assert_eq!(cluster.count_key(&key), 0, "stop left the leader's key");
    tx.send(()).unwrap();
}

/// Item 15: a runtime shut down under a leading campaign still tells the
/// handler that leadership ended.
#[test]
fn runtime_shutdown_while_leading_sends_revoked() {
    let cluster = Cluster::start_in_memory(5);
    let (events, handler) = recorder();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let election = rt.block_on(async {
        let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
        let e = Election::start(
            &rl,
            "shutdown",
            "a",
            ElectionConfig::with_ttl(Duration::from_secs(2)),
            handler,
        )
        .unwrap();
        wait_elected(&events, Duration::from_secs(3)).await;
        e
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    let t = std::time::Instant::now();
    loop {
        let revoked = events.lock().unwrap().iter().any(|e| {
            matches!(
                e,
                ElectionEvent::Revoked {
                    reason: RevokeReason::Stopped,
                    ..
                }
            )
        });
        if revoked {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "no Revoked after the runtime shut down: {:?}",
            events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!election.is_leader());
    drop(election);
}

/// Item 2: a forked child believes nothing of its parent's: no lock held, no
/// token, no leadership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forked_child_holds_no_lock_and_does_not_lead() {
    let cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    let lock = rl
        .try_acquire_with("forked", TTL, &LockOptions::fenced())
        .await
        .unwrap();
    let (events, handler) = recorder();
    let election = Election::start(
        &rl,
        "forked-leader",
        "parent",
        ElectionConfig::with_ttl(Duration::from_secs(3)),
        handler,
    )
    .unwrap();
    wait_elected(&events, Duration::from_secs(3)).await;
    assert!(lock.is_held() && election.is_leader());
    // SAFETY: the child only reads atomics and plain memory, then _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        unsafe { libc::alarm(5) };
        let mut bad = 0;
        bad |= lock.is_held() as i32;
        bad |= (!lock.is_lost() as i32) << 1;
        bad |= (lock.fencing_token().is_some() as i32) << 2;
        bad |= ((lock.validity() > Duration::ZERO) as i32) << 3;
        bad |= (election.is_leader() as i32) << 4;
        bad |= (election.term().is_some() as i32) << 5;
        bad |= (election.is_healthy() as i32) << 6;
        unsafe { libc::_exit(bad) };
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "child did not exit normally");
    let bits = libc::WEXITSTATUS(status);
    println!("forked child: accessor failures bitmask {bits:#b}");
    assert_eq!(
        bits, 0,
        "a forked child reported its parent's lock or leadership"
    );
    assert!(
        lock.is_held() && election.is_leader(),
        "the parent kept both"
    );
    election.stop().await.unwrap();
    lock.release().await.unwrap();
}

/// The auto-extend path: an auto-extended lock dropped mid-flight leaves no key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_auto_extended_lock_while_extending_leaves_no_key() {
    let cluster = Cluster::start_in_memory(5);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    warm(&rl).await;
    let key = rl.lock_key("auto-drop");
    let ttl = Duration::from_millis(600);
    for round in 0..10 {
        let opts = LockOptions::default().with_auto_extend(
            AutoExtend::for_at_most(Duration::from_secs(30))
                .with_interval(Duration::from_millis(20)),
        );
        let lock = rl.try_acquire_with("auto-drop", ttl, &opts).await.unwrap();
        cluster.nodes[0].command(&["DEL", &key]);
        cluster.nodes[1].command(&["DEL", &key]);
        tokio::time::sleep(Duration::from_millis(20 + round * 3)).await;
        drop(lock);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            cluster.count_key(&key),
            0,
            "round {round}: a key outlived the drop"
        );
    }
}

/// Helper-found: a process that exits right after `release()` (which returns
/// at the quorum) must be able to wait for the minority nodes' deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_waits_for_the_minority_nodes_of_a_release() {
    use redlead_harness::toxiproxy::{Direction, Toxiproxy};
    let cluster = Cluster::start_in_memory(5);
    let tp = Toxiproxy::start();
    let slow: Vec<_> = cluster.nodes[3..].iter().map(|n| tp.proxy_for(n)).collect();
    let mut urls = cluster.urls();
    urls[3] = slow[0].url();
    urls[4] = slow[1].url();
    let rl = Redlock::new(&urls, Config::default()).unwrap();
    warm(&rl).await;
    let lock = rl.try_acquire("settle", TTL).await.unwrap();
    let key = rl.lock_key("settle");
    settle("acquired everywhere", || cluster.count_key(&key) == 5).await;
    for p in &slow {
        p.latency(Direction::Upstream, 30, 0);
    }
    lock.release().await.unwrap();
    let right_after = cluster.count_key(&key);
    assert!(
        rl.settled(Duration::from_secs(2)).await,
        "commands did not settle"
    );
    let after_settled = cluster.count_key(&key);
    println!("keys right after release: {right_after}; after settled(): {after_settled}");
    assert_eq!(after_settled, 0);
    assert_eq!(rl.queued_keys(), 0);
}
