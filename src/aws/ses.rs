//! SES: the summary email to the organizer, from the system address (`SYSTEM_EMAIL`).
//!
//! Invariant: a send is tried again only when it provably never reached SES: SES answered
//! that it is throttling, or the connection was refused. The client has no SDK retries (a
//! timed-out attempt, or a connection dropped after the request went out, may have been
//! delivered, and SES has no idempotency token); the redelivery of the request, bounded by the
//! ledger's count of summary attempts, is the retry for those.

use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::Blob;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::backoff;

use crate::config::Mailbox;
use crate::domain::SenderEmail;
use crate::error::AwsError;
use crate::report::summary::{self, Summary};

/// The system mailbox the summaries come from.
#[derive(Debug, Clone)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    from: Mailbox,
    max_attempts: u32,
}

impl Mailer {
    /// Wraps a client built at cold start (without SDK retries); `max_attempts` bounds the
    /// sends of one email that never reached SES.
    pub fn new(client: aws_sdk_sesv2::Client, from: Mailbox, max_attempts: u32) -> Self {
        Self {
            client,
            from,
            max_attempts: max_attempts.max(1),
        }
    }

    /// Sends the summary email as a raw MIME message, so both text and HTML parts arrive.
    pub async fn send_summary(&self, to: &SenderEmail, summary: &Summary) -> Result<(), AwsError> {
        let mime = summary::to_mime(summary, &self.from, to);
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|err| AwsError::environment("SESv2.SendEmail", err.to_string()))?;
        let content = EmailContent::builder().raw(raw).build();
        let mut attempt = 0;
        loop {
            let sent = self
                .client
                .send_email()
                .from_email_address(&self.from.address)
                .destination(Destination::builder().to_addresses(to.as_str()).build())
                .content(content.clone())
                .send()
                .await;
            match sent {
                Ok(_) => break,
                Err(err) if attempt + 1 < self.max_attempts && never_reached_ses(&err) => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                Err(err) => return Err(AwsError::from_sdk("SESv2.SendEmail", err)),
            }
        }
        Ok(())
    }
}

/// True when SES certainly did not take the message: it answered that it is throttling, or the
/// connection was refused before anything was sent.
fn never_reached_ses(err: &SdkError<SendEmailError, HttpResponse>) -> bool {
    match err {
        SdkError::ServiceError(service) => {
            service.raw().status().as_u16() == 429
                || service
                    .err()
                    .code()
                    .is_some_and(crate::error::is_throttling_code)
        }
        SdkError::DispatchFailure(_) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
            while let Some(error) = cause {
                if let Some(io) = error.downcast_ref::<std::io::Error>()
                    && io.kind() == std::io::ErrorKind::ConnectionRefused
                {
                    return true;
                }
                cause = error.source();
            }
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn answered(status: u16, code: &str) -> SdkError<SendEmailError, HttpResponse> {
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::from("{}"));
        let meta = ErrorMetadata::builder().code(code).build();
        SdkError::service_error(SendEmailError::generic(meta), raw)
    }

    fn dispatch(kind: std::io::ErrorKind) -> SdkError<SendEmailError, HttpResponse> {
        SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::new(
            kind, "injected",
        ))))
    }

    #[test]
    fn only_what_never_reached_ses_is_sent_again() {
        assert!(never_reached_ses(&answered(
            429,
            "TooManyRequestsException"
        )));
        assert!(never_reached_ses(&answered(400, "Throttling")));
        assert!(never_reached_ses(&dispatch(
            std::io::ErrorKind::ConnectionRefused
        )));
        assert!(!never_reached_ses(&dispatch(
            std::io::ErrorKind::ConnectionReset
        )));
        assert!(!never_reached_ses(&answered(500, "InternalFailure")));
        assert!(!never_reached_ses(&answered(400, "MessageRejected")));
        assert!(!never_reached_ses(&SdkError::timeout_error(
            "attempt timeout"
        )));
    }
}
