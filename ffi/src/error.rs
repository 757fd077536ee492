//! Status codes, the one mapping from the core's errors, and the error objects
//! the caller owns.

use std::ffi::CString;
use std::os::raw::c_char;

use redlead_core::{Error, ErrorKind, NodeOutcome, NodeReport};

/// The result of every fallible call.
///
/// Values are explicit and never renumbered; new values are only appended.
/// `REDLEAD_OK`, `REDLEAD_NOT_ACQUIRED` and `REDLEAD_LOST` are outcomes, the
/// `REDLEAD_ERR_*` values are errors. Pass only values of this enum to
/// `redlead_status_str`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum redlead_status {
    /// Success.
    REDLEAD_OK = 0,
    /// The lock is held elsewhere (or the validity ran out while acquiring).
    REDLEAD_NOT_ACQUIRED = 1,
    /// The lock is known to be gone (expired, or a quorum says it is not ours).
    REDLEAD_LOST = 2,
    /// A parameter was rejected; the message names it. Nothing was sent.
    REDLEAD_ERR_INVALID_ARGUMENT = 3,
    /// No quorum of nodes was reachable.
    REDLEAD_ERR_CONNECTION = 4,
    /// A wait budget ran out.
    REDLEAD_ERR_TIMEOUT = 5,
    /// The lock was already released, or the election already stopped.
    REDLEAD_ERR_CLOSED = 6,
    /// Called in a child process after fork(); the library is unusable there.
    REDLEAD_ERR_FORKED = 7,
    /// The call would block or deadlock on this thread (a runtime worker, or
    /// an election's own callback).
    REDLEAD_ERR_WRONG_THREAD = 8,
    /// A bug in the library panicked; the call had no defined effect.
    REDLEAD_ERR_PANIC = 9,
    /// A bug or an unexpected reply; the message says which.
    REDLEAD_ERR_INTERNAL = 10,
    /// The call was cancelled through its `redlead_cancel`.
    REDLEAD_ERR_CANCELLED = 11,
}

use redlead_status::*;

impl redlead_status {
    fn text(self) -> &'static str {
        match self {
            REDLEAD_OK => "ok\0",
            REDLEAD_NOT_ACQUIRED => "not acquired: the lock is held elsewhere\0",
            REDLEAD_LOST => "lost: the lock is gone\0",
            REDLEAD_ERR_INVALID_ARGUMENT => "invalid argument\0",
            REDLEAD_ERR_CONNECTION => "no quorum of nodes reachable\0",
            REDLEAD_ERR_TIMEOUT => "timed out\0",
            REDLEAD_ERR_CLOSED => "closed: already released or stopped\0",
            REDLEAD_ERR_FORKED => "called in a forked child process\0",
            REDLEAD_ERR_WRONG_THREAD => "called from a thread where it would deadlock\0",
            REDLEAD_ERR_PANIC => "internal panic (a bug in redlead)\0",
            REDLEAD_ERR_INTERNAL => "internal error\0",
            REDLEAD_ERR_CANCELLED => "cancelled\0",
        }
    }
}

/// The one mapping from the core's error kinds to statuses.
pub(crate) fn status_of(kind: ErrorKind) -> redlead_status {
    match kind {
        ErrorKind::InvalidArgument => REDLEAD_ERR_INVALID_ARGUMENT,
        ErrorKind::NotAcquired => REDLEAD_NOT_ACQUIRED,
        ErrorKind::Lost => REDLEAD_LOST,
        ErrorKind::Connection => REDLEAD_ERR_CONNECTION,
        ErrorKind::Timeout => REDLEAD_ERR_TIMEOUT,
        ErrorKind::Closed => REDLEAD_ERR_CLOSED,
        ErrorKind::WrongThread => REDLEAD_ERR_WRONG_THREAD,
        ErrorKind::Forked => REDLEAD_ERR_FORKED,
        ErrorKind::Internal => REDLEAD_ERR_INTERNAL,
        _ => REDLEAD_ERR_INTERNAL,
    }
}

/// Static description of a status: a NUL-terminated string that is never
/// freed. Pass only values of `redlead_status`.
///
/// Blocks: no. Threads: any. Ownership: the result is static; do not free
/// it. NULL: never returns NULL.
#[no_mangle]
pub extern "C" fn redlead_status_str(status: redlead_status) -> *const c_char {
    boundary!(any_process, { status.text().as_ptr().cast::<c_char>() })
}

/// What one node answered to the operation that failed.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum redlead_outcome {
    /// The node did what was asked.
    REDLEAD_OUTCOME_OK = 0,
    /// The key is held by another owner.
    REDLEAD_OUTCOME_HELD = 1,
    /// The key no longer holds this lock's token.
    REDLEAD_OUTCOME_NOT_HELD = 2,
    /// The node answered with an error or the connection failed.
    REDLEAD_OUTCOME_ERROR = 3,
    /// No answer within the node timeout.
    REDLEAD_OUTCOME_TIMEOUT = 4,
    /// Decided before this node answered.
    REDLEAD_OUTCOME_NOT_AWAITED = 5,
}

/// The crate's internal error: a status, a message, per-node outcomes.
#[derive(Debug)]
pub struct FfiError {
    pub status: redlead_status,
    pub message: String,
    pub nodes: Vec<(String, redlead_outcome, String)>,
}

impl FfiError {
    pub fn new(status: redlead_status, message: impl Into<String>) -> FfiError {
        FfiError {
            status,
            message: message.into(),
            nodes: Vec::new(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> FfiError {
        FfiError::new(REDLEAD_ERR_INVALID_ARGUMENT, message)
    }
}

/// The one mapping from the core's per-node outcomes.
pub(crate) fn node_outcomes(reports: &[NodeReport]) -> Vec<(String, redlead_outcome, String)> {
    reports
        .iter()
        .map(|r| {
            let kind = match &r.outcome {
                NodeOutcome::Ok => redlead_outcome::REDLEAD_OUTCOME_OK,
                NodeOutcome::Held(_) => redlead_outcome::REDLEAD_OUTCOME_HELD,
                NodeOutcome::NotHeld => redlead_outcome::REDLEAD_OUTCOME_NOT_HELD,
                NodeOutcome::Timeout => redlead_outcome::REDLEAD_OUTCOME_TIMEOUT,
                NodeOutcome::NotAwaited => redlead_outcome::REDLEAD_OUTCOME_NOT_AWAITED,
                _ => redlead_outcome::REDLEAD_OUTCOME_ERROR,
            };
            (r.node.clone(), kind, r.outcome.to_string())
        })
        .collect()
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        let nodes = node_outcomes(e.outcomes());
        FfiError {
            status: status_of(e.kind()),
            message: e.to_string(),
            nodes,
        }
    }
}

pub type FfiResult<T> = Result<T, FfiError>;

/// An error object describing one failed call.
///
/// Ownership: created by the library into `*error_out` (or handed to a
/// completion); the caller owns it and frees it once with
/// `redlead_error_free`. Lifetime: strings returned by the accessors live
/// until the error is freed. Thread-safety: immutable, so reading it from
/// several threads at once is safe (a const handle may be used
/// concurrently); freeing it while another thread reads it is not.
pub struct redlead_error {
    magic: std::sync::atomic::AtomicU64,
    inner: crate::boundary::HandleSlot<ErrorData>,
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
            e.status.text().trim_end_matches('\0').to_string()
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
