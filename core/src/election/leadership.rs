//! One term of this candidate's leadership. Leading means: before the
//! step-down point, by the clock, and the term's token not cancelled; every
//! question about it is answered here, so that the handle, the renewal loop
//! and the revocation agree.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub(super) struct Leadership {
    pub(super) term: u64,
    pub(super) since: Instant,
    pub(super) step_down_at: Instant,
    /// Cancelled when the term ends, before `Revoked` is sent: the caller's
    /// work is scoped by it.
    pub(super) token: CancellationToken,
}

/// How long before the step-down point the renewal task ends a term it
/// could not renew. The task cancels the term's token then, so that the
/// cancellation, which waits for a timer on a runtime that may run a little
/// late, still lands before `is_leader` turns false by the clock: a quarter
/// of the margin, at most 50 ms (the margin still stands between the
/// step-down and the end of the validity).
pub(super) fn term_notice(margin: Duration) -> Duration {
    (margin / 4).min(Duration::from_millis(50))
}

impl Leadership {
    /// A leadership of `term` from `now` on a lock valid until `valid_until`;
    /// None when its step-down point has already passed: a leadership that
    /// would already be over never begins.
    pub(super) fn begin(
        term: u64,
        now: Instant,
        valid_until: Instant,
        margin: Duration,
    ) -> Option<Leadership> {
        let mut leadership = Leadership {
            term,
            since: now,
            step_down_at: now,
            token: CancellationToken::new(),
        };
        leadership.step_down_at = leadership.step_down_point(valid_until, margin);
        leadership.is_current(now).then_some(leadership)
    }

    /// The step-down point of a lock valid until `valid_until`: `margin`
    /// before it.
    pub(super) fn step_down_point(&self, valid_until: Instant, margin: Duration) -> Instant {
        valid_until.checked_sub(margin).unwrap_or(self.since)
    }

    /// When the renewal task ends the term if no renewal landed by then:
    /// [`term_notice`] before the step-down point.
    pub(super) fn end_of_term(&self, margin: Duration) -> Instant {
        self.step_down_at
            .checked_sub(term_notice(margin))
            .unwrap_or(self.since)
            .max(self.since)
    }

    /// After a renewal: the lock is now valid until `valid_until`.
    pub(super) fn renewed(&mut self, valid_until: Instant, margin: Duration) {
        self.step_down_at = self.step_down_point(valid_until, margin);
    }

    /// Still leading at `now`: before the step-down point, and the term not
    /// ended by its task.
    pub(super) fn is_current(&self, now: Instant) -> bool {
        now < self.step_down_at && !self.token.is_cancelled()
    }

    /// When a leadership ending at `now` ended: at its step-down point if
    /// that came first (`is_leader` already said false from then).
    pub(super) fn ended_at(&self, now: Instant) -> Instant {
        now.min(self.step_down_at)
    }

    /// More than `grace` past the step-down point without having renewed or
    /// stepped down: the campaign is stuck.
    pub(super) fn is_overdue(&self, now: Instant, grace: Duration) -> bool {
        now > self.step_down_at + grace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leadership_ends_margin_before_the_validity() {
        let now = Instant::now();
        let margin = Duration::from_millis(100);
        let l = Leadership::begin(3, now, now + Duration::from_secs(1), margin).unwrap();
        assert_eq!(l.step_down_at, now + Duration::from_millis(900));
        assert!(l.is_current(now + Duration::from_millis(899)));
        assert!(!l.is_current(now + Duration::from_millis(900)));
        assert_eq!(l.ended_at(now + Duration::from_secs(2)), l.step_down_at);
        assert!(!l.is_overdue(l.step_down_at + margin, margin));
        assert!(l.is_overdue(l.step_down_at + margin * 2, margin));
        assert!(Leadership::begin(3, now, now + margin, margin).is_none());
    }

    #[test]
    fn the_term_ends_with_notice_before_the_step_down_and_its_token_ends_it() {
        let now = Instant::now();
        let margin = Duration::from_millis(100);
        let l = Leadership::begin(3, now, now + Duration::from_secs(1), margin).unwrap();
        assert_eq!(l.end_of_term(margin), now + Duration::from_millis(875));
        assert_eq!(
            term_notice(Duration::from_secs(2)),
            Duration::from_millis(50)
        );
        assert!(l.is_current(now + Duration::from_millis(880)));
        l.token.cancel();
        assert!(!l.is_current(now), "a cancelled term is over at once");
    }
}
