//! Turning arguments that come from Python into Rust values: the Python
//! types are checked here, the values by the core's rules
//! (`redlead::validate`), with the parameter's name in every message.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};
use redlead::validate::{self, duration_from_fractional_millis, Zero};

use crate::errors::to_py;

/// A duration given in milliseconds (int or float).
pub fn millis(py: Python<'_>, name: &str, v: &Bound<'_, PyAny>, zero: Zero) -> PyResult<Duration> {
    let ms: f64 = if v.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a number of milliseconds, not bool"
        )));
    } else if v.is_instance_of::<PyInt>() {
        match v.extract::<i64>() {
            Ok(i) => i as f64,
            // Beyond i64 either way; the sign decides which rule it breaks.
            Err(_) if v.lt(0)? => f64::NEG_INFINITY,
            Err(_) => f64::INFINITY,
        }
    } else if v.is_instance_of::<PyFloat>() {
        v.extract::<f64>()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a number of milliseconds (int or float), not {}",
            v.get_type().name()?
        )));
    };
    duration_from_fractional_millis(name, ms, zero).map_err(|e| to_py(py, e))
}

/// `millis`, or None when the argument was not given (None).
pub fn optional_millis(
    py: Python<'_>,
    name: &str,
    v: Option<&Bound<'_, PyAny>>,
    zero: Zero,
) -> PyResult<Option<Duration>> {
    match v {
        Some(v) if !v.is_none() => millis(py, name, v, zero).map(Some),
        _ => Ok(None),
    }
}

/// `millis`, or `default` when the argument was not given (None).
pub fn millis_or(
    py: Python<'_>,
    name: &str,
    v: Option<&Bound<'_, PyAny>>,
    default: Duration,
    zero: Zero,
) -> PyResult<Duration> {
    Ok(optional_millis(py, name, v, zero)?.unwrap_or(default))
}

pub fn resource(py: Python<'_>, r: &str) -> PyResult<()> {
    validate::resource(r).map_err(|e| to_py(py, e))
}
