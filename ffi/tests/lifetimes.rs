//! Handle lifetimes across threads through the C ABI (issue 8 items 10, 14):
//! a handle freed while another thread waits in a call on it, two threads
//! freeing one election at once, and a free behind a blocked callback.

use std::ffi::{c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redlead::client::{redlead_client, redlead_client_free};
use redlead::closure::{redlead_event, redlead_event_closure, redlead_event_kind};
use redlead::config::{
    redlead_election_config_free, redlead_election_config_new,
    redlead_election_config_set_stop_timeout_ms, redlead_election_config_set_ttl_ms,
};
use redlead::election::{
    redlead_election, redlead_election_free, redlead_election_is_leader, redlead_election_start,
};
use redlead::error::{redlead_error_free, redlead_status};
use redlead::lock::{redlead_lock, redlead_lock_free, redlead_lock_try_acquire};
use redlead_harness::Cluster;

mod common;
use common::new_client;

/// Pointers cross threads as integers: the test is about exactly that.
#[derive(Clone, Copy)]
struct Addr(usize);
unsafe impl Send for Addr {}

#[test]
fn client_freed_while_another_thread_waits_in_an_acquire() {
    let mut cluster = Cluster::start_in_memory(5);
    let client = new_client(&cluster);
    for n in &mut cluster.nodes[..3] {
        n.freeze();
    }
    let c = Addr(client as usize);
    let waiter = std::thread::spawn(move || {
        let mut lock: *mut redlead_lock = ptr::null_mut();
        let res = CString::new("freed-under-me").unwrap();
        let st = redlead_lock_try_acquire(
            c.0 as *const redlead_client,
            res.as_ptr(),
            5000,
            0,
            &mut lock,
            ptr::null_mut(),
        );
        redlead_lock_free(lock);
        st
    });
    // The acquire waits for the frozen nodes (node timeout); free the client
    // under it.
    std::thread::sleep(Duration::from_millis(10));
    redlead_client_free(client);
    let st = waiter.join().expect("the waiting thread crashed");
    println!("acquire with its client freed meanwhile: {st:?}");
    assert_eq!(st, redlead_status::REDLEAD_ERR_CONNECTION);
    for n in &mut cluster.nodes[..3] {
        n.thaw();
    }
}

struct Probe {
    drops: AtomicUsize,
    elected: AtomicUsize,
    block_elected: Duration,
    slow_drop: Duration,
}

unsafe extern "C" fn probe_call(ctx: *mut c_void, ev: *const redlead_event) {
    let p = unsafe { &*(ctx as *const Probe) };
    if unsafe { (*ev).kind } == redlead_event_kind::REDLEAD_EVENT_ELECTED {
        p.elected.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(p.block_elected);
    }
}

unsafe extern "C" fn probe_drop(ctx: *mut c_void) {
    let p = unsafe { &*(ctx as *const Probe) };
    std::thread::sleep(p.slow_drop);
    p.drops.fetch_add(1, Ordering::SeqCst);
}

fn start(
    client: *mut redlead_client,
    resource: &str,
    probe: &'static Probe,
    stop_timeout_ms: u64,
) -> *mut redlead_election {
    let cfg = redlead_election_config_new();
    redlead_election_config_set_ttl_ms(cfg, 1000, ptr::null_mut());
    redlead_election_config_set_stop_timeout_ms(cfg, stop_timeout_ms, ptr::null_mut());
    let (res, id) = (CString::new(resource).unwrap(), CString::new("a").unwrap());
    let mut e = ptr::null_mut();
    let closure = redlead_event_closure {
        context: probe as *const Probe as *mut c_void,
        call: Some(probe_call),
        drop: Some(probe_drop),
    };
    let st = redlead_election_start(
        client,
        res.as_ptr(),
        id.as_ptr(),
        cfg,
        closure,
        &mut e,
        ptr::null_mut(),
    );
    redlead_election_config_free(cfg);
    assert_eq!(st, redlead_status::REDLEAD_OK);
    let t = Instant::now();
    while redlead_election_is_leader(e) == 0 {
        assert!(t.elapsed() < Duration::from_secs(3), "not elected");
        std::thread::sleep(Duration::from_millis(5));
    }
    e
}

#[test]
fn two_threads_freeing_one_election_free_it_once() {
    let cluster = Cluster::start_in_memory(5);
    let client = new_client(&cluster);
    let probe: &'static Probe = Box::leak(Box::new(Probe {
        drops: AtomicUsize::new(0),
        elected: AtomicUsize::new(0),
        block_elected: Duration::ZERO,
        slow_drop: Duration::from_millis(300),
    }));
    let e = Addr(start(client, "double-free", probe, 5000) as usize);
    // The slow drop keeps the first free inside the library while the
    // second one arrives.
    let first = std::thread::spawn(move || {
        redlead_election_free(e.0 as *mut redlead_election, ptr::null_mut())
    });
    std::thread::sleep(Duration::from_millis(100));
    let mut err = ptr::null_mut();
    let second = redlead_election_free(e.0 as *mut redlead_election, &mut err);
    redlead_error_free(err);
    let first = first.join().unwrap();
    println!("first free: {first:?}, concurrent second free: {second:?}");
    assert_eq!(first, redlead_status::REDLEAD_OK);
    assert_eq!(second, redlead_status::REDLEAD_ERR_INVALID_ARGUMENT);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
    redlead_client_free(client);
}

#[test]
fn free_behind_a_blocked_callback_is_bounded_and_still_frees() {
    let cluster = Cluster::start_in_memory(5);
    let client = new_client(&cluster);
    let probe: &'static Probe = Box::leak(Box::new(Probe {
        drops: AtomicUsize::new(0),
        elected: AtomicUsize::new(0),
        block_elected: Duration::from_millis(2500),
        slow_drop: Duration::ZERO,
    }));
    let e = start(client, "blocked-free", probe, 300);
    let t = Instant::now();
    let mut err = ptr::null_mut();
    let st = redlead_election_free(e, &mut err);
    redlead_error_free(err);
    let took = t.elapsed();
    println!("free behind a callback blocked for 2.5 s: {st:?} after {took:?}");
    assert_eq!(st, redlead_status::REDLEAD_ERR_TIMEOUT);
    assert!(took < Duration::from_millis(1500), "free waited {took:?}");
    let key = "redlead:{blocked-free}";
    assert_eq!(
        cluster.count_key(key),
        0,
        "the leader's key outlived the free"
    );
    // The closure is dropped once the callback returns.
    let t = Instant::now();
    while probe.drops.load(Ordering::SeqCst) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "closure never dropped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
    redlead_client_free(client);
}
