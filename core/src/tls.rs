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
use crate::connection::NodeUrl;

#[cfg(feature = "tls-rustls")]
use crate::config::Tls;
#[cfg(feature = "tls-rustls")]
use crate::error::Error;
use crate::error::Result;

/// The redis crate's form of our TLS material.
#[cfg(feature = "tls-rustls")]
pub(crate) fn certificates(tls: &Tls) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: tls
            .client_cert_pem
            .as_ref()
            .zip(tls.client_key_pem.as_ref())
            .map(|(c, k)| redis::ClientTlsConfig {
                client_cert: c.clone(),
                client_key: k.clone(),
            }),
        root_cert: tls.root_ca_pem.clone(),
    }
}

/// Whether any of the URLs names a TLS node.
#[cfg(feature = "tls-rustls")]
fn names_tls_node<S: AsRef<str>>(node_urls: &[S]) -> bool {
    node_urls
        .iter()
        .any(|url| NodeUrl::parse(url.as_ref()).is_ok_and(|u| u.is_tls()))
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
