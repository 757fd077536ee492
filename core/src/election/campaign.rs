//! The campaign: a follower's loop of waiting and attempting, until it wins
//! a term (led by `lead`) or the election stops. It also watches who holds
//! the lock, for `observed_leader`, `transitions` and `LeaderChanged`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::candidate::Candidate;
use super::events::{ElectionEvent, Events, RevokeReason};
use super::lead::lead;
use crate::error::{Error, NodeOutcome};
use crate::random;
use crate::redlock::{majority, owner_of, LockOptions};

/// Fast retries after a resign announcement or a split vote, before falling
/// back to the retry interval.
const FAST_RETRIES: u32 = 4;
/// The first fast retry waits up to this long, each later one twice as long.
const FAST_STEP: Duration = Duration::from_millis(2);

/// Runs the campaign of `candidate` until its election stops.
pub(super) async fn campaign(candidate: Arc<Candidate>, events: Events) {
    let options = LockOptions::fenced().with_owner(candidate.id.clone());
    Campaign {
        candidate,
        events,
        options,
        last_value: None,
    }
    .run()
    .await
}

struct Campaign {
    candidate: Arc<Candidate>,
    events: Events,
    options: LockOptions,
    /// The lock value the campaign last saw a quorum hold.
    last_value: Option<String>,
}

/// What a follower waits for before its next attempt.
#[derive(Clone, Copy)]
enum Wait {
    /// Nothing: attempt now.
    Nothing,
    /// The retry interval plus jitter, or a resign announcement.
    Interval,
    /// After its own resignation: two retry intervals plus jitter, so that a
    /// follower that missed the announcement still gets the lock first, or an
    /// announcement of another candidate's resignation.
    Resigned,
    /// A short random delay before fast retry number `n` (1-based).
    Fast(u32),
}

impl Wait {
    /// How many fast retries came before the attempt after this wait.
    fn fast_so_far(self) -> u32 {
        match self {
            Wait::Fast(n) => n,
            _ => 0,
        }
    }
}

impl Campaign {
    async fn run(mut self) {
        let mut wait = Wait::Nothing;
        loop {
            let Some(woken) = self.sleep(wait).await else {
                break;
            };
            let c = &self.candidate;
            match c
                .client
                .try_acquire_with(&c.resource, c.config.ttl, &self.options)
                .await
            {
                Ok(lock) => {
                    self.observe(Some(lock.value()));
                    let reason = lead(&self.candidate, lock, &self.events).await;
                    self.observe(None);
                    wait = match reason {
                        Some(RevokeReason::Stopped) => break,
                        Some(RevokeReason::Resigned) => Wait::Resigned,
                        _ => Wait::Interval,
                    };
                }
                Err(e) => wait = self.after_failed_attempt(&e, woken, wait.fast_so_far()),
            }
        }
    }

    /// Waits as `wait` says. Some(true) when a resign announcement ended the
    /// wait, None when the election stopped.
    async fn sleep(&self, wait: Wait) -> Option<bool> {
        let c = &self.candidate;
        let woken = match wait {
            Wait::Nothing => false,
            Wait::Interval | Wait::Resigned => {
                let base = if matches!(wait, Wait::Resigned) {
                    c.config.retry_interval * 2
                } else {
                    c.config.retry_interval
                };
                tokio::select! {
                    _ = c.stop.cancelled() => return None,
                    _ = tokio::time::sleep(base + random::jitter(c.config.retry_jitter)) => false,
                    _ = c.handover.announced() => true,
                }
            }
            Wait::Fast(n) => {
                let delay = random::between(Duration::from_millis(1), FAST_STEP * (1 << (n - 1)));
                tokio::select! {
                    _ = c.stop.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
                false
            }
        };
        (!c.stop.is_cancelled()).then_some(woken)
    }

    /// Notes the leader a quorum holds after an attempt that did not win,
    /// and chooses the next wait.
    fn after_failed_attempt(&mut self, e: &Error, woken: bool, fast_so_far: u32) -> Wait {
        let holders = e.outcomes().iter().filter_map(|r| match &r.outcome {
            NodeOutcome::Held(Some(v)) => Some(v.as_str()),
            _ => None,
        });
        let holder = majority(holders, self.candidate.client.quorum().size()).map(str::to_string);
        self.observe(holder.as_deref());
        if !e.is_retryable() {
            tracing::warn!(resource = %self.candidate.resource, error = %e, "campaign attempt failed");
        }
        // No majority holder after an answer from a quorum: the contenders
        // split the nodes (or a key was just released on some): retry soon,
        // at random, instead of a whole interval.
        let split = holder.is_none() && e.is_not_acquired();
        if (split || woken) && fast_so_far < FAST_RETRIES {
            Wait::Fast(fast_so_far + 1)
        } else {
            Wait::Interval
        }
    }

    /// Records the lock value a quorum holds (None: none known).
    fn observe(&mut self, value: Option<&str>) {
        let c = &self.candidate;
        if let Some(v) = value {
            if self.last_value.as_deref() != Some(v) {
                if self.last_value.is_some() {
                    c.transitions.fetch_add(1, Ordering::Relaxed);
                }
                self.last_value = Some(v.to_string());
            }
        }
        let leader = value.and_then(owner_of).map(str::to_string);
        c.state.observed(&leader);
        let mut observed = c.observed.lock().unwrap();
        if *observed != leader {
            *observed = leader.clone();
            self.events.send(ElectionEvent::LeaderChanged { leader });
        }
    }
}

impl Drop for Campaign {
    /// Ends a leadership that the campaign did not end itself (the runtime
    /// shut down and dropped the task): the handler still gets its `Revoked`.
    fn drop(&mut self) {
        let c = &self.candidate;
        if c.crashed.load(Ordering::SeqCst) {
            return;
        }
        if let Some(l) = c.end_term() {
            tracing::info!(resource = %c.resource, id = %c.id, term = l.term, "campaign dropped while leading (runtime shut down): revoked");
            self.events.send(ElectionEvent::Revoked {
                term: l.term,
                reason: RevokeReason::Stopped,
                at: l.ended_at(Instant::now()).into_std(),
            });
        }
    }
}
