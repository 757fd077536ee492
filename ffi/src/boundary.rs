//! The boundary between C and Rust: the one macro every export goes through,
//! and the only place where raw pointers become Rust references.
//!
//! `boundary!(error_out, { ... })` wraps a fallible export: the body returns
//! `FfiResult<()>`; the macro refuses calls in a forked child
//! (`REDLEAD_ERR_FORKED`), catches any panic (`REDLEAD_ERR_PANIC`, never an
//! abort and never an unwind into C), and turns an error into a status plus an
//! owned `redlead_error` in `*error_out` when `error_out` is not NULL.
//! `boundary!({ ... })` wraps an infallible export (accessors, frees): in a
//! forked child it does not run the body and answers the neutral value (0,
//! false, NULL, nothing: a child holds no lock and leads nothing, and a free
//! leaks what belongs to the parent's runtime), and on a panic it answers the
//! same neutral value. Both checks live here and nowhere else, so an export
//! added later cannot forget them. `boundary!(any_process, ...)` is for the few
//! exports that touch no runtime object and mean the same in a child (the
//! version, status texts, error objects, config builders).
//!
//! Handles: every handle type is declared with `handle!`, which writes its
//! magic number, its constructor and its accessors once. A handle's Rust
//! object sits behind the handle; blocking calls clone it out (`arg_shared`,
//! an `Arc`) before they wait, so no borrow of handle memory spans a network
//! wait and a free on another thread meanwhile is safe. `*_free` claims the
//! magic number with a compare-exchange, drops the object, and parks the
//! emptied handle memory in a quarantine of the last 1024 freed handles
//! instead of giving it back to the allocator: a second free or a use after
//! free of any of them reads a dead magic number and gets
//! `REDLEAD_ERR_INVALID_ARGUMENT`, also under AddressSanitizer.
//!
//! What misuse is detected: NULL pointers always; a misaligned pointer
//! always; a pointer to another handle type; a use after free or a double
//! free of one of the last 1024 handles freed. Not detected: a use after free
//! of an older handle (its memory may be reused), a free racing with the
//! *start* of another call on the same handle, dangling string pointers.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ffi::CStr;
use std::mem::ManuallyDrop;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::redlead_error;
use crate::status::{redlead_status, FfiError, FfiResult};

/// Wraps the body of every export. See the module documentation.
macro_rules! boundary {
    (any_process, $error_out:ident, $body:block) => {
        crate::boundary::run_fallible(
            false,
            $error_out,
            move || -> crate::status::FfiResult<()> { $body },
        )
    };
    (any_process, $body:block) => {
        crate::boundary::run_infallible(false, move || $body)
    };
    ($error_out:ident, $body:block) => {
        crate::boundary::run_fallible(true, $error_out, move || -> crate::status::FfiResult<()> {
            $body
        })
    };
    ($body:block) => {
        crate::boundary::run_infallible(true, move || $body)
    };
}

/// What an infallible export answers in a forked child or after a panic:
/// the fail-safe value (not leading, not held, no token, no object).
pub trait Neutral {
    fn neutral() -> Self;
}
impl Neutral for () {
    fn neutral() -> Self {}
}
macro_rules! neutral_zero {
    ($($t:ty),*) => { $(impl Neutral for $t { fn neutral() -> Self { 0 } })* };
}
neutral_zero!(u8, u32, u64, usize);
impl Neutral for redlead_status {
    fn neutral() -> Self {
        redlead_status::REDLEAD_ERR_PANIC
    }
}
impl<T> Neutral for *const T {
    fn neutral() -> Self {
        std::ptr::null()
    }
}
impl<T> Neutral for *mut T {
    fn neutral() -> Self {
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

pub(crate) fn run_infallible<T: Neutral>(check_fork: bool, f: impl FnOnce() -> T) -> T {
    if check_fork && crate::runtime::forked() {
        return T::neutral();
    }
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| T::neutral())
}

pub(crate) fn run_fallible(
    check_fork: bool,
    error_out: *mut *mut redlead_error,
    f: impl FnOnce() -> FfiResult<()>,
) -> redlead_status {
    let result = if check_fork && crate::runtime::forked() {
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
            give_error(error_out, e);
            status
        }
    }
}

/// Writes an owned error object to `*error_out` when it is not NULL.
pub(crate) fn give_error(error_out: *mut *mut redlead_error, e: FfiError) {
    if !error_out.is_null() && (error_out as usize) % std::mem::align_of::<usize>() == 0 {
        // Errors are created only here and for completions, so every error
        // object the caller sees went through the boundary.
        let boxed = catch_unwind(AssertUnwindSafe(|| new_error(e))).unwrap_or(std::ptr::null_mut());
        // SAFETY: non-NULL and aligned; the caller promises it points to a
        // writable `redlead_error *`.
        unsafe { error_out.write(boxed) };
    }
}

/// A new error object for C.
pub(crate) fn new_error(e: FfiError) -> *mut redlead_error {
    give(crate::error::ErrorData::from_ffi(e))
}

/// A handle type: a magic number and the Rust object it stands for. Written
/// by `handle!`, never by hand.
///
/// # Safety
/// `slot` must return the struct's own `UnsafeCell`, and the struct must be
/// created only by `give`.
pub unsafe trait Handle: Sized + 'static {
    const MAGIC: u64;
    const NAME: &'static str;
    type Inner;
    fn magic(&self) -> &AtomicU64;
    fn slot(&self) -> &UnsafeCell<ManuallyDrop<Self::Inner>>;
    fn wrap(inner: Self::Inner) -> Self;
}

/// Declares a handle type: `handle!(redlead_lock => Arc<LockState>, MAGIC)`
/// for `pub struct redlead_lock { cell: HandleCell<Arc<LockState>> }` (the
/// struct itself is written out so that cbindgen sees the opaque type).
macro_rules! handle {
    ($ty:ident => $inner:ty, $magic:expr) => {
        // SAFETY: `slot` returns the struct's own cell; `give` is the only
        // constructor used (the fields are private to this module).
        unsafe impl crate::boundary::Handle for $ty {
            const MAGIC: u64 = $magic;
            const NAME: &'static str = stringify!($ty);
            type Inner = $inner;
            fn magic(&self) -> &std::sync::atomic::AtomicU64 {
                &self.cell.magic
            }
            fn slot(&self) -> &crate::boundary::HandleSlot<$inner> {
                &self.cell.inner
            }
            fn wrap(inner: $inner) -> Self {
                $ty {
                    cell: crate::boundary::HandleCell {
                        magic: std::sync::atomic::AtomicU64::new($magic),
                        inner: std::cell::UnsafeCell::new(std::mem::ManuallyDrop::new(inner)),
                    },
                }
            }
        }
        // The magic number is the first 8 bytes of every handle type (see
        // `HandleCell`): checked here, at compile time, for this one.
        const _: () = assert!(std::mem::offset_of!($ty, cell) == 0);
        // Handles are used from many threads at once through raw pointers:
        // their objects must be Send + Sync (checked at compile time).
        const _: fn() = || {
            fn send_sync<T: Send + Sync>() {}
            send_sync::<$inner>();
        };
    };
}

/// What every handle holds: its magic number first, then its object.
/// `repr(C)`, and each handle struct has this as its only field (at offset
/// 0, checked by `handle!`), so the magic number is the first 8 bytes of
/// every handle, whatever its type. A pointer to a handle of another type
/// is then told apart by reading those 8 bytes, which it has. With the
/// fields laid out by rustc, the magic number of a handle with a large
/// object came after it, past the end of a smaller handle: passing a
/// `redlead_cancel` to `redlead_election_config_free` read 56 bytes past
/// the cancel (found by the fuzz/ `c_abi` target under AddressSanitizer).
#[repr(C)]
pub struct HandleCell<T> {
    pub(crate) magic: AtomicU64,
    pub(crate) inner: HandleSlot<T>,
}

/// Where a handle keeps its object: dropped in place by `take`, never moved.
pub type HandleSlot<T> = UnsafeCell<ManuallyDrop<T>>;

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
    // library (freed handles stay readable while in quarantine).
    let magic = unsafe { (*p).magic().load(Ordering::Acquire) };
    if magic == DEAD {
        return Err(FfiError::invalid(format!(
            "{name} was already freed ({} used after its free)",
            T::NAME
        )));
    }
    if magic != T::MAGIC {
        return Err(FfiError::invalid(format!(
            "{name} is not a {} (another type, or not from this library)",
            T::NAME
        )));
    }
    Ok(())
}

/// Borrows the object behind a handle passed by C, for a call that does not
/// wait. Calls that wait use `arg_shared`.
pub(crate) fn arg_ref<'a, T: Handle>(p: *const T, name: &str) -> FfiResult<&'a T::Inner> {
    check_ptr(p, name)?;
    // SAFETY: checked above; the object lives until the handle is freed,
    // and the caller promises not to free it during this call.
    Ok(unsafe { &*(*p).slot().get() })
}

/// Mutably borrows the object behind a handle (config builders, documented as
/// not shared between threads while being set).
pub(crate) fn arg_mut<'a, T: Handle>(p: *mut T, name: &str) -> FfiResult<&'a mut T::Inner> {
    check_ptr(p, name)?;
    // SAFETY: checked above; the builder's contract excludes concurrent use.
    Ok(unsafe { &mut *(*p).slot().get() })
}

/// A shared reference to the object behind a handle, for a call that waits:
/// the handle may be freed meanwhile, the call keeps the object alive.
pub(crate) fn arg_shared<T, X>(p: *const T, name: &str) -> FfiResult<Arc<X>>
where
    T: Handle<Inner = Arc<X>>,
{
    Ok(Arc::clone(arg_ref(p, name)?))
}

/// Gives a new handle to C.
pub(crate) fn give<T: Handle>(inner: T::Inner) -> *mut T {
    Box::into_raw(Box::new(T::wrap(inner)))
}

/// Takes the object back from a handle for freeing; NULL gives `None`. The
/// magic number is claimed with a compare-exchange, so of two threads freeing
/// one handle exactly one gets the object and the other an error, never a
/// double free. The emptied handle goes to the quarantine.
pub(crate) fn take<T: Handle>(p: *mut T, name: &str) -> FfiResult<Option<T::Inner>> {
    if p.is_null() {
        return Ok(None);
    }
    check_ptr(p, name)?;
    // SAFETY: checked above; quarantined memory stays valid.
    let claimed = unsafe { (*p).magic() }
        .compare_exchange(T::MAGIC, DEAD, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    if !claimed {
        return Err(FfiError::invalid(format!(
            "{name} was already freed (or is being freed by another thread)",
        )));
    }
    // SAFETY: this thread alone claimed the handle; nothing reads the slot of
    // a dead handle, so the object is moved out exactly once.
    let inner = unsafe { ManuallyDrop::take(&mut *(*p).slot().get()) };
    quarantine(p);
    Ok(Some(inner))
}

/// Freed handles kept allocated (emptied) so that a double free or a use after
/// free of a recent handle reads a dead magic number rather than reused memory.
const QUARANTINE: usize = 1024;

struct Parked {
    ptr: usize,
    dealloc: unsafe fn(usize),
}

static PARKED: Mutex<VecDeque<Parked>> = Mutex::new(VecDeque::new());

unsafe fn dealloc_handle<T: Handle>(ptr: usize) {
    // SAFETY: `ptr` came from `give::<T>` and its object was already taken;
    // dropping the Box frees the memory only (the slot is ManuallyDrop).
    drop(unsafe { Box::from_raw(ptr as *mut T) });
}

fn quarantine<T: Handle>(p: *mut T) {
    let evicted = {
        let mut q = PARKED.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(Parked {
            ptr: p as usize,
            dealloc: dealloc_handle::<T>,
        });
        if q.len() > QUARANTINE {
            q.pop_front()
        } else {
            None
        }
    };
    if let Some(old) = evicted {
        // SAFETY: parked by `quarantine` with its own type's deallocator.
        unsafe { (old.dealloc)(old.ptr) };
    }
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

/// Takes back a string given out with `CString::into_raw`; NULL is a no-op.
pub(crate) fn free_c_string(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller promises `s` came from this library's
        // `CString::into_raw` and is freed once.
        drop(unsafe { std::ffi::CString::from_raw(s) });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The magic number is the first 8 bytes of every handle type, so that
    /// checking a pointer of another type reads only bytes it has (see
    /// `HandleCell`; `handle!` checks the cell's offset at compile time).
    #[test]
    fn every_handle_starts_with_its_magic_number() {
        fn check<T: Handle>(p: *mut T) {
            // SAFETY: a live handle of at least 8 bytes, aligned for u64.
            let first = unsafe { p.cast::<u64>().read() };
            assert_eq!(first, T::MAGIC, "{}", T::NAME);
            assert!(take(p, "p").unwrap().is_some());
        }
        check(give::<crate::config::redlead_config>(Default::default()));
        check(give::<crate::config::redlead_election_config>(
            Default::default(),
        ));
        check(give::<crate::lock::redlead_lock_options>(Default::default()));
        check(give::<crate::cancel::redlead_cancel>(Default::default()));
        check(give::<crate::client::redlead_outcomes>(Vec::new()));
        check(new_error(FfiError::invalid("x")));
    }
}
