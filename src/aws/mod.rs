//! The imperative shell: every AWS call the function makes, one file per service.
//!
//! Each wrapper owns its resource name (table, topic, system mailbox; the bucket and the queue
//! come with each record), maps the SDK's errors to [`crate::error::AwsError`] (whose class decides the
//! record's fate) and owns its share of the concurrency. Partial results (unprocessed keys,
//! failed batch entries, whole-batch throttling) are retried here with backoff; the SDK retries
//! whole calls. The request ledger's writes are in [`crate::ledger::store`], on this module's
//! DynamoDB client.

pub mod dynamodb;
pub mod s3;
pub mod ses;
pub mod sns;
pub mod sqs;

use std::time::Duration;

use aws_config::SdkConfig;

use crate::config::Config;
use crate::metrics::CallCounter;

/// Calls per batch when DynamoDB keeps returning `UnprocessedKeys` or SNS keeps failing entries.
const MAX_PARTIAL_ATTEMPTS: u32 = 8;

/// Waits before the next attempt at a partial result: 50 ms doubling, capped at 2 s.
async fn backoff(attempt: u32) {
    let millis = (50u64 << attempt.min(6)).min(2_000);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// The service wrappers, built once at cold start from one SDK configuration.
#[derive(Debug, Clone)]
pub struct Aws {
    /// The stored emails.
    pub inbox: s3::Inbox,
    /// Organizers, events and block records.
    pub directory: dynamodb::Directory,
    /// The invite topic.
    pub topic: sns::Topic,
    /// The summary sender.
    pub mailer: ses::Mailer,
    /// Continuations of long requests.
    pub requeue: sqs::Requeue,
    dynamodb: aws_sdk_dynamodb::Client,
    calls: CallCounter,
}

impl Aws {
    /// Builds every client from `sdk`, each counting its round trips, and hands each wrapper
    /// its resource name from `config`.
    pub fn new(sdk: &SdkConfig, config: &Config) -> Self {
        let calls = CallCounter::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(calls.clone())
                .build(),
        );
        Self {
            inbox: s3::Inbox::new(aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            )),
            directory: dynamodb::Directory::new(
                dynamodb.clone(),
                config.table.clone(),
                config.max_in_flight,
            ),
            dynamodb,
            topic: sns::Topic::new(
                aws_sdk_sns::Client::from_conf(
                    aws_sdk_sns::config::Builder::from(sdk)
                        .interceptor(calls.clone())
                        .build(),
                ),
                config.topic_arn.clone(),
                config.max_in_flight,
            ),
            // No SDK retries: a send whose answer is lost may have been delivered, and SES has
            // no idempotency token. The mailer retries only what never reached SES.
            mailer: ses::Mailer::new(
                aws_sdk_sesv2::Client::from_conf(
                    aws_sdk_sesv2::config::Builder::from(sdk)
                        .retry_config(aws_config::retry::RetryConfig::disabled())
                        .interceptor(calls.clone())
                        .build(),
                ),
                config.system_email.clone(),
                config.sdk.max_attempts,
            ),
            requeue: sqs::Requeue::new(aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            )),
            calls,
        }
    }

    /// The DynamoDB client, for the request ledger's store ([`crate::ledger::store`]), which
    /// shares the table and the round-trip count.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb.clone()
    }

    /// Round trips made so far by these clients, by operation.
    pub fn calls(&self) -> &CallCounter {
        &self.calls
    }
}
