//! The error objects the caller owns (`redlead_error`), and the exports
//! that read them or describe a status. The codes and the mapping from the
//! core's errors live in `status.rs`.

use std::ffi::CString;
use std::os::raw::c_char;

// Their paths of old: exports and tests name them through this module.
pub use crate::status::{redlead_outcome, redlead_status, FfiError, FfiResult};

/// Static description of a status: a NUL-terminated string that is never
/// freed. Pass only values of `redlead_status`.
///
/// Blocks: no. Threads: any. Ownership: the result is static; do not free
/// it. NULL: never returns NULL.
#[no_mangle]
pub extern "C" fn redlead_status_str(status: redlead_status) -> *const c_char {
    boundary!(any_process, { status.text().as_ptr() })
}

/// An error object describing one failed call.
///
/// Ownership: created by the library into `*error_out` (or handed to a
/// completion); the caller owns it and frees it once with
/// `redlead_error_free`. Lifetime: strings returned by the accessors live
/// until the error is freed. Thread-safety: immutable, so reading it from
/// several threads at once is safe (a const handle may be used
/// concurrently); freeing it while another thread reads it is not.
pub struct redlead_error {
    cell: crate::boundary::HandleCell<ErrorData>,
}

handle!(redlead_error => ErrorData, 0x7265_646c_6572_7230);

/// What an error object holds.
pub struct ErrorData {
    status: redlead_status,
    message: CString,
    nodes: Vec<(CString, redlead_outcome, CString)>,
}

pub(crate) fn c_string(s: String) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

impl ErrorData {
    pub(crate) fn from_ffi(e: FfiError) -> ErrorData {
        let message = if e.message.is_empty() {
            e.status.text().to_string_lossy().into_owned()
        } else {
            e.message
        };
        ErrorData {
            status: e.status,
            message: c_string(message),
            nodes: e
                .nodes
                .into_iter()
                .map(|(n, k, m)| (c_string(n), k, c_string(m)))
                .collect(),
        }
    }
}

/// The status of the failed call.
///
/// Blocks: no. Threads: any, concurrently with other readers of `error`.
/// Ownership: `error` is borrowed. NULL: answers
/// `REDLEAD_ERR_INVALID_ARGUMENT` (as for a freed `error`).
#[no_mangle]
pub extern "C" fn redlead_error_code(error: *const redlead_error) -> redlead_status {
    boundary!(any_process, {
        match crate::boundary::arg_ref(error, "error") {
            Ok(e) => e.status,
            Err(e) => e.status,
        }
    })
}

/// A message for humans, naming the offending parameter or the failing
/// nodes; never empty.
///
/// Blocks: no. Threads: any, concurrently with other readers of `error`.
/// Ownership: `error` is borrowed; the string belongs to `error` and is valid
/// until it is freed. NULL: for a NULL (or freed) `error`, a static message
/// saying so; never returns NULL.
#[no_mangle]
pub extern "C" fn redlead_error_message(error: *const redlead_error) -> *const c_char {
    boundary!(any_process, {
        match crate::boundary::arg_ref(error, "error") {
            Ok(e) => e.message.as_ptr(),
            Err(_) => {
                c"invalid redlead_error pointer (NULL, freed, or not an error object)".as_ptr()
            }
        }
    })
}

/// How many per-node outcomes the error carries (0 for errors raised before
/// anything was sent).
///
/// Blocks: no. Threads: any, concurrently with other readers of `error`.
/// Ownership: `error` is borrowed. NULL: answers 0.
#[no_mangle]
pub extern "C" fn redlead_error_node_count(error: *const redlead_error) -> usize {
    boundary!(any_process, {
        crate::boundary::arg_ref(error, "error")
            .map(|e| e.nodes.len())
            .unwrap_or(0)
    })
}

/// The `index`-th node's outcome: its address (never a password), the kind
/// of its answer, and a message. Fails with `REDLEAD_ERR_INVALID_ARGUMENT`
/// when `index >= redlead_error_node_count(error)`.
///
/// Blocks: no. Threads: any, concurrently with other readers of `error`.
/// Ownership: `error` is borrowed; the strings written to `*node_out` and
/// `*message_out` belong to `error` and are valid until it is freed.
/// NULL: `error`, `node_out`, `outcome_out` and `message_out` must not be
/// NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_error_node_outcome(
    error: *const redlead_error,
    index: usize,
    node_out: *mut *const c_char,
    outcome_out: *mut redlead_outcome,
    message_out: *mut *const c_char,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(any_process, error_out, {
        let e = crate::boundary::arg_ref(error, "error")?;
        write_node(&e.nodes, index, node_out, outcome_out, message_out)
    })
}

/// Writes one of `nodes` to the out-parameters (errors and ping outcomes).
pub(crate) fn write_node(
    nodes: &[(CString, redlead_outcome, CString)],
    index: usize,
    node_out: *mut *const c_char,
    outcome_out: *mut redlead_outcome,
    message_out: *mut *const c_char,
) -> FfiResult<()> {
    crate::boundary::check_out(node_out, "node_out")?;
    crate::boundary::check_out(outcome_out, "outcome_out")?;
    crate::boundary::check_out(message_out, "message_out")?;
    let (n, k, m) = nodes.get(index).ok_or_else(|| {
        FfiError::invalid(format!(
            "index {index} out of range: there are {} node outcomes",
            nodes.len()
        ))
    })?;
    crate::boundary::write_out(node_out, n.as_ptr());
    crate::boundary::write_out(outcome_out, *k);
    crate::boundary::write_out(message_out, m.as_ptr());
    Ok(())
}

/// Frees an error.
///
/// Blocks: no. Threads: any, but not while another thread reads `error`.
/// Ownership: takes `error`; do not use it again (a second free of a recent
/// error is detected and ignored). NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_error_free(error: *mut redlead_error) {
    boundary!(any_process, {
        let _ = crate::boundary::take(error, "error");
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use redlead_core::{Error, ErrorKind};

    use super::*;
    use crate::status::status_of;

    #[test]
    fn every_core_error_becomes_an_error_object_with_its_status_and_message() {
        for &kind in ErrorKind::ALL {
            let core = Error::new(kind, "m");
            let (message, nodes) = (core.to_string(), core.outcomes().len());
            let error = crate::boundary::new_error(FfiError::from(core));
            assert_eq!(redlead_error_code(error), status_of(kind));
            // SAFETY: the message lives until the error is freed.
            let got = unsafe { CStr::from_ptr(redlead_error_message(error)) };
            assert_eq!(got.to_str(), Ok(message.as_str()));
            assert!(message.starts_with(kind.description()), "{message}");
            assert_eq!(redlead_error_node_count(error), nodes);
            redlead_error_free(error);
        }
    }
}
