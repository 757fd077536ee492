//! The client handle: N node URLs and a configuration.

use std::os::raw::c_char;

use redlead_core::{Config, Redlock};

use std::sync::Arc;

use crate::boundary::{arg_ref, arg_slice, arg_str, check_out, give, take, write_out};
use crate::config::redlead_config;
use crate::error::{redlead_error, redlead_status, FfiError};

/// A Redlock client over N independent Redis masters.
///
/// Ownership: created by `redlead_client_new`, owned by the caller, freed once
/// with `redlead_client_free`. Lifetime: locks and elections made from it keep
/// what they need, so the client may be freed while they live. Thread-safety:
/// every function taking a client may be called from many threads at once.
pub struct redlead_client {
    magic: std::sync::atomic::AtomicU64,
    inner: crate::boundary::HandleSlot<Arc<Redlock>>,
}

handle!(redlead_client => Arc<Redlock>, 0x7265_646c_636c_6930);

/// Creates a client. `node_urls` is a borrowed array of `node_count`
/// NUL-terminated UTF-8 URLs (`redis://[user:password@]host:port[/db]`,
/// `rediss://` for TLS), copied. `config` is borrowed and copied; NULL means
/// the defaults. Connections are made lazily and kept, so a node that is down
/// now does not fail this call. Builds the process-wide runtime on first use.
/// On success `*client_out` receives a client the caller owns.
#[no_mangle]
pub extern "C" fn redlead_client_new(
    node_urls: *const *const c_char,
    node_count: usize,
    config: *const redlead_config,
    client_out: *mut *mut redlead_client,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        check_out(client_out, "client_out")?;
        let ptrs = arg_slice(node_urls, node_count, "node_urls")?;
        if ptrs.is_empty() {
            return Err(FfiError::invalid(
                "node_count must be at least 1 (one URL per Redis master)",
            ));
        }
        let urls = ptrs
            .iter()
            .enumerate()
            .map(|(i, p)| arg_str(*p, &format!("node_urls[{i}]")))
            .collect::<Result<Vec<&str>, _>>()?;
        let (cfg, threads) = if config.is_null() {
            (Config::default(), None)
        } else {
            let c = arg_ref(config, "config")?;
            (c.config.clone(), c.runtime_threads)
        };
        let rt = crate::runtime::get(threads)?;
        let _entered = rt.enter();
        let redlock = Redlock::new(&urls, cfg)?;
        write_out(client_out, give::<redlead_client>(Arc::new(redlock)));
        Ok(())
    })
}

/// Frees a client. NULL is a no-op. Locks and elections made from it stay
/// usable and must still be freed.
#[no_mangle]
pub extern "C" fn redlead_client_free(client: *mut redlead_client) {
    boundary!({
        let _ = take(client, "client");
    })
}
