//! The Rust door of `scripts/bench.sh`: acquire + release through the Rust
//! API on nodes the runner started, printing one `BENCH <door> n=.. p50_us=..
//! p99_us=..` line per door:
//!
//! - `rust`: a current-thread runtime, everything on this thread (the best a
//!   caller can do; the reference for every other door),
//! - `rust-fenced`: the same, fenced,
//! - `rust-mt`: `block_on` from this thread into a 2-worker multi-thread
//!   runtime, as a foreign caller would without a library-owned I/O thread,
//! - `rust-io`: the runtime the C, Python, Go and C# doors use
//!   (`redlead::io_thread::IoRuntime`), blocked on from this thread.
//!
//! With `BENCH_CONTENDERS=k` it instead runs k tasks on distinct resources
//! for `BENCH_SECONDS` (default 3), on a 2-worker runtime (a current-thread
//! one with `BENCH_ONE_THREAD=1`, r of them on r threads with
//! `BENCH_RUNTIMES=r`), and prints `TPUT rust k=.. ops_s=..`.
//!
//! Env: BENCH_URLS (comma-separated node URLs), BENCH_N (default 3000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use redlead::{Config, LockOptions, Redlock};

const TTL: Duration = Duration::from_secs(10);

fn report(name: &str, mut xs: Vec<Duration>) {
    xs.sort();
    let n = xs.len();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "BENCH {name} n={n} p50_us={:.1} p99_us={:.1}",
        us(xs[n / 2]),
        us(xs[(n as f64 * 0.99) as usize])
    );
}

async fn once(rl: &Redlock, resource: &str, options: &LockOptions) -> Duration {
    let t = Instant::now();
    let lock = rl
        .try_acquire_with(resource, TTL, options)
        .await
        .expect("bench resource held elsewhere or nodes down");
    lock.release().await.expect("release");
    t.elapsed()
}

fn main() {
    let urls: Vec<String> = std::env::var("BENCH_URLS")
        .expect("BENCH_URLS=redis://host:port,...")
        .split(',')
        .map(str::to_owned)
        .collect();
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    if let Some(k) = std::env::var("BENCH_CONTENDERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return throughput(&urls, k);
    }

    // Current-thread: the client's connections live on this runtime.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (plain, fenced) = rt.block_on(async {
        let rl = Redlock::new(&urls, Config::default()).expect("client");
        let (p, f) = (LockOptions::default(), LockOptions::fenced());
        for _ in 0..200 {
            once(&rl, "bench-rust", &p).await;
            once(&rl, "bench-rust-fenced", &f).await;
        }
        let (mut plain, mut fenced) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            plain.push(once(&rl, "bench-rust", &p).await);
            fenced.push(once(&rl, "bench-rust-fenced", &f).await);
        }
        (plain, fenced)
    });
    drop(rt);
    report("rust", plain);
    report("rust-fenced", fenced);

    // Multi-thread runtime driven by block_on from a foreign thread.
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rl = {
        let _g = mt.enter();
        Redlock::new(&urls, Config::default()).expect("client")
    };
    let p = LockOptions::default();
    for _ in 0..200 {
        mt.block_on(once(&rl, "bench-rust-mt", &p));
    }
    let xs: Vec<Duration> = (0..n)
        .map(|_| mt.block_on(once(&rl, "bench-rust-mt", &p)))
        .collect();
    report("rust-mt", xs);
    drop(rl);
    drop(mt);

    // The bindings' runtime (`redlead::io_thread`): this thread drives it
    // while it blocks, the I/O thread when nobody does.
    let io = redlead::io_thread::IoRuntime::start("redlead-io").expect("runtime");
    let rl = {
        let _g = io.handle().enter();
        Arc::new(Redlock::new(&urls, Config::default()).expect("client"))
    };
    let call = |rl: &Arc<Redlock>| {
        let t = Instant::now();
        io.block_on(once(rl, "bench-rust-io", &LockOptions::default()));
        t.elapsed()
    };
    for _ in 0..200 {
        call(&rl);
    }
    let xs: Vec<Duration> = (0..n).map(|_| call(&rl)).collect();
    report("rust-io", xs);
}

/// k tasks on distinct resources: over one client on a 2-worker runtime,
/// or (BENCH_ONE_THREAD set) on a current-thread one, or (BENCH_RUNTIMES=r)
/// split over r current-thread runtimes on r threads, a client each (as
/// the C ABI's `runtime_threads` does).
fn throughput(urls: &[String], k: usize) {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let runtimes: Option<usize> = std::env::var("BENCH_RUNTIMES")
        .ok()
        .and_then(|v| v.parse().ok());
    let current = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let ops = match runtimes {
        Some(r) => {
            let r = r.clamp(1, k.max(1));
            let threads: Vec<_> = (0..r)
                .map(|j| {
                    let urls = urls.to_vec();
                    std::thread::spawn(move || {
                        current().block_on(contend(urls, j * k / r..(j + 1) * k / r, secs))
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        }
        None if std::env::var_os("BENCH_ONE_THREAD").is_some() => {
            current().block_on(contend(urls.to_vec(), 0..k, secs))
        }
        None => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(contend(urls.to_vec(), 0..k, secs)),
    };
    println!("TPUT rust k={k} ops_s={:.0}", ops as f64 / secs);
}

/// One client, a task per resource in `resources`, each acquiring and
/// releasing its own resource in a loop for `secs`; the operations done.
async fn contend(urls: Vec<String>, resources: std::ops::Range<usize>, secs: f64) -> u64 {
    let rl = Arc::new(Redlock::new(&urls, Config::default()).expect("client"));
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = resources
        .map(|i| {
            let rl = rl.clone();
            tokio::spawn(async move {
                let res = format!("bench-tput-{i}");
                let p = LockOptions::default();
                let mut done = 0u64;
                while Instant::now() < until {
                    once(&rl, &res, &p).await;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total
}
