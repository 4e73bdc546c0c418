//! What became of a list's rows that were not sent, and of each list: the rows the summary
//! shows, the rows past the request's limit, and each list's count or reason it was unusable.

use std::collections::BTreeMap;

use crate::domain::{Reason, ReasonKind, RowPosition};

/// Most rows not sent a request keeps whole, for the summary to list: more than its text,
/// `rejected-rows.csv` (4 MiB) and `results.json` (2 MiB) can show. Past it, rows not sent are
/// counted ([`Unlisted`]), so a list of millions of bad rows costs a bounded amount of memory.
pub const MAX_KEPT_REJECTED: usize = 100_000;
/// Most distinct uids the rows past [`MAX_KEPT_REJECTED`] are counted under; past it, they
/// count in the totals only.
pub const MAX_UNLISTED_UIDS: usize = 1_000;

/// A row that was not sent, with the values the organizer wrote, for the summary.
///
/// Values are clipped to their column's limit (with `…`), so a rejected row costs a few hundred
/// bytes at most whatever the file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Where the row is.
    pub row: RowPosition,
    /// The uid as written, lowercased and trimmed (may be empty).
    pub uid: String,
    /// The email as written, trimmed.
    pub email: String,
    /// The name as written, trimmed (so a fixed row can be sent back as is).
    pub name: String,
    /// Why it was not sent.
    pub reason: Reason,
}

/// Rows not sent past the first [`MAX_KEPT_REJECTED`]: counted by reason and by uid, not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unlisted {
    /// Rows counted.
    pub rows: u64,
    /// Rows by kind of reason.
    pub by_kind: BTreeMap<ReasonKind, u64>,
    /// Rows by uid as written, for at most [`MAX_UNLISTED_UIDS`] uids.
    pub by_uid: BTreeMap<String, u64>,
}

impl Unlisted {
    /// Keeps `row` in `rejected` while it holds fewer than [`MAX_KEPT_REJECTED`], else counts it.
    pub fn keep_or_count(&mut self, rejected: &mut Vec<RejectedRow>, row: RejectedRow) {
        if rejected.len() < MAX_KEPT_REJECTED {
            rejected.push(row);
            return;
        }
        self.rows += 1;
        *self.by_kind.entry(row.reason.kind()).or_default() += 1;
        self.count_uid(row.uid, 1);
    }

    /// Adds `rows` under `uid` while fewer than [`MAX_UNLISTED_UIDS`] uids are counted.
    fn count_uid(&mut self, uid: String, rows: u64) {
        let room = self.by_uid.len() < MAX_UNLISTED_UIDS;
        match self.by_uid.get_mut(&uid) {
            Some(count) => *count += rows,
            None if room => {
                self.by_uid.insert(uid, rows);
            }
            None => {}
        }
    }

    /// Adds `other`'s counts to these.
    pub fn absorb(&mut self, other: Unlisted) {
        self.rows += other.rows;
        for (kind, count) in other.by_kind {
            *self.by_kind.entry(kind).or_default() += count;
        }
        for (uid, count) in other.by_uid {
            self.count_uid(uid, count);
        }
    }
}

/// Rows after the first `MAX_ROWS` of a request: counted, never kept or checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverLimit {
    /// Data rows past the limit.
    pub rows: u64,
    /// The limit (`MAX_ROWS`).
    pub max_rows: usize,
}

/// What became of one list of the request (a CSV file, a sheet, the message body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileOutcome {
    /// The file name the client gave it (or `attachment N`).
    pub name: String,
    /// Data rows read from it.
    pub rows: usize,
    /// Why it could not be used at all, if so.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(line: u32, uid: &str) -> RejectedRow {
        RejectedRow {
            row: RowPosition::new(0, line.into()),
            uid: uid.into(),
            email: "x".into(),
            name: String::new(),
            reason: Reason::InvalidEmail,
        }
    }

    #[test]
    fn rows_past_the_kept_ones_are_counted_by_kind_and_a_bounded_set_of_uids() {
        let (mut kept, mut unlisted) = (Vec::new(), Unlisted::default());
        let extra = MAX_UNLISTED_UIDS as u32 + 10;
        for line in 0..MAX_KEPT_REJECTED as u32 + extra {
            unlisted.keep_or_count(&mut kept, bad(line, &format!("u{line}")));
        }
        assert_eq!(kept.len(), MAX_KEPT_REJECTED);
        assert_eq!(unlisted.rows, u64::from(extra));
        assert_eq!(
            unlisted.by_kind[&ReasonKind::InvalidEmail],
            u64::from(extra)
        );
        assert_eq!(
            unlisted.by_uid.len(),
            MAX_UNLISTED_UIDS,
            "uids past the bound are not kept"
        );

        let mut other = Unlisted::default();
        other.keep_or_count(&mut kept, bad(1, "u100000"));
        unlisted.absorb(other);
        assert_eq!(unlisted.rows, u64::from(extra) + 1);
        assert_eq!(unlisted.by_uid["u100000"], 2);
    }
}
