//! asyncio support: a core future runs as a task on the library's runtime and
//! completes an `asyncio.Future` through `loop.call_soon_threadsafe`; no
//! thread per call. Cancelling the asyncio future aborts the task.

use std::future::Future;

use pyo3::prelude::*;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::runtime::with_python;

/// Sets the result unless the future was cancelled meanwhile.
#[pyfunction]
fn _resolve(fut: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if !fut.call_method0("done")?.is_truthy()? {
        fut.call_method1("set_result", (value,))?;
    }
    Ok(())
}

/// Sets the exception unless the future was cancelled meanwhile.
#[pyfunction]
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

/// Runs `fut` on `rt` and returns an asyncio future of the running loop that
/// completes with `convert(output)`. Must be called from a coroutine (a
/// running loop is required).
pub fn spawn<'py, F, T, C>(
    py: Python<'py>,
    rt: &Handle,
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
    let (lp, pf) = (event_loop.unbind(), py_fut.clone().unbind());
    let task = rt.spawn(async move {
        let out = fut.await;
        with_python(move |py| {
            let sent = (|| -> PyResult<()> {
                let (cb, arg) = match convert(py, out) {
                    Ok(v) => (wrap_pyfunction!(_resolve, py)?, v),
                    Err(e) => (wrap_pyfunction!(_reject, py)?, e.into_value(py).into_any()),
                };
                lp.call_method1(py, "call_soon_threadsafe", (cb, pf, arg))?;
                Ok(())
            })();
            // The loop was closed: nobody can await the result any more.
            drop(sent);
        });
    });
    py_fut.call_method1(
        "add_done_callback",
        (AbortOnCancel {
            handle: task.abort_handle(),
        },),
    )?;
    Ok(py_fut)
}
