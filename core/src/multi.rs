//! Several resources locked all-or-nothing (node-redlock's `acquire([a, b])`).
//!
//! A `MultiLock` is one ordinary [`Lock`] per resource, acquired together:
//! either every one is held, or none is kept (those taken are released
//! before the call returns). Mutual exclusion is Redlock's for each resource
//! on its own, so the safety argument is the single lock's (docs/multi.md);
//! what this file adds is the all-or-nothing rule and one validity, the
//! earliest of the parts'.

use std::time::Duration;

use futures::future::{join_all, select_all, FutureExt};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::lock::Lock;
use crate::random;
use crate::redlock::{LockOptions, Redlock};
use crate::validate::bounded;

/// Locks on several resources, held together. Dropping it releases every
/// part in the background; [`release`](MultiLock::release) waits.
#[derive(Debug)]
pub struct MultiLock {
    /// Sorted by resource.
    locks: Vec<Lock>,
}

impl MultiLock {
    /// One lock per resource, sorted by resource name.
    pub fn locks(&self) -> &[Lock] {
        &self.locks
    }

    /// Every part still held.
    pub fn is_held(&self) -> bool {
        self.locks.iter().all(Lock::is_held)
    }

    /// The earliest end of validity among the parts.
    pub fn deadline(&self) -> Instant {
        self.locks
            .iter()
            .map(Lock::deadline)
            .min()
            .expect("a MultiLock has at least one part")
    }

    /// Time left before some part may be taken by someone else.
    pub fn validity(&self) -> Duration {
        self.deadline().saturating_duration_since(Instant::now())
    }

    /// Completes when any part is lost (see [`Lock::lost`]).
    pub async fn lost(&self) {
        select_all(self.locks.iter().map(|l| l.lost().boxed())).await;
    }

    /// Extends every part at once; the new validity is the earliest. When a
    /// part fails, the error is returned and the whole must be treated as
    /// lost (the other parts stay extended until released).
    pub async fn extend(&self, ttl: Duration) -> Result<Duration> {
        let results = join_all(self.locks.iter().map(|l| l.extend(ttl))).await;
        let mut validity = Duration::MAX;
        for r in results {
            validity = validity.min(r?);
        }
        Ok(validity)
    }

    /// Releases every part at once and waits for each; the first error, if
    /// any, after all were attempted.
    pub async fn release(&self) -> Result<()> {
        first_error(join_all(self.locks.iter().map(Lock::release)).await)
    }
}

fn first_error<T>(results: Vec<Result<T>>) -> Result<()> {
    results
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), Err)
}

impl Redlock {
    /// One attempt at every resource at once: all held, or none kept. When
    /// some were held elsewhere, those taken are released before this
    /// returns `NotAcquired`. Resources must be distinct.
    pub async fn try_acquire_all<S: AsRef<str>>(
        &self,
        resources: &[S],
        ttl: Duration,
        opts: &LockOptions,
    ) -> Result<MultiLock> {
        let resources = distinct_sorted(resources)?;
        self.attempt_all(&resources, ttl, opts).await
    }

    /// [`try_acquire_all`](Redlock::try_acquire_all), retried with the
    /// client's retry delay and jitter until `wait` is spent. The jitter is
    /// what ends two contenders that each took half of the other's set.
    pub async fn acquire_all<S: AsRef<str>>(
        &self,
        resources: &[S],
        ttl: Duration,
        wait: Duration,
        opts: &LockOptions,
    ) -> Result<MultiLock> {
        let resources = distinct_sorted(resources)?;
        bounded("wait", wait)?;
        let cfg = self.config();
        let give_up = Instant::now() + wait;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let err = match self.attempt_all(&resources, ttl, opts).await {
                Ok(all) => return Ok(all),
                Err(e) if e.is_retryable() => e,
                Err(e) => return Err(e),
            };
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() || cfg.retry_count.is_some_and(|n| attempts >= n) {
                return Err(err);
            }
            let delay = cfg.retry_delay + random::jitter(cfg.retry_jitter);
            tokio::time::sleep(delay.min(left)).await;
        }
    }

    async fn attempt_all(
        &self,
        resources: &[String],
        ttl: Duration,
        opts: &LockOptions,
    ) -> Result<MultiLock> {
        let results = join_all(
            resources
                .iter()
                .map(|r| self.try_acquire_with(r, ttl, opts)),
        )
        .await;
        let (locks, errors): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let locks: Vec<Lock> = locks.into_iter().map(Result::unwrap).collect();
        if errors.is_empty() {
            return Ok(MultiLock { locks });
        }
        // Release what was taken before answering, so that a caller who
        // retries, or gives up, leaves no part held.
        join_all(locks.iter().map(Lock::release)).await;
        let errors: Vec<Error> = errors.into_iter().map(Result::unwrap_err).collect();
        // "Held elsewhere" says the most about what to do next (wait, retry);
        // other errors are reported when it is not the reason.
        let pick = errors
            .iter()
            .position(|e| e.kind() == ErrorKind::NotAcquired)
            .unwrap_or(0);
        Err(errors.into_iter().nth(pick).expect("at least one error"))
    }
}

fn distinct_sorted<S: AsRef<str>>(resources: &[S]) -> Result<Vec<String>> {
    if resources.is_empty() {
        return Err(Error::invalid("at least one resource is required"));
    }
    let mut sorted: Vec<String> = resources.iter().map(|r| r.as_ref().to_string()).collect();
    sorted.sort();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::invalid(format!("resource {:?} given twice", w[0])));
    }
    Ok(sorted)
}
