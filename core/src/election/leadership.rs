//! One term of this candidate's leadership. Leading means: before the
//! step-down point, by the clock; every question about it is answered here,
//! so that the handle, the renewal loop and the revocation agree.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub(super) struct Leadership {
    pub(super) term: u64,
    pub(super) since: Instant,
    pub(super) step_down_at: Instant,
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
        };
        leadership.step_down_at = leadership.step_down_point(valid_until, margin);
        leadership.is_current(now).then_some(leadership)
    }

    /// The step-down point of a lock valid until `valid_until`: `margin`
    /// before it.
    pub(super) fn step_down_point(&self, valid_until: Instant, margin: Duration) -> Instant {
        valid_until.checked_sub(margin).unwrap_or(self.since)
    }

    /// After a renewal: the lock is now valid until `valid_until`.
    pub(super) fn renewed(&mut self, valid_until: Instant, margin: Duration) {
        self.step_down_at = self.step_down_point(valid_until, margin);
    }

    /// Still leading at `now`.
    pub(super) fn is_current(&self, now: Instant) -> bool {
        now < self.step_down_at
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
}
