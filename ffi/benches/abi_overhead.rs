//! Cost of the C ABI: acquire + release through the exported C functions
//! (boundary macro, handle checks, error objects, `block_on` on the shared
//! runtime) next to the same work through the Rust API, in the same run,
//! against the same 5 local redis-server nodes. Batches alternate between the
//! two paths so that drift of the machine affects both alike.
//!
//!     cargo bench -p redlead-ffi --bench abi_overhead
//!
//! Env: BENCH_ITERS (default 3000 per path).

use std::ffi::CString;
use std::os::raw::c_char;
use std::ptr;
use std::time::{Duration, Instant};

use redlead::client::{redlead_client, redlead_client_free, redlead_client_new};
use redlead::error::redlead_status;
use redlead::lock::{
    redlead_lock, redlead_lock_free, redlead_lock_release, redlead_lock_try_acquire,
};

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let cluster = redlead_harness::Cluster::start_in_memory(5);
    let urls = cluster.urls();

    // C ABI client.
    let c_urls: Vec<CString> = urls
        .iter()
        .map(|u| CString::new(u.as_str()).unwrap())
        .collect();
    let ptrs: Vec<*const c_char> = c_urls.iter().map(|c| c.as_ptr()).collect();
    let mut client: *mut redlead_client = ptr::null_mut();
    let st = redlead_client_new(
        ptrs.as_ptr(),
        ptrs.len(),
        ptr::null(),
        &mut client,
        ptr::null_mut(),
    );
    assert_eq!(st, redlead_status::REDLEAD_OK, "redlead_client_new");
    let res_c = CString::new("bench-c").unwrap();
    let c_once = || {
        let mut lock: *mut redlead_lock = ptr::null_mut();
        let t = Instant::now();
        let st = redlead_lock_try_acquire(
            client,
            res_c.as_ptr(),
            10_000,
            0,
            &mut lock,
            ptr::null_mut(),
        );
        assert_eq!(st, redlead_status::REDLEAD_OK, "C acquire");
        let st = redlead_lock_release(lock, ptr::null_mut());
        assert_eq!(st, redlead_status::REDLEAD_OK, "C release");
        let d = t.elapsed();
        redlead_lock_free(lock);
        d
    };

    // Rust API on its own runtime shaped like the C one (2 workers), driven
    // by block_on from this thread as a synchronous Rust caller would.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rl = {
        let _g = rt.enter();
        redlead_core::Redlock::new(&urls, redlead_core::Config::default()).unwrap()
    };
    let rust_once = || {
        let t = Instant::now();
        rt.block_on(async {
            let lock = rl
                .try_acquire("bench-rust", Duration::from_secs(10))
                .await
                .expect("Rust acquire");
            lock.release().await.expect("Rust release");
        });
        t.elapsed()
    };

    for _ in 0..200 {
        c_once();
        rust_once();
    }
    let (mut c, mut r) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    let batch = 50;
    while c.len() < iters {
        for _ in 0..batch {
            c.push(c_once());
        }
        for _ in 0..batch {
            r.push(rust_once());
        }
    }
    c.sort();
    r.sort();
    let (c50, c99, r50, r99) = (pct(&c, 0.5), pct(&c, 0.99), pct(&r, 0.5), pct(&r, 0.99));
    println!(
        "acquire+release, 5 local redis-server nodes, {} iterations per path",
        c.len()
    );
    println!(
        "  Rust API (peer): p50 {:8.1} us   p99 {:8.1} us",
        us(r50),
        us(r99)
    );
    println!(
        "  C ABI:           p50 {:8.1} us   p99 {:8.1} us",
        us(c50),
        us(c99)
    );
    println!(
        "  ratio C/Rust:    p50 {:8.3}      p99 {:8.3}      (target: p50 within 5%, i.e. <= 1.050)",
        us(c50) / us(r50),
        us(c99) / us(r99)
    );
    redlead_client_free(client);
}
