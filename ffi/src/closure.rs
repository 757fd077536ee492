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
                    _ => redlead_revoke_reason::REDLEAD_REVOKE_STOPPED,
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
            _ => return,
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
