//! A list's rows: reading them (after [`crate::attendees::header`] has found the columns) and
//! applying the per-row rules.
//!
//! Memory follows the limits, not the input: a row to invite is 72 bytes and its address
//! (every row of a 40 MiB email fits), rows past an operator's `MAX_ROWS` are counted and never
//! kept, cells longer than their column's limit are rejected, a rejected row keeps its values
//! clipped to those limits, rows not sent past the first
//! [`crate::attendees::outcome::MAX_KEPT_REJECTED`] are only counted, and the uid and domain
//! caches stop growing at 10,000 entries (`MAX_CACHED`). Row records themselves are bounded by
//! [`crate::attendees::records`].

use std::hash::BuildHasher;

use foldhash::HashMap;
use hashbrown::hash_table::{Entry, HashTable};

use crate::attendees::cells::{clip, strip_formula_guard, without_controls};
use crate::attendees::header::{Columns, ListError, detect_delimiter, find_header};
use crate::attendees::outcome::{FileOutcome, OverLimit, RejectedRow, Unlisted};
use crate::attendees::records::{LineCounter, Record, Records};
use crate::attendees::typos;
use crate::domain::{AttendeeEmail, AttendeeName, EventUid, InvalidUid};
use crate::domain::{Reason, RowPosition};

/// Longest email address, in characters (RFC 5321's path limit less its brackets).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest uid, in characters: iCalendar uids in practice stay well below, and `event#<uid>`
/// must fit a DynamoDB key.
pub const MAX_UID_CHARS: usize = 256;
/// Longest attendee name, in characters: the invite shows it in a greeting.
pub const MAX_NAME_CHARS: usize = 256;

/// A row that passed every check that needs no lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Where the row is.
    pub row: RowPosition,
    /// Event to invite to.
    pub uid: EventUid,
    /// Attendee address.
    pub email: AttendeeEmail,
    /// The address as the row wrote it, trimmed, when that differs from `email` (in case, or
    /// a Unicode domain): a block record may carry it as the original function published it.
    pub written: Option<Box<str>>,
    /// Attendee name.
    pub name: AttendeeName,
}

impl Candidate {
    /// This row, not sent for `reason`.
    pub fn rejected(&self, reason: Reason) -> RejectedRow {
        RejectedRow {
            row: self.row,
            uid: self.uid.to_string(),
            email: self.email.to_string(),
            name: self.name.to_string(),
            reason,
        }
    }
}

/// The rows of a request's lists, split into candidates and rows already rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attendees {
    /// Valid, distinct `(uid, email)` rows in file order.
    pub candidates: Vec<Candidate>,
    /// Rows rejected by the row rules, in file order: the first
    /// [`crate::attendees::outcome::MAX_KEPT_REJECTED`].
    pub rejected: Vec<RejectedRow>,
    /// Rows rejected past those: counted.
    pub unlisted: Unlisted,
    /// Rows past `MAX_ROWS`: counted only.
    pub over_limit: OverLimit,
}

/// What the row rules may be told by the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRules {
    /// Data rows read per request (`MAX_ROWS`); later rows are counted, not checked.
    pub max_rows: usize,
    /// Reject addresses whose domain looks misspelt (`TYPO_CHECK`, on unless `off`).
    pub typo_check: bool,
    /// The event the request's subject names: a list with an email column and no uid column
    /// is for it. `None`: every list needs a uid column.
    pub event: Option<EventUid>,
}

impl ListRules {
    /// Every rule on, at most `max_rows` rows.
    pub fn with_max_rows(max_rows: usize) -> Self {
        Self {
            max_rows,
            typo_check: true,
            event: None,
        }
    }
}

/// Reads every list of a request as text (name, and delimiter when the source knows it): rows
/// of list `k` are at `RowPosition { file: k, .. }`, `max_rows` counts across the lists, and a
/// `(uid, email)` pair is sent once across them. A list that cannot be used is reported in its
/// [`FileOutcome`]; the others still count. [`crate::attendees::lists::read`] is the way in.
pub fn parse_files<'a>(
    files: impl IntoIterator<Item = (&'a str, Option<&'a str>, Option<u8>)>,
    rules: &ListRules,
) -> (Attendees, Vec<FileOutcome>) {
    let max_rows = rules.max_rows;
    let mut all = Attendees::default();
    let mut outcomes = Vec::new();
    let mut rows_read = 0;
    for (index, (text, name, delimiter)) in files.into_iter().enumerate() {
        let name = name.map_or_else(|| format!("attachment {}", index + 1), str::to_string);
        let left = ListRules {
            max_rows: max_rows.saturating_sub(rows_read),
            ..rules.clone()
        };
        match parse_file(text, delimiter, index, &left) {
            Ok(file) => {
                let rows = file.candidates.len()
                    + file.rejected.len()
                    + file.unlisted.rows as usize
                    + file.over_limit.rows as usize;
                rows_read += rows;
                // The first file's lists are taken whole: copying a large list costs time and,
                // for a moment, twice the memory.
                let over_limit = all.over_limit.rows + file.over_limit.rows;
                if all.candidates.is_empty() && all.rejected.is_empty() {
                    all = file;
                } else {
                    all.candidates.extend(file.candidates);
                    for row in file.rejected {
                        all.unlisted.keep_or_count(&mut all.rejected, row);
                    }
                    all.unlisted.absorb(file.unlisted);
                }
                all.over_limit = OverLimit {
                    rows: over_limit,
                    max_rows,
                };
                outcomes.push(FileOutcome {
                    name,
                    rows,
                    error: None,
                });
            }
            Err(err) => outcomes.push(FileOutcome {
                name,
                rows: 0,
                error: Some(err.to_string()),
            }),
        }
    }
    drop_duplicates(&mut all);
    (all, outcomes)
}

fn parse_file(
    text: &str,
    delimiter: Option<u8>,
    file_index: usize,
    rules: &ListRules,
) -> Result<Attendees, ListError> {
    let max_rows = rules.max_rows;
    // The header may sit below a title or a report's lines; without one, the first line is
    // taken as the header, and its error is the list's.
    let from_subject = rules.event.is_some();
    let (header_at, delimiter) = find_header(text, delimiter, from_subject)
        .unwrap_or_else(|| (0, delimiter.unwrap_or_else(|| detect_delimiter(text))));
    let mut records = Records::new(&text[header_at..], delimiter);
    let columns = match records.next_record() {
        Some((_, header)) if !header.fits() => return Err(ListError::HeaderTooLong),
        Some((_, header)) if !header.is_blank() => Columns::find(&header, from_subject)?,
        _ => return Err(ListError::Empty),
    };

    // One candidate per line at most: reserving that up front spares a large list the copies
    // of growing by doubling.
    let lines_in_file = memchr::memchr_iter(b'\n', text.as_bytes()).count();
    let mut attendees = Attendees {
        candidates: Vec::with_capacity(lines_in_file.min(max_rows)),
        rejected: Vec::new(),
        unlisted: Unlisted::default(),
        over_limit: OverLimit { rows: 0, max_rows },
    };
    let mut uids = UidInterner::default();
    let mut typos = TypoCache::default();
    // The parser skips blank lines; the organizer's editor does not, so row numbers come from
    // counting line ends up to each record's first byte.
    let mut lines = LineCounter::new(text);
    let mut data_rows = 0usize;
    while let Some((start, record)) = records.next_record() {
        let row = RowPosition::new(file_index, lines.line_at(header_at + start));
        if record.fits() && record.is_blank() {
            continue;
        }
        data_rows += 1;
        if data_rows > max_rows {
            attendees.over_limit.rows += 1;
            continue;
        }
        if !record.fits() {
            let too_long = RejectedRow {
                row,
                uid: String::new(),
                email: String::new(),
                name: String::new(),
                reason: Reason::RowTooLong,
            };
            attendees
                .unlisted
                .keep_or_count(&mut attendees.rejected, too_long);
            continue;
        }
        let outcome = check_row(row, &record, &columns, &mut uids, &mut typos, rules);
        match outcome {
            Ok(candidate) => attendees.candidates.push(candidate),
            Err(reason) => {
                let rejected = rejected(row, &record, &columns, rules.event.as_ref(), reason);
                attendees
                    .unlisted
                    .keep_or_count(&mut attendees.rejected, rejected)
            }
        }
    }
    Ok(attendees)
}

fn pair(candidate: &Candidate) -> (&str, &str) {
    (candidate.uid.as_str(), candidate.email.as_str())
}

/// Keeps the first row of each `(uid, email)` pair and reports the later ones as duplicates.
fn drop_duplicates(attendees: &mut Attendees) {
    // A table of candidate indexes rather than a map of string keys: a word per entry keeps a
    // 100,000-row request's table small enough to stay in cache.
    let candidates = &attendees.candidates;
    let hasher = foldhash::fast::RandomState::default();
    let hash = |index: &usize| hasher.hash_one(pair(&candidates[*index]));
    let mut first_seen: HashTable<usize> = HashTable::with_capacity(candidates.len());
    let mut duplicates: Vec<(usize, RowPosition)> = Vec::new();
    for (index, candidate) in candidates.iter().enumerate() {
        let same_pair = |seen: &usize| pair(&candidates[*seen]) == pair(candidate);
        match first_seen.entry(hash(&index), same_pair, hash) {
            Entry::Occupied(seen) => duplicates.push((index, candidates[*seen.get()].row)),
            Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
    }
    drop(first_seen);
    if duplicates.is_empty() {
        return;
    }
    let mut next = duplicates.iter().peekable();
    let mut index = 0;
    let (rejected, unlisted) = (&mut attendees.rejected, &mut attendees.unlisted);
    attendees.candidates.retain(|candidate| {
        let keep = match next.peek() {
            Some(&&(at, first_row)) if at == index => {
                next.next();
                unlisted.keep_or_count(
                    rejected,
                    candidate.rejected(Reason::Duplicate { first_row }),
                );
                false
            }
            _ => true,
        };
        index += 1;
        keep
    });
    rejected.sort_by_key(|row| row.row);
}

/// Most distinct domains, and distinct uids, a list's caches remember: a list shares a few of
/// each; one built to have a new one on every row is answered without growing the caches.
const MAX_CACHED: usize = 10_000;

/// Remembers what [`typos::likely_meant`] said of each domain: a list's addresses share a few
/// domains, and asking once per domain keeps the check off the per-row cost.
#[derive(Default)]
struct TypoCache {
    seen: HashMap<String, Option<String>>,
    /// The answer for a domain past [`MAX_CACHED`], not remembered.
    uncached: Option<String>,
}

impl TypoCache {
    fn likely_meant(&mut self, domain: &str) -> Option<&str> {
        if !self.seen.contains_key(domain) {
            let meant = typos::likely_meant(domain);
            if self.seen.len() >= MAX_CACHED {
                self.uncached = meant;
                return self.uncached.as_deref();
            }
            self.seen.insert(domain.to_string(), meant);
        }
        self.seen.get(domain).and_then(|meant| meant.as_deref())
    }
}

/// Hands out one shared [`EventUid`] per distinct uid text, so parsing and normalizing a uid
/// happens once per event, not once per row.
#[derive(Default)]
struct UidInterner {
    seen: HashMap<String, EventUid>,
}

impl UidInterner {
    fn get(&mut self, raw: &str) -> Result<EventUid, InvalidUid> {
        if let Some(uid) = self.seen.get(raw) {
            return Ok(uid.clone());
        }
        let uid = EventUid::parse(raw)?;
        if self.seen.len() < MAX_CACHED {
            self.seen.insert(raw.to_string(), uid.clone());
        }
        Ok(uid)
    }
}

fn check_row(
    row: RowPosition,
    record: &Record<'_>,
    columns: &Columns,
    uids: &mut UidInterner,
    typos: &mut TypoCache,
    rules: &ListRules,
) -> Result<Candidate, Reason> {
    // A cell sent back from rejected-rows.csv may carry its formula guard; it is not data.
    let cell = |at: usize| record.get(at).map(strip_formula_guard);
    let field = |at: usize| cell(at).filter(|value| !value.is_empty());
    let raw_uid = match columns.uid {
        Some(at) => field(at).ok_or(Reason::MissingField("uid"))?,
        None => rules.event.as_ref().map_or("", EventUid::as_str),
    };
    let raw_email = field(columns.email).ok_or(Reason::MissingField("email"))?;
    let raw_name = columns.name(record);
    let raw_name = raw_name.as_ref();
    for (field, value, max_chars) in [
        ("uid", raw_uid, MAX_UID_CHARS),
        ("email", raw_email, MAX_EMAIL_CHARS),
        ("name", raw_name, MAX_NAME_CHARS),
    ] {
        if longer_than(value, max_chars) {
            return Err(Reason::TooLong { field, max_chars });
        }
    }
    let uid = uids.get(raw_uid).map_err(|err| match err {
        InvalidUid::Empty => Reason::MissingField("uid"),
        InvalidUid::TooLong | InvalidUid::ControlCharacter => Reason::InvalidUid,
    })?;
    if crate::domain::address::has_non_ascii_local_part(raw_email) {
        return Err(Reason::NonAsciiLocalPart);
    }
    let email = AttendeeEmail::parse(raw_email).map_err(|_| Reason::InvalidEmail)?;
    if rules.typo_check
        && let Some(domain) = typos.likely_meant(email.domain())
    {
        return Err(Reason::LikelyTypo {
            meant: format!("{}@{domain}", email.local_part()),
        });
    }
    let name = AttendeeName::parse(raw_name);
    let trimmed = raw_email.trim();
    Ok(Candidate {
        row,
        uid,
        written: (trimmed != email.as_str()).then(|| trimmed.into()),
        email,
        name,
    })
}

/// True when `text` has more than `max_chars` characters (bytes first: the common case is
/// decided without counting).
fn longer_than(text: &str, max_chars: usize) -> bool {
    text.len() > max_chars && text.chars().nth(max_chars).is_some()
}

fn rejected(
    row: RowPosition,
    record: &Record<'_>,
    columns: &Columns,
    event: Option<&EventUid>,
    reason: Reason,
) -> RejectedRow {
    // What the summary and rejected-rows.csv show: no control characters, no guard, clipped.
    let value = |at: usize, max_chars| {
        let cell = strip_formula_guard(record.get(at).unwrap_or(""));
        clip(&without_controls(cell), max_chars)
    };
    RejectedRow {
        row,
        uid: match columns.uid {
            Some(at) => value(at, MAX_UID_CHARS).to_lowercase(),
            None => event.map_or_else(String::new, |uid| uid.to_string()),
        },
        email: value(columns.email, MAX_EMAIL_CHARS),
        name: clip(&without_controls(&columns.name(record)), MAX_NAME_CHARS),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caches_stop_growing_at_their_bound_and_still_answer() {
        let mut uids = UidInterner::default();
        let mut typos = TypoCache::default();
        for i in 0..MAX_CACHED + 100 {
            uids.get(&format!("ev{i}")).unwrap();
            typos.likely_meant(&format!("d{i}.example.com"));
        }
        assert_eq!(
            (uids.seen.len(), typos.seen.len()),
            (MAX_CACHED, MAX_CACHED)
        );
        assert_eq!(uids.get("ev-new").unwrap().as_str(), "ev-new");
        assert_eq!(typos.likely_meant("gmial.com"), Some("gmail.com"));
    }

    /// A row held for publishing costs its position, three boxed strings and a shared uid: 72
    /// bytes, plus the address's and the name's bytes (none for the default name).
    #[test]
    fn a_candidate_is_72_bytes_before_its_strings() {
        assert_eq!(std::mem::size_of::<Candidate>(), 72);
        let row = parse_file(
            "uid,email\nev,a@example.com\n",
            None,
            0,
            &ListRules::with_max_rows(9),
        )
        .unwrap()
        .candidates
        .remove(0);
        assert_eq!(row.name.as_str(), "customer");
    }

    fn parse(text: &str) -> Result<Attendees, ListError> {
        parse_limited(text, usize::MAX)
    }

    /// One CSV file with every rule on, at most `max_rows` rows.
    fn parse_limited(text: &str, max_rows: usize) -> Result<Attendees, ListError> {
        let mut attendees = parse_file(text, None, 0, &ListRules::with_max_rows(max_rows))?;
        drop_duplicates(&mut attendees);
        Ok(attendees)
    }

    #[test]
    fn first_and_last_name_columns_make_the_name() {
        let got = parse(
            "Email,UID,First Name,Last Name\n\
             a@example.com,ev1,Ann,Lee\n\
             b@example.com,ev1,Bob,\n\
             c@example.com,ev1,,Cho\n\
             d@example.com,ev1,,\n",
        )
        .unwrap();
        let names: Vec<&str> = got.candidates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["Ann Lee", "Bob", "Cho", "customer"],
            "no name at all: the default"
        );
        let got = parse("uid,email,given_name,SURNAME\nev1,a@example.com,Ann,Lee\n").unwrap();
        assert_eq!(got.candidates[0].name.as_str(), "Ann Lee");
        // A name column wins over split ones.
        let got = parse("uid,email,name,first name\nev1,a@example.com,Full,First\n").unwrap();
        assert_eq!(got.candidates[0].name.as_str(), "Full");
    }

    #[test]
    fn misspelt_domains_are_rejected_with_a_suggestion_unless_turned_off() {
        let text = "uid,email\nev1,ann@gmial.com\nev1,bob@hotmial.com\nev1,cy@yahoo.con\n\
                    ev1,dee@mail.com\n";
        let got = parse(text).unwrap();
        assert_eq!(
            reasons(&got),
            [
                (
                    2,
                    Reason::LikelyTypo {
                        meant: "ann@gmail.com".into()
                    }
                ),
                (
                    3,
                    Reason::LikelyTypo {
                        meant: "bob@hotmail.com".into()
                    }
                ),
                (
                    4,
                    Reason::LikelyTypo {
                        meant: "cy@yahoo.com".into()
                    }
                ),
            ]
        );
        assert_eq!(
            got.rejected[0].reason.to_string(),
            "did you mean ann@gmail.com?"
        );
        assert_eq!(
            got.candidates.len(),
            1,
            "mail.com is a provider, not a typo"
        );
        let off = ListRules {
            max_rows: usize::MAX,
            typo_check: false,
            event: None,
        };
        let (got, _) = parse_files([(text, None, None)], &off);
        assert_eq!(got.candidates.len(), 4);
        assert!(got.rejected.is_empty());
    }

    #[test]
    fn several_files_keep_one_order_and_one_invite_per_pair() {
        let (rows, files) = parse_files(
            [
                (
                    "uid,email\nev1,a@example.com\nev1,b@example.com\n",
                    Some("one.csv"),
                    None,
                ),
                ("name,address\nX,x@example.com\n", Some("broken.csv"), None),
                (
                    "email;uid\nb@example.com;ev1\nc@example.com;ev1\n",
                    None,
                    None,
                ),
            ],
            &ListRules::with_max_rows(usize::MAX),
        );
        let invited: Vec<_> = rows
            .candidates
            .iter()
            .map(|c| ((c.row.file, c.row.line), c.email.as_str()))
            .collect();
        assert_eq!(
            invited,
            [
                ((0, 2), "a@example.com"),
                ((0, 3), "b@example.com"),
                ((2, 3), "c@example.com")
            ]
        );
        let duplicate = &rows.rejected[0];
        assert_eq!(
            (duplicate.row, &duplicate.reason),
            (
                RowPosition::new(2, 2),
                &Reason::Duplicate {
                    first_row: RowPosition::new(0, 3)
                }
            )
        );
        assert_eq!(rows.rejected.len(), 1);
        assert_eq!(
            files,
            [
                FileOutcome {
                    name: "one.csv".into(),
                    rows: 2,
                    error: None
                },
                FileOutcome {
                    name: "broken.csv".into(),
                    rows: 0,
                    error: Some("the CSV header has no uid or email column".into())
                },
                FileOutcome {
                    name: "attachment 3".into(),
                    rows: 2,
                    error: None
                },
            ]
        );
    }

    #[test]
    fn rows_over_the_limit_are_counted_not_kept() {
        let got = parse_limited(
            "uid,email
ev1,a@example.com
ev1,b@example.com

ev1,bad
",
            1,
        )
        .unwrap();
        assert_eq!(got.candidates.len(), 1);
        assert!(got.rejected.is_empty(), "nothing past the limit is kept");
        assert_eq!(
            got.over_limit,
            OverLimit {
                rows: 2,
                max_rows: 1
            }
        );
    }

    #[test]
    fn cells_over_their_limits_are_rejected_and_kept_clipped() {
        let long_name = "n".repeat(MAX_NAME_CHARS + 1);
        let long_uid = "u".repeat(MAX_UID_CHARS + 1);
        let long_email = format!("{}@example.com", "a".repeat(MAX_EMAIL_CHARS));
        let text = format!(
            "uid,email,name\nev1,ok@example.com,{}\nev1,a@example.com,{long_name}\n\
             {long_uid},b@example.com,\nev1,{long_email},\n",
            "é".repeat(MAX_NAME_CHARS)
        );
        let got = parse(&text).unwrap();
        assert_eq!(got.candidates.len(), 1, "exactly at the limit is fine");
        assert_eq!(
            reasons(&got),
            [
                (
                    3,
                    Reason::TooLong {
                        field: "name",
                        max_chars: MAX_NAME_CHARS
                    }
                ),
                (
                    4,
                    Reason::TooLong {
                        field: "uid",
                        max_chars: MAX_UID_CHARS
                    }
                ),
                (
                    5,
                    Reason::TooLong {
                        field: "email",
                        max_chars: MAX_EMAIL_CHARS
                    }
                ),
            ]
        );
        assert_eq!(got.rejected[0].name.chars().count(), MAX_NAME_CHARS + 1);
        assert!(got.rejected[0].name.ends_with('…'));
        assert!(got.rejected[1].uid.chars().count() <= MAX_UID_CHARS + 1);
    }

    #[test]
    fn a_giant_row_is_rejected_without_being_kept() {
        let giant = "x".repeat(crate::attendees::records::MAX_RECORD_BYTES + 10);
        let text = format!("uid,email,name\nev1,a@example.com,\"{giant}\"\nev1,b@example.com,\n");
        let got = parse(&text).unwrap();
        assert_eq!(got.candidates.len(), 1);
        assert_eq!(reasons(&got), [(2, Reason::RowTooLong)]);
        assert!(got.rejected[0].name.is_empty());
    }

    /// Rejected rows of a one-list request, by line.
    fn reasons(attendees: &Attendees) -> Vec<(u32, Reason)> {
        attendees
            .rejected
            .iter()
            .map(|r| (r.row.line, r.reason.clone()))
            .collect()
    }

    #[test]
    fn valid_rows_become_candidates() {
        let got =
            parse("uid,email,name\nEV1, Ann@Example.com ,Ann\nev1,bob@example.com,\n").unwrap();
        assert_eq!(got.rejected, vec![]);
        let summary: Vec<_> = got
            .candidates
            .iter()
            .map(|c| {
                (
                    c.row.line,
                    c.uid.as_str(),
                    c.email.as_str(),
                    c.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (2, "ev1", "ann@example.com", "Ann"),
                (3, "ev1", "bob@example.com", "customer"),
            ]
        );
    }

    #[test]
    fn quoted_fields_keep_their_commas() {
        let got = parse("uid,email,name\nev1,jane@example.com,\"Smith, Jane\"\n").unwrap();
        assert_eq!(got.candidates[0].name.as_str(), "Smith, Jane");
    }

    #[test]
    fn columns_in_any_order_with_extras_and_odd_case() {
        let got = parse(" Name ,Phone,EMAIL, UID \nAnn,555,ann@example.com,ev9\n").unwrap();
        let c = &got.candidates[0];
        assert_eq!(
            (c.uid.as_str(), c.email.as_str(), c.name.as_str()),
            ("ev9", "ann@example.com", "Ann")
        );
    }

    #[test]
    fn semicolon_and_tab_files_are_read() {
        for text in [
            "uid;E-mail;Name\nev1;ann@example.com;\"Smith; Ann\"\n",
            "UID\tEmail Address\tName\nev1\tann@example.com\tSmith; Ann\n",
            "\"uid\",\"e-mail address\",\"name\"\nev1,ann@example.com,\"Smith; Ann\"\n",
        ] {
            let got = parse(text).unwrap();
            assert_eq!(got.candidates.len(), 1, "{text:?}");
            assert_eq!(got.candidates[0].email.as_str(), "ann@example.com");
            assert_eq!(got.candidates[0].name.as_str(), "Smith; Ann", "{text:?}");
        }
    }

    #[test]
    fn delimiter_is_the_most_frequent_outside_quotes() {
        assert_eq!(detect_delimiter("a,b,c\n"), b',');
        assert_eq!(detect_delimiter("a;b;c\n"), b';');
        assert_eq!(detect_delimiter("\"x,y,z\";b;c\n"), b';');
        assert_eq!(detect_delimiter("a\tb\n"), b'\t');
        assert_eq!(detect_delimiter("\n\nuid;email\n"), b';');
        assert_eq!(detect_delimiter("single\n"), b',');
    }

    #[test]
    fn name_column_is_optional() {
        let got = parse("email,uid\nann@example.com,ev1\n").unwrap();
        assert_eq!(got.candidates[0].name.as_str(), "customer");
    }

    #[test]
    fn lone_cr_line_ends_number_rows_like_an_editor() {
        // Classic Mac exports end lines with a bare CR; the csv reader splits on it too.
        let got = parse("uid,email\rev1,a@example.com\r\rev1,b@example.com\rbad\r").unwrap();
        let rows: Vec<u32> = got.candidates.iter().map(|c| c.row.line).collect();
        assert_eq!(rows, [2, 4]);
        assert_eq!(got.rejected.len(), 1);
        assert_eq!(got.rejected[0].row.line, 5);
    }

    #[test]
    fn crlf_and_blank_lines_are_handled() {
        let got =
            parse("uid,email,name\r\n\r\nev1,a@example.com,A\r\n,,\r\n\r\nev1,b@example.com,B\r\n")
                .unwrap();
        assert_eq!(got.candidates.len(), 2);
        assert_eq!(got.candidates[1].row.line, 6);
        assert!(got.rejected.is_empty());
    }

    #[test]
    fn every_bad_row_gets_a_reason() {
        let text = "uid,email,name\n\
                    ev1,not-an-email,A\n\
                    ,b@example.com,B\n\
                    ev1,,C\n\
                    ev1\n\
                    ev1,d@example.com,D\n\
                    EV1,D@example.com,D again\n";
        let got = parse(text).unwrap();
        assert_eq!(
            reasons(&got),
            vec![
                (2, Reason::InvalidEmail),
                (3, Reason::MissingField("uid")),
                (4, Reason::MissingField("email")),
                (5, Reason::MissingField("email")),
                (
                    7,
                    Reason::Duplicate {
                        first_row: RowPosition::new(0, 6)
                    }
                ),
            ]
        );
        assert_eq!(got.candidates.len(), 1);
        assert_eq!(got.rejected[0].email, "not-an-email");
        assert_eq!(got.rejected[4].uid, "ev1");
    }

    #[test]
    fn missing_columns_are_named() {
        assert_eq!(
            parse("name,address\nA,a@example.com\n"),
            Err(ListError::MissingColumns(vec!["uid", "email"]))
        );
        assert_eq!(
            parse("uid,name\nev1,A\n"),
            Err(ListError::MissingColumns(vec!["email"]))
        );
        assert_eq!(
            ListError::MissingColumns(vec!["uid", "email"]).to_string(),
            "the CSV header has no uid or email column"
        );
    }

    #[test]
    fn a_header_below_title_lines_is_found_and_rows_keep_their_numbers() {
        let text = "Guest list, exported 2026-12-01\nSales team; confidential\n\n\
                    uid;email;name\nev1;ann@example.com;Ann\nev1;bad;Bo\n";
        let got = parse(text).unwrap();
        assert_eq!(got.candidates.len(), 1);
        assert_eq!(got.candidates[0].row.line, 5, "the line in the file");
        assert_eq!(reasons(&got), [(6, Reason::InvalidEmail)]);
    }

    #[test]
    fn a_header_past_twenty_lines_of_other_text_is_not_looked_for() {
        let mut text: String = (1..=20).map(|i| format!("note {i}\n")).collect();
        text.push_str("uid,email\nev1,ann@example.com\n");
        assert_eq!(
            parse(&text),
            Err(ListError::MissingColumns(vec!["uid", "email"]))
        );
        let mut near: String = (1..=19).map(|i| format!("note {i}\n")).collect();
        near.push_str("uid,email\nev1,ann@example.com\n");
        assert_eq!(parse(&near).unwrap().candidates[0].row.line, 21);
    }

    #[test]
    fn a_list_without_a_uid_column_is_for_the_subjects_event() {
        let text = "Email,Name\nann@example.com,Ann\nbad,Bo\n";
        assert_eq!(parse(text), Err(ListError::MissingColumns(vec!["uid"])));
        let rules = ListRules {
            event: Some(EventUid::parse("team-offsite-2026").unwrap()),
            ..ListRules::with_max_rows(100)
        };
        let (got, files) = parse_files([(text, None, None)], &rules);
        assert_eq!(files[0].error, None);
        assert_eq!(got.candidates[0].uid.as_str(), "team-offsite-2026");
        assert_eq!(
            got.rejected[0].uid, "team-offsite-2026",
            "the summary names its event"
        );
        assert_eq!(reasons(&got), [(3, Reason::InvalidEmail)]);
    }

    #[test]
    fn empty_file_is_an_error() {
        assert_eq!(parse(""), Err(ListError::Empty));
        assert_eq!(parse("\n\n"), Err(ListError::Empty));
        let wide = format!(
            "uid,email,{}\nev,a@example.com\n",
            vec!["x"; 1_100].join(",")
        );
        assert_eq!(parse(&wide), Err(ListError::HeaderTooLong));
    }

    #[test]
    fn header_only_has_no_rows() {
        let got = parse("uid,email,name\n").unwrap();
        assert!(got.candidates.is_empty() && got.rejected.is_empty());
        assert_eq!(got.over_limit.rows, 0);
    }
}
