//! The request ledger: one DynamoDB item per stored email, so a redelivered SQS message neither
//! publishes invites twice nor mails a second summary.
//!
//! The item lives in the same table under its own prefix (`bulk_request#…`), with a TTL
//! attribute. It is taken with one conditional write (it does not exist, or its holder's lease
//! has run out), moved forward at checkpoints, and marked completed after the summary is sent.
//! Leases are tied to the invocation's deadline, so a timed-out invocation never blocks the next
//! delivery for longer than its own timeout.
//!
//! States of the item: absent -> `in_progress` (publishing, `next_row` moving forward) ->
//! `in_progress` with `invites_done` (summary pending) -> `completed`. `last_word_at` is set at
//! most once, by the delivery that mails the organizer that the request ended in the
//! dead-letter queue. `summary_attempts` counts the deliveries that started to send the summary
//! (at most [`MAX_SUMMARY_ATTEMPTS`]). `invite_allowances` is set at most once, by the first delivery whose plan
//! an event's `invite_limit` bound ([`crate::decision::limits`]); `blocked_attendees` at most
//! once, by the first delivery that decides a large list ([`crate::decision::blocked`]).

use std::collections::HashSet;

use crate::decision::limits::Allowances;
use crate::domain::{AttendeeEmail, RowPosition};
use crate::inbound::notification::ObjectRef;

/// Summary sends a request may start, over all its deliveries: SES has no idempotency token,
/// and a send whose answer was lost (late, or the connection dropped after SES took it) may
/// have been delivered. Two keeps the bound docs/operations.md states: at most two summaries.
pub const MAX_SUMMARY_ATTEMPTS: u64 = 2;

/// Invites SNS may refuse in one request before publishing stops: the refused rows are kept in
/// the ledger item (about 30 bytes each), which DynamoDB caps at 400 KB. So many refusals say
/// the list itself is wrong (every message too large, say), not the odd row.
pub const MAX_REFUSED: usize = 5_000;

/// How long a completed or abandoned ledger item is kept before DynamoDB's TTL removes it.
pub const RETENTION_SECONDS: i64 = 14 * 24 * 3600;

/// Partition and sort key of a request's ledger item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerKey {
    /// `bulk_request#<bucket>/<key>`
    pub pk: String,
    /// `bulk_request#<etag>`: a new upload under the same key is a new request.
    pub sk: String,
}

impl LedgerKey {
    /// The ledger key of a stored email.
    ///
    /// The ETag is written without the quotes S3 puts around it in `GetObject` answers (an S3
    /// notification carries it bare), so one stored email has one key whichever says it.
    pub fn for_object(object: &ObjectRef) -> Self {
        let etag = object
            .etag
            .as_deref()
            .map(|etag| etag.trim().trim_matches('"'))
            .filter(|etag| !etag.is_empty());
        Self {
            pk: format!("bulk_request#{}/{}", object.bucket, object.key),
            sk: format!("bulk_request#{}", etag.unwrap_or("-")),
        }
    }
}

/// Where an unfinished request got to: every invite on a row before `next_row` was handled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// First row not yet known to be published (rows are in file order).
    pub next_row: RowPosition,
    /// Invites before `next_row` that SNS refused, with the code, for the final summary.
    pub failed: Vec<(RowPosition, String)>,
    /// Invites published before `next_row` (what the last-word email reports).
    pub sent_so_far: u64,
    /// Every invite is out; only the summary is pending. A delivery that finds this set sends
    /// the summary and publishes nothing.
    pub invites_done: bool,
    /// Set when publishing stopped early because SNS refused [`MAX_REFUSED`] invites: the
    /// first row not sent. Every invite from there on is reported as not sent.
    pub stopped_at: Option<RowPosition>,
    /// Times a delivery started to send the request's summary (or help email); each may have
    /// reached SES even when it failed, so no delivery starts another after
    /// [`MAX_SUMMARY_ATTEMPTS`].
    pub summary_attempts: u64,
    /// The event allowances the request was first decided with, when any bound it (read at the
    /// claim; written once, by [`crate::ledger::lease::Lease::freeze_decision`], never
    /// by a checkpoint save).
    pub allowances: Option<Allowances>,
    /// Who blocked the organizer when the request was first decided, kept when its lookups
    /// were large (read at the claim; written once, with the allowances, never by a
    /// checkpoint save). `None`: each delivery reads the block records.
    pub blocked: Option<HashSet<AttendeeEmail>>,
}

impl Checkpoint {
    /// Serializes the failures for the ledger item: `[[position, code], ...]`, positions as
    /// [`RowPosition::to_ledger`] numbers them.
    pub fn failed_json(&self) -> String {
        let stored: Vec<(u64, &str)> = self
            .failed
            .iter()
            .map(|(row, code)| (row.to_ledger(), code.as_str()))
            .collect();
        serde_json::to_string(&stored).expect("pairs of numbers and strings serialize")
    }

    /// Reads the failures back; an unreadable value counts as none.
    pub fn parse_failed(json: &str) -> Vec<(RowPosition, String)> {
        serde_json::from_str::<Vec<(u64, String)>>(json)
            .unwrap_or_default()
            .into_iter()
            .map(|(row, code)| (RowPosition::from_ledger(row), code))
            .collect()
    }
}

/// What a claim of the ledger item found (the store's answer; [`crate::ledger::lease::Claim`]
/// hands an acquired item back as a lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// The claimer holds the request; resume from the checkpoint.
    Acquired(Checkpoint),
    /// The request was completed earlier.
    AlreadyCompleted,
    /// Another holder's lease is still running.
    HeldElsewhere,
}

/// Tracks batches finishing out of order and says how far the prefix of finished rows reaches.
///
/// Batches are started in plan (row) order; `next_row` is the first row of the earliest batch
/// not yet finished, or the row after the last started batch when all have finished.
#[derive(Debug, Clone)]
pub struct Progress {
    batches: Vec<(RowPosition, RowPosition, bool)>,
    prefix: usize,
    start_row: RowPosition,
}

impl Progress {
    /// Starts tracking from `start_row` (the checkpoint being resumed, or the start).
    pub fn new(start_row: RowPosition) -> Self {
        Self {
            batches: Vec::new(),
            prefix: 0,
            start_row,
        }
    }

    /// Registers the next batch, covering rows `first_row..=last_row`; returns its number.
    pub fn start(&mut self, first_row: RowPosition, last_row: RowPosition) -> usize {
        self.batches.push((first_row, last_row, false));
        self.batches.len() - 1
    }

    /// Records that batch `index` was published (or refused and recorded).
    pub fn finish(&mut self, index: usize) {
        if let Some(batch) = self.batches.get_mut(index) {
            batch.2 = true;
        }
        while self.batches.get(self.prefix).is_some_and(|b| b.2) {
            self.prefix += 1;
        }
    }

    /// Batches started so far.
    pub fn started(&self) -> usize {
        self.batches.len()
    }

    /// Batches finished in an unbroken run from the start.
    pub fn finished_prefix(&self) -> usize {
        self.prefix
    }

    /// Batches started beyond the finished prefix (in flight, or finished out of order).
    pub fn ahead_of_prefix(&self) -> usize {
        self.batches.len() - self.prefix
    }

    /// First row not covered by the finished prefix.
    pub fn next_row(&self) -> RowPosition {
        match self.batches.get(self.prefix) {
            Some(&(first_row, _, _)) => first_row,
            None => self
                .batches
                .last()
                .map_or(self.start_row, |&(_, last_row, _)| last_row.next()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_bucket_key_and_etag() {
        let object = ObjectRef {
            bucket: "inbound".into(),
            key: "bulk_event_invites_email/a b".into(),
            etag: Some("abc".into()),
        };
        assert_eq!(
            LedgerKey::for_object(&object),
            LedgerKey {
                pk: "bulk_request#inbound/bulk_event_invites_email/a b".into(),
                sk: "bulk_request#abc".into()
            }
        );
    }

    #[test]
    fn a_quoted_etag_and_a_bare_one_name_the_same_request() {
        let with = |etag: Option<&str>| {
            LedgerKey::for_object(&ObjectRef {
                bucket: "inbound".into(),
                key: "k".into(),
                etag: etag.map(str::to_string),
            })
        };
        assert_eq!(with(Some("\"abc\"")), with(Some("abc")));
        assert_eq!(with(Some(" ")).sk, "bulk_request#-");
    }

    #[test]
    fn progress_advances_only_over_a_finished_prefix() {
        let at = |line| RowPosition::new(0, line);
        let mut progress = Progress::new(at(2));
        assert_eq!(progress.next_row(), at(2));
        let batches: Vec<usize> = [(2, 11), (12, 21), (22, 31), (32, 39)]
            .into_iter()
            .map(|(first, last)| progress.start(at(first), at(last)))
            .collect();
        progress.finish(batches[1]);
        assert_eq!(progress.next_row(), at(2), "batch 0 still open");
        assert_eq!(progress.ahead_of_prefix(), 4);
        progress.finish(batches[0]);
        assert_eq!(progress.next_row(), at(22));
        assert_eq!(
            (progress.finished_prefix(), progress.ahead_of_prefix()),
            (2, 2)
        );
        progress.finish(batches[3]);
        progress.finish(batches[2]);
        assert_eq!(progress.next_row(), at(40));
    }

    #[test]
    fn failures_round_trip_through_json() {
        let checkpoint = Checkpoint {
            next_row: RowPosition::new(0, 9),
            failed: vec![
                (RowPosition::new(0, 3), "InvalidParameter".into()),
                (RowPosition::new(2, 7), "InternalError".into()),
            ],
            ..Checkpoint::default()
        };
        assert_eq!(
            Checkpoint::parse_failed(&checkpoint.failed_json()),
            checkpoint.failed
        );
        assert!(Checkpoint::parse_failed("garbage").is_empty());
        assert_eq!(
            checkpoint.failed_json(),
            r#"[[3,"InvalidParameter"],[2000000007,"InternalError"]]"#
        );
    }
}
