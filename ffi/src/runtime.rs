//! The one process-wide tokio runtime. Built lazily by the first call that
//! needs it, never dropped (a process-wide runtime outlives every handle).
//!
//! fork(): the child inherits the memory but not the runtime's threads, so
//! the pid is recorded when the runtime is built and every call checks it.

use std::future::Future;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::runtime::Runtime;

use crate::error::{redlead_status, FfiError, FfiResult};

/// Worker threads when nothing else was asked for.
pub(crate) const DEFAULT_THREADS: usize = 2;
pub(crate) const MAX_THREADS: usize = 256;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static BUILT_THREADS: AtomicUsize = AtomicUsize::new(0);
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

/// Worker threads of the built runtime, or None before it is built.
pub fn built_threads() -> Option<usize> {
    RUNTIME.get().map(|_| BUILT_THREADS.load(Ordering::Acquire))
}

/// The runtime, built with `threads` workers (default 2) if it does not exist
/// yet. Asking for a different count once it exists is an error.
pub fn get(threads: Option<usize>) -> FfiResult<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        check_threads(threads)?;
        return Ok(rt);
    }
    let _g = INIT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = RUNTIME.get() {
        check_threads(threads)?;
        return Ok(rt);
    }
    let n = threads.unwrap_or(DEFAULT_THREADS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(n)
        .thread_name("redlead-worker")
        .enable_all()
        .build()
        .map_err(|e| {
            FfiError::new(
                redlead_status::REDLEAD_ERR_INTERNAL,
                format!("cannot build the runtime: {e}"),
            )
        })?;
    BUILT_THREADS.store(n, Ordering::Release);
    PID.store(getpid(), Ordering::Release);
    Ok(RUNTIME.get_or_init(|| rt))
}

fn check_threads(threads: Option<usize>) -> FfiResult<()> {
    match (threads, built_threads()) {
        (Some(want), Some(have)) if want != have => Err(FfiError::invalid(format!(
            "runtime_threads ({want}) applies only before the runtime is first built; it already runs {have} worker threads"
        ))),
        _ => Ok(()),
    }
}

/// True on a thread where blocking on the runtime would panic or deadlock
/// (a runtime worker, or any thread inside some tokio runtime).
pub fn on_runtime_thread() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// Runs a future to completion for a blocking C call.
pub fn block_on<F: Future>(f: F) -> FfiResult<F::Output> {
    if on_runtime_thread() {
        return Err(FfiError::new(
            redlead_status::REDLEAD_ERR_WRONG_THREAD,
            "blocking redlead call made from inside a tokio runtime thread (e.g. a redlead worker); call it from another thread",
        ));
    }
    Ok(get(None)?.block_on(f))
}
