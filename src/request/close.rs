//! Step 10: the summary (or the help) to the organizer, then the request completed.
//!
//! Invariant: a summary sent and then cut off before the ledger says so would be sent again by
//! the next delivery, so both start only when the time budget may close, the send leaves the
//! completion its share, and each delivery counts its send in the ledger before starting it
//! (after [`crate::ledger::state::MAX_SUMMARY_ATTEMPTS`], the request completes without one).

use tracing::warn;

use super::{Outcome, Request, Tally};
use crate::error::ProcessError;
use crate::ledger::lease::Lease;
use crate::report::sections;
use crate::report::summary::Summary;
use crate::report::tally::Report;

impl Request<'_> {
    /// Step 10: tell the organizer what was sent and what was not, then complete the request.
    pub(super) async fn report(
        &self,
        lease: &Lease<'_>,
        report: Report,
        invites_were_done: bool,
    ) -> Result<Outcome, ProcessError> {
        let (sent, not_sent) = (report.sent(), report.not_sent());
        let summary = sections::for_report(&report);
        self.tell_and_close(lease, summary, (sent, not_sent))
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

    /// Sends `summary` and completes the request with its totals (`sent`, `not_sent`), as the
    /// module's invariant says.
    pub(super) async fn tell_and_close(
        &self,
        lease: &Lease<'_>,
        summary: Summary,
        (sent, not_sent): (usize, usize),
    ) -> Result<(), ProcessError> {
        if !self.time.may_close() {
            return Err(ProcessError::DeadlineReached { progressed: false });
        }
        if lease.may_send_summary() {
            lease.count_summary_attempt().await?;
            let summary = summary.answering(&self.answers);
            let send = self.app.aws.mailer.send_summary(&self.sender, &summary);
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
