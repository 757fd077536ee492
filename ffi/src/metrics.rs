//! The library's metrics (docs/metrics.md) for C callers, in the Prometheus
//! text format: C has no metrics facade to plug into, so libredlead keeps
//! its own recorder (its copy of the `metrics` crate is private to it) and
//! renders on demand; the caller serves the text however it serves others.
//! Off until enabled, so that a process that never asks pays nothing.

use std::os::raw::c_char;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::boundary::{check_out, write_out};
use crate::error::{c_string, redlead_error};
use crate::status::{redlead_status, FfiError};

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Starts recording the library's metrics (acquire latency, node replies by
/// outcome, lost locks, leadership; docs/metrics.md). Only what happens
/// after this call is counted. Calling it again does nothing.
///
/// Blocks: no. Threads: any. Ownership: nothing is passed.
/// NULL: `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_metrics_enable(error_out: *mut *mut redlead_error) -> redlead_status {
    boundary!(error_out, {
        let mut result = Ok(());
        PROMETHEUS.get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            result = metrics::set_global_recorder(recorder).map_err(|e| {
                FfiError::new(
                    redlead_status::REDLEAD_ERR_INTERNAL,
                    format!("cannot install the metrics recorder: {e}"),
                )
            });
            handle
        });
        result
    })
}

/// The metrics recorded since `redlead_metrics_enable`, as Prometheus text
/// (exposition format 0.0.4), written to `*text_out`.
/// `REDLEAD_ERR_INVALID_ARGUMENT` before `redlead_metrics_enable`.
///
/// Blocks: no. Threads: any.
/// Ownership: the caller owns `*text_out` and frees it with
/// `redlead_string_free`.
/// NULL: `text_out` must not be NULL (`REDLEAD_ERR_INVALID_ARGUMENT`);
/// `error_out` may be NULL.
#[no_mangle]
pub extern "C" fn redlead_metrics_render(
    text_out: *mut *mut c_char,
    error_out: *mut *mut redlead_error,
) -> redlead_status {
    boundary!(error_out, {
        check_out(text_out, "text_out")?;
        let handle = PROMETHEUS.get().ok_or_else(|| {
            FfiError::invalid("metrics are off: call redlead_metrics_enable first")
        })?;
        write_out(text_out, c_string(handle.render()).into_raw());
        Ok(())
    })
}
