//! The one process-wide tokio runtime, and waiting on it without holding the GIL.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::RedleadError;

struct Shared {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<Shared>> = Mutex::new(None);

/// Set by the package's `atexit` hook: from then on no library thread calls
/// into Python any more, so interpreter shutdown never waits on one.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// The runtime of this process, built on first use. After `fork()` the child
/// has none of the parent's worker threads, so a child gets a runtime of its
/// own; the parent's is leaked (dropping it would wait for threads that do
/// not exist in the child).
pub fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.as_ref() {
        if s.pid == pid {
            return Ok(s.runtime.clone());
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("redlead-rt")
        .enable_all()
        .build()
        .map_err(|e| RedleadError::new_err(format!("cannot start the tokio runtime: {e}")))?;
    let fresh = Shared {
        pid,
        runtime: Arc::new(rt),
    };
    if let Some(old) = slot.replace(fresh) {
        std::mem::forget(old);
    }
    Ok(slot.as_ref().unwrap().runtime.clone())
}

/// Fails with a clear error when an object made before `fork()` is used in
/// the child: its connections and tasks live in the parent.
pub fn check_pid(pid: u32, what: &str) -> PyResult<()> {
    if pid != std::process::id() {
        return Err(RedleadError::new_err(format!(
            "this {what} was created in process {pid} and cannot be used after fork(); \
             create a new redlead.Client in the child process"
        )));
    }
    Ok(())
}

pub fn shutting_down() -> bool {
    SHUTTING_DOWN.load(Ordering::Acquire)
}

pub fn set_shutting_down() {
    SHUTTING_DOWN.store(true, Ordering::Release);
}

/// Calls `f` with the GIL from a library thread, unless the interpreter is
/// shutting down (then the call is skipped, never waited for).
pub fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    if shutting_down() {
        return None;
    }
    Python::try_attach(f)
}

/// Runs `fut`, which the core bounds by a few node timeouts (try_acquire,
/// extend, release, ping), without holding the GIL. No signal polling: its
/// timer would cost a wake-up of the runtime's driver on every call, for an
/// operation that ends within milliseconds anyway.
pub fn wait_short<F>(py: Python<'_>, rt: &Runtime, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| rt.block_on(fut))
}

/// How often a blocking wait wakes to let Python deliver signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// Runs `fut` to completion without holding the GIL. Every `SIGNAL_POLL` the
/// wait re-attaches to check for signals; a KeyboardInterrupt drops the
/// future (the core's operations are cancel safe).
pub fn wait<F>(py: Python<'_>, rt: &Runtime, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let mut fut = Box::pin(fut);
    loop {
        let done =
            py.detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut fut).await }));
        match done {
            Ok(out) => return Ok(out),
            Err(_) => py.check_signals()?,
        }
    }
}
