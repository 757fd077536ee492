//! Lock handles: acquire (blocking, cancellable, asynchronous), extend,
//! release, the lost signal, and the lock options builder.

use std::os::raw::c_char;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use redlead_core::{AutoExtend, Lock, LockOptions, Redlock};
use tokio_util::sync::CancellationToken;

use crate::boundary::{arg_mut, arg_ref, arg_shared, arg_str, check_out, give, take, write_out};
use crate::cancel::{redlead_cancel, token};
use crate::client::redlead_client;
use crate::closure::{redlead_completion, redlead_lost_closure, Completion, LostClosure};
use crate::error::{redlead_error, redlead_status, FfiError, FfiResult};
use crate::runtime;

/// Flag of `redlead_lock_try_acquire` / `redlead_lock_acquire`: also obtain a
/// fencing token (one more round trip).
pub const REDLEAD_LOCK_FENCED: u32 = 1;

/// A held (or formerly held) lock.
///
/// Ownership: created by the acquire functions, owned by the caller, freed
/// once with `redlead_lock_free`, which releases it in the background if it
/// is still held. Lifetime: independent of the client it came from; calls in
/// flight on it keep what they need, so it may be freed while another thread
/// waits in a call on it. Thread-safety: every function taking a lock may be
/// called from many threads at once (a const handle may be used
/// concurrently).
pub struct redlead_lock {
    /// Shared with calls in flight, so that no borrow of the handle's memory
    /// spans a network wait (the handle may be freed meanwhile).
    cell: crate::boundary::HandleCell<Arc<LockState>>,
}

handle!(redlead_lock => Arc<LockState>, 0x7265_646c_6c63_6b30);

/// What a lock handle shares with its calls in flight.
pub struct LockState {
    lock: Lock,
    /// Cancelled when the lock is released or its handle freed: the lost
    /// callbacks registered on it are dropped without a call from then on.
    ended: CancellationToken,
}

impl Drop for LockState {
    fn drop(&mut self) {
        self.ended.cancel();
        // Dropping `lock` releases it in the background if still held.
    }
}

fn new_handle(lock: Lock) -> *mut redlead_lock {
    give::<redlead_lock>(Arc::new(LockState {
        lock,
        ended: CancellationToken::new(),
    }))
}

/// Options of one acquisition, built with `redlead_lock_options_set_*`.
///
/// Ownership: created by `redlead_lock_options_new`, owned by the caller,
/// freed once with `redlead_lock_options_free`; the acquire functions copy
/// it, so it may be freed or reused right after. Thread-safety: not
/// synchronized; do not set it from two threads at once (reading it in two
/// acquires at once is safe).
pub struct redlead_lock_options {
    cell: crate::boundary::HandleCell<LockOptions>,
}

handle!(redlead_lock_options => LockOptions, 0x7265_646c_6c6f_7030);

fn flag_options(flags: u32) -> FfiResult<LockOptions> {
    if flags & !REDLEAD_LOCK_FENCED != 0 {
        return Err(FfiError::invalid(format!(
            "flags has unknown bits 0x{:x}; only REDLEAD_LOCK_FENCED is defined",
            flags & !REDLEAD_LOCK_FENCED
        )));
    }
    Ok(if flags & REDLEAD_LOCK_FENCED != 0 {
        LockOptions::fenced()
    } else {
        LockOptions::default()
    })
}

fn options_arg(options: *const redlead_lock_options) -> FfiResult<LockOptions> {
    if options.is_null() {
        return Ok(LockOptions::default());
    }
    Ok(arg_ref(options, "options")?.clone())
}

/// The acquisition as a future that owns everything it uses; `cancel` ends it
/// with `REDLEAD_ERR_CANCELLED`. Dropping the core's acquire future mid-way is
/// safe: its attempt runs to the end in the background and releases a lock
/// that nobody waits for any more.
async fn acquire(
    rl: Arc<Redlock>,
    resource: String,
    ttl: Duration,
    wait: Duration,
    opts: LockOptions,
    cancel: Option<CancellationToken>,
) -> FfiResult<Lock> {
    let acquire = rl.acquire_with(&resource, ttl, wait, &opts);
    match cancel {
        None => Ok(acquire.await?),
        Some(cancel) => tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(FfiError::new(
                redlead_status::REDLEAD_ERR_CANCELLED,
                format!("acquire of {resource:?} cancelled"),
            )),
            r = acquire => Ok(r?),
        },
    }
}

/// One attempt to take the lock on `resource` (NUL-terminated UTF-8,
/// 1..=1024 bytes) for `ttl_ms` (> node timeout, <= 24 h), with `flags` (0 or
/// `REDLEAD_LOCK_FENCED`). `REDLEAD_NOT_ACQUIRED` when it is held elsewhere,
/// `REDLEAD_ERR_CONNECTION` when fewer than a quorum answered; both with the
/// per-node outcomes in `*error_out`. On success `*lock_out` receives the lock.
///
/// Blocks: yes, for about one round trip to the nodes; at most about the node
/// timeout (plus one more for a fenced lock).
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `client`.
/// Ownership: `client` and `resource` are borrowed for the call; the caller
/// owns `*lock_out` and frees it with `redlead_lock_free`.
/// NULL: `client`, `resource` and `lock_out` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_try_acquire(
    client: *const redlead_client,
    resource: *const c_char,
    ttl_ms: u64,
    flags: u32,
    lock_out: *mut *mut redlead_lock,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let rl = arg_shared(client, "client")?;
        let resource = arg_str(resource, "resource")?.to_string();
        check_out(lock_out, "lock_out")?;
        let opts = flag_options(flags)?;
        let ttl = Duration::from_millis(ttl_ms);
        let lock = runtime::block_on(acquire(rl, resource, ttl, Duration::ZERO, opts, None))??;
        write_out(lock_out, new_handle(lock));
        Ok(())
    })
}

/// Like `redlead_lock_try_acquire`, but retries with jittered delays until the
/// lock is taken or `wait_ms` (<= 24 h) is spent. The last failure is
/// returned.
///
/// Blocks: yes, at most about `wait_ms` plus one attempt (a round trip, at
/// most about the node timeout).
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `client`.
/// Ownership: `client` and `resource` are borrowed for the call; the caller
/// owns `*lock_out` and frees it with `redlead_lock_free`.
/// NULL: `client`, `resource` and `lock_out` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_acquire(
    client: *const redlead_client,
    resource: *const c_char,
    ttl_ms: u64,
    wait_ms: u64,
    flags: u32,
    lock_out: *mut *mut redlead_lock,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let rl = arg_shared(client, "client")?;
        let resource = arg_str(resource, "resource")?.to_string();
        check_out(lock_out, "lock_out")?;
        let opts = flag_options(flags)?;
        let (ttl, wait) = (
            Duration::from_millis(ttl_ms),
            Duration::from_millis(wait_ms),
        );
        let lock = runtime::block_on(acquire(rl, resource, ttl, wait, opts, None))??;
        write_out(lock_out, new_handle(lock));
        Ok(())
    })
}

/// Takes the lock on `resource` for `ttl_ms` with `options` (owner label,
/// fencing, auto-extension), retrying until `wait_ms` (0: one attempt, like
/// `redlead_lock_try_acquire`) is spent or `cancel` is cancelled
/// (`REDLEAD_ERR_CANCELLED`; an attempt already sent finishes in the
/// background and releases what it took, leaving no key).
///
/// Blocks: yes, at most about `wait_ms` plus one attempt, or until `cancel`.
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `client`.
/// Ownership: `client`, `resource`, `options` and `cancel` are borrowed for
/// the call (`options` is copied); the caller owns `*lock_out` and frees it
/// with `redlead_lock_free`.
/// NULL: `client`, `resource` and `lock_out` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `options` NULL means the defaults,
/// `cancel` NULL means not cancellable, `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_acquire_with(
    client: *const redlead_client,
    resource: *const c_char,
    ttl_ms: u64,
    wait_ms: u64,
    options: *const redlead_lock_options,
    cancel: *const redlead_cancel,
    lock_out: *mut *mut redlead_lock,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let rl = arg_shared(client, "client")?;
        let resource = arg_str(resource, "resource")?.to_string();
        check_out(lock_out, "lock_out")?;
        let opts = options_arg(options)?;
        let cancel = token(cancel)?;
        let (ttl, wait) = (
            Duration::from_millis(ttl_ms),
            Duration::from_millis(wait_ms),
        );
        let lock = runtime::block_on(acquire(rl, resource, ttl, wait, opts, cancel))??;
        write_out(lock_out, new_handle(lock));
        Ok(())
    })
}

/// Starts `redlead_lock_acquire_with` in the background and returns at once;
/// `completion.call` receives the status and, on success, the lock. Bad
/// arguments found before starting (NULL, invalid UTF-8, a ttl the client
/// rejects) are returned here; everything else arrives through the
/// completion.
///
/// Blocks: no.
/// Threads: any, including a tokio runtime thread and a redlead callback.
/// Ownership: `client`, `resource`, `options` and `cancel` are borrowed for
/// the call (copied or shared as needed; they may be freed right after).
/// `completion` is moved into the library: when this returns `REDLEAD_OK`,
/// `call` runs exactly once later on a `redlead-cb` thread, then `drop`;
/// otherwise `call` never runs and `drop` has run. The lock and error handed
/// to `call` belong to the callee.
/// NULL: `client`, `resource` and `completion.call` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `options`, `cancel`, `error_out` may be.
#[no_mangle]
pub extern "C" fn redlead_lock_acquire_async(
    client: *const redlead_client,
    resource: *const c_char,
    ttl_ms: u64,
    wait_ms: u64,
    options: *const redlead_lock_options,
    cancel: *const redlead_cancel,
    completion: redlead_completion,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    // Owned from the first line: every failure below drops it (drop only).
    let completion = Completion::new(completion);
    boundary!(error_out, {
        completion.check()?;
        let rl = arg_shared(client, "client")?;
        let resource = arg_str(resource, "resource")?.to_string();
        let opts = options_arg(options)?;
        let cancel = token(cancel)?;
        let ttl = Duration::from_millis(ttl_ms);
        rl.config().check_ttl(ttl)?;
        let rt = runtime::background()?;
        let completion = completion.start();
        rt.spawn(async move {
            let r = acquire(
                rl,
                resource,
                ttl,
                Duration::from_millis(wait_ms),
                opts,
                cancel,
            )
            .await;
            completion.complete(r.map(new_handle));
        });
        Ok(())
    })
}

/// Sets the lock's remaining time to live to `ttl_ms` on every node where it
/// is still this lock's; succeeds only with a quorum and never re-creates an
/// expired key. `REDLEAD_LOST` when a quorum says it is gone,
/// `REDLEAD_ERR_CLOSED` after release.
///
/// Blocks: yes, for about one round trip; at most about the node timeout.
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `lock`, including its free.
/// Ownership: `lock` is borrowed.
/// NULL: `lock` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`);
/// `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_extend(
    lock: *const redlead_lock,
    ttl_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let st = arg_shared(lock, "lock")?;
        runtime::block_on(async move { st.lock.extend(Duration::from_millis(ttl_ms)).await })??;
        Ok(())
    })
}

/// Starts `redlead_lock_extend` in the background and returns at once;
/// `completion.call` receives its status (the lock argument of `call` is
/// NULL).
///
/// Blocks: no.
/// Threads: any, including a tokio runtime thread and a redlead callback.
/// Ownership: `lock` is borrowed for the call (the extension keeps what it
/// needs, so `lock` may be freed right after). `completion` is moved into
/// the library, as for `redlead_lock_acquire_async`.
/// NULL: `lock` and `completion.call` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_extend_async(
    lock: *const redlead_lock,
    ttl_ms: u64,
    completion: redlead_completion,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    let completion = Completion::new(completion);
    boundary!(error_out, {
        completion.check()?;
        let st = arg_shared(lock, "lock")?;
        let rt = runtime::background()?;
        let completion = completion.start();
        rt.spawn(async move {
            let r = st.lock.extend(Duration::from_millis(ttl_ms)).await;
            completion.complete(r.map(|_| ptr::null_mut()).map_err(FfiError::from));
        });
        Ok(())
    })
}

/// Releases the lock on every node; returns when a quorum answered.
/// `REDLEAD_ERR_CLOSED` when it was already released (the handle still must be
/// freed), `REDLEAD_LOST` when it had expired before the release (the critical
/// section may have overlapped another holder's). Lost callbacks registered
/// on the lock are dropped without a call.
///
/// Blocks: yes, for about one round trip; at most about the node timeout.
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `lock`, including its free.
/// Ownership: `lock` is borrowed (free it afterwards).
/// NULL: `lock` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`);
/// `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_release(
    lock: *const redlead_lock,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let st = arg_shared(lock, "lock")?;
        st.ended.cancel();
        runtime::block_on(async move { st.lock.release().await })??;
        Ok(())
    })
}

/// Starts `redlead_lock_release` in the background and returns at once;
/// `completion.call` receives its status (the lock argument of `call` is
/// NULL).
///
/// Blocks: no.
/// Threads: any, including a tokio runtime thread and a redlead callback.
/// Ownership: `lock` is borrowed for the call (it may be freed right after).
/// `completion` is moved into the library, as for
/// `redlead_lock_acquire_async`.
/// NULL: `lock` and `completion.call` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_release_async(
    lock: *const redlead_lock,
    completion: redlead_completion,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    let completion = Completion::new(completion);
    boundary!(error_out, {
        completion.check()?;
        let st = arg_shared(lock, "lock")?;
        let rt = runtime::background()?;
        st.ended.cancel();
        let completion = completion.start();
        rt.spawn(async move {
            let r = st.lock.release().await;
            completion.complete(r.map(|_| ptr::null_mut()).map_err(FfiError::from));
        });
        Ok(())
    })
}

/// Registers `closure` to be called once if the lock is lost while held:
/// when a quorum says it is gone, or when less than its safety margin of
/// validity is left without a successful extension (the moment
/// `redlead_lock_is_held` turns 0 by itself). Already lost: `call` runs soon.
/// Released or freed first: `drop` runs without `call`. Several closures may
/// be registered; each gets its own call.
///
/// Blocks: no.
/// Threads: any, concurrently with any other call on `lock`.
/// Ownership: `lock` is borrowed. `closure` is moved into the library: `call`
/// runs at most once on a `redlead-cb` thread, `drop` exactly once
/// after it, also when this call fails (`REDLEAD_ERR_CLOSED` after release).
/// NULL: `lock` and `closure.call` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_on_lost(
    lock: *const redlead_lock,
    closure: redlead_lost_closure,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    let closure = LostClosure::new(closure);
    boundary!(error_out, {
        if !closure.has_call() {
            return Err(FfiError::invalid("closure.call must not be NULL"));
        }
        let st = arg_shared(lock, "lock")?;
        if st.ended.is_cancelled() {
            return Err(FfiError::new(
                redlead_status::REDLEAD_ERR_CLOSED,
                format!("{}: lock already released", st.lock.resource()),
            ));
        }
        let (lost, ended) = (st.lock.lost_token(), st.ended.clone());
        drop(st); // the watcher must not keep the lock alive
        runtime::background()?.spawn(async move {
            tokio::select! {
                biased;
                _ = lost.cancelled() => closure.fire(),
                _ = ended.cancelled() => closure.discard(),
            }
        });
        Ok(())
    })
}

/// Milliseconds of validity left (0 when over or released). Act on the
/// protected resource only within it.
///
/// Blocks: no. Threads: any, concurrently with any other call on `lock`.
/// Ownership: `lock` is borrowed. NULL: answers 0 (as for a freed `lock`, and
/// in a forked child).
#[no_mangle]
pub extern "C" fn redlead_lock_validity_ms(lock: *const redlead_lock) -> u64 {
    boundary!({
        match arg_ref(lock, "lock") {
            Ok(l) if l.lock.is_held() => l.lock.validity().as_millis() as u64,
            _ => 0,
        }
    })
}

/// 1 while it is safe to act under the lock: held, not known lost, and more
/// than its safety margin (max(ttl / 10, 2 x node timeout)) of validity left.
/// Turns 0 *before* the validity ends when the lock could not be extended, so
/// that the holder stops before another can get the lock. 0 also after
/// release and on any internal error (fail safe).
///
/// Blocks: no. Threads: any, concurrently with any other call on `lock`.
/// Ownership: `lock` is borrowed. NULL: answers 0 (as for a freed `lock`, and
/// in a forked child).
#[no_mangle]
pub extern "C" fn redlead_lock_is_held(lock: *const redlead_lock) -> u8 {
    boundary!({
        match arg_ref(lock, "lock") {
            Ok(l) => u8::from(l.lock.is_held() && !l.lock.is_lost()),
            Err(_) => 0,
        }
    })
}

/// The fencing token of a lock acquired fenced: strictly greater than every
/// earlier fenced acquisition's of the same resource. 0 for an unfenced lock
/// (tokens start at 1).
///
/// Blocks: no. Threads: any, concurrently with any other call on `lock`.
/// Ownership: `lock` is borrowed. NULL: answers 0 (as for a freed `lock`, and
/// in a forked child).
#[no_mangle]
pub extern "C" fn redlead_lock_fencing_token(lock: *const redlead_lock) -> u64 {
    boundary!({
        arg_ref(lock, "lock")
            .ok()
            .and_then(|l| l.lock.fencing_token())
            .map_or(0, |t| t.get())
    })
}

/// How many times the lock was extended (by `redlead_lock_extend` or by
/// auto-extension).
///
/// Blocks: no. Threads: any, concurrently with any other call on `lock`.
/// Ownership: `lock` is borrowed. NULL: answers 0 (as for a freed `lock`, and
/// in a forked child).
#[no_mangle]
pub extern "C" fn redlead_lock_extensions(lock: *const redlead_lock) -> u32 {
    boundary!({
        arg_ref(lock, "lock")
            .map(|l| l.lock.extensions())
            .unwrap_or(0)
    })
}

/// Frees a lock. A lock still held is released in the background: the
/// release is queued on each node before this returns, so a later acquire of
/// the same resource by the same client queues behind it; call
/// `redlead_lock_release` first to wait for the release and see its outcome.
/// (It used to block for the release; it no longer waits on the network, so
/// it is safe from finalizers and SafeHandles.) Lost callbacks are dropped
/// without a call.
///
/// Blocks: no.
/// Threads: any, including a runtime thread or a redlead callback; calls
/// still waiting on `lock` in other threads finish normally.
/// Ownership: takes `lock`; do not use it again (a second free of a recent
/// handle is detected and ignored).
/// NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_lock_free(lock: *mut redlead_lock) {
    boundary!({
        if let Ok(Some(st)) = take(lock, "lock") {
            st.ended.cancel();
            drop(st);
        }
    })
}

/// A new set of lock options holding the defaults: not fenced, no owner
/// label, no auto-extension.
///
/// Blocks: no. Threads: any. Ownership: the caller owns the result and frees
/// it with `redlead_lock_options_free`. NULL: returns NULL only in a forked
/// child or on an internal panic.
#[no_mangle]
pub extern "C" fn redlead_lock_options_new() -> *mut redlead_lock_options {
    boundary!({ give::<redlead_lock_options>(LockOptions::default()) })
}

/// Frees lock options.
///
/// Blocks: no. Threads: any, but not concurrently with another call on the
/// same `options`. Ownership: takes `options`. NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_lock_options_free(options: *mut redlead_lock_options) {
    boundary!({
        let _ = take(options, "options");
    })
}

/// Non-zero: also obtain a fencing token (one more round trip).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `options`. Ownership: `options` is borrowed and mutated.
/// NULL: `options` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`);
/// `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_options_set_fenced(
    options: *mut redlead_lock_options,
    fenced: u8,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        arg_mut(options, "options")?.fenced = fenced != 0;
        Ok(())
    })
}

/// A label stored with the lock (`<token>:<owner>` on the nodes), so that
/// anyone can ask who holds the resource (`redlead_client_holder`). UTF-8,
/// 1..=256 bytes (checked at acquire time, by the core).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `options`. Ownership: `options` is borrowed and mutated; `owner` is
/// borrowed and copied.
/// NULL: `options` and `owner` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_options_set_owner(
    options: *mut redlead_lock_options,
    owner: *const c_char,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let o = arg_mut(options, "options")?;
        let owner = arg_str(owner, "owner")?;
        o.owner = Some(owner.to_string());
        Ok(())
    })
}

/// Keep the lock alive in the background, with a cap (Redlock's liveness
/// rule: a holder must not extend forever): stop once it was held
/// `max_hold_ms` (0: no such cap) or after `max_extensions` extensions (0: no
/// such cap); at least one cap is required. `interval_ms` is the time between
/// extensions (0: ttl / 3). When the cap is reached or an extension fails,
/// the lock ends at its validity and the lost signal fires first
/// (`redlead_lock_on_lost`). The caps are checked against the ttl at acquire
/// time, by the core.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `options`. Ownership: `options` is borrowed and mutated.
/// NULL: `options` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`);
/// `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_lock_options_set_auto_extend(
    options: *mut redlead_lock_options,
    max_hold_ms: u64,
    max_extensions: u32,
    interval_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let o = arg_mut(options, "options")?;
        if max_hold_ms == 0 && max_extensions == 0 {
            return Err(FfiError::invalid(
                "auto_extend needs a cap: max_hold_ms or max_extensions (both are 0)",
            ));
        }
        let mut auto = if max_hold_ms > 0 {
            AutoExtend::for_at_most(Duration::from_millis(max_hold_ms))
        } else {
            AutoExtend::times(max_extensions)
        };
        if max_hold_ms > 0 && max_extensions > 0 {
            auto.max_extensions = Some(max_extensions);
        }
        if interval_ms > 0 {
            auto = auto.with_interval(Duration::from_millis(interval_ms));
        }
        o.auto_extend = Some(auto);
        Ok(())
    })
}
