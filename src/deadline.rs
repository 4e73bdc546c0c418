//! The invocation's deadline, and the time every call leaves for the answer to Lambda.
//!
//! Invariant: no call outlives the invocation. Every wait of a request is bounded by
//! [`Deadline::within`], keeping [`LAST_CALL_SLACK`] (or more) for the response.
//! Threat: a runtime that reports a deadline that cannot be right (cargo lambda watch sends a
//! duration) would stop every request at once, or never; it gets [`FALLBACK_BUDGET`] instead.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// `budget` from now.
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
