//! Observing who holds a resource without campaigning.

mod common;

use std::time::Duration;

use redlead::{Config, Election, ElectionConfig, Observation, Redlock};
use redlead_harness::Cluster;
use tokio::sync::watch;

fn fast_client(cluster: &Cluster) -> Redlock {
    Redlock::new(
        &cluster.urls(),
        Config::default().with_node_timeout(Duration::from_millis(20)),
    )
    .unwrap()
}

async fn wait_for(
    rx: &mut watch::Receiver<Observation>,
    within: Duration,
    what: &str,
    want: impl FnMut(&Observation) -> bool,
) -> Observation {
    let seen = match tokio::time::timeout(within, rx.wait_for(want)).await {
        Ok(Ok(o)) => Some(o.clone()),
        _ => None,
    };
    seen.unwrap_or_else(|| panic!("{what}: still {:?} after {within:?}", *rx.borrow()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_sees_the_handover_from_the_resign_announcement_without_polling() {
    let cluster = Cluster::start_in_memory(5);
    let rl = fast_client(&cluster);
    common::warm(&rl).await;
    let cfg = ElectionConfig::with_ttl(Duration::from_millis(900));
    let a = Election::start(&rl, "observed", "a", cfg.clone(), |_| {}).unwrap();
    common::settle("a leads", || a.is_leader()).await;
    let b = Election::start(&rl, "observed", "b", cfg, |_| {}).unwrap();
    // A poll interval far longer than the test: only the first poll and the
    // announcements can explain what it sees.
    let watcher = fast_client(&cluster);
    let observer = watcher
        .observe_every("observed", Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(observer.leader().as_deref(), Some("a"), "the first poll");
    let mut changes = observer.changes();
    assert!(a.resign().await.unwrap());
    let t = std::time::Instant::now();
    let seen = wait_for(&mut changes, Duration::from_secs(1), "b seen", |o| {
        o.leader() == Some("b")
    })
    .await;
    println!("observer saw b {:?} after a resigned", t.elapsed());
    // The nodes may hold b's value before b's own acquisition returned (its
    // fencing round): the observer can see a leader a moment early.
    common::settle("b leads", || b.is_leader()).await;
    assert_eq!(seen.value, watcher.holder_value("observed").await.unwrap());
    b.stop().await.unwrap();
    a.stop().await.unwrap();
    wait_for(
        &mut changes,
        Duration::from_secs(1),
        "nobody after stop",
        |o| o.value.is_none(),
    )
    .await;
    drop(observer);
    assert!(
        changes.changed().await.is_err(),
        "a dropped observer closes its watch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_reports_a_leader_only_when_a_quorum_of_nodes_agree() {
    let mut cluster = Cluster::start_in_memory(5);
    let rl = fast_client(&cluster);
    let observer = rl
        .observe_every("split", Duration::from_millis(20))
        .await
        .unwrap();
    let mut changes = observer.changes();
    let key = rl.lock_key("split");
    let (x, y, z) = (
        "00000000000000000000000000000001:x",
        "00000000000000000000000000000002:y",
        "00000000000000000000000000000003:z",
    );
    let set = |cluster: &Cluster, values: [&str; 5]| {
        for (n, v) in cluster.nodes.iter().zip(values) {
            n.command(&["SET", &key, v]);
        }
    };
    let within = Duration::from_secs(2);
    set(&cluster, [x, x, y, y, y]);
    wait_for(&mut changes, within, "y on 3 of 5", |o| {
        o.leader() == Some("y")
    })
    .await;
    set(&cluster, [x, x, x, y, y]);
    wait_for(&mut changes, within, "x on 3 of 5", |o| {
        o.leader() == Some("x")
    })
    .await;
    set(&cluster, [x, x, y, y, z]);
    wait_for(&mut changes, within, "split 2-2-1: none", |o| {
        o.value.is_none()
    })
    .await;
    set(&cluster, [x, x, x, y, z]);
    wait_for(&mut changes, within, "x on 3 again", |o| {
        o.leader() == Some("x")
    })
    .await;
    for i in [2, 3, 4] {
        cluster.nodes[i].freeze();
    }
    wait_for(&mut changes, within, "no quorum answers: none", |o| {
        o.value.is_none()
    })
    .await;
    println!("x, y, split, x, frozen quorum: seen as y, x, none, x, none");
    for i in [2, 3, 4] {
        cluster.nodes[i].thaw();
    }
    wait_for(&mut changes, within, "x once the nodes answer", |o| {
        o.leader() == Some("x")
    })
    .await;
}

/// The first ask comes after the subscriptions: when `observe` returns, a
/// quorum of nodes already count its subscriber, so a release right after is
/// announced to it, not left for the next poll. (Before the fix the ask on
/// warm connections returned before the new pub/sub connections subscribed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn observe_returns_subscribed_on_a_quorum_so_a_release_at_once_is_heard() {
    let cluster = Cluster::start_in_memory(3);
    let rl = fast_client(&cluster);
    common::warm(&rl).await;
    let channel = |r: &str| rl.config().key_format.release_channel(r);
    for round in 0..5 {
        let resource = format!("observed-at-once-{round}");
        let opts = redlead::LockOptions::default().with_owner("holder");
        let lock = rl
            .try_acquire_with(&resource, Duration::from_secs(30), &opts)
            .await
            .unwrap();
        let observer = rl
            .observe_every(&resource, Duration::from_secs(600))
            .await
            .unwrap();
        let counts = subscribers(&cluster, &channel(&resource));
        assert!(
            counts.iter().filter(|&&c| c > 0).count() >= 2,
            "round {round}: subscribers per node {counts:?} when observe returned"
        );
        assert_eq!(
            observer.leader().as_deref(),
            Some("holder"),
            "round {round}"
        );
        let mut changes = observer.changes();
        lock.release().await.unwrap();
        wait_for(&mut changes, Duration::from_secs(2), "the release", |o| {
            o.value.is_none()
        })
        .await;
    }
}

fn subscribers(cluster: &Cluster, channel: &str) -> Vec<i64> {
    cluster
        .urls()
        .iter()
        .map(|url| {
            let mut con = redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap();
            let reply: Vec<(String, i64)> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(channel)
                .query(&mut con)
                .unwrap();
            reply[0].1
        })
        .collect()
}
