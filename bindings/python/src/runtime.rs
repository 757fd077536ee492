//! The one process-wide tokio runtime, and waiting on it without holding the GIL.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use redlead::io_thread::IoRuntime;

use crate::errors::RedleadError;

struct Shared {
    pid: u32,
    runtime: IoRuntime,
}

static RUNTIME: Mutex<Option<Shared>> = Mutex::new(None);

/// Set by the package's `atexit` hook: from then on no library thread calls
/// into Python any more, so interpreter shutdown never waits on one.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// The runtime of this process, built on first use: one current-thread
/// runtime (`redlead::io_thread`) that owns every client's connections and
/// tasks, driven by a blocking caller while it waits and by the I/O thread
/// otherwise, so a blocking call costs no thread hand-off. After
/// `fork()` the child has no such thread, so a child gets a runtime of its
/// own; the parent's handle is leaked (its thread does not exist here).
pub fn runtime() -> PyResult<IoRuntime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.as_ref() {
        if s.pid == pid {
            return Ok(s.runtime.clone());
        }
    }
    let handle = IoRuntime::start("redlead-io").map_err(|e| {
        RedleadError::new_err(format!("cannot start the runtime's I/O thread: {e}"))
    })?;
    let fresh = Shared {
        pid,
        runtime: handle,
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
/// extend, release, ping), on this thread without the GIL, this thread
/// driving the runtime meanwhile. No signal polling: an operation that ends
/// within milliseconds needs none. A panic in `fut` unwinds to pyo3, which
/// turns it into a PanicException.
pub fn wait_short<F>(py: Python<'_>, rt: &IoRuntime, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| rt.block_on(fut))
}

/// How often a blocking wait wakes to let Python deliver signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// Runs `fut` to completion as a task on the runtime, without holding the
/// GIL (this thread drives the runtime while it waits). Every `SIGNAL_POLL` the wait re-attaches to check for signals; a
/// KeyboardInterrupt aborts the task (the core's operations are cancel safe).
pub fn wait<F>(py: Python<'_>, rt: &IoRuntime, fut: F) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut task = rt.spawn(fut);
    loop {
        let done =
            py.detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut task).await }));
        match done {
            Ok(Ok(out)) => return Ok(out),
            Ok(Err(e)) => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {
                if let Err(e) = py.check_signals() {
                    task.abort();
                    return Err(e);
                }
            }
        }
    }
}
