//! One request, from the stored email to the summary: the numbered steps of the README's
//! "What it does", each a method of [`Request`] (step 1, decoding the notification, is the
//! handler's).
//!
//! [`process`] runs [`run`] and writes the request's metrics; [`run`] reads top to bottom.
//! Each policy lives with its capability, and the script only asks it: the ledger's lease
//! ([`crate::ledger::lease`]), the list reader ([`crate::attendees::lists`]), the decision and
//! its report ([`crate::decision::plan`]), the time budget ([`crate::deadline::TimeBudget`]),
//! and what a stop with work left does ([`stop`]). Every failure is a [`ProcessError`] whose
//! fate the handler applies and whose ending ([`ProcessError::ending`]) the metric counts.

mod invocation;
mod stop;

pub use invocation::Invocation;

use std::time::Instant;

use tracing::{info, warn};

use crate::app::App;
use crate::attendees::lists::{self, Lists, NoList};
use crate::attendees::rows::{Attendees, ListRules};
use crate::aws::dynamodb::Standing;
use crate::continuation::Attempt;
use crate::deadline::{Deadline, TimeBudget};
use crate::decision::limits::Allowances;
use crate::decision::plan::{self, Lookups, Plan, PublishFailure};
use crate::delivery::Delivery;
use crate::domain::SenderEmail;
use crate::emf::{self, RequestMetrics, RequestOutcome};
use crate::error::ProcessError;
use crate::inbound::authenticity;
use crate::inbound::email::{self, InboundEmail};
use crate::inbound::notification::ObjectRef;
use crate::ledger::lease::{Claim, Lease, now_ms};
use crate::ledger::state::{Checkpoint, LedgerKey};
use crate::metrics;
use crate::report::summary::{self, Summary};
use crate::report::tally::Report;

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
    /// The email had no usable list; the sender was told what to send.
    NoUsableList,
    /// Rows were processed and the summary sent.
    Processed(Tally),
}

impl Outcome {
    /// The request's `Outcome` dimension.
    fn metric(&self) -> RequestOutcome {
        match self {
            Outcome::Processed(tally) if tally.preview => RequestOutcome::Previewed,
            Outcome::Processed(_) | Outcome::NoUsableList | Outcome::AlreadyCompleted => {
                RequestOutcome::Processed
            }
            Outcome::Refused | Outcome::Unauthorized | Outcome::Suspended => {
                RequestOutcome::Refused
            }
            Outcome::Ignored => RequestOutcome::NotARequest,
            Outcome::Continued => RequestOutcome::Continued,
        }
    }
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
    /// Rows not sent, by reason code.
    pub not_sent: Vec<(&'static str, u64)>,
    /// A preview: nothing was published (`sent` is 0).
    pub preview: bool,
}

/// Processes one stored email from S3 to summary, and reports its metrics (one EMF line).
pub async fn process(
    app: &App,
    object: &ObjectRef,
    invocation: &Invocation,
    attempt: &Attempt,
) -> Result<Outcome, ProcessError> {
    let started = Instant::now();
    // On the heap: a request's state is large, and moving it by value through the metrics
    // scope would cost a debug build's 2 MiB test-thread stack several copies of it.
    let work = Box::pin(run(app, object, invocation, attempt));
    let (result, aws_calls) = metrics::count_calls(work).await;
    let outcome = match &result {
        Ok(outcome) => outcome.metric(),
        Err(err) => err.ending().outcome,
    };
    let mut figures = RequestMetrics {
        aws_calls,
        duration: started.elapsed(),
        ..RequestMetrics::new(outcome)
    };
    if let Ok(Outcome::Processed(tally)) = &result {
        let not_sent: u64 = tally.not_sent.iter().map(|(_, n)| n).sum();
        info!(sender = %tally.sender, sent = tally.sent, not_sent, preview = tally.preview, aws_calls, "bulk request processed");
        figures.rows = tally.rows;
        figures.invites_sent = tally.sent as u64;
        figures.not_sent = tally.not_sent.clone();
    }
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
    let time = TimeBudget::new(invocation.deadline, app.config.limits.deadline_margin);
    let (email, etag) = match read_email(app, object, time.deadline).await {
        // A continuation's email was there when the request started: deleted mid-request.
        Err(ProcessError::ObjectMissing { bucket, key }) if attempt.continuation > 0 => {
            let err = ProcessError::EmailGone { bucket, key };
            if attempt.final_receive {
                let ledger = LedgerKey::for_object(object);
                let last_word = app.ledger.take_last_word(&ledger, now_ms());
                stop::tell_dead_lettered(app, time.deadline, last_word, None, &err).await;
            }
            return Err(err);
        }
        read => read?,
    };
    // The handler's request span declares it: from here on every line names the organizer.
    tracing::Span::current().record("sender", email.sender.as_str());
    let invocation = invocation.for_claim();
    let request = Request {
        app,
        holder: &invocation.holder,
        time,
        sender: email.sender.clone(),
    };
    if let Some(refusal) = request.check_sender(&email).await? {
        return Ok(refusal);
    }
    // The stored object's own ETag first: a notification may carry none (a minimal or
    // hand-built redrive), and a request must have one ledger key however it arrives.
    let ledger = LedgerKey::for_object(&ObjectRef {
        etag: etag.or_else(|| object.etag.clone()),
        ..object.clone()
    });
    let (lease, resume) = match request.take_ledger(&ledger, attempt).await? {
        Claim::Acquired(lease, resume) => (lease, resume),
        Claim::AlreadyCompleted => {
            info!(sender = %request.sender, "request already completed; nothing to do");
            return Ok(Outcome::AlreadyCompleted);
        }
        Claim::HeldElsewhere => return Err(ProcessError::HeldElsewhere),
    };
    let result = request.carry_out(&lease, email, resume).await;
    if let Err(err) = &result
        && err.is_retryable()
        && stop::stopped_with_work_left(app, &lease, attempt, &request.sender, err, time.deadline)
            .await?
    {
        return Ok(Outcome::Continued);
    }
    let outcome = result?;
    if !matches!(outcome, Outcome::Processed(_)) {
        info!(sender = %request.sender, ?outcome, "bulk request done");
    }
    Ok(outcome)
}

/// Step 2: read the stored email (its size bounded before reading) and find the sender.
async fn read_email(
    app: &App,
    object: &ObjectRef,
    deadline: Deadline,
) -> Result<(InboundEmail, Option<String>), ProcessError> {
    let max_bytes = app.config.limits.max_object_bytes;
    let (raw, etag) = deadline
        .bounded(app.aws.inbox.get_email(object, max_bytes))
        .await?;
    Ok((email::parse(&raw)?, etag))
}

/// One request once its email is read: the organizer, and the invocation's time and holder id.
struct Request<'a> {
    app: &'a App,
    holder: &'a str,
    time: TimeBudget,
    sender: SenderEmail,
}

impl<'a> Request<'a> {
    /// Steps 3 and 4: SES must vouch for the sender (DMARC), or anyone could send lists in their
    /// name; and the sender must be an authorized bulk sender who is not suspended. Every
    /// refusal is silent.
    async fn check_sender(&self, email: &InboundEmail) -> Result<Option<Outcome>, ProcessError> {
        let sender = &self.sender;
        let policy = self.app.config.sender_policy;
        if let Err(refusal) = authenticity::check(policy, &email.verdicts, sender.domain()) {
            warn!(%sender, %refusal, verdicts = %email.verdicts, "refused: sender not authenticated");
            return Ok(Some(Outcome::Refused));
        }
        let standing = self.app.aws.directory.standing(sender);
        match self.time.deadline.bounded(standing).await? {
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

    /// Step 5: take the request's ledger item, so a redelivered request is done once (on the
    /// message's last receive, waiting for another holder rather than dead-lettering a copy).
    async fn take_ledger(
        &self,
        ledger: &LedgerKey,
        attempt: &Attempt,
    ) -> Result<Claim<'a>, ProcessError> {
        let store = &self.app.ledger;
        let wait = attempt.final_receive;
        Lease::take(store, ledger, self.holder, &self.sender, &self.time, wait).await
    }

    /// Steps 6 to 10, once this invocation holds the request's lease.
    async fn carry_out(
        &self,
        lease: &Lease<'_>,
        email: InboundEmail,
        resume: Checkpoint,
    ) -> Result<Outcome, ProcessError> {
        let lists = match self
            .read_lists(email.lists, &email.other_attachments)
            .await?
        {
            Ok(lists) => lists,
            Err(help) => {
                self.tell_and_close(lease, &help, (0, 0)).await?;
                return Ok(Outcome::NoUsableList);
            }
        };
        let frozen = resume.allowances.clone();
        let (plan, lookups) = self.look_up_and_decide(lists.rows, frozen.as_ref()).await?;
        if frozen.is_none() && !plan.allowances.is_empty() {
            lease.freeze_allowances(&plan.allowances).await?;
        }
        let invites_were_done = resume.invites_done;
        // A preview publishes nothing; its own ledger item (another email than the real send's)
        // still makes its summary go out once.
        let failures = if email.preview {
            Vec::new()
        } else {
            self.publish(lease, &plan, &lookups, resume).await?
        };
        let report = plan.into_report(&failures, lists.named, email.preview);
        self.report(lease, report, invites_were_done).await
    }

    /// Step 6: read every list of the email (CPU work that may take seconds: off the async
    /// runtime, and stopped with the deadline margin still left). `Ok(Err)`: no list to use,
    /// and the help email that says so (naming `other_attachments`, what the email had instead).
    async fn read_lists(
        &self,
        sources: Vec<lists::ListSource>,
        other_attachments: &[String],
    ) -> Result<Result<Lists, Summary>, ProcessError> {
        let rules = ListRules {
            max_rows: self.app.config.limits.max_rows,
            typo_check: self.app.config.typo_check,
        };
        let until = self.time.reading_until();
        let read = tokio::task::spawn_blocking(move || lists::read(sources, &rules, until))
            .await
            .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()));
        match read {
            Ok(lists) => Ok(Ok(lists)),
            Err(NoList::NoneFound) => Ok(Err(summary::for_missing_list(other_attachments))),
            Err(NoList::NoneUsable(why)) => Ok(Err(summary::for_unusable_lists(&why))),
            // The invocation's time ran out while reading: no fault of the file.
            Err(NoList::OutOfTime) => Err(ProcessError::DeadlineReached { progressed: false }),
        }
    }

    /// Steps 7 and 8: look up block records and events (cut off with the lookups' share of the
    /// margin left), then decide who is invited, with the event allowances an earlier delivery
    /// froze, if any.
    async fn look_up_and_decide(
        &self,
        rows: Attendees,
        frozen: Option<&Allowances>,
    ) -> Result<(Plan, Lookups), ProcessError> {
        let keys = plan::lookup_keys(&rows.candidates);
        let lookup = self.app.aws.directory.lookup(&self.sender, keys);
        let lookups = (self.time.deadline)
            .within(self.time.lookups_keep(), lookup)
            .await
            .ok_or(ProcessError::DeadlineReached { progressed: false })??;
        let plan = plan::decide(&self.sender, rows, &lookups, frozen);
        Ok((plan, lookups))
    }

    /// Step 9: publish one message per invite, from where an earlier delivery stopped; returns
    /// every publish failure of the request.
    async fn publish(
        &self,
        lease: &Lease<'_>,
        plan: &Plan,
        lookups: &Lookups,
        resume: Checkpoint,
    ) -> Result<Vec<PublishFailure>, ProcessError> {
        let topic = &self.app.aws.topic;
        let delivery = Delivery {
            topic,
            ledger: lease,
            checkpoint_every: self.app.config.limits.checkpoint_every,
            max_in_flight: topic.max_in_flight(),
            time: self.time,
        };
        delivery
            .publish(&plan.invites, &lookups.events, resume)
            .await
    }

    /// Step 10: tell the organizer what was sent and what was not, then complete the request.
    async fn report(
        &self,
        lease: &Lease<'_>,
        report: Report,
        invites_were_done: bool,
    ) -> Result<Outcome, ProcessError> {
        let (sent, not_sent) = (report.sent(), report.not_sent());
        let summary = summary::for_report(&report);
        self.tell_and_close(lease, &summary, (sent, not_sent))
            .await
            .map_err(|err| match err {
                // invites_done is saved: the next delivery publishes nothing, only the summary.
                ProcessError::DeadlineReached { .. } => ProcessError::DeadlineReached {
                    progressed: !invites_were_done,
                },
                other => other,
            })?;
        Ok(Outcome::Processed(Tally {
            sender: self.sender.clone(),
            rows: (sent + not_sent) as u64,
            sent: if report.preview { 0 } else { sent },
            not_sent: report.not_sent_by_kind(),
            preview: report.preview,
        }))
    }

    /// Sends `summary` and completes the request with its totals (`sent`, `not_sent`).
    ///
    /// A summary sent and then cut off before the ledger says so would be sent again by the
    /// next delivery: both start only when the time budget may close, and the send leaves the
    /// completion its share. Each delivery that starts a send counts it in the ledger first;
    /// once the lease says no more may be sent (each earlier one may have reached the
    /// organizer), the request is completed without another.
    async fn tell_and_close(
        &self,
        lease: &Lease<'_>,
        summary: &Summary,
        (sent, not_sent): (usize, usize),
    ) -> Result<(), ProcessError> {
        if !self.time.may_close() {
            return Err(ProcessError::DeadlineReached { progressed: false });
        }
        if lease.may_send_summary() {
            lease.count_summary_attempt().await?;
            let send = self.app.aws.mailer.send_summary(&self.sender, summary);
            (self.time.deadline)
                .within(self.time.summary_keeps(), send)
                .await
                .ok_or(ProcessError::DeadlineReached { progressed: false })??;
        } else {
            warn!(
                attempts = lease.summary_attempts(),
                "summary not sent again: earlier sends may have reached the organizer; request completed"
            );
        }
        lease.complete(sent, not_sent).await
    }
}
