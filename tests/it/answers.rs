//! What people and programs get back (issue 19): a summary that answers its request.

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
