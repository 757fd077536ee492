//! The timing of an election: its defaults, scaled to the ttl, and its checks.

use std::time::Duration;

use crate::config::{bounded, positive, Config};
use crate::error::{Error, Result};
use crate::validity;

/// Timing of an election. Start from `ElectionConfig::default()` or
/// [`ElectionConfig::with_ttl`]; validated by [`Election::start`](super::Election::start).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ElectionConfig {
    /// Lease length: how long a crashed leader blocks the others at most.
    pub ttl: Duration,
    /// Time between renewals; default ttl / 3.
    pub renew_interval: Option<Duration>,
    /// Time between a follower's attempts (plus jitter).
    pub retry_interval: Duration,
    /// Random extra delay, uniform in [0, retry_jitter], per follower attempt.
    pub retry_jitter: Duration,
    /// How long before the end of its validity a leader that could not renew
    /// steps down; default [`safety_margin`](crate::safety_margin):
    /// max(ttl / 10, 2 x node_timeout), at most ttl / 2.
    pub step_down_margin: Option<Duration>,
    /// How long [`Election::stop`](super::Election::stop) waits for a handler
    /// call still running (a handler that blocks); after it, stop returns
    /// `Timeout` and the handler is dropped when it returns. Default 5 s.
    pub stop_timeout: Duration,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig::with_ttl(Duration::from_secs(5))
    }
}

impl ElectionConfig {
    /// Defaults scaled to a ttl: renew every ttl/3, retry every ttl/5 with
    /// ttl/50 of jitter.
    pub fn with_ttl(ttl: Duration) -> ElectionConfig {
        ElectionConfig {
            ttl,
            renew_interval: None,
            retry_interval: ttl / 5,
            retry_jitter: ttl / 50,
            step_down_margin: None,
            stop_timeout: Duration::from_secs(5),
        }
    }

    pub fn renew_interval(&self) -> Duration {
        self.renew_interval.unwrap_or(self.ttl / 3)
    }

    pub fn step_down_margin(&self, node_timeout: Duration) -> Duration {
        self.step_down_margin
            .unwrap_or_else(|| validity::safety_margin(self.ttl, node_timeout))
    }

    pub(super) fn validate(&self, client: &Config) -> Result<()> {
        positive("ttl", self.ttl)?;
        client.check_ttl(self.ttl)?;
        let renew = self.renew_interval();
        positive("renew_interval", renew)?;
        positive("retry_interval", self.retry_interval)?;
        bounded("retry_jitter", self.retry_jitter)?;
        positive("stop_timeout", self.stop_timeout)?;
        let node_timeout = client.node_timeout;
        let margin = self.step_down_margin(node_timeout);
        positive("step_down_margin", margin)?;
        if renew >= self.ttl {
            return Err(Error::invalid(format!(
                "renew_interval ({renew:?}) must be shorter than ttl ({:?})",
                self.ttl
            )));
        }
        if renew + margin >= self.ttl {
            return Err(Error::invalid(format!(
                "renew_interval ({renew:?}) + step_down_margin ({margin:?}) must be shorter than ttl ({:?}), or the leader steps down before its first renewal",
                self.ttl
            )));
        }
        if node_timeout * 2 > renew {
            return Err(Error::invalid(format!(
                "node_timeout ({node_timeout:?}) must be at most half the renew_interval ({renew:?})"
            )));
        }
        if node_timeout * 2 > margin {
            return Err(Error::invalid(format!(
                "step_down_margin ({margin:?}) must be at least 2 x node_timeout ({node_timeout:?})"
            )));
        }
        Ok(())
    }
}
