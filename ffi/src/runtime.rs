//! The process-wide runtime: current-thread tokio runtimes, each with its
//! `redlead-io-<i>` thread (`redlead::io_thread`). A client lives on one of
//! them (round robin), with its connections and background tasks. A blocking
//! C call drives the first runtime itself while it waits (its thread sits in
//! epoll for the replies; the I/O thread steps aside), so back-to-back calls
//! cost no thread hand-off. Built lazily by the first call that needs it,
//! never dropped.
//!
//! fork(): the child inherits the memory but not the threads, so the pid is
//! recorded when the runtime is built and every call checks it.

use std::future::Future;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use redlead_core::io_thread::IoRuntime;
use tokio::runtime::Handle;

use crate::status::{redlead_status, FfiError, FfiResult};

/// I/O threads when nothing else was asked for. One thread serves a process's
/// clients at the Rust API's latency; more help only many busy clients.
pub(crate) const DEFAULT_THREADS: usize = 1;
pub(crate) const MAX_THREADS: usize = 256;

struct IoThreads {
    runtimes: Vec<IoRuntime>,
    next: AtomicUsize,
}

static RUNTIME: OnceLock<IoThreads> = OnceLock::new();
static PID: AtomicI32 = AtomicI32::new(0);
static INIT: Mutex<()> = Mutex::new(());

fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// True in a child process forked after the runtime was built.
pub fn forked() -> bool {
    let pid = PID.load(Ordering::Acquire);
    pid != 0 && pid != getpid()
}

/// I/O threads of the built runtime, or None before it is built.
pub fn built_threads() -> Option<usize> {
    RUNTIME.get().map(|io| io.runtimes.len())
}

fn io_threads(threads: Option<usize>) -> FfiResult<&'static IoThreads> {
    if let Some(io) = RUNTIME.get() {
        check_threads(threads)?;
        return Ok(io);
    }
    let _g = INIT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(io) = RUNTIME.get() {
        check_threads(threads)?;
        return Ok(io);
    }
    // libredlead carries its own copy of rustls, so choosing its provider is
    // ours, as an application's would be (core/src/tls.rs).
    redlead_core::tls::install_ring_provider();
    let n = threads.unwrap_or(DEFAULT_THREADS);
    let runtimes = (0..n)
        .map(|i| IoRuntime::start(&format!("redlead-io-{i}")))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| {
            FfiError::new(
                redlead_status::REDLEAD_ERR_INTERNAL,
                format!("cannot start the runtime's I/O threads: {e}"),
            )
        })?;
    PID.store(getpid(), Ordering::Release);
    Ok(RUNTIME.get_or_init(|| IoThreads {
        runtimes,
        next: AtomicUsize::new(0),
    }))
}

/// The I/O thread for a new client (round robin), building the runtime with
/// `threads` I/O threads (default 1) if it does not exist yet. Asking for a
/// different count once it exists is an error.
pub fn get(threads: Option<usize>) -> FfiResult<&'static Handle> {
    let io = io_threads(threads)?;
    let i = io.next.fetch_add(1, Ordering::Relaxed) % io.runtimes.len();
    Ok(io.runtimes[i].handle())
}

/// The first runtime: for background work not tied to one client (the
/// asynchronous calls' tasks; what they await runs on its client's
/// runtime). Spawning through it wakes its I/O thread at once when no
/// blocking caller drives it.
pub fn background() -> FfiResult<&'static IoRuntime> {
    Ok(&io_threads(None)?.runtimes[0])
}

fn check_threads(threads: Option<usize>) -> FfiResult<()> {
    match (threads, built_threads()) {
        (Some(want), Some(have)) if want != have => Err(FfiError::invalid(format!(
            "runtime_threads ({want}) applies only before the runtime is first built; it already runs {have} I/O threads"
        ))),
        _ => Ok(()),
    }
}

/// True on a thread where blocking on the runtime would panic or deadlock
/// (an I/O thread, or any thread inside some tokio runtime).
pub fn on_runtime_thread() -> bool {
    Handle::try_current().is_ok()
}

/// Runs a future to completion for a blocking C call, on the caller's
/// thread, which drives the first runtime (its clients' connections and
/// tasks) while it waits, unless another caller already does. With more than
/// one I/O thread, the other runtimes' clients still reply through their own
/// thread. A panic in the future unwinds to the boundary, which turns it
/// into an error.
pub fn block_on<F: Future>(f: F) -> FfiResult<F::Output> {
    if on_runtime_thread() {
        return Err(FfiError::new(
            redlead_status::REDLEAD_ERR_WRONG_THREAD,
            "blocking redlead call made from inside a tokio runtime thread (e.g. a redlead I/O thread); call it from another thread",
        ));
    }
    Ok(io_threads(None)?.runtimes[0].block_on(f))
}
