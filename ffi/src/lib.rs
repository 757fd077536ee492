//! The C ABI of redlead: `libredlead.so` / `libredlead.a` and `include/redlead.h`.
//!
//! # A guided tour
//! - `boundary`: the one macro every export goes through. It catches panics
//!   (a panic becomes `REDLEAD_ERR_PANIC`, never an abort), refuses calls in a
//!   forked child, and holds the only pointer/string conversions of the crate.
//! - [`runtime`]: the one process-wide tokio runtime, built lazily; blocking C
//!   calls run the async core on it with `block_on`.
//! - [`status`]: `redlead_status` and `redlead_outcome`, and the one mapping
//!   from the core's `ErrorKind`s and `NodeOutcome`s to them (texts from the
//!   core); pure data, used by everything else.
//! - [`error`]: the caller-owned `redlead_error` objects.
//! - [`config`]: the opaque config builders.
//! - [`client`], [`lock`], [`election`], [`observer`], [`cancel`]: the
//!   handles.
//! - [`closure`]: the `{context, call, drop}` closures (election events,
//!   completions of asynchronous calls, lost signals) and their guarantees.
//! - `dispatch`: the `redlead-cb` threads that run completions and
//!   lost signals (never a runtime worker, never the caller's stack).
//! - [`log`]: the process-wide log callback fed by the core's `tracing` events.
//!
//! The conventions (out-parameters last and written only on success, the
//! caller frees each object once, `error_out` optional) are in ffi/README.md.
#![allow(non_camel_case_types)]

#[macro_use]
mod boundary;
pub mod cancel;
pub mod client;
pub mod closure;
pub mod config;
mod dispatch;
pub mod election;
pub mod error;
pub mod lock;
pub mod log;
pub mod metrics;
pub mod observer;
pub mod runtime;
pub mod status;

use std::os::raw::c_char;

/// Major version of this library; equals the crate's (checked by tests).
pub const REDLEAD_VERSION_MAJOR: u32 = 0;
/// Minor version of this library.
pub const REDLEAD_VERSION_MINOR: u32 = 1;
/// Patch version of this library.
pub const REDLEAD_VERSION_PATCH: u32 = 0;
/// Bumped on every incompatible change of the ABI (a removed function, a
/// changed signature or struct layout, a renumbered enumerator).
pub const REDLEAD_ABI_VERSION: u32 = 1;

static VERSION_C: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The version of the library actually loaded, "MAJOR.MINOR.PATCH".
///
/// Blocks: no. Threads: any. Ownership: the result is a static string; do
/// not free it. NULL: never returns NULL.
#[no_mangle]
pub extern "C" fn redlead_version() -> *const c_char {
    boundary!(any_process, { VERSION_C.as_ptr().cast::<c_char>() })
}

/// The ABI version of the library actually loaded; compare with
/// `REDLEAD_ABI_VERSION` from the header you compiled against.
///
/// Blocks: no. Threads: any. Ownership: nothing is passed. NULL: no
/// pointers.
#[no_mangle]
pub extern "C" fn redlead_abi_version() -> u32 {
    boundary!(any_process, { REDLEAD_ABI_VERSION })
}

/// Ends the library's idle callback threads (`redlead-cb`, which run
/// completions, lost signals and closure drops) now instead of after 10 s
/// idle, and returns how many were asked to end. A thread running a callback
/// finishes it first; callbacks still to come start new threads. For
/// runtimes that wait at exit for every native thread that ran their code
/// (Mono): call it when the process is about to exit, together with
/// `redlead_log_clear` (which ends the log thread).
///
/// Blocks: no. Threads: any. Ownership: nothing is passed. NULL: no
/// pointers.
#[no_mangle]
pub extern "C" fn redlead_release_idle_threads() -> usize {
    boundary!(any_process, { dispatch::release_idle() })
}

/// Test-only: panics inside the boundary, to prove that a panic becomes
/// `REDLEAD_ERR_PANIC` (with a message in `*error_out`) and never unwinds
/// into C or aborts the process. Has no other effect.
///
/// Blocks: no. Threads: any. Ownership: the caller owns `*error_out`.
/// NULL: `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_test_panic(
    error_out: *mut *mut error::redlead_error,
) -> error::redlead_status {
    boundary!(error_out, {
        if std::hint::black_box(true) {
            panic!("redlead_test_panic: deliberate panic to test the boundary");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_constants_match_cargo() {
        assert_eq!(
            super::REDLEAD_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            super::REDLEAD_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            super::REDLEAD_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }
}
