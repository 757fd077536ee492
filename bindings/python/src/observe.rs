//! `redlead.Observer`: who holds a resource (the leader a quorum of nodes
//! agrees on), without campaigning; the core's `Redlock::observe`.

use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use redlead::io_thread::IoRuntime;
use redlead::{Observation, Observer};
use tokio::sync::watch;

use crate::args::{duration_or, POLL_INTERVAL, TIMEOUT};
use crate::client::Client;
use crate::errors::IntoPy;
use crate::runtime::{check_pid, wait};

/// Watches who holds ``resource`` without campaigning for it, like etcd's
/// ``Observe``.
///
/// The leader is the owner id of the lock value that a quorum of nodes
/// holds; when no value has a quorum (nobody holds it, a handover is under
/// way, the nodes disagree) or fewer than a quorum of nodes answer, there is
/// none (``None``). The nodes are asked once on creation, then every
/// ``poll_interval`` seconds (default 1; or ``poll_interval_ms``) and at once when a node announces a
/// release or a resignation of the resource. Use it as a context manager to
/// stop it on exit.
#[pyclass(frozen, module = "redlead._redlead", name = "Observer")]
pub struct PyObserver {
    inner: Observer,
    /// The changes this object has seen (`wait_for_change` marks them).
    seen: Mutex<watch::Receiver<Observation>>,
    rt: IoRuntime,
    pid: u32,
}

#[pymethods]
impl PyObserver {
    #[new]
    #[pyo3(signature = (client, resource, *, poll_interval = None, poll_interval_ms = None))]
    fn new(
        py: Python<'_>,
        client: PyRef<'_, Client>,
        resource: String,
        poll_interval: Option<&Bound<'_, PyAny>>,
        poll_interval_ms: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyObserver> {
        let core = client.core(py)?;
        check_pid(core.pid, "Client")?;
        let interval = duration_or(
            py,
            &POLL_INTERVAL,
            poll_interval,
            poll_interval_ms,
            redlead::observer::DEFAULT_POLL_INTERVAL,
        )?;
        let redlock = core.redlock.clone();
        let inner = wait(py, &core.rt, async move {
            redlock.observe_every(&resource, interval).await
        })?
        .py_err(py)?;
        Ok(PyObserver {
            seen: Mutex::new(inner.changes()),
            inner,
            rt: core.rt.clone(),
            pid: core.pid,
        })
    }

    #[getter]
    fn resource(&self) -> &str {
        self.inner.resource()
    }

    /// The leader seen last (no network call), or None.
    #[getter]
    fn leader(&self) -> Option<String> {
        if check_pid(self.pid, "Observer").is_err() {
            return None;
        }
        self.inner.leader()
    }

    /// Blocks (without the GIL) until the holding changes — a new leader,
    /// none, or the same leader holding anew — or ``timeout`` seconds (or
    /// ``timeout_ms``) pass; forever without either.
    /// True when it changed (read ``leader``), False on timeout or once the
    /// observer stopped. Changes since the last call count: none is missed.
    #[pyo3(signature = (timeout = None, *, timeout_ms = None))]
    fn wait_for_change(
        &self,
        py: Python<'_>,
        timeout: Option<&Bound<'_, PyAny>>,
        timeout_ms: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        check_pid(self.pid, "Observer")?;
        let within = duration_or(py, &TIMEOUT, timeout, timeout_ms, Duration::MAX)?;
        let mut rx = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (changed, rx) = wait(py, &self.rt, async move {
            let changed = match tokio::time::timeout(within, rx.changed()).await {
                Ok(r) => r.is_ok(),
                Err(_) => false,
            };
            (changed, rx)
        })?;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = rx;
        Ok(changed)
    }

    /// Stops polling and closes the subscriptions; idempotent.
    fn stop(&self) {
        if check_pid(self.pid, "Observer").is_ok() {
            self.inner.stop();
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> bool {
        self.stop();
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "<redlead.Observer resource={:?} leader={:?}>",
            self.inner.resource(),
            self.inner.leader()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyObserver>()
}
