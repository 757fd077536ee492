//! Opaque config builders. Setters check what they can at once; the client
//! (or election) validates the whole configuration when it is built.

use std::os::raw::c_char;

use redlead_core::validate::{self, duration_from_millis, Zero};
use redlead_core::{Config, ElectionOverrides, KeyFormat};

use crate::boundary::{arg_str, give, take};
use crate::error::{redlead_error, redlead_status, FfiError, FfiResult};

/// Settings of a client, built with `redlead_config_set_*`.
///
/// Ownership: created by `redlead_config_new`, owned by the caller, freed
/// once with `redlead_config_free`. `redlead_client_new` copies it, so it may
/// be freed or reused right after. Thread-safety: not synchronized; do not
/// set it from two threads at once (reading it in two `redlead_client_new`
/// calls at once is safe).
pub struct redlead_config {
    cell: crate::boundary::HandleCell<ClientSettings>,
}

handle!(redlead_config => ClientSettings, 0x7265_646c_6366_6730);

/// What a `redlead_config` holds.
#[derive(Clone, Default)]
pub struct ClientSettings {
    pub(crate) config: Config,
    pub(crate) runtime_threads: Option<usize>,
}

/// Settings of an election, built with `redlead_election_config_set_*`.
///
/// Ownership, lifetime and thread-safety as for `redlead_config`:
/// `redlead_election_start` copies it.
pub struct redlead_election_config {
    // Only what was set, so that the core's defaults (scaled to the ttl)
    // apply to the rest.
    cell: crate::boundary::HandleCell<ElectionOverrides>,
}

handle!(redlead_election_config => ElectionOverrides, 0x7265_646c_6563_6630);

use crate::boundary::arg_mut as config_mut;

/// A new client configuration holding the defaults (node timeout 50 ms,
/// drift factor 0.01, retry delay 200 ms + up to 100 ms jitter, unlimited
/// retries within the wait, keys `redlead:{resource}`, connect timeout
/// 500 ms, 1 I/O thread). Returns NULL only in a forked child or on an
/// internal panic. The caller owns the result.
///
/// Blocks: no. Threads: any. Ownership: the caller owns the result and frees
/// it with `redlead_config_free`. NULL: returns NULL only in a forked child or on
/// an internal panic.
#[no_mangle]
pub extern "C" fn redlead_config_new() -> *mut redlead_config {
    boundary!({ give::<redlead_config>(ClientSettings::default()) })
}

/// Frees a configuration. NULL is a no-op.
///
/// Blocks: no. Threads: any, but not concurrently with another call on the
/// same `config`. Ownership: takes `config`; do not use it again (a second
/// free of a recent handle is detected and ignored). NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_config_free(config: *mut redlead_config) {
    boundary!({
        let _ = take(config, "config");
    })
}

/// How long one node may take to answer one command (> 0, far below any ttl).
/// `config` is borrowed and mutated.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_node_timeout_ms(
    config: *mut redlead_config,
    node_timeout_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.config.node_timeout =
            duration_from_millis("node_timeout_ms", node_timeout_ms, Zero::Rejected)?;
        Ok(())
    })
}

/// Clock drift allowance as a fraction of the ttl, in [0, 0.5).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_drift_factor(
    config: *mut redlead_config,
    drift_factor: f64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        validate::drift_factor(drift_factor)?;
        c.config.drift_factor = drift_factor;
        Ok(())
    })
}

/// Most attempts of a waiting acquire; 0 means no limit other than the wait.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_retry_count(
    config: *mut redlead_config,
    retry_count: u32,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.config.retry_count = (retry_count > 0).then_some(retry_count);
        Ok(())
    })
}

/// Base delay between two attempts of a waiting acquire (0 allowed).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_retry_delay_ms(
    config: *mut redlead_config,
    retry_delay_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.config.retry_delay =
            duration_from_millis("retry_delay_ms", retry_delay_ms, Zero::Allowed)?;
        Ok(())
    })
}

/// Random extra delay, uniform in [0, jitter], added to each retry (0 allowed).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_retry_jitter_ms(
    config: *mut redlead_config,
    retry_jitter_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.config.retry_jitter =
            duration_from_millis("retry_jitter_ms", retry_jitter_ms, Zero::Allowed)?;
        Ok(())
    })
}

/// Prefix of every Redis key (default "redlead:"). `key_prefix` is a borrowed
/// NUL-terminated UTF-8 string, copied.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated; `key_prefix` is borrowed and copied.
/// NULL: `config` and `key_prefix` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_key_prefix(
    config: *mut redlead_config,
    key_prefix: *const c_char,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        let prefix = arg_str(key_prefix, "key_prefix")?;
        let tag = c.config.key_format.hash_tag;
        c.config.key_format = KeyFormat::new(prefix, tag);
        Ok(())
    })
}

/// Trust this CA (PEM, a borrowed NUL-terminated string, copied) for
/// `rediss://` nodes instead of the public (webpki) roots: most Redis TLS
/// deployments use a private CA. Checked for a PEM header here; the client
/// rejects it at connect time if it does not parse.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated; `ca_pem` is borrowed and copied.
/// NULL: `config` and `ca_pem` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_tls_root_ca_pem(
    config: *mut redlead_config,
    ca_pem: *const c_char,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        let pem = pem_arg(ca_pem, "ca_pem")?;
        let mut tls = c.config.tls.take().unwrap_or_default();
        tls.root_ca_pem = Some(pem);
        c.config.tls = Some(tls);
        Ok(())
    })
}

/// Client certificate and key (PEM, borrowed NUL-terminated strings, copied)
/// for `rediss://` nodes that require client authentication.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated; `cert_pem` and `key_pem` are borrowed and copied.
/// NULL: `config`, `cert_pem` and `key_pem` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_tls_client_cert_pem(
    config: *mut redlead_config,
    cert_pem: *const c_char,
    key_pem: *const c_char,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        let cert = pem_arg(cert_pem, "cert_pem")?;
        let key = pem_arg(key_pem, "key_pem")?;
        let mut tls = c.config.tls.take().unwrap_or_default();
        tls.client_cert_pem = Some(cert);
        tls.client_key_pem = Some(key);
        c.config.tls = Some(tls);
        Ok(())
    })
}

fn pem_arg(p: *const c_char, name: &str) -> FfiResult<Vec<u8>> {
    let pem = arg_str(p, name)?.as_bytes();
    validate::pem(name, pem)?;
    Ok(pem.to_vec())
}

/// Non-zero (default): keys are `prefix{resource}`, so a lock's keys share a
/// Redis Cluster slot; zero: `prefix` + resource, as other Redlock libraries.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_key_hash_tag(
    config: *mut redlead_config,
    key_hash_tag: u8,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.config.key_format.hash_tag = key_hash_tag != 0;
        Ok(())
    })
}

/// Timeout of one connection attempt to a node (> 0).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_connect_timeout_ms(
    config: *mut redlead_config,
    connect_timeout_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.config.connect_timeout =
            duration_from_millis("connect_timeout_ms", connect_timeout_ms, Zero::Rejected)?;
        Ok(())
    })
}

/// I/O threads of the process-wide runtime (1..=256, default 1): each client
/// lives on one of them (round robin), with its connections, renewals and
/// elections. One thread serves many clients at the lowest latency; more
/// help only when several busy clients saturate one core. Applies
/// only before the runtime is first built (by the first `redlead_client_new`);
/// once it runs, this fails with `REDLEAD_ERR_INVALID_ARGUMENT`, and so does
/// `redlead_client_new` with a config asking for a different count.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_config_set_runtime_threads(
    config: *mut redlead_config,
    runtime_threads: u32,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        let n = runtime_threads as usize;
        if n == 0 || n > crate::runtime::MAX_THREADS {
            return Err(FfiError::invalid(format!(
                "runtime_threads must be in 1..=256, got {n}"
            )));
        }
        if let Some(have) = crate::runtime::built_threads() {
            if have != n {
                return Err(FfiError::invalid(format!(
                    "runtime_threads applies only before the runtime is first built; it already runs {have} I/O threads"
                )));
            }
        }
        c.runtime_threads = Some(n);
        Ok(())
    })
}

/// A new election configuration holding the defaults (see the core's
/// `ElectionConfig`). Returns NULL only in a forked child or on an internal
/// panic. The caller owns the result.
///
/// Blocks: no. Threads: any. Ownership: the caller owns the result and frees
/// it with `redlead_election_config_free`. NULL: returns NULL only in a forked child or on
/// an internal panic.
#[no_mangle]
pub extern "C" fn redlead_election_config_new() -> *mut redlead_election_config {
    boundary!({ give::<redlead_election_config>(ElectionOverrides::default()) })
}

/// Frees an election configuration. NULL is a no-op.
///
/// Blocks: no. Threads: any, but not concurrently with another call on the
/// same `config`. Ownership: takes `config`; do not use it again (a second
/// free of a recent handle is detected and ignored). NULL: a no-op.
#[no_mangle]
pub extern "C" fn redlead_election_config_free(config: *mut redlead_election_config) {
    boundary!({
        let _ = take(config, "config");
    })
}

/// Lifetime of the leader's lock: how long a crashed leader blocks a new
/// election (> 0).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_config_set_ttl_ms(
    config: *mut redlead_election_config,
    ttl_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.ttl = Some(duration_from_millis("ttl_ms", ttl_ms, Zero::Rejected)?);
        Ok(())
    })
}

/// How often the leader renews its lock (> 0; default ttl / 3).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_config_set_renew_interval_ms(
    config: *mut redlead_election_config,
    renew_interval_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.renew_interval = Some(duration_from_millis(
            "renew_interval_ms",
            renew_interval_ms,
            Zero::Rejected,
        )?);
        Ok(())
    })
}

/// How often a follower tries to become leader (> 0).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_config_set_retry_interval_ms(
    config: *mut redlead_election_config,
    retry_interval_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.retry_interval = Some(duration_from_millis(
            "retry_interval_ms",
            retry_interval_ms,
            Zero::Rejected,
        )?);
        Ok(())
    })
}

/// Random extra delay, uniform in [0, `retry_jitter_ms`], added to each of a
/// follower's attempts (0 allowed; default ttl / 50), so that followers do
/// not all try at the same instant.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_config_set_retry_jitter_ms(
    config: *mut redlead_election_config,
    retry_jitter_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.retry_jitter = Some(duration_from_millis(
            "retry_jitter_ms",
            retry_jitter_ms,
            Zero::Allowed,
        )?);
        Ok(())
    })
}

/// How long `redlead_election_free` waits for an event callback that is
/// still running (> 0; default 5000). After it, the free returns
/// `REDLEAD_ERR_TIMEOUT` having stopped the campaign, released the lock and
/// freed the election; the closure's `drop` runs when the callback returns.
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_config_set_stop_timeout_ms(
    config: *mut redlead_election_config,
    stop_timeout_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.stop_timeout = Some(duration_from_millis(
            "stop_timeout_ms",
            stop_timeout_ms,
            Zero::Rejected,
        )?);
        Ok(())
    })
}

/// How long before the lock's validity ends a leader that could not renew
/// steps down (> 0).
///
/// Blocks: no. Threads: not concurrently with another call on the same
/// `config`. Ownership: `config` is borrowed and mutated.
/// NULL: `config` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`); `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_election_config_set_step_down_margin_ms(
    config: *mut redlead_election_config,
    step_down_margin_ms: u64,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        let c = config_mut(config, "config")?;
        c.step_down_margin = Some(duration_from_millis(
            "step_down_margin_ms",
            step_down_margin_ms,
            Zero::Rejected,
        )?);
        Ok(())
    })
}
