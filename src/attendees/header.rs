//! A list's header: which columns hold the uid, the email and the name, and (for a CSV file,
//! whose delimiter nobody states) which delimiter the header line uses.
//!
//! Column names are read trimmed, unquoted and case-insensitively, with the names spreadsheets
//! and address books use (`E-mail Address`, `First Name` and `Last Name`, ...).

use std::borrow::Cow;

use crate::attendees::cells::strip_formula_guard;
use crate::attendees::records::Record;

/// The header the organizer must send; shown in summaries that report a format problem.
pub const EXPECTED_HEADER: &str = "uid,email,name";

/// Why a list as a whole cannot be used. Its words name a CSV file, the source that nearly
/// always reaches them: a sheet or a pasted list is taken for a list only when its header
/// names the columns. Reported to the organizer, never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// The file is empty or has no header row.
    #[error("the CSV file is empty")]
    Empty,
    /// The header row is over the record limits, so its columns cannot be told.
    #[error(
        "the header row is too long (more than {} KiB or {} columns): keep only the uid, email and name columns",
        crate::attendees::records::MAX_RECORD_BYTES / 1024,
        crate::attendees::records::MAX_FIELDS
    )]
    HeaderTooLong,
    /// The header lacks required columns.
    #[error("the CSV header has no {} column", .0.join(" or "))]
    MissingColumns(Vec<&'static str>),
}

pub(super) struct Columns {
    /// `None`: the list has no uid column, and every row is for the subject's event.
    pub(super) uid: Option<usize>,
    pub(super) email: usize,
    name: NameColumns,
}

/// Where the attendee's name is: one `name` column, or first and last names in two (address
/// books and CRM exports split them).
enum NameColumns {
    None,
    One(usize),
    Split {
        first: Option<usize>,
        last: Option<usize>,
    },
}

/// The delimiter of the header line: comma, semicolon (Excel in much of Europe) or tab,
/// whichever occurs most outside quotes; comma on a tie.
pub fn detect_delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in header.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delimiters = [b',', b';', b'\t'];
    let best = (0..3).fold(0, |best, i| if counts[i] > counts[best] { i } else { best });
    delimiters[best]
}

/// The column a header names, read trimmed, unquoted and case-insensitively, with the names
/// spreadsheets and address books use for the email column.
fn column_name(header: &str) -> String {
    let name = header.trim().trim_matches('"').trim().to_lowercase();
    match name.as_str() {
        "e-mail" | "email address" | "e-mail address" | "email_address" => "email".to_string(),
        "first name" | "first_name" | "firstname" | "given name" | "given_name" | "givenname" => {
            "first name".to_string()
        }
        "last name" | "last_name" | "lastname" | "surname" | "family name" | "family_name"
        | "familyname" => "last name".to_string(),
        _ => name,
    }
}

/// How many non-empty lines at the top of a list may come before its header (a title, a note,
/// a report's lines above the table).
pub const MAX_LINES_ABOVE_HEADER: usize = 20;

/// Where a list's header is: the first of its first [`MAX_LINES_ABOVE_HEADER`] non-empty lines
/// that names a uid and an email column, as its byte offset and delimiter. Lines above it are
/// not the list's; rows below keep their own line numbers. `None` when no such line is there.
///
/// With `uid_from_subject` (the subject names the list's event), a line naming an email column
/// is enough.
pub fn find_header(text: &str, known: Option<u8>, uid_from_subject: bool) -> Option<(usize, u8)> {
    let mut offset = 0;
    let mut seen = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim();
        // A spreadsheet's empty row reads as a line of delimiters: not a line of the list.
        if !content.trim_matches([',', ';', '\t', '"', ' ']).is_empty() {
            if let Some(delimiter) = names_columns(content, known, uid_from_subject) {
                return Some((offset, delimiter));
            }
            seen += 1;
            if seen >= MAX_LINES_ABOVE_HEADER {
                return None;
            }
        }
        offset += line.len();
    }
    None
}

/// The delimiter of `line` when it is a list's header (it names an email column, and a uid
/// column unless `uid_from_subject`: the subject names the list's event), as the row rules
/// read headers; `None` for any other line. `known` is the delimiter when the source already
/// knows it (a spreadsheet's cells); else it is guessed from the line.
pub fn names_columns(line: &str, known: Option<u8>, uid_from_subject: bool) -> Option<u8> {
    let delimiter = known.unwrap_or_else(|| detect_delimiter(line));
    let names: Vec<String> = line.split(delimiter as char).map(column_name).collect();
    let has = |wanted: &str| names.iter().any(|name| name == wanted);
    (has("email") && (uid_from_subject || has("uid"))).then_some(delimiter)
}

impl Columns {
    /// The columns `header` names. Without a uid column the list is refused, unless
    /// `uid_from_subject`: then every row is for the subject's event.
    pub(super) fn find(header: &Record<'_>, uid_from_subject: bool) -> Result<Self, ListError> {
        let names: Vec<String> = header.iter().map(column_name).collect();
        let position = |wanted: &str| names.iter().position(|name| name == wanted);
        let (uid, email) = (position("uid"), position("email"));
        let name = match (
            position("name"),
            position("first name"),
            position("last name"),
        ) {
            (Some(at), ..) => NameColumns::One(at),
            (None, None, None) => NameColumns::None,
            (None, first, last) => NameColumns::Split { first, last },
        };
        match (uid, email) {
            (uid, Some(email)) if uid.is_some() || uid_from_subject => {
                Ok(Self { uid, email, name })
            }
            _ => {
                let missing = [("uid", uid), ("email", email)]
                    .into_iter()
                    .filter(|(_, at)| at.is_none())
                    .map(|(column, _)| column)
                    .collect();
                Err(ListError::MissingColumns(missing))
            }
        }
    }
}

impl Columns {
    /// The attendee's name on `record`: the `name` cell, or the first and last names joined by
    /// a space (either may be missing). A formula guard from rejected-rows.csv is not data.
    pub(super) fn name<'r>(&self, record: &'r Record<'_>) -> Cow<'r, str> {
        let cell = |at: usize| record.get(at).map(strip_formula_guard).unwrap_or("");
        match self.name {
            NameColumns::None => Cow::Borrowed(""),
            NameColumns::One(at) => Cow::Borrowed(cell(at)),
            NameColumns::Split { first, last } => {
                let parts = [first, last].map(|at| at.map_or("", |at| cell(at).trim()));
                match parts {
                    [first, ""] => Cow::Borrowed(first),
                    ["", last] => Cow::Borrowed(last),
                    [first, last] => Cow::Owned(format!("{first} {last}")),
                }
            }
        }
    }
}
