//! Soak: a long run of everything at once on three real nodes, watching the
//! process for leaks.
//!
//! - one client holds 1,000 locks and auto-extends them;
//! - 100 candidates campaign for one resource; every 300 ms the leader
//!   resigns or is stopped (and replaced by a new candidate), in turn;
//! - two tasks acquire and release locks on ever new resources;
//!
//! while RSS, open file descriptors and threads are sampled from /proc and
//! printed as a table. Checks: never two leaders at once, no held lock lost,
//! leadership changed hands, acquire/release kept succeeding, RSS, fds and
//! threads flat after the warm-up (within bounds generous enough for
//! allocator noise: a steady leak of about 1 MB/s or a descriptor per
//! operation fails), and at the end no lock key left on any node (the one
//! election's fencing counter stays, by design), no queued command, and the
//! descriptors back to where they were before the client.
//!
//! A test binary without libtest's harness, so its table shows in CI logs.
//! `cargo test -p redlead --test soak` runs it for 20 s (CI mode); the long
//! mode takes the duration from `REDLEAD_SOAK_SECS`:
//!
//! ```sh
//! REDLEAD_SOAK_SECS=300 cargo test --release -p redlead --test soak
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redlead::{
    AutoExtend, Config, Election, ElectionConfig, ElectionEvent, Lock, LockOptions, Redlock,
};
use redlead_harness::Cluster;
use tokio::time::Instant;

const HELD_LOCKS: usize = 1_000;
const CANDIDATES: usize = 100;
const CHURN_WORKERS: usize = 2;

fn main() {
    // `cargo test <filter>` passes the filter here: run only when it could
    // mean this binary.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("soak: test");
        return;
    }
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-')) {
        if !"soak".contains(filter.as_str()) {
            println!("soak: skipped (filter {filter:?})");
            return;
        }
    }
    let secs: u64 = match std::env::var("REDLEAD_SOAK_SECS") {
        Ok(s) => s.parse().expect("REDLEAD_SOAK_SECS: a number of seconds"),
        Err(_) => 20,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(soak(Duration::from_secs(secs)));
    println!("soak: ok");
}

/// What /proc says about this process.
#[derive(Clone, Copy)]
struct Usage {
    rss_kb: u64,
    fds: usize,
    threads: u64,
}

fn usage() -> Usage {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /proc/self/status"))
    };
    Usage {
        rss_kb: field("VmRSS:"),
        fds: std::fs::read_dir("/proc/self/fd").unwrap().count(),
        threads: field("Threads:"),
    }
}

#[derive(Default)]
struct Counters {
    elected: AtomicU64,
    churn_ok: AtomicU64,
    churn_failed: AtomicU64,
}

struct Sample {
    at: Duration,
    usage: Usage,
    elected: u64,
    churn_ok: u64,
    extensions: u64,
}

fn candidate(rl: &Redlock, n: usize, counters: &Arc<Counters>) -> Election {
    let counters = counters.clone();
    Election::start(
        rl,
        "soak-leader",
        &format!("candidate-{n}"),
        ElectionConfig::with_ttl(Duration::from_secs(3)),
        move |event| {
            if matches!(event, ElectionEvent::Elected { .. }) {
                counters.elected.fetch_add(1, Ordering::Relaxed);
            }
        },
    )
    .unwrap()
}

async fn soak(duration: Duration) {
    let cluster = Cluster::start_in_memory(3);
    let before_client = usage();
    // A node timeout that a loaded two-core CI machine keeps to.
    let config = Config::default().with_node_timeout(Duration::from_millis(200));
    let rl = Redlock::new(&cluster.urls(), config).unwrap();
    let counters = Arc::new(Counters::default());
    let start = Instant::now();

    // 1,000 auto-extended locks, acquired together.
    let ttl = Duration::from_secs(6);
    let opts = LockOptions::default().with_auto_extend(
        AutoExtend::for_at_most(duration + Duration::from_secs(120))
            .with_interval(Duration::from_secs(2)),
    );
    let held: Vec<Lock> = futures::future::join_all((0..HELD_LOCKS).map(|i| {
        let (rl, opts) = (&rl, &opts);
        async move {
            rl.acquire_with(&format!("held-{i}"), ttl, Duration::from_secs(5), opts)
                .await
        }
    }))
    .await
    .into_iter()
    .collect::<Result<_, _>>()
    .expect("acquiring the held locks");
    println!("soak: {HELD_LOCKS} locks held after {:?}", start.elapsed());

    let mut candidates: Vec<Election> = (0..CANDIDATES)
        .map(|n| candidate(&rl, n, &counters))
        .collect();
    let mut next_candidate = CANDIDATES;

    let stop_churn = tokio_util::sync::CancellationToken::new();
    let churn: Vec<_> = (0..CHURN_WORKERS)
        .map(|w| {
            let (rl, counters, stop) = (rl.clone(), counters.clone(), stop_churn.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.is_cancelled() {
                    n += 1;
                    let resource = format!("churn-{w}-{n}");
                    let ok = match rl.try_acquire(&resource, Duration::from_secs(2)).await {
                        Ok(lock) => lock.release().await.is_ok(),
                        Err(_) => false,
                    };
                    let counter = if ok {
                        &counters.churn_ok
                    } else {
                        &counters.churn_failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let sample_every = if duration > Duration::from_secs(60) {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(1)
    };
    let mut samples = Vec::new();
    let mut next_sample = Instant::now();
    let mut resign_next = true;
    let mut two_leaders = 0;
    println!("{}", header());
    while start.elapsed() < duration {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let leaders: Vec<usize> = (0..candidates.len())
            .filter(|&i| candidates[i].is_leader())
            .collect();
        if leaders.len() > 1 {
            two_leaders += 1;
            println!("soak: two leaders at once: {leaders:?}");
        }
        if let [i] = leaders[..] {
            if resign_next {
                let _ = candidates[i].resign().await;
            } else {
                let old = candidates.swap_remove(i);
                old.stop().await.unwrap();
                candidates.push(candidate(&rl, next_candidate, &counters));
                next_candidate += 1;
            }
            resign_next = !resign_next;
        }
        if Instant::now() >= next_sample {
            next_sample += sample_every;
            let sample = Sample {
                at: start.elapsed(),
                usage: usage(),
                elected: counters.elected.load(Ordering::Relaxed),
                churn_ok: counters.churn_ok.load(Ordering::Relaxed),
                extensions: held.iter().map(|l| u64::from(l.extensions())).sum(),
            };
            println!("{}", row(&sample));
            samples.push(sample);
        }
    }

    stop_churn.cancel();
    for c in churn {
        c.await.unwrap();
    }
    let lost = held.iter().filter(|l| !l.is_held()).count();
    for c in &candidates {
        c.stop().await.unwrap();
    }
    drop(candidates);
    for l in &held {
        l.release().await.expect("releasing a held lock");
    }
    drop(held);
    let settled = rl.settled(Duration::from_secs(5)).await;
    let queued = rl.queued_keys();
    let churn_ok = counters.churn_ok.load(Ordering::Relaxed);
    let churn_failed = counters.churn_failed.load(Ordering::Relaxed);
    let elected = counters.elected.load(Ordering::Relaxed);

    // What the nodes keep: no lock key; the election's fencing counter.
    let keys: Vec<Vec<String>> = cluster.nodes.iter().map(|n| n.keys("*")).collect();
    let lock_keys: Vec<&String> = keys
        .iter()
        .flatten()
        .filter(|k| !k.ends_with(":fence"))
        .collect();
    let fence_keys = keys.iter().flatten().count() - lock_keys.len();

    drop(rl);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_client = usage();

    println!();
    println!("{}", header());
    for s in &samples {
        println!("{}", row(s));
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "soak: {secs:.0} s; {elected} elections ({:.1}/s); churn {churn_ok} ok, {churn_failed} failed ({:.0}/s); {lost} held locks lost; {} lock keys and {fence_keys} fencing counters left on the nodes; {queued} keys queued; fds {} before the client, {} after it was dropped",
        elected as f64 / secs,
        churn_ok as f64 / secs,
        lock_keys.len(),
        before_client.fds,
        after_client.fds,
    );

    assert_eq!(two_leaders, 0, "two leaders at once");
    assert_eq!(lost, 0, "held locks were lost");
    assert!(
        elected as f64 >= secs / 3.0,
        "only {elected} elections in {secs:.0} s: leadership did not change hands"
    );
    assert!(
        churn_ok > 0 && churn_failed * 20 <= churn_ok + churn_failed,
        "acquire/release failed too often: {churn_failed} of {}",
        churn_ok + churn_failed
    );
    assert!(settled, "commands still unsettled 5 s after the end");
    assert_eq!(queued, 0, "per-key queues kept entries");
    assert!(
        lock_keys.is_empty(),
        "lock keys left on the nodes: {lock_keys:?}"
    );
    assert_eq!(
        fence_keys, 3,
        "one fencing counter (the election's) per node"
    );
    assert!(
        after_client.fds <= before_client.fds + 2,
        "descriptors not closed: {} before the client, {} after it was dropped",
        before_client.fds,
        after_client.fds
    );
    check_flat(&samples, duration);
}

/// After the warm-up (a quarter of the run, at least 5 s), the largest RSS,
/// fd and thread counts may exceed those of the warm-up only by bounds that
/// allocator and scheduling noise stay within: RSS by max(16 MiB, 25 %),
/// fds by 10 (candidates being replaced), threads by 4.
fn check_flat(samples: &[Sample], duration: Duration) {
    let warm_up = (duration / 4).max(Duration::from_secs(5));
    let (early, late): (Vec<&Sample>, Vec<&Sample>) = samples.iter().partition(|s| s.at <= warm_up);
    assert!(
        !early.is_empty() && late.len() >= 2,
        "too few samples to judge ({} in the warm-up, {} after)",
        early.len(),
        late.len()
    );
    let max = |xs: &[&Sample], f: fn(&Usage) -> u64| xs.iter().map(|s| f(&s.usage)).max().unwrap();
    let rss = (max(&early, |u| u.rss_kb), max(&late, |u| u.rss_kb));
    let fds = (max(&early, |u| u.fds as u64), max(&late, |u| u.fds as u64));
    let threads = (max(&early, |u| u.threads), max(&late, |u| u.threads));
    let first = late.first().unwrap();
    let last = late.last().unwrap();
    let minutes = (last.at - first.at).as_secs_f64() / 60.0;
    let slope = (last.usage.rss_kb as f64 - first.usage.rss_kb as f64) / 1024.0 / minutes;
    println!(
        "soak: after the {warm_up:?} warm-up: RSS max {} -> {} MiB ({slope:+.1} MiB/min), fds max {} -> {}, threads max {} -> {}",
        rss.0 / 1024,
        rss.1 / 1024,
        fds.0,
        fds.1,
        threads.0,
        threads.1
    );
    assert!(
        rss.1 <= rss.0 + (16 * 1024).max(rss.0 / 4),
        "RSS grew after the warm-up: {} -> {} KiB",
        rss.0,
        rss.1
    );
    assert!(
        fds.1 <= fds.0 + 10,
        "fds grew after the warm-up: {} -> {}",
        fds.0,
        fds.1
    );
    assert!(
        threads.1 <= threads.0 + 4,
        "threads grew after the warm-up: {} -> {}",
        threads.0,
        threads.1
    );
}

fn header() -> String {
    format!(
        "{:>6} {:>8} {:>5} {:>7} {:>9} {:>9} {:>10}",
        "t (s)", "RSS MiB", "fds", "threads", "elected", "churn ok", "extensions"
    )
}

fn row(s: &Sample) -> String {
    format!(
        "{:>6.0} {:>8.1} {:>5} {:>7} {:>9} {:>9} {:>10}",
        s.at.as_secs_f64(),
        s.usage.rss_kb as f64 / 1024.0,
        s.usage.fds,
        s.usage.threads,
        s.elected,
        s.churn_ok,
        s.extensions
    )
}
