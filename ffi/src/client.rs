//! The client handle: N node URLs and a configuration; who holds a resource,
//! and a ping of every node.

use std::ffi::CString;
use std::os::raw::c_char;
use std::sync::Arc;

use redlead_core::{owner_of, Config, Redlock};

use crate::boundary::{arg_ref, arg_shared, arg_slice, arg_str, check_out, give, take, write_out};
use crate::config::redlead_config;
use crate::error::{c_string, redlead_error, write_node};
use crate::runtime;
use crate::status::{node_outcomes, redlead_outcome, redlead_status, FfiError};

/// A Redlock client over N independent Redis masters.
///
/// Ownership: created by `redlead_client_new`, owned by the caller, freed once
/// with `redlead_client_free`. Lifetime: locks and elections made from it keep
/// what they need, so the client may be freed while they live, and while
/// another thread waits in a call on it. Thread-safety: every function taking
/// a client may be called from many threads at once (a const handle may be
/// used concurrently).
pub struct redlead_client {
    cell: crate::boundary::HandleCell<Arc<Redlock>>,
}

handle!(redlead_client => Arc<Redlock>, 0x7265_646c_636c_6930);

/// Creates a client over `node_count` URLs
/// (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS).
/// Connections are made lazily and kept, so a node that is down now does not
/// fail this call. Builds the process-wide runtime on first use.
///
/// Blocks: no network wait (builds the runtime on the first call).
/// Threads: any thread but a tokio runtime thread.
/// Ownership: `node_urls` (an array of `node_count` strings) and `config` are
/// borrowed and copied; the caller owns `*client_out` and frees it with
/// `redlead_client_free`.
/// NULL: `node_urls`, each of its entries and `client_out` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `config` NULL means the defaults;
/// `error_out` may be NULL.
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
        let rt = runtime::get(threads)?;
        let _entered = rt.enter();
        let redlock = Redlock::new(&urls, cfg)?;
        write_out(client_out, give::<redlead_client>(Arc::new(redlock)));
        Ok(())
    })
}

/// Frees a client. Locks and elections made from it stay usable and must
/// still be freed.
///
/// Blocks: no. Threads: any; calls still waiting on `client` in other
/// threads finish normally. Ownership: takes `client`; do not use it again
/// (a second free of a recent handle is detected and ignored). NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_client_free(client: *mut redlead_client) {
    boundary!({
        let _ = take(client, "client");
    })
}

/// Who holds `resource`: `*held_out` receives 1 when a quorum of nodes
/// agrees on one holder, else 0; `*owner_out` receives that holder's owner
/// label (`redlead_lock_options_set_owner`), or NULL when nobody holds it or
/// the holder set no label. `REDLEAD_ERR_CONNECTION` when fewer than a quorum
/// answered.
///
/// Blocks: yes, for about one round trip; at most about the node timeout.
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `client`.
/// Ownership: `client` and `resource` are borrowed; the caller owns the
/// string written to `*owner_out` and frees it with `redlead_string_free`.
/// NULL: `client` and `resource` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `held_out`, `owner_out` and `error_out`
/// may be NULL (not written).
#[no_mangle]
pub extern "C" fn redlead_client_holder(
    client: *const redlead_client,
    resource: *const c_char,
    held_out: *mut u8,
    owner_out: *mut *mut c_char,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let rl = arg_shared(client, "client")?;
        let resource = arg_str(resource, "resource")?.to_string();
        if !held_out.is_null() {
            check_out(held_out, "held_out")?;
        }
        if !owner_out.is_null() {
            check_out(owner_out, "owner_out")?;
        }
        let value = runtime::block_on(async move { rl.holder_value(&resource).await })??;
        if !held_out.is_null() {
            write_out(held_out, u8::from(value.is_some()));
        }
        if !owner_out.is_null() {
            let owner = value
                .as_deref()
                .and_then(owner_of)
                .map_or(std::ptr::null_mut(), |o| c_string(o.to_string()).into_raw());
            write_out(owner_out, owner);
        }
        Ok(())
    })
}

/// Frees a string the library gave out (`redlead_client_holder`).
///
/// Blocks: no. Threads: any. Ownership: takes `s`; free each string once.
/// NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_string_free(s: *mut c_char) {
    boundary!(any_process, {
        crate::boundary::free_c_string(s);
    })
}

/// Per-node outcomes of `redlead_client_ping`.
///
/// Ownership: created by `redlead_client_ping`, owned by the caller, freed
/// once with `redlead_outcomes_free`. Lifetime: the strings it gives out live
/// until it is freed. Thread-safety: immutable; a const handle may be used
/// concurrently.
pub struct redlead_outcomes {
    cell: crate::boundary::HandleCell<Vec<(CString, redlead_outcome, CString)>>,
}

handle!(redlead_outcomes => Vec<(CString, redlead_outcome, CString)>, 0x7265_646c_6f75_7430);

/// Sends PING to every node (for health checks). Succeeds whatever the nodes
/// answer: `*outcomes_out` receives each node's outcome
/// (`REDLEAD_OUTCOME_OK`, `_ERROR` or `_TIMEOUT`), in the order the URLs
/// were given.
///
/// Blocks: yes, for about one round trip; at most about the node timeout.
/// Threads: any thread but a tokio runtime thread (`REDLEAD_ERR_WRONG_THREAD`
/// there); concurrently with any other call on `client`.
/// Ownership: `client` is borrowed; the caller owns `*outcomes_out` and
/// frees it with `redlead_outcomes_free`.
/// NULL: `client` and `outcomes_out` must not be NULL
/// (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_client_ping(
    client: *const redlead_client,
    outcomes_out: *mut *mut redlead_outcomes,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let rl = arg_shared(client, "client")?;
        check_out(outcomes_out, "outcomes_out")?;
        let outcomes = runtime::block_on(async move { rl.ping().await })?;
        let nodes = node_outcomes(&outcomes.0)
            .into_iter()
            .map(|(n, k, m)| (c_string(n), k, c_string(m)))
            .collect();
        write_out(outcomes_out, give::<redlead_outcomes>(nodes));
        Ok(())
    })
}

/// How many node outcomes `outcomes` holds (one per node).
///
/// Blocks: no. Threads: any. Ownership: `outcomes` is borrowed.
/// NULL: answers 0.
#[no_mangle]
pub extern "C" fn redlead_outcomes_count(outcomes: *const redlead_outcomes) -> usize {
    boundary!(any_process, {
        arg_ref(outcomes, "outcomes").map(|o| o.len()).unwrap_or(0)
    })
}

/// The `index`-th node's outcome: its address, the kind of its answer, and
/// a message. `REDLEAD_ERR_INVALID_ARGUMENT` when `index` is out of range.
///
/// Blocks: no. Threads: any. Ownership: `outcomes` is borrowed; the strings
/// written to `*node_out` and `*message_out` belong to `outcomes` and are
/// valid until it is freed.
/// NULL: `outcomes`, `node_out`, `outcome_out` and `message_out` must not be
/// NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_outcomes_get(
    outcomes: *const redlead_outcomes,
    index: usize,
    node_out: *mut *const c_char,
    outcome_out: *mut redlead_outcome,
    message_out: *mut *const c_char,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(any_process, error_out, {
        let nodes = arg_ref(outcomes, "outcomes")?;
        write_node(nodes, index, node_out, outcome_out, message_out)
    })
}

/// Frees node outcomes.
///
/// Blocks: no. Threads: any, but not while another thread reads `outcomes`.
/// Ownership: takes `outcomes`. NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_outcomes_free(outcomes: *mut redlead_outcomes) {
    boundary!(any_process, {
        let _ = take(outcomes, "outcomes");
    })
}
