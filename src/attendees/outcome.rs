//! What becomes of each row of a list: where it is, and why it was not sent.
//!
//! The vocabulary every stage shares: the list's rules ([`super::rows`]) and the decision
//! ([`crate::decision::plan`]) reject rows with a [`Reason`]; the report counts and words them.

use std::fmt;

/// Why a CSV row was not sent. Every row ends in exactly one outcome: queued or one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A required field (`uid` or `email`) is absent or empty.
    MissingField(&'static str),
    /// The email address is not valid.
    InvalidEmail,
    /// The uid is present but unusable (control characters).
    InvalidUid,
    /// The address has non-ASCII characters before the `@`: it needs SMTPUTF8, which the
    /// invite mail cannot use.
    NonAsciiLocalPart,
    /// A value is longer than its column allows ([`crate::attendees::rows::MAX_UID_CHARS`] and the
    /// other cell limits).
    TooLong {
        /// The column.
        field: &'static str,
        /// Its limit, in characters.
        max_chars: usize,
    },
    /// The row is longer than [`crate::attendees::records::MAX_RECORD_BYTES`] (or has more fields than
    /// [`crate::attendees::records::MAX_FIELDS`]); it was not kept.
    RowTooLong,
    /// The same `(uid, email)` pair appeared on an earlier row, which is the one sent.
    Duplicate {
        /// Where the first occurrence is.
        first_row: RowPosition,
    },
    /// The address's domain looks misspelt ([`crate::attendees::typos`]): the invite would
    /// bounce.
    LikelyTypo {
        /// The address that was probably meant.
        meant: String,
    },
    /// The attendee has blocked this organizer.
    Blocked,
    /// No event with this uid exists.
    UnknownEvent,
    /// The event exists but belongs to another organizer.
    NotYourEvent,
    /// The event's `invite_limit` allows fewer invites than the list has for it, and earlier
    /// rows of the list took them ([`crate::decision::limits`]).
    InviteLimitReached {
        /// Invites the event allowed when the request was decided.
        allowed: u64,
    },
    /// SNS refused the message for this invite.
    PublishFailed(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MissingField(field) => write!(f, "missing field ({field})"),
            Reason::InvalidEmail => f.write_str("invalid email"),
            Reason::InvalidUid => f.write_str("invalid uid"),
            Reason::NonAsciiLocalPart => f.write_str(
                "address not deliverable: non-ASCII characters before the @ need SMTPUTF8",
            ),
            Reason::TooLong { field, max_chars } => {
                write!(f, "{field} too long (more than {max_chars} characters)")
            }
            Reason::RowTooLong => write!(
                f,
                "row too long (more than {} KiB or {} columns)",
                crate::attendees::records::MAX_RECORD_BYTES / 1024,
                crate::attendees::records::MAX_FIELDS
            ),
            Reason::Duplicate { first_row } => write!(f, "duplicate of row {}", first_row.line),
            Reason::Blocked => f.write_str("blocked"),
            Reason::UnknownEvent => f.write_str("unknown event"),
            Reason::NotYourEvent => f.write_str("not your event"),
            Reason::InviteLimitReached { allowed } => write!(
                f,
                "invite limit reached: the event allows {allowed} more invite{}",
                if *allowed == 1 { "" } else { "s" }
            ),
            Reason::PublishFailed(code) => write!(f, "publish failed ({code})"),
            Reason::LikelyTypo { meant } => write!(f, "did you mean {meant}?"),
        }
    }
}

impl Reason {
    /// The reason's kind in the words of the summary's "by reason" table. A match over every
    /// variant, so a new reason does not compile without its words.
    pub fn group_label(&self) -> &'static str {
        match self {
            Reason::MissingField(_) => "a uid or email is missing",
            Reason::InvalidEmail => "not a valid email address",
            Reason::InvalidUid => "not a valid uid",
            Reason::NonAsciiLocalPart => "address not deliverable (non-ASCII before the @)",
            Reason::TooLong { .. } => "a value is too long",
            Reason::RowTooLong => "the row is too long",
            Reason::Duplicate { .. } => "the same uid and email on an earlier row",
            Reason::LikelyTypo { .. } => "the address's domain looks misspelt",
            Reason::Blocked => "the attendee blocked invites from you",
            Reason::UnknownEvent => "no event has this uid",
            Reason::NotYourEvent => "the event is not yours",
            Reason::InviteLimitReached { .. } => "the event's invite limit is reached",
            Reason::PublishFailed(_) => "could not be sent",
        }
    }

    /// A short stable name for metrics (`RowsNotSent_<kind>`).
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::MissingField(_) => "missing_field",
            Reason::InvalidEmail => "invalid_email",
            Reason::InvalidUid => "invalid_uid",
            Reason::NonAsciiLocalPart => "non_ascii_local_part",
            Reason::TooLong { .. } => "too_long",
            Reason::RowTooLong => "row_too_long",
            Reason::Duplicate { .. } => "duplicate",
            Reason::LikelyTypo { .. } => "likely_typo",
            Reason::Blocked => "blocked",
            Reason::UnknownEvent => "unknown_event",
            Reason::NotYourEvent => "not_your_event",
            Reason::InviteLimitReached { .. } => "invite_limit",
            Reason::PublishFailed(_) => "publish_failed",
        }
    }
}

/// Where a row is: which list of the request and which line of it.
///
/// Ordered by list, then line: the order rows are read, published and reported in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowPosition {
    /// The list, 0-based, in the order the email carries them.
    pub file: u32,
    /// The line in that list (the header is line 1).
    pub line: u32,
}

/// The ledger stores a position as one number, `file x LEDGER_FILE_BASE + line`, which keeps
/// the order and stays readable in the item. No list has a billion lines: the email would be
/// larger than `MAX_OBJECT_BYTES`.
const LEDGER_FILE_BASE: u64 = 1_000_000_000;

impl RowPosition {
    /// Line `line` of list `file` (counts past `u32::MAX` are held at it).
    pub fn new(file: usize, line: u64) -> Self {
        Self {
            file: u32::try_from(file).unwrap_or(u32::MAX),
            line: u32::try_from(line).unwrap_or(u32::MAX),
        }
    }

    /// The line after this one.
    pub fn next(self) -> Self {
        Self {
            line: self.line.saturating_add(1),
            ..self
        }
    }

    /// The number the ledger item stores.
    pub fn to_ledger(self) -> u64 {
        u64::from(self.file) * LEDGER_FILE_BASE + u64::from(self.line)
    }

    /// Reads back what [`RowPosition::to_ledger`] stored.
    pub fn from_ledger(stored: u64) -> Self {
        Self::new(
            (stored / LEDGER_FILE_BASE) as usize,
            stored % LEDGER_FILE_BASE,
        )
    }
}

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

/// Rows after the first `MAX_ROWS` of a request: counted, never kept or checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OverLimit {
    /// Data rows past the limit.
    pub rows: u64,
    /// The limit (`MAX_ROWS`).
    pub max_rows: usize,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_plain_words() {
        assert_eq!(
            Reason::MissingField("email").to_string(),
            "missing field (email)"
        );
        assert_eq!(
            Reason::Duplicate {
                first_row: RowPosition::new(0, 2)
            }
            .to_string(),
            "duplicate of row 2"
        );
        assert_eq!(Reason::NotYourEvent.to_string(), "not your event");
        assert_eq!(
            Reason::InviteLimitReached { allowed: 3 }.to_string(),
            "invite limit reached: the event allows 3 more invites"
        );
    }
}
