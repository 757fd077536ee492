//! `redlead.RevokeReason`: why a leadership ended, as a Python enum made at
//! import from the core's reasons. `member_of` is a `match` without a
//! catch-all arm over the core's exhaustive `RevokeReason`, so a reason added
//! to the core fails to compile here until it is given a member.
//!
//! The members are also `str`s equal to the core's text ("lost quorum",
//! "taken over", "resigned", "stopped"): callbacks written when the reason
//! was a plain string keep comparing equal.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use redlead::RevokeReason;

/// Every reason, in the core's order of declaration.
const ALL: [RevokeReason; 4] = [
    RevokeReason::LostQuorum,
    RevokeReason::TakenOver,
    RevokeReason::Resigned,
    RevokeReason::Stopped,
];

/// The member's name in Python.
const fn member_of(r: RevokeReason) -> &'static str {
    match r {
        RevokeReason::LostQuorum => "LOST_QUORUM",
        RevokeReason::TakenOver => "TAKEN_OVER",
        RevokeReason::Resigned => "RESIGNED",
        RevokeReason::Stopped => "STOPPED",
    }
}

const DOC: &str = "Why a leadership ended: LOST_QUORUM (renewals could not reach a quorum \
before the step-down point), TAKEN_OVER (a quorum says the lock is no longer ours), \
RESIGNED (resign() was called), STOPPED (the election was stopped). Each member is \
also the str the core describes it with, e.g. RevokeReason.STOPPED == \"stopped\".";

static ENUM: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn make(py: Python<'_>) -> PyResult<Py<PyType>> {
    let members: Vec<(&str, String)> = ALL.iter().map(|&r| (member_of(r), r.to_string())).collect();
    let kwargs = PyDict::new(py);
    kwargs.set_item("module", "redlead")?;
    kwargs.set_item("type", py.get_type::<pyo3::types::PyString>())?;
    let class = py
        .import("enum")?
        .getattr("Enum")?
        .call(("RevokeReason", members), Some(&kwargs))?
        .cast_into::<PyType>()?;
    // str() and format() give the core's text, as the str it replaces did.
    let str_type = py.get_type::<pyo3::types::PyString>();
    class.setattr("__str__", str_type.getattr("__str__")?)?;
    class.setattr("__format__", str_type.getattr("__format__")?)?;
    class.setattr("__doc__", DOC)?;
    Ok(class.unbind())
}

pub fn class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    Ok(ENUM.get_or_try_init(py, || make(py))?.bind(py))
}

/// The member for a core reason.
pub fn to_py(py: Python<'_>, r: RevokeReason) -> PyResult<Bound<'_, PyAny>> {
    class(py)?.getattr(member_of(r))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RevokeReason", class(m.py())?)
}
