//! The lease on one request's ledger item: the handle an invocation gets when it takes the
//! request, and the only way to move the item forward (checkpoints, frozen decision, summary
//! attempts), give it up, or complete it.
//!
//! Invariants: every write a [`Lease`] makes is conditional on its holder, so an invocation whose
//! lease was taken over learns `HeldElsewhere` and stops; every call is bounded by the
//! invocation's deadline (the lease runs out then too), so no lease call outlives it; a
//! request's summary is started at most [`MAX_SUMMARY_ATTEMPTS`] times, counted before each send.
//! The last word ([`LedgerStore::take_last_word`]) is the one write that needs no lease: it is
//! made once, by its own condition, and a request whose email is gone has no lease to take.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use super::state::{Checkpoint, LedgerKey, MAX_SUMMARY_ATTEMPTS, Taken};
use super::store::{LastWord, LedgerStore};
use crate::deadline::{Deadline, LAST_CALL_SLACK, TimeBudget};
use crate::decision::limits::Allowances;
use crate::domain::{AttendeeEmail, SenderEmail};
use crate::error::{AwsError, ProcessError};

/// What taking a request's ledger item found.
#[derive(Debug)]
pub enum Claim<'s> {
    /// This invocation holds the request; resume from the checkpoint.
    Acquired(Lease<'s>, Box<Checkpoint>),
    /// The request was completed earlier: do nothing.
    AlreadyCompleted,
    /// Another invocation holds a live lease: hand the message back to SQS.
    HeldElsewhere,
}

/// How often a last receive asks again whether the request's holder has finished.
pub const HELD_POLL: Duration = Duration::from_secs(2);

/// One request's ledger item, held by one invocation until its deadline.
#[derive(Debug)]
pub struct Lease<'s> {
    store: &'s LedgerStore,
    key: LedgerKey,
    holder: String,
    deadline: Deadline,
    summary_attempts: u64,
}

impl<'s> Lease<'s> {
    /// The handle for an item `store` just gave `holder` (the claim found `summary_attempts`).
    fn new(
        store: &'s LedgerStore,
        key: LedgerKey,
        holder: &str,
        deadline: Deadline,
        summary_attempts: u64,
    ) -> Self {
        Self {
            store,
            key,
            holder: holder.to_string(),
            deadline,
            summary_attempts,
        }
    }

    /// Claims the request's ledger item for `holder` until `deadline` (the lease runs out then),
    /// once: the lease when it is free, else what holds it.
    pub async fn claim(
        store: &'s LedgerStore,
        key: &LedgerKey,
        holder: &str,
        sender: &SenderEmail,
        now_ms: i64,
        deadline: Deadline,
    ) -> Result<Claim<'s>, AwsError> {
        Ok(
            match store.claim(key, holder, sender, now_ms, deadline).await? {
                Taken::Acquired(checkpoint) => {
                    let attempts = checkpoint.summary_attempts;
                    let lease = Self::new(store, key.clone(), holder, deadline, attempts);
                    Claim::Acquired(lease, Box::new(checkpoint))
                }
                Taken::AlreadyCompleted => Claim::AlreadyCompleted,
                Taken::HeldElsewhere => Claim::HeldElsewhere,
            },
        )
    }

    /// Takes the request's ledger item for `holder` until the invocation's deadline.
    ///
    /// On the message's last receive (`wait_for_holder`), `HeldElsewhere` would send a copy of a
    /// request that is being done to the dead-letter queue and page someone; it waits instead,
    /// while the time allows, for the holder to finish (then `AlreadyCompleted`) or to let go
    /// (then this delivery takes over).
    pub async fn take(
        store: &'s LedgerStore,
        key: &LedgerKey,
        holder: &str,
        sender: &SenderEmail,
        time: &TimeBudget,
        wait_for_holder: bool,
    ) -> Result<Claim<'s>, ProcessError> {
        let deadline = time.deadline;
        let mut waited = false;
        loop {
            let claim = Self::claim(store, key, holder, sender, now_ms(), deadline);
            match deadline.bounded(claim).await? {
                Claim::HeldElsewhere if wait_for_holder && time.may_wait(HELD_POLL) => {
                    if !waited {
                        info!("last receive of a request another invocation holds: waiting for it");
                        waited = true;
                    }
                    tokio::time::sleep(HELD_POLL).await;
                }
                claim => return Ok(claim),
            }
        }
    }

    /// This request's ledger item.
    pub fn key(&self) -> &LedgerKey {
        &self.key
    }

    /// Records progress (it replaces the checkpoint before). Not bounded here: the publish loop
    /// runs it beside its batches and bounds it itself.
    pub async fn save(&self, checkpoint: &Checkpoint) -> Result<(), ProcessError> {
        self.store
            .save_checkpoint(&self.key, &self.holder, checkpoint)
            .await
    }

    /// Keeps what the request's first decision read (the event allowances that bound it, who
    /// blocked the organizer), for every later delivery to decide with.
    pub async fn freeze_decision(
        &self,
        allowances: Option<&Allowances>,
        blocked: Option<&HashSet<AttendeeEmail>>,
    ) -> Result<(), ProcessError> {
        let freeze = (self.store).freeze_decision(&self.key, &self.holder, allowances, blocked);
        self.deadline.bounded(freeze).await
    }

    /// True while the summary may be sent: earlier deliveries started fewer than
    /// [`MAX_SUMMARY_ATTEMPTS`] sends, as the claim found them.
    pub fn may_send_summary(&self) -> bool {
        may_send_summary(self.summary_attempts)
    }

    /// Summary sends earlier deliveries started.
    pub fn summary_attempts(&self) -> u64 {
        self.summary_attempts
    }

    /// Counts one more start of the summary's send, before it starts.
    pub async fn count_summary_attempt(&self) -> Result<(), ProcessError> {
        let count = self.store.count_summary_attempt(&self.key, &self.holder);
        self.deadline.bounded(count).await
    }

    /// Marks the request completed with its totals, so redeliveries do nothing.
    pub async fn complete(&self, sent: usize, not_sent: usize) -> Result<(), ProcessError> {
        let complete = self.store.complete(&self.key, &self.holder, sent, not_sent);
        self.deadline.bounded(complete).await
    }

    /// Gives up the lease after a stop with work left, so the next delivery need not wait for
    /// it to run out. A release that fails only costs that wait: it is logged, not returned.
    pub async fn release(&self) {
        let release = self.store.release(&self.key, &self.holder);
        match self.deadline.within(LAST_CALL_SLACK, release).await {
            Some(Ok(())) => {}
            Some(Err(err)) => {
                warn!(error = %err, "could not release the lease; the redelivery waits for it to run out")
            }
            None => {
                warn!("no time left to release the lease; the redelivery waits for it to run out")
            }
        }
    }

    /// Takes the request's one last word (see [`LedgerStore::take_last_word`]).
    pub async fn take_last_word(&self) -> Result<Option<LastWord>, AwsError> {
        self.store.take_last_word(&self.key, now_ms()).await
    }
}

fn may_send_summary(attempts: u64) -> bool {
    attempts < MAX_SUMMARY_ATTEMPTS
}

/// Now, in epoch milliseconds (leases and the last word are stamped with it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_started_at_most_twice_per_request() {
        assert!(may_send_summary(0));
        assert!(may_send_summary(MAX_SUMMARY_ATTEMPTS - 1));
        assert!(!may_send_summary(MAX_SUMMARY_ATTEMPTS));
        assert!(!may_send_summary(u64::MAX));
    }

    #[test]
    fn a_lease_keeps_what_its_claim_found() {
        let store = LedgerStore::new(
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::Config::builder()
                    .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                    .build(),
            ),
            "t".into(),
        );
        let key = LedgerKey {
            pk: "bulk_request#b/k#e".into(),
            sk: "bulk_request".into(),
        };
        let deadline = Deadline::after(Duration::from_secs(60));
        let lease = Lease::new(&store, key.clone(), "holder/1", deadline, 2);
        assert_eq!(lease.key(), &key);
        assert_eq!(lease.summary_attempts(), 2);
        assert!(!lease.may_send_summary(), "two earlier sends: none more");
    }
}
