//! Publishing a plan's invites: bounded concurrency, progress checkpoints, the Lambda deadline.
//!
//! Batches start in row order, at most `MAX_IN_FLIGHT` at a time, and never more than
//! 2 x `MAX_IN_FLIGHT` beyond the last batch of the finished prefix (a slow batch must not let
//! the others run far ahead of what a checkpoint can record). Whenever the finished prefix has
//! grown by `checkpoint_every` batches, the ledger records the first row not yet known to be
//! published, so a delivery that dies resumes there: at most
//! `(checkpoint_every + 2 x MAX_IN_FLIGHT) x 10` invites can be sent twice. No batch starts when
//! the deadline is near (`margin`, [`TimeBudget::publishing_must_stop`]); the ones in flight get
//! until half the margin is left ([`TimeBudget::publish_cutoff_keeps`]), then are abandoned (not counted as finished, so they are resent at worst), progress is saved, and
//! the handler continues the request in a new message or hands it back to SQS. No call outlives
//! the invocation: every wait is bounded by the time left (see [`crate::deadline::Deadline::within`]).

use std::collections::HashMap;
use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tracing::warn;

use crate::attendees::rows::Candidate;
use crate::aws::sns::Topic;
use crate::deadline::{LAST_CALL_SLACK, TimeBudget};
use crate::decision::batches::{Batch, Batches, Entry};
use crate::decision::contract;
use crate::decision::plan::PublishFailure;
use crate::domain::EventRecord;
use crate::domain::EventUid;
use crate::domain::RowPosition;
use crate::error::ProcessError;
use crate::ledger::lease::Lease;
use crate::ledger::state::{Checkpoint, MAX_REFUSED, Progress};

/// Sends one `PublishBatch` worth of invites; entries SNS refused come back as failures.
pub trait PublishBatches {
    /// Publishes `entries` (at most 10, 256 KiB).
    fn publish(
        &self,
        entries: Vec<Entry>,
    ) -> impl Future<Output = Result<Vec<PublishFailure>, ProcessError>>;
}

/// Records how far a request got, so a later delivery resumes there.
pub trait SaveCheckpoints {
    /// Saves `checkpoint` (it replaces the one before).
    fn save(&self, checkpoint: Checkpoint) -> impl Future<Output = Result<(), ProcessError>>;
}

impl PublishBatches for Topic {
    async fn publish(&self, entries: Vec<Entry>) -> Result<Vec<PublishFailure>, ProcessError> {
        Ok(self.publish_batch(entries).await?)
    }
}

impl SaveCheckpoints for Lease<'_> {
    async fn save(&self, checkpoint: Checkpoint) -> Result<(), ProcessError> {
        Lease::save(self, &checkpoint).await
    }
}

/// Who is publishing, where to, and within what limits.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a, P, C> {
    /// Where the invites go.
    pub topic: &'a P,
    /// Where progress is saved.
    pub ledger: &'a C,
    /// Batches between checkpoints (`CHECKPOINT_EVERY`).
    pub checkpoint_every: usize,
    /// Concurrent `PublishBatch` calls.
    pub max_in_flight: usize,
    /// When batches stop starting, and when the ones in flight are abandoned.
    pub time: TimeBudget,
}

type Saving<'f> = std::pin::Pin<Box<dyn Future<Output = Result<(), ProcessError>> + 'f>>;

impl<P: PublishBatches, C: SaveCheckpoints> Delivery<'_, P, C> {
    /// Publishes `invites` (in row order) from `resume.next_row` on, and returns every publish
    /// failure of the request, those recorded by earlier deliveries included.
    ///
    /// Progress checkpoints run beside the publishing, one at a time: the window of batches
    /// stays full while the ledger is written. What bounds a crash's resend is that no batch
    /// starts more than `checkpoint_every + 2 x max_in_flight` batches past the last *saved*
    /// checkpoint.
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
            not_sent_from(resume.stopped_at, invites, &mut failures);
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
        let mut saving: Option<(usize, Saving<'_>)> = None;
        let mut saved_prefix = 0;
        let mut stop: Option<ProcessError> = None;
        let window = 2 * self.max_in_flight;
        let every = self.checkpoint_every;
        // Batches still in flight when half the margin is left are abandoned: not finished, so
        // the checkpoint stays before them and they are sent again later at worst.
        let cutoff = tokio::time::Instant::now()
            + self
                .time
                .deadline
                .remaining()
                .saturating_sub(self.time.publish_cutoff_keeps());

        loop {
            while stop.is_none()
                && failures.len() < MAX_REFUSED
                && in_flight.len() < self.max_in_flight
                && progress.ahead_of_prefix() < window
                && progress.started() < saved_prefix + every + window
            {
                if self.time.publishing_must_stop() {
                    stop = Some(ProcessError::DeadlineReached { progressed: false });
                    break;
                }
                let Some(batch) = batches.next() else { break };
                let rows = |entries: &[Entry]| {
                    let row = |entry: &Entry| invites[entry.index].row;
                    (
                        entries.first().map_or(RowPosition::default(), row),
                        entries.last().map_or(RowPosition::default(), row),
                    )
                };
                let (first, last) = match &batch {
                    Batch::Send(entries) => rows(entries),
                    Batch::TooLarge(entry) => rows(std::slice::from_ref(entry)),
                };
                let id = progress.start(first, last);
                in_flight.push(async move { (id, self.send(batch).await) });
            }
            if stop.is_none()
                && saving.is_none()
                && progress.finished_prefix() >= saved_prefix + every
            {
                let checkpoint = snapshot(invites, &progress, &failures, false);
                saving = Some((
                    progress.finished_prefix(),
                    Box::pin(self.ledger.save(checkpoint)),
                ));
            }
            if in_flight.is_empty() && saving.is_none() {
                break;
            }
            let until_cutoff = tokio::time::sleep_until(cutoff);
            tokio::select! {
                Some((id, result)) = in_flight.next(), if !in_flight.is_empty() => match result {
                    Ok(batch_failures) => {
                        failures.extend(batch_failures);
                        progress.finish(id);
                    }
                    Err(err) => {
                        stop.get_or_insert(err);
                    }
                },
                saved = async { saving.as_mut().expect("guarded").1.as_mut().await }, if saving.is_some() => {
                    let (prefix, _) = saving.take().expect("guarded");
                    match saved {
                        Ok(()) => saved_prefix = prefix,
                        // A failed checkpoint stops new batches but lets those in flight finish,
                        // so the stop path below can still record them.
                        Err(err) => {
                            stop.get_or_insert(err);
                        }
                    }
                }
                () = until_cutoff => {
                    stop.get_or_insert(ProcessError::DeadlineReached { progressed: false });
                    break;
                }
            }
        }
        // A checkpoint still being written finishes first: two writes of the item in flight at
        // once could land in either order and move it backwards.
        // Its outcome does not matter: the save below supersedes it.
        if let Some((_, pending)) = saving.take() {
            let _ = self.time.deadline.within(LAST_CALL_SLACK, pending).await;
        }
        if let Some(mut err) = stop {
            match self
                .save_in_time(snapshot(invites, &progress, &failures, false))
                .await
            {
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
        // Publishing stopped at the refusal cap: the rest is not sent, and the ledger says from
        // where, so every later delivery reports the same.
        let next = progress.next_row();
        let stopped_at = (failures.len() >= MAX_REFUSED
            && invites.last().is_some_and(|last| last.row >= next))
        .then_some(next);
        // Record that every invite is out before the summary is sent: if the summary or the
        // completion fails, the redelivery publishes nothing again and only sends the summary.
        let done = Checkpoint {
            stopped_at,
            ..snapshot(invites, &progress, &failures, true)
        };
        self.save_in_time(done).await?;
        not_sent_from(stopped_at, invites, &mut failures);
        Ok(failures)
    }

    async fn send(&self, batch: Batch) -> Result<Vec<PublishFailure>, ProcessError> {
        match batch {
            Batch::TooLarge(entry) => Ok(vec![PublishFailure {
                index: entry.index,
                code: "message too large".into(),
            }]),
            Batch::Send(entries) => self.topic.publish(entries).await,
        }
    }

    /// Saves progress after the loop. This is one of the last calls, so it only gets the time
    /// left; running out of it is a failure like any other (the last checkpoint stands).
    async fn save_in_time(&self, checkpoint: Checkpoint) -> Result<(), ProcessError> {
        self.time
            .deadline
            .within(LAST_CALL_SLACK, self.ledger.save(checkpoint))
            .await
            .unwrap_or(Err(ProcessError::DeadlineReached { progressed: false }))
    }
}

/// Every invite from `stopped_at` on, as not sent because publishing stopped at the refusal cap.
fn not_sent_from(
    stopped_at: Option<RowPosition>,
    invites: &[Candidate],
    failures: &mut Vec<PublishFailure>,
) {
    let Some(stopped_at) = stopped_at else { return };
    let first = invites.partition_point(|invite| invite.row < stopped_at);
    failures.extend((first..invites.len()).map(|index| PublishFailure {
        index,
        code: format!("not sent: SNS refused {MAX_REFUSED} invites of this list"),
    }));
}

/// The checkpoint for the finished prefix: the first row not known to be published, the
/// failures before it, and how many invites before it went out.
fn snapshot(
    invites: &[Candidate],
    progress: &Progress,
    failures: &[PublishFailure],
    invites_done: bool,
) -> Checkpoint {
    let next_row = progress.next_row();
    let failed: Vec<(RowPosition, String)> = failures
        .iter()
        .map(|f| (invites[f.index].row, f.code.clone()))
        .filter(|(row, _)| *row < next_row)
        .collect();
    let handled = invites.partition_point(|invite| invite.row < next_row);
    Checkpoint {
        next_row,
        sent_so_far: handled.saturating_sub(failed.len()) as u64,
        failed,
        invites_done,
        stopped_at: None,
        summary_attempts: 0,
        allowances: None,
        blocked: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::time::Duration;

    use crate::domain::{AttendeeEmail, AttendeeName};

    /// A topic that takes `latency` per batch and records what it got and how many batches were
    /// in flight at once; it also checks the crash bound against the ledger's saved prefix.
    struct FakeTopic<'a> {
        latency: Duration,
        ledger: &'a FakeLedger,
        bound_rows: u64,
        published: RefCell<Vec<usize>>,
        in_flight: Cell<usize>,
        most_in_flight: Cell<usize>,
        /// Every entry is refused (`InvalidParameter`), as SNS refuses messages it cannot take.
        refuse_all: bool,
    }

    impl PublishBatches for FakeTopic<'_> {
        async fn publish(&self, entries: Vec<Entry>) -> Result<Vec<PublishFailure>, ProcessError> {
            // Rows of this batch past the last saved checkpoint would be sent again after a
            // crash: never more than the documented bound.
            let saved = self.ledger.saved_row().max(2);
            let last_row = entries.last().map_or(0, |e| e.index as u64 + 2);
            assert!(
                last_row + 1 - saved <= self.bound_rows,
                "row {last_row} started with only rows before {saved} saved"
            );
            self.in_flight.set(self.in_flight.get() + 1);
            self.most_in_flight
                .set(self.most_in_flight.get().max(self.in_flight.get()));
            tokio::time::sleep(self.latency).await;
            self.in_flight.set(self.in_flight.get() - 1);
            self.published
                .borrow_mut()
                .extend(entries.iter().map(|e| e.index));
            if self.refuse_all {
                return Ok(entries
                    .iter()
                    .map(|e| PublishFailure {
                        index: e.index,
                        code: "InvalidParameter".into(),
                    })
                    .collect());
            }
            Ok(Vec::new())
        }
    }

    struct FakeLedger {
        latency: Duration,
        saved: RefCell<Vec<Checkpoint>>,
    }

    impl FakeLedger {
        fn saved_row(&self) -> u64 {
            self.saved
                .borrow()
                .last()
                .map_or(0, |c| u64::from(c.next_row.line))
        }
    }

    impl SaveCheckpoints for FakeLedger {
        async fn save(&self, checkpoint: Checkpoint) -> Result<(), ProcessError> {
            tokio::time::sleep(self.latency).await;
            self.saved.borrow_mut().push(checkpoint);
            Ok(())
        }
    }

    fn invites(n: usize) -> (Vec<Candidate>, HashMap<EventUid, EventRecord>) {
        let uid = EventUid::parse("ev").unwrap();
        let invites = (0..n)
            .map(|i| Candidate {
                row: RowPosition::new(0, i as u64 + 2),
                uid: uid.clone(),
                email: AttendeeEmail::parse(&format!("a{i}@example.com")).unwrap(),
                written: None,
                name: AttendeeName::parse(""),
            })
            .collect();
        (
            invites,
            HashMap::from([(uid, crate::aws::dynamodb::event_record(&HashMap::new()))]),
        )
    }

    /// Publishes 400 invites (40 batches) with `checkpoint_ms` per checkpoint; returns the
    /// virtual time taken, the topic and the ledger's checkpoints.
    async fn run(checkpoint_ms: u64) -> (Duration, Vec<usize>, usize, Vec<Checkpoint>) {
        run_with(checkpoint_ms, 400, false).await
    }

    async fn run_with(
        checkpoint_ms: u64,
        rows: usize,
        refuse_all: bool,
    ) -> (Duration, Vec<usize>, usize, Vec<Checkpoint>) {
        let (invites, events) = invites(rows);
        let ledger = FakeLedger {
            latency: Duration::from_millis(checkpoint_ms),
            saved: RefCell::new(Vec::new()),
        };
        let (every, in_flight) = (4, 4);
        let topic = FakeTopic {
            latency: Duration::from_millis(25),
            ledger: &ledger,
            bound_rows: ((every + 2 * in_flight) * 10) as u64,
            published: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
            most_in_flight: Cell::new(0),
            refuse_all,
        };
        let delivery = Delivery {
            topic: &topic,
            ledger: &ledger,
            checkpoint_every: every,
            max_in_flight: in_flight,
            time: TimeBudget::new(
                crate::deadline::Deadline::after(Duration::from_secs(24 * 3600)),
                Duration::from_secs(20),
            ),
        };
        let started = tokio::time::Instant::now();
        let failures = delivery
            .publish(&invites, &events, Checkpoint::default())
            .await
            .unwrap();
        // Refused or not, every invite ends with one outcome.
        assert_eq!(failures.len(), if refuse_all { rows } else { 0 });
        let elapsed = started.elapsed();
        let published = topic.published.into_inner();
        (
            elapsed,
            published,
            topic.most_in_flight.get(),
            ledger.saved.into_inner(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn every_invite_is_published_once_and_the_last_checkpoint_says_done() {
        let (_, mut published, most, saved) = run(25).await;
        published.sort_unstable();
        assert_eq!(published, (0..400).collect::<Vec<_>>());
        assert_eq!(most, 4, "the window is used");
        let last = saved.last().unwrap();
        assert!(last.invites_done);
        assert_eq!((last.next_row.line, last.sent_so_far), (402, 400));
        assert!(
            saved.windows(2).all(|w| w[0].next_row <= w[1].next_row),
            "checkpoints only move forward"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn publishing_stops_at_the_refusal_cap_and_the_ledger_item_stays_bounded() {
        let (_, published, _, saved) = run_with(25, MAX_REFUSED + 3_000, true).await;
        let last = saved.last().expect("a final checkpoint");
        assert!(last.invites_done);
        let stopped_at = last.stopped_at.expect("stopped at the cap");
        assert!(
            published.len() < MAX_REFUSED + 100,
            "{} entries sent",
            published.len()
        );
        assert!(stopped_at.line > MAX_REFUSED as u32, "{stopped_at:?}");
        assert!(
            last.failed.len() < MAX_REFUSED + 100 && last.failed_json().len() < 200_000,
            "{} refusals kept, {} bytes",
            last.failed.len(),
            last.failed_json().len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn checkpoints_overlap_publishing() {
        // 40 batches, 4 at a time, 25 ms each: 250 ms of publishing at best. A checkpoint
        // every 4 batches that stopped the window for its 25 ms would add ~9 x 25 ms; running
        // beside it, only the last periodic one and the final one (which must land before the
        // summary) are waited for.
        let (with_checkpoints, ..) = run(25).await;
        let (free_checkpoints, ..) = run(0).await;
        assert!(
            with_checkpoints <= free_checkpoints + Duration::from_millis(2 * 25 + 5),
            "{with_checkpoints:?} against {free_checkpoints:?} with instant checkpoints"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_checkpoints_hold_publishing_to_the_crash_bound() {
        // A ledger slower than the topic: the window must wait for it rather than run ahead of
        // what a crash could resend (FakeTopic asserts the bound on every batch).
        let (elapsed, published, ..) = run(200).await;
        assert_eq!(published.len(), 400);
        assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    }
}
