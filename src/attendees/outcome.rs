//! What became of a list's rows that were not sent, and of each list: the rows the summary
//! shows, the rows past the request's limit, and each list's count or reason it was unusable.

use crate::domain::{Reason, RowPosition};

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
