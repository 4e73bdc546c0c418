//! The status email sent back to the organizer: text and HTML, built from a [`crate::report::tally::Report`].

use std::fmt::Write as _;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;

use crate::config::Mailbox;
use crate::domain::{MessageId, RequestRef, SenderEmail};
use crate::report::results::RESULTS_FILE;

/// Subject of every summary, as the original sends it.
pub const SUBJECT: &str = "calendarsnack.com Bulk Invite Status";

/// Subject of a preview's summary.
pub const PREVIEW_SUBJECT: &str = "calendarsnack.com Bulk Invite Preview";

/// Rejected rows listed in the body (about a screenful); past this, every rejected row goes in
/// an attached [`REJECTED_ROWS_FILE`] as well.
pub const MAX_LISTED_ROWS: usize = 25;

/// Events listed one by one; past this the rest are summed in one line, so a list of 100,000
/// distinct unknown uids still makes a short email.
pub const MAX_LISTED_UIDS: usize = 500;

/// Most bytes of [`REJECTED_ROWS_FILE`]: with base64 and both bodies the email stays well under
/// 10 MB (SES takes 40 MB) however many rows were rejected; rows past it are counted in the body.
pub const MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;

/// The attached list of rows not sent: the organizer's columns first, so it can be fixed and
/// sent back as is (the `row` and `reason` columns are ignored on the way back in).
pub const REJECTED_ROWS_FILE: &str = "rejected-rows.csv";

/// What a summary says, before it is rendered: blocks that [`Summary::text`] and
/// [`Summary::html`] each render their own way, so the two bodies cannot say different things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The subject line ([`SUBJECT`], or [`PREVIEW_SUBJECT`]).
    pub subject: &'static str,
    /// The body, in order.
    pub blocks: Vec<Block>,
    /// [`REJECTED_ROWS_FILE`], when there are more rejected rows than the body lists.
    pub rejected_rows_csv: Option<String>,
    /// The Message-ID of the request this answers (`In-Reply-To`, `References`).
    pub in_reply_to: Option<MessageId>,
    /// [`crate::report::results::RESULTS_FILE`], the outcome for programs.
    pub results_json: Option<String>,
}

/// One block of a summary. Every string is plain text (the sender's values included): the
/// HTML renderer escapes all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A paragraph.
    Paragraph(String),
    /// Lines that read on their own (the contract lines `<uid>: <n> invites sent`).
    Lines(Vec<String>),
    /// Rows under a caption. In text each row reads `a, b, c: d`.
    Table {
        /// What the rows are.
        caption: String,
        /// Column names (HTML only: the caption says them in text).
        columns: Vec<&'static str>,
        /// The cells.
        rows: Vec<Vec<String>>,
    },
    /// Text shown as is (an example file).
    Preformatted(String),
    /// One event: its title and start, then its lines (the contract lines).
    Event {
        /// Title and start, when the event was found.
        heading: Option<String>,
        /// `<uid>: <n> invites sent`, `<uid>: <m> not sent.`
        lines: Vec<String>,
    },
}

impl Summary {
    pub(crate) fn new(blocks: Vec<Block>) -> Self {
        Self {
            subject: SUBJECT,
            blocks,
            rejected_rows_csv: None,
            in_reply_to: None,
            results_json: None,
        }
    }

    /// The same summary with `results` attached as [`crate::report::results::RESULTS_FILE`].
    pub fn with_results(mut self, results: String) -> Self {
        self.results_json = Some(results);
        self
    }

    /// The same summary as an answer to `request`: mail clients thread it under the
    /// organizer's message, and a program that sent several lists can tell which it answers.
    pub fn answering(mut self, request: &RequestRef) -> Self {
        self.in_reply_to = request.message_id.clone();
        self
    }

    /// The plain-text body: the blocks, a blank line between them.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (n, block) in self.blocks.iter().enumerate() {
            if n > 0 {
                out.push('\n');
            }
            match block {
                Block::Paragraph(text) => {
                    let _ = writeln!(out, "{text}");
                }
                Block::Lines(lines) => {
                    for line in lines {
                        let _ = writeln!(out, "{line}");
                    }
                }
                Block::Table { caption, rows, .. } => {
                    let _ = writeln!(out, "{caption}:");
                    for row in rows {
                        match row.split_last() {
                            Some((last, [])) => {
                                let _ = writeln!(out, "  {last}");
                            }
                            Some((last, first)) => {
                                let _ = writeln!(out, "  {}: {last}", first.join(", "));
                            }
                            None => {}
                        }
                    }
                }
                Block::Preformatted(text) => {
                    let _ = writeln!(out, "{}", text.trim_end());
                }
                Block::Event { heading, lines } => {
                    for line in heading.iter().chain(lines) {
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
        }
        out
    }

    /// The HTML body: one column that fits a phone, inline styles only (mail clients drop
    /// style sheets), no images or links, every value escaped. Well-formed XHTML, so a test
    /// can parse it.
    pub fn html(&self) -> String {
        const CELL: &str = "border:1px solid #d0d7de;padding:6px 8px;text-align:left;\
                            vertical-align:top;word-break:break-word";
        let mut out = String::from(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\" />\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" /></head>\
             <body style=\"margin:0;padding:16px;background:#ffffff;color:#1f2328;\
             font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;\
             font-size:16px;line-height:1.45\">\n<div style=\"max-width:600px;margin:0 auto\">\n",
        );
        for block in &self.blocks {
            match block {
                Block::Paragraph(text) => {
                    let _ = writeln!(
                        out,
                        "<p style=\"margin:0 0 12px\">{}</p>",
                        escape_html(text)
                    );
                }
                Block::Lines(lines) => {
                    out.push_str("<ul style=\"margin:0 0 12px;padding-left:20px\">\n");
                    for line in lines {
                        let _ = writeln!(out, "<li>{}</li>", escape_html(line));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Event { heading, lines } => {
                    out.push_str(
                        "<div style=\"margin:0 0 12px;padding:8px 12px;border-left:4px solid \
                         #0969da;background:#f6f8fa\">\n",
                    );
                    if let Some(heading) = heading {
                        let _ = writeln!(
                            out,
                            "<div style=\"font-weight:bold\">{}</div>",
                            escape_html(heading)
                        );
                    }
                    for line in lines {
                        let _ = writeln!(out, "<div>{}</div>", escape_html(line));
                    }
                    out.push_str("</div>\n");
                }
                Block::Table {
                    caption,
                    columns,
                    rows,
                } => {
                    let _ = writeln!(
                        out,
                        "<p style=\"margin:16px 0 6px;font-weight:bold\">{}:</p>",
                        escape_html(caption)
                    );
                    out.push_str(
                        "<table style=\"border-collapse:collapse;width:100%;font-size:14px;\
                         margin:0 0 12px\">\n<tr>",
                    );
                    for column in columns {
                        let _ = write!(
                            out,
                            "<th style=\"{CELL};background:#f6f8fa;white-space:nowrap\">{}</th>",
                            escape_html(column)
                        );
                    }
                    out.push_str("</tr>\n");
                    for row in rows {
                        out.push_str("<tr>");
                        for cell in row {
                            let _ = write!(out, "<td style=\"{CELL}\">{}</td>", escape_html(cell));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</table>\n");
                }
                Block::Preformatted(text) => {
                    let _ = writeln!(
                        out,
                        "<pre style=\"margin:0 0 12px;padding:8px;background:#f6f8fa;\
                         overflow-x:auto;font-size:14px\">{}</pre>",
                        escape_html(text.trim_end())
                    );
                }
            }
        }
        out.push_str("</div>\n</body></html>\n");
        out
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the summary as a MIME message (multipart/alternative) for SES `SendEmail` raw content.
pub fn to_mime(summary: &Summary, from: &Mailbox, to: &SenderEmail) -> Vec<u8> {
    let from: Address = match &from.name {
        Some(name) => (name.as_str(), from.address.as_str()).into(),
        None => from.address.as_str().into(),
    };
    let mut message = MessageBuilder::new()
        .from(from)
        .to(to.as_str())
        .subject(summary.subject)
        .text_body(summary.text())
        .html_body(summary.html());
    if let Some(id) = &summary.in_reply_to {
        message = message.in_reply_to(id.as_str()).references(id.as_str());
    }
    if let Some(csv) = &summary.rejected_rows_csv {
        message = message.attachment("text/csv", REJECTED_ROWS_FILE, csv.as_str());
    }
    if let Some(json) = &summary.results_json {
        message = message.attachment("application/json", RESULTS_FILE, json.as_str());
    }
    message
        .write_to_vec()
        .expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attendees::outcome::{FileOutcome, RejectedRow};
    use crate::domain::EventInfo;
    use crate::domain::{Reason, RowPosition};
    use crate::report::sections::*;
    use crate::report::tally::Report;

    fn report() -> Report {
        Report::new(
            ["ev1", "ev1"],
            vec![
                RejectedRow {
                    row: RowPosition::new(0, 4),
                    uid: "ev1".into(),
                    email: "<script>@x".into(),
                    name: "Evil".into(),
                    reason: Reason::InvalidEmail,
                },
                RejectedRow {
                    row: RowPosition::new(0, 5),
                    uid: "ev2".into(),
                    email: "b@example.com".into(),
                    name: "B, Example".into(),
                    reason: Reason::UnknownEvent,
                },
            ],
            Default::default(),
        )
    }

    #[test]
    fn text_lists_each_uid_once_per_outcome() {
        let summary = for_report(&report());
        assert!(
            summary
                .text()
                .contains("ev1: 2 invites sent\nev1: 1 not sent.\n\nev2: 1 not sent.\n")
        );
        assert!(
            !summary.text().contains("ev2: 0 invites sent"),
            "failed uid is not listed as sent"
        );
        assert!(
            summary
                .text()
                .contains("  row 4, ev1, <script>@x: invalid email\n")
        );
        assert!(
            summary
                .text()
                .contains("Total: 2 invites sent, 2 not sent.")
        );
    }

    #[test]
    fn events_show_their_title_and_start_in_their_time_zone() {
        let mut report = report();
        let info = |timezone: Option<&str>| EventInfo {
            title: Some("Team <offsite>".into()),
            starts_at: Some(1_777_626_000), // 2026-05-01 09:00 UTC
            timezone: timezone.map(str::to_string),
        };
        report
            .events
            .insert("ev1".into(), info(Some("Europe/Paris")));
        let summary = for_report(&report);
        assert!(
            summary.text().contains(
                "Team <offsite>, Fri 1 May 2026, 11:00 Europe/Paris\nev1: 2 invites sent\n"
            ),
            "{}",
            summary.text()
        );
        assert!(
            summary
                .html()
                .contains("Team &lt;offsite&gt;, Fri 1 May 2026")
        );
        for zone in [None, Some("Not/AZone")] {
            report.events.insert("ev1".into(), info(zone));
            assert!(
                for_report(&report)
                    .text()
                    .contains("Team <offsite>, Fri 1 May 2026, 09:00 UTC\n")
            );
        }
    }

    /// Row `line` of event `ev`, not sent for `reason`.
    fn not_sent(line: u64, reason: Reason) -> RejectedRow {
        RejectedRow {
            row: RowPosition::new(0, line),
            uid: "ev".into(),
            email: format!("x{line}@example.com"),
            name: String::new(),
            reason,
        }
    }

    #[test]
    fn rows_counted_past_the_kept_ones_are_in_every_count_and_said_to_be_cut() {
        let unlisted = crate::attendees::outcome::Unlisted {
            rows: 70,
            by_kind: [(crate::domain::ReasonKind::Blocked, 70)].into(),
            by_uid: [("ev".to_string(), 70)].into(),
        };
        let invalid = (2..32).map(|line| not_sent(line, Reason::InvalidEmail));
        let report = Report::new(["ev"], invalid.collect(), unlisted);
        assert_eq!(report.not_sent(), 100);
        assert_eq!(report.by_uid["ev"].not_sent, 100);
        let text = for_report(&report).text().replace('\n', " ");
        for line in [
            "70: the attendee blocked invites from you",
            "30: not a valid email address",
            "The first 30 of the 100 rows not sent are in the attached rejected-rows.csv",
            "rows not sent are counted, not kept",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
    }

    #[test]
    fn rejected_rows_are_grouped_by_reason_most_first() {
        let report = Report::new(
            ["ev"],
            vec![
                not_sent(2, Reason::UnknownEvent),
                not_sent(3, Reason::InvalidEmail),
                not_sent(4, Reason::UnknownEvent),
            ],
            Default::default(),
        );
        let text = for_report(&report).text();
        assert!(
            text.contains(
                "Not sent, by reason:\n  2: no event has this uid\n  1: not a valid email address\n"
            ),
            "{text}"
        );
        let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("  row ")).collect();
        assert_eq!(
            listed,
            [
                "  row 2, ev, x2@example.com: unknown event",
                "  row 4, ev, x4@example.com: unknown event",
                "  row 3, ev, x3@example.com: invalid email",
            ]
        );
    }

    /// The HTML parses as XML, its tables are rectangular, and it loads nothing from outside.
    #[test]
    fn html_is_well_formed_self_contained_and_fits_a_phone() {
        use quick_xml::events::Event;
        let mut report = report();
        report.events.insert(
            "ev1".into(),
            EventInfo {
                title: Some("Offsite".into()),
                starts_at: Some(1_777_626_000),
                timezone: None,
            },
        );
        for summary in [
            for_report(&report),
            for_missing_list(&[]),
            for_unfinished(2),
        ] {
            let html = summary.html();
            assert!(html.contains("name=\"viewport\" content=\"width=device-width"));
            assert!(html.contains("max-width:600px"));
            for outside in [
                "src=", "href=", "url(", "<link", "<img", "<script", "<style",
            ] {
                assert!(!html.contains(outside), "{outside} in {html}");
            }
            let mut xml = quick_xml::Reader::from_str(&html);
            let (mut depth, mut cells, mut widths) = (0i32, 0usize, Vec::new());
            loop {
                match xml.read_event().expect("well-formed") {
                    Event::Start(e) => {
                        depth += 1;
                        match e.name().as_ref() {
                            b"tr" => cells = 0,
                            b"td" | b"th" => cells += 1,
                            _ => {}
                        }
                    }
                    Event::End(e) => {
                        depth -= 1;
                        if e.name().as_ref() == b"tr" {
                            widths.push(cells);
                        }
                        if e.name().as_ref() == b"table" {
                            assert!(widths.windows(2).all(|w| w[0] == w[1]), "{widths:?}");
                            widths.clear();
                        }
                    }
                    Event::Eof => break,
                    _ => {}
                }
            }
            assert_eq!(depth, 0, "every element closed");
        }
    }

    #[test]
    fn html_escapes_every_value() {
        let summary = for_report(&report());
        assert!(summary.html().contains(">&lt;script&gt;@x</td>"));
        assert!(!summary.html().contains("<script>"));
    }

    #[test]
    fn text_and_html_say_the_same_things() {
        let mut report = report();
        report.files = vec![
            FileOutcome {
                name: "a.csv".into(),
                rows: 3,
                error: None,
            },
            FileOutcome {
                name: "b<1>.csv".into(),
                rows: 0,
                error: Some("the CSV header has no uid column".into()),
            },
        ];
        for summary in [
            for_report(&report),
            for_missing_list(&[]),
            for_unfinished(3),
        ] {
            let (text, html) = (summary.text(), summary.html());
            let mut said = 0;
            for block in &summary.blocks {
                let strings: Vec<&String> = match block {
                    Block::Paragraph(s) | Block::Preformatted(s) => vec![s],
                    Block::Lines(lines) => lines.iter().collect(),
                    Block::Event { heading, lines } => heading.iter().chain(lines).collect(),
                    Block::Table { caption, rows, .. } => std::iter::once(caption)
                        .chain(rows.iter().flatten())
                        .collect(),
                };
                for s in strings {
                    assert!(text.contains(s.as_str()), "text lacks {s:?}:\n{text}");
                    assert!(html.contains(&escape_html(s)), "html lacks {s:?}:\n{html}");
                    said += 1;
                }
            }
            assert!(said >= 2);
        }
    }

    #[test]
    fn long_rejection_lists_are_cut() {
        let rows = (0..MAX_LISTED_ROWS as u64 + 7)
            .map(|row| RejectedRow {
                row: RowPosition::new(0, row),
                uid: "e".into(),
                email: "x".into(),
                name: String::new(),
                reason: Reason::Blocked,
            })
            .collect();
        let summary = for_report(&Report::new([], rows, Default::default()));
        assert!(summary.text().contains("... and 7 more rows not sent."));
        assert_eq!(summary.text().matches(": blocked").count(), MAX_LISTED_ROWS);
        let csv = summary.rejected_rows_csv.expect("all rows attached");
        assert_eq!(csv.lines().count(), 1 + MAX_LISTED_ROWS + 7);
        assert!(
            csv.starts_with("uid,email,name,row,reason\ne,x,,0,blocked\n"),
            "{csv}"
        );
        assert!(
            for_report(&report()).rejected_rows_csv.is_none(),
            "short lists are not attached"
        );
    }

    #[test]
    fn the_largest_possible_summary_stays_under_ten_megabytes() {
        use crate::attendees::rows::{MAX_EMAIL_CHARS, MAX_NAME_CHARS, MAX_UID_CHARS};
        // Every row rejected with values at their limits (clipped, multibyte, HTML-escaped),
        // each under its own uid, as many as a request keeps, and rows past them counted under
        // as many uids as are counted: the worst a request of any size can ask for.
        use crate::attendees::outcome::{MAX_KEPT_REJECTED, MAX_UNLISTED_UIDS, Unlisted};
        let rows = MAX_KEPT_REJECTED as u64;
        let rejected = (0..rows)
            .map(|row| RejectedRow {
                row: RowPosition::new(0, row + 2),
                uid: format!("{row}{}", "<".repeat(MAX_UID_CHARS)),
                email: "&".repeat(MAX_EMAIL_CHARS + 1),
                name: "é".repeat(MAX_NAME_CHARS + 1),
                reason: Reason::TooLong {
                    field: "name",
                    max_chars: MAX_NAME_CHARS,
                },
            })
            .collect();
        let unlisted = Unlisted {
            rows: 900_000,
            by_kind: [(crate::domain::ReasonKind::InvalidEmail, 900_000)].into(),
            by_uid: (0..MAX_UNLISTED_UIDS)
                .map(|n| (format!("u{n}{}", "<".repeat(MAX_UID_CHARS)), 900))
                .collect(),
        };
        let mut report = Report::new([], rejected, unlisted);
        report.over_limit = crate::attendees::outcome::OverLimit {
            rows: 1_000_000,
            max_rows: 2_000_000,
        };
        let summary = for_report(&report);
        let mime = to_mime(
            &summary,
            &Mailbox::parse("n@calendarsnack.com").unwrap(),
            &SenderEmail::parse("o@example.com").unwrap(),
        );
        eprintln!("worst-case summary: {} bytes", mime.len());
        assert!(mime.len() < 10_000_000, "{} bytes", mime.len());
        assert!(
            summary
                .text()
                .contains("... and 100500 more uids: 0 invites sent, 999500 not sent.")
        );
        assert!(
            summary
                .text()
                .contains("1000000 rows after the first 2000000 were not read")
        );
        assert!(
            summary.text().contains("The first "),
            "the file says it was cut"
        );
        let csv = summary.rejected_rows_csv.unwrap();
        assert!(csv.len() <= MAX_ATTACHMENT_BYTES);
        assert!(csv.lines().count() > 1000);
    }

    #[test]
    fn help_shows_the_expected_format() {
        let summary = for_unusable_lists(
            &crate::attendees::header::ListError::MissingColumns(vec!["uid"]).to_string(),
        );
        assert!(summary.text().contains("the CSV header has no uid column"));
        assert!(
            summary
                .text()
                .contains("uid,email,name\nyour-event-uid,jane@example.com,Jane Doe")
        );
        assert!(
            for_missing_list(&[])
                .html()
                .contains("has no attendee list (no CSV or spreadsheet attached")
        );
        let help = for_missing_list(&[]).text().replace('\n', " ");
        for form in [
            "a CSV file",
            "an .xlsx, .xls or .ods spreadsheet",
            "pasted into the message itself",
            "put the event's uid in the subject",
        ] {
            assert!(help.contains(form), "{form:?} in {help}");
        }
        let found = for_missing_list(&["agenda.pdf (application/pdf)".into()]);
        assert!(
            found
                .text()
                .contains("none pasted in the message), only agenda.pdf (application/pdf)")
        );
    }

    #[test]
    fn mime_has_both_bodies_and_fixed_subject() {
        let from = Mailbox::parse("Calendar Snack <notification@calendarsnack.com>").unwrap();
        let to = SenderEmail::parse("org@example.com").unwrap();
        let raw = to_mime(&for_report(&report()), &from, &to);
        let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(message.subject(), Some(SUBJECT));
        assert_eq!(
            message.to().unwrap().first().unwrap().address(),
            Some("org@example.com")
        );
        assert!(
            message
                .body_text(0)
                .unwrap()
                .contains("ev1: 2 invites sent")
        );
        assert!(
            message
                .body_html(0)
                .unwrap()
                .contains("<div>ev1: 2 invites sent</div>")
        );
    }
}
