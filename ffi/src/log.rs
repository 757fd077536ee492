//! The process-wide log callback: the library's `tracing` events (targets
//! `redlead*`) handed to the caller's logging, one record at a time.
//!
//! Events are formatted where they happen (often a runtime worker) and queued
//! to one thread, `redlead-log`, that calls the callback: a slow logger never
//! stalls a renewal. When more than 1024 records wait, new ones are dropped
//! and counted; the next record delivered is preceded by a WARN saying how
//! many were lost.
//!
//! The thread lives only while a callback is set: `redlead_log_clear` ends
//! it and waits for it, so a runtime that waits at exit for every native
//! thread that ran its code (Mono) can exit.

use std::cell::Cell;
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::raw::{c_char, c_void};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use crate::error::{redlead_error, redlead_status, FfiError, FfiResult};

/// Severity of a log record; also the `max_level` of
/// `redlead_log_set_callback` (records above it are not produced).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum redlead_log_level {
    REDLEAD_LOG_ERROR = 1,
    REDLEAD_LOG_WARN = 2,
    REDLEAD_LOG_INFO = 3,
    REDLEAD_LOG_DEBUG = 4,
    REDLEAD_LOG_TRACE = 5,
}

/// One log record, borrowed by the callback.
///
/// Lifetime: the record and its strings are valid only during the `call`
/// that receives it; copy what you keep.
#[repr(C)]
pub struct redlead_log_record {
    pub level: redlead_log_level,
    /// Where it comes from, e.g. "redlead::lock" (NUL-terminated UTF-8).
    pub target: *const c_char,
    /// The message followed by its fields as ` key=value` (NUL-terminated
    /// UTF-8).
    pub message: *const c_char,
}

/// The log callback, given to `redlead_log_set_callback`.
///
/// Guarantees: `call` runs on one library thread (`redlead-log`), one record
/// at a time, in the order the records were produced; never after
/// `redlead_log_clear` (or a replacing `redlead_log_set_callback`) returned;
/// `drop` (if not NULL) runs exactly once, after the last `call`, also when
/// setting fails. Thread-safety: `context` is used from the log thread.
/// `call` must not unwind; it may call any redlead function except
/// `redlead_log_set_callback` and `redlead_log_clear` (those return
/// `REDLEAD_ERR_WRONG_THREAD` there).
#[repr(C)]
pub struct redlead_log_closure {
    /// Passed to `call` and `drop`; owned by the closure.
    pub context: *mut c_void,
    /// Required.
    pub call: Option<unsafe extern "C" fn(context: *mut c_void, record: *const redlead_log_record)>,
    /// Optional: releases `context`.
    pub drop: Option<unsafe extern "C" fn(context: *mut c_void)>,
}

struct Sink {
    context: *mut c_void,
    call: Option<unsafe extern "C" fn(*mut c_void, *const redlead_log_record)>,
    drop: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the closure's contract: `context` is used from the log thread
// (and `drop` from whichever thread clears it, after the last call).
unsafe impl Send for Sink {}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(d) = self.drop.take() {
            // SAFETY: exactly once, after the last call.
            unsafe { d(self.context) };
        }
    }
}

struct Line {
    level: redlead_log_level,
    target: CString,
    message: CString,
}

/// 0: off; else the highest `redlead_log_level` delivered.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Held while `call` runs, so clearing waits for a call in progress.
static SINK: Mutex<Option<Sink>> = Mutex::new(None);
/// The running log thread and its queue; `None` while no callback is set.
static QUEUE: Mutex<Option<LogThread>> = Mutex::new(None);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
/// Serializes set and clear, so a clear cannot end the thread a concurrent
/// set has just started for its sink.
static CONFIGURING: Mutex<()> = Mutex::new(());

struct LogThread {
    queue: SyncSender<Line>,
    thread: JoinHandle<()>,
}

thread_local! {
    static ON_LOG_THREAD: Cell<bool> = const { Cell::new(false) };
}

fn queue() -> std::sync::MutexGuard<'static, Option<LogThread>> {
    QUEUE.lock().unwrap_or_else(|e| e.into_inner())
}

fn level_of(l: &Level) -> redlead_log_level {
    match *l {
        Level::ERROR => redlead_log_level::REDLEAD_LOG_ERROR,
        Level::WARN => redlead_log_level::REDLEAD_LOG_WARN,
        Level::INFO => redlead_log_level::REDLEAD_LOG_INFO,
        Level::DEBUG => redlead_log_level::REDLEAD_LOG_DEBUG,
        _ => redlead_log_level::REDLEAD_LOG_TRACE,
    }
}

fn ours(m: &Metadata<'_>) -> bool {
    m.target().starts_with("redlead")
}

/// The `tracing` subscriber: forwards our events to the queue.
struct Forwarder;

struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    // The first `message` is the event's text; a field of the same name
    // after it is listed with the others.
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" && self.message.is_empty() {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && self.message.is_empty() {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={:?}", field.name(), value);
        }
    }
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if ours(m) {
            Interest::sometimes() // the level can change at any time
        } else {
            Interest::never()
        }
    }
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        let max = MAX_LEVEL.load(Ordering::Relaxed);
        ours(m) && max != 0 && (level_of(m.level()) as u8) <= max
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields {
            message: String::new(),
            rest: String::new(),
        };
        event.record(&mut f);
        let line = Line {
            level: level_of(event.metadata().level()),
            target: c(event.metadata().target().to_string()),
            message: c(f.message + &f.rest),
        };
        if let Some(t) = queue().as_ref() {
            if let Err(TrySendError::Full(_)) = t.queue.try_send(line) {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn c(s: String) -> CString {
    crate::error::c_string(s)
}

fn deliver(line: &Line) {
    let sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(Sink {
        context,
        call: Some(call),
        ..
    }) = sink.as_ref()
    {
        let record = redlead_log_record {
            level: line.level,
            target: line.target.as_ptr(),
            message: line.message.as_ptr(),
        };
        // SAFETY: a valid function and context; the record outlives the call.
        unsafe { call(*context, &record) };
    }
}

fn log_thread(rx: Receiver<Line>) {
    ON_LOG_THREAD.with(|on| on.set(true));
    for line in rx {
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            deliver(&Line {
                level: redlead_log_level::REDLEAD_LOG_WARN,
                target: c("redlead::log".into()),
                message: c(format!(
                    "{dropped} log records dropped: the log callback was slower than the library"
                )),
            });
        }
        deliver(&line);
    }
}

/// Installs the subscriber (once per process) and starts the log thread
/// (unless it runs).
fn install() -> FfiResult<()> {
    let r = INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Forwarder).map_err(|_| {
            "another tracing subscriber is already installed in this process; redlead's events go to it".to_string()
        })
    });
    r.clone()
        .map_err(|m| FfiError::new(redlead_status::REDLEAD_ERR_INTERNAL, m))?;
    let mut q = queue();
    if q.is_none() {
        let (tx, rx) = sync_channel(1024);
        let thread = std::thread::Builder::new()
            .name("redlead-log".into())
            .spawn(move || log_thread(rx))
            .map_err(|e| {
                FfiError::new(
                    redlead_status::REDLEAD_ERR_INTERNAL,
                    format!("cannot start the log thread: {e}"),
                )
            })?;
        *q = Some(LogThread { queue: tx, thread });
    }
    Ok(())
}

/// Ends the log thread (records still queued go nowhere: the sink is
/// already gone) and waits for it.
fn stop_thread() {
    let t = queue().take();
    if let Some(LogThread { queue, thread }) = t {
        drop(queue);
        let _ = thread.join();
    }
}

fn on_log_thread() -> FfiResult<()> {
    if ON_LOG_THREAD.with(|on| on.get()) {
        return Err(FfiError::new(
            redlead_status::REDLEAD_ERR_WRONG_THREAD,
            "the log callback cannot be set or cleared from inside itself",
        ));
    }
    Ok(())
}

/// Replaces the sink and returns the old one, whose `drop` the caller runs
/// once it holds no lock of ours (a `drop` may set a new callback).
/// Waits for a call in progress.
#[must_use]
fn swap(new: Option<Sink>, max_level: u8) -> Option<Sink> {
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    MAX_LEVEL.store(if new.is_some() { max_level } else { 0 }, Ordering::Relaxed);
    std::mem::replace(&mut *sink, new)
}

/// Sends the library's log records of level `max_level` (a
/// `redlead_log_level` value, 1..=5) and more severe to `closure`, replacing
/// the callback set before (whose `drop` runs before this returns). The
/// first call installs the library's `tracing` subscriber for the process
/// (`REDLEAD_ERR_INTERNAL` if the process already has another one).
///
/// Blocks: no network wait; waits for a call of the previous callback in
/// progress.
/// Threads: any thread but the log callback's own
/// (`REDLEAD_ERR_WRONG_THREAD` there).
/// Ownership: `closure` is moved into the library: `drop` runs exactly once,
/// after its last `call`, also when this fails.
/// NULL: `closure.call` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`);
/// `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_log_set_callback(
    closure: redlead_log_closure,
    max_level: u32,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    let sink = Sink {
        context: closure.context,
        call: closure.call,
        drop: closure.drop,
    };
    boundary!(error_out, {
        if sink.call.is_none() {
            return Err(FfiError::invalid("closure.call must not be NULL"));
        }
        if !(1..=5).contains(&max_level) {
            return Err(FfiError::invalid(format!(
                "max_level must be a redlead_log_level (1 = ERROR ..= 5 = TRACE), got {max_level}"
            )));
        }
        on_log_thread()?;
        let old = {
            let _configuring = CONFIGURING.lock().unwrap_or_else(|e| e.into_inner());
            install()?;
            swap(Some(sink), max_level as u8)
        };
        drop(old);
        Ok(())
    })
}

/// Stops sending log records; the callback's `drop` runs before this
/// returns, after its last `call` (a call in progress is waited for), and
/// the library's log thread has ended. Clearing when none is set is fine.
///
/// Blocks: no network wait; waits for a call of the callback in progress.
/// Threads: any thread but the log callback's own
/// (`REDLEAD_ERR_WRONG_THREAD` there).
/// Ownership: nothing is passed. NULL: `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_log_clear(error_out: *mut *mut redlead_error) -> redlead_status {
    boundary!(error_out, {
        on_log_thread()?;
        let old = {
            let _configuring = CONFIGURING.lock().unwrap_or_else(|e| e.into_inner());
            let old = swap(None, 0);
            stop_thread();
            old
        };
        drop(old);
        Ok(())
    })
}
