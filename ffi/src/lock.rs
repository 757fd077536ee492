//! Lock handles: acquire, extend, release.

use std::os::raw::c_char;
use std::sync::Arc;
use std::time::Duration;

use redlead_core::{Lock, LockOptions};

use crate::boundary::{arg_ref, arg_shared, arg_str, check_out, give, take, write_out};
use crate::client::redlead_client;
use crate::error::{redlead_error, redlead_status, FfiError, FfiResult};
use crate::runtime;

/// Flag of `redlead_lock_try_acquire` / `redlead_lock_acquire`: also obtain a
/// fencing token (one more round trip).
pub const REDLEAD_LOCK_FENCED: u32 = 1;

/// A held (or formerly held) lock.
///
/// Ownership: created by the acquire functions, owned by the caller, freed
/// once with `redlead_lock_free`, which releases it if still held. Lifetime:
/// independent of the client it came from. Thread-safety: every function
/// taking a lock may be called from many threads at once.
pub struct redlead_lock {
    magic: std::sync::atomic::AtomicU64,
    /// Shared with calls in flight, so that no borrow of the handle's memory
    /// spans a network wait (the handle may be freed meanwhile).
    inner: crate::boundary::HandleSlot<Arc<Lock>>,
}

handle!(redlead_lock => Arc<Lock>, 0x7265_646c_6c63_6b30);

fn options(flags: u32) -> FfiResult<LockOptions> {
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

fn give_lock(lock_out: *mut *mut redlead_lock, lock: Lock) {
    write_out(lock_out, give::<redlead_lock>(Arc::new(lock)));
}

/// One attempt to take the lock on `resource` (borrowed NUL-terminated UTF-8,
/// 1..=1024 bytes) for `ttl_ms` (> node timeout, <= 24 h). Blocks for about
/// one round trip. `REDLEAD_NOT_ACQUIRED` when it is held elsewhere,
/// `REDLEAD_ERR_CONNECTION` when fewer than a quorum answered; both with the
/// per-node outcomes in `*error_out`. On success `*lock_out` receives a lock
/// the caller owns.
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
        let resource = arg_str(resource, "resource")?;
        check_out(lock_out, "lock_out")?;
        let opts = options(flags)?;
        let ttl = Duration::from_millis(ttl_ms);
        let lock = runtime::block_on(rl.try_acquire_with(resource, ttl, &opts))??;
        give_lock(lock_out, lock);
        Ok(())
    })
}

/// Like `redlead_lock_try_acquire`, but retries with jittered delays until the
/// lock is taken or `wait_ms` (<= 24 h) is spent; blocks at most about that
/// long. The last failure is returned.
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
        let resource = arg_str(resource, "resource")?;
        check_out(lock_out, "lock_out")?;
        let opts = options(flags)?;
        let (ttl, wait) = (
            Duration::from_millis(ttl_ms),
            Duration::from_millis(wait_ms),
        );
        let lock = runtime::block_on(rl.acquire_with(resource, ttl, wait, &opts))??;
        give_lock(lock_out, lock);
        Ok(())
    })
}

/// Sets the lock's remaining time to live to `ttl_ms` on every node where it
/// is still this lock's; succeeds only with a quorum and never re-creates an
/// expired key. `REDLEAD_LOST` when a quorum says it is gone,
/// `REDLEAD_ERR_CLOSED` after release. `lock` is borrowed.
#[no_mangle]
pub extern "C" fn redlead_lock_extend(
    lock: *const redlead_lock,
    ttl_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let lock = arg_shared(lock, "lock")?;
        runtime::block_on(lock.extend(Duration::from_millis(ttl_ms)))??;
        Ok(())
    })
}

/// Releases the lock on every node; returns when a quorum answered.
/// `REDLEAD_ERR_CLOSED` when it was already released (the handle still must be
/// freed), `REDLEAD_LOST` when it had expired before the release (the critical
/// section may have overlapped another holder's). `lock` is borrowed.
#[no_mangle]
pub extern "C" fn redlead_lock_release(
    lock: *const redlead_lock,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let lock = arg_shared(lock, "lock")?;
        runtime::block_on(lock.release())??;
        Ok(())
    })
}

/// Milliseconds of validity left (0 when over, released, or `lock` is NULL or
/// invalid). Act on the protected resource only within it. `lock` is borrowed.
#[no_mangle]
pub extern "C" fn redlead_lock_validity_ms(lock: *const redlead_lock) -> u64 {
    boundary!({
        match arg_ref(lock, "lock") {
            Ok(l) if l.is_held() => l.validity().as_millis() as u64,
            _ => 0,
        }
    })
}

/// 1 while it is safe to act under the lock: held, not known lost, and more
/// than its safety margin (max(ttl / 10, 2 x node timeout)) of validity left.
/// Turns 0 *before* the validity ends when the lock could not be extended, so
/// that the holder stops before another can get the lock. 0 also after
/// release, for a NULL or invalid `lock`, and on any internal error (fail
/// safe). Borrowed.
#[no_mangle]
pub extern "C" fn redlead_lock_is_held(lock: *const redlead_lock) -> u8 {
    boundary!({
        match arg_ref(lock, "lock") {
            Ok(l) => u8::from(l.is_held() && !l.is_lost()),
            Err(_) => 0,
        }
    })
}

/// The fencing token of a lock acquired with `REDLEAD_LOCK_FENCED`: strictly
/// greater than every earlier fenced acquisition's of the same resource.
/// 0 for an unfenced lock (tokens start at 1) or an invalid `lock`.
#[no_mangle]
pub extern "C" fn redlead_lock_fencing_token(lock: *const redlead_lock) -> u64 {
    boundary!({
        arg_ref(lock, "lock")
            .ok()
            .and_then(|l| l.fencing_token())
            .map_or(0, |t| t.get())
    })
}

/// Frees a lock, releasing it first if still held (blocking for about one
/// round trip; from a runtime thread the release runs in the background).
/// NULL is a no-op. The caller must not use `lock` again.
#[no_mangle]
pub extern "C" fn redlead_lock_free(lock: *mut redlead_lock) {
    boundary!({
        if let Ok(Some(l)) = take(lock, "lock") {
            if !runtime::on_runtime_thread() {
                // Closed (already released) and failures are fine here: the
                // key expires at its ttl anyway.
                let _ = runtime::block_on(l.release());
            }
            drop(l);
        }
    })
}
