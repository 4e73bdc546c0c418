//! SQS: a long request goes on in a new message on its own queue (the queue URL comes from the
//! record's `eventSourceARN`, see [`crate::continuation`]).

use crate::error::AwsError;

/// The queue the function reads from.
#[derive(Debug, Clone)]
pub struct Requeue {
    client: aws_sdk_sqs::Client,
}

impl Requeue {
    /// Wraps a client built at cold start.
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        Self { client }
    }

    /// Sends `body` to the queue again as a new message, so a long request goes on in a fresh
    /// invocation without spending a receive of the original message (docs/operations.md "Long requests").
    pub async fn send_continuation(
        &self,
        queue_url: &str,
        body: &str,
        continuation: u32,
    ) -> Result<(), AwsError> {
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(continuation.to_string())
            .build()
            .map_err(|err| AwsError::environment("SQS.SendMessage", err.to_string()))?;
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .message_attributes(crate::continuation::ATTRIBUTE, attribute)
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("SQS.SendMessage", err))?;
        Ok(())
    }
}
