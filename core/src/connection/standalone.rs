//! One server: a `ConnectionManager`, which keeps one multiplexed connection
//! and reconnects it in the background.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ConnectionInfo, RedisError};

use super::Dialing;
#[cfg(feature = "tls-rustls")]
use crate::tls::certificates;

#[derive(Clone)]
pub(crate) struct Standalone {
    /// For subscriptions, which need connections of their own.
    pub client: Client,
    pub conn: ConnectionManager,
}

impl Standalone {
    /// Nothing is dialled here: a server that is down at start costs nothing
    /// until it comes back.
    pub fn open(info: ConnectionInfo, dialing: &Dialing) -> Result<Standalone, RedisError> {
        let is_tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
        let client = match dialing.tls.as_ref().filter(|_| is_tls) {
            #[cfg(feature = "tls-rustls")]
            Some(tls) => Client::build_with_tls(info, certificates(tls))?,
            // Without TLS compiled in, rediss:// does not parse and
            // Config::validate refuses TLS material: no node gets here.
            _ => Client::open(info)?,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(dialing.connect_timeout))
            .set_response_timeout(None)
            .set_number_of_retries(0)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Standalone { client, conn })
    }
}
