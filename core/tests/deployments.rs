//! A Redis Cluster and a Sentinel-managed master as kinds of Redlock node
//! (issue 13), on real processes: a cluster of 3 masters + 3 replicas, and
//! a master + replica watched by 3 sentinels. What a lock does across each
//! kind of failover, and the hole asynchronous replication leaves, which N
//! independent masters do not have (docs/deployment.md).

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redlead::{Config, Election, ElectionConfig, ErrorKind, KeyFormat, Lock, LockOptions, Redlock};
use redlead_harness::replication::{hold_back, unacknowledged_bytes};
use redlead_harness::{Cluster, RedisCluster, SentinelGroup};
use tokio::time::Instant;

mod common;

const TTL: Duration = Duration::from_secs(10);

fn client<S: AsRef<str>>(urls: &[S]) -> Redlock {
    Redlock::new(urls, Config::default()).unwrap()
}

/// The first attempt also connects (a cluster client learns the topology
/// first): wait for it rather than try once.
async fn lock(rl: &Redlock, resource: &str, opts: &LockOptions) -> Lock {
    rl.acquire_with(resource, TTL, Duration::from_secs(5), opts)
        .await
        .unwrap_or_else(|e| panic!("acquire {resource}: {e}"))
}

/// Extends until the node answers (it follows the new master meanwhile;
/// `Connection` errors are retried for at most 5 s), printing each attempt;
/// returns the answer.
async fn extend_once_answered(lock: &Lock, when: &str) -> redlead::Result<Duration> {
    let t = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let answer = lock.extend(TTL).await;
        println!(
            "  extend {when}, attempt {attempts} after {:?}: {answer:?}",
            t.elapsed()
        );
        match answer {
            Err(e) if e.kind() == ErrorKind::Connection && t.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            answer => return answer,
        }
    }
}

/// A lock that went through a failover with its key: it extends once the
/// node answers, its key is where `read` finds it, and release removes it.
async fn kept_through(held: &Lock, failover: &str, read: impl Fn(&str) -> Option<String>) {
    extend_once_answered(held, failover).await.unwrap();
    assert_eq!(read(held.key()).as_deref(), Some(held.value()));
    held.release().await.unwrap();
    assert_eq!(read(held.key()), None);
}

/// A lock whose key a failover lost: it still has validity, and its next
/// extend that reaches the node says `Lost`.
async fn lost_through(first: &Lock, failover: &str) {
    assert!(first.validity() > Duration::ZERO && !first.is_lost());
    let lost = extend_once_answered(first, failover).await.unwrap_err();
    assert_eq!(lost.kind(), ErrorKind::Lost, "{lost}");
}

/// Takes and releases locks until one lands on `expected`: the node has
/// followed the master there. Returns how long that took.
async fn wait_until_locks_land_on(rl: &Redlock, expected: &redlead_harness::Node) -> Duration {
    let t = Instant::now();
    loop {
        if let Ok(probe) = rl.try_acquire("probe", TTL).await {
            let landed = expected.get(probe.key()).as_deref() == Some(probe.value());
            probe.release().await.unwrap();
            if landed {
                return t.elapsed();
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "locks never landed on the new master"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two candidates on separate clients; the leader resigns. Returns the time
/// from the resignation to the other's election. Followers poll only every
/// 10 s here, so a handover well below that was woken by the announcement
/// through pub/sub.
async fn handover(a: &Redlock, b: &Redlock, resource: &str) -> Duration {
    let mut cfg = ElectionConfig::with_ttl(Duration::from_secs(6));
    cfg.retry_interval = Duration::from_secs(10);
    cfg.retry_jitter = Duration::ZERO;
    let first = Election::start(a, resource, "first", cfg.clone(), |_| {}).unwrap();
    let t = Instant::now();
    while !first.is_leader() {
        assert!(t.elapsed() < Duration::from_secs(5), "no first leader");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = Election::start(b, resource, "second", cfg, |_| {}).unwrap();
    // Let the follower fail its first attempt and subscribe.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!second.is_leader());
    let t = Instant::now();
    assert!(first.resign().await.unwrap());
    while !second.is_leader() {
        assert!(!first.is_leader(), "two leaders");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "no handover within 2 s: the resignation was not heard"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = t.elapsed();
    first.stop().await.unwrap();
    second.stop().await.unwrap();
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_locks_fences_and_elects_alone_and_next_to_standalone_nodes() {
    let cluster = RedisCluster::start();
    let url = cluster.url();
    let rl = client(&[&url]);
    assert_eq!(rl.quorum().size(), 1);
    assert_eq!(rl.node_names(), std::slice::from_ref(&url));

    // A plain lock: on the master of its slot, exclusive, extended, released.
    let held = lock(&rl, "deploy-plain", &LockOptions::default()).await;
    assert_eq!(cluster.get(held.key()).as_deref(), Some(held.value()));
    let other = client(&[&url]);
    let refused = other.try_acquire("deploy-plain", TTL).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::NotAcquired, "{refused}");
    held.extend(TTL).await.unwrap();
    held.release().await.unwrap();
    assert_eq!(cluster.get(held.key()), None);

    // Fenced: the fencing key shares the lock key's slot, tokens grow.
    let a = lock(&rl, "deploy-fenced", &LockOptions::fenced()).await;
    let fence_key = format!("{}:fence", a.key());
    assert_eq!(cluster.slot_of(&fence_key), cluster.slot_of(a.key()));
    let token_a = a.fencing_token().unwrap();
    a.release().await.unwrap();
    let b = lock(&other, "deploy-fenced", &LockOptions::fenced()).await;
    assert!(b.fencing_token().unwrap() > token_a);
    b.release().await.unwrap();

    // Keys of many resources spread over the three masters: the client
    // routes each to its slot's master (MOVED would fail the pipeline).
    let mut masters = HashSet::new();
    for i in 0..30 {
        let l = rl
            .try_acquire_with(&format!("spread-{i}"), TTL, &LockOptions::fenced())
            .await
            .unwrap();
        masters.insert(cluster.master_of(l.key()));
        l.release().await.unwrap();
    }
    println!("30 fenced locks served by masters {masters:?}");
    assert_eq!(masters.len(), 3);

    // Election on the cluster alone: the resignation is announced through
    // the cluster's pub/sub.
    let took = handover(&rl, &other, "deploy-election").await;
    println!("handover on one cluster node: {took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");

    // The cluster as one node of three, next to two standalone masters.
    let mut standalone = Cluster::start(2);
    let mut urls = vec![url.clone()];
    urls.extend(standalone.urls());
    let mixed = client(&urls);
    let other_mixed = client(&urls);
    let held = lock(&mixed, "deploy-mixed", &LockOptions::fenced()).await;
    common::settle("the lock on all three nodes", || {
        cluster.get(held.key()).as_deref() == Some(held.value())
            && standalone.count_value(held.key(), held.value()) == 2
    })
    .await;
    let refused = other_mixed
        .try_acquire("deploy-mixed", TTL)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::NotAcquired);
    standalone.nodes[0].kill();
    held.extend(TTL).await.unwrap(); // the cluster and one master: 2 of 3
    held.release().await.unwrap();
    standalone.nodes[0].restart();
    let took = handover(&mixed, &other_mixed, "deploy-mixed-election").await;
    println!("handover on cluster + 2 standalone nodes: {took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_on_a_cluster_node_survives_a_failover_that_lost_no_write() {
    let mut cluster = RedisCluster::start();
    let rl = client(&[cluster.url()]);

    // Coordinated: CLUSTER FAILOVER on the replica, which catches up first.
    let held = lock(&rl, "deploy-failover", &LockOptions::fenced()).await;
    let master = cluster.master_of(held.key());
    let replica = cluster.replica_of(master);
    let t = Instant::now();
    cluster.fail_over_to(replica);
    println!(
        "CLUSTER FAILOVER: member {replica} replaced {master} in {:?}",
        t.elapsed()
    );
    assert_eq!(cluster.master_of(held.key()), replica);
    kept_through(&held, "after CLUSTER FAILOVER", |k| cluster.get(k)).await;

    // A crash: kill the master once the lock reached its replica; the
    // cluster promotes the replica by itself.
    let held = lock(&rl, "deploy-crash", &LockOptions::default()).await;
    let master = cluster.master_of(held.key());
    let replica = cluster.replica_of(master);
    common::settle("the lock replicated", || {
        unacknowledged_bytes(&cluster.nodes[master]) == 0
    })
    .await;
    cluster.nodes[master].kill();
    let t = Instant::now();
    let during = held.extend(TTL).await.unwrap_err();
    println!("extend while the master is dead: {during}");
    assert_eq!(during.kind(), ErrorKind::Connection, "{during}");
    cluster.wait_master(replica, Duration::from_secs(15));
    println!("member {replica} promoted {:?} after the kill", t.elapsed());
    kept_through(&held, "after the promotion", |k| cluster.get(k)).await;
}

/// The hole: a master acknowledges the lock, dies before its replica has
/// it, the replica takes over without the key, and a second client gets
/// the same lock while the first still holds it. On three Redlock nodes of
/// which the cluster is one, the same loss costs nothing: the other two
/// still hold the first lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asynchronous_replication_lets_a_cluster_failover_hand_a_lock_to_two_holders() {
    let mut cluster = RedisCluster::start();
    let standalone = Cluster::start(2);
    let alone = [cluster.url()];
    let mut mixed = vec![cluster.url()];
    mixed.extend(standalone.urls());
    let (first_alone, second_alone) = (client(&alone), client(&alone));
    let (first_mixed, second_mixed) = (client(&mixed), client(&mixed));
    common::warm(&first_alone).await;
    common::warm(&second_alone).await;
    common::warm(&first_mixed).await;
    common::warm(&second_mixed).await;

    // Two resources served by one master.
    let master = cluster.master_of(&first_alone.lock_key("hole-alone"));
    let mixed_resource = (0..)
        .map(|i| format!("hole-mixed-{i}"))
        .find(|r| cluster.master_of(&first_mixed.lock_key(r)) == master)
        .unwrap();
    let replica = cluster.replica_of(master);
    let filler_key = "{hole-alone}:filler";
    let (m, r) = two_mut(&mut cluster.nodes, master, replica);
    hold_back(m, r, filler_key);

    let first = lock(&first_alone, "hole-alone", &LockOptions::fenced()).await;
    let first_of_three = lock(&first_mixed, &mixed_resource, &LockOptions::fenced()).await;
    let behind = unacknowledged_bytes(&cluster.nodes[master]);
    println!(
        "both locks acknowledged to their clients; the frozen replica is {behind} bytes behind"
    );
    assert!(behind > 0);

    cluster.nodes[master].kill();
    cluster.nodes[replica].thaw();
    let t = Instant::now();
    cluster.wait_master(replica, Duration::from_secs(15));
    println!(
        "master killed before replicating; member {replica} promoted after {:?}",
        t.elapsed()
    );
    assert_eq!(
        cluster.get(first.key()),
        None,
        "the promoted replica has the key"
    );

    let second = second_alone
        .acquire_with(
            "hole-alone",
            TTL,
            Duration::from_secs(5),
            &LockOptions::fenced(),
        )
        .await
        .expect("the hole: a second holder on one cluster node");
    println!(
        "one cluster node: a second client holds the lock (token {}) while the first believes it holds it for {:?} more (token {})",
        second.fencing_token().unwrap(),
        first.validity(),
        first.fencing_token().unwrap()
    );
    // The fencing counter lost its raise with the key: both holders carry
    // the same token, and only a store that accepts strictly greater tokens
    // turns the second writer away.
    assert_eq!(second.fencing_token(), first.fencing_token());
    lost_through(&first, "of the unreplicated lock").await;
    second.release().await.unwrap();

    let refused = second_mixed
        .try_acquire_with(&mixed_resource, TTL, &LockOptions::fenced())
        .await
        .unwrap_err();
    println!("cluster + 2 standalone: the second client is refused: {refused}");
    assert_eq!(refused.kind(), ErrorKind::NotAcquired);
    first_of_three.extend(TTL).await.unwrap(); // 2 of 3 still hold it
    first_of_three.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_node_locks_elects_and_follows_the_master_across_a_failover() {
    let group = SentinelGroup::start();
    let url = group.url();
    let rl = client(&[&url]);
    let held = lock(&rl, "deploy-sentinel", &LockOptions::fenced()).await;
    assert_eq!(group.data[0].get(held.key()).as_deref(), Some(held.value()));
    common::settle("the lock replicated", || {
        group.data[1].get(held.key()).as_deref() == Some(held.value())
    })
    .await;
    let took = handover(&rl, &client(&[&url]), "deploy-sentinel-election").await;
    println!("handover on one sentinel node: {took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");

    // SENTINEL FAILOVER: the replica is promoted, the old master demoted.
    group.fail_over();
    let t = Instant::now();
    group.wait_master(1, Duration::from_secs(15));
    println!(
        "SENTINEL FAILOVER: data[1] is master after {:?}",
        t.elapsed()
    );
    // The old master is alive and still a master until the sentinels
    // demote it on their next look (up to 10 s); the node leaves it when
    // the sentinels announce +switch-master.
    let followed = wait_until_locks_land_on(&rl, &group.data[1]).await;
    println!("new locks land on data[1] {followed:?} after that");
    assert!(followed < Duration::from_secs(2), "{followed:?}");
    kept_through(&held, "after SENTINEL FAILOVER", |k| group.data[1].get(k)).await;
}

/// A crash of the master: the lock the replica had survives it, the lock
/// it had not received is lost, and a second client takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asynchronous_replication_lets_a_sentinel_failover_hand_a_lock_to_two_holders() {
    let mut group = SentinelGroup::start();
    let url = group.url();
    let (first_client, second_client) = (client(&[&url]), client(&[&url]));
    common::warm(&first_client).await;
    common::warm(&second_client).await;
    let kept = lock(&first_client, "kept-sentinel", &LockOptions::default()).await;
    common::settle("the first lock replicated", || {
        group.data[1].get(kept.key()).as_deref() == Some(kept.value())
    })
    .await;
    let (m, r) = two_mut(&mut group.data, 0, 1);
    hold_back(m, r, "hole-filler");
    let first = lock(&first_client, "hole-sentinel", &LockOptions::default()).await;
    assert!(unacknowledged_bytes(&group.data[0]) > 0);
    group.data[0].kill();
    group.data[1].thaw();
    let t = Instant::now();
    group.wait_master(1, Duration::from_secs(15));
    println!("master killed; replica promoted after {:?}", t.elapsed());

    kept_through(&kept, "of the replicated lock", |k| group.data[1].get(k)).await;

    assert_eq!(group.data[1].get(first.key()), None);
    let second = second_client
        .acquire("hole-sentinel", TTL, Duration::from_secs(5))
        .await
        .expect("the hole: a second holder on one sentinel node");
    println!(
        "the unreplicated lock: a second client holds it while the first believes it holds it for {:?} more",
        first.validity()
    );
    lost_through(&first, "of the unreplicated lock").await;
    second.release().await.unwrap();
}

/// Bad input gives a typed error at once, and a cluster or sentinel that
/// nobody answers for gives a typed error within the node timeout and the
/// connect timeouts, never a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_unreachable_cluster_and_sentinel_nodes_fail_with_typed_errors() {
    let no_tag = Config::default().with_key_format(KeyFormat::new("", false));
    let e = Redlock::new(&["redis+cluster://127.0.0.1:1"], no_tag.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("key_format.hash_tag"), "{e}");
    // Without hash tags a sentinel node is fine: one server holds every key.
    Redlock::new(&["redis+sentinel://127.0.0.1:1/m"], no_tag).unwrap();

    for (url, why) in [
        (
            "redis+cluster://admin:s3cret@127.0.0.1:1,,127.0.0.1:2",
            "empty entry",
        ),
        ("redis+sentinel://admin:s3cret@127.0.0.1:1", "master's name"),
        (
            "redis+sentinel://127.0.0.1:1/m/0/x?sentinel_password=s3cret",
            "<master name>",
        ),
        ("redis+cluster://admin:s3cret@127.0.0.1:1/3", "database 0"),
    ] {
        let e = Redlock::new(&[url], Config::default()).unwrap_err();
        println!("{e}");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains(why), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    let config = Config::default().with_connect_timeout(Duration::from_millis(200));
    for url in [
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
        "redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster",
    ] {
        let rl = Redlock::new(&[url], config.clone()).unwrap();
        let t = Instant::now();
        let e = rl.try_acquire("nobody", TTL).await.unwrap_err();
        println!("{url}: {e} after {:?}", t.elapsed());
        assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
}

/// The example `cluster_expired`: two workers elect a leader on the
/// cluster; only the leader reports expired keys; after it is killed, the
/// other takes over and reports the next ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_cluster_expired_example_only_the_leader_processes_expired_keys() {
    let cluster = RedisCluster::start();
    let example = build_example("cluster_expired");
    let spawn = |id: &str| -> Worker {
        let log = tempfile_path(id);
        let child = Command::new(&example)
            .arg(cluster.url())
            .args([id, "30"])
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Worker { child, log }
    };
    let mut workers = [spawn("worker-a"), spawn("worker-b")];
    let leader = wait_for(
        &workers,
        "subscribing to expirations",
        Duration::from_secs(10),
    );
    // Keys that expire in 100 ms, on the masters of their slots; `worker`
    // must report each.
    let expire = |keys: &[&str], worker: &Worker| {
        for key in keys {
            let at = cluster.master_of(key);
            let reply = cluster.nodes[at].command(&["SET", key, "v", "PX", "100"]);
            assert_eq!(reply.as_deref(), Some("+OK"));
        }
        for key in keys {
            let line = format!("processed expired key {key} ");
            wait_for_line(worker, &line, Duration::from_secs(5));
        }
    };
    let first_keys = ["order:1", "order:2", "order:3", "invoice:9"];
    expire(&first_keys, &workers[leader]);
    let follower = 1 - leader;
    assert!(
        !workers[follower].output().contains("processed"),
        "the follower processed a key"
    );

    workers[leader].child.kill().unwrap();
    workers[leader].child.wait().unwrap();
    let t = Instant::now();
    wait_for_line(
        &workers[follower],
        "subscribing to expirations",
        Duration::from_secs(10),
    );
    println!(
        "leader killed; the other worker took over after {:?}",
        t.elapsed()
    );
    expire(&["order:4", "order:5"], &workers[follower]);
    for key in first_keys {
        assert!(!workers[follower].output().contains(&format!("key {key} ")));
    }
    for w in &workers {
        print!("{}", w.output());
    }
    workers[follower].child.kill().unwrap();
    workers[follower].child.wait().unwrap();
}

struct Worker {
    child: Child,
    log: std::path::PathBuf,
}

impl Worker {
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn tempfile_path(id: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("redlead-{id}-{}.log", std::process::id()))
}

/// The worker whose output first contains `line`.
fn wait_for(workers: &[Worker], line: &str, within: Duration) -> usize {
    let t = std::time::Instant::now();
    loop {
        if let Some(i) = workers.iter().position(|w| w.output().contains(line)) {
            return i;
        }
        assert!(
            t.elapsed() < within,
            "no worker printed {line:?} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_line(worker: &Worker, line: &str, within: Duration) {
    let t = std::time::Instant::now();
    while !worker.output().contains(line) {
        assert!(
            t.elapsed() < within,
            "no {line:?} within {within:?}; output:\n{}",
            worker.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The path of one of the crate's examples. `cargo test -p redlead` builds
/// them before running tests; when only this test binary was built (or the
/// example's source is newer than its binary), it is built here.
fn build_example(name: &str) -> std::path::PathBuf {
    // target/<profile>/deps/deployments-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&path).is_none() || modified(&path) < modified(&source) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "redlead", "--example", name])
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --example {name}");
    }
    path
}

/// Two distinct elements of a slice, both mutable.
fn two_mut<T>(items: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b);
    if a < b {
        let (left, right) = items.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = items.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}
