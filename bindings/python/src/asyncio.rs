//! asyncio support: a core future runs as a task on the library's runtime;
//! its result is handed to the event loop's own thread, which completes the
//! `asyncio.Future`. Cancelling the asyncio future aborts the task.
//!
//! The runtime's tasks never take the GIL: whichever thread drives them (the
//! I/O thread, or a blocking caller that released the GIL) would stall every
//! connection and renewal of the process while Python runs. The task queues
//! the completion and
//! writes one byte to a socket pair the loop watches (`loop.add_reader`); the
//! loop drains the queue with the GIL it already holds. One wake-up per batch
//! of completions, no thread per call, no `call_soon_threadsafe` hop.

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use redlead::io_thread::IoRuntime;
use tokio::task::AbortHandle;

/// A completion, run on the loop's thread with the GIL.
pub(crate) type Done = Box<dyn for<'py> FnOnce(Python<'py>) + Send>;

/// The completions waiting for one event loop, and the socket pair that
/// wakes it.
pub(crate) struct Pending {
    queue: Mutex<Vec<Done>>,
    wake: UnixStream,
    watched: UnixStream,
}

impl Pending {
    pub(crate) fn push(&self, done: Done) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let first = q.is_empty();
        q.push(done);
        drop(q);
        // One byte per batch: the loop drains everything queued by then.
        if first {
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// The reader callback registered with the loop.
#[pyclass(frozen)]
struct LoopWaker {
    pending: Arc<Pending>,
}

#[pymethods]
impl LoopWaker {
    fn __call__(&self, py: Python<'_>) {
        // Bytes first, then the queue: a completion pushed after the take
        // finds the queue empty and writes a new byte.
        let mut buf = [0u8; 256];
        while matches!((&self.pending.watched).read(&mut buf), Ok(n) if n > 0) {}
        let ready =
            std::mem::take(&mut *self.pending.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for done in ready {
            done(py);
        }
    }
}

/// Loop -> its LoopWaker, dropped with the loop.
static WAKERS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub(crate) fn pending_for(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Pending>> {
    let wakers = WAKERS
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py
                .import("weakref")?
                .call_method0("WeakKeyDictionary")?
                .unbind())
        })?
        .bind(py);
    if let Some(w) = wakers
        .call_method1("get", (event_loop,))?
        .extract::<Option<Py<LoopWaker>>>()?
    {
        return Ok(w.get().pending.clone());
    }
    let (wake, watched) = UnixStream::pair()?;
    wake.set_nonblocking(true)?;
    watched.set_nonblocking(true)?;
    let fd = watched.as_raw_fd();
    let pending = Arc::new(Pending {
        queue: Mutex::new(Vec::new()),
        wake,
        watched,
    });
    let waker = Py::new(
        py,
        LoopWaker {
            pending: pending.clone(),
        },
    )?;
    event_loop.call_method1("add_reader", (fd, waker.clone_ref(py)))?;
    wakers.set_item(event_loop, waker)?;
    Ok(pending)
}

/// Sets the result unless the future was cancelled meanwhile.
fn _resolve(fut: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if !fut.call_method0("done")?.is_truthy()? {
        fut.call_method1("set_result", (value,))?;
    }
    Ok(())
}

/// Sets the exception unless the future was cancelled meanwhile.
fn _reject(fut: &Bound<'_, PyAny>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
    if !fut.call_method0("done")?.is_truthy()? {
        fut.call_method1("set_exception", (exc,))?;
    }
    Ok(())
}

/// Done-callback of the asyncio future: aborts the runtime task on cancel.
#[pyclass(frozen)]
struct AbortOnCancel {
    handle: AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut.call_method0("cancelled")?.is_truthy()? {
            self.handle.abort();
        }
        Ok(())
    }
}

/// An asyncio future of the running loop, already done with `value`: what
/// `__aenter__` returns for an object that is its own context.
pub fn ready<'py>(value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let fut = value
        .py()
        .import("asyncio")?
        .call_method0("get_running_loop")?
        .call_method0("create_future")?;
    fut.call_method1("set_result", (value,))?;
    Ok(fut)
}

/// Runs `fut` on `rt` and returns an asyncio future of the running loop that
/// completes with `convert(output)`. Must be called from a coroutine (a
/// running loop is required).
pub fn spawn<'py, F, T, C>(
    py: Python<'py>,
    rt: &IoRuntime,
    fut: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
    C: for<'a> FnOnce(Python<'a>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let py_fut = event_loop.call_method0("create_future")?;
    let pending = pending_for(py, &event_loop)?;
    let pf = py_fut.clone().unbind();
    let task = rt.spawn(async move {
        let out = fut.await;
        pending.push(Box::new(move |py| {
            let pf = pf.bind(py);
            let _ = match convert(py, out) {
                Ok(v) => _resolve(pf, v.bind(py)),
                Err(e) => _reject(pf, e.into_value(py).bind(py).as_any()),
            };
        }));
    });
    py_fut.call_method1(
        "add_done_callback",
        (AbortOnCancel {
            handle: task.abort_handle(),
        },),
    )?;
    Ok(py_fut)
}
