//! One exception hierarchy; core `ErrorKind`s are mapped here and only here.
//!
//! ```text
//! RedleadError
//! ├── InvalidArgument   (also ValueError)
//! ├── NotAcquired
//! ├── LockLost
//! ├── ConnectionError   (also the builtin ConnectionError)
//! └── Closed
//! ```
//! The two classes with a builtin second base are made with `type()` at
//! import, since `create_exception!` takes one base.

use pyo3::create_exception;
use pyo3::exceptions::{PyConnectionError, PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use redlead::{Error, ErrorKind};

create_exception!(
    redlead,
    RedleadError,
    PyException,
    "Base class of every error raised by redlead."
);
create_exception!(
    redlead,
    NotAcquired,
    RedleadError,
    "The nodes answered, but no quorum granted the lock within the wait."
);
create_exception!(
    redlead,
    LockLost,
    RedleadError,
    "The lock is gone: it expired or a quorum no longer holds it for this owner."
);
create_exception!(
    redlead,
    Closed,
    RedleadError,
    "The lock was already released, or the election was stopped."
);

static INVALID_ARGUMENT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONNECTION_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn make_type<'py>(
    py: Python<'py>,
    name: &str,
    second: Bound<'py, PyType>,
    doc: &str,
) -> PyResult<Py<PyType>> {
    let bases = PyTuple::new(py, [py.get_type::<RedleadError>(), second])?;
    let ns = PyDict::new(py);
    ns.set_item("__doc__", doc)?;
    ns.set_item("__module__", "redlead")?;
    let ty = py
        .get_type::<PyType>()
        .call1((name, bases, ns))?
        .cast_into::<PyType>()?;
    Ok(ty.unbind())
}

fn invalid_argument(py: Python<'_>) -> &Bound<'_, PyType> {
    INVALID_ARGUMENT
        .get_or_init(py, || {
            make_type(
                py,
                "InvalidArgument",
                py.get_type::<PyValueError>(),
                "A parameter was rejected before anything was sent; the message names it.",
            )
            .expect("create redlead.InvalidArgument")
        })
        .bind(py)
}

fn connection_error(py: Python<'_>) -> &Bound<'_, PyType> {
    CONNECTION_ERROR
        .get_or_init(py, || {
            make_type(
                py,
                "ConnectionError",
                py.get_type::<PyConnectionError>(),
                "Too few nodes answered to reach a quorum (down, frozen, refusing).",
            )
            .expect("create redlead.ConnectionError")
        })
        .bind(py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RedleadError", py.get_type::<RedleadError>())?;
    m.add("InvalidArgument", invalid_argument(py))?;
    m.add("NotAcquired", py.get_type::<NotAcquired>())?;
    m.add("LockLost", py.get_type::<LockLost>())?;
    m.add("ConnectionError", connection_error(py))?;
    m.add("Closed", py.get_type::<Closed>())?;
    Ok(())
}

/// `redlead.InvalidArgument(msg)`.
pub fn invalid(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    PyErr::from_type(invalid_argument(py).clone(), msg.into())
}

/// The Python exception for a core error, with `.outcomes` set to a list of
/// `(node, outcome)` string pairs (empty when nothing was sent).
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let msg = e.to_string();
    let err = match e.kind() {
        ErrorKind::InvalidArgument => PyErr::from_type(invalid_argument(py).clone(), msg),
        ErrorKind::NotAcquired => NotAcquired::new_err(msg),
        ErrorKind::Lost => LockLost::new_err(msg),
        ErrorKind::Connection => PyErr::from_type(connection_error(py).clone(), msg),
        ErrorKind::Closed => Closed::new_err(msg),
        // Timeout, WrongThread, Internal and kinds added later.
        _ => RedleadError::new_err(msg),
    };
    let outcomes: Vec<(String, String)> = e
        .outcomes()
        .iter()
        .map(|r| (r.node.clone(), r.outcome.to_string()))
        .collect();
    // Best effort: an exception without the attribute is still the right one.
    let _ = err.value(py).setattr("outcomes", outcomes);
    err
}

/// Result of a core call as a PyResult.
pub trait IntoPy<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
