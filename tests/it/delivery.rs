//! At-least-once delivery made safe (issue 4), through the real handler against moto:
//! redelivery after success, two deliveries at once, a crash mid-request and its resume, a
//! deadline stop, and (issue 20) all of it at 100,000 rows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::faults::{FaultyClient, LocalSns, PublishFaults};
use crate::common::queue::Queue;
use crate::common::*;
use lambda_runtime::{Context, LambdaEvent};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn context(deadline_ms: u64) -> Context {
    let mut context = Context::default();
    context.request_id = unique("request");
    context.deadline = deadline_ms;
    context
}

async fn fixture(
    name: &str,
    rows: usize,
    checkpoint_every: usize,
    max_in_flight: usize,
) -> (Fixture, String) {
    let mut f = Fixture::new(name).await;
    f.seed_event("ev-a", &f.sender).await;
    f.configure(|c| c.limits.checkpoint_every = checkpoint_every);
    f.configure(|c| c.limits.deadline_margin = Duration::from_millis(200));
    f.configure(|c| c.max_in_flight = max_in_flight);
    let mut csv = String::from("uid,email\n");
    for i in 0..rows {
        csv.push_str(&format!("ev-a,attendee{i}@example.com\n"));
    }
    let key = format!("bulk_event_invites_email/{}", unique("req"));
    f.put_email(&key, email_with_csv(&f.sender, csv.as_bytes()))
        .await;
    (f, key)
}

fn event_for(f: &Fixture, key: &str) -> aws_lambda_events::sqs::SqsEvent {
    sqs_event(&[sns_wrapped(&s3_event(&f.bucket, key))])
}

async fn invoke_until(f: &Fixture, key: &str, deadline_ms: u64) -> Vec<String> {
    let response = bulk_invites::handler::handle(
        &f.app,
        LambdaEvent::new(event_for(f, key), context(deadline_ms)),
    )
    .await
    .unwrap();
    failed_ids(&response)
}

/// Every invite delivered at least once, at most `bound` extra deliveries, and exactly one
/// summary carrying the whole request's totals.
fn assert_delivered_with_bounded_duplicates(
    f: &Fixture,
    invites: usize,
    bound: usize,
    label: &str,
) {
    let counts = deliveries(f);
    assert_eq!(
        counts.len(),
        invites,
        "every invite delivered at least once"
    );
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    eprintln!("{label}: {duplicates} duplicate deliveries (bound {bound})");
    assert!(
        duplicates <= bound,
        "{duplicates} duplicates, bound {bound}"
    );
    let emails = f.emails();
    assert_eq!(emails.len(), 1, "exactly one summary");
    let total = format!("Total: {invites} invites sent, 0 not sent.");
    assert!(
        bodies(&emails[0]).0.contains(&total),
        "the summary covers the whole request"
    );
}

#[tokio::test]
async fn redelivery_after_success_publishes_and_mails_nothing() {
    let (f, key) = fixture("again", 30, 20, 4).await;
    assert!(invoke_until(&f, &key, now_ms() + 60_000).await.is_empty());
    assert_eq!(f.published().len(), 30);
    assert_eq!(f.emails().len(), 1);

    let again = invoke_until(&f, &key, now_ms() + 60_000).await;

    assert!(again.is_empty(), "acknowledged, not retried");
    assert_eq!(f.published().len(), 30, "no new publishes");
    assert_eq!(f.emails().len(), 1, "no second summary");
}

#[tokio::test]
async fn two_deliveries_at_once_do_the_work_once() {
    let (f, key) = fixture("twice", 300, 20, 2).await;
    let deadline = now_ms() + 60_000;

    // The second arrives while the first is at work (as a redelivery after a lapsed visibility
    // timeout does). Not at the very same instant: moto's conditional writes are not atomic
    // across its threads, DynamoDB's are.
    let (first, second) = tokio::join!(invoke_until(&f, &key, deadline), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        invoke_until(&f, &key, deadline).await
    });

    let handed_back = [&first, &second]
        .iter()
        .filter(|ids| **ids == &vec!["msg-0".to_string()])
        .count();
    assert_eq!(
        handed_back, 1,
        "one delivery works, the other goes back to SQS: {first:?} {second:?}"
    );
    assert_completed_once(&f, 300);
}

#[tokio::test]
async fn crash_midway_then_redelivery_resumes_with_bounded_duplicates() {
    let (checkpoint_every, max_in_flight) = (2, 2);
    let (f, key) = fixture("crash", 300, checkpoint_every, max_in_flight).await;
    let first_deadline = now_ms() + 2_000;

    // Abort the first invocation (as a crash or timeout would) once 10 batches were sent; those
    // still in flight at that moment may or may not land.
    let first = bulk_invites::handler::handle(
        &f.app,
        LambdaEvent::new(event_for(&f, &key), context(first_deadline)),
    );
    let crash = async {
        while f
            .app
            .aws
            .calls()
            .snapshot()
            .get("SNS.PublishBatch")
            .copied()
            .unwrap_or(0)
            < 10
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::select! {
        _ = first => panic!("the first invocation should have been cut off"),
        _ = crash => {}
    }
    let before_resume = f.published().len();
    assert!(
        (50..300).contains(&before_resume),
        "crashed midway: {before_resume}"
    );
    assert!(
        f.emails().is_empty(),
        "no summary from the crashed invocation"
    );

    // SQS redelivers after the visibility timeout; by then the crashed lease has expired.
    while now_ms() <= first_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(invoke_until(&f, &key, now_ms() + 60_000).await.is_empty());

    let bound = (checkpoint_every + 2 * max_in_flight) * 10;
    assert_delivered_with_bounded_duplicates(&f, 300, bound, "crash and resume");
}

#[tokio::test]
async fn deadline_stops_checkpoints_and_the_next_delivery_finishes() {
    let (mut f, key) = fixture("deadline", 400, 5, 2).await;
    // Stop starting batches 1.5 s before a deadline 1.6 s away: little or nothing gets published.
    f.configure(|c| c.limits.deadline_margin = Duration::from_millis(1_500));
    let first_deadline = now_ms() + 1_600;

    let first = invoke_until(&f, &key, first_deadline).await;

    assert_eq!(first, ["msg-0"], "handed back to SQS with work left");
    let published_first = f.published().len();
    assert!(published_first < 400, "{published_first}");
    assert!(f.emails().is_empty());

    while now_ms() <= first_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f.configure(|c| c.limits.deadline_margin = Duration::from_millis(200));
    assert!(invoke_until(&f, &key, now_ms() + 60_000).await.is_empty());

    // A deadline stop saves progress after the in-flight batches: no duplicates.
    assert_completed_once(&f, 400);
}

#[tokio::test]
async fn ten_percent_of_calls_failing_still_delivers_everything_once_with_one_summary() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let (checkpoint_every, max_in_flight) = (5, 4);
    let (mut f, key) = fixture("faults", 1000, checkpoint_every, max_in_flight).await;
    let faulty = FaultyClient::around_default(PublishFaults {
        random_rate: 0.10,
        seed: 0x5eed_1234_abcd_0001,
        ..Default::default()
    });
    f.configure(|c| c.max_in_flight = max_in_flight);
    f.route_through(&faulty);

    // Deliver until SQS would stop seeing the message again, as the queue does.
    let mut failed_deliveries = 0;
    for _ in 0..30 {
        let deadline = now_ms() + 3_000;
        if invoke_until(&f, &key, deadline).await.is_empty() {
            break;
        }
        failed_deliveries += 1;
        // A lease whose release was itself lost runs out at the deadline.
        while now_ms() <= deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let faults = faulty.faults.lock().unwrap();
    let injected: usize = faults.injected.values().sum();
    eprintln!(
        "fault injection: {injected} faults {:?}, {} lost PublishBatch responses, {failed_deliveries} failed deliveries",
        faults.injected, faults.lost_publish_responses
    );
    let attempts = f.app.aws.calls().total() as usize;
    assert!(
        injected * 100 >= attempts * 4 && injected * 100 <= attempts * 20,
        "about 10% of {attempts} attempts failed: {injected}"
    );
    // A lost PublishBatch response makes the SDK send those 10 again; a failed delivery resends
    // at most the batches after its last checkpoint and those started beyond the finished prefix.
    let bound = faults.lost_publish_responses * 10
        + failed_deliveries * (checkpoint_every + 2 * max_in_flight) * 10;
    assert_delivered_with_bounded_duplicates(
        &f,
        1000,
        bound,
        &format!("fault injection ({attempts} attempts)"),
    );
}

#[tokio::test]
async fn a_hundred_thousand_rows_survive_a_crash_and_continue_to_one_summary() {
    // SNS and the block lookups answered by the test client (moto's one thread would take
    // minutes for 10,000 PublishBatch calls); events, the ledger, S3, SES and SQS on moto.
    const ROWS: usize = 100_000;
    // The default checkpoint interval (20 batches), 8 batches in flight.
    let (checkpoint_every, max_in_flight) = (20, 8);
    let (mut f, key) = fixture("hundred-thousand", ROWS, checkpoint_every, max_in_flight).await;
    let max_receives = 3;
    f.configure(|c| {
        c.limits.max_receives = max_receives;
        c.limits.deadline_margin = Duration::from_millis(2_000);
        // A loaded machine reads slower and continues more often; no cap is being tested.
        c.limits.max_continuations = 100;
    });
    // 10,000 batches at 25 ms, 8 at a time: 31 s of publishing, more than one invocation of
    // 30 s once the list is read (a debug build takes seconds to read 100,000 rows).
    let faulty = FaultyClient::around_default(PublishFaults {
        publish_latency: Duration::from_millis(25),
        local_sns: Some(LocalSns::default()),
        local_blocks: true,
        ..PublishFaults::default()
    });
    f.route_through(&faulty);
    let published = || {
        faulty
            .faults
            .lock()
            .unwrap()
            .local_sns
            .as_ref()
            .unwrap()
            .published
    };

    // The first delivery crashes (as Lambda stopping the process would) once 2,000 invites
    // are out; batches in flight then may or may not have landed.
    // Time enough to read the list and start publishing on a loaded machine.
    let first_deadline = now_ms() + 30_000;
    let first = bulk_invites::handler::handle(
        &f.app,
        LambdaEvent::new(event_for(&f, &key), context(first_deadline)),
    );
    let crash = async {
        while published() < 2_000 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::select! {
        _ = first => panic!("the first invocation should have been cut off"),
        _ = crash => {}
    }
    assert!(
        f.emails().is_empty(),
        "no summary from the crashed invocation"
    );

    // SQS redelivers after the visibility timeout, by when the crashed lease has lapsed (its
    // deadline, moved forward here rather than waited for: the lease ends at the deadline the
    // crashed invocation had, so the redelivery is given a later one).
    let queue = Queue::new(&f, max_receives).await;
    queue
        .send(&sns_wrapped(&s3_event(&f.bucket, &encode_key(&key))))
        .await;
    while now_ms() <= first_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = queue.drive(&f, 30_000, 100, async |_| {}).await;
    eprintln!("100,000 rows after a crash: {run:?}");
    assert!(run.invocations >= 2, "needed several invocations: {run:?}");
    assert_eq!((run.returned, run.dead, run.late), (0, 0, 0), "{run:?}");

    let faults = faulty.faults.lock().unwrap();
    let sns = faults.local_sns.as_ref().unwrap();
    assert_eq!(sns.distinct(), ROWS as u64, "every invite out");
    // Only the crash may repeat invites: what was in flight and what the last checkpoint had
    // not yet saved. Continuations save after their batches land and repeat nothing.
    let bound = ((checkpoint_every + 2 * max_in_flight) * 10) as u64;
    eprintln!("repeated after the crash: {} (bound {bound})", sns.repeats);
    assert!(
        sns.repeats <= bound,
        "{} repeats, bound {bound}",
        sns.repeats
    );
    assert_eq!(sns.unnumbered, 0);
    let emails = f.emails();
    assert_eq!(emails.len(), 1, "exactly one summary");
    let (text, _) = bodies(&emails[0]);
    assert!(
        text.contains(&format!("Total: {ROWS} invites sent, 0 not sent.")),
        "{text}"
    );
}
