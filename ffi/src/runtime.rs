//! The process-wide runtime: `redlead-io-<i>` threads, each driving a
//! current-thread tokio runtime (`redlead::io_thread`). A client lives on one
//! of them (round robin), with its connections and background tasks; a
//! blocking C call parks the caller while that thread does the network work,
//! so one operation costs two thread hand-offs whatever the number of nodes.
//! Built lazily by the first call that needs it, never dropped.
//!
//! fork(): the child inherits the memory but not the threads, so the pid is
//! recorded when the runtime is built and every call checks it.

use std::future::Future;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::runtime::Handle;

use crate::status::{redlead_status, FfiError, FfiResult};

/// I/O threads when nothing else was asked for. One thread serves a process's
/// clients at the Rust API's latency; more help only many busy clients.
pub(crate) const DEFAULT_THREADS: usize = 1;
pub(crate) const MAX_THREADS: usize = 256;

struct IoThreads {
    handles: Vec<Handle>,
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
    RUNTIME.get().map(|io| io.handles.len())
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
    let handles = (0..n)
        .map(|i| redlead_core::io_thread::start_io_thread(&format!("redlead-io-{i}")))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| {
            FfiError::new(
                redlead_status::REDLEAD_ERR_INTERNAL,
                format!("cannot start the runtime's I/O threads: {e}"),
            )
        })?;
    PID.store(getpid(), Ordering::Release);
    Ok(RUNTIME.get_or_init(|| IoThreads {
        handles,
        next: AtomicUsize::new(0),
    }))
}

/// The I/O thread for a new client (round robin), building the runtime with
/// `threads` I/O threads (default 1) if it does not exist yet. Asking for a
/// different count once it exists is an error.
pub fn get(threads: Option<usize>) -> FfiResult<&'static Handle> {
    let io = io_threads(threads)?;
    let i = io.next.fetch_add(1, Ordering::Relaxed) % io.handles.len();
    Ok(&io.handles[i])
}

/// The first I/O thread: for background work not tied to one client (the
/// asynchronous calls' tasks; what they await runs on its client's thread).
pub fn background() -> FfiResult<&'static Handle> {
    Ok(&io_threads(None)?.handles[0])
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

/// Runs a future to completion for a blocking C call: the future runs as
/// one task on an I/O thread, next to the connections it talks to, and the
/// caller's thread parks until it ends (two hand-offs per call; polling it
/// here instead would cost a wake-up of this thread per node reply). A panic
/// in the task resumes here, where the boundary turns it into an error.
pub fn block_on<F>(f: F) -> FfiResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if on_runtime_thread() {
        return Err(FfiError::new(
            redlead_status::REDLEAD_ERR_WRONG_THREAD,
            "blocking redlead call made from inside a tokio runtime thread (e.g. a redlead I/O thread); call it from another thread",
        ));
    }
    let io = background()?;
    match io.block_on(io.spawn(f)) {
        Ok(out) => Ok(out),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(FfiError::new(
            redlead_status::REDLEAD_ERR_INTERNAL,
            format!("the runtime dropped the operation: {e}"),
        )),
    }
}
