//! Cancellation handles: how Go's `context.Context` and .NET's
//! `CancellationToken` end a waiting acquire instead of waiting it out.

use tokio_util::sync::CancellationToken;

use crate::boundary::{arg_ref, give, take};
use crate::error::{redlead_error, redlead_status};

/// A cancellation signal, passed to the acquire functions.
///
/// Ownership: created by `redlead_cancel_new`, owned by the caller, freed
/// once with `redlead_cancel_free`. Lifetime: a call that was given it keeps
/// what it needs, so it may be freed while that call still runs (the call
/// then can no longer be cancelled). Thread-safety: every function taking a
/// cancel may be called from many threads at once (a const handle may be
/// used concurrently). One cancel may be given to many calls; cancelling it
/// ends them all. It cannot be reset.
pub struct redlead_cancel {
    cell: crate::boundary::HandleCell<CancellationToken>,
}

handle!(redlead_cancel => CancellationToken, 0x7265_646c_636e_6c30);

/// The token behind an optional cancel argument (NULL: never cancelled).
pub(crate) fn token(
    cancel: *const redlead_cancel,
) -> crate::error::FfiResult<Option<CancellationToken>> {
    if cancel.is_null() {
        return Ok(None);
    }
    Ok(Some(arg_ref(cancel, "cancel")?.clone()))
}

/// A new cancellation signal, not cancelled.
///
/// Blocks: no. Threads: any. Ownership: the caller owns the result and frees
/// it with `redlead_cancel_free`. NULL: returns NULL only in a forked child
/// or on an internal panic.
#[no_mangle]
pub extern "C" fn redlead_cancel_new() -> *mut redlead_cancel {
    boundary!({ give::<redlead_cancel>(CancellationToken::new()) })
}

/// Cancels: every call waiting with this signal (now or later) returns
/// `REDLEAD_ERR_CANCELLED` soon (an asynchronous one completes with it).
/// An attempt already sent to the nodes finishes in the background and
/// releases what it took, so a cancelled acquire leaves no key behind.
/// Cancelling twice is fine.
///
/// Blocks: no. Threads: any, concurrently with the calls it cancels.
/// Ownership: `cancel` is borrowed. NULL: a NULL `cancel` (or a freed one)
/// gives `REDLEAD_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn redlead_cancel_cancel(
    cancel: *const redlead_cancel,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        arg_ref(cancel, "cancel")?.cancel();
        Ok(())
    })
}

/// 1 once `redlead_cancel_cancel` was called on it, else 0 (also for a NULL
/// or freed `cancel`).
///
/// Blocks: no. Threads: any. Ownership: `cancel` is borrowed. NULL: answers 0.
#[no_mangle]
pub extern "C" fn redlead_cancel_is_cancelled(cancel: *const redlead_cancel) -> u8 {
    boundary!({ arg_ref(cancel, "cancel").is_ok_and(|c| c.is_cancelled()) as u8 })
}

/// Frees a cancellation signal. Calls still running with it are not
/// cancelled by this.
///
/// Blocks: no. Threads: any, but not concurrently with another call on the
/// same `cancel`. Ownership: takes `cancel`; do not use it again (a second
/// free is detected and ignored). NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_cancel_free(cancel: *mut redlead_cancel) {
    boundary!({
        let _ = take(cancel, "cancel");
    })
}
