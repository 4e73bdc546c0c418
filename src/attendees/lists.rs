//! One way from any list an email carries to rows: the list reader.
//!
//! The email yields [`ListSource`]s (a CSV file's text, a list pasted in the body, a
//! spreadsheet's bytes and kind); [`read`] turns all of a request's sources into one set of rows.
//! It owns what is shared across them: one spreadsheet budget of bytes and time for the request
//! (many small attachments must not multiply it), the delimiter (a spreadsheet's and a pasted
//! list's are known, so only a CSV file's is guessed), the row limit and the one invite per
//! `(uid, email)` across lists, and which lists the summary names. "No list" is a value
//! ([`NoList`]) the request turns into the help email.
//!
//! Invariants: lists are numbered in one order, CSV files and the body first, then each
//! spreadsheet's sheets, each in the order attached; a row's [`crate::domain::RowPosition`]
//! names its list by that number. Reading is CPU work with no I/O; the only clock it reads is
//! the spreadsheet budget's deadline.

use std::time::Instant;

use super::budget::Budget;
use super::header;
use super::outcome::FileOutcome;
use super::rows::{self, Attendees, ListRules};
use super::sheets::{self, SheetError, SheetKind};

/// How the summary names a list pasted into the body.
pub const MESSAGE_BODY: &str = "the message body";

/// A list an email carries, before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSource {
    /// A CSV file, transfer-decoded to text; its delimiter is guessed from its header.
    Csv {
        /// The file name the client gave it, if any.
        name: Option<String>,
        /// The file's text.
        text: String,
    },
    /// A list pasted into the message body, from its header line on.
    Body {
        /// The list's lines.
        text: String,
        /// The delimiter its header line was found with.
        delimiter: u8,
    },
    /// A spreadsheet, undecoded: read within the request's spreadsheet budget.
    Sheet {
        /// The file name the client gave it, if any.
        name: Option<String>,
        /// Its format.
        kind: SheetKind,
        /// The file.
        bytes: Vec<u8>,
    },
}

/// What the lists of a request hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lists {
    /// Every list's rows, numbered by list.
    pub rows: Attendees,
    /// Every list, in order, with its row count or why it was unusable: the summary's first
    /// lines name each.
    pub all: Vec<FileOutcome>,
    /// The lists the summary's table names and its rows are labelled by: all of them when
    /// there is more than one, one failed, or one is not a CSV file (a sheet, the body); none
    /// for a single CSV attachment, whose rows are plain `row N`.
    pub named: Vec<FileOutcome>,
}

/// Why no rows came out of the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoList {
    /// The email carries no list at all.
    NoneFound,
    /// Every list was unusable: why, each named (`guests.xlsx: the spreadsheet is …`).
    NoneUsable(String),
    /// The invocation's time ran out while reading spreadsheets: no fault of the files.
    OutOfTime,
}

/// True when a list may want the event the subject names: a CSV file or pasted list whose
/// header names an email column and no uid column, or a spreadsheet (its header is known only
/// once it is read).
pub fn may_want_subject_event(sources: &[ListSource]) -> bool {
    sources.iter().any(|source| match source {
        ListSource::Csv { text, .. } => {
            header::find_header(text, None, false).is_none()
                && header::find_header(text, None, true).is_some()
        }
        ListSource::Body { text, delimiter } => {
            header::find_header(text, Some(*delimiter), false).is_none()
        }
        ListSource::Sheet { .. } => true,
    })
}

/// Most unusable lists the help email names one by one.
const MAX_NAMED_PROBLEMS: usize = 10;

/// Reads every list of a request into rows. Spreadsheets stop at `until` (the invocation's
/// time for reading) as well as at their own limits.
pub fn read(sources: Vec<ListSource>, rules: &ListRules, until: Instant) -> Result<Lists, NoList> {
    let not_files = sources
        .iter()
        .any(|source| !matches!(source, ListSource::Csv { .. }));
    let mut budget = Budget::new(until);
    let mut texts: Vec<(Option<String>, String, Option<u8>)> = Vec::new();
    let mut sheets_read = Vec::new();
    let mut unreadable = Vec::new();
    for source in sources {
        match source {
            ListSource::Csv { name, text } => texts.push((name, text, None)),
            ListSource::Body { text, delimiter } => {
                texts.push((Some(MESSAGE_BODY.to_string()), text, Some(delimiter)))
            }
            ListSource::Sheet { name, kind, bytes } => {
                let name = name.unwrap_or_else(|| "spreadsheet".to_string());
                let from_subject = rules.event.is_some();
                match sheets::read(&bytes, &name, kind, &mut budget, from_subject) {
                    Ok(read) => sheets_read.extend(
                        read.into_iter()
                            .map(|list| (Some(list.name), list.text, Some(sheets::DELIMITER))),
                    ),
                    Err(SheetError::TooSlow) if budget.cut_by_deadline() => {
                        return Err(NoList::OutOfTime);
                    }
                    Err(err) => unreadable.push(FileOutcome {
                        name,
                        rows: 0,
                        error: Some(err.to_string()),
                    }),
                }
            }
        }
    }
    texts.extend(sheets_read);
    let (rows, mut files) = rows::parse_files(
        texts
            .iter()
            .map(|(name, text, delimiter)| (text.as_str(), name.as_deref(), *delimiter)),
        rules,
    );
    drop(texts);
    files.extend(unreadable);
    if files.is_empty() {
        return Err(NoList::NoneFound);
    }
    if files.iter().all(|file| file.error.is_some()) {
        return Err(NoList::NoneUsable(unusable(&files)));
    }
    let named = if not_files || files.len() > 1 || files.iter().any(|f| f.error.is_some()) {
        files.clone()
    } else {
        Vec::new()
    };
    Ok(Lists {
        rows,
        all: files,
        named,
    })
}

/// Why no list could be used, each named: `guests.xlsx: the spreadsheet is …`.
fn unusable(files: &[FileOutcome]) -> String {
    let mut named: Vec<String> = files
        .iter()
        .filter_map(|file| Some(format!("{}: {}", file.name, file.error.as_ref()?)))
        .collect();
    if named.len() > MAX_NAMED_PROBLEMS {
        let more = named.len() - MAX_NAMED_PROBLEMS;
        named.truncate(MAX_NAMED_PROBLEMS);
        named.push(format!("and {more} more files like them"));
    }
    named.join("; ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::attendees::sheets::tests::minimal_xlsx;

    fn rules() -> ListRules {
        ListRules::with_max_rows(100)
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    fn csv(name: &str, text: &str) -> ListSource {
        ListSource::Csv {
            name: Some(name.into()),
            text: text.into(),
        }
    }

    fn xlsx(name: &str, rows: &[&[&str]]) -> ListSource {
        ListSource::Sheet {
            name: Some(name.into()),
            kind: SheetKind::Xlsx,
            bytes: minimal_xlsx(rows),
        }
    }

    fn emails(lists: &Lists) -> Vec<&str> {
        lists
            .rows
            .candidates
            .iter()
            .map(|c| c.email.as_str())
            .collect()
    }

    #[test]
    fn a_spreadsheet_read_cut_by_the_deadline_is_retried_not_answered() {
        let sheet = ListSource::Sheet {
            name: Some("guests.xlsx".into()),
            kind: SheetKind::Xlsx,
            bytes: b"PK\x03\x04 not read: no time".to_vec(),
        };
        let read = read(vec![sheet], &rules(), Instant::now());
        assert_eq!(read, Err(NoList::OutOfTime));
    }

    #[test]
    fn a_spreadsheet_header_whose_cells_hold_semicolons_is_read() {
        // More semicolons than commas in the header line: a CSV file's guess would split on
        // them; a sheet's cells are already cells.
        let sheet = xlsx(
            "guests.xlsx",
            &[
                &["uid", "email", "notes; diet; access; parking"],
                &["ev1", "ann@example.com", "none; none; none; none"],
            ],
        );
        let lists = read(vec![sheet], &rules(), later()).expect("a list");
        assert_eq!(emails(&lists), ["ann@example.com"]);
        assert_eq!(lists.named[0].name, "guests.xlsx, sheet \"Sheet1\"");
        assert_eq!(lists.named[0].rows, 1);
    }

    #[test]
    fn a_sheet_with_a_title_and_a_note_above_its_header_is_read_with_its_own_row_numbers() {
        let sheet = xlsx(
            "guests.xlsx",
            &[
                &["Team offsite: guests"],
                &["Please keep this list up to date"],
                &[],
                &["uid", "email", "name"],
                &["ev1", "ann@example.com", "Ann"],
                &["ev1", "bo@example", "Bo"],
            ],
        );
        let lists = read(vec![sheet], &rules(), later()).expect("a list");
        assert_eq!(emails(&lists), ["ann@example.com"]);
        assert_eq!(lists.rows.candidates[0].row.line, 5, "the sheet's own row");
        assert_eq!(lists.rows.rejected[0].row.line, 6);
        assert_eq!(
            lists.all[0].rows, 2,
            "rows above the header are not the list's"
        );
    }

    #[test]
    fn a_pasted_list_is_read_with_the_delimiter_it_was_found_with() {
        let body = ListSource::Body {
            text: "uid;email;name\nev1;ann@example.com;Smith, Ann\n".into(),
            delimiter: b';',
        };
        let lists = read(vec![body], &rules(), later()).expect("a list");
        assert_eq!(emails(&lists), ["ann@example.com"]);
        assert_eq!(lists.rows.candidates[0].name.as_str(), "Smith, Ann");
        assert_eq!(lists.named[0].name, MESSAGE_BODY);
    }

    #[test]
    fn lists_are_numbered_files_first_then_sheets_and_named_when_not_one_csv() {
        let one = read(
            vec![csv("a.csv", "uid,email\nev1,ann@example.com\n")],
            &rules(),
            later(),
        )
        .unwrap();
        assert!(
            one.named.is_empty(),
            "a single CSV file needs no list of lists"
        );
        let mixed = read(
            vec![
                xlsx("b.xlsx", &[&["uid", "email"], &["ev1", "bob@example.com"]]),
                csv("a.csv", "uid,email\nev1,ann@example.com\n"),
            ],
            &rules(),
            later(),
        )
        .unwrap();
        assert_eq!(emails(&mixed), ["ann@example.com", "bob@example.com"]);
        let files: Vec<u32> = mixed.rows.candidates.iter().map(|c| c.row.file).collect();
        assert_eq!(files, [0, 1]);
        let names: Vec<&str> = mixed.named.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.csv", "b.xlsx, sheet \"Sheet1\""]);
    }

    #[test]
    fn no_list_and_no_usable_list_are_told_apart_and_each_unusable_one_named() {
        assert_eq!(read(Vec::new(), &rules(), later()), Err(NoList::NoneFound));
        let bad = read(
            vec![
                csv("a.csv", "name,phone\nAnn,1\n"),
                ListSource::Sheet {
                    name: Some("old.xlsb".into()),
                    kind: SheetKind::Xlsb,
                    bytes: Vec::new(),
                },
            ],
            &rules(),
            later(),
        );
        let Err(NoList::NoneUsable(why)) = bad else {
            panic!("{bad:?}")
        };
        assert!(why.starts_with("a.csv: "), "{why}");
        assert!(why.contains("; old.xlsb: "), "{why}");
        let many: Vec<ListSource> = (0..12).map(|i| csv(&format!("{i}.csv"), "x\n")).collect();
        let Err(NoList::NoneUsable(why)) = read(many, &rules(), later()) else {
            panic!()
        };
        assert!(why.ends_with("and 2 more files like them"), "{why}");
    }
}
