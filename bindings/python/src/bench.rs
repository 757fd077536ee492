//! Helpers for bench/bench.py: the same operations timed inside Rust, and
//! the quorum round-trip floor, so the Python figures have a floor and a
//! peer from the same run.

use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use pyo3::prelude::*;

use crate::client::Client;
use crate::errors::{invalid, IntoPy};
use crate::runtime::{check_pid, runtime, wait};

/// Loops ``n`` times acquire + release of ``resource`` inside Rust and
/// returns each iteration's latency in µs. ``blocking=False``: one async loop
/// (no Python between iterations); ``blocking=True``: each iteration is its
/// acquire and each release its own `block_on` from this thread with the GIL
/// released, i.e. exactly what the two Python calls do minus the Python part.
#[pyfunction]
#[pyo3(signature = (client, resource, n, ttl_ms=10_000, blocking=false))]
fn _bench_rust(
    py: Python<'_>,
    client: &Client,
    resource: String,
    n: usize,
    ttl_ms: u64,
    blocking: bool,
) -> PyResult<Vec<f64>> {
    check_pid(client.pid, "Client")?;
    let redlock = client.redlock.clone();
    let ttl = Duration::from_millis(ttl_ms);
    if blocking {
        let rt = client.rt.clone();
        let r = py.detach(move || {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                let lock = rt.block_on(redlock.try_acquire(&resource, ttl))?;
                rt.block_on(lock.release())?;
                out.push(t.elapsed().as_secs_f64() * 1e6);
            }
            Ok::<_, redlead::Error>(out)
        });
        return r.py_err(py);
    }
    let r = wait(py, &client.rt, async move {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let lock = redlock.try_acquire(&resource, ttl).await?;
            lock.release().await?;
            out.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Ok::<_, redlead::Error>(out)
    })?;
    r.py_err(py)
}

/// The quorum round-trip floor: ``n`` times, PING every node in parallel on
/// its own multiplexed connection and time until the ``quorum``-th reply
/// (default N // 2 + 1). Returns latencies in µs.
#[pyfunction]
#[pyo3(signature = (urls, n, quorum=None))]
fn _floor_ping(
    py: Python<'_>,
    urls: Vec<String>,
    n: usize,
    quorum: Option<usize>,
) -> PyResult<Vec<f64>> {
    if urls.is_empty() {
        return Err(invalid(py, "urls must not be empty"));
    }
    let q = quorum.unwrap_or(urls.len() / 2 + 1).clamp(1, urls.len());
    let rt = runtime()?;
    let r = wait(py, &rt, async move {
        let mut conns = Vec::new();
        for u in &urls {
            let c = redis::Client::open(u.as_str())?;
            conns.push(c.get_multiplexed_async_connection().await?);
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let mut pings: FuturesUnordered<_> = conns
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    tokio::spawn(
                        async move { redis::cmd("PING").query_async::<String>(&mut c).await },
                    )
                })
                .collect();
            let mut got = 0;
            while let Some(r) = pings.next().await {
                if matches!(r, Ok(Ok(_))) {
                    got += 1;
                }
                if got >= q {
                    break;
                }
            }
            out.push(t.elapsed().as_secs_f64() * 1e6);
            // Let the stragglers finish so they do not skew the next round.
            while pings.next().await.is_some() {}
        }
        Ok::<_, redis::RedisError>(out)
    })?;
    r.map_err(|e| crate::errors::RedleadError::new_err(format!("floor ping failed: {e}")))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_bench_rust, m)?)?;
    m.add_function(wrap_pyfunction!(_floor_ping, m)?)?;
    Ok(())
}
