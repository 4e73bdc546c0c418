//! What became of a request, and the one metrics line that says so.

use std::time::Duration;

use tracing::info;

use crate::domain::SenderEmail;
use crate::emf::{self, MetricsConfig, RequestMetrics, RequestOutcome};
use crate::error::ProcessError;

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

/// Writes the request's EMF line: its outcome (an error's from [`ProcessError::ending`], the
/// same decision its log line reads), calls, duration and, when processed, its rows.
pub(super) fn record(
    config: &MetricsConfig,
    result: &Result<Outcome, ProcessError>,
    aws_calls: u64,
    duration: Duration,
) {
    let outcome = match result {
        Ok(outcome) => outcome.metric(),
        Err(err) => err.ending().outcome,
    };
    let mut figures = RequestMetrics {
        aws_calls,
        duration,
        ..RequestMetrics::new(outcome)
    };
    if let Ok(Outcome::Processed(tally)) = result {
        let not_sent: u64 = tally.not_sent.iter().map(|(_, n)| n).sum();
        info!(sender = %tally.sender, sent = tally.sent, not_sent, preview = tally.preview, aws_calls, "bulk request processed");
        figures.rows = tally.rows;
        figures.invites_sent = tally.sent as u64;
        figures.not_sent = tally.not_sent.clone();
    }
    emf::emit(config, &figures);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_metric() {
        let tally = |preview| {
            Outcome::Processed(Tally {
                sender: SenderEmail::parse("org@example.com").unwrap(),
                rows: 2,
                sent: 1,
                not_sent: vec![("invalid_email", 1)],
                preview,
            })
        };
        assert_eq!(tally(false).metric(), RequestOutcome::Processed);
        assert_eq!(tally(true).metric(), RequestOutcome::Previewed);
        assert_eq!(Outcome::NoUsableList.metric(), RequestOutcome::Processed);
        assert_eq!(Outcome::Suspended.metric(), RequestOutcome::Refused);
        assert_eq!(Outcome::Ignored.metric(), RequestOutcome::NotARequest);
        assert_eq!(Outcome::Continued.metric(), RequestOutcome::Continued);
    }
}
