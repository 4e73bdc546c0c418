//! `results.json`: the outcome of a request for the program that sent it, attached to every
//! summary (previews and the help included). Its shape is documented in docs/organizers.md
//! ("Results for programs") and versioned: a field is only ever added within a version.
//!
//! Invariant: the file stays under [`MAX_RESULTS_BYTES`] whatever the request: events past
//! [`MAX_EVENTS`] and rows not sent past the byte budget are left out, and the file says so
//! (`truncated`, with the totals still whole).

use serde::Serialize;

use crate::domain::{EventInfo, RequestRef};
use crate::report::tally::Report;

/// The file's name, as attached.
pub const RESULTS_FILE: &str = "results.json";
/// The schema's name.
pub const SCHEMA: &str = "calendarsnack.com/bulk-invites/results";
/// The schema's version.
pub const VERSION: u32 = 1;
/// Most bytes of the file: base64 in the summary, beside the bodies and `rejected-rows.csv`,
/// the email stays under 10 MB.
pub const MAX_RESULTS_BYTES: usize = 2 * 1024 * 1024;
/// Most events listed one by one.
pub const MAX_EVENTS: usize = 5_000;

#[derive(Serialize)]
struct Results<'a> {
    schema: &'static str,
    version: u32,
    /// `processed`, `previewed` or `no_list`.
    outcome: &'static str,
    request: Request<'a>,
    totals: Totals,
    /// Why no list could be used (`no_list` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'a str>,
    lists: Vec<List<'a>>,
    events: Vec<Event<'a>>,
    rows_not_sent: Vec<Row<'a>>,
    truncated: bool,
}

#[derive(Serialize)]
struct Request<'a> {
    subject: Option<&'a str>,
    message_id: Option<&'a str>,
    preview: bool,
}

#[derive(Serialize, Default)]
struct Totals {
    rows: usize,
    sent: usize,
    not_sent: usize,
    /// Rows past the request's row limit, counted and not read (part of `not_sent`).
    over_limit: u64,
    events: usize,
}

#[derive(Serialize)]
struct List<'a> {
    name: &'a str,
    rows: usize,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct Event<'a> {
    uid: &'a str,
    title: Option<&'a str>,
    /// RFC 3339, UTC.
    start: Option<String>,
    time_zone: Option<&'a str>,
    sent: usize,
    not_sent: usize,
}

#[derive(Serialize)]
struct Row<'a> {
    list: Option<&'a str>,
    row: u32,
    uid: &'a str,
    email: &'a str,
    reason: &'static str,
    detail: String,
}

fn request_of(request: &RequestRef, preview: bool) -> Request<'_> {
    Request {
        subject: request.subject.as_deref(),
        message_id: request.message_id.as_ref().map(|id| id.as_str()),
        preview,
    }
}

fn start_of(info: &EventInfo) -> Option<String> {
    let at = jiff::Timestamp::from_second(info.starts_at?).ok()?;
    Some(at.to_string())
}

/// The results of a processed request (or a preview).
pub fn for_report(report: &Report) -> String {
    let events = report
        .by_uid
        .iter()
        .take(MAX_EVENTS)
        .map(|(uid, tally)| {
            let info = report.events.get(uid);
            Event {
                uid,
                title: info.and_then(|i| i.title.as_deref()),
                start: info.and_then(start_of),
                time_zone: info.and_then(|i| i.timezone.as_deref()),
                sent: tally.sent,
                not_sent: tally.not_sent,
            }
        })
        .collect();
    let mut results = Results {
        schema: SCHEMA,
        version: VERSION,
        outcome: if report.preview {
            "previewed"
        } else {
            "processed"
        },
        request: request_of(&report.request, report.preview),
        totals: Totals {
            rows: report.sent() + report.not_sent(),
            sent: report.sent(),
            not_sent: report.not_sent(),
            over_limit: report.over_limit.rows,
            events: report.by_uid.len(),
        },
        problem: None,
        lists: lists_of(report),
        events,
        rows_not_sent: Vec::new(),
        truncated: report.by_uid.len() > MAX_EVENTS || report.unlisted.rows > 0,
    };
    let mut budget = MAX_RESULTS_BYTES.saturating_sub(json(&results).len() + 64);
    for row in &report.rejected {
        let entry = Row {
            list: report
                .lists
                .get(row.row.file as usize)
                .map(|l| l.name.as_str()),
            row: row.row.line,
            uid: &row.uid,
            email: &row.email,
            reason: row.reason.kind().code(),
            detail: report.reason_label(&row.reason),
        };
        let size = json(&entry).len() + 1;
        if size > budget {
            results.truncated = true;
            break;
        }
        budget -= size;
        results.rows_not_sent.push(entry);
    }
    json(&results)
}

/// The results of a request with no usable list: why, and the lists it had.
pub fn for_no_list(request: &RequestRef, preview: bool, problem: &str) -> String {
    json(&Results {
        schema: SCHEMA,
        version: VERSION,
        outcome: "no_list",
        request: request_of(request, preview),
        totals: Totals::default(),
        problem: Some(problem),
        lists: Vec::new(),
        events: Vec::new(),
        rows_not_sent: Vec::new(),
        truncated: false,
    })
}

fn lists_of(report: &Report) -> Vec<List<'_>> {
    report
        .lists
        .iter()
        .map(|list| List {
            name: &list.name,
            rows: list.rows,
            error: list.error.as_deref(),
        })
        .collect()
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("plain data always serializes")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::attendees::outcome::{FileOutcome, RejectedRow};
    use crate::domain::{Reason, RowPosition};

    fn report(rejected: usize) -> Report {
        let rows = (0..rejected)
            .map(|i| RejectedRow {
                row: RowPosition::new(0, i as u64 + 3),
                uid: "ev1".into(),
                email: format!("bad{i}@@example.com"),
                name: String::new(),
                reason: Reason::InvalidEmail,
            })
            .collect();
        let mut report = Report::new(["ev1", "ev1"], rows, Default::default());
        report.lists = vec![FileOutcome {
            name: "guests.csv".into(),
            rows: 2 + rejected,
            error: None,
        }];
        report.request = RequestRef::new(Some("Guests"), Some("<id-1@example.com>"));
        report.events.insert(
            "ev1".into(),
            EventInfo {
                title: Some("Offsite".into()),
                starts_at: Some(1_767_225_600),
                timezone: Some("Europe/Paris".into()),
            },
        );
        report
    }

    #[test]
    fn events_and_rows_not_sent_read_as_documented() {
        let got: Value = serde_json::from_str(&for_report(&report(1))).unwrap();
        assert_eq!(got["schema"], SCHEMA);
        assert_eq!(got["version"], 1);
        assert_eq!(got["outcome"], "processed");
        assert_eq!(got["request"]["message_id"], "id-1@example.com");
        assert_eq!(got["request"]["subject"], "Guests");
        assert_eq!(got["totals"]["sent"], 2);
        assert_eq!(got["totals"]["not_sent"], 1);
        let event = &got["events"][0];
        assert_eq!(event["uid"], "ev1");
        assert_eq!(event["title"], "Offsite");
        assert_eq!(event["start"], "2026-01-01T00:00:00Z");
        assert_eq!(
            (event["sent"].clone(), event["not_sent"].clone()),
            (2.into(), 1.into())
        );
        let row = &got["rows_not_sent"][0];
        assert_eq!(row["list"], "guests.csv");
        assert_eq!(row["row"], 3);
        assert_eq!(row["email"], "bad0@@example.com");
        assert_eq!(row["reason"], "invalid_email");
        assert_eq!(row["detail"], "invalid email");
        assert_eq!(got["truncated"], false);
    }

    #[test]
    fn the_file_stays_bounded_and_says_when_it_left_rows_out() {
        let text = for_report(&report(100_000));
        assert!(text.len() <= MAX_RESULTS_BYTES, "{} bytes", text.len());
        let got: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(got["truncated"], true);
        assert_eq!(got["totals"]["not_sent"], 100_000, "the totals stay whole");
        let listed = got["rows_not_sent"].as_array().unwrap().len();
        assert!(listed > 1_000 && listed < 100_000, "{listed}");
    }

    #[test]
    fn no_list_says_why() {
        let request = RequestRef::new(Some("Guests"), None);
        let got: Value = serde_json::from_str(&for_no_list(
            &request,
            false,
            "a.csv: the CSV file is empty",
        ))
        .unwrap();
        assert_eq!(got["outcome"], "no_list");
        assert_eq!(got["problem"], "a.csv: the CSV file is empty");
        assert_eq!(got["request"]["message_id"], Value::Null);
    }
}
