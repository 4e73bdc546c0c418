//! The system's own rules for bulk invites (issue 16): a suspended organizer sends nothing, and
//! each event's `invite_limit` caps the invites a list publishes for it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::common::*;

/// Sets (or adds) the event's `invite_limit`, as `create_new_event_record` and the downstream's
/// decrements leave it.
async fn set_invite_limit(f: &Fixture, uid: &str, limit: i64) {
    aws_sdk_dynamodb::Client::new(&f.sdk)
        .update_item()
        .table_name(&f.table)
        .key("pk", AttributeValue::S(format!("event#{uid}")))
        .key("sk", AttributeValue::S(format!("event#{uid}")))
        .update_expression("SET invite_limit = :limit")
        .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
        .send()
        .await
        .expect("set invite_limit");
}

fn five_rows(uid: &str) -> String {
    let mut csv = String::from("uid,email\n");
    for name in ["ann", "ben", "cy", "dee", "eli"] {
        csv.push_str(&format!("{uid},{name}@example.com\n"));
    }
    csv
}

fn invited_emails(f: &Fixture) -> Vec<String> {
    invited(&f.published())
        .into_iter()
        .map(|(_, email)| email)
        .collect()
}

/// Makes SES refuse every summary (sent from an unverified domain) until
/// [`summaries_accepted`]: the request's message comes back after it published. The domain.
fn summaries_refused(f: &mut Fixture) -> String {
    let domain = format!("{}.example.com", unique("unverified")).to_lowercase();
    f.configure(|c| {
        c.system_email = bulk_invites::config::Mailbox {
            name: None,
            address: format!("notification@{domain}"),
        }
    });
    domain
}

async fn summaries_accepted(f: &Fixture, domain: &str) {
    aws_sdk_sesv2::Client::new(&f.sdk)
        .create_email_identity()
        .email_identity(domain)
        .send()
        .await
        .unwrap();
}

/// The table's items that hold `attribute` (the ledger items that kept it).
async fn items_with(f: &Fixture, attribute: &str) -> Vec<HashMap<String, AttributeValue>> {
    let items = aws_sdk_dynamodb::Client::new(&f.sdk)
        .scan()
        .table_name(&f.table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    items
        .into_iter()
        .filter(|item| item.contains_key(attribute))
        .collect()
}

#[tokio::test]
async fn a_suspended_organizer_publishes_nothing_and_gets_no_email() {
    let f = Fixture::new("suspended").await;
    f.seed_event("suspended-event", &f.sender).await;
    f.put_item(&[
        ("pk", &format!("organizer#{}", f.sender)),
        ("sk", &format!("suspended#{}", f.sender)),
    ])
    .await;

    let response = f.run_csv(&five_rows("suspended-event")).await;

    assert!(
        failed_ids(&response).is_empty(),
        "a refusal is acknowledged"
    );
    assert!(f.published().is_empty());
    assert!(
        f.emails().is_empty(),
        "refused as an unauthorized sender is"
    );
}

#[tokio::test]
async fn an_event_with_invite_limit_3_publishes_the_first_3_of_5_rows() {
    let f = Fixture::new("limit-3").await;
    f.seed_event("limited", &f.sender).await;
    set_invite_limit(&f, "limited", 3).await;
    f.seed_event("open", &f.sender).await;
    let csv = five_rows("limited") + "open,fay@example.com\n";

    let response = f.run_csv(&csv).await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(
        invited_emails(&f),
        [
            "ann@example.com",
            "ben@example.com",
            "cy@example.com",
            "fay@example.com"
        ],
        "the first three rows of the limited event, in list order; the other event has no limit"
    );
    let (text, _) = bodies(&only_email(&f));
    assert!(text.contains("limited: 3 invites sent"), "{text}");
    assert!(text.contains("limited: 2 not sent"), "{text}");
    assert_eq!(
        text.matches("invite limit reached: the event allows 3 more invites")
            .count(),
        2,
        "{text}"
    );
}

#[tokio::test]
async fn an_event_at_zero_or_below_publishes_none_and_preview_says_so() {
    for (limit, name) in [(0, "limit-0"), (-2, "limit-negative")] {
        let f = Fixture::new(name).await;
        f.seed_event("spent", &f.sender).await;
        set_invite_limit(&f, "spent", limit).await;

        f.run_email(email_with_attachment(
            &ses_headers(&f.sender),
            &f.sender,
            "Preview: spent",
            "guests.csv",
            "text/csv",
            five_rows("spent").as_bytes(),
        ))
        .await;
        let (preview, _) = bodies(&only_email(&f));
        assert!(
            preview.contains("invite limit reached: the event allows 0 more invites"),
            "{preview}"
        );

        f.run_csv(&five_rows("spent")).await;
        assert!(f.published().is_empty(), "limit {limit}: nothing published");
        let emails = f.emails();
        let (text, _) = bodies(emails.last().unwrap());
        assert_eq!(
            text.matches("invite limit reached: the event allows 0 more invites")
                .count(),
            5,
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_redelivered_request_keeps_the_allowance_it_was_decided_with() {
    let mut f = Fixture::new("limit-frozen").await;
    f.seed_event("limited", &f.sender).await;
    set_invite_limit(&f, "limited", 3).await;
    // The first delivery publishes, then SES refuses the summary: the message comes back.
    let domain = summaries_refused(&mut f);
    let key = format!("bulk_event_invites_email/{}", unique("frozen"));
    f.put_email(
        &key,
        email_with_csv(&f.sender, five_rows("limited").as_bytes()),
    )
    .await;
    let event = || sqs_event(&[s3_event(&f.bucket, &encode_key(&key))]);
    let first = f.invoke(event()).await;
    assert_eq!(failed_ids(&first).len(), 1, "the summary failed: retried");
    assert_eq!(invited_emails(&f).len(), 3);

    // Meanwhile the downstream sent those three invites and counted them down.
    set_invite_limit(&f, "limited", 0).await;
    summaries_accepted(&f, &domain).await;
    let second = f.invoke(event()).await;

    assert!(failed_ids(&second).is_empty());
    assert_eq!(invited_emails(&f).len(), 3, "nothing published again");
    let (text, _) = bodies(&only_email(&f));
    assert!(
        text.contains("limited: 3 invites sent") && text.contains("limited: 2 not sent"),
        "the summary reports what was decided, not a second reading of the counter: {text}"
    );
    let frozen = items_with(&f, "invite_allowances").await;
    assert_eq!(frozen.len(), 1, "the ledger item keeps the allowances");
    assert_eq!(
        frozen[0]["invite_allowances"].as_s().unwrap(),
        r#"{"limited":3}"#
    );
}

#[tokio::test]
async fn a_large_request_keeps_who_blocked_the_organizer_with_its_allowance() {
    // 1,200 attendees: 12 calls of block records, enough to keep what they found.
    let mut f = Fixture::new("blocks-frozen").await;
    f.seed_event("big", &f.sender).await;
    set_invite_limit(&f, "big", 1_000).await;
    f.seed_block("attendee7@example.com", &f.sender).await;
    let domain = summaries_refused(&mut f);
    let mut csv = String::from("uid,email\n");
    for i in 0..1_200 {
        csv.push_str(&format!("big,attendee{i}@example.com\n"));
    }
    let key = format!("bulk_event_invites_email/{}", unique("blocks"));
    f.put_email(&key, email_with_csv(&f.sender, csv.as_bytes()))
        .await;
    let event = || sqs_event(&[s3_event(&f.bucket, &encode_key(&key))]);
    let first = f.invoke(event()).await;
    assert_eq!(failed_ids(&first).len(), 1, "the summary failed: retried");
    let invited = invited_emails(&f);
    assert_eq!(invited.len(), 1_000);
    assert!(!invited.contains(&"attendee7@example.com".to_string()));
    assert!(invited.contains(&"attendee9@example.com".to_string()));

    // Meanwhile attendee9, already invited, blocks the organizer.
    f.seed_block("attendee9@example.com", &f.sender).await;
    summaries_accepted(&f, &domain).await;
    let lookups_before = f.app.aws.calls().snapshot()["DynamoDB.BatchGetItem"];
    let second = f.invoke(event()).await;

    assert!(failed_ids(&second).is_empty());
    assert_eq!(
        f.app.aws.calls().snapshot()["DynamoDB.BatchGetItem"] - lookups_before,
        2,
        "the sender's standing and the event: no block record read again"
    );
    assert_eq!(invited_emails(&f).len(), 1_000, "nothing published again");
    let (text, _) = bodies(&only_email(&f));
    assert!(
        text.contains("Total: 1000 invites sent, 200 not sent."),
        "the summary reports what was decided and done, attendee9 among the sent: {text}"
    );
    let kept = items_with(&f, "blocked_attendees").await;
    assert_eq!(kept.len(), 1, "the ledger item keeps who blocked");
    assert_eq!(
        kept[0]["blocked_attendees"].as_s().unwrap(),
        r#"["attendee7@example.com"]"#
    );
    assert_eq!(
        kept[0]["invite_allowances"].as_s().unwrap(),
        r#"{"big":1000}"#,
        "kept in the same write as the allowance"
    );
}
