//! The rules that inputs obey, each decided once. The client and the
//! election check their settings with them, and the language bindings call
//! them on what their callers pass (milliseconds, PEM text, names)
//! as soon as it arrives, so that every rule and its message exist once.

use std::time::Duration;

use crate::error::{Error, Result};

/// Longest ttl, wait budget or interval accepted anywhere: longer values are
/// almost certainly a unit mistake (seconds passed as milliseconds).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// [`MAX_DURATION`] in the milliseconds the bindings pass.
const MAX_MILLIS: u64 = MAX_DURATION.as_millis() as u64;

/// Longest resource name, in bytes.
pub const MAX_RESOURCE_LEN: usize = 1024;

// The owner rule is part of the lock value's format, which decides it.
pub use crate::lock_value::{check_owner as owner, MAX_OWNER_LEN};

/// Whether a duration of 0 means something for the setting at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// 0 is an error: a ttl, a timeout, an interval.
    Rejected,
    /// 0 means no delay: a retry delay, a jitter.
    Allowed,
}

/// A duration a caller gave as whole milliseconds (the C ABI), checked:
/// 0 only when `zero` allows it, at most [`MAX_DURATION`]. Errors name the
/// setting as `name`.
pub fn duration_from_millis(name: &str, ms: u64, zero: Zero) -> Result<Duration> {
    check_millis(name, ms == 0, ms > MAX_MILLIS, ms, zero)?;
    Ok(Duration::from_millis(ms))
}

/// A duration a caller gave as milliseconds with a fraction (Python), checked
/// as [`duration_from_millis`] does, and to be a number and not negative.
pub fn duration_from_fractional_millis(name: &str, ms: f64, zero: Zero) -> Result<Duration> {
    if ms.is_nan() {
        return Err(Error::invalid(format!("{name} must be a number, got NaN")));
    }
    if ms < 0.0 {
        return Err(Error::invalid(format!(
            "{name} must not be negative, got {ms}"
        )));
    }
    check_millis(name, ms == 0.0, ms > MAX_MILLIS as f64, ms, zero)?;
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// Zero before the upper bound: "must be greater than 0" says more about a 0
/// than any ordering rule would.
fn check_millis(
    name: &str,
    is_zero: bool,
    is_too_long: bool,
    ms: impl std::fmt::Display,
    zero: Zero,
) -> Result<()> {
    if is_zero && zero == Zero::Rejected {
        return Err(must_be_positive(name));
    }
    if is_too_long {
        return Err(too_long(name, format!("{ms} ms")));
    }
    Ok(())
}

/// `name` must be > 0 and <= MAX_DURATION.
pub(crate) fn positive(name: &str, d: Duration) -> Result<()> {
    if d.is_zero() {
        return Err(must_be_positive(name));
    }
    bounded(name, d)
}

/// `name` must be <= MAX_DURATION.
pub(crate) fn bounded(name: &str, d: Duration) -> Result<()> {
    if d > MAX_DURATION {
        return Err(too_long(name, format!("{d:?}")));
    }
    Ok(())
}

fn must_be_positive(name: &str) -> Error {
    Error::invalid(format!("{name} must be greater than 0"))
}

fn too_long(name: &str, got: String) -> Error {
    Error::invalid(format!(
        "{name} must be at most 24 h ({MAX_MILLIS} ms), got {got}"
    ))
}

/// A resource name: non-empty and at most [`MAX_RESOURCE_LEN`] bytes.
pub fn resource(resource: &str) -> Result<()> {
    non_empty_and_at_most("resource", resource, MAX_RESOURCE_LEN)
}

pub(crate) fn non_empty_and_at_most(what: &str, text: &str, max_len: usize) -> Result<()> {
    if text.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if text.len() > max_len {
        return Err(Error::invalid(format!(
            "{what} is {} bytes; at most {max_len} allowed",
            text.len()
        )));
    }
    Ok(())
}

/// The clock drift allowance, a fraction of the ttl in [0, 0.5) (NaN and
/// infinities are outside it): at 0.5 the drift alone eats half of every
/// validity.
pub fn drift_factor(drift_factor: f64) -> Result<()> {
    if !(0.0..0.5).contains(&drift_factor) {
        return Err(Error::invalid(format!(
            "drift_factor must be in [0, 0.5), got {drift_factor}"
        )));
    }
    Ok(())
}

/// TLS material must at least look like PEM (a `-----BEGIN` line); whether
/// it parses is found out when connecting.
pub fn pem(name: &str, pem: &[u8]) -> Result<()> {
    if !pem.windows(10).any(|w| w == b"-----BEGIN") {
        return Err(Error::invalid(format!(
            "{name} is not PEM (no -----BEGIN line)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_reject_zero_only_where_it_means_nothing_and_cap_at_a_day() {
        let ms = duration_from_millis("ttl_ms", 1500, Zero::Rejected).unwrap();
        assert_eq!(ms, Duration::from_millis(1500));
        let e = duration_from_millis("ttl_ms", 0, Zero::Rejected).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument: ttl_ms must be greater than 0"
        );
        assert_eq!(
            duration_from_millis("retry_delay_ms", 0, Zero::Allowed).unwrap(),
            Duration::ZERO
        );
        let e = duration_from_millis("ttl_ms", 86_400_001, Zero::Rejected).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument: ttl_ms must be at most 24 h (86400000 ms), got 86400001 ms"
        );
        assert!(duration_from_millis("ttl_ms", u64::MAX, Zero::Allowed).is_err());
        assert!(duration_from_millis("ttl_ms", 86_400_000, Zero::Rejected).is_ok());
    }

    #[test]
    fn fractional_millis_reject_nan_and_negatives() {
        let d = duration_from_fractional_millis("wait_ms", 2.5, Zero::Allowed).unwrap();
        assert_eq!(d, Duration::from_micros(2500));
        for (ms, words) in [
            (f64::NAN, "NaN"),
            (-1.0, "negative"),
            (0.0, "greater than 0"),
            (1e30, "24 h"),
            (f64::INFINITY, "24 h"),
        ] {
            let e = duration_from_fractional_millis("wait_ms", ms, Zero::Rejected).unwrap_err();
            assert!(e.is_invalid_argument());
            assert!(e.to_string().contains("wait_ms"), "{e}");
            assert!(e.to_string().contains(words), "{e}");
        }
    }

    #[test]
    fn settings_outside_their_range_name_themselves() {
        assert!(resource("").unwrap_err().to_string().contains("resource"));
        assert!(resource(&"x".repeat(2000)).is_err());
        for bad in ["", "a\0b", &"x".repeat(300)] {
            assert!(owner(bad).unwrap_err().to_string().contains("owner"));
        }
        for f in [-0.1, 0.5, f64::NAN, f64::INFINITY] {
            assert!(drift_factor(f)
                .unwrap_err()
                .to_string()
                .contains("drift_factor"));
        }
        assert!(drift_factor(0.0).is_ok());
        assert!(pem("ca_pem", b"-----BEGIN CERTIFICATE-----\n").is_ok());
        assert!(pem("ca_pem", b"junk")
            .unwrap_err()
            .to_string()
            .contains("ca_pem"));
    }
}
