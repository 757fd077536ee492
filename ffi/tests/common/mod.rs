//! What the Rust-side tests of the C ABI share.

use std::ffi::CString;
use std::os::raw::c_char;
use std::ptr;

use redlead::client::{redlead_client, redlead_client_new};
use redlead::error::redlead_status;
use redlead_harness::Cluster;

/// A client over the cluster's nodes with the default configuration.
pub fn new_client(cluster: &Cluster) -> *mut redlead_client {
    let urls: Vec<CString> = cluster
        .urls()
        .into_iter()
        .map(|u| CString::new(u).unwrap())
        .collect();
    let ptrs: Vec<*const c_char> = urls.iter().map(|u| u.as_ptr()).collect();
    let mut client = ptr::null_mut();
    let st = redlead_client_new(
        ptrs.as_ptr(),
        ptrs.len(),
        ptr::null(),
        &mut client,
        ptr::null_mut(),
    );
    assert_eq!(st, redlead_status::REDLEAD_OK);
    client
}
