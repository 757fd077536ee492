//! When CMD is told to stop, relative to the end of the validity.
//!
//! The library tells a holder to stop a safety margin before its validity
//! ends (`redlead::safety_margin`: max(ttl/10, 2 x node timeout), at most
//! ttl/2). CMD needs its grace period on top of that: it is sent SIGTERM
//! `margin + grace` before the end and SIGKILL `margin` before it, so that it
//! is gone while the lock (or leadership) is still ours.

use std::time::Duration;

use crate::args::default_grace;
use crate::exit::Failure;

/// The grace period: the flag, or min(ttl/10, 5s); more than 0 and at most
/// ttl/4 (beyond that CMD would be stopped right after every missed
/// extension, long before the lock is in danger).
pub fn grace(flag: Option<Duration>, ttl: Duration) -> Result<Duration, Failure> {
    let grace = flag.unwrap_or_else(|| default_grace(ttl));
    if grace.is_zero() {
        return Err(Failure::usage("--grace must be greater than 0"));
    }
    if grace > ttl / 4 {
        return Err(Failure::usage(format!(
            "--grace ({}) must be at most a quarter of --ttl ({}): SIGKILL must land before the validity ends",
            humantime::format_duration(grace),
            humantime::format_duration(ttl)
        )));
    }
    Ok(grace)
}

/// How long before the validity ends CMD gets SIGTERM.
pub fn stop_before_end(ttl: Duration, node_timeout: Duration, grace: Duration) -> Duration {
    redlead::safety_margin(ttl, node_timeout) + grace
}

/// A duration for messages, rounded to the millisecond.
pub fn show(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}
