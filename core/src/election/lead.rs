//! One term as leader: take office, renew until the term ends, leave
//! office, and release the lock (announced when resigning or stopping).

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::time::Instant;

use super::candidate::Candidate;
use super::events::{ElectionEvent, Events, RevokeReason};
use super::handover::announcement;
use super::leadership::Leadership;
use crate::lock::Lock;

/// Leads until the lock is lost, resigned or stopped; returns why. None when
/// the lock came with its step-down point already passed: no `Elected` is
/// sent for a leadership that would already be over.
pub(super) async fn lead(
    candidate: &Candidate,
    lock: Lock,
    events: &Events,
) -> Option<RevokeReason> {
    // resign() only asks a leader, so a request stored before this term
    // began was meant for an earlier one: drop it.
    let _ = futures::FutureExt::now_or_never(candidate.resign_request.notified());
    let mut held = Held {
        lock: Some(lock),
        crashed: &candidate.crashed,
    };
    let lock = held.lock.as_ref().expect("just set");
    let term = lock.fencing_token().map(|t| t.get()).unwrap_or_default();
    let Some(leadership) = take_office(candidate, lock, term, events) else {
        drop(held.lock.take());
        return None;
    };
    let reason = renew_until_the_end(candidate, lock, leadership).await;
    // Resignations heard while leading were of earlier terms: forget them.
    candidate.handover.forget();
    leave_office(candidate, term, reason, events);
    let lock = held.lock.take().expect("still held");
    release(candidate, lock, term, reason).await;
    Some(reason)
}

/// Publishes the leadership and tells the handler; None when the lock came
/// with less validity than the step-down margin.
fn take_office(
    candidate: &Candidate,
    lock: &Lock,
    term: u64,
    events: &Events,
) -> Option<Leadership> {
    let now = Instant::now();
    let Some(leadership) = Leadership::begin(term, now, lock.deadline(), candidate.margin) else {
        tracing::warn!(resource = %candidate.resource, id = %candidate.id, term, "acquired with less validity than the step-down margin; not leading");
        return None;
    };
    *candidate.leading.lock().unwrap() = Some(leadership.clone());
    candidate.state.elected(term);
    tracing::info!(resource = %candidate.resource, id = %candidate.id, term, "elected");
    crate::telemetry::elected(&candidate.resource, &candidate.id);
    events.send(ElectionEvent::Elected {
        term,
        at: now.into_std(),
        term_token: leadership.token.clone(),
    });
    Some(leadership)
}

/// Renews every renew interval until a renewal fails to land before the end
/// of the term (the term notice before the step-down point: `LostQuorum`), a
/// quorum says the lock is gone (`TakenOver`), or the handle asks to resign
/// or stop.
async fn renew_until_the_end(
    candidate: &Candidate,
    lock: &Lock,
    mut leadership: Leadership,
) -> RevokeReason {
    let renew = candidate.config.renew_interval();
    let mut next_renewal = leadership.since + renew;
    loop {
        // From the lock each round: a renewal that failed on some nodes can
        // move its validity earlier.
        leadership.renewed(lock.deadline(), candidate.margin);
        let end_of_term = leadership.end_of_term(candidate.margin);
        tokio::select! {
            biased;
            _ = candidate.stop.cancelled() => return RevokeReason::Stopped,
            _ = candidate.resign_request.notified() => return RevokeReason::Resigned,
            _ = tokio::time::sleep_until(end_of_term) => return RevokeReason::LostQuorum,
            _ = tokio::time::sleep_until(next_renewal) => {}
        }
        let result = tokio::select! {
            biased;
            _ = tokio::time::sleep_until(end_of_term) => return RevokeReason::LostQuorum,
            r = lock.extend(candidate.config.ttl) => r,
        };
        if !matches!(&result, Err(e) if e.is_lost()) {
            // Also after a failed renewal: the lock's validity may have
            // moved earlier, and `is_leader` must say false from the earlier
            // step-down point even if this task runs late.
            leadership.renewed(lock.deadline(), candidate.margin);
            // Not after a crash (the test hook), which ended it.
            if let Some(published) = candidate.leading.lock().unwrap().as_mut() {
                *published = leadership.clone();
            }
        }
        match result {
            Ok(_) => next_renewal = Instant::now() + renew,
            Err(e) if e.is_lost() => return RevokeReason::TakenOver,
            Err(e) => {
                tracing::debug!(resource = %candidate.resource, error = %e, "renewal failed; retrying");
                next_renewal =
                    Instant::now() + (renew / 4).max(candidate.client.config().node_timeout * 2);
            }
        }
    }
}

/// Ends the leadership (its token first) before anything else is sent, then
/// tells the handler: at the step-down point for `LostQuorum` if the term
/// ended that late (`is_leader` was false from then), now otherwise.
fn leave_office(candidate: &Candidate, term: u64, reason: RevokeReason, events: &Events) {
    let left = candidate.end_term();
    let now = Instant::now();
    let at = match (&left, reason) {
        (Some(l), RevokeReason::LostQuorum) => l.ended_at(now),
        _ => now,
    };
    if let Some(l) = left {
        tracing::info!(resource = %candidate.resource, id = %candidate.id, term, %reason, held_ms = (at - l.since).as_millis() as u64, "revoked");
        crate::telemetry::revoked(&candidate.resource, &candidate.id, reason);
    }
    events.send(ElectionEvent::Revoked {
        term,
        reason,
        at: at.into_std(),
    });
}

/// Releases the lock and announces it when resigning or stopping, so that
/// the followers take over at once; a lost lock is only dropped.
async fn release(candidate: &Candidate, lock: Lock, term: u64, reason: RevokeReason) {
    match reason {
        RevokeReason::Resigned | RevokeReason::Stopped => {
            let _ = lock
                .release_and_announce(
                    &candidate.resign_channel(),
                    &announcement(term, &candidate.id),
                )
                .await;
            candidate.resigned.notify_waiters();
        }
        RevokeReason::LostQuorum | RevokeReason::TakenOver => drop(lock),
    }
}

/// The leader's lock; a simulated crash (the test hook) leaves it behind
/// unreleased, as a real crash would.
struct Held<'a> {
    lock: Option<Lock>,
    crashed: &'a AtomicBool,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.crashed.load(Ordering::SeqCst) {
            if let Some(l) = self.lock.take() {
                l.abandon();
            }
        }
    }
}
