//! rslock's lock + unlock, sequentially, on a current-thread runtime (its
//! best case, as redlead's Rust door runs). Prints `BENCH rslock ...`.
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let urls: Vec<String> = std::env::var("BENCH_URLS")
        .expect("BENCH_URLS")
        .split(',')
        .map(str::to_owned)
        .collect();
    let n: usize = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let rl = rslock::LockManager::new(urls);
    let ttl = Duration::from_secs(10);
    let once = || async {
        let t = Instant::now();
        let lock = rl.lock("bench-rslock", ttl).await.expect("rslock lock");
        rl.unlock(&lock).await;
        t.elapsed()
    };
    for _ in 0..200 {
        once().await;
    }
    let mut xs = Vec::with_capacity(n);
    for _ in 0..n {
        xs.push(once().await);
    }
    xs.sort();
    println!(
        "BENCH rslock n={n} p50_us={:.1} p99_us={:.1}",
        xs[n / 2].as_secs_f64() * 1e6,
        xs[(n as f64 * 0.99) as usize].as_secs_f64() * 1e6
    );
}
