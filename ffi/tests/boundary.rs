//! Rust-side tests of the boundary properties that C cannot easily provoke:
//! a blocking call from inside a tokio runtime thread, and panics.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;

use redlead::client::{redlead_client, redlead_client_free, redlead_client_new};
use redlead::error::{redlead_error, redlead_error_free, redlead_error_message, redlead_status};
use redlead::lock::{redlead_lock, redlead_lock_try_acquire};
use redlead::redlead_test_panic;

fn message(e: *mut redlead_error) -> String {
    // SAFETY: a live error from the library; the string lives until it is freed.
    unsafe { CStr::from_ptr(redlead_error_message(e)) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn blocking_call_from_a_runtime_thread_is_wrong_thread_not_a_panic() {
    let cluster = redlead_harness::Cluster::start(3);
    let urls: Vec<CString> = cluster
        .urls()
        .into_iter()
        .map(|u| CString::new(u).unwrap())
        .collect();
    let ptrs: Vec<*const c_char> = urls.iter().map(|u| u.as_ptr()).collect();
    let mut client: *mut redlead_client = ptr::null_mut();
    let st = redlead_client_new(
        ptrs.as_ptr(),
        ptrs.len(),
        ptr::null(),
        &mut client,
        ptr::null_mut(),
    );
    assert_eq!(st, redlead_status::REDLEAD_OK);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let resource = CString::new("rust-wrong-thread").unwrap();
    let (st, msg) = rt.block_on(async {
        let mut lock: *mut redlead_lock = ptr::null_mut();
        let mut err: *mut redlead_error = ptr::null_mut();
        let st = redlead_lock_try_acquire(client, resource.as_ptr(), 5000, 0, &mut lock, &mut err);
        assert!(lock.is_null(), "lock_out must stay untouched on failure");
        let msg = message(err);
        redlead_error_free(err);
        (st, msg)
    });
    println!("injected: blocking call inside a tokio runtime; got {st:?}: {msg}");
    assert_eq!(st, redlead_status::REDLEAD_ERR_WRONG_THREAD);
    assert!(msg.contains("runtime"), "{msg}");
    redlead_client_free(client);
}

#[test]
fn panic_inside_an_export_becomes_a_status_with_a_message() {
    let mut err: *mut redlead_error = ptr::null_mut();
    let st = redlead_test_panic(&mut err);
    assert_eq!(st, redlead_status::REDLEAD_ERR_PANIC);
    assert!(message(err).contains("deliberate panic"));
    redlead_error_free(err);
}
