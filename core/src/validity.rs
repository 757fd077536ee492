//! How long a lock may be trusted: validity = ttl - elapsed - drift, and the
//! one safety margin before its end at which a holder stops.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Config;

/// The end of validity of a lock whose acquisition (or extension) started at
/// `start`: `start + ttl - drift`, on the monotonic clock.
pub(crate) fn deadline(start: Instant, ttl: Duration, cfg: &Config) -> Instant {
    start + ttl.saturating_sub(cfg.drift(ttl))
}

/// How long before the end of its validity a holder is told to stop (the
/// lock's lost signal, an election's default step-down point): room for the
/// holder to stop what it does, and for one more command to time out.
/// max(ttl / 10, 2 x node timeout), at most ttl / 2.
pub fn safety_margin(ttl: Duration, node_timeout: Duration) -> Duration {
    (ttl / 10).max(node_timeout * 2).min(ttl / 2)
}

/// The least validity an acquisition must have left to succeed. Below it the
/// lock would be reported lost the moment it is handed over, and a leader
/// would be past its step-down point before it was elected.
pub(crate) fn least_to_succeed(ttl: Duration, cfg: &Config) -> Duration {
    safety_margin(ttl, cfg.node_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_a_tenth_or_two_node_timeouts_at_most_half() {
        let ms = Duration::from_millis;
        assert_eq!(safety_margin(ms(10_000), ms(50)), ms(1000));
        assert_eq!(safety_margin(ms(500), ms(50)), ms(100));
        assert_eq!(safety_margin(ms(150), ms(50)), ms(75));
    }

    #[test]
    fn deadline_subtracts_the_drift() {
        let cfg = Config::default();
        let start = Instant::now();
        assert_eq!(
            deadline(start, Duration::from_secs(10), &cfg),
            start + Duration::from_millis(9898)
        );
    }
}
