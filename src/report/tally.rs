//! The per-event tally of one request, and how rows are named to the organizer.

use std::collections::BTreeMap;

use crate::domain::{EventInfo, RequestRef};

use crate::attendees::outcome::{FileOutcome, OverLimit, RejectedRow, Unlisted};
use crate::domain::{Reason, RowPosition};

/// What a report says of the request beyond its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    /// The request as its sender named it.
    pub request: RequestRef,
    /// Every list, in order ([`crate::attendees::lists::Lists::all`]).
    pub lists: Vec<FileOutcome>,
    /// The lists the summary's table names ([`crate::attendees::lists::Lists::named`]).
    pub named: Vec<FileOutcome>,
    /// A preview: nothing is published.
    pub preview: bool,
}

/// Per-uid counts of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidTally {
    /// Invites queued for this uid.
    pub sent: usize,
    /// Rows of this uid not sent.
    pub not_sent: usize,
}

/// The outcome of one bulk request, ready to be summarized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Counts per uid, sorted by uid (rows with no uid under the empty string).
    pub by_uid: BTreeMap<String, UidTally>,
    /// Every row not sent that was kept, in file order (the first
    /// [`crate::attendees::outcome::MAX_KEPT_REJECTED`]).
    pub rejected: Vec<RejectedRow>,
    /// Rows not sent past those: counted, not listed.
    pub unlisted: Unlisted,
    /// The lists read, when the summary names them (see [`crate::attendees::lists::Lists`]).
    pub files: Vec<FileOutcome>,
    /// Rows past `MAX_ROWS`, not read.
    pub over_limit: OverLimit,
    /// A preview: nothing was published; "sent" means "would be sent".
    pub preview: bool,
    /// Every list of the request, in order, with its row count or why it was unusable.
    pub lists: Vec<FileOutcome>,
    /// The request as its sender named it.
    pub request: RequestRef,
    /// Title and start of the events found, by uid.
    pub events: BTreeMap<String, EventInfo>,
}

impl Report {
    /// Builds the tally from the sent uids, the rejected rows and those only counted.
    pub fn new<'a>(
        sent_uids: impl IntoIterator<Item = &'a str>,
        mut rejected: Vec<RejectedRow>,
        unlisted: Unlisted,
    ) -> Self {
        let mut by_uid: BTreeMap<String, UidTally> = BTreeMap::new();
        for uid in sent_uids {
            by_uid.entry(uid.to_string()).or_default().sent += 1;
        }
        for row in &rejected {
            by_uid.entry(row.uid.clone()).or_default().not_sent += 1;
        }
        for (uid, count) in &unlisted.by_uid {
            by_uid.entry(uid.clone()).or_default().not_sent += *count as usize;
        }
        rejected.sort_by_key(|row| row.row);
        Self {
            by_uid,
            rejected,
            unlisted,
            files: Vec::new(),
            lists: Vec::new(),
            request: RequestRef::default(),
            over_limit: OverLimit::default(),
            preview: false,
            events: BTreeMap::new(),
        }
    }

    /// Invites queued in all.
    pub fn sent(&self) -> usize {
        self.by_uid.values().map(|t| t.sent).sum()
    }

    /// How to name a row to the organizer: `row 7`, or `guests.csv, row 7` when the report
    /// names its lists (several files, a spreadsheet's sheet, the message body).
    pub fn row_label(&self, row: RowPosition) -> String {
        let line = row.line;
        match self.files.get(row.file as usize) {
            Some(file) => {
                format!(
                    "{}, row {line}",
                    crate::attendees::cells::without_controls(&file.name)
                )
            }
            _ => format!("row {line}"),
        }
    }

    /// A reason in plain words, naming rows as [`Report::row_label`] does.
    pub fn reason_label(&self, reason: &Reason) -> String {
        match reason {
            Reason::Duplicate { first_row } => {
                format!("duplicate of {}", self.row_label(*first_row))
            }
            other => other.to_string(),
        }
    }

    /// Rows not sent by reason kind (and `over_limit` for rows past `MAX_ROWS`).
    pub fn not_sent_by_kind(&self) -> Vec<(&'static str, u64)> {
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        for row in &self.rejected {
            *counts.entry(row.reason.kind().code()).or_default() += 1;
        }
        for (kind, count) in &self.unlisted.by_kind {
            *counts.entry(kind.code()).or_default() += count;
        }
        if self.over_limit.rows > 0 {
            counts.insert("over_limit", self.over_limit.rows);
        }
        counts.into_iter().collect()
    }

    /// Rows not sent in all, those past the row limit included.
    pub fn not_sent(&self) -> usize {
        self.rejected.len() + self.unlisted.rows as usize + self.over_limit.rows as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(line: u64, uid: &str, reason: Reason) -> RejectedRow {
        RejectedRow {
            row: RowPosition::new(0, line),
            uid: uid.into(),
            email: "x".into(),
            name: String::new(),
            reason,
        }
    }

    #[test]
    fn each_row_is_counted_once_per_uid() {
        let report = Report::new(
            ["ev1", "ev1", "ev2"],
            vec![
                rejected(5, "ev2", Reason::Blocked),
                rejected(3, "ev3", Reason::UnknownEvent),
            ],
            Default::default(),
        );
        assert_eq!(
            report.by_uid["ev1"],
            UidTally {
                sent: 2,
                not_sent: 0
            }
        );
        assert_eq!(
            report.by_uid["ev2"],
            UidTally {
                sent: 1,
                not_sent: 1
            }
        );
        assert_eq!(
            report.by_uid["ev3"],
            UidTally {
                sent: 0,
                not_sent: 1
            }
        );
        assert_eq!((report.sent(), report.not_sent()), (3, 2));
        assert_eq!(
            report.rejected[0].row.line, 3,
            "rejected rows are in file order"
        );
    }
}
