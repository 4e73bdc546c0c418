//! SES: the summary email to the organizer, from the system address (`SYSTEM_EMAIL`).

use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_smithy_types::Blob;

use crate::attendees::domain::SenderEmail;
use crate::config::Mailbox;
use crate::error::AwsError;
use crate::report::summary::{self, Summary};

/// The system mailbox the summaries come from.
#[derive(Debug, Clone)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    from: Mailbox,
}

impl Mailer {
    /// Wraps a client built at cold start.
    pub fn new(client: aws_sdk_sesv2::Client, from: Mailbox) -> Self {
        Self { client, from }
    }

    /// Sends the summary email as a raw MIME message, so both text and HTML parts arrive.
    pub async fn send_summary(&self, to: &SenderEmail, summary: &Summary) -> Result<(), AwsError> {
        let mime = summary::to_mime(summary, &self.from, to);
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|err| AwsError::environment("SESv2.SendEmail", err.to_string()))?;
        self.client
            .send_email()
            .from_email_address(&self.from.address)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("SESv2.SendEmail", err))?;
        Ok(())
    }
}
