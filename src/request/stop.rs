//! What a request does when it stops with work left (the deadline, a failure that goes back to
//! SQS): give up its lease, go on in a new message when it made progress, and on the message's
//! last receive tell the organizer once that the request goes to the dead-letter queue.
//!
//! Invariants: a continuation is sent only for a deadline stop that made progress, at most
//! `MAX_CONTINUATIONS` times ([`crate::continuation`]); the last word is taken from the ledger
//! before it is mailed, so however often a request is redriven the organizer gets one; every
//! call here keeps [`LAST_CALL_SLACK`] for the answer to Lambda.

use std::future::Future;

use tracing::{error, info};

use super::Request;
use crate::app::App;
use crate::continuation::Attempt;
use crate::deadline::{Deadline, LAST_CALL_SLACK};
use crate::domain::{RequestRef, SenderEmail};
use crate::error::{AwsError, ProcessError};
use crate::inbound::notification::ObjectRef;
use crate::ledger::lease::{Lease, now_ms};
use crate::ledger::state::LedgerKey;
use crate::ledger::store::LastWord;
use crate::report::sections;

/// After a stop with work left: give up the lease so the next delivery need not wait for it
/// to run out; when the stop was the deadline with progress made, go on in a new message
/// (`Ok(true)`: the record is done with); and when the record goes back to SQS on its last
/// receive, tell the organizer. A continuation that cannot be sent is the failure the record
/// goes back with.
pub(super) async fn stopped_with_work_left(
    request: &Request<'_>,
    lease: &Lease<'_>,
    attempt: &Attempt,
    err: &ProcessError,
) -> Result<bool, ProcessError> {
    let (app, deadline) = (request.app, request.time.deadline);
    lease.release().await;
    let continues =
        matches!(err, ProcessError::DeadlineReached { progressed: true }) && attempt.may_continue;
    let continued = if continues {
        continue_later(app, attempt, deadline).await.map(|()| true)
    } else {
        Ok(false)
    };
    if attempt.final_receive && !matches!(continued, Ok(true)) {
        let reason = continued.as_ref().err().unwrap_or(err);
        let known = Some((&request.sender, &request.answers));
        tell_dead_lettered(app, deadline, lease.take_last_word(), known, reason).await;
    }
    continued
}

/// A continuation whose stored email was deleted mid-request: it goes back to SQS (`gone` is
/// returned) and, on its last receive, the organizer the ledger recorded is told.
pub(super) async fn email_gone(
    app: &App,
    object: &ObjectRef,
    attempt: &Attempt,
    deadline: Deadline,
    gone: ProcessError,
) -> ProcessError {
    if attempt.final_receive {
        let ledger = LedgerKey::for_object(object);
        let last_word = app.ledger.take_last_word(&ledger, now_ms());
        tell_dead_lettered(app, deadline, last_word, None, &gone).await;
    }
    gone
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
/// to the dead-letter queue with what was sent so far, and logs it at `error`. `last_word`
/// takes the ledger's one last word; `known` is the organizer and their request when this
/// delivery read the email (the last word answers it), else the ledger's record of the
/// organizer is used.
pub(super) async fn tell_dead_lettered(
    app: &App,
    deadline: Deadline,
    last_word: impl Future<Output = Result<Option<LastWord>, AwsError>>,
    known: Option<(&SenderEmail, &RequestRef)>,
    err: &ProcessError,
) {
    let tell = async {
        let Some(last) = last_word.await? else {
            return Ok::<_, ProcessError>("no last word to send (told before, or no ledger item)");
        };
        let Some(to) = known.map(|(sender, _)| sender.clone()).or(last.sender) else {
            return Ok("no organizer address to tell");
        };
        let mut summary = sections::for_unfinished(last.sent_so_far);
        if let Some((_, request)) = known {
            summary = summary.answering(request);
        }
        app.aws.mailer.send_summary(&to, &summary).await?;
        Ok("organizer told")
    };
    match deadline.within(LAST_CALL_SLACK, tell).await {
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
