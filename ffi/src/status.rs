//! The C ABI's result codes, `redlead_status` for a call and
//! `redlead_outcome` for one node, and the one mapping from the core's
//! `ErrorKind`s and `NodeOutcome`s to them; `FfiError` is a failed call
//! before it becomes a caller-owned `redlead_error` (`error.rs`).
//!
//! Pure data: nothing here calls into the rest of the crate, so the
//! boundary, the runtime and every export can use it without a cycle.
//!
//! Both mappings are `match`es without a catch-all arm over the core's
//! exhaustive enums: a kind or outcome added to the core fails to compile
//! here until it is given a code. The texts of the statuses that stand for
//! a core kind are the core's descriptions.

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

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

/// The one mapping from the core's error kinds to statuses.
pub(crate) const fn status_of(kind: ErrorKind) -> redlead_status {
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
    }
}

impl redlead_status {
    /// The core's kind this status stands for; None for the statuses of the
    /// C ABI alone (success, a panic caught at the boundary, a cancellation).
    fn kind(self) -> Option<ErrorKind> {
        ErrorKind::ALL
            .iter()
            .copied()
            .find(|&kind| status_of(kind) == self)
    }

    /// A short description, static and NUL-terminated: the core's
    /// description for a status that stands for a kind.
    pub(crate) fn text(self) -> &'static CStr {
        match self {
            REDLEAD_OK => c"ok",
            REDLEAD_ERR_PANIC => c"internal panic (a bug in redlead)",
            REDLEAD_ERR_CANCELLED => c"cancelled",
            REDLEAD_NOT_ACQUIRED
            | REDLEAD_LOST
            | REDLEAD_ERR_INVALID_ARGUMENT
            | REDLEAD_ERR_CONNECTION
            | REDLEAD_ERR_TIMEOUT
            | REDLEAD_ERR_CLOSED
            | REDLEAD_ERR_FORKED
            | REDLEAD_ERR_WRONG_THREAD
            | REDLEAD_ERR_INTERNAL => self.kind().map_or(c"", description),
        }
    }
}

/// The core's description of `kind` NUL-terminated, made once and never
/// freed.
fn description(kind: ErrorKind) -> &'static CStr {
    static DESCRIPTIONS: OnceLock<Vec<CString>> = OnceLock::new();
    let descriptions = DESCRIPTIONS.get_or_init(|| {
        ErrorKind::ALL
            .iter()
            .map(|k| CString::new(k.description()).unwrap_or_default())
            .collect()
    });
    let position = ErrorKind::ALL.iter().position(|&k| k == kind);
    position.map_or(c"", |i| &descriptions[i])
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

/// The one mapping from the core's per-node outcomes.
pub(crate) fn node_outcomes(reports: &[NodeReport]) -> Vec<(String, redlead_outcome, String)> {
    reports
        .iter()
        .map(|r| {
            let kind = match &r.outcome {
                NodeOutcome::Ok => redlead_outcome::REDLEAD_OUTCOME_OK,
                NodeOutcome::Held(_) => redlead_outcome::REDLEAD_OUTCOME_HELD,
                NodeOutcome::NotHeld => redlead_outcome::REDLEAD_OUTCOME_NOT_HELD,
                NodeOutcome::Error(_) => redlead_outcome::REDLEAD_OUTCOME_ERROR,
                NodeOutcome::Timeout => redlead_outcome::REDLEAD_OUTCOME_TIMEOUT,
                NodeOutcome::NotAwaited => redlead_outcome::REDLEAD_OUTCOME_NOT_AWAITED,
            };
            (r.node.clone(), kind, r.outcome.to_string())
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The ABI: these numbers are in every compiled C, Go and C# caller.
    #[test]
    fn every_core_error_kind_keeps_its_status_number() {
        let numbers: Vec<(ErrorKind, u32)> = ErrorKind::ALL
            .iter()
            .map(|&kind| (kind, status_of(kind) as u32))
            .collect();
        assert_eq!(
            numbers,
            [
                (ErrorKind::InvalidArgument, 3),
                (ErrorKind::NotAcquired, 1),
                (ErrorKind::Lost, 2),
                (ErrorKind::Connection, 4),
                (ErrorKind::Timeout, 5),
                (ErrorKind::Closed, 6),
                (ErrorKind::WrongThread, 8),
                (ErrorKind::Forked, 7),
                (ErrorKind::Internal, 10),
            ]
        );
    }

    #[test]
    fn every_core_error_kind_has_a_status_of_its_own_with_the_cores_text() {
        for &kind in ErrorKind::ALL {
            let status = status_of(kind);
            assert_eq!(status.kind(), Some(kind), "{kind:?} shares {status:?}");
            let exported = crate::error::redlead_status_str(status);
            // SAFETY: redlead_status_str answers a static NUL-terminated string.
            let exported = unsafe { CStr::from_ptr(exported) };
            assert_eq!(exported.to_str(), Ok(kind.description()), "{status:?}");
        }
    }

    #[test]
    fn statuses_of_the_c_abi_alone_have_their_own_texts() {
        for (status, text) in [
            (REDLEAD_OK, c"ok"),
            (REDLEAD_ERR_PANIC, c"internal panic (a bug in redlead)"),
            (REDLEAD_ERR_CANCELLED, c"cancelled"),
        ] {
            assert_eq!(status.kind(), None);
            assert_eq!(status.text(), text);
        }
    }
}
