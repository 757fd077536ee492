//! One exception hierarchy; the core's `ErrorKind`s are mapped to it here
//! and only here.
//!
//! ```text
//! RedleadError          (also every kind without a class of its own)
//! ├── InvalidArgument   (also ValueError)
//! ├── NotAcquired
//! ├── LockLost
//! ├── ConnectionError   (also the builtin ConnectionError)
//! └── Closed
//! ```
//! `class_of` is a `match` without a catch-all arm over the core's
//! exhaustive kinds, so a kind added to the core fails to compile here until
//! it is given a class. The classes under `RedleadError` are made with
//! `type()` at import, with the core's explanation of their kind as
//! docstring (`create_exception!` takes neither a second base nor a
//! docstring that is not a literal).

use pyo3::create_exception;
use pyo3::exceptions::{PyConnectionError, PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};
use redlead::{Error, ErrorKind};

create_exception!(
    redlead,
    RedleadError,
    PyException,
    "Base class of every error raised by redlead."
);

/// A builtin exception that a class also derives from, so that code written
/// against the builtin catches it.
#[derive(Clone, Copy)]
enum Builtin {
    ValueError,
    ConnectionError,
}

/// A class of its own for a kind: its name in the module, and the builtin
/// it also derives from.
struct Class {
    name: &'static str,
    also: Option<Builtin>,
}

/// The one mapping; None raises the base class `RedleadError`.
const fn class_of(kind: ErrorKind) -> Option<Class> {
    let (name, also) = match kind {
        ErrorKind::InvalidArgument => ("InvalidArgument", Some(Builtin::ValueError)),
        ErrorKind::NotAcquired => ("NotAcquired", None),
        ErrorKind::Lost => ("LockLost", None),
        ErrorKind::Connection => ("ConnectionError", Some(Builtin::ConnectionError)),
        ErrorKind::Closed => ("Closed", None),
        ErrorKind::Timeout | ErrorKind::WrongThread | ErrorKind::Forked | ErrorKind::Internal => {
            return None
        }
    };
    Some(Class { name, also })
}

/// The classes of the kinds that have one, made once.
static CLASSES: PyOnceLock<Vec<(ErrorKind, Py<PyType>)>> = PyOnceLock::new();

fn make_class(py: Python<'_>, kind: ErrorKind, class: Class) -> PyResult<Py<PyType>> {
    let mut bases = vec![py.get_type::<RedleadError>()];
    match class.also {
        Some(Builtin::ValueError) => bases.push(py.get_type::<PyValueError>()),
        Some(Builtin::ConnectionError) => bases.push(py.get_type::<PyConnectionError>()),
        None => {}
    }
    let ns = PyDict::new(py);
    ns.set_item("__doc__", kind.explanation())?;
    ns.set_item("__module__", "redlead")?;
    let ty = py
        .get_type::<PyType>()
        .call1((class.name, PyTuple::new(py, bases)?, ns))?
        .cast_into::<PyType>()?;
    Ok(ty.unbind())
}

fn classes(py: Python<'_>) -> &[(ErrorKind, Py<PyType>)] {
    CLASSES.get_or_init(py, || {
        ErrorKind::ALL
            .iter()
            .filter_map(|&kind| {
                let class = class_of(kind)?;
                let made = make_class(py, kind, class).expect("create a redlead exception class");
                Some((kind, made))
            })
            .collect()
    })
}

/// The class raised for errors of `kind`.
fn class(py: Python<'_>, kind: ErrorKind) -> Bound<'_, PyType> {
    match classes(py).iter().find(|(k, _)| *k == kind) {
        Some((_, class)) => class.bind(py).clone(),
        None => py.get_type::<RedleadError>(),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RedleadError", py.get_type::<RedleadError>())?;
    for &kind in ErrorKind::ALL {
        if let Some(c) = class_of(kind) {
            m.add(c.name, class(py, kind))?;
        }
    }
    m.add_function(wrap_pyfunction!(_errors_of_every_kind, m)?)?;
    Ok(())
}

/// The exception for errors of `kind`, with `msg` as it is (no outcomes).
pub fn new_err(py: Python<'_>, kind: ErrorKind, msg: impl Into<String>) -> PyErr {
    PyErr::from_type(class(py, kind), msg.into())
}

/// `redlead.InvalidArgument(msg)`.
pub fn invalid(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    new_err(py, ErrorKind::InvalidArgument, msg)
}

/// The Python exception for a core error, with `.outcomes` set to a list of
/// `(node, outcome)` string pairs (empty when nothing was sent).
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let err = new_err(py, e.kind(), e.to_string());
    let outcomes: Vec<(String, String)> = e
        .outcomes()
        .iter()
        .map(|r| (r.node.clone(), r.outcome.to_string()))
        .collect();
    // Best effort: an exception without the attribute is still the right one.
    let _ = err.value(py).setattr("outcomes", outcomes);
    err
}

/// For the tests: `(kind, description, exception)` for every kind of the
/// core, each exception made by `to_py` from an error of that kind.
#[pyfunction]
fn _errors_of_every_kind(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let rows = ErrorKind::ALL.iter().map(|&kind| {
        let exception = to_py(py, Error::new(kind, "m")).into_value(py);
        (format!("{kind:?}"), kind.description(), exception)
    });
    PyList::new(py, rows)
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
