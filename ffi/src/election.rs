//! Election handles: campaign for a resource, events through a closure.

use std::os::raw::c_char;
use std::sync::Arc;

use redlead_core::{Election, ElectionConfig};

use crate::boundary::{arg_ref, arg_shared, arg_str, check_out, give, take, write_out};
use crate::client::redlead_client;
use crate::closure::{redlead_event_closure, EventClosure};
use crate::config::redlead_election_config;
use crate::error::{redlead_error, redlead_status, FfiError};
use crate::runtime;

/// A candidate in a leader election.
///
/// Ownership: created by `redlead_election_start`, owned by the caller, freed
/// once with `redlead_election_free` (which stops the campaign and resigns if
/// leading). Lifetime: independent of the client. Thread-safety: every
/// function taking an election may be called from many threads at once,
/// including from its own callback, except `redlead_election_free` there.
pub struct redlead_election {
    /// Shared with calls in flight (see `redlead_lock`).
    cell: crate::boundary::HandleCell<Arc<Election>>,
}

handle!(redlead_election => Arc<Election>, 0x7265_646c_656c_6530);

/// Starts campaigning for `resource` as `candidate_id` (the id 1..=256
/// bytes); the campaign runs in the background and reports through
/// `closure`.
///
/// Blocks: no network wait.
/// Threads: any thread but a tokio runtime thread; concurrently with any
/// other call on `client`.
/// Ownership: `client`, `resource`, `candidate_id` and `config` are borrowed
/// and copied. `closure` is moved into the library: its `drop` runs exactly
/// once, also when this call fails. The caller owns `*election_out` and frees
/// it with `redlead_election_free`.
/// NULL: `client`, `resource`, `candidate_id`, `closure.call` and
/// `election_out` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `config`
/// NULL means the defaults (ttl 5 s); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_start(
    client: *const redlead_client,
    resource: *const c_char,
    candidate_id: *const c_char,
    config: *const redlead_election_config,
    closure: redlead_event_closure,
    election_out: *mut *mut redlead_election,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    // Owned from the first line: every path below, panics included, drops it.
    let mut closure = EventClosure::new(closure);
    boundary!(error_out, {
        let client = arg_shared(client, "client")?;
        let resource = arg_str(resource, "resource")?;
        let id = arg_str(candidate_id, "candidate_id")?;
        check_out(election_out, "election_out")?;
        if !closure.has_call() {
            return Err(FfiError::invalid("closure.call must not be NULL"));
        }
        let cfg = if config.is_null() {
            ElectionConfig::default()
        } else {
            arg_ref(config, "config")?.to_config()
        };
        closure.set_own_id(id);
        // The election's tasks run on its client's I/O thread.
        let election = Election::start(&client, resource, id, cfg, move |ev| closure.deliver(ev))?;
        write_out(election_out, give::<redlead_election>(Arc::new(election)));
        Ok(())
    })
}

/// 1 while this candidate leads (computed from the clock: it turns 0 at the
/// step-down instant even if a renewal is late), else 0.
///
/// Blocks: no. Threads: any, concurrently with any other call on `election`,
/// also from its callback. Ownership: `election` is borrowed. NULL: answers 0
/// (as for a freed `election`, and in a forked child).
#[no_mangle]
pub extern "C" fn redlead_election_is_leader(election: *const redlead_election) -> u8 {
    boundary!({ arg_ref(election, "election").is_ok_and(|e| e.is_leader()) as u8 })
}

/// The current term (fencing token) while leading, else 0.
///
/// Blocks: no. Threads: any, concurrently with any other call on `election`,
/// also from its callback. Ownership: `election` is borrowed. NULL: answers 0
/// (as for a freed `election`, and in a forked child).
#[no_mangle]
pub extern "C" fn redlead_election_term(election: *const redlead_election) -> u64 {
    boundary!({
        arg_ref(election, "election")
            .ok()
            .and_then(|e| e.term())
            .unwrap_or(0)
    })
}

/// How many times this candidate saw leadership change hands since it started.
///
/// Blocks: no. Threads: any, concurrently with any other call on `election`,
/// also from its callback. Ownership: `election` is borrowed. NULL: answers 0
/// (as for a freed `election`, and in a forked child).
#[no_mangle]
pub extern "C" fn redlead_election_transitions(election: *const redlead_election) -> u64 {
    boundary!({
        arg_ref(election, "election")
            .map(|e| e.transitions())
            .unwrap_or(0)
    })
}

/// 0 when the campaign is stuck (still holding leadership a renew interval
/// past its step-down point), or ended without being stopped; else 1. For
/// liveness probes.
///
/// Blocks: no. Threads: any, concurrently with any other call on `election`,
/// also from its callback. Ownership: `election` is borrowed. NULL: answers 0
/// (as for a freed `election`, and in a forked child).
#[no_mangle]
pub extern "C" fn redlead_election_is_healthy(election: *const redlead_election) -> u8 {
    boundary!({ arg_ref(election, "election").is_ok_and(|e| e.is_healthy()) as u8 })
}

/// Asks the nodes who leads now. On success `*needed` receives the size of
/// the leader id including its NUL, or 0 when no candidate leads; the id is
/// copied into `buf` only when it fits (`*needed <= buf_len`), else `buf` is
/// untouched and the caller retries with a larger buffer (ids are at most
/// 257 bytes with the NUL, so a buffer of 257 always fits).
///
/// Blocks: yes, for about one round trip; at most about the node timeout.
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `election`, also from its
/// callback.
/// Ownership: `election` is borrowed; `buf` (`buf_len` bytes) is written by
/// the library and stays the caller's.
/// NULL: `election` and `needed` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `buf` may be NULL only when `buf_len` is
/// 0; `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_leader(
    election: *const redlead_election,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let election = arg_shared(election, "election")?;
        check_out(needed, "needed")?;
        if buf.is_null() && buf_len > 0 {
            return Err(FfiError::invalid("buf must not be NULL when buf_len > 0"));
        }
        let leader = runtime::block_on(async move { election.leader().await })??;
        let size = crate::boundary::write_c_str(buf, buf_len, leader.as_deref());
        write_out(needed, size);
        Ok(())
    })
}

/// Releases leadership now and tells the followers. Returns `REDLEAD_OK` also
/// when not leading (a no-op); `*resigned_out` receives 1 if this call ended
/// a leadership, else 0. The campaign goes on (this candidate may be elected
/// again).
///
/// Blocks: yes, for about one round trip; at most about the node timeout.
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `election`, also from its
/// callback.
/// Ownership: `election` is borrowed.
/// NULL: `election` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`);
/// `resigned_out` and `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_resign(
    election: *const redlead_election,
    resigned_out: *mut u8,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let election = arg_shared(election, "election")?;
        let resigned = runtime::block_on(async move { election.resign().await })??;
        if !resigned_out.is_null() {
            check_out(resigned_out, "resigned_out")?;
            write_out(resigned_out, resigned as u8);
        }
        Ok(())
    })
}

/// Stops campaigning, resigns if leading, waits until no callback runs and
/// the closure's `drop` has run, then frees the election. Blocks for about
/// one round trip, plus at most the stop timeout
/// (`redlead_election_config_set_stop_timeout_ms`, default 5 s) behind a
/// callback that is still running: then it returns `REDLEAD_ERR_TIMEOUT`,
/// having freed the election anyway (the closure's `drop` runs when the
/// callback returns). A second free of the same election, also from another
/// thread while the first runs, returns `REDLEAD_ERR_INVALID_ARGUMENT`. NULL is a no-op
/// (`REDLEAD_OK`). Called from inside the election's own callback it returns
/// `REDLEAD_ERR_WRONG_THREAD` and frees nothing (free it from another thread).
/// In a forked child it returns `REDLEAD_ERR_FORKED` and frees nothing.
///
/// Blocks: yes, for about one round trip (the resignation), plus at most the
/// stop timeout behind a callback still running.
/// Threads: any thread but a tokio runtime thread and the election's own
/// callback (`REDLEAD_ERR_WRONG_THREAD` there); calls still waiting on
/// `election` in other threads finish normally.
/// Ownership: takes `election`; do not use it again.
/// NULL: a no-op returning `REDLEAD_OK`; `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_free(
    election: *mut redlead_election,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        if election.is_null() {
            return Ok(());
        }
        let e = arg_ref(election, "election")?;
        if e.is_callback_thread() {
            return Err(FfiError::new(
                redlead_status::REDLEAD_ERR_WRONG_THREAD,
                "redlead_election_free called from the election's own callback; it would wait for itself",
            ));
        }
        // Claimed before the wait, so a concurrent second free fails cleanly.
        let Some(owned) = take(election, "election")? else {
            return Ok(());
        };
        // The election comes back to be dropped here, not on the I/O thread.
        let (owned, stopped) = runtime::block_on(async move {
            let stopped = owned.stop().await;
            (owned, stopped)
        })?;
        // Freed whatever stop said: after a Timeout (a handler still blocked
        // past stop_timeout) leadership has ended and the key is released;
        // the closure's drop runs on the event thread when the handler
        // returns.
        drop(owned);
        stopped?;
        Ok(())
    })
}
