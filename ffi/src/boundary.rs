//! The boundary between C and Rust: the one macro every export goes through,
//! and the only place where raw pointers become Rust references.
//!
//! `boundary!(error_out, { ... })` wraps a fallible export: the body returns
//! `FfiResult<()>`; the macro refuses calls in a forked child, catches any
//! panic (`REDLEAD_ERR_PANIC`, never an abort and never an unwind into C),
//! and turns an error into a status plus an owned `redlead_error` in
//! `*error_out` when `error_out` is not NULL. `boundary!({ ... })` wraps an
//! infallible export (accessors, frees) and returns a neutral value on panic.
//!
//! What misuse is detected: NULL pointers always; a misaligned pointer
//! always; a pointer to another handle type, or to a freed handle whose memory
//! was not reused yet, through the magic number each handle starts with
//! (freeing overwrites it). Not detected in general: a use after free once the
//! memory was reused, a double free after reuse, dangling string pointers.

use std::ffi::CStr;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{redlead_error, redlead_status, FfiError, FfiResult};

/// Wraps the body of every export. See the module documentation.
macro_rules! boundary {
    ($error_out:ident, $body:block) => {
        crate::boundary::run_fallible($error_out, move || -> crate::error::FfiResult<()> { $body })
    };
    ($body:block) => {
        crate::boundary::run_infallible(move || $body)
    };
}

/// What an infallible export returns when its body panicked.
pub trait PanicValue {
    fn on_panic() -> Self;
}
impl PanicValue for () {
    fn on_panic() -> Self {}
}
impl PanicValue for u8 {
    fn on_panic() -> Self {
        0
    }
}
impl PanicValue for u32 {
    fn on_panic() -> Self {
        0
    }
}
impl PanicValue for u64 {
    fn on_panic() -> Self {
        0
    }
}
impl PanicValue for usize {
    fn on_panic() -> Self {
        0
    }
}
impl PanicValue for redlead_status {
    fn on_panic() -> Self {
        redlead_status::REDLEAD_ERR_PANIC
    }
}
impl<T> PanicValue for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}
impl<T> PanicValue for *mut T {
    fn on_panic() -> Self {
        std::ptr::null_mut()
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string());
    format!("panic inside redlead (a bug, please report it): {what}")
}

pub(crate) fn run_infallible<T: PanicValue>(f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| T::on_panic())
}

pub(crate) fn run_fallible(
    error_out: *mut *mut redlead_error,
    f: impl FnOnce() -> FfiResult<()>,
) -> redlead_status {
    let result = if crate::runtime::forked() {
        Err(FfiError::new(
            redlead_status::REDLEAD_ERR_FORKED,
            "redlead was used in a child process after fork(); its runtime threads exist only in the parent",
        ))
    } else {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(payload) => Err(FfiError::new(
                redlead_status::REDLEAD_ERR_PANIC,
                panic_message(&*payload),
            )),
        }
    };
    match result {
        Ok(()) => redlead_status::REDLEAD_OK,
        Err(e) => {
            let status = e.status;
            if !error_out.is_null() && (error_out as usize) % std::mem::align_of::<usize>() == 0 {
                // Errors are created only here, so every error object the caller
                // sees went through the boundary.
                let boxed = catch_unwind(AssertUnwindSafe(|| {
                    Box::into_raw(Box::new(redlead_error::from_ffi(e)))
                }))
                .unwrap_or(std::ptr::null_mut());
                // SAFETY: non-NULL and aligned; the caller promises it points
                // to a writable `redlead_error *`.
                unsafe { error_out.write(boxed) };
            }
            status
        }
    }
}

/// A handle type: carries a magic number that `take_box` claims atomically.
pub trait Handle {
    const MAGIC: u64;
    const NAME: &'static str;
    fn magic(&self) -> &AtomicU64;
}

/// Declares a handle type (the struct has a `magic: AtomicU64` field): its
/// magic number and name, written once.
macro_rules! handle {
    ($ty:ident, $magic:expr) => {
        impl crate::boundary::Handle for $ty {
            const MAGIC: u64 = $magic;
            const NAME: &'static str = stringify!($ty);
            fn magic(&self) -> &std::sync::atomic::AtomicU64 {
                &self.magic
            }
        }
    };
}

const DEAD: u64 = 0xdead_dead_dead_dead;

fn check_ptr<T: Handle>(p: *const T, name: &str) -> FfiResult<()> {
    if p.is_null() {
        return Err(FfiError::invalid(format!("{name} must not be NULL")));
    }
    if (p as usize) % std::mem::align_of::<T>() != 0 {
        return Err(FfiError::invalid(format!(
            "{name} is not a {} pointer (misaligned)",
            T::NAME
        )));
    }
    // SAFETY: non-NULL and aligned; the caller promises it came from this
    // library. Reading the magic catches the common misuses (see module docs).
    let magic = unsafe { (*p).magic().load(Ordering::Acquire) };
    if magic != T::MAGIC {
        return Err(FfiError::invalid(format!(
            "{name} is not a live {} (already freed, or another type)",
            T::NAME
        )));
    }
    Ok(())
}

/// Borrows a handle passed by C.
pub(crate) fn arg_ref<'a, T: Handle>(p: *const T, name: &str) -> FfiResult<&'a T> {
    check_ptr(p, name)?;
    // SAFETY: checked above; the handle lives until the caller frees it.
    Ok(unsafe { &*p })
}

/// Takes back ownership of a handle for freeing; NULL gives `None`. The
/// magic number is claimed with a compare-exchange, so of two threads freeing
/// one handle at once exactly one gets it and the other an error, never a
/// double free (while the first still runs; after it returned the memory is
/// gone, see the module docs).
pub(crate) fn take_box<T: Handle>(p: *mut T, name: &str) -> FfiResult<Option<Box<T>>> {
    if p.is_null() {
        return Ok(None);
    }
    check_ptr(p, name)?;
    // SAFETY: checked above; the caller promises the handle is not freed yet.
    let claimed = unsafe { (*p).magic() }
        .compare_exchange(T::MAGIC, DEAD, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if !claimed {
        return Err(FfiError::invalid(format!(
            "{name} is not a live {} (already freed, or being freed by another thread)",
            T::NAME
        )));
    }
    // SAFETY: created by `into_handle`, and this thread alone claimed it.
    Ok(Some(unsafe { Box::from_raw(p) }))
}

/// Gives a new handle to C.
pub(crate) fn into_handle<T: Handle>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}

/// Borrows a NUL-terminated UTF-8 string passed by C.
pub(crate) fn arg_str<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(FfiError::invalid(format!("{name} must not be NULL")));
    }
    // SAFETY: non-NULL; the caller promises a NUL-terminated string that
    // outlives the call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| {
        FfiError::invalid(format!(
            "{name} is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Checks a required out-parameter before any work is done.
pub(crate) fn check_out<T>(p: *mut T, name: &str) -> FfiResult<()> {
    if p.is_null() {
        return Err(FfiError::invalid(format!("{name} must not be NULL")));
    }
    if (p as usize) % std::mem::align_of::<T>() != 0 {
        return Err(FfiError::invalid(format!("{name} is misaligned")));
    }
    Ok(())
}

/// Writes an out-parameter checked with `check_out`; called only on success.
pub(crate) fn write_out<T>(p: *mut T, v: T) {
    // SAFETY: checked by `check_out` at the start of the call.
    unsafe { p.write(v) }
}

/// Borrows an array of `n` items passed by C.
pub(crate) fn arg_slice<'a, T>(p: *const T, n: usize, name: &str) -> FfiResult<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(FfiError::invalid(format!(
            "{name} must not be NULL when its count is {n}"
        )));
    }
    if n > 4096 {
        return Err(FfiError::invalid(format!(
            "{name}: {n} items is more than the 4096 accepted"
        )));
    }
    // SAFETY: non-NULL; the caller promises `n` readable items.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// Copies `s` and a NUL into `buf` when it fits in `buf_len` bytes; writes an
/// empty string for `None`. Returns the size needed (0 for `None`).
pub(crate) fn write_c_str(buf: *mut c_char, buf_len: usize, s: Option<&str>) -> usize {
    let needed = s.map_or(0, |s| s.len() + 1);
    if buf.is_null() || buf_len == 0 {
        return needed;
    }
    match s {
        // SAFETY: the caller promises `buf_len` writable bytes at `buf`.
        Some(s) if needed <= buf_len => unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
            *buf.add(s.len()) = 0;
        },
        // SAFETY: as above, at least one byte.
        None => unsafe { *buf = 0 },
        Some(_) => {}
    }
    needed
}
