//! The Lambda handler: an SQS batch in, a partial-batch response out.
//!
//! [`process_object`] reads top to bottom like the steps of the original function. Every
//! failure gets one fate ([`crate::error::Fate`]): acknowledged (a bad request, or not a request)
//! or returned to SQS (the environment). A long request that is making progress continues in a
//! new message instead of spending a receive ([`crate::continuation`]); a request about to land
//! in the dead-letter queue mails the organizer one last word.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, LambdaEvent};
use tracing::{Instrument, error, info, info_span, warn};

use crate::attendees;
use crate::authenticity;
use crate::aws::Aws;
use crate::config::Config;
use crate::continuation::Attempt;
use crate::delivery::{Deadline, Delivery, LAST_CALL_SLACK, LedgerItem, SnsTopic};
use crate::domain::SenderEmail;
use crate::emf::{self, RequestMetrics, RequestOutcome};
use crate::error::{AwsError, ProcessError};
use crate::inbound::{self, EmailError};
use crate::ledger::{Checkpoint, Claim, LedgerKey};
use crate::metrics;
use crate::notification::{self, Notification, ObjectRef};
use crate::plan;
use crate::summary::{self, Summary};

/// Everything a cold start builds once and every invocation borrows.
#[derive(Debug, Clone)]
pub struct App {
    /// SDK clients.
    pub aws: Aws,
    /// Configuration from the environment.
    pub config: Config,
}

/// What became of one stored email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a bulk request (the SES setup object): nothing done.
    Ignored,
    /// SES did not vouch for the sender (spoofed, spam or virus): nothing published, no email.
    Refused,
    /// The sender is not an authorized bulk sender: nothing published, no email sent.
    Unauthorized,
    /// A redelivery of a request already completed: nothing done.
    AlreadyCompleted,
    /// The email had no usable CSV; the sender was told what to send.
    NoUsableCsv,
    /// Rows were processed and the summary sent.
    Processed(Tally),
}

/// What a processed request did, for its log line and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// The organizer.
    pub sender: SenderEmail,
    /// Data rows in the request (past `MAX_ROWS` included).
    pub rows: u64,
    /// Invites published.
    pub sent: usize,
    /// Rows not sent, by reason kind.
    pub not_sent: Vec<(&'static str, u64)>,
}

/// Handles one SQS batch: every record, each on its own, and reports only the records that
/// must come back.
pub async fn handle(
    app: &App,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let invocation = Invocation::from_context(&event.context);
    let invocation = &invocation;
    let results =
        futures::future::join_all(
            event.payload.records.iter().map(|record| async move {
                (record, handle_record(app, record, invocation).await)
            }),
        )
        .await;

    let mut response = SqsBatchResponse::default();
    for (record, result) in results {
        let message_id = record.message_id.as_deref().unwrap_or_default();
        let Err(err) = result else { continue };
        if !err.is_retryable() {
            // Acknowledged: the reason was logged where it was found.
            continue;
        }
        if err.needs_operator() {
            error!(message_id, error = %err, "environment failure; message returned to the queue (dead-letter queue after its last receive)");
        } else {
            warn!(message_id, error = %err, "passing failure; message returned to the queue");
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
            emit(app, &RequestMetrics::new(RequestOutcome::NotARequest));
            return Ok(());
        }
        Ok(Notification::Objects(objects)) => objects,
        Err(err) => {
            warn!(error = %err, "not a request: malformed notification acknowledged");
            emit(app, &RequestMetrics::new(RequestOutcome::NotARequest));
            return Ok(());
        }
    };
    let mut stop = None;
    for object in &objects {
        // process_object logs each outcome itself, with the sender once it is known.
        // Every log line of the request carries its object through this span.
        let span = info_span!("request", bucket = %object.bucket, key = %object.key);
        let result = process_object(app, object, invocation, &attempt)
            .instrument(span.clone())
            .await;
        if let Err(err) = result {
            span.in_scope(|| log_acknowledged(&err));
            if err.is_retryable() {
                stop = Some(err);
                break;
            }
        }
    }
    match stop {
        Some(ProcessError::DeadlineReached { progressed: true }) if attempt.may_continue => {
            continue_later(app, body, &attempt, invocation).await
        }
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// Logs a failure that ends with the record acknowledged, at the level its class deserves.
fn log_acknowledged(err: &ProcessError) {
    match err {
        _ if err.is_retryable() => {}
        ProcessError::ObjectMissing { .. }
        | ProcessError::Email(EmailError::NotAnEmail)
        | ProcessError::Aws(_) => {
            info!(error = %err, "not a request: acknowledged")
        }
        _ => warn!(error = %err, "bad request: acknowledged, email left in S3"),
    }
}

/// Sends the record's body to its queue again as a new message, then lets the current one be
/// acknowledged: the request goes on at once, without spending a receive.
async fn continue_later(
    app: &App,
    body: &str,
    attempt: &Attempt,
    invocation: &Invocation,
) -> Result<(), ProcessError> {
    let queue_url = attempt.queue_url.as_deref().unwrap_or_default();
    let next = attempt.continuation + 1;
    let send = app.aws.send_continuation(queue_url, body, next);
    invocation
        .deadline
        .within(LAST_CALL_SLACK, send)
        .await
        .unwrap_or_else(|| Err(AwsError::transient("SQS.SendMessage", "no time left")))?;
    info!(
        continuation = next,
        "deadline near: request continues in a new message"
    );
    Ok(())
}

/// The invocation a record is processed in: who holds the ledger, and until when.
#[derive(Debug)]
pub struct Invocation {
    /// Ledger holder id: the Lambda request id, made unique per attempt and per claim.
    pub holder: String,
    /// The Lambda deadline.
    pub deadline: Deadline,
    claims: AtomicU64,
}

impl Invocation {
    /// From the Lambda context. A deadline that cannot be right (past, or further than any
    /// Lambda timeout) is replaced by a fallback budget, with one warning per process.
    pub fn from_context(context: &Context) -> Self {
        static WARNED: std::sync::Once = std::sync::Once::new();
        let now = SystemTime::now();
        let nanos = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let deadline = Deadline::from_runtime(context.deadline, now).unwrap_or_else(|fallback| {
            WARNED.call_once(|| {
                warn!(
                    reported_deadline_ms = context.deadline,
                    fallback_budget_s = crate::delivery::FALLBACK_BUDGET.as_secs(),
                    "the runtime's deadline is in the past or too far away (cargo lambda watch \
                     sends a duration); using the fallback budget"
                )
            });
            fallback
        });
        Self {
            holder: format!("{}/{nanos}", context.request_id),
            deadline,
            claims: AtomicU64::new(0),
        }
    }

    /// The same invocation with a holder id of its own for one claim.
    ///
    /// Records of one batch run concurrently; if two of them named the same stored email and
    /// shared a holder id, the claim's "our own retry" clause would let both in.
    pub fn for_claim(&self) -> Self {
        let n = self.claims.fetch_add(1, Ordering::Relaxed);
        Self {
            holder: format!("{}/{n}", self.holder),
            deadline: self.deadline,
            claims: AtomicU64::new(0),
        }
    }
}

/// Lease used when the context carries no deadline (local runs): Lambda's longest timeout.
const LEASE_WITHOUT_DEADLINE: Duration = Duration::from_secs(900);

/// Processes one stored email from S3 to summary, and reports its metrics (one EMF line).
pub async fn process_object(
    app: &App,
    object: &ObjectRef,
    invocation: &Invocation,
    attempt: &Attempt,
) -> Result<Outcome, ProcessError> {
    let started = std::time::Instant::now();
    let (result, aws_calls) =
        metrics::count_calls(run_request(app, object, invocation, attempt)).await;
    let mut figures = RequestMetrics {
        aws_calls,
        duration: started.elapsed(),
        ..RequestMetrics::new(RequestOutcome::Failed)
    };
    figures.outcome = match &result {
        Ok(Outcome::Processed(tally)) => {
            let not_sent: u64 = tally.not_sent.iter().map(|(_, n)| n).sum();
            info!(sender = %tally.sender, sent = tally.sent, not_sent, aws_calls, "bulk request processed");
            figures.rows = tally.rows;
            figures.invites_sent = tally.sent as u64;
            figures.not_sent = tally.not_sent.clone();
            RequestOutcome::Processed
        }
        Ok(Outcome::NoUsableCsv | Outcome::AlreadyCompleted) => RequestOutcome::Processed,
        Ok(Outcome::Refused | Outcome::Unauthorized) => RequestOutcome::Refused,
        Ok(Outcome::Ignored) => RequestOutcome::NotARequest,
        Err(ProcessError::DeadlineReached { progressed: true }) if attempt.may_continue => {
            RequestOutcome::Continued
        }
        Err(err) if err.is_retryable() => RequestOutcome::Failed,
        Err(ProcessError::ObjectMissing { .. } | ProcessError::Email(EmailError::NotAnEmail)) => {
            RequestOutcome::NotARequest
        }
        Err(_) => RequestOutcome::Refused,
    };
    emit(app, &figures);
    result
}

/// Writes a request's metrics: EMF goes to stdout, one line, where CloudWatch Logs extracts it
/// (logs go to stderr).
fn emit(app: &App, figures: &RequestMetrics) {
    println!(
        "{}",
        emf::line(&app.config.metrics, figures, SystemTime::now())
    );
}

async fn run_request(
    app: &App,
    object: &ObjectRef,
    invocation: &Invocation,
    attempt: &Attempt,
) -> Result<Outcome, ProcessError> {
    let config = &app.config;
    if object.is_ses_setup_notification() {
        info!("not a request: SES setup notification acknowledged");
        return Ok(Outcome::Ignored);
    }

    // 1. Read the email and find the sender.
    let deadline = invocation.deadline;
    let (raw, etag) = in_time(
        deadline,
        app.aws.get_email(object, config.limits.max_object_bytes),
    )
    .await?;
    let email = inbound::parse(&raw)?;
    drop(raw);
    let sender = email.sender;

    // 2. SES must vouch for the sender (DMARC), or anyone could send lists in their name.
    if let Err(refusal) =
        authenticity::check(config.sender_policy, &email.verdicts, sender.domain())
    {
        warn!(%sender, %refusal, verdicts = %email.verdicts, "refused: sender not authenticated");
        return Ok(Outcome::Refused);
    }

    // 3. The sender must be an authorized bulk sender; otherwise stay silent.
    if !in_time(deadline, app.aws.is_bulk_sender(&config.table, &sender)).await? {
        warn!(%sender, "Unauthorized bulk sender");
        return Ok(Outcome::Unauthorized);
    }

    // 4. Take the request's ledger item: a redelivered request is done once.
    let ledger = LedgerKey::for_object(&ObjectRef {
        etag: object.etag.clone().or(etag),
        ..object.clone()
    });
    let now_ms = now_ms();
    let invocation = &invocation.for_claim();
    let lease_until = invocation.deadline.epoch_ms_or(LEASE_WITHOUT_DEADLINE);
    let claim = app.aws.claim(
        &config.table,
        &ledger,
        &invocation.holder,
        now_ms,
        lease_until,
    );
    let resume = match in_time(deadline, claim).await? {
        Claim::Acquired(checkpoint) => checkpoint,
        Claim::AlreadyCompleted => {
            info!(%sender, "request already completed; nothing to do");
            return Ok(Outcome::AlreadyCompleted);
        }
        Claim::HeldElsewhere => return Err(ProcessError::HeldElsewhere),
    };
    let result = process_claimed(
        app,
        invocation,
        &ledger,
        &email.attachments,
        email.csvs,
        &sender,
        resume,
    )
    .await;
    if let Err(err) = &result
        && err.is_retryable()
    {
        stopped_with_work_left(app, invocation, attempt, &ledger, &sender, err).await;
    }
    let outcome = result?;
    if !matches!(outcome, Outcome::Processed(_)) {
        info!(%sender, ?outcome, "bulk request done");
    }
    Ok(outcome)
}

/// After a stop that sends the record back: give up the lease so the next delivery need not
/// wait for it to run out, and, when this was the last receive before the dead-letter queue,
/// tell the organizer (once per request, however many times it is redriven).
async fn stopped_with_work_left(
    app: &App,
    invocation: &Invocation,
    attempt: &Attempt,
    ledger: &LedgerKey,
    sender: &SenderEmail,
    err: &ProcessError,
) {
    let table = &app.config.table;
    let deadline = invocation.deadline;
    let release = app.aws.release(table, ledger, &invocation.holder);
    match deadline.within(LAST_CALL_SLACK, release).await {
        Some(Ok(())) => {}
        Some(Err(release_err)) => {
            warn!(error = %release_err, "could not release the lease; the redelivery waits for it to run out")
        }
        None => warn!("no time left to release the lease; the redelivery waits for it to run out"),
    }
    let continues =
        matches!(err, ProcessError::DeadlineReached { progressed: true }) && attempt.may_continue;
    if !attempt.final_receive || continues {
        return;
    }
    let last_word = async {
        let Some(sent_so_far) = app.aws.take_last_word(table, ledger, now_ms()).await? else {
            return Ok::<_, ProcessError>(false);
        };
        send(app, sender, &summary::for_unfinished(sent_so_far)).await?;
        Ok(true)
    };
    match deadline.within(LAST_CALL_SLACK, last_word).await {
        Some(Ok(true)) => {
            error!(%sender, error = %err, "request goes to the dead-letter queue; organizer told")
        }
        Some(Ok(false)) => {
            error!(%sender, error = %err, "request goes to the dead-letter queue; organizer was told before")
        }
        Some(Err(mail_err)) => {
            error!(%sender, error = %err, mail_error = %mail_err, "request goes to the dead-letter queue; could not tell the organizer")
        }
        None => {
            error!(%sender, error = %err, "request goes to the dead-letter queue; no time left to tell the organizer")
        }
    }
}

/// Runs one call of the request with the time the invocation has left, keeping
/// [`LAST_CALL_SLACK`] for the answer to Lambda: no call outlives the invocation.
async fn in_time<T, E: Into<ProcessError>>(
    deadline: Deadline,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ProcessError> {
    match deadline.within(LAST_CALL_SLACK, work).await {
        Some(result) => result.map_err(Into::into),
        None => Err(ProcessError::DeadlineReached { progressed: false }),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Steps 5 to 8, once this invocation holds the request's ledger item.
async fn process_claimed(
    app: &App,
    invocation: &Invocation,
    ledger: &LedgerKey,
    attachments: &[String],
    csvs: Vec<inbound::CsvAttachment>,
    sender: &SenderEmail,
    resume: Checkpoint,
) -> Result<Outcome, ProcessError> {
    let config = &app.config;
    let complete = |sent, not_sent| {
        app.aws
            .complete(&config.table, ledger, &invocation.holder, sent, not_sent)
    };

    // 5. Find and read the CSV; tell the sender when there is none to use.
    let (rows, files) = attendees::parse_files(
        csvs.iter()
            .map(|csv| (csv.text.as_str(), csv.file_name.as_deref())),
        config.limits.max_rows,
    );
    drop(csvs);
    let help = match files.iter().find_map(|file| file.error.as_ref()) {
        _ if files.is_empty() => Some(summary::for_missing_csv(attachments)),
        Some(error) if files.iter().all(|file| file.error.is_some()) => {
            Some(summary::for_csv_problem(error))
        }
        _ => None,
    };
    let deadline = invocation.deadline;
    if let Some(help) = help {
        in_time(deadline, send(app, sender, &help)).await?;
        in_time(deadline, complete(0, 0)).await?;
        return Ok(Outcome::NoUsableCsv);
    }

    // 6. Look up block records and events, then decide who is invited.
    let keys = plan::lookup_keys(&rows.candidates);
    let lookup = app.aws.lookup(&config.table, sender, keys);
    let lookups = invocation
        .deadline
        .within(config.limits.deadline_margin / 2, lookup)
        .await
        .ok_or(ProcessError::DeadlineReached { progressed: false })??;
    let over_limit = rows.over_limit;
    let plan = plan::decide(sender, rows, &lookups);

    // 7. Publish one message per invite, from where an earlier delivery stopped.
    let topic = SnsTopic {
        aws: &app.aws,
        topic_arn: &config.topic_arn,
    };
    let item = LedgerItem {
        aws: &app.aws,
        table: &config.table,
        key: ledger,
        holder: &invocation.holder,
    };
    let delivery = Delivery {
        topic: &topic,
        ledger: &item,
        limits: &config.limits,
        max_in_flight: config.max_in_flight,
        deadline: invocation.deadline,
    };
    let invites_were_done = resume.invites_done;
    let failures = delivery
        .publish(&plan.invites, &lookups.events, resume)
        .await?;

    // 8. Tell the sender what was sent and what was not, then close the ledger.
    let mut report = plan.into_report(&failures);
    report.over_limit = over_limit;
    if files.len() > 1 || files.iter().any(|file| file.error.is_some()) {
        report.files = files;
    }
    // A summary sent and then cut off before the ledger says so would be sent again by the
    // next delivery: with less than half the margin left, leave both to it (invites_done is
    // saved, so it publishes nothing and only sends the summary).
    if deadline.is_near(config.limits.deadline_margin / 2) {
        return Err(ProcessError::DeadlineReached {
            progressed: !invites_were_done,
        });
    }
    in_time(deadline, send(app, sender, &summary::for_report(&report))).await?;
    let (sent, not_sent) = (report.sent(), report.not_sent());
    in_time(deadline, complete(sent, not_sent)).await?;
    Ok(Outcome::Processed(Tally {
        sender: sender.clone(),
        rows: (sent + not_sent) as u64,
        sent,
        not_sent: report.not_sent_by_kind(),
    }))
}

async fn send(app: &App, sender: &SenderEmail, summary: &Summary) -> Result<(), ProcessError> {
    let mime = summary::to_mime(summary, &app.config.system_email, sender);
    app.aws
        .send_summary(&app.config.system_email, sender, mime)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claim_gets_its_own_holder() {
        let invocation = Invocation::from_context(&Context::default());
        let (a, b) = (invocation.for_claim(), invocation.for_claim());
        assert_ne!(a.holder, b.holder);
        assert!(a.holder.starts_with(&invocation.holder));
        assert_eq!(a.deadline, invocation.deadline);
    }
}
