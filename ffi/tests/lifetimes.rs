//! Handle lifetimes across threads through the C ABI (issue 8 items 10, 14):
//! a handle freed while another thread waits in a call on it, two threads
//! freeing one election at once, a free behind a blocked callback, and
//! double frees / uses after free answered with a status.

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
use redlead::election::redlead_election_leader;
use redlead::election::{
    redlead_election, redlead_election_free, redlead_election_is_leader, redlead_election_start,
};
use redlead::error::{redlead_error, redlead_error_code, redlead_error_message};
use redlead::error::{redlead_error_free, redlead_status};
use redlead::lock::{
    redlead_lock, redlead_lock_extend, redlead_lock_free, redlead_lock_is_held,
    redlead_lock_try_acquire,
};
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

fn message(e: *mut redlead_error) -> String {
    // SAFETY: a live error from the library.
    unsafe { std::ffi::CStr::from_ptr(redlead_error_message(e)) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn lock_freed_while_another_thread_waits_in_an_extend() {
    let mut cluster = Cluster::start_in_memory(5);
    let client = new_client(&cluster);
    let mut lock: *mut redlead_lock = ptr::null_mut();
    let res = CString::new("freed-while-extending").unwrap();
    let st = redlead_lock_try_acquire(client, res.as_ptr(), 5000, 0, &mut lock, ptr::null_mut());
    assert_eq!(st, redlead_status::REDLEAD_OK);
    for n in &mut cluster.nodes[..3] {
        n.freeze();
    }
    let l = Addr(lock as usize);
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        let st = redlead_lock_extend(l.0 as *const redlead_lock, 5000, ptr::null_mut());
        (st, t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(10));
    // Frees while the extend waits for the frozen nodes (node timeout).
    redlead_lock_free(lock);
    let (st, took) = waiter.join().expect("the extending thread crashed");
    println!("injected: 3 of 5 nodes frozen, lock freed 10 ms into an extend; extend -> {st:?} after {took:?}");
    assert_eq!(st, redlead_status::REDLEAD_ERR_CONNECTION);
    for n in &mut cluster.nodes[..3] {
        n.thaw();
    }
    redlead_client_free(client);
}

#[test]
fn election_freed_while_another_thread_asks_for_the_leader() {
    let mut cluster = Cluster::start_in_memory(5);
    let client = new_client(&cluster);
    let probe: &'static Probe = Box::leak(Box::new(Probe {
        drops: AtomicUsize::new(0),
        elected: AtomicUsize::new(0),
        block_elected: Duration::ZERO,
        slow_drop: Duration::ZERO,
    }));
    let e = start(client, "freed-while-asking", probe, 5000);
    for n in &mut cluster.nodes[..3] {
        n.freeze();
    }
    let ea = Addr(e as usize);
    let waiter = std::thread::spawn(move || {
        let mut needed = 0usize;
        redlead_election_leader(
            ea.0 as *const redlead_election,
            ptr::null_mut(),
            0,
            &mut needed,
            ptr::null_mut(),
        )
    });
    std::thread::sleep(Duration::from_millis(10));
    let freed = redlead_election_free(e, ptr::null_mut());
    let asked = waiter.join().expect("the asking thread crashed");
    println!(
        "injected: 3 of 5 nodes frozen; free -> {freed:?}, leader query meanwhile -> {asked:?}"
    );
    assert_eq!(asked, redlead_status::REDLEAD_ERR_CONNECTION);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
    for n in &mut cluster.nodes[..3] {
        n.thaw();
    }
    redlead_client_free(client);
}

#[test]
fn double_free_and_use_after_free_are_invalid_argument() {
    let cluster = Cluster::start_in_memory(5);
    let client = new_client(&cluster);
    let mut lock: *mut redlead_lock = ptr::null_mut();
    let res = CString::new("double-free").unwrap();
    let st = redlead_lock_try_acquire(client, res.as_ptr(), 5000, 0, &mut lock, ptr::null_mut());
    assert_eq!(st, redlead_status::REDLEAD_OK);
    redlead_lock_free(lock);
    redlead_lock_free(lock); // a no-op, not a double free
    assert_eq!(redlead_lock_is_held(lock), 0);
    let mut err = ptr::null_mut();
    let st = redlead_lock_extend(lock, 5000, &mut err);
    println!("extend after free -> {st:?}: {}", message(err));
    assert_eq!(st, redlead_status::REDLEAD_ERR_INVALID_ARGUMENT);
    assert!(message(err).contains("already freed"));
    assert_eq!(
        redlead_error_code(err),
        redlead_status::REDLEAD_ERR_INVALID_ARGUMENT
    );
    redlead_error_free(err);
    redlead_error_free(err); // a second free of an error: a no-op too

    let probe: &'static Probe = Box::leak(Box::new(Probe {
        drops: AtomicUsize::new(0),
        elected: AtomicUsize::new(0),
        block_elected: Duration::ZERO,
        slow_drop: Duration::ZERO,
    }));
    let e = start(client, "double-free-election", probe, 5000);
    assert_eq!(
        redlead_election_free(e, ptr::null_mut()),
        redlead_status::REDLEAD_OK
    );
    let mut err = ptr::null_mut();
    let st = redlead_election_free(e, &mut err);
    println!("second election free -> {st:?}: {}", message(err));
    assert_eq!(st, redlead_status::REDLEAD_ERR_INVALID_ARGUMENT);
    redlead_error_free(err);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
    redlead_client_free(client);
    redlead_client_free(client);
}
