//! The invocation's deadline, the time every call leaves for the answer to Lambda, and the
//! request's time budget: which phase may start, or must stop, with how much time left.
//!
//! Invariant: no call outlives the invocation. Every wait of a request is bounded by
//! [`Deadline::within`], keeping [`LAST_CALL_SLACK`] (or more) for the response.
//! Threat: a runtime that reports a deadline that cannot be right (cargo lambda watch sends a
//! duration) would stop every request at once, or never; it gets [`FALLBACK_BUDGET`] instead.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::ProcessError;

/// When the invocation must be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(SystemTime);

/// Lambda's longest timeout (15 min) and a minute of clock skew: no real deadline lies further.
const LONGEST_INVOCATION: Duration = Duration::from_secs(16 * 60);

/// Time given to an invocation whose runtime reported a deadline that cannot be right.
pub const FALLBACK_BUDGET: Duration = Duration::from_secs(300);

/// Time kept back from every call made after the deadline stop, so the invocation answers
/// before Lambda ends it.
pub const LAST_CALL_SLACK: Duration = Duration::from_millis(300);

impl Deadline {
    /// At `when` (a lease that ran out, in tests, is a deadline in the past).
    pub fn at(when: SystemTime) -> Self {
        Self(when)
    }

    /// `budget` from now.
    #[cfg(test)]
    pub fn after(budget: Duration) -> Self {
        Self(SystemTime::now() + budget)
    }

    /// The deadline the runtime reported (epoch milliseconds), when it can be right: in the
    /// future and no further than Lambda's longest timeout. Otherwise (`Err`)
    /// [`FALLBACK_BUDGET`] from `now`.
    ///
    /// cargo-lambda 1.9.2's `watch` sends `Lambda-Runtime-Deadline-Ms: 600000`, a duration,
    /// which read as an epoch time lies in 1970: trusted, it would stop every request at once.
    pub fn from_runtime(ms: u64, now: SystemTime) -> Result<Self, Self> {
        let reported = UNIX_EPOCH + Duration::from_millis(ms);
        if ms > 0 && reported > now && reported <= now + LONGEST_INVOCATION {
            Ok(Self(reported))
        } else {
            Err(Self(now + FALLBACK_BUDGET))
        }
    }

    /// The deadline in epoch milliseconds (a lease runs out then).
    pub fn epoch_ms(&self) -> i64 {
        self.0
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    /// True when less than `margin` remains.
    pub fn is_near(&self, margin: Duration) -> bool {
        let left = self.remaining();
        left < margin || left.is_zero()
    }

    /// Time left.
    pub fn remaining(&self) -> Duration {
        self.0
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }

    /// Runs one call of a request with the time the invocation has left, keeping
    /// [`LAST_CALL_SLACK`] for the answer to Lambda; running out is a deadline stop.
    pub async fn bounded<T, E: Into<ProcessError>>(
        &self,
        work: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, ProcessError> {
        match self.within(LAST_CALL_SLACK, work).await {
            Some(result) => result.map_err(Into::into),
            None => Err(ProcessError::DeadlineReached { progressed: false }),
        }
    }

    /// Runs `work` until it is done or until only `keep` is left before the deadline, whichever
    /// comes first; `None` when time ran out (the work is dropped mid-call).
    pub async fn within<F: std::future::Future>(
        &self,
        keep: Duration,
        work: F,
    ) -> Option<F::Output> {
        tokio::time::timeout(self.remaining().saturating_sub(keep), work)
            .await
            .ok()
    }
}

/// The least time the summary and the ledger's completion get, whatever the margin.
pub const CLOSING_TIME: Duration = Duration::from_millis(500);

/// A request's time, divided into phases by the configured margin (`DEADLINE_MARGIN_MS`).
///
/// Invariant: each phase leaves the next one its share. Reading lists ends with the whole
/// margin left; the lookups end with half of it; no publish batch starts inside the margin and
/// the ones in flight are abandoned at half of it; the summary and the completion start only
/// with [`TimeBudget::closing`] left, and the summary's send keeps half of that for the
/// completion, so a summary is never sent by a delivery that has no time to record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBudget {
    /// The invocation's deadline.
    pub deadline: Deadline,
    margin: Duration,
}

impl TimeBudget {
    /// The phases of an invocation ending at `deadline`, with `margin` kept for the end.
    pub fn new(deadline: Deadline, margin: Duration) -> Self {
        Self { deadline, margin }
    }

    /// When reading lists (CPU work, off the async runtime) must stop: the margin still left.
    pub fn reading_until(&self) -> Instant {
        Instant::now() + self.deadline.remaining().saturating_sub(self.margin)
    }

    /// What the lookups leave when they are cut off: publishing must still have time to start.
    pub fn lookups_keep(&self) -> Duration {
        self.margin / 2
    }

    /// True when no publish batch may start any more.
    pub fn publishing_must_stop(&self) -> bool {
        self.deadline.is_near(self.margin)
    }

    /// What the batches in flight leave when they are abandoned (and sent again later, at worst).
    pub fn publish_cutoff_keeps(&self) -> Duration {
        self.margin / 2
    }

    /// The time the summary and the completion need: they start only with this much left.
    pub fn closing(&self) -> Duration {
        (self.margin / 2).max(CLOSING_TIME)
    }

    /// True when the summary and the completion may still start.
    pub fn may_close(&self) -> bool {
        !self.deadline.is_near(LAST_CALL_SLACK + self.closing())
    }

    /// What the summary's send leaves when it is cut off: the completion's share.
    pub fn summary_keeps(&self) -> Duration {
        LAST_CALL_SLACK + self.closing() / 2
    }

    /// True when there is time to wait `poll` for another holder and still do the request.
    pub fn may_wait(&self, poll: Duration) -> bool {
        !self.deadline.is_near(self.margin + poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch_ms(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
    }

    #[test]
    fn impossible_runtime_deadlines_get_the_fallback_budget() {
        let now = SystemTime::now();
        let real = now + Duration::from_secs(150);
        let got = Deadline::from_runtime(epoch_ms(real), now).expect("a real deadline");
        assert_eq!(got.epoch_ms() as u64, epoch_ms(real));
        let fallback = Err(Deadline(now + FALLBACK_BUDGET));
        for impossible in [
            600_000,                                        // cargo lambda watch: a duration
            0,                                              // none at all
            epoch_ms(now - Duration::from_secs(1)),         // already past
            epoch_ms(now + Duration::from_secs(24 * 3600)), // further than any Lambda timeout
        ] {
            assert_eq!(
                Deadline::from_runtime(impossible, now),
                fallback,
                "{impossible}"
            );
        }
    }

    #[test]
    fn deadline_is_near_within_the_margin() {
        let soon = Deadline::after(Duration::from_secs(2));
        assert!(soon.is_near(Duration::from_secs(5)));
        assert!(!soon.is_near(Duration::from_millis(100)));
        let past = Deadline(SystemTime::now() - Duration::from_secs(1));
        assert!(past.is_near(Duration::ZERO));
        assert_eq!(past.remaining(), Duration::ZERO);
    }

    #[test]
    fn each_phase_leaves_the_next_its_share() {
        for margin_ms in [0, 200, 1_000, 20_000, 60_000] {
            let margin = Duration::from_millis(margin_ms);
            let time = TimeBudget::new(Deadline::after(Duration::from_secs(120)), margin);
            // Reading ends before the lookups' cut-off, which ends before publishing's.
            assert!(time.lookups_keep() <= margin);
            assert!(time.publish_cutoff_keeps() <= margin);
            assert!(time.closing() >= CLOSING_TIME, "{margin:?}");
            // The send's cut-off keeps time for the completion after it.
            assert!(time.summary_keeps() > LAST_CALL_SLACK);
            assert!(time.summary_keeps() < LAST_CALL_SLACK + time.closing());
            let left = time.deadline.remaining();
            let until = time.reading_until();
            assert!(
                until <= Instant::now() + left.saturating_sub(margin) + Duration::from_millis(5)
            );
        }
    }

    #[test]
    fn phases_refuse_to_start_inside_their_share() {
        let margin = Duration::from_secs(20);
        let roomy = TimeBudget::new(Deadline::after(Duration::from_secs(60)), margin);
        assert!(!roomy.publishing_must_stop() && roomy.may_close());
        assert!(roomy.may_wait(Duration::from_secs(2)));
        let late = TimeBudget::new(Deadline::after(Duration::from_secs(15)), margin);
        assert!(late.publishing_must_stop(), "no batch inside the margin");
        assert!(late.may_close(), "the summary still has its half");
        assert!(!late.may_wait(Duration::from_secs(2)));
        let spent = TimeBudget::new(Deadline::after(Duration::from_secs(5)), margin);
        assert!(!spent.may_close(), "under half the margin: no summary");
    }

    #[tokio::test]
    async fn work_is_cut_off_keeping_the_slack() {
        let deadline = Deadline::after(Duration::from_millis(400));
        let slow = tokio::time::sleep(Duration::from_secs(5));
        let started = std::time::Instant::now();
        assert_eq!(deadline.within(LAST_CALL_SLACK, slow).await, None);
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(deadline.within(LAST_CALL_SLACK, async { 7 }).await, Some(7));
    }
}
