//! A counting semaphore: at most `permits` holders at once (`consul lock -n`).
//!
//! Built as `permits` ordinary Redlock locks, one per slot
//! (`<name>:permit:<i>`): a permit is a held slot. Each slot admits one
//! holder by Redlock's own argument, so there are never more holders than
//! slots. The tempting alternative, one counter per node (a sorted set of
//! holders capped at `permits`) granted on a quorum of nodes, does not give
//! that bound: with 3 nodes and 2 permits, holders A on nodes {1,2}, B on
//! {2,3} and C on {1,3} each have a quorum while no node counts more than
//! two (docs/multi.md has the argument).

use std::ops::Deref;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Outcomes, Result};
use crate::lock::Lock;
use crate::random;
use crate::redlock::{LockOptions, Redlock};
use crate::validate::{self, bounded};

/// Most permits one semaphore may have: acquiring tries the slots one after
/// another, so the count bounds the time a full semaphore takes to say so.
pub const MAX_PERMITS: u32 = 1024;

/// A semaphore named `name` with `permits` slots, on a client's nodes. Cheap
/// to clone; holds no state of its own beyond the name.
#[derive(Debug, Clone)]
pub struct Semaphore {
    client: Redlock,
    name: String,
    permits: u32,
}

/// One held slot of a semaphore; a [`Lock`] with its slot number.
#[derive(Debug)]
pub struct Permit {
    slot: u32,
    lock: Lock,
}

impl Permit {
    /// Which slot, 0..permits.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    pub fn into_lock(self) -> Lock {
        self.lock
    }
}

impl Deref for Permit {
    type Target = Lock;
    fn deref(&self) -> &Lock {
        &self.lock
    }
}

impl Redlock {
    /// A semaphore of `permits` (1..=[`MAX_PERMITS`]) on these nodes.
    pub fn semaphore(&self, name: &str, permits: u32) -> Result<Semaphore> {
        validate::resource(name)?;
        if permits == 0 || permits > MAX_PERMITS {
            return Err(Error::invalid(format!(
                "permits is {permits}; 1..={MAX_PERMITS} allowed"
            )));
        }
        validate::resource(&slot_resource(name, permits - 1))?;
        Ok(Semaphore {
            client: self.clone(),
            name: name.to_string(),
            permits,
        })
    }
}

fn slot_resource(name: &str, slot: u32) -> String {
    format!("{name}:permit:{slot}")
}

impl Semaphore {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn permits(&self) -> u32 {
        self.permits
    }

    /// The resource name of a slot's lock (for `holder` queries and tests).
    pub fn slot_resource(&self, slot: u32) -> String {
        slot_resource(&self.name, slot)
    }

    /// One pass over the slots, starting at a random one so that
    /// contenders spread out: the first slot acquired is the permit.
    /// `NotAcquired` when every slot was held.
    pub async fn try_acquire(&self, ttl: Duration, opts: &LockOptions) -> Result<Permit> {
        let start = random::below(self.permits);
        let mut last = None;
        for i in 0..self.permits {
            let slot = (start + i) % self.permits;
            match self
                .client
                .try_acquire_with(&self.slot_resource(slot), ttl, opts)
                .await
            {
                Ok(lock) => return Ok(Permit { slot, lock }),
                Err(e) if e.kind() == ErrorKind::NotAcquired || e.is_retryable() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(match last {
            Some(e) if e.kind() == ErrorKind::NotAcquired => Error::NotAcquired {
                message: format!("{}: all {} permits are held", self.name, self.permits),
                outcomes: Outcomes(e.outcomes().to_vec()),
            },
            Some(e) => e,
            None => unreachable!("a semaphore has at least one slot"),
        })
    }

    /// [`try_acquire`](Semaphore::try_acquire) passes, retried with the
    /// client's retry delay and jitter until `wait` is spent.
    pub async fn acquire(
        &self,
        ttl: Duration,
        wait: Duration,
        opts: &LockOptions,
    ) -> Result<Permit> {
        bounded("wait", wait)?;
        let cfg = self.client.config();
        let give_up = Instant::now() + wait;
        let mut passes = 0u32;
        loop {
            passes += 1;
            let err = match self.try_acquire(ttl, opts).await {
                Ok(p) => return Ok(p),
                Err(e) if e.is_retryable() => e,
                Err(e) => return Err(e),
            };
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() || cfg.retry_count.is_some_and(|n| passes >= n) {
                return Err(err);
            }
            let delay = cfg.retry_delay + random::jitter(cfg.retry_jitter);
            tokio::time::sleep(delay.min(left)).await;
        }
    }

    /// How many slots a quorum of nodes says are held now.
    pub async fn held(&self) -> Result<u32> {
        let mut held = 0;
        for slot in 0..self.permits {
            if self
                .client
                .holder_value(&self.slot_resource(slot))
                .await?
                .is_some()
            {
                held += 1;
            }
        }
        Ok(held)
    }
}
