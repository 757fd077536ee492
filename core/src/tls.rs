//! TLS for `rediss://` nodes, and whose choice the crypto provider is.
//!
//! The `redis` crate builds its rustls configuration from the process-wide
//! rustls `CryptoProvider` and offers no way to hand it one. That choice
//! belongs to the application: a library that installs a provider makes the
//! application's own `install_default()` fail later (and panic where it is
//! `expect`ed). So the core never installs one. It checks, when a client with
//! TLS nodes is built, that a provider can be had (the application's, or the
//! one rustls's crate features name unambiguously), so that a missing provider
//! is an error from [`crate::Redlock::new`] instead of a failure on every
//! connection attempt. The doors that are applications of their own (the C
//! library, the Python module, the CLI each carry their own copy of rustls)
//! call [`install_ring_provider`] at start.

#[cfg(feature = "tls-rustls")]
use redis::IntoConnectionInfo;

use crate::config::Tls;
#[cfg(feature = "tls-rustls")]
use crate::error::Error;
use crate::error::Result;

/// The redis client of one node: with the configured TLS material when the
/// node is a TLS one.
pub(crate) fn client(
    info: redis::ConnectionInfo,
    tls: Option<&Tls>,
) -> redis::RedisResult<redis::Client> {
    let is_tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
    match tls.filter(|_| is_tls) {
        #[cfg(feature = "tls-rustls")]
        Some(t) => redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: t
                    .client_cert_pem
                    .as_ref()
                    .zip(t.client_key_pem.as_ref())
                    .map(|(c, k)| redis::ClientTlsConfig {
                        client_cert: c.clone(),
                        client_key: k.clone(),
                    }),
                root_cert: t.root_ca_pem.clone(),
            },
        ),
        // Without TLS compiled in, rediss:// does not parse and
        // Config::validate refuses TLS material, so no node gets here.
        _ => redis::Client::open(info),
    }
}

/// Whether any of the URLs names a TLS node.
#[cfg(feature = "tls-rustls")]
fn names_tls_node<S: AsRef<str>>(node_urls: &[S]) -> bool {
    node_urls.iter().any(|url| {
        url.as_ref()
            .into_connection_info()
            .is_ok_and(|info| matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }))
    })
}

/// Fails when TLS nodes are configured and rustls has no provider to use.
#[cfg(feature = "tls-rustls")]
pub(crate) fn check_provider<S: AsRef<str>>(node_urls: &[S]) -> Result<()> {
    if !names_tls_node(node_urls) || rustls::crypto::CryptoProvider::get_default().is_some() {
        return Ok(());
    }
    // The same call the redis crate makes at the first handshake: it installs
    // the provider rustls's crate features name, or panics when they name
    // none or two. Made here, the second case becomes a clear error.
    std::panic::catch_unwind(rustls::ClientConfig::builder)
        .map(|_| ())
        .map_err(|_| {
            Error::invalid(
                "rediss:// nodes need a rustls CryptoProvider and rustls cannot pick one \
                 (its crate features name none or several): install one at the start of \
                 main, e.g. rustls::crypto::ring::default_provider().install_default()",
            )
        })
}

/// Without TLS compiled in, the redis crate refuses `rediss://` URLs itself
/// ("the feature is not enabled") and `Config::validate` refuses TLS material.
#[cfg(not(feature = "tls-rustls"))]
pub(crate) fn check_provider<S: AsRef<str>>(_node_urls: &[S]) -> Result<()> {
    Ok(())
}

/// Makes rustls's ring provider the process default unless one is installed;
/// true when this call installed it. For applications only (see the module
/// comment): the C library, the Python module and the CLI call it at start.
#[cfg(feature = "tls-rustls-ring")]
pub fn install_ring_provider() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}
