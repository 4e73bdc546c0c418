//! The imperative shell: every AWS call the function makes, and nothing else.
//!
//! Each method fetches inputs for the pure core or carries out part of a decided plan, and maps
//! SDK errors to [`AwsError`] so the handler knows whether a retry can help.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_sdk_sns::types::PublishBatchRequestEntry;
use aws_smithy_types::Blob;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};

use crate::attendees::Candidate;
use crate::batches::{Batch, Batches, Entry};
use crate::config::Mailbox;
use crate::contract::{self, EventRecord};
use crate::domain::{AttendeeEmail, EventUid, SenderEmail};
use crate::error::{AwsError, ProcessError, is_transient_code};
use crate::metrics::CallCounter;
use crate::notification::ObjectRef;
use crate::plan::{LookupKeys, Lookups, PublishFailure};

/// Keys DynamoDB accepts in one `BatchGetItem`.
const BATCH_GET_KEYS: usize = 100;
/// Calls per batch when DynamoDB keeps returning `UnprocessedKeys` or SNS keeps failing entries.
const MAX_PARTIAL_ATTEMPTS: u32 = 8;

type Item = HashMap<String, AttributeValue>;

/// The SDK clients, built once at cold start.
#[derive(Debug, Clone)]
pub struct Aws {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
    ses: aws_sdk_sesv2::Client,
    max_in_flight: usize,
    calls: CallCounter,
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk)),
    ])
}

fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// Waits before the next attempt at a partial result: 50 ms doubling, capped at 2 s.
async fn backoff(attempt: u32) {
    let millis = (50u64 << attempt.min(6)).min(2_000);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

impl Aws {
    /// Builds the clients from one shared SDK configuration, each counting its round trips.
    pub fn new(sdk: &SdkConfig, max_in_flight: usize) -> Self {
        let calls = CallCounter::default();
        Self {
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            ),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            ),
            ses: aws_sdk_sesv2::Client::from_conf(
                aws_sdk_sesv2::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            ),
            max_in_flight: max_in_flight.max(1),
            calls,
        }
    }

    /// Round trips made so far by these clients, by operation.
    pub fn calls(&self) -> &CallCounter {
        &self.calls
    }

    /// Reads the stored email. A missing object is permanent: nothing will bring it back.
    pub async fn get_email(&self, object: &ObjectRef) -> Result<Bytes, ProcessError> {
        let output = self
            .s3
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|err| {
                let err = AwsError::from_sdk("S3.GetObject", err);
                if err.status == Some(404) || err.code.as_deref() == Some("NoSuchKey") {
                    ProcessError::ObjectMissing {
                        bucket: object.bucket.clone(),
                        key: object.key.clone(),
                    }
                } else {
                    ProcessError::Aws(err)
                }
            })?;
        let body = output.body.collect().await.map_err(|err| {
            AwsError::transient("S3.GetObject", format!("reading the object body: {err}"))
        })?;
        Ok(body.into_bytes())
    }

    /// True when the bulk authorization item `organizer#<sender>` / `bulk#<sender>` exists.
    pub async fn is_bulk_sender(
        &self,
        table: &str,
        sender: &SenderEmail,
    ) -> Result<bool, AwsError> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(table)
            .set_key(Some(key(
                format!("organizer#{sender}"),
                format!("bulk#{sender}"),
            )))
            .projection_expression("pk")
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("DynamoDB.GetItem", err))?;
        Ok(output.item.is_some())
    }

    /// Fetches the block records and events for the lookup keys, in batches of 100 keys.
    ///
    /// Takes the keys by value and builds each batch's request only when it is sent, so a
    /// large request never holds every DynamoDB key at once.
    pub async fn lookup(
        &self,
        table: &str,
        sender: &SenderEmail,
        keys: LookupKeys,
    ) -> Result<Lookups, AwsError> {
        let block_key =
            |email: &AttendeeEmail| key(format!("attendee#{email}"), format!("block#{sender}"));
        let event_key = |uid: &EventUid| key(format!("event#{uid}"), format!("event#{uid}"));
        let (block_items, event_items) = futures::try_join!(
            self.batch_get(table, &keys.attendees, block_key, Some("pk")),
            self.batch_get(table, &keys.events, event_key, None),
        )?;

        let blocked = block_items
            .iter()
            .filter_map(|item| string_attr(item, "pk")?.strip_prefix("attendee#"))
            .filter_map(|email| AttendeeEmail::parse(email).ok())
            .collect();
        let events = event_items
            .iter()
            .filter_map(|item| {
                let uid = EventUid::parse(string_attr(item, "pk")?.strip_prefix("event#")?).ok()?;
                Some((uid, EventRecord::from_item(item)))
            })
            .collect();
        Ok(Lookups { blocked, events })
    }

    /// Gets the items for `ids`, 100 keys a call, up to `max_in_flight` calls at once.
    async fn batch_get<T>(
        &self,
        table: &str,
        ids: &[T],
        to_key: impl Fn(&T) -> Item,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, AwsError> {
        let to_key = &to_key;
        let pages: Vec<Vec<Item>> = stream::iter(ids.chunks(BATCH_GET_KEYS))
            .map(|chunk| {
                self.batch_get_chunk(table, chunk.iter().map(to_key).collect(), projection)
            })
            .buffer_unordered(self.max_in_flight)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// One `BatchGetItem` of at most 100 keys, repeated with backoff for `UnprocessedKeys`.
    async fn batch_get_chunk(
        &self,
        table: &str,
        keys: Vec<Item>,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, AwsError> {
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .set_projection_expression(projection.map(str::to_string))
            .build()
            .map_err(|err| AwsError::permanent("DynamoDB.BatchGetItem", err.to_string()))?;
        let mut items = Vec::new();
        for attempt in 0..MAX_PARTIAL_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let output = self
                .dynamodb
                .batch_get_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(|err| AwsError::from_sdk("DynamoDB.BatchGetItem", err))?;
            if let Some(found) = output.responses.and_then(|mut r| r.remove(table)) {
                items.extend(found);
            }
            match output.unprocessed_keys.and_then(|mut u| u.remove(table)) {
                Some(rest) if !rest.keys.is_empty() => pending = rest,
                _ => return Ok(items),
            }
        }
        Err(AwsError::transient(
            "DynamoDB.BatchGetItem",
            format!("keys still unprocessed after {MAX_PARTIAL_ATTEMPTS} attempts"),
        ))
    }

    /// Publishes one message per invite with `PublishBatch`, up to `max_in_flight` calls at once.
    ///
    /// Entries SNS fails with a transient code are sent again; the others, and messages too large
    /// for SNS, come back as failures for the summary. A call that fails as a whole is an error.
    pub async fn publish(
        &self,
        topic_arn: &str,
        invites: &[Candidate],
        events: &HashMap<EventUid, EventRecord>,
    ) -> Result<Vec<PublishFailure>, AwsError> {
        let entries = invites.iter().enumerate().filter_map(|(index, invite)| {
            let event = events.get(&invite.uid)?;
            Some(Entry {
                index,
                message: contract::invite_message(invite, event),
            })
        });
        let failures: Vec<Vec<PublishFailure>> = stream::iter(Batches::new(entries))
            .map(|batch| async move {
                match batch {
                    Batch::TooLarge(entry) => Ok(vec![PublishFailure {
                        index: entry.index,
                        code: "message too large".to_string(),
                    }]),
                    Batch::Send(entries) => self.publish_batch(topic_arn, entries).await,
                }
            })
            .buffer_unordered(self.max_in_flight)
            .try_collect()
            .await?;
        Ok(failures.into_iter().flatten().collect())
    }

    async fn publish_batch(
        &self,
        topic_arn: &str,
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
            let output = self
                .sns
                .publish_batch()
                .topic_arn(topic_arn)
                .set_publish_batch_request_entries(Some(request))
                .send()
                .await
                .map_err(|err| AwsError::from_sdk("SNS.PublishBatch", err))?;
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

    /// Sends the summary email as a raw MIME message, so both text and HTML parts arrive.
    pub async fn send_summary(
        &self,
        from: &Mailbox,
        to: &SenderEmail,
        mime: Vec<u8>,
    ) -> Result<(), AwsError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|err| AwsError::permanent("SESv2.SendEmail", err.to_string()))?;
        self.ses
            .send_email()
            .from_email_address(&from.address)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("SESv2.SendEmail", err))?;
        Ok(())
    }
}
