//! Real faults seen through the C ABI: killed and frozen nodes give the right
//! status, per-node outcomes and bounded latency; nothing is left behind.

use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;
use std::time::{Duration, Instant};

use redlead::client::redlead_client_free;
use redlead::error::{
    redlead_error, redlead_error_free, redlead_error_node_count, redlead_error_node_outcome,
    redlead_outcome, redlead_status,
};
use redlead::lock::{
    redlead_lock, redlead_lock_free, redlead_lock_is_held, redlead_lock_release,
    redlead_lock_try_acquire,
};
use redlead_harness::Cluster;

mod common;
use common::new_client;

const FENCED: u32 = 1;

fn outcomes(err: *mut redlead_error) -> Vec<(String, redlead_outcome)> {
    (0..redlead_error_node_count(err))
        .map(|i| {
            let mut node: *const c_char = ptr::null();
            let mut outcome = redlead_outcome::REDLEAD_OUTCOME_OK;
            let mut msg: *const c_char = ptr::null();
            let st = redlead_error_node_outcome(
                err,
                i,
                &mut node,
                &mut outcome,
                &mut msg,
                ptr::null_mut(),
            );
            assert_eq!(st, redlead_status::REDLEAD_OK);
            // SAFETY: strings owned by the live error object.
            (
                unsafe { CStr::from_ptr(node) }
                    .to_string_lossy()
                    .into_owned(),
                outcome,
            )
        })
        .collect()
}

#[test]
fn killed_and_frozen_nodes_through_the_c_abi() {
    let mut cluster = Cluster::start(5);
    let client = new_client(&cluster);
    let res = CString::new("c-faults").unwrap();

    // Warm the connections, then lose two nodes: still a quorum.
    let mut lock: *mut redlead_lock = ptr::null_mut();
    assert_eq!(
        redlead_lock_try_acquire(
            client,
            res.as_ptr(),
            5000,
            FENCED,
            &mut lock,
            ptr::null_mut()
        ),
        redlead_status::REDLEAD_OK
    );
    assert_eq!(
        redlead_lock_release(lock, ptr::null_mut()),
        redlead_status::REDLEAD_OK
    );
    redlead_lock_free(lock);
    // Release returns at the quorum; let the other nodes drop the key too.
    let t = Instant::now();
    while cluster.count_key("redlead:{c-faults}") > 0 {
        assert!(t.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(2));
    }
    cluster.nodes[0].kill();
    cluster.nodes[1].freeze();
    let t = Instant::now();
    let mut lock: *mut redlead_lock = ptr::null_mut();
    let st = redlead_lock_try_acquire(
        client,
        res.as_ptr(),
        5000,
        FENCED,
        &mut lock,
        ptr::null_mut(),
    );
    println!(
        "injected: node 0 killed, node 1 frozen; acquire {st:?} in {:?}",
        t.elapsed()
    );
    assert_eq!(st, redlead_status::REDLEAD_OK);
    assert!(t.elapsed() < Duration::from_millis(400));
    assert_eq!(
        redlead_lock_release(lock, ptr::null_mut()),
        redlead_status::REDLEAD_OK
    );
    redlead_lock_free(lock);

    // A third node down: CONNECTION, with the dead nodes named, and no key left.
    cluster.nodes[2].kill();
    let t = Instant::now();
    let mut lock: *mut redlead_lock = ptr::null_mut();
    let mut err: *mut redlead_error = ptr::null_mut();
    let st = redlead_lock_try_acquire(client, res.as_ptr(), 5000, FENCED, &mut lock, &mut err);
    let took = t.elapsed();
    let outs = outcomes(err);
    println!("injected: third node killed; got {st:?} in {took:?}: {outs:?}");
    assert_eq!(st, redlead_status::REDLEAD_ERR_CONNECTION);
    assert!(lock.is_null());
    assert_eq!(outs.len(), 5);
    for i in [0, 1, 2] {
        assert!(
            matches!(
                outs[i].1,
                redlead_outcome::REDLEAD_OUTCOME_ERROR | redlead_outcome::REDLEAD_OUTCOME_TIMEOUT
            ),
            "node {i}: {:?}",
            outs[i]
        );
    }
    assert!(
        took < Duration::from_millis(400),
        "a frozen node delayed the failure: {took:?}"
    );
    redlead_error_free(err);
    assert_eq!(
        cluster.count_key("redlead:{c-faults}"),
        0,
        "a failed acquire left keys"
    );

    // Nodes back: locking works again.
    cluster.nodes[1].thaw();
    cluster.nodes[0].restart();
    cluster.nodes[2].restart();
    let mut lock: *mut redlead_lock = ptr::null_mut();
    let t = Instant::now();
    loop {
        let st = redlead_lock_try_acquire(
            client,
            res.as_ptr(),
            5000,
            FENCED,
            &mut lock,
            ptr::null_mut(),
        );
        if st == redlead_status::REDLEAD_OK {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "no recovery after restart: {st:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    redlead_lock_free(lock); // releases
    redlead_client_free(client);
}

#[test]
fn is_held_turns_false_before_the_validity_ends() {
    let cluster = Cluster::start(3);
    let client = new_client(&cluster);
    let res = CString::new("c-is-held").unwrap();
    let mut lock: *mut redlead_lock = ptr::null_mut();
    let t = Instant::now();
    assert_eq!(
        redlead_lock_try_acquire(client, res.as_ptr(), 1000, 0, &mut lock, ptr::null_mut()),
        redlead_status::REDLEAD_OK
    );
    assert_eq!(redlead_lock_is_held(lock), 1);
    while redlead_lock_is_held(lock) == 1 {
        assert!(t.elapsed() < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(1));
    }
    let at = t.elapsed();
    println!("unextended 1000 ms lock: is_held turned 0 after {at:?}");
    // Expected at ttl 1000 - drift 12 - margin 100 = 888 ms; it must come
    // before the validity ends (988 ms after the acquisition started).
    assert!(at < Duration::from_millis(988), "{at:?}");
    assert!(at > Duration::from_millis(800), "{at:?}");
    assert_eq!(redlead_lock_is_held(ptr::null()), 0);
    redlead_lock_free(lock);
    redlead_client_free(client);
}
