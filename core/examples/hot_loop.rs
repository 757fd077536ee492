//! A hot loop of acquire+release on 5 local nodes, for profilers
//! (perf, strace -c, callgrind): nothing else runs in the process.
//!
//! cargo run --release -p redlead --example hot_loop -- [iterations] [fenced]

use std::time::{Duration, Instant};

use redlead::{Config, LockOptions, Redlock};
use redlead_harness::floor::{resp, script_hash, RawFloor};
use redlead_harness::Cluster;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let mode = args.next().unwrap_or_default();
    let opts = match mode.as_str() {
        "fenced" => LockOptions::fenced(),
        _ => LockOptions::default(),
    };
    let cluster = Cluster::start_in_memory(5);
    if mode == "raw" {
        return raw_loop(&cluster, n);
    }
    if mode == "redis-crate" {
        return redis_crate_loop(&cluster, n).await;
    }
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    let ttl = Duration::from_secs(10);
    for _ in 0..500 {
        let l = rl.try_acquire_with("hot", ttl, &opts).await.unwrap();
        l.release().await.unwrap();
    }
    eprintln!("ready (pid {})", std::process::id());
    let cpu0 = cpu_time();
    let t = Instant::now();
    for _ in 0..n {
        let l = rl.try_acquire_with("hot", ttl, &opts).await.unwrap();
        l.release().await.unwrap();
    }
    report(&format!("redlead {mode}"), n, t.elapsed(), cpu0);
}

/// The same commands over raw blocking sockets (the benchmark's floor).
fn raw_loop(cluster: &Cluster, n: usize) {
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port()).collect();
    let mut raw = RawFloor::connect(&ports);
    let script = redlead::release_script();
    raw.round_trip_of(&resp(&[b"SCRIPT", b"LOAD", script.as_bytes()]));
    let sha = script_hash(script);
    let (key, value) = (
        b"hot".as_slice(),
        b"0123456789abcdef0123456789abcdef".as_slice(),
    );
    let set_nx = resp(&[b"SET", key, value, b"NX", b"PX", b"10000"]);
    let release = resp(&[b"EVALSHA", sha.as_bytes(), b"1", key, value]);
    let cpu0 = cpu_time();
    let t = Instant::now();
    for _ in 0..n {
        raw.round_trip_of(&set_nx);
        raw.round_trip_of(&release);
    }
    report("raw sockets", n, t.elapsed(), cpu0);
}

/// The same commands through the redis crate's multiplexed connections,
/// all five awaited together: what the library's I/O layer costs alone.
async fn redis_crate_loop(cluster: &Cluster, n: usize) {
    let mut conns = vec![];
    for url in cluster.urls() {
        let c = redis::Client::open(url.as_str()).unwrap();
        conns.push(c.get_multiplexed_async_connection().await.unwrap());
    }
    let script = redis::Script::new(redlead::release_script());
    let value = "0123456789abcdef0123456789abcdef";
    let cpu0 = cpu_time();
    let t = Instant::now();
    for _ in 0..n {
        let sets = conns.iter().map(|c| {
            let mut c = c.clone();
            async move {
                redis::cmd("SET")
                    .arg("hot")
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(10_000)
                    .query_async::<redis::Value>(&mut c)
                    .await
                    .unwrap()
            }
        });
        futures::future::join_all(sets).await;
        let releases = conns.iter().map(|c| {
            let mut c = c.clone();
            let script = &script;
            async move {
                script
                    .key("hot")
                    .arg(value)
                    .invoke_async::<i64>(&mut c)
                    .await
                    .unwrap()
            }
        });
        futures::future::join_all(releases).await;
    }
    report("redis crate alone", n, t.elapsed(), cpu0);
}

fn report(what: &str, n: usize, e: Duration, cpu0: (f64, f64)) {
    let (user, sys) = cpu_time();
    let per = |x: f64, x0: f64| (x - x0) * 1e6 / n as f64;
    eprintln!(
        "{what}: {n} acquire+release in {e:?}: {:.1} us each; this process's CPU {:.1} us user + {:.1} us system each",
        e.as_secs_f64() * 1e6 / n as f64,
        per(user, cpu0.0),
        per(sys, cpu0.1)
    );
}

/// User and system CPU seconds of this process (not of the nodes).
fn cpu_time() -> (f64, f64) {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(u.ru_utime), s(u.ru_stime))
}
