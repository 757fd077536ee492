//! Randomized safety checkers under process faults (kill, SIGSTOP, restart)
//! and network faults per link (latency with jitter, stalls, connection
//! resets, a leader cut off from a quorum), through a real toxiproxy between
//! every client and every node.
//!
//! CI runs them short; `REDLEAD_SAFETY_TERMS=1000` (election) and
//! `REDLEAD_FENCING_WRITES=2000` (fencing) run the long mode (docs/safety.md).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use redlead::{Config, Election, ElectionConfig, ElectionEvent, LockOptions, Redlock};
use redlead_harness::toxiproxy::{Direction, Proxy, Toxiproxy};
use redlead_harness::Cluster;
use tokio::time::Instant;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One client with its own proxy to every node.
struct Linked {
    client: Redlock,
    links: Vec<Proxy>,
}

fn linked(tp: &Toxiproxy, cluster: &Cluster, node_timeout: Duration) -> Linked {
    let links: Vec<Proxy> = cluster.nodes.iter().map(|n| tp.proxy_for(n)).collect();
    let urls: Vec<String> = links.iter().map(Proxy::url).collect();
    let client = Redlock::new(&urls, Config::default().with_node_timeout(node_timeout)).unwrap();
    Linked { client, links }
}

/// Injects one random network fault on one of `clients`' links, holds it for
/// a while, and lifts it. Returns its name for the tally.
async fn link_fault(clients: &[&Linked], ttl: Duration) -> &'static str {
    let (c, node, kind, hold) = {
        let mut rng = rand::rng();
        (
            rng.random_range(0..clients.len()),
            rng.random_range(0..5),
            rng.random_range(0..4),
            Duration::from_millis(rng.random_range(20..300)),
        )
    };
    let links = &clients[c].links;
    match kind {
        0 => {
            let t = links[node].latency(Direction::Downstream, 15, 10);
            tokio::time::sleep(hold).await;
            links[node].remove(&t);
            "link latency+jitter"
        }
        1 => {
            let t = links[node].reset_peer(Direction::Downstream, 0);
            tokio::time::sleep(Duration::from_millis(20)).await;
            links[node].remove(&t);
            "link reset"
        }
        2 => {
            let t = links[node].timeout(Direction::Upstream, 0);
            tokio::time::sleep(hold).await;
            links[node].remove(&t);
            "link stall"
        }
        _ => {
            // Cut one client off from a quorum for longer than a ttl: if it
            // leads, it must step down before anyone else can be elected.
            let mut ts = Vec::new();
            for l in &links[..3] {
                ts.push(l.timeout(Direction::Upstream, 0));
            }
            tokio::time::sleep(ttl + Duration::from_millis(100)).await;
            for (l, t) in links[..3].iter().zip(&ts) {
                l.remove(t);
            }
            "client cut from a quorum"
        }
    }
}

#[derive(Debug, Clone)]
struct Interval {
    who: String,
    term: u64,
    start: std::time::Instant,
    end: Option<std::time::Instant>,
}

/// Leadership intervals [Elected.at, Revoked.at] of every candidate, on one
/// monotonic clock: no two may overlap, and terms must strictly increase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn election_checker_no_overlapping_leaderships_under_process_and_network_faults() {
    let target_terms = env_count("REDLEAD_SAFETY_TERMS", 200);
    let mut cluster = Cluster::start(5);
    let tp = Toxiproxy::start();
    let mut cfg = ElectionConfig::with_ttl(Duration::from_millis(500));
    cfg.retry_interval = Duration::from_millis(125);
    let intervals: Arc<Mutex<Vec<Interval>>> = Arc::default();
    let start_candidate = |n: usize, blocking: bool, cluster: &Cluster| {
        let who = format!("c{n}");
        let link = linked(&tp, cluster, Duration::from_millis(25));
        let (iv, w) = (intervals.clone(), who.clone());
        let e = Election::start(
            &link.client,
            "checker",
            &who,
            cfg.clone(),
            move |ev| match ev {
                ElectionEvent::Elected { term, at, .. } => {
                    iv.lock().unwrap().push(Interval {
                        who: w.clone(),
                        term: *term,
                        start: *at,
                        end: None,
                    });
                    if blocking {
                        std::thread::sleep(Duration::from_millis(400));
                    }
                }
                ElectionEvent::Revoked { term, at, .. } => {
                    let mut iv = iv.lock().unwrap();
                    let i = iv
                        .iter_mut()
                        .rev()
                        .find(|i| i.who == w && i.term == *term)
                        .expect("revoked without elected");
                    i.end = Some(*at);
                }
                _ => {}
            },
        )
        .unwrap();
        (n, e, link)
    };
    let mut cands: Vec<(usize, Election, Linked)> = (0..5)
        .map(|n| start_candidate(n, n == 4, &cluster))
        .collect();
    let mut next_id = 5;
    let mut injected = BTreeMap::<&str, usize>::new();
    let mut crashed_at = std::collections::HashMap::new();
    let began = Instant::now();
    while intervals.lock().unwrap().len() < target_terms
        && began.elapsed() < Duration::from_secs(60 + target_terms as u64 / 2)
    {
        let leader = cands.iter().position(|(_, e, _)| e.is_leader());
        let roll = rand::rng().random_range(0..100);
        let pause = |lo: u64, hi: u64| Duration::from_millis(rand::rng().random_range(lo..hi));
        match (roll, leader) {
            (0..=49, Some(i)) => {
                let _ = cands[i].1.resign().await;
                *injected.entry("resign").or_default() += 1;
            }
            (50..=53, Some(i)) => {
                // Crash: no release, no events; its interval ends now.
                let (n, e, _link) = cands.remove(i);
                crashed_at.insert(format!("c{n}"), std::time::Instant::now());
                e.crash();
                cands.push(start_candidate(next_id, false, &cluster));
                next_id += 1;
                *injected.entry("crash").or_default() += 1;
            }
            (54..=61, _) => {
                let n = rand::rng().random_range(0..5);
                cluster.nodes[n].freeze();
                tokio::time::sleep(pause(10, 400)).await;
                cluster.nodes[n].thaw();
                *injected.entry("node freeze").or_default() += 1;
            }
            (62..=65, _) => {
                let n = rand::rng().random_range(0..5);
                cluster.nodes[n].kill();
                tokio::time::sleep(pause(10, 300)).await;
                cluster.nodes[n].restart();
                *injected.entry("node kill+restart").or_default() += 1;
            }
            (66..=85, _) => {
                let links: Vec<&Linked> = cands.iter().map(|(_, _, l)| l).collect();
                let what = link_fault(&links, cfg.ttl).await;
                *injected.entry(what).or_default() += 1;
            }
            _ => tokio::time::sleep(pause(1, 40)).await,
        }
    }
    for (_, e, _) in &cands {
        let _ = e.stop().await;
    }
    let mut all = intervals.lock().unwrap().clone();
    for i in all.iter_mut().filter(|i| i.end.is_none()) {
        i.end = crashed_at.get(&i.who).copied();
    }
    println!(
        "election checker: {} terms in {:?}; injected {injected:?}",
        all.len(),
        began.elapsed()
    );
    assert!(
        all.len() >= target_terms.min(60),
        "too few terms: {}",
        all.len()
    );
    all.sort_by_key(|i| i.start);
    for w in all.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let a_end = a
            .end
            .unwrap_or_else(|| panic!("interval never ended: {a:?}"));
        assert!(a_end <= b.start, "overlap: {a:?} and {b:?}");
        assert!(b.term > a.term, "terms not increasing: {a:?} then {b:?}");
    }
}

/// The protected resource of docs/fencing.md: accepts a write only with a
/// token above every token it accepted.
#[derive(Default)]
struct FencedStore {
    highest: u64,
    /// (token, when the writer's lease began) of every accepted write.
    accepted: Vec<(u64, std::time::Instant)>,
    rejected: usize,
}

impl FencedStore {
    fn write(&mut self, token: u64, lease_began: std::time::Instant) -> bool {
        if token <= self.highest {
            self.rejected += 1;
            return false;
        }
        self.highest = token;
        self.accepted.push((token, lease_began));
        true
    }
}

/// Holders that pause at random (some longer than their lease, like a GC
/// pause) write to a fenced store under network and process faults. The store
/// must never accept a write from a lease older than one it already accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_checker_store_never_accepts_an_older_lease() {
    let target_writes = env_count("REDLEAD_FENCING_WRITES", 150);
    let mut cluster = Cluster::start(5);
    let tp = Toxiproxy::start();
    let ttl = Duration::from_millis(300);
    let store = Arc::new(Mutex::new(FencedStore::default()));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let holders: Vec<Arc<Linked>> = (0..4)
        .map(|_| Arc::new(linked(&tp, &cluster, Duration::from_millis(25))))
        .collect();
    let mut tasks = Vec::new();
    for link in &holders {
        let (link, store, stop) = (link.clone(), store.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut leases = 0usize;
            while !*stop.borrow() {
                let got = link
                    .client
                    .acquire_with(
                        "fenced-store",
                        ttl,
                        Duration::from_millis(500),
                        &LockOptions::fenced(),
                    )
                    .await;
                let Ok(lock) = got else { continue };
                let began = std::time::Instant::now();
                leases += 1;
                let token = lock.fencing_token().unwrap().get();
                // Work, sometimes pausing past the lease.
                let pause = {
                    let mut rng = rand::rng();
                    if rng.random_range(0..5) == 0 {
                        Duration::from_millis(rng.random_range(300..600))
                    } else {
                        Duration::from_millis(rng.random_range(0..60))
                    }
                };
                tokio::time::sleep(pause).await;
                store.lock().unwrap().write(token, began);
                let _ = lock.release().await;
            }
            leases
        }));
    }
    let mut injected = BTreeMap::<&str, usize>::new();
    let began = Instant::now();
    while store.lock().unwrap().accepted.len() < target_writes
        && began.elapsed() < Duration::from_secs(60 + target_writes as u64 / 4)
    {
        let roll = rand::rng().random_range(0..100);
        match roll {
            0..=14 => {
                let n = rand::rng().random_range(0..5);
                cluster.nodes[n].freeze();
                tokio::time::sleep(Duration::from_millis(rand::rng().random_range(10..400))).await;
                cluster.nodes[n].thaw();
                *injected.entry("node freeze").or_default() += 1;
            }
            15..=19 => {
                let n = rand::rng().random_range(0..5);
                cluster.nodes[n].kill();
                tokio::time::sleep(Duration::from_millis(rand::rng().random_range(10..300))).await;
                cluster.nodes[n].restart();
                *injected.entry("node kill+restart").or_default() += 1;
            }
            20..=59 => {
                let links: Vec<&Linked> = holders.iter().map(|l| l.as_ref()).collect();
                let what = link_fault(&links, ttl).await;
                *injected.entry(what).or_default() += 1;
            }
            _ => tokio::time::sleep(Duration::from_millis(rand::rng().random_range(5..50))).await,
        }
    }
    let _ = stop_tx.send(true);
    let mut leases = 0;
    for t in tasks {
        leases += t.await.unwrap();
    }
    let s = store.lock().unwrap();
    println!(
        "fencing checker: {leases} leases, {} writes accepted, {} stale writes rejected, in {:?}; injected {injected:?}",
        s.accepted.len(),
        s.rejected,
        began.elapsed()
    );
    assert!(s.accepted.len() >= target_writes.min(50), "too few writes");
    for w in s.accepted.windows(2) {
        assert!(
            w[1].1 > w[0].1,
            "the store accepted token {} from a lease older than the one of token {}",
            w[1].0,
            w[0].0
        );
    }
}
