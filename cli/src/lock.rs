//! `redlead lock RESOURCE -- CMD`: run CMD while holding a fenced lock.

use std::sync::Arc;
use std::time::Duration;

use redlead::{Lock, LockOptions, NodeOutcome, Redlock};
use tokio::time::Instant;

use crate::args::{Global, LockArgs};
use crate::child::{self, signal_name, Child, Signals};
use crate::exit::{self, Failure, LOST, NOT_ACQUIRED};
use crate::nodes;
use crate::timing::{self, show};

pub async fn run(global: &Global, args: LockArgs) -> Result<u8, Failure> {
    child::check_program(&args.cmd)?;
    check_env_name(&args.fencing_env)?;
    let redlock = nodes::client(global)?;
    redlock.config().check_ttl(args.ttl)?;
    let grace = timing::grace(args.grace, args.ttl)?;
    let stop_before_end = timing::stop_before_end(args.ttl, global.node_timeout, grace);
    let owner = args.owner.clone().unwrap_or_else(nodes::default_owner);
    let opts = LockOptions::fenced().with_owner(owner.clone());
    let mut signals = Signals::install()?;

    let lock = tokio::select! {
        r = acquire(&redlock, &args, &opts) => r?,
        sig = signals.recv() => {
            return Err(Failure::new(exit::of_wait_status(None, Some(sig)), format!(
                "interrupted ({}) while acquiring {}; CMD not started", signal_name(sig), args.resource
            )));
        }
    };
    let Some(token) = lock.fencing_token() else {
        return Err(Failure::internal(
            "a fenced lock came without a fencing token",
        ));
    };
    tracing::info!(resource = %args.resource, %owner, token = token.get(), validity = %show(lock.validity()), "lock acquired");
    if lock.validity() <= stop_before_end {
        // A slow acquisition: CMD would be told to stop the moment it started.
        let left = lock.validity();
        let _ = lock.release().await;
        return Err(Failure::new(
            NOT_ACQUIRED,
            format!(
                "{}: acquired with only {} of validity left, less than --grace plus the safety margin ({}); CMD not started",
                args.resource,
                show(left),
                show(stop_before_end)
            ),
        ));
    }
    let lock = Arc::new(lock);
    let extender = tokio::spawn(keep_extended(lock.clone(), args.ttl, global.node_timeout));

    let env = [
        (args.fencing_env.clone(), token.get().to_string()),
        ("REDLEAD_RESOURCE".to_string(), args.resource.clone()),
    ];
    let mut cmd = match Child::spawn(&args.cmd, &env) {
        Ok(c) => c,
        Err(f) => {
            extender.abort();
            let _ = lock.release().await;
            return Err(f);
        }
    };

    let ended = loop {
        tokio::select! {
            status = cmd.exited() => break Ended::Exited(status),
            sig = signals.recv() => {
                tracing::info!(signal = signal_name(sig), pid = cmd.pid(), "forwarding to CMD; the lock is released once it exits");
                cmd.signal(sig);
            }
            why = stop_point(&lock, stop_before_end) => {
                tracing::warn!(
                    resource = %args.resource,
                    validity = %show(lock.validity()),
                    "{why}: stopping CMD (SIGTERM now, SIGKILL in {})", show(grace)
                );
                let status = cmd.stop(grace).await;
                break Ended::Stopped { why, status };
            }
        }
    };
    extender.abort();
    let cmd_status = cmd.reap().await;
    let released = lock.release().await;
    nodes::let_releases_land(&redlock, global).await;
    match &released {
        Ok(outcomes) => tracing::info!(resource = %args.resource, %outcomes, "released"),
        Err(e) => tracing::info!(resource = %args.resource, error = %e, "release failed"),
    }
    match ended {
        Ended::Stopped { why, status } => Err(Failure::new(
            LOST,
            format!(
                "lock on {} lost while CMD ran ({why}); CMD was stopped (its status {status})",
                args.resource
            ),
        )),
        Ended::Exited(status) => match released {
            Err(e) if e.is_lost() => Err(Failure::new(
                LOST,
                format!(
                    "CMD exited with {status}, but the lock on {} was lost before it finished: {e}",
                    args.resource
                ),
            )),
            Err(e) => {
                // The keys expire by themselves within the ttl.
                tracing::warn!(resource = %args.resource, error = %e, "release reached no quorum; the lock expires within its ttl");
                Ok(cmd_status)
            }
            Ok(_) => Ok(status),
        },
    }
}

enum Ended {
    Exited(u8),
    Stopped { why: &'static str, status: u8 },
}

/// Acquires with the wait budget, and turns the library's errors into a
/// line an operator can act on.
async fn acquire(redlock: &Redlock, args: &LockArgs, opts: &LockOptions) -> Result<Lock, Failure> {
    nodes::require_quorum(redlock).await?;
    let start = Instant::now();
    match redlock
        .acquire_with(&args.resource, args.ttl, args.wait, opts)
        .await
    {
        Ok(lock) => Ok(lock),
        Err(e) if e.is_not_acquired() => {
            let holder = e.outcomes().iter().find_map(|r| match &r.outcome {
                NodeOutcome::Held(Some(v)) => redlead::owner_of(v).map(str::to_string),
                _ => None,
            });
            let waited = show(start.elapsed());
            Err(Failure::new(
                NOT_ACQUIRED,
                match holder {
                    Some(h) => format!(
                        "{} is held by {h}; not acquired within --wait {} (waited {waited})",
                        args.resource,
                        show(args.wait)
                    ),
                    None => format!(
                        "{}: not acquired within --wait {} (waited {waited}): {e}",
                        args.resource,
                        show(args.wait)
                    ),
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Completes when CMD must be stopped: the library says the lock is lost, or
/// less than `stop_before_end` of validity is left (extensions failing).
///
/// # Cancel safety
/// Safe: it only reads the lock.
async fn stop_point(lock: &Lock, stop_before_end: Duration) -> &'static str {
    loop {
        let left = lock.validity();
        if left <= stop_before_end {
            return "extensions failed and the validity is running out";
        }
        tokio::select! {
            _ = lock.lost() => return "a quorum of nodes no longer holds it",
            // The deadline only moves later between checks, so waking late
            // is impossible; re-check at least every second anyway.
            _ = tokio::time::sleep((left - stop_before_end).min(Duration::from_secs(1))) => {}
        }
    }
}

/// Extends every ttl/3; after a failure, retries sooner. Ends when the lock
/// is lost or released (or the task is aborted).
async fn keep_extended(lock: Arc<Lock>, ttl: Duration, node_timeout: Duration) {
    let interval = ttl / 3;
    let mut next = Instant::now() + interval;
    loop {
        tokio::time::sleep_until(next).await;
        match lock.extend(ttl).await {
            Ok(validity) => {
                tracing::debug!(validity = %show(validity), "extended");
                next = Instant::now() + interval;
            }
            Err(e) if e.is_lost() => {
                tracing::warn!(error = %e, "extend: the lock is lost");
                return;
            }
            Err(e) if e.kind() == redlead::ErrorKind::Closed => return,
            Err(e) => {
                tracing::warn!(error = %e, validity = %show(lock.validity()), "extend failed; retrying");
                next = Instant::now() + (interval / 4).max(node_timeout * 2);
            }
        }
    }
}

/// An environment variable name: not empty, no `=` or NUL.
fn check_env_name(name: &str) -> Result<(), Failure> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(Failure::usage(format!(
            "--fencing-env {name:?} is not a valid environment variable name"
        )));
    }
    Ok(())
}
