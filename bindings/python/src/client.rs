//! `redlead.Client`: N Redis masters and the lock operations.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyAny, PyDict};
use redlead::{AutoExtend, Config, ErrorKind, KeyFormat, LockOptions};

use crate::args::{
    self, duration, duration_or, resource as check_resource, CONNECT_TIMEOUT, EXTEND_INTERVAL,
    MAX_HOLD, NODE_TIMEOUT, RETRY_DELAY, RETRY_JITTER, TTL, WAIT,
};
use crate::errors::{invalid, to_py, IntoPy};
use crate::lock::PyLock;
use crate::lock_context::{LockContext, LockRequest};
use crate::redlock_cell::{Core, RedlockCell};
use crate::runtime::{wait, wait_short};

/// Default ttl and wait: 10 s.
const DEFAULT_TTL: Duration = Duration::from_secs(10);
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// Default cap on how long `Client.lock` keeps extending a lock: 1 hour.
const DEFAULT_MAX_HOLD: Duration = Duration::from_secs(3600);

/// A Redlock client over N independent Redis masters.
///
/// ``nodes`` is a list of URLs (``redis://[user:pass@]host:port[/db]``,
/// ``rediss://`` for TLS). Connections are made lazily and kept. Safe to
/// share between threads; in a child after ``fork()`` it makes new
/// connections on first use.
#[pyclass(subclass, frozen, module = "redlead._redlead", name = "Client")]
pub struct Client {
    cell: RedlockCell,
}

/// What one acquisition asks for, checked before anything is sent.
pub struct Request {
    pub resource: String,
    pub ttl: Duration,
    pub opts: LockOptions,
}

impl Client {
    /// The core client of this process (rebuilt in a forked child).
    pub(crate) fn core(&self, py: Python<'_>) -> PyResult<Core> {
        self.cell.get(py)
    }

    fn request(
        py: Python<'_>,
        resource: String,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Request> {
        check_resource(py, &resource)?;
        let ttl = duration_or(py, &TTL, ttl, ttl_ms, DEFAULT_TTL)?;
        let mut opts = if fencing {
            LockOptions::fenced()
        } else {
            LockOptions::default()
        };
        if let Some(o) = owner {
            opts = opts.with_owner(o);
        }
        Ok(Request {
            resource,
            ttl,
            opts,
        })
    }
}

/// PEM given as str or bytes.
fn pem(py: Python<'_>, name: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(s) = v.extract::<String>() {
        return Ok(Some(s.into_bytes()));
    }
    if let Ok(b) = v.cast::<pyo3::types::PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    Err(invalid(py, format!("{name} must be PEM as str or bytes")))
}

/// Sets `field` from a setting given in seconds or milliseconds, if given.
fn set(
    py: Python<'_>,
    field: &mut Duration,
    s: &args::Setting,
    secs: Option<&Bound<'_, PyAny>>,
    millis: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    if let Some(d) = duration(py, s, secs, millis)? {
        *field = d;
    }
    Ok(())
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (
        nodes, *, node_timeout=None, node_timeout_ms=None, drift_factor=0.01, retry_count=None,
        retry_delay=None, retry_delay_ms=None, retry_jitter=None, retry_jitter_ms=None,
        key_prefix="redlead:".to_string(), hash_tag=true, connect_timeout=None,
        connect_timeout_ms=None, tls_ca_pem=None, tls_client_cert_pem=None,
        tls_client_key_pem=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        nodes: Vec<String>,
        node_timeout: Option<&Bound<'_, PyAny>>,
        node_timeout_ms: Option<&Bound<'_, PyAny>>,
        drift_factor: f64,
        retry_count: Option<i64>,
        retry_delay: Option<&Bound<'_, PyAny>>,
        retry_delay_ms: Option<&Bound<'_, PyAny>>,
        retry_jitter: Option<&Bound<'_, PyAny>>,
        retry_jitter_ms: Option<&Bound<'_, PyAny>>,
        key_prefix: String,
        hash_tag: bool,
        connect_timeout: Option<&Bound<'_, PyAny>>,
        connect_timeout_ms: Option<&Bound<'_, PyAny>>,
        tls_ca_pem: Option<&Bound<'_, PyAny>>,
        tls_client_cert_pem: Option<&Bound<'_, PyAny>>,
        tls_client_key_pem: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Client> {
        if nodes.is_empty() {
            return Err(invalid(py, "nodes must list at least one Redis URL"));
        }
        let mut config = Config::default();
        let c = &mut config;
        set(
            py,
            &mut c.node_timeout,
            &NODE_TIMEOUT,
            node_timeout,
            node_timeout_ms,
        )?;
        set(
            py,
            &mut c.connect_timeout,
            &CONNECT_TIMEOUT,
            connect_timeout,
            connect_timeout_ms,
        )?;
        set(
            py,
            &mut c.retry_delay,
            &RETRY_DELAY,
            retry_delay,
            retry_delay_ms,
        )?;
        set(
            py,
            &mut c.retry_jitter,
            &RETRY_JITTER,
            retry_jitter,
            retry_jitter_ms,
        )?;
        config.drift_factor = drift_factor;
        config.retry_count = match retry_count {
            None => None,
            Some(n) if n < 1 => {
                return Err(invalid(
                    py,
                    format!("retry_count must be at least 1 (or None for no limit), got {n}"),
                ))
            }
            Some(n) => Some(
                u32::try_from(n)
                    .map_err(|_| invalid(py, format!("retry_count is out of range, got {n}")))?,
            ),
        };
        config.key_format = KeyFormat::new(key_prefix, hash_tag);
        if tls_ca_pem.is_some() || tls_client_cert_pem.is_some() || tls_client_key_pem.is_some() {
            let mut tls = redlead::Tls::default();
            tls.root_ca_pem = pem(py, "tls_ca_pem", tls_ca_pem)?;
            tls.client_cert_pem = pem(py, "tls_client_cert_pem", tls_client_cert_pem)?;
            tls.client_key_pem = pem(py, "tls_client_key_pem", tls_client_key_pem)?;
            config.tls = Some(tls);
        }
        crate::log::refresh_level(py);
        Ok(Client {
            cell: RedlockCell::new(py, nodes, config)?,
        })
    }

    /// Node addresses, in the order given (no passwords).
    #[getter]
    fn nodes(&self) -> Vec<String> {
        self.cell.any().node_names()
    }

    /// How many nodes must agree: N // 2 + 1.
    #[getter]
    fn quorum(&self) -> usize {
        self.cell.any().quorum().size()
    }

    /// The Redis key that holds a resource's lock.
    fn lock_key(&self, resource: &str) -> String {
        self.cell.any().lock_key(resource)
    }

    /// One attempt. Returns the Lock, or None when another owner holds it.
    /// Raises ConnectionError when fewer than a quorum of nodes answered.
    /// ``ttl`` in seconds (default 10; or ``ttl_ms``).
    #[pyo3(signature = (resource, *, ttl=None, ttl_ms=None, fencing=false, owner=None))]
    fn try_acquire(
        &self,
        py: Python<'_>,
        resource: String,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Option<PyLock>> {
        let req = Self::request(py, resource, ttl, ttl_ms, fencing, owner)?;
        let core = self.core(py)?;
        let client = core.redlock.clone();
        let r = wait_short(py, &core.rt, async move {
            client
                .try_acquire_with(&req.resource, req.ttl, &req.opts)
                .await
        });
        match r {
            Ok(lock) => Ok(Some(PyLock::new(lock, req.ttl, &core))),
            Err(e) if e.kind() == ErrorKind::NotAcquired => Ok(None),
            Err(e) => Err(to_py(py, e)),
        }
    }

    /// Retries (``retry_delay`` + jitter, at most ``retry_count`` attempts)
    /// until the lock is acquired or ``wait`` seconds (default 10; or
    /// ``wait_ms``) are spent; then raises NotAcquired (or ConnectionError
    /// when no quorum answered).
    #[pyo3(signature = (
        resource, *, ttl=None, ttl_ms=None, wait=None, wait_ms=None, fencing=false, owner=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn acquire(
        &self,
        py: Python<'_>,
        resource: String,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        wait: Option<&Bound<'_, PyAny>>,
        wait_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<PyLock> {
        let req = Self::request(py, resource, ttl, ttl_ms, fencing, owner)?;
        let wait_for = duration_or(py, &WAIT, wait, wait_ms, DEFAULT_WAIT)?;
        self.acquire_blocking(py, req, wait_for)
    }

    /// Awaitable ``try_acquire``: the Lock, or None when held elsewhere.
    #[pyo3(signature = (resource, *, ttl=None, ttl_ms=None, fencing=false, owner=None))]
    fn try_acquire_async<'py>(
        &self,
        py: Python<'py>,
        resource: String,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = Self::request(py, resource, ttl, ttl_ms, fencing, owner)?;
        let core = self.core(py)?;
        let client = core.redlock.clone();
        let rt = core.rt.clone();
        crate::asyncio::spawn(
            py,
            &rt,
            async move {
                client
                    .try_acquire_with(&req.resource, req.ttl, &req.opts)
                    .await
            },
            move |py, r| match r {
                Ok(lock) => Ok(Py::new(py, PyLock::new(lock, req.ttl, &core))?.into_any()),
                Err(e) if e.kind() == ErrorKind::NotAcquired => Ok(py.None()),
                Err(e) => Err(to_py(py, e)),
            },
        )
    }

    /// Awaitable ``acquire``.
    #[pyo3(signature = (
        resource, *, ttl=None, ttl_ms=None, wait=None, wait_ms=None, fencing=false, owner=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn acquire_async<'py>(
        &self,
        py: Python<'py>,
        resource: String,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        wait: Option<&Bound<'_, PyAny>>,
        wait_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = Self::request(py, resource, ttl, ttl_ms, fencing, owner)?;
        let wait_for = duration_or(py, &WAIT, wait, wait_ms, DEFAULT_WAIT)?;
        self.acquire_spawned(py, req, wait_for, |_, lock| Ok(lock.into_any()))
    }

    /// A context manager holding ``resource`` (``with`` or ``async with``):
    /// acquired on enter (waiting up to ``wait`` seconds, default 10),
    /// extended every ``extend_interval`` (default ttl/3) until ``max_hold``
    /// (default 1 hour), released on exit; raises LockLost on exit if the
    /// lock was lost inside. Every duration in seconds or under its ``_ms``
    /// keyword. The arguments are checked here, before anything is sent.
    #[pyo3(signature = (
        resource, *, ttl=None, ttl_ms=None, wait=None, wait_ms=None, max_hold=None,
        max_hold_ms=None, extend_interval=None, extend_interval_ms=None, fencing=false,
        owner=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn lock(
        slf: &Bound<'_, Self>,
        resource: String,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        wait: Option<&Bound<'_, PyAny>>,
        wait_ms: Option<&Bound<'_, PyAny>>,
        max_hold: Option<&Bound<'_, PyAny>>,
        max_hold_ms: Option<&Bound<'_, PyAny>>,
        extend_interval: Option<&Bound<'_, PyAny>>,
        extend_interval_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<LockContext> {
        let py = slf.py();
        let mut req = Self::request(py, resource, ttl, ttl_ms, fencing, owner)?;
        let wait_for = duration_or(py, &WAIT, wait, wait_ms, DEFAULT_WAIT)?;
        let max_hold = duration_or(py, &MAX_HOLD, max_hold, max_hold_ms, DEFAULT_MAX_HOLD)?;
        let mut auto = AutoExtend::for_at_most(max_hold);
        if let Some(i) = duration(py, &EXTEND_INTERVAL, extend_interval, extend_interval_ms)? {
            auto = auto.with_interval(i);
        }
        req.opts = req.opts.with_auto_extend(auto);
        Ok(LockContext::new(
            slf.clone().unbind(),
            LockRequest {
                request: req,
                wait: wait_for,
            },
        ))
    }

    /// The same as ``lock`` (its context manager works with ``async with``
    /// too); kept for the name's symmetry with the other ``_async`` calls.
    #[pyo3(signature = (resource, **settings))]
    fn lock_async<'py>(
        slf: &Bound<'py, Self>,
        resource: String,
        settings: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.call_method("lock", (resource,), settings)
    }

    /// The owner label of whoever holds ``resource`` on a quorum, or None.
    fn holder(&self, py: Python<'_>, resource: String) -> PyResult<Option<String>> {
        check_resource(py, &resource)?;
        let core = self.core(py)?;
        let client = core.redlock.clone();
        wait(py, &core.rt, async move { client.holder(&resource).await })?.py_err(py)
    }

    /// PING every node: a list of ``(node, outcome)`` pairs.
    fn ping(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        let core = self.core(py)?;
        let client = core.redlock.clone();
        let o = wait(py, &core.rt, async move { client.ping().await })?;
        Ok(o.iter()
            .map(|r| (r.node.clone(), r.outcome.to_string()))
            .collect())
    }

    /// Starts campaigning for ``resource`` as ``candidate`` and returns the
    /// Election. ``ttl`` is the lease in seconds (default 5, as in every
    /// binding): how long a crashed leader blocks the others at most.
    /// Renewals every ``renew_interval`` (ttl/3), follower attempts every
    /// ``retry_interval`` (ttl/5) plus up to ``retry_jitter`` (ttl/50);
    /// each also as ``_ms``. Callbacks run on the running event loop when
    /// called from one, else on a library thread.
    #[pyo3(signature = (
        resource, candidate, *, ttl=None, ttl_ms=None, on_elected=None, on_revoked=None,
        on_leader_change=None, renew_interval=None, renew_interval_ms=None,
        retry_interval=None, retry_interval_ms=None, retry_jitter=None, retry_jitter_ms=None,
        step_down_margin=None, step_down_margin_ms=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn elect(
        &self,
        py: Python<'_>,
        resource: String,
        candidate: String,
        ttl: Option<&Bound<'_, PyAny>>,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        on_elected: Option<Bound<'_, PyAny>>,
        on_revoked: Option<Bound<'_, PyAny>>,
        on_leader_change: Option<Bound<'_, PyAny>>,
        renew_interval: Option<&Bound<'_, PyAny>>,
        renew_interval_ms: Option<&Bound<'_, PyAny>>,
        retry_interval: Option<&Bound<'_, PyAny>>,
        retry_interval_ms: Option<&Bound<'_, PyAny>>,
        retry_jitter: Option<&Bound<'_, PyAny>>,
        retry_jitter_ms: Option<&Bound<'_, PyAny>>,
        step_down_margin: Option<&Bound<'_, PyAny>>,
        step_down_margin_ms: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<crate::election::PyElection> {
        let settings = crate::election::Settings {
            ttl: (ttl, ttl_ms),
            renew_interval: (renew_interval, renew_interval_ms),
            retry_interval: (retry_interval, retry_interval_ms),
            retry_jitter: (retry_jitter, retry_jitter_ms),
            step_down_margin: (step_down_margin, step_down_margin_ms),
        };
        let callbacks =
            crate::callbacks::Callbacks::new(py, on_elected, on_revoked, on_leader_change)?;
        crate::election::elect(self, py, resource, candidate, settings, callbacks)
    }

    /// ``elect`` from a coroutine: callbacks run on the running event loop
    /// (they may be ``async def``), and the Election is also an async
    /// context manager (``async with client.elect_async(...) as e``) that
    /// stops it with ``stop_async()`` on exit. Takes ``elect``'s keywords;
    /// RuntimeError outside a running loop, as every ``_async`` call.
    #[pyo3(signature = (resource, candidate, **settings))]
    fn elect_async<'py>(
        slf: &Bound<'py, Self>,
        resource: String,
        candidate: String,
        settings: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // `elect` binds the callbacks to the running loop, if any.
        slf.py()
            .import("asyncio")?
            .call_method0("get_running_loop")?;
        slf.call_method("elect", (resource, candidate), settings)
    }

    fn __repr__(&self) -> String {
        let r = self.cell.any();
        format!(
            "<redlead.Client nodes={:?} quorum={}>",
            r.node_names(),
            r.quorum().size()
        )
    }
}

impl Client {
    /// A waiting acquire on this thread (GIL released, Ctrl-C honoured).
    pub(crate) fn acquire_blocking(
        &self,
        py: Python<'_>,
        req: Request,
        wait_for: Duration,
    ) -> PyResult<PyLock> {
        let core = self.core(py)?;
        let client = core.redlock.clone();
        let opts = req.opts.clone();
        let resource = req.resource.clone();
        let ttl = req.ttl;
        let lock = wait(py, &core.rt, async move {
            client.acquire_with(&resource, ttl, wait_for, &opts).await
        })?
        .py_err(py)?;
        Ok(PyLock::new(lock, ttl, &core))
    }

    /// A waiting acquire as an asyncio future that completes with
    /// `then(lock)`.
    pub(crate) fn acquire_spawned<'py, F>(
        &self,
        py: Python<'py>,
        req: Request,
        wait_for: Duration,
        then: F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: for<'a> FnOnce(Python<'a>, Py<PyLock>) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        let core = self.core(py)?;
        let client = core.redlock.clone();
        let rt = core.rt.clone();
        let ttl = req.ttl;
        crate::asyncio::spawn(
            py,
            &rt,
            async move {
                client
                    .acquire_with(&req.resource, req.ttl, wait_for, &req.opts)
                    .await
            },
            move |py, r| then(py, Py::new(py, PyLock::new(r.py_err(py)?, ttl, &core))?),
        )
    }
}
