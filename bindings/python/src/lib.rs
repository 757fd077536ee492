//! The private native module `redlead._redlead` behind the pure-Python
//! package `redlead`. Built on `redlead` (core crate) directly; one process-wide
//! tokio runtime (`runtime.rs`), one exception hierarchy (`errors.rs`),
//! the library's log events to Python `logging` (`log.rs`).

mod args;
mod asyncio;
mod callbacks;
mod client;
mod election;
mod errors;
mod lock;
mod lock_context;
mod log;
mod observe;
mod redlock_cell;
mod revoke_reason;
mod runtime;
mod term;

use pyo3::prelude::*;

/// Called by the package's `atexit` hook: library threads stop calling into
/// Python, so shutting the interpreter down never waits for them.
#[pyfunction]
fn _shutdown() {
    runtime::set_shutting_down();
}

#[pymodule]
fn _redlead(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The extension carries its own copy of rustls, so choosing its provider
    // is ours, as an application's would be (core/src/tls.rs).
    redlead::tls::install_ring_provider();
    errors::register(m)?;
    log::register(m)?;
    revoke_reason::register(m)?;
    m.add_class::<client::Client>()?;
    m.add_class::<lock::PyLock>()?;
    m.add_class::<lock_context::LockContext>()?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    election::register(m)?;
    observe::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
