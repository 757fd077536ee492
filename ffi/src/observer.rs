//! Observer handles: who holds a resource, without campaigning, and each
//! change through a closure run on the observer's own thread.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use redlead_core::{Observation, Observer};

use crate::boundary::{arg_ref, arg_shared, arg_str, check_out, give, take, write_out};
use crate::client::redlead_client;
use crate::error::{redlead_error, redlead_status, FfiError};
use crate::runtime;

/// How long `redlead_observer_free` waits for a callback still running.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Watches who holds a resource (the leader a quorum of nodes agrees on),
/// without campaigning.
///
/// Ownership: created by `redlead_observer_start`, owned by the caller, freed
/// once with `redlead_observer_free`. Lifetime: independent of the client.
/// Thread-safety: every function taking an observer may be called from many
/// threads at once, including from its own callback, except
/// `redlead_observer_free` there.
pub struct redlead_observer {
    cell: crate::boundary::HandleCell<Arc<ObserverState>>,
}

handle!(redlead_observer => Arc<ObserverState>, 0x7265_646c_6f62_7330);

/// A callback with its context, given to `redlead_observer_start`.
///
/// Guarantees: `call` runs on one library thread per observer, named
/// `redlead-observe` (never a runtime worker), one call at a time, in order:
/// first with the leader seen at start, then after every change of the
/// holding (a new leader, none, or the same leader holding anew, as after
/// a new term). Changes that come while `call` runs are coalesced to the
/// latest. `leader_id` is the NUL-terminated UTF-8 id, or NULL when no
/// leader is known; it is valid only during the call. `drop` (if not NULL)
/// runs exactly once, after the last `call`, also when the start fails.
/// Thread-safety: `context` is used from that library thread. `call` must
/// not unwind and must not call `redlead_observer_free` on its own observer
/// (that returns `REDLEAD_ERR_WRONG_THREAD`).
#[repr(C)]
pub struct redlead_observe_closure {
    /// Passed to `call` and `drop`; owned by the closure.
    pub context: *mut c_void,
    /// Optional: NULL to only read `redlead_observer_leader`.
    pub call: Option<unsafe extern "C" fn(context: *mut c_void, leader_id: *const c_char)>,
    /// Optional: releases `context`.
    pub drop: Option<unsafe extern "C" fn(context: *mut c_void)>,
}

/// The owned Rust side of a `redlead_observe_closure`.
struct ObserveClosure {
    context: *mut c_void,
    call: Option<unsafe extern "C" fn(*mut c_void, *const c_char)>,
    drop: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the closure's contract requires `context` to be usable from the
// observer's thread; it is used from that one thread.
unsafe impl Send for ObserveClosure {}

impl ObserveClosure {
    fn deliver(&self, seen: &Observation) {
        let Some(call) = self.call else { return };
        let leader = seen.leader().map(|l| CString::new(l).unwrap_or_default());
        let ptr = leader.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: the caller gave a valid function and context; the string
        // outlives the call.
        unsafe { call(self.context, ptr) };
    }
}

impl Drop for ObserveClosure {
    fn drop(&mut self) {
        if let Some(d) = self.drop.take() {
            self.call = None;
            // SAFETY: the contract: called exactly once, after the last call.
            unsafe { d(self.context) };
        }
    }
}

pub struct ObserverState {
    observer: Observer,
    thread: OnceLock<ThreadId>,
    /// Turns true once the closure was dropped.
    finished: Arc<(Mutex<bool>, Condvar)>,
}

impl ObserverState {
    fn on_own_thread(&self) -> bool {
        self.thread.get() == Some(&std::thread::current().id())
    }

    /// Waits at most `bound` for the thread to drop the closure.
    fn finished_within(&self, bound: Duration) -> bool {
        let (done, cv) = &*self.finished;
        let guard = done.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, bound, |d| !*d)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

/// Starts observing `resource`: asks the nodes once before it returns, then
/// every `poll_interval_ms` (0: the default, 1000) and at once whenever a
/// node announces a release or a resignation of it. The leader is the owner
/// id of the lock value that a quorum of nodes holds; when no value has a
/// quorum, or fewer than a quorum of nodes answer, there is none
/// (docs/election.md).
///
/// Blocks: yes, for about one round trip; at most about the node timeout.
/// Threads: any thread but a tokio runtime thread
/// (`REDLEAD_ERR_WRONG_THREAD` there); concurrently with any other call on
/// `client`.
/// Ownership: `client` and `resource` are borrowed and copied. `closure` is
/// moved into the library: its `drop` runs exactly once, also when this call
/// fails. The caller owns `*observer_out` and frees it with
/// `redlead_observer_free`.
/// NULL: `client`, `resource` and `observer_out` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `closure.call` may be NULL (no
/// callback); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_observer_start(
    client: *const redlead_client,
    resource: *const c_char,
    poll_interval_ms: u64,
    closure: redlead_observe_closure,
    observer_out: *mut *mut redlead_observer,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    // Owned from the first line: every path below, panics included, drops it.
    let closure = ObserveClosure {
        context: closure.context,
        call: closure.call,
        drop: closure.drop,
    };
    boundary!(error_out, {
        let client = arg_shared(client, "client")?;
        let resource = arg_str(resource, "resource")?.to_string();
        check_out(observer_out, "observer_out")?;
        let interval = match poll_interval_ms {
            0 => redlead_core::observer::DEFAULT_POLL_INTERVAL,
            ms => Duration::from_millis(ms),
        };
        let observer =
            runtime::block_on(async move { client.observe_every(&resource, interval).await })??;
        let (tx, rx) = mpsc::channel();
        let state = Arc::new(ObserverState {
            observer,
            thread: OnceLock::new(),
            finished: Arc::default(),
        });
        forward_changes(&state, tx)?;
        spawn_delivery(&state, rx, closure)?;
        write_out(observer_out, give::<redlead_observer>(state));
        Ok(())
    })
}

/// Each change of the observation, sent to the delivery thread by a task
/// on the observer's runtime (it ends when the observer stops).
fn forward_changes(state: &ObserverState, tx: mpsc::Sender<Observation>) -> Result<(), FfiError> {
    let mut changes = state.observer.changes();
    let first = changes.borrow_and_update().clone();
    let _ = tx.send(first);
    runtime::background()?.spawn(async move {
        while changes.changed().await.is_ok() {
            let seen = changes.borrow_and_update().clone();
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// The `redlead-observe` thread: calls the closure for each change, in
/// order, coalescing what queued up meanwhile; drops it at the end.
fn spawn_delivery(
    state: &Arc<ObserverState>,
    rx: mpsc::Receiver<Observation>,
    closure: ObserveClosure,
) -> Result<(), FfiError> {
    let finished = state.finished.clone();
    // Weak: the thread must not keep the observer alive.
    let weak = Arc::downgrade(state);
    std::thread::Builder::new()
        .name("redlead-observe".into())
        .spawn(move || {
            if let Some(s) = weak.upgrade() {
                let _ = s.thread.set(std::thread::current().id());
            }
            while let Ok(mut seen) = rx.recv() {
                while let Ok(later) = rx.try_recv() {
                    seen = later;
                }
                closure.deliver(&seen);
            }
            drop(closure);
            let (done, cv) = &*finished;
            *done.lock().unwrap_or_else(|p| p.into_inner()) = true;
            cv.notify_all();
        })
        .map(|_| ())
        .map_err(|e| {
            FfiError::new(
                redlead_status::REDLEAD_ERR_INTERNAL,
                format!("cannot start the observer's thread: {e}"),
            )
        })
}

/// The leader seen last (no network call). On success `*needed` receives
/// the size of the leader id including its NUL, or 0 when no leader is
/// known; the id is copied into `buf` only when it fits
/// (`*needed <= buf_len`), else `buf` is untouched (a buffer of 257 bytes
/// always fits).
///
/// Blocks: no. Threads: any, concurrently with any other call on
/// `observer`, also from its callback.
/// Ownership: `observer` is borrowed; `buf` (`buf_len` bytes) is written by
/// the library and stays the caller's.
/// NULL: `observer` and `needed` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `buf` may be NULL only when `buf_len`
/// is 0; `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_observer_leader(
    observer: *const redlead_observer,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let observer = arg_ref(observer, "observer")?;
        check_out(needed, "needed")?;
        if buf.is_null() && buf_len > 0 {
            return Err(FfiError::invalid("buf must not be NULL when buf_len > 0"));
        }
        let leader = observer.observer.leader();
        let size = crate::boundary::write_c_str(buf, buf_len, leader.as_deref());
        write_out(needed, size);
        Ok(())
    })
}

/// Stops observing (no more polls, subscriptions closed), waits until no
/// callback runs and the closure's `drop` has run, then frees the observer.
/// Behind a callback still running it waits at most 5 s, then returns
/// `REDLEAD_ERR_TIMEOUT`, having freed the observer anyway (the closure's
/// `drop` runs when the callback returns). A second free of the same
/// observer returns `REDLEAD_ERR_INVALID_ARGUMENT`. Called from inside the
/// observer's own callback it returns `REDLEAD_ERR_WRONG_THREAD` and frees
/// nothing.
///
/// Blocks: no network wait; at most 5 s behind a callback still running.
/// Threads: any thread but the observer's own callback.
/// Ownership: takes `observer`; do not use it again.
/// NULL: a no-op returning `REDLEAD_OK`; `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_observer_free(
    observer: *mut redlead_observer,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        if observer.is_null() {
            return Ok(());
        }
        if arg_ref(observer, "observer")?.on_own_thread() {
            return Err(FfiError::new(
                redlead_status::REDLEAD_ERR_WRONG_THREAD,
                "redlead_observer_free called from the observer's own callback; it would wait for itself",
            ));
        }
        let Some(owned) = take(observer, "observer")? else {
            return Ok(());
        };
        owned.observer.stop();
        if owned.finished_within(STOP_TIMEOUT) {
            return Ok(());
        }
        Err(FfiError::new(
            redlead_status::REDLEAD_ERR_TIMEOUT,
            format!("observer stopped, but its callback is still running after {STOP_TIMEOUT:?}; its closure will be dropped when it returns"),
        ))
    })
}
