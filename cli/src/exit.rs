//! Exit statuses, and the one-line failure every command ends with.
//!
//! The statuses follow sysexits.h where one fits, so that scripts can tell
//! "someone else holds it" from "the nodes are down" from "the lock was lost
//! while the command ran". They are listed in `redlead --help` (STATUS_HELP)
//! and cli/README.md; change all three together.

use std::fmt;

use crate::nodes::scrub;

/// EX_USAGE: bad command line or input (unknown flag, missing `-- CMD`, no
/// nodes, a bad node URL, ttl 0, ...).
pub const USAGE: u8 = 64;
/// EX_UNAVAILABLE: fewer than a quorum of the nodes answered (or
/// `redis-server` is missing for the demo).
pub const UNAVAILABLE: u8 = 69;
/// EX_SOFTWARE: a bug or an unexpected reply.
pub const INTERNAL: u8 = 70;
/// EX_CANTCREAT: the lock was not acquired within `--wait` (held by another).
pub const NOT_ACQUIRED: u8 = 73;
/// EX_TEMPFAIL: the lock (or leadership, with `elect --once`) was lost while
/// CMD ran; CMD was stopped. Also when the release shows the lock was lost
/// before CMD finished.
pub const LOST: u8 = 75;
/// As shells do: CMD exists but cannot be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// As shells do: CMD was not found.
pub const NOT_FOUND: u8 = 127;

/// The status table shown at the end of `redlead --help`.
pub const STATUS_HELP: &str = "\
Exit status:
  0..=255  lock/elect: CMD's own status (128+N when CMD was killed by signal N)
  64       usage: bad flag or value, missing `-- CMD`, no nodes, bad node URL
  69       fewer than a quorum of nodes reachable (demo: no redis-server)
  70       internal error
  73       lock: not acquired within --wait (held by another)
  75       lock lost (elect --once: leadership lost) while CMD ran; CMD was stopped
  126/127  CMD cannot be executed / was not found
  130/143  interrupted (SIGINT/SIGTERM) before CMD started

Nodes: --node URL (repeatable) or REDLEAD_NODES=url,url,...; a Redis Cluster or a
Sentinel-managed master is one node: redis+cluster://h:p,h:p, redis+sentinel://h:p,h:p/name
Logs: -v (info), -vv (debug), or REDLEAD_LOG=<EnvFilter directives>.";

/// Why a command ended unsuccessfully: a status and one line for stderr.
#[derive(Debug)]
pub struct Failure {
    pub status: u8,
    pub message: String,
}

impl Failure {
    pub fn new(status: u8, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    pub fn internal(message: impl Into<String>) -> Failure {
        Failure::new(INTERNAL, message)
    }

    /// Prints `redlead: <message>` on one line, passwords scrubbed.
    pub fn report(&self) {
        let line = scrub(&self.message).replace('\n', " ");
        eprintln!("redlead: {line}");
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (status {})", self.message, self.status)
    }
}

/// The library's errors, by kind.
impl From<redlead::Error> for Failure {
    fn from(e: redlead::Error) -> Failure {
        use redlead::ErrorKind as K;
        let status = match e.kind() {
            K::InvalidArgument => USAGE,
            K::Connection => UNAVAILABLE,
            K::NotAcquired | K::Timeout => NOT_ACQUIRED,
            K::Lost => LOST,
            K::Closed | K::WrongThread | K::Forked | K::Internal => INTERNAL,
        };
        Failure::new(status, e.to_string())
    }
}

/// A child's wait status as a shell reports it: the exit code, or 128 + the
/// signal that killed it.
pub fn of_wait_status(code: Option<i32>, signal: Option<i32>) -> u8 {
    match (code, signal) {
        (Some(c), _) => (c & 0xff) as u8,
        (None, Some(s)) => (128 + s).clamp(0, 255) as u8,
        (None, None) => INTERNAL,
    }
}
