//! `redlead.Election`: a candidate in a leader election, with Python
//! callbacks (`callbacks.rs`) and `run_while_leader` (`term.rs` and the
//! package's `_leadership.py`).

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use pyo3::prelude::*;
use redlead::io_thread::IoRuntime;
use redlead::{Election, ElectionOverrides};

use crate::args::{duration, RENEW_INTERVAL, RETRY_INTERVAL, RETRY_JITTER, STEP_DOWN_MARGIN, TTL};
use crate::callbacks::Callbacks;
use crate::client::Client;
use crate::errors::{to_py, IntoPy};
use crate::runtime::{check_pid, wait};
use crate::term::{elected_async, wait_elected, Term, TermWatch};

/// Elections alive in this process (with the pid that started them: a
/// child after fork() must not wait on its parent's), for the `atexit` hook.
static LIVE: Mutex<Vec<(u32, Weak<Election>)>> = Mutex::new(Vec::new());

/// A duration setting as given: (seconds, milliseconds).
type Given<'a, 'py> = (Option<&'a Bound<'py, PyAny>>, Option<&'a Bound<'py, PyAny>>);

/// The durations of `Client.elect`, each in seconds or milliseconds.
pub struct Settings<'a, 'py> {
    pub ttl: Given<'a, 'py>,
    pub renew_interval: Given<'a, 'py>,
    pub retry_interval: Given<'a, 'py>,
    pub retry_jitter: Given<'a, 'py>,
    pub step_down_margin: Given<'a, 'py>,
}

/// A candidate in a leader election on ``resource``.
///
/// Campaigns in the background from creation until ``stop()``. Callbacks run
/// in order, on one library thread per election, or on the event loop that
/// was running when it was made: ``on_elected(term)``,
/// ``on_revoked(term, reason)`` with a RevokeReason, and
/// ``on_leader_change(leader_id_or_None)``. An exception in a callback is
/// reported through ``sys.unraisablehook``; the election goes on. Use it as a
/// context manager (``with`` or ``async with``) to stop it on exit.
#[pyclass(frozen, module = "redlead._redlead", name = "Election")]
pub struct PyElection {
    inner: Arc<Election>,
    watch: Arc<TermWatch>,
    rt: IoRuntime,
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
        let r = wait(py, &self.rt, async move { e.stop().await })?;
        self.watch.close();
        r.py_err(py)
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

    /// Awaitable ``stop()``: once it completes, the callbacks of every
    /// event before the stop have run.
    fn stop_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        check_pid(self.pid, "Election")?;
        let e = self.inner.clone();
        let watch = self.watch.clone();
        let stop = async move {
            let r = e.stop().await;
            watch.close();
            r
        };
        crate::asyncio::spawn(py, &self.rt, stop, |py, r| {
            r.py_err(py)?;
            Ok(py.None())
        })
    }

    /// Runs ``fn(term)`` once this candidate leads (blocking until then;
    /// raises Closed if the election is stopped first) and resigns when it
    /// returns, handing over at once. ``term`` is a Term, set (like a
    /// ``threading.Event``) when the term ends, at the latest at the
    /// step-down point, before the lease's validity ends: ``fn`` checks
    /// ``term.is_set()`` or waits on ``term.wait()`` and stops acting as
    /// leader when it is set. Returns what ``fn`` returns; raises LockLost
    /// when the term was lost (lost quorum, taken over) before ``fn``
    /// returned, as ``with client.lock()`` does.
    #[pyo3(signature = (function, /))]
    fn run_while_leader<'py>(
        slf: &Bound<'py, Self>,
        function: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("redlead._leadership")?
            .call_method1("run_while_leader", (slf, function))
    }

    /// Awaitable ``run_while_leader``: ``fn(term)`` returns a coroutine,
    /// run as a task that is cancelled when the term ends (then this raises
    /// LockLost for a lost term, or returns None after resign() or stop()).
    #[pyo3(signature = (function, /))]
    fn run_while_leader_async<'py>(
        slf: &Bound<'py, Self>,
        function: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("redlead._leadership")?
            .call_method1("run_while_leader_async", (slf, function))
    }

    /// Blocks until this candidate leads; its Term.
    fn _wait_elected(&self, py: Python<'_>) -> PyResult<Term> {
        check_pid(self.pid, "Election")?;
        wait_elected(py, &self.inner, &self.watch)
    }

    /// Awaitable ``_wait_elected``.
    fn _elected_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        check_pid(self.pid, "Election")?;
        elected_async(py, &self.inner, &self.watch)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::asyncio::ready(slf.into_any())
    }

    /// Stops the election (``stop_async()``).
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: &Bound<'py, PyAny>,
        _exc: &Bound<'py, PyAny>,
        _tb: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.stop_async(py)
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

/// `Client.elect` and `Client.elect_async` (documented there).
pub fn elect(
    client: &Client,
    py: Python<'_>,
    resource: String,
    candidate: String,
    settings: Settings<'_, '_>,
    callbacks: Callbacks,
) -> PyResult<PyElection> {
    crate::args::resource(py, &resource)?;
    let mut overrides = ElectionOverrides::default();
    let given = |s, (secs, ms): Given<'_, '_>| duration(py, s, secs, ms);
    overrides.ttl = given(&TTL, settings.ttl)?;
    overrides.renew_interval = given(&RENEW_INTERVAL, settings.renew_interval)?;
    overrides.retry_interval = given(&RETRY_INTERVAL, settings.retry_interval)?;
    overrides.retry_jitter = given(&RETRY_JITTER, settings.retry_jitter)?;
    overrides.step_down_margin = given(&STEP_DOWN_MARGIN, settings.step_down_margin)?;
    let config = overrides.to_config();
    let core = client.core(py)?;
    crate::log::refresh_level(py);
    let watch = Arc::new(TermWatch::default());
    let handler = {
        let watch = watch.clone();
        move |ev: &redlead::ElectionEvent| {
            // First the terms (no GIL), then Python.
            watch.on_event(ev);
            callbacks.deliver(ev);
        }
    };
    let election = {
        let _in_runtime = core.rt.handle().enter();
        Election::start(&core.redlock, &resource, &candidate, config, handler)
            .map_err(|e| to_py(py, e))?
    };
    let inner = Arc::new(election);
    {
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|(_, w)| w.strong_count() > 0);
        live.push((core.pid, Arc::downgrade(&inner)));
    }
    Ok(PyElection {
        inner,
        watch,
        rt: core.rt,
        pid: core.pid,
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
    m.add_class::<Term>()?;
    m.add_function(wrap_pyfunction!(_stop_all_elections, m)?)?;
    Ok(())
}
