//! Publishing a plan's invites: bounded concurrency, progress checkpoints, the Lambda deadline.
//!
//! Batches start in row order, at most `MAX_IN_FLIGHT` at a time, and never more than
//! 2 x `MAX_IN_FLIGHT` beyond the last batch of the finished prefix (a slow batch must not let
//! the others run far ahead of what a checkpoint can record). Whenever the finished prefix has
//! grown by `checkpoint_every` batches, the ledger records the first row not yet known to be
//! published, so a delivery that dies resumes there: at most
//! `(checkpoint_every + 2 x MAX_IN_FLIGHT) x 10` invites can be sent twice. No batch starts when
//! the deadline is near (`margin`); the ones in flight get until half the margin is left, then
//! are abandoned (not counted as finished, so they are resent at worst), progress is saved, and
//! the handler continues the request in a new message or hands it back to SQS. No call outlives
//! the invocation: every wait is bounded by the time left (see [`Deadline::within`]).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tracing::warn;

use crate::attendees::Candidate;
use crate::aws::Aws;
use crate::batches::{Batch, Batches, Entry};
use crate::config::Limits;
use crate::contract::{self, EventRecord};
use crate::domain::EventUid;
use crate::error::ProcessError;
use crate::ledger::{Checkpoint, LedgerKey, Progress};
use crate::plan::PublishFailure;

/// When the invocation must be done, from the Lambda context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<SystemTime>);

/// Lambda's longest timeout (15 min) and a minute of clock skew: no real deadline lies further.
const LONGEST_INVOCATION: Duration = Duration::from_secs(16 * 60);

/// Time given to an invocation whose runtime reported a deadline that cannot be right.
pub const FALLBACK_BUDGET: Duration = Duration::from_secs(300);

impl Deadline {
    /// From the context's deadline in epoch milliseconds; 0 means none is known.
    pub fn from_epoch_ms(ms: u64) -> Self {
        Self((ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(ms)))
    }

    /// The deadline the runtime reported, when it can be right: in the future and no further
    /// than Lambda's longest timeout. Otherwise (`Err`) [`FALLBACK_BUDGET`] from `now`.
    ///
    /// cargo-lambda 1.9.2's `watch` sends `Lambda-Runtime-Deadline-Ms: 600000`, a duration,
    /// which read as an epoch time lies in 1970: trusted, it would stop every request at once.
    pub fn from_runtime(ms: u64, now: SystemTime) -> Result<Self, Self> {
        let reported = UNIX_EPOCH + Duration::from_millis(ms);
        if ms > 0 && reported > now && reported <= now + LONGEST_INVOCATION {
            Ok(Self(Some(reported)))
        } else {
            Err(Self(Some(now + FALLBACK_BUDGET)))
        }
    }

    /// The deadline in epoch milliseconds, or `fallback` from now when none is known.
    pub fn epoch_ms_or(&self, fallback: Duration) -> i64 {
        let at = self.0.unwrap_or_else(|| SystemTime::now() + fallback);
        at.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    /// True when less than `margin` remains.
    pub fn is_near(&self, margin: Duration) -> bool {
        self.remaining()
            .is_some_and(|left| left < margin || left.is_zero())
    }

    /// Time left, or `None` when no deadline is known.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|at| {
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
    }

    /// Runs `work` until it is done or until only `keep` is left before the deadline, whichever
    /// comes first; `None` when time ran out (the work is dropped mid-call).
    pub async fn within<F: std::future::Future>(
        &self,
        keep: Duration,
        work: F,
    ) -> Option<F::Output> {
        match self.remaining() {
            None => Some(work.await),
            Some(left) => tokio::time::timeout(left.saturating_sub(keep), work)
                .await
                .ok(),
        }
    }
}

/// Time kept back from every call made after the deadline stop, so the invocation answers
/// before Lambda ends it.
pub const LAST_CALL_SLACK: Duration = Duration::from_millis(300);

/// Who is publishing, where to, and within what limits.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// SDK clients.
    pub aws: &'a Aws,
    /// Table holding the ledger.
    pub table: &'a str,
    /// Topic receiving the invites.
    pub topic_arn: &'a str,
    /// This request's ledger item.
    pub ledger: &'a LedgerKey,
    /// This invocation's ledger holder id.
    pub holder: &'a str,
    /// Deadline margin and checkpoint interval.
    pub limits: &'a Limits,
    /// Concurrent `PublishBatch` calls.
    pub max_in_flight: usize,
    /// The invocation's deadline.
    pub deadline: Deadline,
}

impl Delivery<'_> {
    /// Publishes `invites` (in row order) from `resume.next_row` on, and returns every publish
    /// failure of the request, those recorded by earlier deliveries included.
    pub async fn publish(
        &self,
        invites: &[Candidate],
        events: &HashMap<EventUid, EventRecord>,
        resume: Checkpoint,
    ) -> Result<Vec<PublishFailure>, ProcessError> {
        let start = invites.partition_point(|invite| invite.row < resume.next_row);
        let mut failures: Vec<PublishFailure> = resume
            .failed
            .into_iter()
            .filter_map(|(row, code)| {
                let index = invites
                    .binary_search_by_key(&row, |invite| invite.row)
                    .ok()?;
                Some(PublishFailure { index, code })
            })
            .collect();
        if resume.invites_done {
            return Ok(failures);
        }
        let entries = invites[start..]
            .iter()
            .enumerate()
            .filter_map(|(offset, invite)| {
                let event = events.get(&invite.uid)?;
                Some(Entry {
                    index: start + offset,
                    message: contract::invite_message(invite, event),
                })
            });
        let mut batches = Batches::new(entries);
        let mut progress = Progress::new(resume.next_row);
        let mut in_flight = FuturesUnordered::new();
        let mut saved_prefix = 0;
        let mut stop: Option<ProcessError> = None;
        let window = 2 * self.max_in_flight;

        loop {
            while stop.is_none()
                && in_flight.len() < self.max_in_flight
                && progress.ahead_of_prefix() < window
            {
                if self.deadline.is_near(self.limits.deadline_margin) {
                    stop = Some(ProcessError::DeadlineReached { progressed: false });
                    break;
                }
                let Some(batch) = batches.next() else { break };
                let rows = |entries: &[Entry]| {
                    let row = |entry: &Entry| invites[entry.index].row;
                    (
                        entries.first().map_or(0, row),
                        entries.last().map_or(0, row),
                    )
                };
                let (first, last) = match &batch {
                    Batch::Send(entries) => rows(entries),
                    Batch::TooLarge(entry) => rows(std::slice::from_ref(entry)),
                };
                let id = progress.start(first, last);
                in_flight.push(async move { (id, self.send(batch).await) });
            }
            // Batches still in flight when half the margin is left are abandoned: not finished,
            // so the checkpoint stays before them and they are sent again later at worst.
            let half_margin = self.limits.deadline_margin / 2;
            let Some(next) = self.deadline.within(half_margin, in_flight.next()).await else {
                stop = Some(ProcessError::DeadlineReached { progressed: false });
                break;
            };
            let Some((id, result)) = next else {
                break;
            };
            match result {
                Ok(batch_failures) => {
                    failures.extend(batch_failures);
                    progress.finish(id);
                    if stop.is_none()
                        && progress.finished_prefix() >= saved_prefix + self.limits.checkpoint_every
                    {
                        // A failed checkpoint stops new batches but lets those in flight finish,
                        // so the stop path below can still record them.
                        match self.checkpoint(invites, &progress, &failures, false).await {
                            Ok(()) => saved_prefix = progress.finished_prefix(),
                            Err(err) => {
                                stop = Some(err);
                            }
                        }
                    }
                }
                Err(err) => {
                    stop.get_or_insert(err);
                }
            }
        }
        if let Some(mut err) = stop {
            match self.checkpoint(invites, &progress, &failures, false).await {
                Ok(()) => {
                    if let ProcessError::DeadlineReached { progressed } = &mut err {
                        *progressed = progress.finished_prefix() > 0;
                    }
                }
                Err(save) => {
                    warn!(error = %save, "could not save progress; the next delivery resumes from the last checkpoint")
                }
            }
            return Err(err);
        }
        // Record that every invite is out before the summary is sent: if the summary or the
        // completion fails, the redelivery publishes nothing again and only sends the summary.
        self.checkpoint(invites, &progress, &failures, true).await?;
        Ok(failures)
    }

    async fn send(&self, batch: Batch) -> Result<Vec<PublishFailure>, ProcessError> {
        match batch {
            Batch::TooLarge(entry) => Ok(vec![PublishFailure {
                index: entry.index,
                code: "message too large".into(),
            }]),
            Batch::Send(entries) => Ok(self.aws.publish_batch(self.topic_arn, entries).await?),
        }
    }

    /// Saves progress. After a deadline stop this is one of the last calls, so it only gets the
    /// time left; running out of it is a failure like any other (the last checkpoint stands).
    async fn checkpoint(
        &self,
        invites: &[Candidate],
        progress: &Progress,
        failures: &[PublishFailure],
        invites_done: bool,
    ) -> Result<(), ProcessError> {
        let next_row = progress.next_row();
        let failed: Vec<(u64, String)> = failures
            .iter()
            .map(|f| (invites[f.index].row, f.code.clone()))
            .filter(|(row, _)| *row < next_row)
            .collect();
        let handled = invites.partition_point(|invite| invite.row < next_row);
        let checkpoint = Checkpoint {
            next_row,
            sent_so_far: handled.saturating_sub(failed.len()) as u64,
            failed,
            invites_done,
        };
        let save = self
            .aws
            .save_checkpoint(self.table, self.ledger, self.holder, &checkpoint);
        self.deadline
            .within(LAST_CALL_SLACK, save)
            .await
            .unwrap_or(Err(ProcessError::DeadlineReached { progressed: false }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_zero_means_unknown() {
        let none = Deadline::from_epoch_ms(0);
        assert!(!none.is_near(Duration::from_secs(3600)));
        assert!(none.epoch_ms_or(Duration::from_secs(60)) > 0);
    }

    #[test]
    fn impossible_runtime_deadlines_get_the_fallback_budget() {
        let now = SystemTime::now();
        let epoch_ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let real = epoch_ms(now + Duration::from_secs(150));
        assert_eq!(
            Deadline::from_runtime(real, now),
            Ok(Deadline::from_epoch_ms(real))
        );
        let fallback = Err(Deadline(Some(now + FALLBACK_BUDGET)));
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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let soon = Deadline::from_epoch_ms(now + 2_000);
        assert!(soon.is_near(Duration::from_secs(5)));
        assert!(!soon.is_near(Duration::from_millis(100)));
        assert!(Deadline::from_epoch_ms(now - 1_000).is_near(Duration::ZERO));
    }
}
