//! The one process-wide tokio runtime, and waiting on it without holding the GIL.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Handle;

use crate::errors::RedleadError;

struct Shared {
    pid: u32,
    runtime: Handle,
}

static RUNTIME: Mutex<Option<Shared>> = Mutex::new(None);

/// Set by the package's `atexit` hook: from then on no library thread calls
/// into Python any more, so interpreter shutdown never waits on one.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// The runtime of this process, built on first use: one I/O thread
/// (`redlead::io_thread`) that owns every client's connections and tasks, so
/// a blocking call costs two thread hand-offs, not one per node reply. After
/// `fork()` the child has no such thread, so a child gets a runtime of its
/// own; the parent's handle is leaked (its thread does not exist here).
pub fn runtime() -> PyResult<Handle> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = slot.as_ref() {
        if s.pid == pid {
            return Ok(s.runtime.clone());
        }
    }
    let handle = redlead::io_thread::start_io_thread("redlead-io").map_err(|e| {
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
/// extend, release, ping), as a task on the I/O thread while this thread
/// waits without the GIL. No signal polling: its timer would cost a wake-up
/// of the I/O thread on every call, for an operation that ends within
/// milliseconds anyway. A panic in the task resumes here (pyo3 turns it into
/// a PanicException).
pub fn wait_short<F>(py: Python<'_>, rt: &Handle, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = rt.spawn(fut);
    match py.detach(|| rt.block_on(task)) {
        Ok(out) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// How often a blocking wait wakes to let Python deliver signals (Ctrl-C).
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// Runs `fut` to completion as a task on the I/O thread, without holding
/// the GIL. Every `SIGNAL_POLL` the wait re-attaches to check for signals; a
/// KeyboardInterrupt aborts the task (the core's operations are cancel safe).
pub fn wait<F>(py: Python<'_>, rt: &Handle, fut: F) -> PyResult<F::Output>
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
