//! Never lose a request (issue 8), through the real handler, a real queue with a dead-letter
//! queue, and the real SDK against moto: environment faults return the record on every delivery
//! while they last and the request completes once they are fixed; a summary SES refused is sent
//! later without republishing; a long request continues in new messages; a request that cannot
//! progress reaches the dead-letter queue with one last word to the organizer; minimal events.

use std::time::Duration;

use crate::common::faults::{FaultyClient, PublishFaults};
use crate::common::queue::Queue;
use crate::common::*;

/// A fixture with `rows` attendees of one event, its email uploaded, and the notification for
/// it waiting on a fresh queue that dead-letters after `max_receives`.
async fn request(name: &str, rows: usize, max_receives: u32) -> (Fixture, Queue) {
    let mut f = Fixture::new(name).await;
    f.seed_event("ev-a", &f.sender).await;
    f.configure(|c| c.limits.max_receives = max_receives);
    let queue = Queue::new(&f, max_receives).await;
    let key = format!("bulk_event_invites_email/{}", unique("req"));
    f.put_email(&key, email_with_csv(&f.sender, csv(rows).as_bytes()))
        .await;
    queue
        .send(&sns_wrapped(&s3_event(&f.bucket, &encode_key(&key))))
        .await;
    (f, queue)
}

fn csv(rows: usize) -> String {
    let mut csv = String::from("uid,email\n");
    for i in 0..rows {
        csv.push_str(&format!("ev-a,attendee{i}@example.com\n"));
    }
    csv
}

const BUDGET_MS: u64 = 30_000;

#[tokio::test]
async fn a_missing_topic_returns_the_record_until_it_exists() {
    let (mut f, queue) = request("no-topic", 25, 5).await;
    let name = unique("created-later");
    f.configure(|c| c.topic_arn = format!("arn:aws:sns:{REGION}:123456789012:{name}"));
    let sdk = f.sdk.clone();
    let topic = f.app.config.topic_arn.clone();
    let run = queue
        .drive(&f, BUDGET_MS, 10, async |n| {
            if n == 2 {
                let created = aws_sdk_sns::Client::new(&sdk)
                    .create_topic()
                    .name(&name)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(created.topic_arn.as_deref(), Some(topic.as_str()));
            }
        })
        .await;
    assert_eq!(
        (run.invocations, run.returned, run.dead),
        (3, 2, 0),
        "{run:?}"
    );
    f.topic_arn = topic;
    assert_completed_once(&f, 25);
}

#[tokio::test]
async fn a_missing_table_returns_the_record_until_it_exists() {
    let (mut f, queue) = request("no-table", 12, 5).await;
    let table = unique("thirtyone-later");
    f.configure(|c| c.table = table.clone());
    f.table = table;
    let run = queue
        .drive(&f, BUDGET_MS, 10, async |n| {
            if n == 2 {
                create_table(&f.sdk, &f.table).await;
                f.put_item(&[
                    ("pk", &format!("organizer#{}", f.sender)),
                    ("sk", &format!("bulk#{}", f.sender)),
                ])
                .await;
                f.seed_event("ev-a", &f.sender).await;
            }
        })
        .await;
    assert_eq!(
        (run.invocations, run.returned, run.dead),
        (3, 2, 0),
        "{run:?}"
    );
    assert_completed_once(&f, 12);
}

#[tokio::test]
async fn access_denied_returns_the_record_until_it_is_granted() {
    let (mut f, queue) = request("denied", 30, 5).await;
    let faulty = FaultyClient::around_default(PublishFaults {
        deny_service: Some("dynamodb"),
        ..PublishFaults::default()
    });
    f.route_through(&faulty);
    let faults = faulty.faults.clone();
    let run = queue
        .drive(&f, BUDGET_MS, 10, async |n| {
            if n == 2 {
                faults.lock().unwrap().deny_service = None;
            }
        })
        .await;
    assert_eq!(
        (run.invocations, run.returned, run.dead),
        (3, 2, 0),
        "{run:?}"
    );
    assert_completed_once(&f, 30);
}

#[tokio::test]
async fn a_summary_ses_refused_is_sent_later_without_republishing() {
    let (mut f, queue) = request("ses-refuses", 40, 5).await;
    let domain = format!("{}.example.com", unique("unverified")).to_lowercase();
    f.configure(|c| {
        c.system_email = bulk_invites::config::Mailbox {
            name: Some("Calendar Snack".into()),
            address: format!("notification@{domain}"),
        }
    });
    let sdk = f.sdk.clone();
    let mut published_before_fix = 0;
    let run = queue
        .drive(&f, BUDGET_MS, 10, async |n| {
            if n == 1 {
                published_before_fix = f.published().len();
                aws_sdk_sesv2::Client::new(&sdk)
                    .create_email_identity()
                    .email_identity(&domain)
                    .send()
                    .await
                    .unwrap();
            }
        })
        .await;
    assert_eq!(
        (run.invocations, run.returned, run.dead),
        (2, 1, 0),
        "{run:?}"
    );
    assert_eq!(
        published_before_fix, 40,
        "every invite went out before SES refused"
    );
    assert_completed_once(&f, 40);
}

/// One batch at a time, 40 ms a call and a 1.2 s margin: a request of 800 rows outlasts a
/// 3 s invocation while making progress in each. `faults` adds to that.
fn slow_publishing(f: &mut Fixture, faults: PublishFaults) {
    f.configure(|c| c.limits.deadline_margin = Duration::from_millis(1_200));
    f.configure(|c| c.limits.checkpoint_every = 4);
    f.configure(|c| c.max_in_flight = 1);
    let faulty = FaultyClient::around_default(PublishFaults {
        latency: Duration::from_millis(40),
        ..faults
    });
    f.route_through(&faulty);
}

#[tokio::test]
async fn a_long_request_continues_in_new_messages_and_never_dead_letters() {
    // Twice the slack the timings strictly need, so a busy machine (the test command runs
    // every test at once) does not turn a continuation into a returned message.
    let (mut f, queue) = request("long", 800, 2).await;
    slow_publishing(&mut f, PublishFaults::default());
    let run = queue.drive(&f, 3_000, 40, async |_| {}).await;
    eprintln!("long request: {run:?}");
    assert!(run.invocations >= 3, "needed several invocations: {run:?}");
    assert_eq!((run.returned, run.dead, run.late), (0, 0, 0), "{run:?}");
    assert_completed_once(&f, 800);
}

#[tokio::test]
async fn a_request_that_cannot_progress_dead_letters_with_one_last_word() {
    let (mut f, queue) = request("stuck", 30, 3).await;
    f.configure(|c| c.limits.deadline_margin = Duration::from_millis(1_200));
    let faulty = FaultyClient::around_default(PublishFaults {
        publish_latency: Duration::from_secs(30),
        ..PublishFaults::default()
    });
    f.route_through(&faulty);
    let run = queue.drive(&f, 2_000, 10, async |_| {}).await;
    assert_eq!(
        (run.invocations, run.returned, run.dead, run.late),
        (3, 3, 1, 0),
        "{run:?}"
    );
    assert!(f.published().is_empty());
    let emails = f.emails();
    assert_eq!(emails.len(), 1, "one last word");
    let (text, _) = bodies(&emails[0]);
    assert!(text.contains("could not be finished"), "{text}");
    assert!(text.contains("0 invites went out so far"), "{text}");

    // An operator redrives it with the cause still there: it dead-letters again, silently.
    let body = queue.take_dead_letter().await;
    queue.send(&body).await;
    let again = queue.drive(&f, 2_000, 10, async |_| {}).await;
    assert_eq!(again.dead, 1, "{again:?}");
    assert_eq!(f.emails().len(), 1, "never a second last word");
}

#[tokio::test]
async fn minimal_s3_and_sns_events_are_processed() {
    let f = Fixture::new("minimal").await;
    f.seed_event("ev-a", &f.sender).await;
    let (raw_key, sns_key) = (
        unique("bulk_event_invites_email/raw"),
        unique("bulk_event_invites_email/sns"),
    );
    f.put_email(&raw_key, email_with_csv(&f.sender, csv(3).as_bytes()))
        .await;
    f.put_email(
        &sns_key,
        email_with_csv(&f.sender, "uid,email\nev-a,zed@example.com\n".as_bytes()),
    )
    .await;
    let minimal = |key: &str| {
        serde_json::json!({"Records": [{"s3": {"bucket": {"name": f.bucket}, "object": {"key": key}}}]})
            .to_string()
    };
    let wrapped =
        serde_json::json!({"Type": "Notification", "Message": minimal(&sns_key)}).to_string();
    let response = f.invoke(sqs_event(&[minimal(&raw_key), wrapped])).await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(deliveries(&f).len(), 4);
    assert_eq!(f.emails().len(), 2);
}

#[tokio::test]
async fn rows_past_the_limit_are_counted_and_giant_cells_rejected() {
    let mut f = Fixture::new("bounded").await;
    f.seed_event("ev-a", &f.sender).await;
    f.configure(|c| c.limits.max_rows = 50);
    let mut csv = String::from("uid,email,name\nev-a,giant@example.com,\"");
    csv.push_str(&"x".repeat(200_000));
    csv.push_str("\"\nev-a,longname@example.com,");
    csv.push_str(&"n".repeat(300));
    csv.push('\n');
    for i in 0..248 {
        csv.push_str(&format!("ev-a,attendee{i}@example.com,\n"));
    }
    let response = f.run_csv(&csv).await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(
        deliveries(&f).len(),
        48,
        "the first 50 rows less the two rejected"
    );
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    let (text, _) = bodies(&emails[0]);
    assert!(
        text.contains("200 rows after the first 50 were not read"),
        "{text}"
    );
    assert!(
        text.contains("row 2, (no uid), : row too long (more than 64 KiB"),
        "{text}"
    );
    assert!(
        text.contains(
            "row 3, ev-a, longname@example.com: name too long (more than 256 characters)"
        ),
        "{text}"
    );
    assert!(
        text.contains("Total: 48 invites sent, 202 not sent."),
        "{text}"
    );
    assert!(
        emails[0].raw_message().len() < 20_000,
        "the giant cell is not echoed back"
    );
}

#[tokio::test]
async fn a_last_receive_whose_continuation_cannot_be_sent_gets_the_last_word() {
    let (mut f, queue) = request("continuation-denied", 800, 1).await;
    // Publishing makes progress, but the continuation's SendMessage is denied.
    slow_publishing(
        &mut f,
        PublishFaults {
            deny_service: Some("sqs"),
            ..PublishFaults::default()
        },
    );

    let run = queue.drive(&f, 3_000, 5, async |_| {}).await;

    assert_eq!(
        (run.invocations, run.returned, run.dead),
        (1, 1, 1),
        "{run:?}"
    );
    let emails = f.emails();
    assert_eq!(emails.len(), 1, "the organizer gets the last word");
    let (text, _) = bodies(&emails[0]);
    assert!(text.contains("could not be finished"), "{text}");
}
