//! Several resources all-or-nothing, and the counting semaphore, on real
//! nodes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redlead::{Config, ErrorKind, LockOptions, Redlock};
use redlead_harness::Cluster;

fn client(cluster: &Cluster) -> Redlock {
    Redlock::new(
        &cluster.urls(),
        Config::default()
            .with_node_timeout(Duration::from_millis(50))
            .with_retry(Duration::from_millis(2), Duration::from_millis(8), None),
    )
    .unwrap()
}

const TTL: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_over_several_resources() {
    let cluster = Cluster::start_in_memory(3);
    let (a, b) = (client(&cluster), client(&cluster));
    let opts = LockOptions::default();

    let all = a
        .try_acquire_all(&["m-c", "m-a", "m-b"], TTL, &opts)
        .await
        .unwrap();
    let names: Vec<&str> = all.locks().iter().map(|l| l.resource()).collect();
    assert_eq!(names, ["m-a", "m-b", "m-c"]);
    assert!(all.is_held());
    assert_eq!(
        all.deadline(),
        all.locks().iter().map(|l| l.deadline()).min().unwrap()
    );
    // The acquire returned at the quorum; the last node's SET may still be
    // on its way.
    assert!(a.settled(Duration::from_secs(2)).await);
    for l in all.locks() {
        assert_eq!(cluster.count_value(l.key(), l.value()), 3);
    }

    // b wants m-c (held) and m-d (free): it gets neither, and leaves m-d free.
    let err = b
        .try_acquire_all(&["m-d", "m-c"], TTL, &opts)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAcquired);
    assert_eq!(b.holder_value("m-d").await.unwrap(), None);
    assert_eq!(cluster.count_key(&b.lock_key("m-d")), 0);

    assert!(all.extend(TTL).await.unwrap() > Duration::from_secs(9));
    all.release().await.unwrap();
    assert!(a.settled(Duration::from_secs(2)).await);
    for r in ["m-a", "m-b", "m-c"] {
        assert_eq!(cluster.count_key(&a.lock_key(r)), 0, "{r} left held");
    }
    let both = b
        .try_acquire_all(&["m-d", "m-c"], TTL, &opts)
        .await
        .unwrap();
    both.release().await.unwrap();

    for bad in [&[][..], &["x", "x"][..], &["x", ""][..]] {
        let err = a.try_acquire_all(bad, TTL, &opts).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_sets_never_share_a_resource_and_all_finish() {
    let cluster = Cluster::start_in_memory(3);
    let inside: Arc<Vec<AtomicBool>> = Arc::new((0..3).map(|_| AtomicBool::new(false)).collect());
    let sets: [&[usize]; 3] = [&[0, 1], &[1, 2], &[2, 0]];
    let mut tasks = Vec::new();
    for set in sets {
        for _ in 0..2 {
            let (rl, inside) = (client(&cluster), inside.clone());
            tasks.push(tokio::spawn(async move {
                let names: Vec<String> = set.iter().map(|i| format!("ring-{i}")).collect();
                for _ in 0..10 {
                    let all = rl
                        .acquire_all(
                            &names,
                            TTL,
                            Duration::from_secs(20),
                            &LockOptions::default(),
                        )
                        .await
                        .unwrap();
                    for &i in set {
                        assert!(
                            !inside[i].swap(true, Ordering::SeqCst),
                            "ring-{i} held twice"
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    for &i in set {
                        inside[i].store(false, Ordering::SeqCst);
                    }
                    all.release().await.unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semaphore_admits_at_most_its_permits() {
    let cluster = Cluster::start_in_memory(3);
    let rl = client(&cluster);
    let sem = rl.semaphore("pool", 3).unwrap();
    let opts = LockOptions::default();
    let mut permits = Vec::new();
    for _ in 0..3 {
        permits.push(sem.try_acquire(TTL, &opts).await.unwrap());
    }
    let mut slots: Vec<u32> = permits.iter().map(|p| p.slot()).collect();
    slots.sort();
    assert_eq!(slots, [0, 1, 2]);
    let err = sem.try_acquire(TTL, &opts).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAcquired);
    assert!(err.to_string().contains("all 3 permits are held"), "{err}");
    assert_eq!(sem.held().await.unwrap(), 3);

    let freed = permits.pop().unwrap();
    let slot = freed.slot();
    freed.release().await.unwrap();
    let again = sem
        .acquire(TTL, Duration::from_secs(2), &opts)
        .await
        .unwrap();
    assert_eq!(again.slot(), slot);

    for bad in [0, redlead::MAX_PERMITS + 1] {
        assert_eq!(
            rl.semaphore("pool", bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contenders_on_a_semaphore_never_exceed_the_permits() {
    let cluster = Cluster::start_in_memory(3);
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let sem = client(&cluster).semaphore("busy", 2).unwrap();
        let (now, most) = (now.clone(), most.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..8 {
                let permit = sem
                    .acquire(TTL, Duration::from_secs(20), &LockOptions::default())
                    .await
                    .unwrap();
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                permit.release().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let most = most.load(Ordering::SeqCst);
    assert!(most <= 2, "{most} holders of 2 permits at once");
    assert_eq!(most, 2, "the semaphore never had both permits out");
}
