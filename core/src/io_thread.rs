//! The runtime a foreign-language binding serves its callers from: one
//! current-thread tokio runtime that owns the clients' connections and every
//! background task (renewals, repairs, elections), shared between a
//! dedicated I/O thread and the callers blocked on it.
//!
//! Why not a multi-thread runtime driven by `block_on` from each caller: then
//! the caller's thread polls the operation while the connections' tasks run
//! on workers, so every node's reply crosses threads (a wake-up each), and
//! the workers hand tasks to each other.
//!
//! Why the caller drives: a current-thread runtime has one core (its task
//! queue, timers and epoll), and whoever holds it runs everything. If the I/O
//! thread always held it, a blocking call would cost two hand-offs (the
//! caller wakes the I/O thread, the result wakes the caller), tens of
//! microseconds each on a busy machine. So a blocking caller takes the core
//! for the length of its call (`Runtime::block_on` on a current-thread
//! runtime hands the core to whichever thread asks while it is free), and
//! its own thread waits in epoll for the replies, as the Rust API on a
//! current-thread runtime does. The I/O thread steps aside when a caller
//! arrives and takes the core back only after a [`GRACE`] without calls, so
//! calls made back to back find it free; while nobody holds it (at most two
//! graces), timers and I/O of background tasks wait; work spawned through
//! [`IoRuntime::spawn`] wakes the I/O thread at once.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::runtime::{Builder, Handle, Runtime};

/// How long the core may stay free after the last blocking caller left
/// before the I/O thread takes it back: long enough that a caller's next
/// call (microseconds later in a loop) finds it free, short next to any
/// deadline the library keeps (renewals, node timeouts are milliseconds).
pub const GRACE: Duration = Duration::from_millis(1);

/// A current-thread runtime with its I/O thread. Clones share it. It lives
/// for the whole process: bindings keep one, and the I/O thread holds it.
#[derive(Clone)]
pub struct IoRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    rt: Runtime,
    grace: Duration,
    /// Blocking callers inside `block_on`.
    callers: AtomicUsize,
    /// Blocking calls ever started: tells the I/O thread whether a caller
    /// came back during its grace.
    calls: AtomicU64,
    /// Wakes the I/O thread's turn on the core when a caller arrives.
    step_aside: AtomicWaker,
    /// Work was spawned that nobody has driven since: the I/O thread takes
    /// the core without waiting out the grace. Cleared by whoever takes the
    /// core next (a caller, or the I/O thread), since it runs that work.
    spawned: AtomicBool,
    /// Times the I/O thread took the core (tests read it).
    takeovers: AtomicU64,
    io: Mutex<IoWaits>,
    /// Signals the I/O thread: the last caller left, or work was spawned
    /// during its grace.
    io_wake: Condvar,
}

/// What the I/O thread waits for, when it does not hold the core.
#[derive(Default)]
struct IoWaits {
    /// Waiting for `callers` to reach 0.
    for_no_callers: bool,
    /// The I/O thread holds the core (or is about to take it).
    holds_core: bool,
}

impl IoRuntime {
    /// Builds the runtime and starts its I/O thread, named `name`.
    pub fn start(name: &str) -> std::io::Result<IoRuntime> {
        Self::start_with_grace(name, GRACE)
    }

    fn start_with_grace(name: &str, grace: Duration) -> std::io::Result<IoRuntime> {
        let rt = Builder::new_current_thread().enable_all().build()?;
        let shared = Arc::new(Shared {
            rt,
            grace,
            callers: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            step_aside: AtomicWaker::new(),
            spawned: AtomicBool::new(false),
            takeovers: AtomicU64::new(0),
            io: Mutex::new(IoWaits::default()),
            io_wake: Condvar::new(),
        });
        let io = shared.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || io.drive_when_nobody_does())?;
        Ok(IoRuntime { shared })
    }

    /// The runtime's handle: to create clients (`Handle::enter` before
    /// `Redlock::new`) and to spawn.
    pub fn handle(&self) -> &Handle {
        self.shared.rt.handle()
    }

    /// Spawns a task. If no caller holds the core and the I/O thread is
    /// waiting out its grace, it takes the core now to run the task.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let s = &*self.shared;
        let task = s.rt.spawn(fut);
        if !s.spawned.swap(true, Ordering::SeqCst) && !s.io().holds_core {
            s.io_wake.notify_one();
        }
        task
    }

    /// Runs `fut` to completion, this thread driving the runtime (every
    /// client's I/O and tasks) while it waits, if no other caller already
    /// does. Must not be called from inside a tokio runtime (tokio panics).
    /// A panic in `fut` resumes here, and the runtime stays usable.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let s = &*self.shared;
        s.calls.fetch_add(1, Ordering::SeqCst);
        s.callers.fetch_add(1, Ordering::SeqCst);
        s.spawned.store(false, Ordering::SeqCst);
        let _leaving = Leaving(s);
        s.step_aside.wake();
        s.rt.block_on(fut)
    }
}

/// Counts a caller out, even when its future panicked.
struct Leaving<'a>(&'a Shared);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        let s = self.0;
        if s.callers.fetch_sub(1, Ordering::SeqCst) == 1 && s.io().for_no_callers {
            s.io_wake.notify_one();
        }
    }
}

impl Shared {
    fn io(&self) -> std::sync::MutexGuard<'_, IoWaits> {
        self.io.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The I/O thread: holds the core while no caller does.
    fn drive_when_nobody_does(&self) {
        loop {
            {
                let mut io = self.io();
                io.holds_core = true;
                self.spawned.store(false, Ordering::SeqCst);
                self.takeovers.fetch_add(1, Ordering::SeqCst);
            }
            // Until a caller arrives.
            self.rt.block_on(std::future::poll_fn(|cx| {
                self.step_aside.register(cx.waker());
                if self.callers.load(Ordering::SeqCst) > 0 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }));
            self.wait_for_a_quiet_grace();
        }
    }

    /// Returns once no caller has been inside `block_on` for a whole
    /// `GRACE`, or work was spawned while none was.
    ///
    /// It naps a grace at a time while calls keep coming, so callers calling
    /// back to back never signal it. Only a call that lasts a whole nap
    /// makes it wait to be told when the last caller leaves (a signal each
    /// call would cost the caller a futex wake and this thread a wake-up,
    /// usually to find the next call already started). The core stays free
    /// at most two graces after the last caller left.
    fn wait_for_a_quiet_grace(&self) {
        let mut io = self.io();
        io.holds_core = false;
        loop {
            let calls = self.calls.load(Ordering::SeqCst);
            let deadline = std::time::Instant::now() + self.grace;
            while !self.spawned.load(Ordering::SeqCst) {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                io = self
                    .io_wake
                    .wait_timeout(io, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let quiet = self.calls.load(Ordering::SeqCst) == calls;
            if self.callers.load(Ordering::SeqCst) == 0 {
                if quiet || self.spawned.load(Ordering::SeqCst) {
                    return;
                }
            } else if quiet {
                // One call has lasted the whole nap: wait for it to end.
                io.for_no_callers = true;
                while self.callers.load(Ordering::SeqCst) > 0 {
                    io = self.io_wake.wait(io).unwrap_or_else(|p| p.into_inner());
                }
                io.for_no_callers = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn thread_name() -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }

    /// The thread that runs a task spawned through the handle (which does
    /// not wake the I/O thread) while no caller blocks.
    fn runner_of_a_task(io: &IoRuntime) -> Option<String> {
        let (tx, rx) = std::sync::mpsc::channel();
        io.handle()
            .spawn(async move { tx.send(thread_name()).unwrap() });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the task ran")
    }

    #[test]
    fn a_blocking_caller_drives_the_runtime_itself() {
        let io = IoRuntime::start("redlead-io-test").unwrap();
        // Tasks run on whichever thread holds the core: after a timer (which
        // only the core's holder fires), that is this one, while it blocks.
        let name = io.block_on(async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            tokio::spawn(async { thread_name() }).await.unwrap()
        });
        assert_eq!(name, thread_name());
        let t = Instant::now();
        io.block_on(async { tokio::time::sleep(Duration::from_millis(20)).await });
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn the_io_thread_runs_tasks_when_no_caller_blocks() {
        let io = IoRuntime::start("redlead-io-idle").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        io.block_on(async {});
        io.handle().spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tx.send(thread_name()).unwrap();
        });
        let name = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the task ran");
        assert_eq!(name.as_deref(), Some("redlead-io-idle"));
    }

    #[test]
    fn work_spawned_right_after_a_call_does_not_wait_out_the_grace() {
        // A grace far longer than the wait below: only the wake-up on spawn
        // can run the task in time.
        let io = IoRuntime::start_with_grace("redlead-io-poke", Duration::from_secs(600)).unwrap();
        for _ in 0..3 {
            io.block_on(async {});
            let (tx, rx) = std::sync::mpsc::channel();
            io.spawn(async move { tx.send(thread_name()).unwrap() });
            let name = rx
                .recv_timeout(Duration::from_secs(5))
                .expect("the task ran");
            assert_eq!(name.as_deref(), Some("redlead-io-poke"));
        }
    }

    #[test]
    fn work_spawned_while_the_io_thread_drove_does_not_cut_a_later_grace_short() {
        // With a grace this long only a spawn nobody drove yet can bring the
        // I/O thread back to the core.
        let io = IoRuntime::start_with_grace("redlead-io-stale", Duration::from_secs(600)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        io.spawn(async move { tx.send(()).unwrap() });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the task ran");
        for _ in 0..20 {
            io.block_on(async {});
        }
        std::thread::sleep(Duration::from_millis(100));
        // The first takeover is the start; the spawn above was driven then.
        assert_eq!(io.shared.takeovers.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn after_a_long_call_the_io_thread_takes_the_core_back() {
        let io = IoRuntime::start("redlead-io-long").unwrap();
        // Longer than a grace: the I/O thread waits to be told it ended.
        io.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
        assert_eq!(runner_of_a_task(&io).as_deref(), Some("redlead-io-long"));
    }

    #[test]
    fn callers_on_many_threads_all_finish() {
        let io = IoRuntime::start("redlead-io-many").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let io = io.clone();
                std::thread::spawn(move || {
                    (0..200)
                        .map(|j| {
                            io.block_on(async move {
                                tokio::task::yield_now().await;
                                tokio::time::sleep(Duration::from_micros(50)).await;
                                i * 1000 + j
                            })
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let want: usize = (0..8)
            .map(|i| (0..200).map(|j| i * 1000 + j).sum::<usize>())
            .sum();
        assert_eq!(total, want);
    }

    #[test]
    fn a_panicking_caller_leaves_the_runtime_usable() {
        let io = IoRuntime::start("redlead-io-panic").unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            io.block_on(async { panic!("boom") })
        }));
        assert!(r.is_err());
        assert_eq!(io.shared.callers.load(Ordering::SeqCst), 0);
        assert_eq!(io.block_on(async { 7 }), 7);
        // And the I/O thread still takes over when the caller is gone.
        assert_eq!(runner_of_a_task(&io).as_deref(), Some("redlead-io-panic"));
    }
}
