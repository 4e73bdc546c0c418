//! SNS: publishing the invites to the topic other services read (the message shape is in
//! [`crate::decision::contract`]).

use aws_sdk_sns::types::PublishBatchRequestEntry;

use super::{MAX_PARTIAL_ATTEMPTS, backoff};
use crate::decision::batches::Entry;
use crate::decision::plan::PublishFailure;
use crate::error::{AwsError, is_transient_code};

/// The invite topic (`NEW_EVENT_INVITE`) and how many `PublishBatch` calls may be in flight.
#[derive(Debug, Clone)]
pub struct Topic {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    max_in_flight: usize,
}

impl Topic {
    /// Wraps a client built at cold start.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String, max_in_flight: usize) -> Self {
        Self {
            client,
            topic_arn,
            max_in_flight,
        }
    }

    /// Concurrent `PublishBatch` calls of one request (`MAX_IN_FLIGHT`).
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Sends one `PublishBatch` (at most 10 entries, 256 KiB). Entries SNS fails for a reason on
    /// AWS's side are sent again with backoff; the others come back as failures for the summary.
    /// A call that fails as a whole is an error.
    pub async fn publish_batch(
        &self,
        mut entries: Vec<Entry>,
    ) -> Result<Vec<PublishFailure>, AwsError> {
        let mut failures = Vec::new();
        for attempt in 0..MAX_PARTIAL_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let request: Vec<PublishBatchRequestEntry> = entries
                .iter()
                .enumerate()
                .map(|(position, entry)| {
                    PublishBatchRequestEntry::builder()
                        .id(position.to_string())
                        .message(&entry.message)
                        .message_structure("json")
                        .build()
                        .expect("id and message are set")
                })
                .collect();
            let sent = self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(request))
                .send()
                .await;
            let output = match sent {
                Ok(output) => output,
                Err(err) => {
                    let err = AwsError::from_sdk("SNS.PublishBatch", err);
                    // Sustained throttling (the topic's publish quota) outlasts the SDK's own
                    // few retries: back off and send the batch again rather than fail it.
                    if err.is_throttling() && attempt + 1 < MAX_PARTIAL_ATTEMPTS {
                        tracing::debug!(attempt, "SNS throttled a whole batch; backing off");
                        continue;
                    }
                    return Err(err);
                }
            };
            let mut retry = Vec::new();
            for failed in output.failed.unwrap_or_default() {
                let Some(position) = failed
                    .id
                    .parse::<usize>()
                    .ok()
                    .filter(|p| *p < entries.len())
                else {
                    tracing::warn!(id = %failed.id, "SNS reported a failure for an unknown batch entry id");
                    continue;
                };
                let transient = !failed.sender_fault || is_transient_code(&failed.code);
                if transient && attempt + 1 < MAX_PARTIAL_ATTEMPTS {
                    retry.push(position);
                } else {
                    failures.push(PublishFailure {
                        index: entries[position].index,
                        code: failed.code,
                    });
                }
            }
            if retry.is_empty() {
                return Ok(failures);
            }
            retry.sort_unstable();
            entries = entries
                .into_iter()
                .enumerate()
                .filter(|(position, _)| retry.binary_search(position).is_ok())
                .map(|(_, entry)| entry)
                .collect();
        }
        Ok(failures)
    }
}
