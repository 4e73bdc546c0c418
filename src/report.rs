//! What happened to each row: the reasons a row is not sent, and the per-event tally.

use std::collections::BTreeMap;
use std::fmt;

/// Why a CSV row was not sent. Every row ends in exactly one outcome: queued or one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A required field (`uid` or `email`) is absent or empty.
    MissingField(&'static str),
    /// The email address is not valid.
    InvalidEmail,
    /// The uid is present but unusable (too long, control characters).
    InvalidUid,
    /// The CSV reader could not read the row.
    Unreadable,
    /// The same `(uid, email)` pair appeared on an earlier row, which is the one sent.
    Duplicate {
        /// Row number of the first occurrence.
        first_row: u64,
    },
    /// The attendee has blocked this organizer.
    Blocked,
    /// No event with this uid exists.
    UnknownEvent,
    /// The event exists but belongs to another organizer.
    NotYourEvent,
    /// SNS refused the message for this invite.
    PublishFailed(String),
    /// The request has more rows than one request may carry (`MAX_ROWS`).
    OverLimit {
        /// The limit.
        max_rows: usize,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MissingField(field) => write!(f, "missing field ({field})"),
            Reason::InvalidEmail => f.write_str("invalid email"),
            Reason::InvalidUid => f.write_str("invalid uid"),
            Reason::Unreadable => f.write_str("unreadable row"),
            Reason::Duplicate { first_row } => write!(f, "duplicate of row {first_row}"),
            Reason::Blocked => f.write_str("blocked"),
            Reason::UnknownEvent => f.write_str("unknown event"),
            Reason::NotYourEvent => f.write_str("not your event"),
            Reason::PublishFailed(code) => write!(f, "publish failed ({code})"),
            Reason::OverLimit { max_rows } => {
                write!(f, "over the limit of {max_rows} rows per request")
            }
        }
    }
}

/// A row that was not sent, with the values the organizer wrote, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Line number in the CSV file (the header is line 1).
    pub row: u64,
    /// The uid as written, lowercased and trimmed (may be empty).
    pub uid: String,
    /// The email as written, trimmed.
    pub email: String,
    /// The name as written, trimmed (so a fixed row can be sent back as is).
    pub name: String,
    /// Why it was not sent.
    pub reason: Reason,
}

/// Per-uid counts of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidTally {
    /// Invites queued for this uid.
    pub sent: usize,
    /// Rows of this uid not sent.
    pub not_sent: usize,
}

/// Rows of file `k` (0-based, in the order the email carries them) are numbered
/// `k * FILE_ROW_BASE + line`, so rows of several files keep one order; with one file the row is
/// the line.
pub const FILE_ROW_BASE: u64 = 1_000_000_000;

/// What became of one CSV file of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileOutcome {
    /// The file name the client gave it (or `attachment N`).
    pub name: String,
    /// Data rows read from it.
    pub rows: usize,
    /// Why it could not be used at all, if so.
    pub error: Option<String>,
}

/// The outcome of one bulk request, ready to be summarized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Counts per uid, sorted by uid (rows with no uid under the empty string).
    pub by_uid: BTreeMap<String, UidTally>,
    /// Every row not sent, in file order.
    pub rejected: Vec<RejectedRow>,
    /// The CSV files read, when the email carried more than one or one was unusable.
    pub files: Vec<FileOutcome>,
}

impl Report {
    /// Builds the tally from the sent uids and the rejected rows.
    pub fn new<'a>(
        sent_uids: impl IntoIterator<Item = &'a str>,
        mut rejected: Vec<RejectedRow>,
    ) -> Self {
        let mut by_uid: BTreeMap<String, UidTally> = BTreeMap::new();
        for uid in sent_uids {
            by_uid.entry(uid.to_string()).or_default().sent += 1;
        }
        for row in &rejected {
            by_uid.entry(row.uid.clone()).or_default().not_sent += 1;
        }
        rejected.sort_by_key(|row| row.row);
        Self {
            by_uid,
            rejected,
            files: Vec::new(),
        }
    }

    /// Invites queued in all.
    pub fn sent(&self) -> usize {
        self.by_uid.values().map(|t| t.sent).sum()
    }

    /// How to name a row to the organizer: `row 7`, or `guests.csv row 7` when the request
    /// had several files.
    pub fn row_label(&self, row: u64) -> String {
        let line = row % FILE_ROW_BASE;
        match self.files.get((row / FILE_ROW_BASE) as usize) {
            Some(file) if self.files.len() > 1 => format!("{} row {line}", file.name),
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

    /// Rows not sent in all.
    pub fn not_sent(&self) -> usize {
        self.rejected.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(row: u64, uid: &str, reason: Reason) -> RejectedRow {
        RejectedRow {
            row,
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
        assert_eq!(report.rejected[0].row, 3, "rejected rows are in file order");
    }

    #[test]
    fn reasons_read_as_plain_words() {
        assert_eq!(
            Reason::MissingField("email").to_string(),
            "missing field (email)"
        );
        assert_eq!(
            Reason::Duplicate { first_row: 2 }.to_string(),
            "duplicate of row 2"
        );
        assert_eq!(Reason::NotYourEvent.to_string(), "not your event");
    }
}
