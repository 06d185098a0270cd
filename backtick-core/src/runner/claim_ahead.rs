//! The claim-ahead controller: how many jobs a claim asks for beyond the free slots.
//!
//! When jobs finish faster than a claim's round trip, waiting for slots to free up before
//! claiming leaves the pool idle for most of every round trip, so the claim loop claims more
//! than it can start and holds the rest for the next free slots. This type decides how many,
//! from nothing but the timing of the claims.

use std::time::Duration;

use tokio::time::Instant;

/// The claim-ahead is at most this many times the concurrency.
pub(crate) const MAX_AHEAD_PER_SLOT: usize = 8;

/// How many jobs a claim asks for beyond the free slots. Starts at zero. A claim that comes
/// back full and is followed by the next claim within one round trip means the pool may have
/// run dry waiting for claims; twice in a row, it did: the claim-ahead doubles (from a quarter
/// of the concurrency), up to [`MAX_AHEAD_PER_SLOT`] times the concurrency, and keeps doubling
/// while the signs go on. One sign alone is not enough: slow jobs that started together finish
/// a few at a time, and the claim for the first one to finish is followed at once by the claim
/// for the next. A next claim only after four round trips means held jobs waited for slots:
/// it halves. So a runner of slow jobs claims only what it can start.
#[derive(Debug)]
pub(crate) struct ClaimAhead {
    size: usize,
    max: usize,
    step: usize,
    /// How many claims in a row were made within a round trip of a full answer.
    dry_streak: u32,
    /// The last claim's answer, if one came back.
    last: Option<Answer>,
}

/// When a claim was answered, how long it took, and whether it came back full.
#[derive(Debug, Clone, Copy)]
struct Answer {
    at: Instant,
    round_trip: Duration,
    full: bool,
}

impl ClaimAhead {
    /// A controller for a pool of `concurrency` slots, claiming nothing ahead yet.
    pub(crate) fn new(concurrency: usize) -> Self {
        ClaimAhead {
            size: 0,
            max: concurrency.saturating_mul(MAX_AHEAD_PER_SLOT),
            step: (concurrency / 4).max(1),
            dry_streak: 0,
            last: None,
        }
    }

    /// How many jobs to claim beyond the free slots.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// A claim is about to be made: adapt to how soon after the last one, and return its start.
    pub(crate) fn asking(&mut self) -> Instant {
        let now = Instant::now();
        self.adapt(now);
        now
    }

    /// The claim started at `asked_at` came back, `full` or not.
    pub(crate) fn answered(&mut self, asked_at: Instant, full: bool) {
        self.record(asked_at, Instant::now(), full);
    }

    fn adapt(&mut self, now: Instant) {
        let Some(last) = self.last else { return };
        let gap = now.saturating_duration_since(last.at);
        if last.full && gap < last.round_trip {
            self.dry_streak = self.dry_streak.saturating_add(1);
            if self.dry_streak >= 2 {
                self.size = (self.size * 2).max(self.step).min(self.max);
            }
            return;
        }
        self.dry_streak = 0;
        if gap > last.round_trip * 4 {
            self.size /= 2;
        }
    }

    fn record(&mut self, asked_at: Instant, now: Instant, full: bool) {
        let round_trip = now.saturating_duration_since(asked_at);
        self.last = Some(Answer {
            at: now,
            round_trip,
            full,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUND_TRIP: Duration = Duration::from_millis(10);

    /// A controller and a fake timeline: each claim takes [`ROUND_TRIP`].
    struct Timeline {
        ahead: ClaimAhead,
        now: Instant,
    }

    impl Timeline {
        fn new(concurrency: usize) -> Self {
            Timeline {
                ahead: ClaimAhead::new(concurrency),
                now: Instant::now(),
            }
        }

        /// Wait `gap` after the last answer, then claim; returns the claim-ahead it used.
        fn claim_after(&mut self, gap: Duration, full: bool) -> usize {
            self.now += gap;
            self.ahead.adapt(self.now);
            let (asked_at, size) = (self.now, self.ahead.size());
            self.now += ROUND_TRIP;
            self.ahead.record(asked_at, self.now, full);
            size
        }
    }

    #[test]
    fn it_starts_at_zero_and_the_first_claim_changes_nothing() {
        let mut timeline = Timeline::new(8);
        assert_eq!(timeline.ahead.size(), 0);
        assert_eq!(timeline.claim_after(Duration::ZERO, true), 0);
    }

    #[test]
    fn full_claims_back_to_back_grow_it_from_a_quarter_of_the_concurrency_by_doubling() {
        let mut timeline = Timeline::new(8);
        let sizes: Vec<_> = (0..6).map(|_| timeline.claim_after(Duration::ZERO, true)).collect();
        assert_eq!(sizes, [0, 0, 2, 4, 8, 16]);
    }

    #[test]
    fn one_claim_soon_after_a_full_one_does_not_grow_it() {
        // Slow jobs that started together finish a few at a time: one claim follows another
        // at once, then a long run of the jobs.
        let mut timeline = Timeline::new(3);
        let slow = ROUND_TRIP * 10;
        let sizes: Vec<_> = (0..4)
            .flat_map(|_| {
                [
                    timeline.claim_after(slow, true),
                    timeline.claim_after(Duration::ZERO, true),
                ]
            })
            .collect();
        assert_eq!(sizes, [0; 8]);
    }

    #[test]
    fn it_never_grows_past_eight_times_the_concurrency() {
        let mut timeline = Timeline::new(3);
        for _ in 0..20 {
            timeline.claim_after(Duration::ZERO, true);
        }
        assert_eq!(timeline.ahead.size(), 3 * MAX_AHEAD_PER_SLOT);
    }

    #[test]
    fn a_concurrency_below_four_grows_by_one_first() {
        let mut timeline = Timeline::new(1);
        let sizes: Vec<_> = (0..7).map(|_| timeline.claim_after(Duration::ZERO, true)).collect();
        assert_eq!(sizes, [0, 0, 1, 2, 4, 8, 8]);
    }

    #[test]
    fn a_claim_that_came_back_short_does_not_grow_it() {
        let mut timeline = Timeline::new(8);
        timeline.claim_after(Duration::ZERO, true);
        timeline.claim_after(Duration::ZERO, true);
        timeline.claim_after(Duration::ZERO, false);
        assert_eq!(timeline.claim_after(Duration::ZERO, true), 2, "the short claim held it");
        assert_eq!(
            timeline.claim_after(Duration::ZERO, true),
            2,
            "after the short claim, one sign is not enough"
        );
    }

    #[test]
    fn a_next_claim_later_than_one_round_trip_does_not_grow_it() {
        let mut timeline = Timeline::new(8);
        timeline.claim_after(Duration::ZERO, true);
        timeline.claim_after(Duration::ZERO, true);
        assert_eq!(timeline.claim_after(ROUND_TRIP, true), 0);
        assert_eq!(timeline.claim_after(ROUND_TRIP * 4, true), 0);
    }

    #[test]
    fn a_next_claim_only_after_four_round_trips_halves_it() {
        let mut timeline = Timeline::new(8);
        for _ in 0..7 {
            timeline.claim_after(Duration::ZERO, true);
        }
        assert_eq!(timeline.ahead.size(), 32);
        let slow = ROUND_TRIP * 4 + Duration::from_millis(1);
        assert_eq!(timeline.claim_after(slow, true), 16);
        assert_eq!(timeline.claim_after(slow, false), 8);
    }
}
