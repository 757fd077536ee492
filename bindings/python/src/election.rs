//! `redlead.Election`: a candidate in a leader election, with Python callbacks.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use redlead::validate::Zero;
use redlead::{Election, ElectionEvent, ElectionOverrides};
use tokio::runtime::Handle;

use crate::args::optional_millis;
use crate::client::Client;
use crate::errors::{to_py, IntoPy};
use crate::runtime::{check_pid, wait, with_python};

/// Elections alive in this process (with the pid that started them: a
/// child after fork() must not wait on its parent's), for the `atexit` hook.
static LIVE: Mutex<Vec<(u32, Weak<Election>)>> = Mutex::new(Vec::new());

/// The Python callbacks of one election; called on the election's event
/// thread with the GIL. An exception goes to `sys.unraisablehook` and the
/// election goes on.
struct Callbacks {
    on_elected: Option<Py<PyAny>>,
    on_revoked: Option<Py<PyAny>>,
    on_leader_change: Option<Py<PyAny>>,
}

impl Callbacks {
    fn deliver(&self, ev: &ElectionEvent) {
        let cb = match ev {
            ElectionEvent::Elected { .. } => &self.on_elected,
            ElectionEvent::Revoked { .. } => &self.on_revoked,
            ElectionEvent::LeaderChanged { .. } => &self.on_leader_change,
        };
        let Some(cb) = cb else { return };
        with_python(|py| {
            let cb = cb.bind(py);
            let r = match ev {
                ElectionEvent::Elected { term, .. } => cb.call1((*term,)),
                ElectionEvent::Revoked { term, reason, .. } => {
                    cb.call1((*term, reason.to_string()))
                }
                ElectionEvent::LeaderChanged { leader } => cb.call1((leader.clone(),)),
            };
            if let Err(e) = r {
                e.write_unraisable(py, Some(cb));
            }
        });
    }
}

fn callable(name: &str, v: Option<Bound<'_, PyAny>>) -> PyResult<Option<Py<PyAny>>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) if v.is_callable() => Ok(Some(v.unbind())),
        Some(v) => Err(PyTypeError::new_err(format!(
            "{name} must be callable or None, not {}",
            v.get_type().name()?
        ))),
    }
}

/// A candidate in a leader election on ``resource``.
///
/// Campaigns in the background from creation until ``stop()``. Callbacks run
/// in order on one library thread per election (never on the caller's):
/// ``on_elected(term)``, ``on_revoked(term, reason)`` with reason one of
/// "lost quorum", "taken over", "resigned", "stopped", and
/// ``on_leader_change(leader_id_or_None)``. An exception in a callback is
/// reported through ``sys.unraisablehook``; the election goes on. Use it as a
/// context manager to stop it on exit.
#[pyclass(frozen, module = "redlead._redlead", name = "Election")]
pub struct PyElection {
    inner: Arc<Election>,
    rt: Handle,
    pid: u32,
}

#[pymethods]
impl PyElection {
    /// The resource campaigned for.
    #[getter]
    fn resource(&self) -> &str {
        self.inner.resource()
    }

    /// This candidate's id.
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    /// True while this candidate leads (turns false on time, before the
    /// lease's validity ends, even if a renewal is late).
    #[getter]
    fn is_leader(&self) -> bool {
        self.inner.is_leader()
    }

    /// The current term (the lease's fencing token) while leading, else None.
    #[getter]
    fn term(&self) -> Option<u64> {
        self.inner.term()
    }

    /// The leader id this candidate last observed (no network call).
    #[getter]
    fn observed_leader(&self) -> Option<String> {
        self.inner.observed_leader()
    }

    /// How many times leadership changed hands as seen by this candidate.
    #[getter]
    fn transitions(&self) -> u64 {
        self.inner.transitions()
    }

    /// False when the campaign is stuck (still holding leadership well past
    /// its step-down point) or ended without being stopped: wire it into a
    /// liveness probe. A leader that steps down on time stays healthy.
    #[getter]
    fn is_healthy(&self) -> bool {
        self.inner.is_healthy()
    }

    /// Asks the nodes who leads now: the candidate id a quorum holds, or None.
    fn leader(&self, py: Python<'_>) -> PyResult<Option<String>> {
        check_pid(self.pid, "Election")?;
        let e = self.inner.clone();
        wait(py, &self.rt, async move { e.leader().await })?.py_err(py)
    }

    /// Steps down now and lets the others take over at once. Returns False
    /// (doing nothing) when not leading. Raises Closed after ``stop()``.
    fn resign(&self, py: Python<'_>) -> PyResult<bool> {
        check_pid(self.pid, "Election")?;
        let e = self.inner.clone();
        wait(py, &self.rt, async move { e.resign().await })?.py_err(py)
    }

    /// Stops campaigning (resigning if leading) and returns once no callback
    /// runs any more. Idempotent. From inside a callback it raises
    /// RedleadError instead of deadlocking.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        check_pid(self.pid, "Election")?;
        // The core checks the calling thread; the stop itself runs on the
        // I/O thread, so the check is made here, on the caller's.
        if self.inner.is_callback_thread() {
            return Err(crate::errors::to_py(
                py,
                redlead::Error::WrongThread(
                    "Election.stop called from its own event handler".into(),
                ),
            ));
        }
        let e = self.inner.clone();
        wait(py, &self.rt, async move { e.stop().await })?.py_err(py)
    }

    /// Awaitable ``leader()``.
    fn leader_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        check_pid(self.pid, "Election")?;
        let e = self.inner.clone();
        crate::asyncio::spawn(py, &self.rt, async move { e.leader().await }, |py, r| {
            Ok(r.py_err(py)?.into_pyobject(py)?.into_any().unbind())
        })
    }

    /// Awaitable ``resign()``.
    fn resign_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        check_pid(self.pid, "Election")?;
        let e = self.inner.clone();
        crate::asyncio::spawn(py, &self.rt, async move { e.resign().await }, |py, r| {
            Ok(r.py_err(py)?
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind())
        })
    }

    /// Awaitable ``stop()``.
    fn stop_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        check_pid(self.pid, "Election")?;
        let e = self.inner.clone();
        crate::asyncio::spawn(py, &self.rt, async move { e.stop().await }, |py, r| {
            r.py_err(py)?;
            Ok(py.None())
        })
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Stops the election.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<redlead.Election resource={:?} id={:?} leader={} term={}>",
            self.inner.resource(),
            self.inner.id(),
            self.inner.is_leader(),
            self.inner
                .term()
                .map_or("None".to_string(), |t| t.to_string())
        )
    }
}

/// `Client.elect` (documented there).
#[allow(clippy::too_many_arguments)]
pub fn elect(
    client: &Client,
    py: Python<'_>,
    resource: String,
    candidate: String,
    ttl_ms: Option<&Bound<'_, PyAny>>,
    on_elected: Option<Bound<'_, PyAny>>,
    on_revoked: Option<Bound<'_, PyAny>>,
    on_leader_change: Option<Bound<'_, PyAny>>,
    renew_interval_ms: Option<&Bound<'_, PyAny>>,
    retry_interval_ms: Option<&Bound<'_, PyAny>>,
    retry_jitter_ms: Option<&Bound<'_, PyAny>>,
    step_down_margin_ms: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyElection> {
    check_pid(client.pid, "Client")?;
    crate::args::resource(py, &resource)?;
    let mut overrides = ElectionOverrides::default();
    overrides.ttl = optional_millis(py, "ttl_ms", ttl_ms, Zero::Rejected)?;
    overrides.renew_interval =
        optional_millis(py, "renew_interval_ms", renew_interval_ms, Zero::Rejected)?;
    overrides.retry_interval =
        optional_millis(py, "retry_interval_ms", retry_interval_ms, Zero::Rejected)?;
    overrides.retry_jitter =
        optional_millis(py, "retry_jitter_ms", retry_jitter_ms, Zero::Allowed)?;
    overrides.step_down_margin = optional_millis(
        py,
        "step_down_margin_ms",
        step_down_margin_ms,
        Zero::Rejected,
    )?;
    let config = overrides.to_config();
    let callbacks = Callbacks {
        on_elected: callable("on_elected", on_elected)?,
        on_revoked: callable("on_revoked", on_revoked)?,
        on_leader_change: callable("on_leader_change", on_leader_change)?,
    };
    let election = {
        let _in_runtime = client.rt.enter();
        Election::start(&client.redlock, &resource, &candidate, config, move |ev| {
            callbacks.deliver(ev)
        })
        .map_err(|e| to_py(py, e))?
    };
    let inner = Arc::new(election);
    {
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|(_, w)| w.strong_count() > 0);
        live.push((client.pid, Arc::downgrade(&inner)));
    }
    Ok(PyElection {
        inner,
        rt: client.rt.clone(),
        pid: client.pid,
    })
}

/// Stops every live election of this process, waiting at most ~2 s in all
/// (the `atexit` hook; callbacks may still run meanwhile).
#[pyfunction]
fn _stop_all_elections(py: Python<'_>) -> PyResult<()> {
    let live: Vec<Arc<Election>> = {
        let mut l = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        let v = l
            .iter()
            .filter(|(p, _)| *p == pid)
            .filter_map(|(_, w)| w.upgrade())
            .collect();
        l.clear();
        v
    };
    if live.is_empty() {
        return Ok(());
    }
    let rt = crate::runtime::runtime()?;
    let _ = wait(py, &rt, async move {
        let stops = live.iter().map(|e| e.stop());
        let _ =
            tokio::time::timeout(Duration::from_secs(2), futures::future::join_all(stops)).await;
    });
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyElection>()?;
    m.add_function(wrap_pyfunction!(_stop_all_elections, m)?)?;
    Ok(())
}
