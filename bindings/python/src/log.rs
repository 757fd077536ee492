//! The library's `tracing` events to Python's `logging` (loggers named after
//! their Rust module: `redlead.lock`, `redlead.election.lead`, ...).
//!
//! Why not pyo3-log: it takes the GIL on the thread that logs, and here that
//! is mostly the `redlead-io` thread, which must never wait for the GIL (it
//! would stall every connection and renewal of the process while Python
//! runs). So, as the C ABI's log callback does (`ffi/src/log.rs`): events
//! are formatted where they happen and queued (bounded: past 1024 waiting
//! records, new ones are dropped and counted) to one `redlead-log` thread,
//! which takes the GIL once per batch and hands the records to the package's
//! `_logging._emit`.
//!
//! Which levels are queued at all is decided without the GIL, from a level
//! cached here: the lowest level any `redlead*` logger is enabled for. It is
//! read from Python when a Client or an election is made and after every
//! batch; an event below it asks (at most once a second) for a re-read, so
//! lowering a logger's level at run time takes effect within a second. With
//! logging at INFO, a lock acquired and released logs nothing, so it queues
//! nothing and the log thread never takes the GIL.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use crate::runtime::with_python;

/// Records waiting for the log thread, at most.
const QUEUE: usize = 1024;
/// Records handed to Python in one call, at most.
const BATCH: usize = 256;

/// 0: nothing; else the most verbose tracing level queued (1 = ERROR ..= 5 = TRACE).
static LEVEL: AtomicU8 = AtomicU8::new(2);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Milliseconds since `START` when a re-read of the level was last asked for.
static REFRESH_ASKED: AtomicU64 = AtomicU64::new(0);
static START: OnceLock<Instant> = OnceLock::new();
/// Batches handed to Python, and records in them (for the tests).
static BATCHES: AtomicU64 = AtomicU64::new(0);
static RECORDS: AtomicU64 = AtomicU64::new(0);

enum Message {
    Record(Line),
    /// Re-read the level.
    Refresh,
}

struct Line {
    logger: String,
    level: u8,
    message: String,
}

/// The log thread of this process and its queue.
struct LogThread {
    pid: u32,
    queue: SyncSender<Message>,
}

static THREAD: Mutex<Option<LogThread>> = Mutex::new(None);

fn rank(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        _ => 5,
    }
}

/// Python's number for a level (TRACE, which Python lacks, is 5).
fn python_level(rank: u8) -> u8 {
    match rank {
        1 => 40,
        2 => 30,
        3 => 20,
        4 => 10,
        _ => 5,
    }
}

fn ours(m: &Metadata<'_>) -> bool {
    m.target().starts_with("redlead")
}

/// Sends `message` to the log thread, starting one in this process first
/// if needed (also in a forked child, which has none). Never blocks.
fn send(message: Message) {
    let mut t = THREAD.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if t.as_ref().is_none_or(|t| t.pid != pid) {
        let (queue, rx) = sync_channel(QUEUE);
        let started = std::thread::Builder::new()
            .name("redlead-log".into())
            .spawn(move || log_thread(rx));
        if started.is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // The parent's queue has no reader here; leave it be.
        if let Some(old) = t.replace(LogThread { pid, queue }) {
            std::mem::forget(old);
        }
    }
    let queue = &t.as_ref().expect("just set").queue;
    if let Err(TrySendError::Full(Message::Record(_))) = queue.try_send(message) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Asks the log thread to re-read the level, at most once a second.
fn ask_refresh() {
    let now = START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1000;
    let last = REFRESH_ASKED.load(Ordering::Relaxed);
    if now >= last + 1000
        && REFRESH_ASKED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        send(Message::Refresh);
    }
}

struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
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

/// The `tracing` subscriber of this extension module (its own copy of
/// `tracing`, so it does not compete with other extensions' subscribers).
struct Forwarder;

impl Subscriber for Forwarder {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if ours(m) {
            Interest::sometimes() // the level can change at any time
        } else {
            Interest::never()
        }
    }
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        if !ours(m) {
            return false;
        }
        if rank(m.level()) <= LEVEL.load(Ordering::Relaxed) {
            return true;
        }
        ask_refresh();
        false
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
        let m = event.metadata();
        send(Message::Record(Line {
            logger: m.target().replace("::", "."),
            level: python_level(rank(m.level())),
            message: f.message + &f.rest,
        }));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// `redlead._logging`'s `_emit` and `_level`, looked up once.
static EMIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static LEVEL_OF: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn log_thread(rx: Receiver<Message>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let _ = with_python(|py| deliver(py, batch));
    }
}

fn deliver(py: Python<'_>, batch: Vec<Message>) {
    let mut records: Vec<(String, u8, String)> = Vec::with_capacity(batch.len() + 1);
    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        records.push((
            "redlead.log".into(),
            python_level(2),
            format!("{dropped} log records dropped: Python's logging was slower than the library"),
        ));
    }
    for m in batch {
        if let Message::Record(l) = m {
            records.push((l.logger, l.level, l.message));
        }
    }
    BATCHES.fetch_add(1, Ordering::Relaxed);
    RECORDS.fetch_add(records.len() as u64, Ordering::Relaxed);
    let r = EMIT
        .import(py, "redlead._logging", "_emit")
        .and_then(|emit| emit.call1((records,)))
        .and_then(|level| level.extract::<u8>());
    match r {
        Ok(level) => LEVEL.store(level, Ordering::Relaxed),
        Err(e) => e.write_unraisable(py, None),
    }
}

/// Re-reads the level from Python's loggers (the caller holds the GIL).
pub fn refresh_level(py: Python<'_>) {
    let r = LEVEL_OF
        .import(py, "redlead._logging", "_level")
        .and_then(|f| f.call0())
        .and_then(|level| level.extract::<u8>());
    match r {
        Ok(level) => LEVEL.store(level, Ordering::Relaxed),
        // Imported outside the package (no `redlead._logging`): keep the default.
        Err(e) => e.write_unraisable(py, None),
    }
}

/// Installs the subscriber for this module's copy of `tracing`.
pub fn install() {
    let _ = START.get_or_init(Instant::now);
    let _ = tracing::subscriber::set_global_default(Forwarder);
}

/// For the tests: (batches handed to Python, records in them).
#[pyfunction]
fn _log_stats() -> (u64, u64) {
    (
        BATCHES.load(Ordering::Relaxed),
        RECORDS.load(Ordering::Relaxed),
    )
}

/// Re-reads the levels of the ``redlead`` loggers at once (they are also
/// re-read when a Client or an election is made, and within a second of a
/// change otherwise).
#[pyfunction]
fn _refresh_log_level(py: Python<'_>) {
    refresh_level(py);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    install();
    m.add_function(wrap_pyfunction!(_log_stats, m)?)?;
    m.add_function(wrap_pyfunction!(_refresh_log_level, m)?)?;
    Ok(())
}
