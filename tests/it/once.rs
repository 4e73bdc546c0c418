//! Nothing is done twice (issue 17): one ledger key per stored email, however the notification
//! names it; a summary whose answer was lost is mailed at most twice over the whole request; a
//! copy on its last receive waits for the invocation that holds the request; a continuation whose
//! email was deleted goes to the dead-letter queue with the last word.

use std::time::Duration;

use crate::common::faults::{AfterAccept, FaultyClient, PublishFaults};
use crate::common::queue::{Queue, Run};
use crate::common::*;
use bulk_invites::deadline::Deadline;
use bulk_invites::inbound::notification::ObjectRef;
use bulk_invites::ledger::lease::{Claim, Lease};
use bulk_invites::ledger::state::LedgerKey;

#[tokio::test]
async fn a_completed_request_redelivered_with_bucket_and_key_only_does_nothing() {
    let f = Fixture::new("once-minimal").await;
    f.seed_event("once-event", &f.sender).await;
    let key = unique("bulk_event_invites_email/once");
    f.put_email(
        &key,
        email_with_csv(
            &f.sender,
            b"uid,email\nonce-event,ann@example.com\nonce-event,ben@example.com\n",
        ),
    )
    .await;
    // The full notification S3 sends (with its own eTag), then a hand-built redrive that names
    // only the bucket and the key.
    let first = f
        .invoke(sqs_event(&[sns_wrapped(&s3_event(
            &f.bucket,
            &encode_key(&key),
        ))]))
        .await;
    assert!(failed_ids(&first).is_empty());
    assert_eq!(f.published().len(), 2);
    let minimal = serde_json::json!({"Records": [{"s3": {
        "bucket": {"name": f.bucket}, "object": {"key": encode_key(&key)}
    }}]})
    .to_string();

    let again = f.invoke(sqs_event(&[minimal])).await;

    assert!(failed_ids(&again).is_empty());
    assert_eq!(f.published().len(), 2, "nothing published again");
    assert_eq!(f.emails().len(), 1, "no second summary");
}

/// Runs a 20-row request through a real queue (3 receives, then the dead-letter queue) with
/// every `SendEmail` taken by SES but its answer never seen as `after` says.
async fn summary_answer_lost(name: &str, after: AfterAccept) -> (Fixture, Run) {
    let mut f = Fixture::new(name).await;
    f.seed_event("once-event", &f.sender).await;
    f.configure(|c| c.limits.max_receives = 3);
    let faulty = FaultyClient::around_default(PublishFaults {
        ses_after_accept: Some(after),
        ..PublishFaults::default()
    });
    f.route_through(&faulty);
    f.with_attempt_timeout(Duration::from_secs(2));
    let queue = Queue::new(&f, 3).await;
    let key = unique("bulk_event_invites_email/lost-answer");
    let mut csv = String::from("uid,email\n");
    for i in 0..20 {
        csv.push_str(&format!("once-event,attendee{i}@example.com\n"));
    }
    f.put_email(&key, email_with_csv(&f.sender, csv.as_bytes()))
        .await;
    queue
        .send(&sns_wrapped(&s3_event(&f.bucket, &encode_key(&key))))
        .await;
    let run = queue.drive(&f, 60_000, 10, async |_| {}).await;
    (f, run)
}

#[tokio::test]
async fn a_summary_ses_answers_too_late_is_mailed_at_most_twice() {
    let (f, run) =
        summary_answer_lost("once-late", AfterAccept::Late(Duration::from_secs(4))).await;
    assert_eq!((run.returned, run.dead, run.late), (2, 0, 0), "{run:?}");
    assert_eq!(f.published().len(), 20, "every invite once");
    assert_eq!(f.emails().len(), 2, "two summaries at most, no last word");
}

#[tokio::test]
async fn a_summary_whose_connection_drops_after_ses_took_it_is_mailed_at_most_twice() {
    let (f, run) = summary_answer_lost("once-dropped", AfterAccept::Dropped).await;
    assert_eq!((run.returned, run.dead, run.late), (2, 0, 0), "{run:?}");
    assert_eq!(f.published().len(), 20, "every invite once");
    assert_eq!(f.emails().len(), 2, "two summaries at most, no last word");
}

#[tokio::test]
async fn a_copy_on_its_last_receive_waits_for_the_holder_instead_of_dead_lettering() {
    let f = Fixture::new("once-held").await;
    f.seed_event("once-event", &f.sender).await;
    let key = unique("bulk_event_invites_email/held");
    f.put_email(
        &key,
        email_with_csv(&f.sender, b"uid,email\nonce-event,ann@example.com\n"),
    )
    .await;
    let etag = aws_sdk_s3::Client::new(&f.sdk)
        .head_object()
        .bucket(&f.bucket)
        .key(&key)
        .send()
        .await
        .unwrap()
        .e_tag;
    let ledger = LedgerKey::for_object(&ObjectRef {
        bucket: f.bucket.clone(),
        key: key.clone(),
        etag,
    });
    // Another invocation holds the request for half a minute, and finishes after a second.
    let now = std::time::SystemTime::now();
    let organizer = bulk_invites::domain::SenderEmail::parse(&f.sender).unwrap();
    let store = f.app.ledger.clone();
    let (held, claimed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let until = Deadline::at(now + Duration::from_secs(30));
        let now_ms = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let claim = Lease::claim(&store, &ledger, "other", &organizer, now_ms, until).await;
        let Ok(Claim::Acquired(lease, _)) = claim else {
            panic!("{claim:?}")
        };
        held.send(()).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        lease.complete(1, 0).await.unwrap();
    });
    claimed
        .await
        .expect("the other invocation holds the request");
    let mut event = sqs_event(&[s3_event(&f.bucket, &encode_key(&key))]);
    event.records[0]
        .attributes
        .insert("ApproximateReceiveCount".into(), "3".into());

    let response = f.invoke(event).await;

    assert!(
        failed_ids(&response).is_empty(),
        "acknowledged, not dead-lettered"
    );
    assert!(f.published().is_empty(), "the holder did the request");
    assert!(f.emails().is_empty());
}

#[tokio::test]
async fn a_continuation_whose_email_was_deleted_dead_letters_with_the_last_word() {
    let f = Fixture::new("once-gone").await;
    let key = unique("bulk_event_invites_email/gone");
    // An earlier delivery started the request (the notification's eTag names it) and sent 40
    // invites; then someone deleted the stored email.
    let ledger = LedgerKey::for_object(&ObjectRef {
        bucket: f.bucket.clone(),
        key: key.clone(),
        etag: Some("0123456789abcdef".into()),
    });
    let organizer = bulk_invites::domain::SenderEmail::parse(&f.sender).unwrap();
    let earlier = std::time::SystemTime::now() - Duration::from_secs(10);
    let earlier_ms = earlier
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let lease_ran_out = Deadline::at(earlier + Duration::from_secs(5));
    let store = &f.app.ledger;
    let claim = Lease::claim(
        store,
        &ledger,
        "earlier",
        &organizer,
        earlier_ms,
        lease_ran_out,
    )
    .await;
    assert!(matches!(claim, Ok(Claim::Acquired(..))), "{claim:?}");
    let continuation = |receive: &str| {
        let mut event = sqs_event(&[sns_wrapped(&s3_event(&f.bucket, &encode_key(&key)))]);
        let record = &mut event.records[0];
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), receive.into());
        let mut attribute = aws_lambda_events::sqs::SqsMessageAttribute::default();
        attribute.string_value = Some("1".into());
        attribute.data_type = Some("Number".into());
        record
            .message_attributes
            .insert(bulk_invites::continuation::ATTRIBUTE.into(), attribute);
        event
    };

    let first = f.invoke(continuation("1")).await;
    assert_eq!(
        failed_ids(&first).len(),
        1,
        "an operator must see it: back to the queue"
    );
    assert!(f.emails().is_empty(), "not yet the last receive");

    let last = f.invoke(continuation("3")).await;
    assert_eq!(failed_ids(&last).len(), 1, "to the dead-letter queue");
    let emails = f.emails();
    assert_eq!(emails.len(), 1, "the organizer gets the last word");
    assert!(
        bodies(&emails[0]).0.contains("could not be finished"),
        "{}",
        bodies(&emails[0]).0
    );
}
