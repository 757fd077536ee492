//! rediss:// through the C ABI, with a private CA set on the config.

use std::ffi::CString;
use std::os::raw::c_char;
use std::ptr;

use redlead::client::{redlead_client_free, redlead_client_new};
use redlead::config::{
    redlead_config_free, redlead_config_new, redlead_config_set_tls_client_cert_pem,
    redlead_config_set_tls_root_ca_pem,
};
use redlead::error::{redlead_error_free, redlead_status};
use redlead::lock::{redlead_lock_free, redlead_lock_release, redlead_lock_try_acquire};
use redlead_harness::{Node, TlsFiles};

#[test]
fn rediss_nodes_with_a_private_ca_through_the_c_abi() {
    let files = TlsFiles::generate();
    let nodes: Vec<Node> = (0..3).map(|_| Node::start_tls(&files)).collect();
    let urls: Vec<CString> = nodes
        .iter()
        .map(|n| CString::new(n.tls_url().unwrap()).unwrap())
        .collect();
    let ptrs: Vec<*const c_char> = urls.iter().map(|u| u.as_ptr()).collect();

    let config = redlead_config_new();
    let not_pem = CString::new("hello").unwrap();
    let mut err = ptr::null_mut();
    assert_eq!(
        redlead_config_set_tls_root_ca_pem(config, not_pem.as_ptr(), &mut err),
        redlead_status::REDLEAD_ERR_INVALID_ARGUMENT
    );
    redlead_error_free(err);
    assert_eq!(
        redlead_config_set_tls_client_cert_pem(
            config,
            not_pem.as_ptr(),
            ptr::null(),
            ptr::null_mut()
        ),
        redlead_status::REDLEAD_ERR_INVALID_ARGUMENT
    );
    let ca = CString::new(files.ca_pem.clone()).unwrap();
    assert_eq!(
        redlead_config_set_tls_root_ca_pem(config, ca.as_ptr(), ptr::null_mut()),
        redlead_status::REDLEAD_OK
    );

    let mut client = ptr::null_mut();
    assert_eq!(
        redlead_client_new(
            ptrs.as_ptr(),
            ptrs.len(),
            config,
            &mut client,
            ptr::null_mut()
        ),
        redlead_status::REDLEAD_OK
    );
    redlead_config_free(config);
    let res = CString::new("c-tls").unwrap();
    let mut lock = ptr::null_mut();
    let st = redlead_lock_try_acquire(client, res.as_ptr(), 5000, 1, &mut lock, ptr::null_mut());
    assert_eq!(st, redlead_status::REDLEAD_OK);
    assert_eq!(
        redlead_lock_release(lock, ptr::null_mut()),
        redlead_status::REDLEAD_OK
    );
    redlead_lock_free(lock);
    redlead_client_free(client);

    // Without the CA: the certificate is not trusted, no quorum.
    let mut client = ptr::null_mut();
    assert_eq!(
        redlead_client_new(
            ptrs.as_ptr(),
            ptrs.len(),
            ptr::null(),
            &mut client,
            ptr::null_mut()
        ),
        redlead_status::REDLEAD_OK
    );
    let mut lock = ptr::null_mut();
    let st = redlead_lock_try_acquire(client, res.as_ptr(), 5000, 0, &mut lock, ptr::null_mut());
    assert_eq!(st, redlead_status::REDLEAD_ERR_CONNECTION);
    assert!(lock.is_null());
    redlead_client_free(client);
}
