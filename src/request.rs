//! One request, from the stored email to the summary: the numbered steps of the README's
//! "What it does", each a method of `Request` (step 1, decoding the notification, is the
//! handler's; step 10, the summary and the completion, is in `request/close.rs`).
//!
//! [`process`] runs [`run`] and writes the request's metrics; [`run`] reads top to bottom.
//! Each policy lives with its capability, and the script only asks it: the ledger's lease
//! ([`crate::ledger::lease`]), the list reader ([`crate::attendees::lists`]), the decision and
//! its report ([`crate::decision::plan`]), the time budget ([`crate::deadline::TimeBudget`]),
//! and what a stop with work left does (`request/stop.rs`); `request/outcome.rs` is what became of the request
//! and its one metrics line. Every failure is a [`ProcessError`] whose
//! fate the handler applies and whose ending ([`ProcessError::ending`]) the metric counts.

mod close;
mod invocation;
mod outcome;
mod stop;
mod subject;

pub use invocation::Invocation;
pub use outcome::{Outcome, Tally};

use std::time::Instant;

use tracing::{info, warn};

use crate::app::App;
use crate::attendees::lists::{self, Lists, NoList};
use crate::attendees::rows::{Attendees, ListRules};
use crate::aws::dynamodb::Standing;
use crate::continuation::Attempt;
use crate::deadline::{Deadline, TimeBudget};
use crate::decision::blocked;
use crate::decision::plan::{self, Lookups, Plan, PublishFailure};
use crate::delivery::Delivery;
use crate::domain::{RequestRef, SenderEmail};
use crate::error::ProcessError;
use crate::inbound::authenticity;
use crate::inbound::email::{self, InboundEmail};
use crate::inbound::notification::ObjectRef;
use crate::ledger::lease::{Claim, Lease};
use crate::ledger::state::{Checkpoint, LedgerKey};
use crate::metrics;
use crate::report::summary::Summary;
use crate::report::tally::Asked;
use crate::report::{results, sections};

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
    outcome::record(&app.config.metrics, &result, aws_calls, started.elapsed());
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
            let gone = ProcessError::EmailGone { bucket, key };
            return Err(stop::email_gone(app, object, attempt, time.deadline, gone).await);
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
        answers: email.request.clone(),
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
        Claim::Acquired(lease, resume) => (lease, *resume),
        Claim::AlreadyCompleted => {
            info!(sender = %request.sender, "request already completed; nothing to do");
            return Ok(Outcome::AlreadyCompleted);
        }
        Claim::HeldElsewhere => return Err(ProcessError::HeldElsewhere),
    };
    let result = request.carry_out(&lease, email, resume).await;
    if let Err(err) = &result
        && err.is_retryable()
        && stop::stopped_with_work_left(&request, &lease, attempt, err).await?
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

/// One request once its email is read: the organizer, the request they sent (every email to
/// them answers it), and the invocation's time and holder id.
struct Request<'a> {
    app: &'a App,
    holder: &'a str,
    time: TimeBudget,
    sender: SenderEmail,
    answers: RequestRef,
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
            .read_lists(email.lists, &email.other_attachments, email.preview)
            .await?
        {
            Ok(lists) => lists,
            Err(help) => {
                self.tell_and_close(lease, help, (0, 0)).await?;
                return Ok(Outcome::NoUsableList);
            }
        };
        let (plan, lookups) = self.look_up_and_decide(lease, lists.rows, &resume).await?;
        let invites_were_done = resume.invites_done;
        // A preview publishes nothing; its own ledger item (another email than the real send's)
        // still makes its summary go out once.
        let failures = if email.preview {
            Vec::new()
        } else {
            self.publish(lease, &plan, &lookups, resume).await?
        };
        let asked = Asked {
            request: email.request,
            lists: lists.all,
            named: lists.named,
            preview: email.preview,
        };
        let report = plan.into_report(&failures, asked);
        self.report(lease, report, invites_were_done).await
    }

    /// Step 6: read every list of the email (CPU work that may take seconds: off the async
    /// runtime, and stopped with the deadline margin still left). `Ok(Err)`: no list to use,
    /// and the help email that says so (naming `other_attachments`, what the email had instead).
    async fn read_lists(
        &self,
        sources: Vec<lists::ListSource>,
        other_attachments: &[String],
        preview: bool,
    ) -> Result<Result<Lists, Summary>, ProcessError> {
        let rules = ListRules {
            max_rows: self.app.config.limits.max_rows,
            typo_check: self.app.config.typo_check,
            event: self.event_from_subject(&sources).await?,
        };
        let until = self.time.reading_until();
        let read = tokio::task::spawn_blocking(move || lists::read(sources, &rules, until))
            .await
            .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()));
        match read {
            Ok(lists) => Ok(Ok(lists)),
            Err(NoList::NoneFound) => {
                let results = results::for_no_list(&self.answers, preview, sections::NO_LIST);
                Ok(Err(
                    sections::for_missing_list(other_attachments).with_results(results)
                ))
            }
            Err(NoList::NoneUsable(why)) => {
                let results = results::for_no_list(&self.answers, preview, &why);
                Ok(Err(sections::for_unusable_lists(&why).with_results(results)))
            }
            // The invocation's time ran out while reading: no fault of the file.
            Err(NoList::OutOfTime) => Err(ProcessError::DeadlineReached { progressed: false }),
        }
    }

    /// Steps 7 and 8: look up block records and events (cut off with the lookups' share of the
    /// margin left), then decide who is invited. A request is decided with one reading: what an
    /// earlier delivery kept (the event allowances that bound it, who blocked the organizer on
    /// a large list) is used instead of reading it again, and the first decision keeps it.
    async fn look_up_and_decide(
        &self,
        lease: &Lease<'_>,
        rows: Attendees,
        resume: &Checkpoint,
    ) -> Result<(Plan, Lookups), ProcessError> {
        let mut keys = plan::lookup_keys(&rows.candidates);
        let block_keys = keys.block_keys();
        if resume.blocked.is_some() {
            keys = keys.events_only();
        }
        let lookup = self.app.aws.directory.lookup(&self.sender, keys);
        let mut lookups = (self.time.deadline)
            .within(self.time.lookups_keep(), lookup)
            .await
            .ok_or(ProcessError::DeadlineReached { progressed: false })??;
        if let Some(kept) = &resume.blocked {
            lookups.blocked = kept.clone();
        }
        let frozen = resume.allowances.as_ref();
        let plan = plan::decide(&self.sender, rows, &lookups, frozen);

        let allowances = frozen.is_none() && !plan.allowances.is_empty();
        let blocked = resume.blocked.is_none() && blocked::worth_keeping(block_keys);
        if allowances || blocked {
            let allowances = allowances.then_some(&plan.allowances);
            let blocked = blocked.then_some(&lookups.blocked);
            lease.freeze_decision(allowances, blocked).await?;
        }
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
}
