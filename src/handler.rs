//! The Lambda handler: an SQS batch in, a partial-batch response out.
//!
//! Each record's notification is decoded here and each stored email it names is processed by
//! [`crate::request`], whose steps read like the original function's. Every failure gets one fate ([`crate::error::Fate`]): acknowledged (a bad request, or not a request)
//! or returned to SQS (the environment). A long request that is making progress continues in a
//! new message instead of spending a receive, and a request about to land in the dead-letter
//! queue mails the organizer one last word: both are the request's own steps
//! ([`crate::request`], [`crate::continuation`]).

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use tracing::{Instrument, Level, error, info, info_span, warn};

use crate::app::App;
use crate::continuation::Attempt;
use crate::emf::{self, RequestMetrics, RequestOutcome};
use crate::error::{AwsError, ProcessError};
use crate::inbound::notification::{self, Notification};
use crate::request::{self, Invocation};

/// Handles one SQS batch: every record, each on its own, and reports only the records that
/// must come back.
pub async fn handle(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let invocation = Invocation::from_context(&event.context);
    let invocation = &invocation;
    let results =
        futures::future::join_all(event.payload.records.iter().map(|record| async move {
            let message_id = record.message_id.as_deref().unwrap_or_default();
            let span = info_span!("record", sqs_message_id = message_id);
            let result = handle_record(app, record, invocation)
                .instrument(span)
                .await;
            (record, result)
        }))
        .await;

    let mut response = SqsBatchResponse::default();
    for (record, result) in results {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        // Acknowledged failures were logged in the request's span, where they were found.
        let Err(err) = result else { continue };
        if !err.is_retryable() {
            continue;
        }
        if message_id.is_empty() {
            // An empty itemIdentifier would fail the whole batch anyway; say so plainly.
            return Err(
                format!("retryable failure on a record without a message id: {err}").into(),
            );
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = message_id.to_string();
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

async fn handle_record(
    app: &App,
    record: &SqsMessage,
    invocation: &Invocation,
) -> Result<(), ProcessError> {
    let body = record.body.as_deref().unwrap_or_default();
    let limits = &app.config.limits;
    let attempt = Attempt::of(record, limits.max_receives, limits.max_continuations);
    let objects = match notification::decode(body) {
        Ok(Notification::TestEvent) => {
            info!("not a request: s3:TestEvent acknowledged");
            emf::emit(
                &app.config.metrics,
                &RequestMetrics::new(RequestOutcome::NotARequest),
            );
            return Ok(());
        }
        Ok(Notification::Objects(objects)) => objects,
        Err(err) => {
            warn!(error = %err, "not a request: malformed notification acknowledged");
            emf::emit(
                &app.config.metrics,
                &RequestMetrics::new(RequestOutcome::NotARequest),
            );
            return Ok(());
        }
    };
    let mut stop = None;
    for object in &objects {
        // Every log line of the request, its failure line included, carries its object and,
        // once the email is read, its sender (request::run records it).
        let span = info_span!(
            "request",
            bucket = %object.bucket,
            key = %object.key,
            sender = tracing::field::Empty
        );
        let result = request::process(app, object, invocation, &attempt)
            .instrument(span.clone())
            .await;
        match result {
            // The continuation carries the whole body: later objects are its to do.
            Ok(request::Outcome::Continued) => break,
            Ok(_) => {}
            Err(err) if err.is_retryable() => {
                stop = Some((err, span));
                break;
            }
            Err(err) => span.in_scope(|| log_acknowledged(&err)),
        }
    }
    match stop {
        Some((err, span)) => {
            span.in_scope(|| log_returned(&err));
            Err(err)
        }
        None => Ok(()),
    }
}

/// Logs a failure that sends the record back to SQS, at its [`ProcessError::ending`]'s level
/// (`error` when an operator must act).
fn log_returned(err: &ProcessError) {
    let aws = err.aws();
    let (service, operation, code) = (
        aws.map(AwsError::service),
        aws.map(|e| e.operation),
        aws.and_then(|e| e.code.as_deref()),
    );
    if err.ending().level == Level::ERROR {
        error!(error = %err, service, operation, code, "environment failure; message returned to the queue (dead-letter queue after its last receive)");
    } else {
        warn!(error = %err, service, operation, code, "passing failure; message returned to the queue");
    }
}

/// Logs a failure that ends with the record acknowledged, at its [`ProcessError::ending`]'s
/// level: the same decision as the request's metric outcome.
fn log_acknowledged(err: &ProcessError) {
    match err.ending().outcome {
        RequestOutcome::NotARequest => info!(error = %err, "not a request: acknowledged"),
        _ => warn!(error = %err, "bad request: acknowledged, email left in S3"),
    }
}
