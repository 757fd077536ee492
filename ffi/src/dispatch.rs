//! The library threads that run callers' callbacks: completions of the
//! asynchronous calls, lost signals, and the `drop` of their closures.
//!
//! Never a runtime worker (a slow callback would stall renewals and every
//! other lock's I/O) and never the caller's own stack: a small pool of plain
//! threads named `redlead-cb`, outside any tokio runtime, so a callback
//! may make blocking redlead calls. A thread is added whenever every thread
//! is busy (up to 64; past that, jobs queue), and leaves after 10 s idle,
//! or at once when asked (`redlead_release_idle_threads`: Mono waits at exit
//! for every native thread that ran managed code).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

const MAX_THREADS: usize = 64;
const IDLE_EXIT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

struct State {
    jobs: VecDeque<Job>,
    idle: usize,
    threads: usize,
    /// Idle threads asked to leave now.
    retiring: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    jobs: VecDeque::new(),
    idle: 0,
    threads: 0,
    retiring: 0,
});
static WAKE: Condvar = Condvar::new();

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `job` on a callback thread, soon. Never runs it on this thread.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) {
    let mut st = lock();
    st.jobs.push_back(Box::new(job));
    if st.jobs.len() > st.idle && st.threads < MAX_THREADS {
        let spawned = std::thread::Builder::new()
            .name("redlead-cb".into())
            .spawn(worker);
        if spawned.is_ok() {
            st.threads += 1;
        }
    }
    drop(st);
    WAKE.notify_one();
}

fn worker() {
    let mut st = lock();
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            // A panic in a job is a bug of ours (C callbacks cannot unwind);
            // it must not take the thread's other jobs with it.
            let _ = catch_unwind(AssertUnwindSafe(job));
            st = lock();
            continue;
        }
        st.idle += 1;
        let (guard, timeout) = WAKE
            .wait_timeout(st, IDLE_EXIT)
            .unwrap_or_else(|e| e.into_inner());
        st = guard;
        st.idle -= 1;
        let retire = st.retiring > 0 && st.jobs.is_empty();
        if retire {
            st.retiring -= 1;
        }
        if retire || (timeout.timed_out() && st.jobs.is_empty()) {
            st.threads -= 1;
            return;
        }
    }
}

/// Asks every idle callback thread to leave now; returns how many were
/// asked. A thread running a callback stays; later jobs start new threads.
pub(crate) fn release_idle() -> usize {
    let mut st = lock();
    st.retiring = st.idle;
    let n = st.retiring;
    drop(st);
    WAKE.notify_all();
    n
}

/// Callback threads alive now (tests).
#[cfg(test)]
pub(crate) fn threads() -> usize {
    lock().threads
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Instant;

    #[test]
    fn idle_threads_leave_when_released_and_new_jobs_still_run() {
        let (tx, rx) = channel();
        for _ in 0..3 {
            let tx = tx.clone();
            run(move || tx.send(()).unwrap());
        }
        for _ in 0..3 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert!(threads() >= 1);
        // Let the threads go idle, then release them.
        let t0 = Instant::now();
        let all_idle = || {
            let st = lock();
            st.idle == st.threads
        };
        while !all_idle() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(release_idle() >= 1);
        while threads() > 0 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            threads(),
            0,
            "released threads did not leave (idle exit is 10 s)"
        );
        run(move || tx.send(()).unwrap());
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
}
