//! Latency and throughput of the lock and the election on 5 local nodes,
//! printed next to the floor measured in the same run, interleaved: one PING
//! to every node in parallel, timed to the quorum-th reply, by a raw-socket
//! client outside the library (`redlead_harness::floor`, blocking sockets and
//! poll(2): no runtime, no redlead code). An unfenced acquire+release needs
//! at least 2 such round trips (floor2x), a fenced one 3; the targets are
//! unfenced <= 1.2 x floor2x and fenced <= 1.2 x 1.5 x floor2x. The library runs on a
//! current-thread runtime, the Rust API's reference configuration
//! (scripts/bench.sh compares every door with it).
//!
//! Run: cargo bench -p redlead --bench latency   (REDLEAD_BENCH_N=... for more samples,
//! REDLEAD_BENCH_WAIT_N=... for the waits after a release)

use std::sync::Arc;
use std::time::Duration;

use redlead::{Config, Election, ElectionConfig, LockOptions, Redlock};
use redlead_harness::floor::{resp, script_hash, RawFloor};
use redlead_harness::Cluster;
use tokio::time::Instant;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn report(name: &str, mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    let (p50, p99) = (pct(&xs, 0.5), pct(&xs, 0.99));
    println!(
        "{name:<34} n={:<6} p50 {:>8.1} us   p99 {:>8.1} us",
        xs.len(),
        us(p50),
        us(p99)
    );
    p50
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("REDLEAD_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    // In-memory nodes, as peers' benchmarks run them; with `appendfsync always`
    // every write waits for an fsync and the disk, not the lock, is measured.
    let cluster = if std::env::var_os("REDLEAD_BENCH_DURABLE").is_some() {
        Cluster::start(5)
    } else {
        Cluster::start_in_memory(5)
    };
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    let mut raw = RawFloor::connect(&cluster.nodes.iter().map(|n| n.port()).collect::<Vec<_>>());
    let ttl = Duration::from_secs(10);
    // Warm up connections and scripts.
    for _ in 0..200 {
        rl.try_acquire("warm", ttl)
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
        rl.try_acquire_with("warm", ttl, &LockOptions::fenced())
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
    }
    // The library's own commands sent over the raw sockets: what the server
    // side of one acquire+release costs, with no client code at all.
    let script = redlead::release_script();
    let sha = script_hash(script);
    raw.round_trip_of(&resp(&[b"SCRIPT", b"LOAD", script.as_bytes()]));
    let key = b"{bench-raw}";
    let value = b"0123456789abcdef0123456789abcdef";
    let set_nx = resp(&[b"SET", key, value, b"NX", b"PX", b"10000"]);
    let release_cmd = resp(&[b"EVALSHA", sha.as_bytes(), b"1", key, value]);
    println!("redlead latency bench: 5 local redis-server nodes, quorum 3, {n} samples each");
    println!("(nodes without persistence; REDLEAD_BENCH_DURABLE=1 for appendfsync always)\n");

    // Interleave the measurements so that machine noise hits all of them alike.
    let (mut floor, mut plain, mut fenced, mut extend) = (vec![], vec![], vec![], vec![]);
    let (mut release, mut raw_redlock) = (vec![], vec![]);
    let fenced_opts = LockOptions::fenced();
    for _ in 0..n {
        floor.push(raw.round_trip());
        raw_redlock.push(raw.round_trip_of(&set_nx) + raw.round_trip_of(&release_cmd));
        let t = Instant::now();
        let lock = rl.try_acquire("bench", ttl).await.unwrap();
        let r = Instant::now();
        lock.release().await.unwrap();
        release.push(r.elapsed());
        plain.push(t.elapsed());
        let t = Instant::now();
        let lock = rl
            .try_acquire_with("bench-f", ttl, &fenced_opts)
            .await
            .unwrap();
        lock.release().await.unwrap();
        fenced.push(t.elapsed());
        let lock = rl.try_acquire("bench-e", ttl).await.unwrap();
        let t = Instant::now();
        lock.extend(ttl).await.unwrap();
        extend.push(t.elapsed());
        lock.release().await.unwrap();
    }
    let floor = report("floor: raw-socket PING to quorum", floor);
    let raw_lock = report("raw sockets: SET NX + release script", raw_redlock);
    let plain = report("acquire+release (unfenced)", plain);
    let fenced = report("acquire+release (fenced)", fenced);
    let ext = report("extend (= one renewal)", extend);
    report("release (of the unfenced lock)", release);
    let r_plain = plain.as_secs_f64() / (2.0 * floor.as_secs_f64());
    let r_fenced = fenced.as_secs_f64() / (2.0 * floor.as_secs_f64());
    println!();
    println!(
        "unfenced p50 / floor2x = {r_plain:.2}   (target <= 1.20) {}",
        verdict(r_plain <= 1.2)
    );
    println!(
        "fenced   p50 / floor2x = {r_fenced:.2}   (target <= 1.2 x 1.5 = 1.80) {}",
        verdict(r_fenced <= 1.8)
    );
    println!(
        "unfenced p50 / raw sockets with the same commands = {:.2}",
        plain.as_secs_f64() / raw_lock.as_secs_f64()
    );
    println!(
        "renewal  p50 / (1 x floor) = {:.2}",
        ext.as_secs_f64() / floor.as_secs_f64()
    );

    // Throughput: 16 tasks on distinct resources over one client, one thread.
    let rl = Arc::new(rl);
    let total = n * 2;
    let t = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let rl = rl.clone();
            tokio::spawn(async move {
                let res = format!("tp-{i}");
                for _ in 0..total / 16 {
                    rl.try_acquire(&res, ttl)
                        .await
                        .unwrap()
                        .release()
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "\nthroughput: {:.0} acquire+release/s (16 concurrent tasks, distinct resources, one thread)",
        (total / 16 * 16) as f64 / secs
    );

    wait_after_release(&cluster, ttl).await;

    // Election: handover after resign, failover after crash.
    let rl = Redlock::new(
        &cluster.urls(),
        Config::default().with_node_timeout(Duration::from_millis(20)),
    )
    .unwrap();
    let mut cfg = ElectionConfig::with_ttl(Duration::from_millis(1000));
    cfg.retry_interval = Duration::from_millis(200);
    cfg.retry_jitter = Duration::from_millis(20);
    let es: Vec<Election> = (0..3)
        .map(|i| {
            Election::start(&rl, "bench-elect", &format!("c{i}"), cfg.clone(), |_| {}).unwrap()
        })
        .collect();
    let leader = |es: &[Election]| es.iter().position(|e| e.is_leader());
    let wait_leader = |es: &[Election], not: Option<usize>| {
        let es_ptr = es as *const [Election];
        async move {
            let es = unsafe { &*es_ptr };
            let t = Instant::now();
            loop {
                if let Some(i) = leader(es).filter(|&i| Some(i) != not) {
                    return i;
                }
                if t.elapsed() > Duration::from_secs(10) {
                    let who: Vec<_> = es
                        .iter()
                        .map(|e| (e.id().to_string(), e.is_leader(), e.observed_leader()))
                        .collect();
                    panic!("no new leader within 10 s: {who:?}");
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
    };
    let mut cur = wait_leader(&es, None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut handovers = vec![];
    for _ in 0..30 {
        let t = Instant::now();
        es[cur].resign().await.unwrap();
        cur = wait_leader(&es, Some(cur)).await;
        handovers.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let h = report("\nhandover after resign", handovers);
    println!(
        "handover p50 {:.2} ms (target <= 5 ms) {}",
        h.as_secs_f64() * 1e3,
        verdict(h <= Duration::from_millis(5))
    );
    let t = Instant::now();
    es[cur].crash();
    let _next = wait_leader(&es, Some(cur)).await;
    let f = t.elapsed();
    let bound = cfg.ttl + cfg.retry_interval + Duration::from_millis(20);
    println!(
        "failover after leader crash: {:.0} ms (ttl {} ms + retry {} ms + 20 ms = {} ms) {}",
        f.as_secs_f64() * 1e3,
        cfg.ttl.as_millis(),
        cfg.retry_interval.as_millis(),
        bound.as_millis(),
        verdict(f <= bound)
    );
    for e in &es {
        let _ = e.stop().await;
    }
}

/// A waiter blocked in `acquire` on a held lock (its first attempt failed
/// and it waits, default retry delay 200 ms + up to 100 ms jitter); the
/// holder, on another client, releases; the time until the waiter holds the
/// lock. Woken by the release announcement it takes one acquisition round
/// trip after the release (target p50 <= 2 ms); asleep, about half a retry
/// delay.
async fn wait_after_release(cluster: &Cluster, ttl: Duration) {
    let n: usize = std::env::var("REDLEAD_BENCH_WAIT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let holder = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    let waiter = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    let mut waits = vec![];
    for _ in 0..n {
        let held = holder.try_acquire("bench-wait", ttl).await.unwrap();
        let w = waiter.clone();
        let waiting = tokio::spawn(async move {
            let lock = w
                .acquire("bench-wait", ttl, Duration::from_secs(5))
                .await
                .unwrap();
            let acquired = Instant::now();
            lock.release().await.unwrap();
            acquired
        });
        // Long enough for the first attempt to fail and the wait to begin.
        tokio::time::sleep(Duration::from_millis(15)).await;
        let released = Instant::now();
        held.release().await.unwrap();
        waits.push(waiting.await.unwrap() - released);
    }
    let w = report("\nwait-to-acquire after a release", waits);
    println!(
        "wait-to-acquire p50 {:.2} ms (target <= 2 ms) {}",
        w.as_secs_f64() * 1e3,
        verdict(w <= Duration::from_millis(2))
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "MET"
    } else {
        "MISSED"
    }
}
