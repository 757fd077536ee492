//! Checking arguments that come from Python, with the parameter's name in
//! every message.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};
use redlead::MAX_DURATION;

use crate::errors::invalid;

/// A duration given in milliseconds (int or finite float), checked to be
/// `>= 0` (or `> 0` when `positive`) and at most 24 h.
pub fn millis(
    py: Python<'_>,
    name: &str,
    v: &Bound<'_, PyAny>,
    positive: bool,
) -> PyResult<Duration> {
    let ms: f64 = if v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a number of milliseconds, not bool"
        )));
    } else if v.is_instance_of::<PyInt>() {
        match v.extract::<i64>() {
            Ok(i) => i as f64,
            Err(_) => {
                return Err(invalid(
                    py,
                    format!("{name} is out of range (at most 24 h)"),
                ))
            }
        }
    } else if v.is_instance_of::<PyFloat>() {
        v.extract::<f64>()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a number of milliseconds (int or float), not {}",
            v.get_type().name()?
        )));
    };
    if ms.is_nan() {
        return Err(invalid(py, format!("{name} must be a number, got NaN")));
    }
    if ms < 0.0 {
        return Err(invalid(
            py,
            format!("{name} must not be negative, got {ms}"),
        ));
    }
    if positive && ms == 0.0 {
        return Err(invalid(py, format!("{name} must be greater than 0")));
    }
    if ms > MAX_DURATION.as_millis() as f64 {
        return Err(invalid(
            py,
            format!("{name} must be at most 24 h (86400000 ms), got {ms}"),
        ));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

pub fn resource(py: Python<'_>, r: &str) -> PyResult<()> {
    if r.is_empty() {
        return Err(invalid(py, "resource must not be empty"));
    }
    Ok(())
}

/// `millis`, or `default` when the argument was not given (None).
pub fn millis_or(
    py: Python<'_>,
    name: &str,
    v: Option<&Bound<'_, PyAny>>,
    default: Duration,
    positive: bool,
) -> PyResult<Duration> {
    match v {
        Some(v) if !v.is_none() => millis(py, name, v, positive),
        _ => Ok(default),
    }
}
