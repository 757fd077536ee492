//! Client configuration, validated in one place.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::validate::{self, bounded, positive, MAX_RESOURCE_LEN};

/// How a resource name becomes a Redis key.
///
/// The default, `redlead:{<resource>}`, wraps the name in a hash tag so that the
/// lock key and its companion keys (`...:fence`) share a Redis Cluster slot.
/// To hold the same lock as another library during a migration, match its keys:
/// RedLock.net uses `KeyFormat::new("redlock:", false)`, redsync and
/// node-redlock use the raw name, `KeyFormat::new("", false)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFormat {
    pub prefix: String,
    pub hash_tag: bool,
}

impl KeyFormat {
    pub fn new(prefix: impl Into<String>, hash_tag: bool) -> KeyFormat {
        KeyFormat {
            prefix: prefix.into(),
            hash_tag,
        }
    }

    /// The lock key of a resource.
    pub fn lock_key(&self, resource: &str) -> String {
        if self.hash_tag {
            format!("{}{{{}}}", self.prefix, resource)
        } else {
            format!("{}{}", self.prefix, resource)
        }
    }

    /// The fencing counter key; next to the lock key and in the same slot.
    pub fn fence_key(&self, resource: &str) -> String {
        format!("{}:fence", self.lock_key(resource))
    }

    /// The pub/sub channel on which a resigning leader announces the release.
    pub fn resign_channel(&self, resource: &str) -> String {
        format!("{}:resigned", self.lock_key(resource))
    }

    /// The pub/sub channel on which every release of a lock (not a
    /// leader's resignation) is announced, with the released value: waiting
    /// acquires and observers listen to it.
    pub fn release_channel(&self, resource: &str) -> String {
        format!("{}:released", self.lock_key(resource))
    }
}

impl Default for KeyFormat {
    fn default() -> Self {
        KeyFormat::new("redlead:", true)
    }
}

/// TLS material for `rediss://` nodes, in PEM. Without it, server
/// certificates are checked against the webpki (Mozilla) roots.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tls {
    /// Trust this CA (a private CA, as most Redis TLS setups use) instead of
    /// the public roots.
    pub root_ca_pem: Option<Vec<u8>>,
    /// Client certificate and key, for servers that require client auth.
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
}

impl Tls {
    pub fn with_root_ca(pem: impl Into<Vec<u8>>) -> Tls {
        Tls {
            root_ca_pem: Some(pem.into()),
            ..Tls::default()
        }
    }
    pub fn with_client_cert(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Tls {
        self.client_cert_pem = Some(cert_pem.into());
        self.client_key_pem = Some(key_pem.into());
        self
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Tls")
            .field("root_ca_pem", &self.root_ca_pem.as_ref().map(|_| "<set>"))
            .field(
                "client_cert_pem",
                &self.client_cert_pem.as_ref().map(|_| "<set>"),
            )
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

/// Settings of a [`Redlock`](crate::Redlock) client.
///
/// Start from `Config::default()` and change fields; the client validates them
/// when it is built and names the field in every error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// How long one node may take to answer one command before it counts as
    /// timed out. Far below any ttl (the spec suggests 5-50 ms for a 10 s ttl).
    pub node_timeout: Duration,
    /// Clock drift allowance as a fraction of the ttl; the drift subtracted
    /// from every validity is `ttl * drift_factor + 2 ms`. In [0, 0.5).
    pub drift_factor: f64,
    /// Base delay between two attempts of a waiting acquire.
    pub retry_delay: Duration,
    /// Random extra delay, uniform in [0, retry_jitter], added to each retry so
    /// that contenders do not retry in lockstep.
    pub retry_jitter: Duration,
    /// Most attempts of a waiting acquire (None: as many as the wait allows).
    pub retry_count: Option<u32>,
    /// How resource names map to keys.
    pub key_format: KeyFormat,
    /// Timeout of one connection attempt to a node.
    pub connect_timeout: Duration,
    /// TLS material for `rediss://` nodes (None: public roots, no client cert).
    pub tls: Option<Tls>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_timeout: Duration::from_millis(50),
            drift_factor: 0.01,
            retry_delay: Duration::from_millis(200),
            retry_jitter: Duration::from_millis(100),
            retry_count: None,
            key_format: KeyFormat::default(),
            connect_timeout: Duration::from_millis(500),
            tls: None,
        }
    }
}

impl Config {
    pub fn with_node_timeout(mut self, d: Duration) -> Config {
        self.node_timeout = d;
        self
    }
    pub fn with_drift_factor(mut self, f: f64) -> Config {
        self.drift_factor = f;
        self
    }
    pub fn with_retry(mut self, delay: Duration, jitter: Duration, count: Option<u32>) -> Config {
        self.retry_delay = delay;
        self.retry_jitter = jitter;
        self.retry_count = count;
        self
    }
    pub fn with_key_format(mut self, key_format: KeyFormat) -> Config {
        self.key_format = key_format;
        self
    }
    pub fn with_connect_timeout(mut self, d: Duration) -> Config {
        self.connect_timeout = d;
        self
    }

    pub fn with_tls(mut self, tls: Tls) -> Config {
        self.tls = Some(tls);
        self
    }

    pub fn validate(&self) -> Result<()> {
        if cfg!(not(feature = "tls-rustls")) && self.tls.is_some() {
            return Err(Error::invalid(
                "tls: redlead was built without its tls-rustls feature",
            ));
        }
        if let Some(tls) = &self.tls {
            if tls.client_cert_pem.is_some() != tls.client_key_pem.is_some() {
                return Err(Error::invalid(
                    "tls: client_cert_pem and client_key_pem go together",
                ));
            }
            for (name, pem) in [
                ("tls.root_ca_pem", &tls.root_ca_pem),
                ("tls.client_cert_pem", &tls.client_cert_pem),
                ("tls.client_key_pem", &tls.client_key_pem),
            ] {
                if let Some(pem) = pem {
                    validate::pem(name, pem)?;
                }
            }
        }
        positive("node_timeout", self.node_timeout)?;
        positive("connect_timeout", self.connect_timeout)?;
        bounded("retry_delay", self.retry_delay)?;
        bounded("retry_jitter", self.retry_jitter)?;
        validate::drift_factor(self.drift_factor)?;
        if self.retry_count == Some(0) {
            return Err(Error::invalid("retry_count must be at least 1 when set"));
        }
        if self.key_format.prefix.len() > MAX_RESOURCE_LEN {
            return Err(Error::invalid(
                "key_format.prefix is longer than 1024 bytes",
            ));
        }
        Ok(())
    }

    /// Drift allowance for a ttl: `ttl * drift_factor + 2 ms`.
    pub fn drift(&self, ttl: Duration) -> Duration {
        ttl.mul_f64(self.drift_factor) + Duration::from_millis(2)
    }

    /// Checks a lock ttl against the limits and this configuration.
    pub fn check_ttl(&self, ttl: Duration) -> Result<()> {
        positive("ttl", ttl)?;
        if ttl < Duration::from_millis(1) {
            return Err(Error::invalid(
                "ttl must be at least 1 ms (Redis expires keys in ms)",
            ));
        }
        if self.node_timeout >= ttl {
            return Err(Error::invalid(format!(
                "node_timeout ({:?}) must be shorter than the ttl ({:?})",
                self.node_timeout, ttl
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_key_format_uses_a_hash_tag() {
        let k = KeyFormat::default();
        assert_eq!(k.lock_key("jobs"), "redlead:{jobs}");
        assert_eq!(k.fence_key("jobs"), "redlead:{jobs}:fence");
        assert_eq!(
            KeyFormat::new("redlock:", false).lock_key("jobs"),
            "redlock:jobs"
        );
    }

    #[test]
    fn bad_settings_name_the_field() {
        let c = Config::default().with_drift_factor(0.5);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("drift_factor"));
        let c = Config::default().with_node_timeout(Duration::ZERO);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("node_timeout"));
        let c = Config::default();
        assert!(c
            .check_ttl(Duration::ZERO)
            .unwrap_err()
            .to_string()
            .contains("ttl"));
        assert!(c
            .check_ttl(Duration::from_millis(50))
            .unwrap_err()
            .to_string()
            .contains("node_timeout"));
        assert!(c.check_ttl(Duration::from_secs(90_000)).is_err());
        assert!(validate::resource("").is_err());
        assert!(validate::resource(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn drift_is_a_fraction_plus_two_ms() {
        let c = Config::default();
        assert_eq!(c.drift(Duration::from_secs(10)), Duration::from_millis(102));
    }
}
