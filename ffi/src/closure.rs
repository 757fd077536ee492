//! The event closure: `{context, call, drop}`, with its guarantees enforced
//! by ownership rather than by convention.
//!
//! `EventClosure` owns the C closure from the first line of
//! `redlead_election_start`: whatever happens next (a bad argument, a failed
//! start, a panic, the election ending), dropping the Rust value is the one
//! place `drop` is called, so it runs exactly once. The core calls the handler
//! from one thread, in order, and drops it only after its last call.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};

use redlead_core::{ElectionEvent, RevokeReason};

/// What an election event says.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum redlead_event_kind {
    /// This candidate became leader for `term`; `leader_id` is its own id.
    REDLEAD_EVENT_ELECTED = 0,
    /// This candidate stopped leading `term`, for `reason`.
    REDLEAD_EVENT_REVOKED = 1,
    /// The leader this candidate observes changed; `leader_id` is the new
    /// leader's id, or NULL when none is known.
    REDLEAD_EVENT_LEADER_CHANGED = 2,
}

/// Why a leadership ended (meaningful only in `REDLEAD_EVENT_REVOKED`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum redlead_revoke_reason {
    /// Not a revocation (events other than `REDLEAD_EVENT_REVOKED`).
    REDLEAD_REVOKE_NONE = 0,
    /// Renewals could not reach a quorum before the step-down point.
    REDLEAD_REVOKE_LOST_QUORUM = 1,
    /// A quorum says the lock is no longer ours.
    REDLEAD_REVOKE_TAKEN_OVER = 2,
    /// `redlead_election_resign` was called.
    REDLEAD_REVOKE_RESIGNED = 3,
    /// The election was stopped (`redlead_election_free`).
    REDLEAD_REVOKE_STOPPED = 4,
}

/// One election event, borrowed by the callback.
///
/// Lifetime: the event and every pointer in it are valid only during the
/// `call` that receives it; copy what you keep.
#[repr(C)]
pub struct redlead_event {
    pub kind: redlead_event_kind,
    /// NUL-terminated UTF-8 candidate id, or NULL when no leader is known.
    pub leader_id: *const c_char,
    /// The term (fencing token) for ELECTED and REVOKED; 0 otherwise.
    pub term: u64,
    pub reason: redlead_revoke_reason,
}

/// A callback with its context, given to `redlead_election_start`.
///
/// Guarantees: `call` runs on one library thread per election (never a
/// runtime worker), one event at a time, in order; `call` never runs once
/// `drop` has started; `drop` (if not NULL) runs exactly once, after the last
/// `call`, also when the start fails. Thread-safety: `context` is used from
/// that library thread, not the thread that started the election, so it must
/// be safe to send there. `call` must not unwind (no C++ exception may leave
/// it) and must not call `redlead_election_free` on its own election (that
/// returns `REDLEAD_ERR_WRONG_THREAD`).
#[repr(C)]
pub struct redlead_event_closure {
    /// Passed to `call` and `drop`; owned by the closure.
    pub context: *mut c_void,
    /// Required.
    pub call: Option<unsafe extern "C" fn(context: *mut c_void, event: *const redlead_event)>,
    /// Optional: releases `context`.
    pub drop: Option<unsafe extern "C" fn(context: *mut c_void)>,
}

/// The owned Rust side of a `redlead_event_closure`.
pub(crate) struct EventClosure {
    context: *mut c_void,
    call: Option<unsafe extern "C" fn(*mut c_void, *const redlead_event)>,
    drop: Option<unsafe extern "C" fn(*mut c_void)>,
    own_id: CString,
}

// SAFETY: the closure's contract requires `context` to be usable from the
// library's event thread; the core uses it from one thread at a time.
unsafe impl Send for EventClosure {}

impl EventClosure {
    pub(crate) fn new(c: redlead_event_closure) -> EventClosure {
        EventClosure {
            context: c.context,
            call: c.call,
            drop: c.drop,
            own_id: CString::default(),
        }
    }

    pub(crate) fn has_call(&self) -> bool {
        self.call.is_some()
    }

    pub(crate) fn set_own_id(&mut self, id: &str) {
        self.own_id = CString::new(id).unwrap_or_default();
    }

    pub(crate) fn deliver(&mut self, ev: &ElectionEvent) {
        let Some(call) = self.call else { return };
        let leader;
        let (kind, leader_id, term, reason) = match ev {
            ElectionEvent::Elected { term, .. } => (
                redlead_event_kind::REDLEAD_EVENT_ELECTED,
                self.own_id.as_ptr(),
                *term,
                redlead_revoke_reason::REDLEAD_REVOKE_NONE,
            ),
            ElectionEvent::Revoked { term, reason, .. } => (
                redlead_event_kind::REDLEAD_EVENT_REVOKED,
                std::ptr::null(),
                *term,
                match reason {
                    RevokeReason::LostQuorum => redlead_revoke_reason::REDLEAD_REVOKE_LOST_QUORUM,
                    RevokeReason::TakenOver => redlead_revoke_reason::REDLEAD_REVOKE_TAKEN_OVER,
                    RevokeReason::Resigned => redlead_revoke_reason::REDLEAD_REVOKE_RESIGNED,
                    RevokeReason::Stopped => redlead_revoke_reason::REDLEAD_REVOKE_STOPPED,
                },
            ),
            ElectionEvent::LeaderChanged { leader: l } => {
                leader = l.as_deref().map(|s| CString::new(s).unwrap_or_default());
                (
                    redlead_event_kind::REDLEAD_EVENT_LEADER_CHANGED,
                    leader.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                    0,
                    redlead_revoke_reason::REDLEAD_REVOKE_NONE,
                )
            }
        };
        let event = redlead_event {
            kind,
            leader_id,
            term,
            reason,
        };
        // SAFETY: the caller gave a valid function and context; the event
        // outlives the call.
        unsafe { call(self.context, &event) };
    }
}

impl Drop for EventClosure {
    fn drop(&mut self) {
        if let Some(d) = self.drop.take() {
            self.call = None;
            // SAFETY: the contract: called exactly once, after the last call.
            unsafe { d(self.context) };
        }
    }
}

/// Completion of an asynchronous call (`redlead_lock_acquire_async`,
/// `_extend_async`, `_release_async`).
///
/// Guarantees: when the asynchronous call returned `REDLEAD_OK`, `call` runs
/// exactly once, later, on a library thread named `redlead-cb` (never
/// on the thread that made the call, never on a runtime worker, so it may
/// make blocking redlead calls), and `drop` (if not NULL) runs right after it
/// on the same thread. When the asynchronous call returned any other status,
/// `call` never runs and `drop` has run before it returned. `call` receives
/// the status and, owned by the callee: the new lock (non-NULL only for a
/// successful acquire; free it with `redlead_lock_free`) and an error object
/// (non-NULL exactly when the status is not `REDLEAD_OK`; free it with
/// `redlead_error_free`). Thread-safety: `context` is used from a library
/// thread. `call` must not unwind.
#[repr(C)]
pub struct redlead_completion {
    /// Passed to `call` and `drop`; owned by the closure.
    pub context: *mut c_void,
    /// Required.
    pub call: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            status: crate::error::redlead_status,
            lock: *mut crate::lock::redlead_lock,
            error: *mut crate::error::redlead_error,
        ),
    >,
    /// Optional: releases `context`.
    pub drop: Option<unsafe extern "C" fn(context: *mut c_void)>,
}

/// The owned Rust side of a `redlead_completion`.
pub(crate) struct Completion {
    context: *mut c_void,
    call: Option<
        unsafe extern "C" fn(
            *mut c_void,
            crate::error::redlead_status,
            *mut crate::lock::redlead_lock,
            *mut crate::error::redlead_error,
        ),
    >,
    drop: Option<unsafe extern "C" fn(*mut c_void)>,
    /// Set once the operation was started: from then on `call` must run.
    started: bool,
}

// SAFETY: the closure's contract requires `context` to be usable from the
// library's callback threads; it is used from one thread at a time.
unsafe impl Send for Completion {}

impl Completion {
    pub(crate) fn new(c: redlead_completion) -> Completion {
        Completion {
            context: c.context,
            call: c.call,
            drop: c.drop,
            started: false,
        }
    }

    pub(crate) fn check(&self) -> crate::error::FfiResult<()> {
        if self.call.is_none() {
            return Err(crate::error::FfiError::invalid(
                "completion.call must not be NULL",
            ));
        }
        Ok(())
    }

    /// From now on the operation runs: `call` will be called.
    pub(crate) fn start(mut self) -> Completion {
        self.started = true;
        self
    }

    /// Delivers the result on a callback thread: `call`, then `drop`.
    pub(crate) fn complete(self, result: crate::error::FfiResult<*mut crate::lock::redlead_lock>) {
        let (status, lock, error) = match result {
            Ok(lock) => (
                crate::error::redlead_status::REDLEAD_OK,
                lock,
                std::ptr::null_mut(),
            ),
            Err(e) => (
                e.status,
                std::ptr::null_mut(),
                crate::boundary::new_error(e),
            ),
        };
        let mut me = self;
        me.started = false; // delivered here, not by Drop
                            // Owned objects cross to the callback thread as addresses.
        let (lock, error) = (lock as usize, error as usize);
        crate::dispatch::run(move || {
            let (lock, error) = (lock as *mut _, error as *mut _);
            if let Some(call) = me.call.take() {
                // SAFETY: the caller gave a valid function and context; the
                // lock and error are handed over to it.
                unsafe { call(me.context, status, lock, error) };
            }
            drop(me);
        });
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.started && self.call.is_some() {
            // Started but never completed: only a panic inside the library
            // gets here. `call` still runs exactly once, with the panic.
            let me = Completion {
                context: self.context,
                call: self.call.take(),
                drop: self.drop.take(),
                started: false,
            };
            me.complete(Err(crate::error::FfiError::new(
                crate::error::redlead_status::REDLEAD_ERR_PANIC,
                "panic inside redlead before the operation completed (a bug, please report it)",
            )));
            return;
        }
        if let Some(d) = self.drop.take() {
            self.call = None;
            // SAFETY: the contract: called exactly once, after the last call.
            unsafe { d(self.context) };
        }
    }
}

/// A callback run when a lock is lost, given to `redlead_lock_on_lost`.
///
/// Guarantees: `call` runs at most once, on a library thread named
/// `redlead-cb` (never a runtime worker), when the lock is known lost
/// (a quorum says it is gone, or less than its safety margin of validity is
/// left without a successful extension) while it was not released or freed;
/// `drop` (if not NULL) runs exactly once, after `call`, or without `call`
/// when the lock was released or freed first, also when
/// `redlead_lock_on_lost` fails. Thread-safety: `context` is used from a
/// library thread. `call` must not unwind.
#[repr(C)]
pub struct redlead_lost_closure {
    /// Passed to `call` and `drop`; owned by the closure.
    pub context: *mut c_void,
    /// Required.
    pub call: Option<unsafe extern "C" fn(context: *mut c_void)>,
    /// Optional: releases `context`.
    pub drop: Option<unsafe extern "C" fn(context: *mut c_void)>,
}

/// The owned Rust side of a `redlead_lost_closure`.
pub(crate) struct LostClosure {
    context: *mut c_void,
    call: Option<unsafe extern "C" fn(*mut c_void)>,
    drop: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: as for `Completion`.
unsafe impl Send for LostClosure {}

impl LostClosure {
    pub(crate) fn new(c: redlead_lost_closure) -> LostClosure {
        LostClosure {
            context: c.context,
            call: c.call,
            drop: c.drop,
        }
    }

    pub(crate) fn has_call(&self) -> bool {
        self.call.is_some()
    }

    /// Calls `call` (then `drop`) on a callback thread.
    pub(crate) fn fire(self) {
        let mut me = self;
        crate::dispatch::run(move || {
            if let Some(call) = me.call.take() {
                // SAFETY: valid function and context, called once.
                unsafe { call(me.context) };
            }
            drop(me);
        });
    }

    /// Runs only `drop`, on a callback thread.
    pub(crate) fn discard(self) {
        crate::dispatch::run(move || drop(self));
    }
}

impl Drop for LostClosure {
    fn drop(&mut self) {
        if let Some(d) = self.drop.take() {
            self.call = None;
            // SAFETY: the contract: called exactly once, after the last call.
            unsafe { d(self.context) };
        }
    }
}
