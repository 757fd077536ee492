//! `redlead.Lock`: a held lock.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyAny;
use redlead::io_thread::IoRuntime;
use redlead::{Error, ErrorKind};

use crate::args::{duration, TTL};
use crate::errors::{new_err, to_py, IntoPy};
use crate::redlock_cell::Core;
use crate::runtime::{check_pid, wait_short};

/// A held lock. Use it as a context manager (released on exit), or call
/// `release()`. A lock that is garbage-collected while held is released in
/// the background.
#[pyclass(frozen, module = "redlead._redlead", name = "Lock")]
pub struct PyLock {
    inner: Arc<redlead::Lock>,
    ttl: Duration,
    rt: IoRuntime,
    pid: u32,
}

impl PyLock {
    pub fn new(inner: redlead::Lock, ttl: Duration, core: &Core) -> PyLock {
        PyLock {
            inner: Arc::new(inner),
            ttl,
            rt: core.rt.clone(),
            pid: core.pid,
        }
    }

    /// The ttl of an extension: given in seconds or ms, else the acquire's.
    fn extension_ttl(
        &self,
        py: Python<'_>,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Duration> {
        Ok(duration(py, &TTL, ttl, ttl_ms)?.unwrap_or(self.ttl))
    }

    fn lost_on_exit(&self, py: Python<'_>) -> PyErr {
        new_err(
            py,
            ErrorKind::Lost,
            format!(
                "{}: the lock was lost while held (it expired or could not be extended); \
             the critical section may have overlapped another holder",
                self.inner.resource()
            ),
        )
    }
}

/// What leaving a `with` block decides, given whether the lock was already
/// known lost, the release's result and whether an exception is in flight.
fn exit_outcome(
    py: Python<'_>,
    was_lost: bool,
    released: Result<(), Error>,
    exc_in_flight: bool,
    lost_err: PyErr,
) -> PyResult<bool> {
    let lost = match released {
        Ok(()) => was_lost,
        // Released explicitly inside the block.
        Err(e) if e.kind() == ErrorKind::Closed => return Ok(false),
        Err(e) if e.kind() == ErrorKind::Lost => true,
        Err(e) => {
            if exc_in_flight {
                return Ok(false);
            }
            return Err(to_py(py, e));
        }
    };
    if lost && !exc_in_flight {
        return Err(lost_err);
    }
    Ok(false)
}

/// A validity as Python float seconds, or int milliseconds for the `_ms` form.
fn validity_in(py: Python<'_>, v: Duration, in_ms: bool) -> PyResult<Py<PyAny>> {
    Ok(if in_ms {
        (v.as_millis() as u64)
            .into_pyobject(py)?
            .into_any()
            .unbind()
    } else {
        v.as_secs_f64().into_pyobject(py)?.into_any().unbind()
    })
}

#[pymethods]
impl PyLock {
    /// The resource name this lock protects.
    #[getter]
    fn resource(&self) -> &str {
        self.inner.resource()
    }

    /// The Redis key holding the lock (default format ``redlead:{resource}``).
    #[getter]
    fn key(&self) -> &str {
        self.inner.key()
    }

    /// The random value stored on the nodes (``<token>[:<owner>]``).
    #[getter]
    fn value(&self) -> &str {
        self.inner.value()
    }

    /// The fencing token (an int strictly greater than every earlier fenced
    /// acquisition's of the resource), or None when not acquired with
    /// ``fencing=True``.
    #[getter]
    fn fencing_token(&self) -> Option<u64> {
        self.inner.fencing_token().map(|t| t.get())
    }

    /// Seconds left before another client may take the lock (0.0 when over).
    #[getter]
    fn validity(&self) -> f64 {
        self.inner.validity().as_secs_f64()
    }

    /// ``validity`` in whole milliseconds.
    #[getter]
    fn validity_ms(&self) -> u64 {
        self.inner.validity().as_millis() as u64
    }

    /// The ttl the lock was acquired with, in seconds.
    #[getter]
    fn ttl(&self) -> f64 {
        self.ttl.as_secs_f64()
    }

    /// ``ttl`` in whole milliseconds.
    #[getter]
    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    /// True while the lock is valid: not released, not lost, validity left.
    #[getter]
    fn is_held(&self) -> bool {
        self.inner.is_held()
    }

    /// True once the lock is known lost, or less than its safety margin of
    /// validity is left without a successful extension.
    #[getter]
    fn is_lost(&self) -> bool {
        self.inner.is_lost()
    }

    /// How many times the lock was extended (by ``extend()`` or auto-extend).
    #[getter]
    fn extensions(&self) -> u32 {
        self.inner.extensions()
    }

    /// Per-node outcomes of the acquisition, as ``(node, outcome)`` pairs.
    #[getter]
    fn outcomes(&self) -> Vec<(String, String)> {
        self.inner
            .outcomes()
            .iter()
            .map(|r| (r.node.clone(), r.outcome.to_string()))
            .collect()
    }

    /// Sets the lock's time to live to ``ttl`` seconds (or ``ttl_ms``;
    /// default: the acquire ttl) on every node where it is still this
    /// lock's; returns the new validity in seconds (in whole milliseconds
    /// when given ``ttl_ms``, as before seconds were taken). Raises LockLost
    /// when a quorum no longer holds it, ConnectionError when too few nodes
    /// answered, Closed after release.
    #[pyo3(signature = (*, ttl=None, ttl_ms=None))]
    fn extend(
        &self,
        py: Python<'_>,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        check_pid(self.pid, "Lock")?;
        let in_ms = ttl_ms.is_some_and(|v| !v.is_none());
        let ttl = self.extension_ttl(py, ttl, ttl_ms)?;
        let lock = self.inner.clone();
        let v = wait_short(py, &self.rt, async move { lock.extend(ttl).await }).py_err(py)?;
        validity_in(py, v, in_ms)
    }

    /// Awaitable ``extend()``.
    #[pyo3(signature = (*, ttl=None, ttl_ms=None))]
    fn extend_async<'py>(
        &self,
        py: Python<'py>,
        ttl: Option<&Bound<'py, PyAny>>,
        ttl_ms: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        check_pid(self.pid, "Lock")?;
        let in_ms = ttl_ms.is_some_and(|v| !v.is_none());
        let ttl = self.extension_ttl(py, ttl, ttl_ms)?;
        let lock = self.inner.clone();
        crate::asyncio::spawn(
            py,
            &self.rt,
            async move { lock.extend(ttl).await },
            move |py, r| validity_in(py, r.py_err(py)?, in_ms),
        )
    }

    /// Releases the lock on every node. Raises LockLost when it had already
    /// expired (the critical section may have overlapped another holder),
    /// Closed when already released.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        check_pid(self.pid, "Lock")?;
        let lock = self.inner.clone();
        wait_short(py, &self.rt, async move { lock.release().await }).py_err(py)?;
        Ok(())
    }

    /// Awaitable ``release()``.
    fn release_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        check_pid(self.pid, "Lock")?;
        let lock = self.inner.clone();
        crate::asyncio::spawn(
            py,
            &self.rt,
            async move { lock.release().await },
            |py, r| {
                r.py_err(py)?;
                Ok(py.None())
            },
        )
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Releases the lock; raises LockLost if it was lost while held (unless
    /// another exception is already propagating).
    pub(crate) fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        check_pid(self.pid, "Lock")?;
        let was_lost = self.inner.is_lost();
        let lock = self.inner.clone();
        let released = wait_short(py, &self.rt, async move { lock.release().await.map(drop) });
        exit_outcome(
            py,
            was_lost,
            released,
            !exc_type.is_none(),
            self.lost_on_exit(py),
        )
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::asyncio::ready(slf.into_any())
    }

    pub(crate) fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        exc_type: &Bound<'py, PyAny>,
        _exc: &Bound<'py, PyAny>,
        _tb: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        check_pid(self.pid, "Lock")?;
        let was_lost = self.inner.is_lost();
        let in_flight = !exc_type.is_none();
        let lost_err = self.lost_on_exit(py);
        let lock = self.inner.clone();
        crate::asyncio::spawn(
            py,
            &self.rt,
            async move { lock.release().await.map(drop) },
            move |py, released| {
                let r = exit_outcome(py, was_lost, released, in_flight, lost_err)?;
                Ok(r.into_pyobject(py)?.to_owned().into_any().unbind())
            },
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "<redlead.Lock resource={:?} fencing_token={} validity_ms={} held={}>",
            self.inner.resource(),
            self.inner
                .fencing_token()
                .map_or("None".to_string(), |t| t.to_string()),
            self.inner.validity().as_millis(),
            self.inner.is_held()
        )
    }
}
