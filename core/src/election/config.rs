//! The timing of an election: its defaults, scaled to the ttl, and its checks.

use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::validate::{bounded, positive};
use crate::validity;

/// Timing of an election. Start from `ElectionConfig::default()` or
/// [`ElectionConfig::with_ttl`] (or [`ElectionOverrides`] when the fields
/// arrive one by one); validated by [`Election::start`](super::Election::start).
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

    /// Checks this timing against the limits and the client's `config` (its
    /// node timeout and ttl rules); every message names the field.
    /// [`Election::start`](super::Election::start) calls it.
    pub fn validate(&self, client: &Config) -> Result<()> {
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

/// An [`ElectionConfig`] given field by field, in any order, as the language
/// bindings receive it (C setters, Python keyword arguments): what is unset
/// takes the default for the ttl. The defaults scale with the ttl, so the
/// ttl applies first whatever order the fields came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ElectionOverrides {
    /// Default: `ElectionConfig::default()`'s ttl, 5 s.
    pub ttl: Option<Duration>,
    pub renew_interval: Option<Duration>,
    pub retry_interval: Option<Duration>,
    pub retry_jitter: Option<Duration>,
    pub step_down_margin: Option<Duration>,
    pub stop_timeout: Option<Duration>,
}

impl ElectionOverrides {
    /// The defaults for the ttl, then what was set (not validated yet).
    pub fn to_config(&self) -> ElectionConfig {
        let mut config = match self.ttl {
            Some(ttl) => ElectionConfig::with_ttl(ttl),
            None => ElectionConfig::default(),
        };
        if self.renew_interval.is_some() {
            config.renew_interval = self.renew_interval;
        }
        if let Some(r) = self.retry_interval {
            config.retry_interval = r;
        }
        if let Some(j) = self.retry_jitter {
            config.retry_jitter = j;
        }
        if self.step_down_margin.is_some() {
            config.step_down_margin = self.step_down_margin;
        }
        if let Some(t) = self.stop_timeout {
            config.stop_timeout = t;
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_over_the_defaults_for_their_ttl() {
        let none = ElectionOverrides::default().to_config();
        assert_eq!(none.ttl, Duration::from_secs(5));
        let o = ElectionOverrides {
            ttl: Some(Duration::from_secs(10)),
            retry_jitter: Some(Duration::ZERO),
            ..ElectionOverrides::default()
        };
        let c = o.to_config();
        assert_eq!(c.retry_interval, Duration::from_secs(2), "ttl / 5");
        assert_eq!(c.retry_jitter, Duration::ZERO);
        assert_eq!(c.renew_interval(), Duration::from_secs(10) / 3);
        assert!(c.validate(&Config::default()).is_ok());
        let mut o = o;
        o.renew_interval = Some(Duration::from_secs(10));
        let e = o.to_config().validate(&Config::default()).unwrap_err();
        assert!(e.to_string().contains("renew_interval"), "{e}");
    }
}
