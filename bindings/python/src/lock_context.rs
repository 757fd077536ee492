//! `Client.lock(...)`: a context manager for `with` and `async with` that
//! acquires on enter, keeps the lock extended while inside and releases it
//! on exit. Its arguments are checked when it is made; the client's core is
//! looked up on enter, so a context (or a `synchronized` function) made
//! before `fork()` works in the child.

use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;

use crate::client::{Client, Request};
use crate::errors::RedleadError;
use crate::lock::PyLock;

/// An acquisition with auto-extension, checked: what `Client.lock` asks for.
pub struct LockRequest {
    pub request: Request,
    pub wait: Duration,
}

/// ``with client.lock(...) as lock:`` (or ``async with``) acquires, waiting
/// up to ``wait``, keeps the lock extended in the background while inside
/// (up to ``max_hold``), releases it on exit, and raises LockLost on exit if
/// the lock was lost inside the block. Not reentrant: one block at a time.
#[pyclass(frozen, module = "redlead._redlead", name = "LockContext")]
pub struct LockContext {
    client: Py<Client>,
    req: LockRequest,
    /// The lock while inside the block.
    held: Mutex<Option<Py<PyLock>>>,
}

impl LockContext {
    pub fn new(client: Py<Client>, req: LockRequest) -> LockContext {
        LockContext {
            client,
            req,
            held: Mutex::new(None),
        }
    }

    fn request(&self) -> Request {
        Request {
            resource: self.req.request.resource.clone(),
            ttl: self.req.request.ttl,
            opts: self.req.request.opts.clone(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<Py<PyLock>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_not_entered(&self) -> PyResult<()> {
        if self.held().is_some() {
            return Err(RedleadError::new_err(
                "this lock context is already entered; make one per block",
            ));
        }
        Ok(())
    }

    fn take(&self) -> PyResult<Py<PyLock>> {
        self.held()
            .take()
            .ok_or_else(|| RedleadError::new_err("this lock context was not entered"))
    }
}

#[pymethods]
impl LockContext {
    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<PyLock>> {
        self.check_not_entered()?;
        let lock = self
            .client
            .get()
            .acquire_blocking(py, self.request(), self.req.wait)?;
        let lock = Py::new(py, lock)?;
        *self.held() = Some(lock.clone_ref(py));
        Ok(lock)
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.take()?.get().__exit__(py, exc_type, exc, tb)
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        this.check_not_entered()?;
        let ctx = slf.clone().unbind();
        this.client
            .get()
            .acquire_spawned(py, this.request(), this.req.wait, move |py, lock| {
                *ctx.get().held() = Some(lock.clone_ref(py));
                Ok(lock.into_any())
            })
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        exc_type: &Bound<'py, PyAny>,
        exc: &Bound<'py, PyAny>,
        tb: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.take()?.get().__aexit__(py, exc_type, exc, tb)
    }

    fn __repr__(&self) -> String {
        format!(
            "<redlead.LockContext resource={:?} entered={}>",
            self.req.request.resource,
            self.held().is_some()
        )
    }
}
