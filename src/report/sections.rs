//! What the organizer is told, section by section: the summary of a processed request (one
//! function per section), the help for an email without a usable list, and the last word of a
//! request that goes to the dead-letter queue. [`super::summary`] renders them.

use crate::attendees::header::EXPECTED_HEADER;
use crate::attendees::outcome::RejectedRow;
use crate::domain::{EventInfo, ReasonKind};
use crate::report::results;
use crate::report::summary::{
    Block, MAX_ATTACHMENT_BYTES, MAX_LISTED_ROWS, MAX_LISTED_UIDS, PREVIEW_SUBJECT,
    REJECTED_ROWS_FILE, SUBJECT, Summary,
};
use crate::report::tally::Report;

/// Summary of a processed request, section by section: the opening, per event the invites
/// sent and the rows not sent, the totals, the rows over the limit, the lists read, the rows
/// not sent by reason, and the file of every row not sent.
pub fn for_report(report: &Report) -> Summary {
    let words = Words::of(report);
    let mut blocks = vec![opening(report)];
    blocks.extend(naming(report));
    blocks.extend(per_event(report, &words));
    blocks.push(totals(report, &words));
    blocks.extend(over_limit(report));
    blocks.extend(lists(report));
    blocks.extend(by_reason(report));
    let (attachment, about_it) = rejected_rows(report);
    blocks.extend(about_it);
    Summary {
        subject: if report.preview {
            PREVIEW_SUBJECT
        } else {
            SUBJECT
        },
        blocks,
        rejected_rows_csv: attachment,
        in_reply_to: report.request.message_id.clone(),
        results_json: Some(results::for_report(report)),
    }
}

/// How counts are worded: a preview says what would happen; only a real send has the
/// contract's lines.
struct Words {
    sent: &'static str,
    not_sent: &'static str,
}

impl Words {
    fn of(report: &Report) -> Self {
        if report.preview {
            Self {
                sent: "invites would be sent",
                not_sent: "would not be sent.",
            }
        } else {
            Self {
                sent: "invites sent",
                not_sent: "not sent.",
            }
        }
    }
}

fn opening(report: &Report) -> Block {
    Block::Paragraph(if report.preview {
        "Preview: nothing was sent. This is what your list would do; send it again without \
         \"preview\" in the subject to invite these attendees."
            .into()
    } else {
        "Your bulk invite request has been processed.".into()
    })
}

/// Most lists the first lines name one by one.
const MAX_NAMED_LISTS: usize = 10;

/// Which request this answers: its subject, and each list with its rows (or why it was not
/// read), so an organizer who sent several can tell them apart.
fn naming(report: &Report) -> Option<Block> {
    let mut lines = Vec::new();
    if let Some(subject) = &report.request.subject {
        lines.push(format!("Your request: \u{201c}{subject}\u{201d}"));
    }
    if !report.lists.is_empty() {
        let mut named: Vec<String> = report
            .lists
            .iter()
            .take(MAX_NAMED_LISTS)
            .map(|list| {
                let name = crate::attendees::cells::without_controls(&list.name);
                match &list.error {
                    None if list.rows == 1 => format!("{name} (1 row)"),
                    None => format!("{name} ({} rows)", list.rows),
                    Some(_) => format!("{name} (not read)"),
                }
            })
            .collect();
        if report.lists.len() > MAX_NAMED_LISTS {
            named.push(format!("and {} more", report.lists.len() - MAX_NAMED_LISTS));
        }
        let label = if report.lists.len() == 1 {
            "List"
        } else {
            "Lists"
        };
        lines.push(format!("{label}: {}", named.join(", ")));
    }
    (!lines.is_empty()).then_some(Block::Lines(lines))
}

/// Per event (uid), its heading and its lines; past [`MAX_LISTED_UIDS`] the rest in one line.
fn per_event(report: &Report, words: &Words) -> Vec<Block> {
    let (sent, not_sent) = (words.sent, words.not_sent);
    let mut blocks = Vec::new();
    for (uid, tally) in report.by_uid.iter().take(MAX_LISTED_UIDS) {
        let label = uid_label(uid);
        let mut lines = Vec::new();
        if tally.sent > 0 {
            lines.push(format!("{label}: {} {sent}", tally.sent));
        }
        if tally.not_sent > 0 {
            lines.push(format!("{label}: {} {not_sent}", tally.not_sent));
        }
        let heading = report.events.get(uid).and_then(event_heading);
        blocks.push(Block::Event { heading, lines });
    }
    if report.by_uid.len() > MAX_LISTED_UIDS {
        let rest = report.by_uid.values().skip(MAX_LISTED_UIDS);
        let (count, sent_n, not_sent_n) = rest.fold((0, 0, 0), |(c, s, n), t| {
            (c + 1, s + t.sent, n + t.not_sent)
        });
        blocks.push(Block::Lines(vec![format!(
            "... and {count} more uids: {sent_n} {sent}, {not_sent_n} {not_sent}"
        )]));
    }
    blocks
}

fn totals(report: &Report, words: &Words) -> Block {
    Block::Paragraph(format!(
        "Total: {} {}, {} {}",
        report.sent(),
        words.sent,
        report.not_sent(),
        words.not_sent
    ))
}

fn over_limit(report: &Report) -> Option<Block> {
    let over = report.over_limit;
    (over.rows > 0).then(|| {
        Block::Paragraph(format!(
            "{} rows after the first {} were not read: one request carries at most {} rows. \
             Send them in another email.",
            over.rows, over.max_rows, over.max_rows
        ))
    })
}

/// The lists read, each with its rows or why it was unusable (when the plan names them).
fn lists(report: &Report) -> Option<Block> {
    if report.files.is_empty() {
        return None;
    }
    let rows = report
        .files
        .iter()
        .map(|file| {
            let state = file
                .error
                .clone()
                .unwrap_or_else(|| format!("{} rows", file.rows));
            // A file name is the sender's text too: no line breaks from it.
            let name = crate::attendees::cells::without_controls(&file.name);
            vec![name.into_owned(), state]
        })
        .collect();
    Some(Block::Table {
        caption: "Files".into(),
        columns: vec!["File", "Rows"],
        rows,
    })
}

/// Reasons by how many rows they stopped, most first; then the first [`MAX_LISTED_ROWS`] rows
/// in that order.
fn by_reason(report: &Report) -> Vec<Block> {
    if report.rejected.is_empty() && report.unlisted.rows == 0 {
        return Vec::new();
    }
    let mut counts: Vec<(ReasonKind, usize)> = Vec::new();
    let kept = report.rejected.iter().map(|row| (row.reason.kind(), 1));
    let counted = (report.unlisted.by_kind.iter()).map(|(kind, n)| (*kind, *n as usize));
    for (kind, rows) in kept.chain(counted) {
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += rows,
            None => counts.push((kind, rows)),
        }
    }
    counts.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let group = |row: &&RejectedRow| counts.iter().position(|(k, _)| *k == row.reason.kind());
    let mut listed: Vec<&RejectedRow> = report.rejected.iter().collect();
    listed.sort_by_key(|row| (group(row), row.row));
    let rows = listed
        .into_iter()
        .take(MAX_LISTED_ROWS)
        .map(|row| {
            vec![
                report.row_label(row.row),
                uid_label(&row.uid).to_string(),
                row.email.clone(),
                report.reason_label(&row.reason),
            ]
        })
        .collect();
    vec![
        Block::Table {
            caption: "Not sent, by reason".into(),
            columns: vec!["Rows", "Reason"],
            rows: counts
                .iter()
                .map(|(kind, n)| vec![n.to_string(), kind.label().to_string()])
                .collect(),
        },
        Block::Table {
            caption: "Rows not sent, by reason (row number in your file, uid, email: reason)"
                .into(),
            columns: vec!["Row", "uid", "email", "Reason"],
            rows,
        },
    ]
}

/// Past [`MAX_LISTED_ROWS`], every row not sent (as many as fit) in [`REJECTED_ROWS_FILE`],
/// and the lines that say so.
fn rejected_rows(report: &Report) -> (Option<String>, Vec<Block>) {
    let all = report.rejected.len() + report.unlisted.rows as usize;
    let unlisted = all.saturating_sub(MAX_LISTED_ROWS);
    if unlisted == 0 {
        return (None, Vec::new());
    }
    let (csv, in_file) = rejected_rows_file(report, MAX_ATTACHMENT_BYTES);
    let where_ = if in_file == all {
        format!("All {all} rows not sent are in the attached {REJECTED_ROWS_FILE}")
    } else {
        format!(
            "The first {in_file} of the {all} rows not sent are in the attached \
             {REJECTED_ROWS_FILE} (the file is kept under 4 MB; past the first {}, rows not \
             sent are counted, not kept)",
            crate::attendees::outcome::MAX_KEPT_REJECTED
        )
    };
    let blocks = vec![
        Block::Paragraph(format!("... and {unlisted} more rows not sent.")),
        Block::Paragraph(format!("{where_}: fix them and send the file back as is.")),
    ];
    (Some(csv), blocks)
}

/// The rejected rows as CSV (`uid,email,name,row,reason`, and `file` when the request had
/// several files, `row` then being the line in that file), as many as fit in `max_bytes`, and
/// how many that is.
fn rejected_rows_file(report: &Report, max_bytes: usize) -> (String, usize) {
    let several = report.files.len() > 1;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["uid", "email", "name", "row", "reason"];
    if several {
        header.push("file");
    }
    let _ = writer.write_record(&header);
    let mut written = 0;
    for row in &report.rejected {
        // Every cell the organizer (or an attacker) wrote is formula-guarded: the file is meant
        // to be opened in a spreadsheet.
        let guard = |cell: &str| crate::attendees::cells::guard_formula(cell).into_owned();
        let mut record = vec![
            guard(&row.uid),
            guard(&row.email),
            guard(&row.name),
            row.row.line.to_string(),
            guard(&report.reason_label(&row.reason)),
        ];
        if several {
            let file = report.files.get(row.row.file as usize);
            record.push(guard(&file.map(|f| f.name.clone()).unwrap_or_default()));
        }
        // A row is at most a few KiB (values are clipped), so checking before each keeps the
        // file within a row of the limit.
        if writer.get_ref().len() + record.iter().map(|v| v.len() + 3).sum::<usize>() > max_bytes {
            break;
        }
        let _ = writer.write_record(&record);
        let _ = writer.flush();
        written += 1;
    }
    let bytes = writer.into_inner().unwrap_or_default();
    (String::from_utf8(bytes).unwrap_or_default(), written)
}

fn format_help(problem: &str) -> Summary {
    Summary::new(vec![
        Block::Paragraph(format!(
            "Your bulk invite request could not be processed: {problem}."
        )),
        Block::Paragraph(
            "Send the list in any of these forms: a CSV file (comma, semicolon or tab \
             separated), an .xlsx, .xls or .ods spreadsheet (every sheet with a header is read), or \
             pasted into the message itself. Its header row, which may sit below a title or a \
             note (within the first 20 lines), is"
                .into(),
        ),
        Block::Preformatted(EXPECTED_HEADER.into()),
        Block::Paragraph("and one attendee per line, for example:".into()),
        Block::Preformatted(format!(
            "{EXPECTED_HEADER}\nyour-event-uid,jane@example.com,Jane Doe"
        )),
        Block::Paragraph(
            "uid is the event's uid, email the attendee's address; name is optional.".into(),
        ),
        Block::Paragraph(
            "Or, for a list of one event, leave out the uid column (a contacts export of email \
             and name will do) and put the event's uid in the subject, for example \
             \"Invites for your-event-uid\"."
                .into(),
        ),
    ])
}

/// The help for an email that carries no list (no CSV or spreadsheet attached, none pasted),
/// naming what it did carry.
pub fn for_missing_list(found: &[String]) -> Summary {
    if found.is_empty() {
        format_help(NO_LIST)
    } else {
        format_help(&format!("{NO_LIST}, only {}", found.join(", ")))
    }
}

/// What the help says of an email with no list.
pub const NO_LIST: &str =
    "the email has no attendee list (no CSV or spreadsheet attached, none pasted in the message)";

/// The help for lists none of which can be used, each named with its problem.
pub fn for_unusable_lists(problems: &str) -> Summary {
    format_help(problems)
}

/// The last word when a request ends in the dead-letter queue: it could not be finished, how
/// many invites went out, and that the operators have it (they redrive it once the cause is
/// fixed, and the ledger makes sure nothing already sent is sent again).
pub fn for_unfinished(sent_so_far: u64) -> Summary {
    let invites = if sent_so_far == 1 {
        "invite"
    } else {
        "invites"
    };
    Summary::new(vec![
        Block::Paragraph(
            "Your bulk invite request could not be finished because of a problem on our side."
                .into(),
        ),
        Block::Paragraph(format!(
            "{sent_so_far} {invites} went out so far. Our operators have been alerted and will \
             complete the request once the problem is fixed; nobody will be invited twice. \
             You do not need to send the list again."
        )),
    ])
}

/// An event's title and start, as the organizer knows it: `Team offsite, Fri 1 May 2026,
/// 09:00 Europe/Paris` (in the event's time zone when the item names one, else UTC).
fn event_heading(info: &EventInfo) -> Option<String> {
    let when = info.starts_at.and_then(|seconds| {
        let at = jiff::Timestamp::from_second(seconds).ok()?;
        let zone = info
            .timezone
            .as_deref()
            .and_then(|name| Some((jiff::tz::TimeZone::get(name).ok()?, name)));
        let (zone, name) = zone.unwrap_or((jiff::tz::TimeZone::UTC, "UTC"));
        Some(format!(
            "{} {name}",
            at.to_zoned(zone).strftime("%a %-d %b %Y, %H:%M")
        ))
    });
    let title = info
        .title
        .as_deref()
        .map(|title| crate::attendees::cells::without_controls(title).into_owned());
    match (title, when) {
        (Some(title), Some(when)) => Some(format!("{title}, {when}")),
        (title, when) => title.or(when),
    }
}

fn uid_label(uid: &str) -> &str {
    if uid.is_empty() { "(no uid)" } else { uid }
}
