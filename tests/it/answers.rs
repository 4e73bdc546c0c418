//! What people and programs get back (issue 19): a summary that answers its request.

use mail_parser::MimeHeaders;

use crate::common::*;

/// `raw` with a `Message-ID` header given by the organizer's mail client.
fn with_message_id(raw: Vec<u8>, id: &str) -> Vec<u8> {
    let text = String::from_utf8(raw).expect("a test email is text");
    text.replacen("Subject:", &format!("Message-ID: <{id}>\r\nSubject:"), 1)
        .into_bytes()
}

#[tokio::test]
async fn a_summary_threads_under_its_request_and_names_it() {
    let f = Fixture::new("answers-thread").await;
    f.seed_event("thread-event", &f.sender).await;
    let csv = b"uid,email\nthread-event,ann@example.com\nthread-event,ben@example.com\n";
    let raw = with_message_id(email_with_csv(&f.sender, csv), "CAB-42.7@mail.example.com");

    let response = f.run_email(raw).await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(f.published().len(), 2);
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    let summary = &emails[0];
    assert_eq!(
        summary.in_reply_to().as_text(),
        Some("CAB-42.7@mail.example.com"),
        "In-Reply-To names the request"
    );
    assert_eq!(
        summary.references().as_text(),
        Some("CAB-42.7@mail.example.com"),
        "References names the request"
    );
    assert_eq!(
        summary.subject(),
        Some("calendarsnack.com Bulk Invite Status"),
        "the subject stays the contract's"
    );
    let (text, html) = bodies(summary);
    assert!(
        text.contains("Your request: \u{201c}invites\u{201d}"),
        "{text}"
    );
    assert!(text.contains("List: attendees.csv (2 rows)"), "{text}");
    assert!(html.contains("attendees.csv (2 rows)"), "{html}");
}

#[tokio::test]
async fn a_request_without_a_usable_message_id_is_answered_unthreaded() {
    let f = Fixture::new("answers-no-id").await;
    f.seed_event("no-id-event", &f.sender).await;
    let csv = b"uid,email\nno-id-event,ann@example.com\n";
    let raw = with_message_id(email_with_csv(&f.sender, csv), "two words@example.com");

    let response = f.run_email(raw).await;

    assert!(failed_ids(&response).is_empty());
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].in_reply_to().as_text(), None);
    assert_eq!(emails[0].references().as_text(), None);
}

/// The `results.json` attached to a summary, parsed.
fn results_of(summary: &mail_parser::Message<'_>) -> serde_json::Value {
    let file = summary
        .attachments()
        .find(|part| part.attachment_name() == Some("results.json"))
        .expect("every summary carries results.json");
    serde_json::from_slice(file.contents()).expect("results.json is JSON")
}

#[tokio::test]
async fn a_program_reads_what_was_sent_and_each_row_not_sent_from_results_json() {
    let f = Fixture::new("answers-results").await;
    f.seed_event("results-event", &f.sender).await;
    // As a registration system would send it through the SES API: a bare MIME message.
    let csv = b"uid,email\nresults-event,ann@example.com\nresults-event,not-an-address\n\
                results-event,ben@example.com\n";
    let raw = with_message_id(
        email_with_csv(&f.sender, csv),
        "batch-7@registrations.example.com",
    );

    let response = f.run_email(raw).await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(f.published().len(), 2);
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    let results = results_of(&emails[0]);
    assert_eq!(results["version"], 1);
    assert_eq!(results["outcome"], "processed");
    assert_eq!(
        results["request"]["message_id"],
        "batch-7@registrations.example.com"
    );
    assert_eq!(results["request"]["subject"], "invites");
    let event = &results["events"][0];
    assert_eq!(event["uid"], "results-event");
    assert_eq!(event["sent"], 2);
    assert_eq!(event["not_sent"], 1);
    let rows = results["rows_not_sent"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["row"], 3, "the row number the summary shows");
    assert_eq!(rows[0]["email"], "not-an-address");
    assert_eq!(rows[0]["reason"], "invalid_email");
    assert_eq!(rows[0]["list"], "attendees.csv");
    assert_eq!(results["totals"]["sent"], 2);
    assert_eq!(results["totals"]["not_sent"], 1);
    assert_eq!(results["truncated"], false);
}

#[tokio::test]
async fn a_preview_and_the_help_carry_results_json_too() {
    let f = Fixture::new("answers-preview").await;
    f.seed_event("preview-results", &f.sender).await;
    let preview = email_with_attachment(
        &ses_headers(&f.sender),
        &f.sender,
        "preview: guests",
        "guests.csv",
        "text/csv",
        b"uid,email\npreview-results,ann@example.com\n",
    );
    let no_list = email_with_attachment(
        &ses_headers(&f.sender),
        &f.sender,
        "guests",
        "agenda.pdf",
        "application/pdf",
        b"%PDF-1.4",
    );

    f.run_email(preview).await;
    f.run_email(no_list).await;

    assert!(f.published().is_empty(), "a preview publishes nothing");
    let emails = f.emails();
    assert_eq!(emails.len(), 2);
    let outcomes: Vec<serde_json::Value> = emails.iter().map(results_of).collect();
    let previewed = outcomes
        .iter()
        .find(|r| r["outcome"] == "previewed")
        .expect("the preview's");
    assert_eq!(previewed["events"][0]["sent"], 1, "what would be sent");
    assert_eq!(previewed["request"]["preview"], true);
    let help = outcomes
        .iter()
        .find(|r| r["outcome"] == "no_list")
        .expect("the help's");
    assert!(
        help["problem"]
            .as_str()
            .unwrap()
            .contains("no attendee list"),
        "{help}"
    );
}

#[tokio::test]
async fn a_sheet_with_title_rows_above_its_header_is_read_with_its_own_row_numbers() {
    let f = Fixture::new("answers-titled").await;
    f.seed_event("titled-event", &f.sender).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "Team offsite: guests").unwrap();
    sheet
        .write_string(1, 0, "Exported from the registration desk")
        .unwrap();
    for (column, header) in ["uid", "email", "name"].iter().enumerate() {
        sheet.write_string(3, column as u16, *header).unwrap();
    }
    for (row, email) in [(4, "ann@example.com"), (5, "not-an-address")] {
        sheet.write_string(row, 0, "titled-event").unwrap();
        sheet.write_string(row, 1, email).unwrap();
    }
    let xlsx = book.save_to_buffer().unwrap();
    let raw = email_with_attachment(
        &ses_headers(&f.sender),
        &f.sender,
        "guests",
        "guests.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &xlsx,
    );

    let response = f.run_email(raw).await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(
        invited(&f.published()),
        [("titled-event".to_string(), "ann@example.com".to_string())]
    );
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    let results = results_of(&emails[0]);
    let rows = results["rows_not_sent"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["row"], 6, "the sheet's own row number");
    assert_eq!(rows[0]["list"], "guests.xlsx, sheet \"Sheet1\"");
    let (text, _) = bodies(&emails[0]);
    assert!(
        text.contains("guests.xlsx, sheet \"Sheet1\", row 6"),
        "{text}"
    );
}

fn contacts_export(f: &Fixture, subject: &str) -> Vec<u8> {
    email_with_attachment(
        &ses_headers(&f.sender),
        &f.sender,
        subject,
        "contacts.csv",
        "text/csv",
        b"Email,Name\nann@example.com,Ann\nben@example.com,Ben\n",
    )
}

#[tokio::test]
async fn a_contacts_export_is_for_the_event_the_subject_names() {
    let f = Fixture::new("answers-subject").await;
    f.seed_event("subject-event-2026", &f.sender).await;
    f.seed_event("someone-elses-2026", "other@example.com")
        .await;

    let response = f
        .run_email(contacts_export(
            &f,
            "Invites for subject-event-2026 (not someone-elses-2026)",
        ))
        .await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(
        invited(&f.published()),
        [
            (
                "subject-event-2026".to_string(),
                "ann@example.com".to_string()
            ),
            (
                "subject-event-2026".to_string(),
                "ben@example.com".to_string()
            ),
        ],
        "only the sender's own event takes the rows"
    );
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(results_of(&emails[0])["events"][0]["sent"], 2);
}

#[tokio::test]
async fn a_contacts_export_without_an_event_in_the_subject_gets_the_help() {
    let f = Fixture::new("answers-no-subject").await;
    f.seed_event("named-nowhere-2026", &f.sender).await;

    let response = f
        .run_email(contacts_export(&f, "Invites for our offsite"))
        .await;

    assert!(failed_ids(&response).is_empty());
    assert!(f.published().is_empty());
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    let (text, _) = bodies(&emails[0]);
    assert!(
        text.contains("contacts.csv: the CSV header has no uid column"),
        "{text}"
    );
    assert!(
        text.contains("put the event's uid in the subject"),
        "{text}"
    );
    assert_eq!(results_of(&emails[0])["outcome"], "no_list");
}
