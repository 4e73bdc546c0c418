//! The log as Lambda and Logs Insights read it (issue 16): the real binary, run as Lambda runs
//! it (tests/it/common/runtime_api.rs) with `AWS_LAMBDA_LOG_FORMAT=JSON`, against moto.
//!
//! Lambda's log-level filtering takes a JSON line without a valid RFC 3339 `timestamp` as INFO
//! (dropped at WARN or ERROR), and Logs Insights queries `level` and `message` at the top level;
//! an operator finds a failed request by its key.

use serde_json::Value;

use crate::common::runtime_api::Invocation;
use crate::common::*;

/// Runs the binary on the notification of one stored email of `f`'s organizer.
async fn run_binary(f: &Fixture, key: &str) -> Invocation {
    f.put_email(
        key,
        email_with_csv(&f.sender, b"uid,email\nlogged-event,ann@example.com\n"),
    )
    .await;
    f.run_binary(key, None).await
}

/// Every line parsed, each checked for Lambda's shape: a flat object with an RFC 3339
/// `timestamp`, a level Lambda knows, a message, and the invocation's request id.
fn checked_lines(run: &Invocation) -> Vec<Value> {
    assert!(!run.stderr.is_empty(), "the binary logged nothing");
    run.stderr
        .iter()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("not one JSON object ({err}): {line}"));
            let timestamp = value["timestamp"].as_str().unwrap_or_default();
            assert!(
                timestamp.parse::<jiff::Timestamp>().is_ok(),
                "no RFC 3339 timestamp: {line}"
            );
            assert!(
                ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                    .contains(&value["level"].as_str().unwrap_or_default()),
                "{line}"
            );
            assert!(
                !value["message"].as_str().unwrap_or_default().is_empty(),
                "no top-level message: {line}"
            );
            assert!(
                value.get("fields").is_none() && value.get("spans").is_none(),
                "{line}"
            );
            value
        })
        .collect()
}

/// Lines written while the request was handled name it: its bucket, key and request id.
fn assert_request_named(lines: &[Value], run: &Invocation, f: &Fixture, key: &str) {
    for line in lines.iter().filter(|l| l.get("requestId").is_some()) {
        assert_eq!(line["requestId"], run.request_id.as_str(), "{line}");
        assert_eq!(
            (&line["bucket"], &line["key"]),
            (&f.bucket.as_str().into(), &key.into()),
            "{line}"
        );
    }
}

#[tokio::test]
async fn a_processed_requests_lines_are_in_lambdas_json_shape() {
    let f = Fixture::new("logs-ok").await;
    f.seed_event("logged-event", &f.sender).await;
    let key = "bulk_event_invites_email/logged ok";

    let run = run_binary(&f, key).await;

    assert_eq!(run.response, r#"{"batchItemFailures":[]}"#);
    let lines = checked_lines(&run);
    assert_request_named(&lines, &run, &f, key);
    let done = lines
        .iter()
        .find(|l| l["message"] == "bulk request processed")
        .expect("the request's outcome line");
    assert_eq!(
        (&done["level"], &done["sender"], &done["sent"]),
        (&"INFO".into(), &f.sender.as_str().into(), &1.into())
    );
    assert_eq!(run.stdout.len(), 1, "one EMF line: {:?}", run.stdout);
    let emf: Value = serde_json::from_str(&run.stdout[0]).unwrap();
    assert!(
        emf["_aws"]["CloudWatchMetrics"].is_array(),
        "the EMF line keeps its shape"
    );
}

#[tokio::test]
async fn a_failed_requests_error_line_names_its_key_and_the_aws_error() {
    let f = Fixture::new("logs-fail").await;
    f.seed_event("logged-event", &f.sender).await;
    aws_sdk_sns::Client::new(&f.sdk)
        .delete_topic()
        .topic_arn(&f.topic_arn)
        .send()
        .await
        .expect("delete the topic");
    let key = "bulk_event_invites_email/logged failure";

    let run = run_binary(&f, key).await;

    assert!(
        run.response.contains("msg-0"),
        "returned to the queue: {}",
        run.response
    );
    let lines = checked_lines(&run);
    assert_request_named(&lines, &run, &f, key);
    let failure = lines
        .iter()
        .find(|l| l["level"] == "ERROR")
        .expect("an ERROR line for the failed request");
    assert_eq!(failure["key"], key);
    assert_eq!(failure["sender"], f.sender.as_str());
    assert_eq!(
        (&failure["service"], &failure["operation"]),
        (&"SNS".into(), &"SNS.PublishBatch".into())
    );
    assert_eq!(failure["code"], "NotFound");
    let error = failure["error"].as_str().unwrap();
    assert!(
        error.starts_with("SNS.PublishBatch failed: NotFound"),
        "{error}"
    );
    assert!(
        error.len() < 400 && !error.contains("HttpResponse") && !error.contains("headers"),
        "the service's message, not an SDK debug dump: {error}"
    );
}
