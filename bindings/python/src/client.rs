//! `redlead.Client`: N Redis masters and the lock operations.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyAny;
use redlead::validate::Zero;
use redlead::{AutoExtend, Config, ErrorKind, KeyFormat, LockOptions, Redlock};
use tokio::runtime::Handle;

use crate::args::{millis, millis_or, resource as check_resource};

/// Default ttl and wait: 10 s.
const DEFAULT_MS: Duration = Duration::from_secs(10);
use crate::errors::{invalid, to_py, IntoPy};
use crate::lock::PyLock;
use crate::runtime::{check_pid, runtime, wait, wait_short};

/// A Redlock client over N independent Redis masters.
///
/// ``nodes`` is a list of URLs (``redis://[user:pass@]host:port[/db]``,
/// ``rediss://`` for TLS). Connections are made lazily and kept. Safe to
/// share between threads; not usable in a child after ``fork()`` (make a
/// new one there).
#[pyclass(subclass, frozen, module = "redlead._redlead", name = "Client")]
pub struct Client {
    pub(crate) redlock: Redlock,
    pub(crate) rt: Handle,
    pub(crate) pid: u32,
}

/// What one acquisition asks for, checked before anything is sent.
struct Request {
    resource: String,
    ttl: Duration,
    opts: LockOptions,
}

impl Client {
    fn request(
        &self,
        py: Python<'_>,
        resource: String,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Request> {
        check_pid(self.pid, "Client")?;
        check_resource(py, &resource)?;
        let ttl = millis_or(py, "ttl_ms", ttl_ms, DEFAULT_MS, Zero::Rejected)?;
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

    fn wrap(&self, lock: redlead::Lock, ttl: Duration) -> PyLock {
        PyLock::new(lock, ttl, self.rt.clone(), self.pid)
    }

    fn auto_extend(
        py: Python<'_>,
        max_hold_ms: &Bound<'_, PyAny>,
        extend_interval_ms: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<AutoExtend> {
        let mut auto =
            AutoExtend::for_at_most(millis(py, "max_hold_ms", max_hold_ms, Zero::Rejected)?);
        if let Some(i) = extend_interval_ms {
            auto = auto.with_interval(millis(py, "extend_interval_ms", i, Zero::Rejected)?);
        }
        Ok(auto)
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

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (
        nodes, *, node_timeout_ms=None, drift_factor=0.01, retry_count=None,
        retry_delay_ms=None, retry_jitter_ms=None, key_prefix="redlead:".to_string(),
        hash_tag=true, connect_timeout_ms=None, tls_ca_pem=None, tls_client_cert_pem=None,
        tls_client_key_pem=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        nodes: Vec<String>,
        node_timeout_ms: Option<&Bound<'_, PyAny>>,
        drift_factor: f64,
        retry_count: Option<i64>,
        retry_delay_ms: Option<&Bound<'_, PyAny>>,
        retry_jitter_ms: Option<&Bound<'_, PyAny>>,
        key_prefix: String,
        hash_tag: bool,
        connect_timeout_ms: Option<&Bound<'_, PyAny>>,
        tls_ca_pem: Option<&Bound<'_, PyAny>>,
        tls_client_cert_pem: Option<&Bound<'_, PyAny>>,
        tls_client_key_pem: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Client> {
        if nodes.is_empty() {
            return Err(invalid(py, "nodes must list at least one Redis URL"));
        }
        let mut config = Config::default();
        if let Some(v) = node_timeout_ms {
            config.node_timeout = millis(py, "node_timeout_ms", v, Zero::Rejected)?;
        }
        if let Some(v) = connect_timeout_ms {
            config.connect_timeout = millis(py, "connect_timeout_ms", v, Zero::Rejected)?;
        }
        if let Some(v) = retry_delay_ms {
            config.retry_delay = millis(py, "retry_delay_ms", v, Zero::Allowed)?;
        }
        if let Some(v) = retry_jitter_ms {
            config.retry_jitter = millis(py, "retry_jitter_ms", v, Zero::Allowed)?;
        }
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
        let rt = runtime()?;
        let redlock = {
            let _in_runtime = rt.enter();
            Redlock::new(&nodes, config).py_err(py)?
        };
        Ok(Client {
            redlock,
            rt,
            pid: std::process::id(),
        })
    }

    /// Node addresses, in the order given (no passwords).
    #[getter]
    fn nodes(&self) -> Vec<String> {
        self.redlock.node_names()
    }

    /// How many nodes must agree: N // 2 + 1.
    #[getter]
    fn quorum(&self) -> usize {
        self.redlock.quorum().size()
    }

    /// The Redis key that holds a resource's lock.
    fn lock_key(&self, resource: &str) -> String {
        self.redlock.lock_key(resource)
    }

    /// One attempt. Returns the Lock, or None when another owner holds it.
    /// Raises ConnectionError when fewer than a quorum of nodes answered.
    #[pyo3(signature = (resource, ttl_ms=None, *, fencing=false, owner=None))]
    fn try_acquire(
        &self,
        py: Python<'_>,
        resource: String,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Option<PyLock>> {
        let req = self.request(py, resource, ttl_ms, fencing, owner)?;
        let client = self.redlock.clone();
        let r = wait_short(py, &self.rt, async move {
            client
                .try_acquire_with(&req.resource, req.ttl, &req.opts)
                .await
        });
        match r {
            Ok(lock) => Ok(Some(self.wrap(lock, req.ttl))),
            Err(e) if e.kind() == ErrorKind::NotAcquired => Ok(None),
            Err(e) => Err(to_py(py, e)),
        }
    }

    /// Retries (``retry_delay_ms`` + jitter, at most ``retry_count`` attempts)
    /// until the lock is acquired or ``wait_ms`` is spent; then raises
    /// NotAcquired (or ConnectionError when no quorum answered).
    #[pyo3(signature = (resource, ttl_ms=None, wait_ms=None, *, fencing=false, owner=None))]
    fn acquire(
        &self,
        py: Python<'_>,
        resource: String,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        wait_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<PyLock> {
        let req = self.request(py, resource, ttl_ms, fencing, owner)?;
        let wait_for = millis_or(py, "wait_ms", wait_ms, DEFAULT_MS, Zero::Allowed)?;
        let client = self.redlock.clone();
        let lock = wait(py, &self.rt, async move {
            client
                .acquire_with(&req.resource, req.ttl, wait_for, &req.opts)
                .await
        })?
        .py_err(py)?;
        Ok(self.wrap(lock, req.ttl))
    }

    /// ``acquire`` with background extension every ``extend_interval_ms``
    /// (default ttl/3) until ``max_hold_ms``; used by ``Client.lock``.
    #[pyo3(signature = (resource, ttl_ms, wait_ms, max_hold_ms, *, extend_interval_ms=None, fencing=false, owner=None))]
    #[allow(clippy::too_many_arguments)]
    fn _acquire_auto(
        &self,
        py: Python<'_>,
        resource: String,
        ttl_ms: &Bound<'_, PyAny>,
        wait_ms: &Bound<'_, PyAny>,
        max_hold_ms: &Bound<'_, PyAny>,
        extend_interval_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<PyLock> {
        let mut req = self.request(py, resource, Some(ttl_ms), fencing, owner)?;
        let wait_for = millis(py, "wait_ms", wait_ms, Zero::Allowed)?;
        req.opts =
            req.opts
                .with_auto_extend(Self::auto_extend(py, max_hold_ms, extend_interval_ms)?);
        let client = self.redlock.clone();
        let lock = wait(py, &self.rt, async move {
            client
                .acquire_with(&req.resource, req.ttl, wait_for, &req.opts)
                .await
        })?
        .py_err(py)?;
        Ok(self.wrap(lock, req.ttl))
    }

    /// Awaitable ``try_acquire``: the Lock, or None when held elsewhere.
    #[pyo3(signature = (resource, ttl_ms=None, *, fencing=false, owner=None))]
    fn try_acquire_async<'py>(
        &self,
        py: Python<'py>,
        resource: String,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = self.request(py, resource, ttl_ms, fencing, owner)?;
        let client = self.redlock.clone();
        let (rt, pid, ttl) = (self.rt.clone(), self.pid, req.ttl);
        crate::asyncio::spawn(
            py,
            &self.rt,
            async move {
                client
                    .try_acquire_with(&req.resource, req.ttl, &req.opts)
                    .await
            },
            move |py, r| match r {
                Ok(lock) => Ok(Py::new(py, PyLock::new(lock, ttl, rt, pid))?.into_any()),
                Err(e) if e.kind() == ErrorKind::NotAcquired => Ok(py.None()),
                Err(e) => Err(to_py(py, e)),
            },
        )
    }

    /// Awaitable ``acquire``.
    #[pyo3(signature = (resource, ttl_ms=None, wait_ms=None, *, fencing=false, owner=None))]
    fn acquire_async<'py>(
        &self,
        py: Python<'py>,
        resource: String,
        ttl_ms: Option<&Bound<'_, PyAny>>,
        wait_ms: Option<&Bound<'_, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = self.request(py, resource, ttl_ms, fencing, owner)?;
        let wait_for = millis_or(py, "wait_ms", wait_ms, DEFAULT_MS, Zero::Allowed)?;
        self.spawn_acquire(py, req, wait_for)
    }

    /// Awaitable ``_acquire_auto``; used by ``Client.lock_async``.
    #[pyo3(signature = (resource, ttl_ms, wait_ms, max_hold_ms, *, extend_interval_ms=None, fencing=false, owner=None))]
    #[allow(clippy::too_many_arguments)]
    fn _acquire_auto_async<'py>(
        &self,
        py: Python<'py>,
        resource: String,
        ttl_ms: &Bound<'py, PyAny>,
        wait_ms: &Bound<'py, PyAny>,
        max_hold_ms: &Bound<'py, PyAny>,
        extend_interval_ms: Option<&Bound<'py, PyAny>>,
        fencing: bool,
        owner: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut req = self.request(py, resource, Some(ttl_ms), fencing, owner)?;
        let wait_for = millis(py, "wait_ms", wait_ms, Zero::Allowed)?;
        req.opts =
            req.opts
                .with_auto_extend(Self::auto_extend(py, max_hold_ms, extend_interval_ms)?);
        self.spawn_acquire(py, req, wait_for)
    }

    /// The owner label of whoever holds ``resource`` on a quorum, or None.
    fn holder(&self, py: Python<'_>, resource: String) -> PyResult<Option<String>> {
        check_pid(self.pid, "Client")?;
        check_resource(py, &resource)?;
        let client = self.redlock.clone();
        wait(py, &self.rt, async move { client.holder(&resource).await })?.py_err(py)
    }

    /// PING every node: a list of ``(node, outcome)`` pairs.
    fn ping(&self, py: Python<'_>) -> PyResult<Vec<(String, String)>> {
        check_pid(self.pid, "Client")?;
        let client = self.redlock.clone();
        let o = wait(py, &self.rt, async move { client.ping().await })?;
        Ok(o.iter()
            .map(|r| (r.node.clone(), r.outcome.to_string()))
            .collect())
    }

    /// Starts campaigning for ``resource`` as ``candidate`` and returns the
    /// Election. ``ttl_ms`` is the lease (default 5000, as in every
    /// binding): how long a crashed leader blocks the others at most.
    /// Renewals every ``renew_interval_ms`` (ttl/3), follower attempts every
    /// ``retry_interval_ms`` (ttl/5) plus up to ``retry_jitter_ms`` (ttl/50).
    #[pyo3(signature = (
        resource, candidate, ttl_ms=None, *, on_elected=None, on_revoked=None,
        on_leader_change=None, renew_interval_ms=None, retry_interval_ms=None,
        retry_jitter_ms=None, step_down_margin_ms=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn elect(
        &self,
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
    ) -> PyResult<crate::election::PyElection> {
        crate::election::elect(
            self,
            py,
            resource,
            candidate,
            ttl_ms,
            on_elected,
            on_revoked,
            on_leader_change,
            renew_interval_ms,
            retry_interval_ms,
            retry_jitter_ms,
            step_down_margin_ms,
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "<redlead.Client nodes={:?} quorum={}>",
            self.redlock.node_names(),
            self.redlock.quorum().size()
        )
    }
}

impl Client {
    fn spawn_acquire<'py>(
        &self,
        py: Python<'py>,
        req: Request,
        wait_for: Duration,
    ) -> PyResult<Bound<'py, PyAny>> {
        let client = self.redlock.clone();
        let (rt, pid, ttl) = (self.rt.clone(), self.pid, req.ttl);
        crate::asyncio::spawn(
            py,
            &self.rt,
            async move {
                client
                    .acquire_with(&req.resource, req.ttl, wait_for, &req.opts)
                    .await
            },
            move |py, r| Ok(Py::new(py, PyLock::new(r.py_err(py)?, ttl, rt, pid))?.into_any()),
        )
    }
}
