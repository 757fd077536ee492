//! Turning arguments that come from Python into Rust values: the Python
//! types are checked here, the values by the core's rules
//! (`redlead::validate`), with the parameter's name in every message.
//!
//! Durations come in seconds (int, float or `datetime.timedelta`), as
//! redis-py, pottery and the standard library take them, or in milliseconds
//! under the older `_ms` keywords. Both forms are checked by the core in
//! milliseconds (`duration_from_fractional_millis`), so the rules and their
//! words are the other doors'; a message about a value given in seconds says
//! so, since the core's numbers are milliseconds.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyType};
use redlead::validate::{self, duration_from_fractional_millis, Zero};
use redlead::Error;

use crate::errors::to_py;

/// A duration setting: its keyword in seconds, its keyword in milliseconds,
/// and whether 0 means something for it.
pub struct Setting {
    pub name: &'static str,
    pub name_ms: &'static str,
    pub zero: Zero,
}

const fn setting(name: &'static str, name_ms: &'static str, zero: Zero) -> Setting {
    Setting {
        name,
        name_ms,
        zero,
    }
}

pub const TTL: Setting = setting("ttl", "ttl_ms", Zero::Rejected);
pub const WAIT: Setting = setting("wait", "wait_ms", Zero::Allowed);
pub const MAX_HOLD: Setting = setting("max_hold", "max_hold_ms", Zero::Rejected);
pub const EXTEND_INTERVAL: Setting =
    setting("extend_interval", "extend_interval_ms", Zero::Rejected);
pub const NODE_TIMEOUT: Setting = setting("node_timeout", "node_timeout_ms", Zero::Rejected);
pub const CONNECT_TIMEOUT: Setting =
    setting("connect_timeout", "connect_timeout_ms", Zero::Rejected);
pub const RETRY_DELAY: Setting = setting("retry_delay", "retry_delay_ms", Zero::Allowed);
pub const RETRY_JITTER: Setting = setting("retry_jitter", "retry_jitter_ms", Zero::Allowed);
pub const RENEW_INTERVAL: Setting = setting("renew_interval", "renew_interval_ms", Zero::Rejected);
pub const RETRY_INTERVAL: Setting = setting("retry_interval", "retry_interval_ms", Zero::Rejected);
pub const POLL_INTERVAL: Setting = setting("poll_interval", "poll_interval_ms", Zero::Rejected);
pub const TIMEOUT: Setting = setting("timeout", "timeout_ms", Zero::Allowed);
pub const STEP_DOWN_MARGIN: Setting =
    setting("step_down_margin", "step_down_margin_ms", Zero::Rejected);

/// A setting given either way: `secs` (seconds or timedelta) or `millis`.
/// None when neither was given (or both were None); a TypeError when both
/// were.
pub fn duration(
    py: Python<'_>,
    s: &Setting,
    secs: Option<&Bound<'_, PyAny>>,
    millis: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Duration>> {
    let secs = secs.filter(|v| !v.is_none());
    let millis = millis.filter(|v| !v.is_none());
    match (secs, millis) {
        (Some(_), Some(_)) => Err(PyTypeError::new_err(format!(
            "give {} (seconds) or {} (milliseconds), not both",
            s.name, s.name_ms
        ))),
        (Some(v), None) => seconds(py, s, v).map(Some),
        (None, Some(v)) => millis_of(py, s.name_ms, v, s.zero).map(Some),
        (None, None) => Ok(None),
    }
}

/// `duration`, or `default` when neither form was given.
pub fn duration_or(
    py: Python<'_>,
    s: &Setting,
    secs: Option<&Bound<'_, PyAny>>,
    millis: Option<&Bound<'_, PyAny>>,
    default: Duration,
) -> PyResult<Duration> {
    Ok(duration(py, s, secs, millis)?.unwrap_or(default))
}

/// `datetime.timedelta`, looked up once.
static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn seconds(py: Python<'_>, s: &Setting, v: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let timedelta = TIMEDELTA.import(py, "datetime", "timedelta")?;
    let secs = if v.is_instance(timedelta)? {
        v.call_method0("total_seconds")?.extract::<f64>()?
    } else {
        number(v).ok_or_else(|| {
            type_error(
                v,
                format!(
                    "{} must be a number of seconds (int or float) or a datetime.timedelta",
                    s.name
                ),
            )
        })??
    };
    duration_from_fractional_millis(s.name, secs * 1000.0, s.zero).map_err(|e| {
        // The core counts in milliseconds; say what the caller gave.
        let given = v
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| secs.to_string());
        let e = match e {
            Error::InvalidArgument(m) if v.is_instance(timedelta).unwrap_or(false) => {
                Error::InvalidArgument(format!("{m} (given as {}={given})", s.name))
            }
            Error::InvalidArgument(m) => {
                Error::InvalidArgument(format!("{m} (given as {}={given} seconds)", s.name))
            }
            other => other,
        };
        to_py(py, e)
    })
}

/// A duration given in milliseconds (int or float).
pub fn millis_of(
    py: Python<'_>,
    name: &str,
    v: &Bound<'_, PyAny>,
    zero: Zero,
) -> PyResult<Duration> {
    let ms = number(v).ok_or_else(|| {
        type_error(
            v,
            format!("{name} must be a number of milliseconds (int or float)"),
        )
    })??;
    duration_from_fractional_millis(name, ms, zero).map_err(|e| to_py(py, e))
}

/// An int or a float as f64 (ints beyond f64's range as ±infinity, which
/// the core rejects); None for anything else, bool included (a flag passed
/// where a duration belongs is a mistake, not 0 or 1).
fn number(v: &Bound<'_, PyAny>) -> Option<PyResult<f64>> {
    if v.is_instance_of::<PyBool>() {
        return None;
    }
    if v.is_instance_of::<PyInt>() {
        return Some(match v.extract::<i64>() {
            Ok(i) => Ok(i as f64),
            // Beyond i64 either way; the sign decides which rule it breaks.
            Err(_) => v.lt(0).map(|negative| {
                if negative {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }),
        });
    }
    if v.is_instance_of::<PyFloat>() {
        return Some(v.extract::<f64>());
    }
    None
}

fn type_error(v: &Bound<'_, PyAny>, what: String) -> PyErr {
    let type_name = v
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!("{what}, not {type_name}"))
}

pub fn resource(py: Python<'_>, r: &str) -> PyResult<()> {
    validate::resource(r).map_err(|e| to_py(py, e))
}
