//! One request, from the stored email to the summary, as the named steps of the README's
//! "What it does".
//!
//! [`process`] runs [`run`] and writes the request's metrics; [`run`] reads top to bottom:
//! read the email, check the sender, take the ledger, read the lists, look up and decide,
//! publish, report. Every step is bounded by the invocation's deadline (no call outlives it),
//! and every failure is a [`ProcessError`] whose fate the handler applies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use tracing::{error, info, warn};

use crate::app::App;
use crate::attendees::outcome::FileOutcome;
use crate::attendees::rows::{self, Attendees, ListRules};
use crate::attendees::{sheets, workbook};
use crate::aws::dynamodb::Standing;
use crate::continuation::Attempt;
use crate::deadline::{Deadline, FALLBACK_BUDGET, LAST_CALL_SLACK};
use crate::decision::limits::Allowances;
use crate::decision::plan::{self, Lookups};
use crate::delivery::Delivery;
use crate::domain::SenderEmail;
use crate::emf::{self, RequestMetrics, RequestOutcome};
use crate::error::{Acknowledged, AwsError, ProcessError};
use crate::inbound::authenticity;
use crate::inbound::email::{self, CsvAttachment, InboundEmail, SpreadsheetAttachment};
use crate::inbound::notification::ObjectRef;
use crate::ledger::state::{Checkpoint, Claim, LedgerKey, MAX_SUMMARY_ATTEMPTS};
use crate::ledger::store::HeldItem;
use crate::metrics;
use crate::report::summary::{self, Summary};

/// What became of one stored email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a bulk request (the SES setup object): nothing done.
    Ignored,
    /// SES did not vouch for the sender (spoofed, spam or virus): nothing published, no email.
    Refused,
    /// The sender is not an authorized bulk sender: nothing published, no email sent.
    Unauthorized,
    /// The organizer is suspended: nothing published, no email sent.
    Suspended,
    /// A redelivery of a request already completed: nothing done.
    AlreadyCompleted,
    /// Out of time with progress made: the request goes on in a new message.
    Continued,
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
    /// A preview: nothing was published (`sent` is 0).
    pub preview: bool,
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
                    fallback_budget_s = FALLBACK_BUDGET.as_secs(),
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

/// Processes one stored email from S3 to summary, and reports its metrics (one EMF line).
pub async fn process(
    app: &App,
    object: &ObjectRef,
    invocation: &Invocation,
    attempt: &Attempt,
) -> Result<Outcome, ProcessError> {
    let started = std::time::Instant::now();
    let (result, aws_calls) = metrics::count_calls(run(app, object, invocation, attempt)).await;
    let mut figures = RequestMetrics {
        aws_calls,
        duration: started.elapsed(),
        ..RequestMetrics::new(RequestOutcome::Failed)
    };
    figures.outcome = match &result {
        Ok(Outcome::Processed(tally)) => {
            let not_sent: u64 = tally.not_sent.iter().map(|(_, n)| n).sum();
            info!(sender = %tally.sender, sent = tally.sent, not_sent, preview = tally.preview, aws_calls, "bulk request processed");
            figures.rows = tally.rows;
            figures.invites_sent = tally.sent as u64;
            figures.not_sent = tally.not_sent.clone();
            if tally.preview {
                RequestOutcome::Previewed
            } else {
                RequestOutcome::Processed
            }
        }
        Ok(Outcome::NoUsableCsv | Outcome::AlreadyCompleted) => RequestOutcome::Processed,
        Ok(Outcome::Refused | Outcome::Unauthorized | Outcome::Suspended) => {
            RequestOutcome::Refused
        }
        Ok(Outcome::Ignored) => RequestOutcome::NotARequest,
        Ok(Outcome::Continued) => RequestOutcome::Continued,
        Err(err) => match err.acknowledged_as() {
            None => RequestOutcome::Failed,
            Some(Acknowledged::NotARequest) => RequestOutcome::NotARequest,
            Some(Acknowledged::BadRequest) => RequestOutcome::Refused,
        },
    };
    emf::emit(&app.config.metrics, &figures);
    result
}

/// The request's steps, in order.
pub async fn run(
    app: &App,
    object: &ObjectRef,
    invocation: &Invocation,
    attempt: &Attempt,
) -> Result<Outcome, ProcessError> {
    if object.is_ses_setup_notification() {
        info!("not a request: SES setup notification acknowledged");
        return Ok(Outcome::Ignored);
    }
    let deadline = invocation.deadline;
    let (message, etag) = match read_email(app, object, deadline).await {
        // A continuation's email was there when the request started: deleted mid-request.
        Err(ProcessError::ObjectMissing { bucket, key }) if attempt.continuation > 0 => {
            let err = ProcessError::EmailGone { bucket, key };
            if attempt.final_receive {
                let ledger = LedgerKey::for_object(object);
                tell_dead_lettered(app, deadline, &ledger, None, &err).await;
            }
            return Err(err);
        }
        read => read?,
    };
    let sender = message.sender.clone();
    // The handler's request span declares it: from here on every line names the organizer.
    tracing::Span::current().record("sender", sender.as_str());
    if let Some(refusal) = check_sender(app, &message, deadline).await? {
        return Ok(refusal);
    }
    let invocation = &invocation.for_claim();
    let Some((ledger, resume)) =
        take_ledger(app, object, etag, &sender, invocation, attempt).await?
    else {
        info!(%sender, "request already completed; nothing to do");
        return Ok(Outcome::AlreadyCompleted);
    };
    let held = HeldItem {
        store: &app.ledger,
        key: &ledger,
        holder: &invocation.holder,
        summary_attempts: resume.summary_attempts,
    };
    let result = process_claimed(app, invocation, &held, message, resume).await;
    if let Err(err) = &result
        && err.is_retryable()
        && stopped_with_work_left(app, invocation, attempt, &held, &sender, err).await?
    {
        return Ok(Outcome::Continued);
    }
    let outcome = result?;
    if !matches!(outcome, Outcome::Processed(_)) {
        info!(%sender, ?outcome, "bulk request done");
    }
    Ok(outcome)
}

/// Step 1: read the stored email (its size bounded before reading) and find the sender.
async fn read_email(
    app: &App,
    object: &ObjectRef,
    deadline: Deadline,
) -> Result<(InboundEmail, Option<String>), ProcessError> {
    let max_bytes = app.config.limits.max_object_bytes;
    let (raw, etag) = in_time(deadline, app.aws.inbox.get_email(object, max_bytes)).await?;
    Ok((email::parse(&raw)?, etag))
}

/// Steps 2 and 3: SES must vouch for the sender (DMARC), or anyone could send lists in their
/// name; and the sender must be an authorized bulk sender who is not suspended. Every refusal
/// is silent.
async fn check_sender(
    app: &App,
    message: &InboundEmail,
    deadline: Deadline,
) -> Result<Option<Outcome>, ProcessError> {
    let sender = &message.sender;
    let policy = app.config.sender_policy;
    if let Err(refusal) = authenticity::check(policy, &message.verdicts, sender.domain()) {
        warn!(%sender, %refusal, verdicts = %message.verdicts, "refused: sender not authenticated");
        return Ok(Some(Outcome::Refused));
    }
    match in_time(deadline, app.aws.directory.standing(sender)).await? {
        Standing::Authorized => Ok(None),
        Standing::NotAuthorized => {
            warn!(%sender, "Unauthorized bulk sender");
            Ok(Some(Outcome::Unauthorized))
        }
        Standing::Suspended => {
            warn!(%sender, "refused: organizer suspended (suspended# item), no invites sent");
            Ok(Some(Outcome::Suspended))
        }
    }
}

/// Step 4: take the request's ledger item, so a redelivered request is done once. `None` when
/// it was completed before; `HeldElsewhere` when another invocation is working on it.
///
/// On the message's last receive, `HeldElsewhere` would send a copy of a request that is being
/// done to the dead-letter queue and page someone; it waits instead, while the time allows,
/// for the holder to finish (then `None`) or to let go (then this delivery takes over).
async fn take_ledger(
    app: &App,
    object: &ObjectRef,
    etag: Option<String>,
    sender: &SenderEmail,
    invocation: &Invocation,
    attempt: &Attempt,
) -> Result<Option<(LedgerKey, Checkpoint)>, ProcessError> {
    // The stored object's own ETag first: a notification may carry none (a minimal or
    // hand-built redrive), and a request must have one ledger key however it arrives.
    let ledger = LedgerKey::for_object(&ObjectRef {
        etag: etag.or_else(|| object.etag.clone()),
        ..object.clone()
    });
    let deadline = invocation.deadline;
    let lease_until = deadline.epoch_ms();
    let mut waited = false;
    loop {
        let claim = app
            .ledger
            .claim(&ledger, &invocation.holder, sender, now_ms(), lease_until);
        match in_time(deadline, claim).await? {
            Claim::Acquired(checkpoint) => return Ok(Some((ledger, checkpoint))),
            Claim::AlreadyCompleted => return Ok(None),
            Claim::HeldElsewhere
                if attempt.final_receive
                    && !deadline.is_near(app.config.limits.deadline_margin + HELD_POLL) =>
            {
                if !waited {
                    info!("last receive of a request another invocation holds: waiting for it");
                    waited = true;
                }
                tokio::time::sleep(HELD_POLL).await;
            }
            Claim::HeldElsewhere => return Err(ProcessError::HeldElsewhere),
        }
    }
}

/// How often a last receive asks again whether the request's holder has finished.
const HELD_POLL: Duration = Duration::from_secs(2);

/// Steps 5 to 8, once this invocation holds the request's ledger item.
async fn process_claimed(
    app: &App,
    invocation: &Invocation,
    held: &HeldItem<'_>,
    message: InboundEmail,
    resume: Checkpoint,
) -> Result<Outcome, ProcessError> {
    let deadline = invocation.deadline;
    let InboundEmail {
        sender,
        attachments,
        csvs,
        spreadsheets,
        preview,
        ..
    } = message;
    let sender = &sender;
    let rules = ListRules {
        max_rows: app.config.limits.max_rows,
        typo_check: app.config.typo_check,
    };
    // Reading lists is CPU work that may take seconds (a 100,000-row list, a large workbook):
    // off the async runtime, and done with the deadline margin still left for the rest.
    let until = Instant::now()
        + deadline
            .remaining()
            .saturating_sub(app.config.limits.deadline_margin);
    let read = tokio::task::spawn_blocking(move || {
        read_lists(csvs, spreadsheets, &attachments, &rules, until)
    })
    .await
    .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()));
    let (rows, files) = match read {
        Ok(read) => read,
        // The invocation's time ran out while reading: no fault of the file.
        Err(Unread::OutOfTime) => return Err(ProcessError::DeadlineReached { progressed: false }),
        Err(Unread::Help(help)) => {
            let margin = app.config.limits.deadline_margin;
            tell_and_close(app, deadline, margin, held, sender, &help, (0, 0)).await?;
            return Ok(Outcome::NoUsableCsv);
        }
    };
    let over_limit = rows.over_limit;
    let frozen = resume.allowances.clone();
    let (plan, lookups) =
        look_up_and_decide(app, invocation, sender, rows, frozen.as_ref()).await?;
    if frozen.is_none() && !plan.allowances.is_empty() {
        let freeze = app
            .ledger
            .freeze_allowances(held.key, held.holder, &plan.allowances);
        in_time(deadline, freeze).await?;
    }
    let invites_were_done = resume.invites_done;
    // A preview publishes nothing; its own ledger item (another email than the real send's)
    // still makes its summary go out once.
    let failures = if preview {
        Vec::new()
    } else {
        publish(app, invocation, held, &plan, &lookups, resume).await?
    };

    // Step 8: tell the sender what was sent and what was not, then close the ledger.
    let mut report = plan.into_report(&failures);
    report.over_limit = over_limit;
    report.preview = preview;
    // Only the organizer's own events: another organizer's event title is not theirs to read.
    report.events = lookups
        .events
        .iter()
        .filter(|(_, event)| event.is_owned_by(sender.as_str()))
        .map(|(uid, event)| (uid.to_string(), event.info.clone()))
        .collect();
    report.files = files;
    let (sent, not_sent) = (report.sent(), report.not_sent());
    let summary = summary::for_report(&report);
    let margin = app.config.limits.deadline_margin;
    tell_and_close(
        app,
        deadline,
        margin,
        held,
        sender,
        &summary,
        (sent, not_sent),
    )
    .await
    .map_err(|err| match err {
        // invites_done is saved: the next delivery publishes nothing, only the summary.
        ProcessError::DeadlineReached { .. } => ProcessError::DeadlineReached {
            progressed: !invites_were_done,
        },
        other => other,
    })?;
    Ok(Outcome::Processed(Tally {
        sender: sender.clone(),
        rows: (sent + not_sent) as u64,
        sent: if preview { 0 } else { sent },
        not_sent: report.not_sent_by_kind(),
        preview,
    }))
}

/// Step 5: read every attendee list of the email, and let go of their text (the rows keep
/// what they need). Returns the rows and the lists the summary names: all of them when there
/// is more than one, one failed, or one is not a CSV file (a sheet, the message body); none
/// for a single CSV attachment. `Err` is the help email for a sender whose email has no list
/// this function can use, or the invocation's time running out mid-read (retried, not
/// answered: the file is not at fault).
fn read_lists(
    csvs: Vec<CsvAttachment>,
    spreadsheets: Vec<SpreadsheetAttachment>,
    attachments: &[String],
    rules: &ListRules,
    until: Instant,
) -> Result<(Attendees, Vec<FileOutcome>), Unread> {
    let not_files = !spreadsheets.is_empty()
        || csvs
            .iter()
            .any(|csv| csv.file_name.as_deref() == Some(email::MESSAGE_BODY));
    // CSV files first, then each spreadsheet's sheets, each in the order attached. One text
    // budget for all the spreadsheets: many small attachments must not multiply it.
    let mut budget = workbook::Budget::new(until);
    let mut lists: Vec<(Option<String>, String)> = csvs
        .into_iter()
        .map(|csv| (csv.file_name, csv.text))
        .collect();
    let mut unreadable = Vec::new();
    for sheet in spreadsheets {
        let name = sheet.file_name.unwrap_or_else(|| "spreadsheet".to_string());
        match sheets::read(&sheet.bytes, &name, sheet.kind, &mut budget) {
            Ok(read) => lists.extend(read.into_iter().map(|list| (Some(list.name), list.text))),
            Err(sheets::SheetError::TooSlow) if budget.cut_by_deadline() => {
                return Err(Unread::OutOfTime);
            }
            Err(err) => unreadable.push(FileOutcome {
                name,
                rows: 0,
                error: Some(err.to_string()),
            }),
        }
    }
    let (rows, mut files) = rows::parse_files(
        lists
            .iter()
            .map(|(name, text)| (text.as_str(), name.as_deref())),
        rules,
    );
    drop(lists);
    files.extend(unreadable);
    match files.iter().find_map(|file| file.error.as_ref()) {
        _ if files.is_empty() => Err(Unread::Help(summary::for_missing_csv(attachments))),
        Some(_) if files.iter().all(|file| file.error.is_some()) => {
            Err(Unread::Help(summary::for_csv_problem(&unusable(&files))))
        }
        _ if not_files || files.len() > 1 || files.iter().any(|f| f.error.is_some()) => {
            Ok((rows, files))
        }
        _ => Ok((rows, Vec::new())),
    }
}

/// Why no rows came out of the lists.
enum Unread {
    /// No list could be used: the help email for the organizer.
    Help(Summary),
    /// The invocation's time ran out while reading spreadsheets.
    OutOfTime,
}

/// Most unusable lists the help email names one by one.
const MAX_NAMED_PROBLEMS: usize = 10;

/// Why no list could be used, each named: `guests.xlsx: the spreadsheet is …`.
fn unusable(files: &[FileOutcome]) -> String {
    let mut named: Vec<String> = files
        .iter()
        .filter_map(|file| Some(format!("{}: {}", file.name, file.error.as_ref()?)))
        .collect();
    if named.len() > MAX_NAMED_PROBLEMS {
        let more = named.len() - MAX_NAMED_PROBLEMS;
        named.truncate(MAX_NAMED_PROBLEMS);
        named.push(format!("and {more} more files like them"));
    }
    named.join("; ")
}

/// Step 6: look up block records and events, then decide who is invited (with the event
/// allowances an earlier delivery froze, if any). The lookups get at most half the deadline
/// margin, so publishing still has time to start.
async fn look_up_and_decide(
    app: &App,
    invocation: &Invocation,
    sender: &SenderEmail,
    rows: Attendees,
    frozen: Option<&Allowances>,
) -> Result<(plan::Plan, Lookups), ProcessError> {
    let keys = plan::lookup_keys(&rows.candidates);
    let lookup = app.aws.directory.lookup(sender, keys);
    let lookups = invocation
        .deadline
        .within(app.config.limits.deadline_margin / 2, lookup)
        .await
        .ok_or(ProcessError::DeadlineReached { progressed: false })??;
    let plan = plan::decide(sender, rows, &lookups, frozen);
    Ok((plan, lookups))
}

/// Step 7: publish one message per invite, from where an earlier delivery stopped; returns
/// every publish failure of the request.
async fn publish(
    app: &App,
    invocation: &Invocation,
    held: &HeldItem<'_>,
    plan: &plan::Plan,
    lookups: &Lookups,
    resume: Checkpoint,
) -> Result<Vec<plan::PublishFailure>, ProcessError> {
    let topic = &app.aws.topic;
    let delivery = Delivery {
        topic,
        ledger: held,
        limits: &app.config.limits,
        max_in_flight: topic.max_in_flight(),
        deadline: invocation.deadline,
    };
    delivery
        .publish(&plan.invites, &lookups.events, resume)
        .await
}

/// After a stop with work left: give up the lease so the next delivery need not wait for it
/// to run out; when the stop was the deadline with progress made, go on in a new message
/// (`Ok(true)`: the record is done with); and when the record goes back to SQS on its last
/// receive, tell the organizer (once per request, however many times it is redriven). A
/// continuation that cannot be sent is the failure the record goes back with.
async fn stopped_with_work_left(
    app: &App,
    invocation: &Invocation,
    attempt: &Attempt,
    held: &HeldItem<'_>,
    sender: &SenderEmail,
    err: &ProcessError,
) -> Result<bool, ProcessError> {
    let deadline = invocation.deadline;
    let release = app.ledger.release(held.key, held.holder);
    match deadline.within(LAST_CALL_SLACK, release).await {
        Some(Ok(())) => {}
        Some(Err(release_err)) => {
            warn!(error = %release_err, "could not release the lease; the redelivery waits for it to run out")
        }
        None => warn!("no time left to release the lease; the redelivery waits for it to run out"),
    }
    let continues =
        matches!(err, ProcessError::DeadlineReached { progressed: true }) && attempt.may_continue;
    let continued = if continues {
        continue_later(app, attempt, deadline).await.map(|()| true)
    } else {
        Ok(false)
    };
    if attempt.final_receive && !matches!(continued, Ok(true)) {
        let reason = continued.as_ref().err().unwrap_or(err);
        tell_dead_lettered(app, deadline, held.key, Some(sender), reason).await;
    }
    continued
}

/// Sends the record's body to its queue again as a new message, so the current one can be
/// acknowledged: the request goes on at once, without spending a receive.
async fn continue_later(
    app: &App,
    attempt: &Attempt,
    deadline: Deadline,
) -> Result<(), ProcessError> {
    let queue_url = attempt.queue_url.as_deref().unwrap_or_default();
    let next = attempt.continuation + 1;
    let send = app
        .aws
        .requeue
        .send_continuation(queue_url, &attempt.body, next);
    deadline
        .within(LAST_CALL_SLACK, send)
        .await
        .unwrap_or_else(|| Err(AwsError::transient("SQS.SendMessage", "no time left")))?;
    info!(
        continuation = next,
        "deadline near: request continues in a new message"
    );
    Ok(())
}

/// Mails the organizer, once per request however often it is redriven, that the request goes
/// to the dead-letter queue with what was sent so far, and logs it at `error`. `known` is the
/// organizer when this delivery read the email; else the ledger's record of them is used.
pub async fn tell_dead_lettered(
    app: &App,
    deadline: Deadline,
    key: &LedgerKey,
    known: Option<&SenderEmail>,
    err: &ProcessError,
) {
    let last_word = async {
        let Some(last) = app.ledger.take_last_word(key, now_ms()).await? else {
            return Ok::<_, ProcessError>("no last word to send (told before, or no ledger item)");
        };
        let Some(to) = known.cloned().or(last.sender) else {
            return Ok("no organizer address to tell");
        };
        send(app, &to, &summary::for_unfinished(last.sent_so_far)).await?;
        Ok("organizer told")
    };
    match deadline.within(LAST_CALL_SLACK, last_word).await {
        Some(Ok(what)) => {
            error!(error = %err, "request goes to the dead-letter queue; {what}")
        }
        Some(Err(mail_err)) => {
            error!(error = %err, mail_error = %mail_err, "request goes to the dead-letter queue; could not tell the organizer")
        }
        None => {
            error!(error = %err, "request goes to the dead-letter queue; no time left to tell the organizer")
        }
    }
}

/// The least time the summary and the ledger's completion get, whatever the margin.
const CLOSING_TIME: Duration = Duration::from_millis(500);

/// Sends `summary` and marks the request completed with its totals (`sent`, `not_sent`).
///
/// A summary sent and then cut off before the ledger says so would be sent again by the next
/// delivery. So both steps start only with half the margin (at least [`CLOSING_TIME`]) left,
/// and the send may use only half of that: the completion keeps the rest. Each delivery that
/// starts a send counts it in the ledger first; after [`MAX_SUMMARY_ATTEMPTS`] (counted by
/// earlier deliveries, as the claim found them) the request is completed without another,
/// since each earlier one may have reached the organizer.
async fn tell_and_close(
    app: &App,
    deadline: Deadline,
    margin: Duration,
    held: &HeldItem<'_>,
    sender: &SenderEmail,
    summary: &Summary,
    (sent, not_sent): (usize, usize),
) -> Result<(), ProcessError> {
    let closing = (margin / 2).max(CLOSING_TIME);
    if deadline.is_near(LAST_CALL_SLACK + closing) {
        return Err(ProcessError::DeadlineReached { progressed: false });
    }
    if held.summary_attempts >= MAX_SUMMARY_ATTEMPTS {
        warn!(
            attempts = held.summary_attempts,
            "summary not sent again: earlier sends may have reached the organizer; request completed"
        );
    } else {
        let count = app.ledger.count_summary_attempt(held.key, held.holder);
        in_time(deadline, count).await?;
        deadline
            .within(LAST_CALL_SLACK + closing / 2, send(app, sender, summary))
            .await
            .ok_or(ProcessError::DeadlineReached { progressed: false })??;
    }
    in_time(deadline, complete(app, held, sent, not_sent)).await
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

async fn send(app: &App, sender: &SenderEmail, summary: &Summary) -> Result<(), ProcessError> {
    Ok(app.aws.mailer.send_summary(sender, summary).await?)
}

async fn complete(
    app: &App,
    held: &HeldItem<'_>,
    sent: usize,
    not_sent: usize,
) -> Result<(), ProcessError> {
    Ok(app
        .ledger
        .complete(held.key, held.holder, sent, not_sent)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spreadsheet_read_cut_by_the_deadline_is_retried_not_answered() {
        let sheet = SpreadsheetAttachment {
            file_name: Some("guests.xlsx".into()),
            kind: sheets::SheetKind::Xlsx,
            bytes: b"PK\x03\x04 not read: no time".to_vec(),
        };
        let rules = ListRules {
            max_rows: 10,
            typo_check: true,
        };
        let read = read_lists(Vec::new(), vec![sheet], &[], &rules, Instant::now());
        assert!(matches!(read, Err(Unread::OutOfTime)));
    }

    #[test]
    fn every_claim_gets_its_own_holder() {
        let invocation = Invocation::from_context(&Context::default());
        let (a, b) = (invocation.for_claim(), invocation.for_claim());
        assert_ne!(a.holder, b.holder);
        assert!(a.holder.starts_with(&invocation.holder));
        assert_eq!(a.deadline, invocation.deadline);
    }
}
