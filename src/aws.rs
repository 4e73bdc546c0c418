//! The imperative shell: every AWS call the function makes, and nothing else.
//!
//! Each method fetches inputs for the pure core or carries out part of a decided plan, and maps
//! SDK errors to [`AwsError`] so the handler knows whether a retry can help.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use aws_sdk_sns::types::PublishBatchRequestEntry;
use aws_smithy_types::Blob;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};

use crate::batches::Entry;
use crate::config::Mailbox;
use crate::contract::EventRecord;
use crate::domain::{AttendeeEmail, EventUid, SenderEmail};
use crate::error::{AwsError, ErrorClass, ProcessError, is_transient_code};
use crate::ledger::{Checkpoint, Claim, LedgerKey, RETENTION_SECONDS};
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
    sqs: aws_sdk_sqs::Client,
    max_in_flight: usize,
    calls: CallCounter,
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk)),
    ])
}

fn ledger_key(key: &LedgerKey) -> Item {
    self::key(key.pk.clone(), key.sk.clone())
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// Ledger `status` of a request being worked on.
const IN_PROGRESS: &str = "in_progress";
/// Ledger `status` of a finished request.
const COMPLETED: &str = "completed";

fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn number_attr(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
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
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(sdk)
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

    /// Reads the stored email and its ETag. A missing object is permanent: nothing will bring it
    /// back; so is one larger than `max_bytes`, which is not read at all.
    pub async fn get_email(
        &self,
        object: &ObjectRef,
        max_bytes: u64,
    ) -> Result<(Bytes, Option<String>), ProcessError> {
        let output = self
            .s3
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|err| {
                let err = AwsError::from_sdk("S3.GetObject", err);
                // S3 answers 404 without a code to a HEAD-like miss; NoSuchBucket is a setup fault.
                let gone = err.class == ErrorClass::ObjectGone
                    || (err.status == Some(404) && err.code.is_none());
                if gone {
                    ProcessError::ObjectMissing {
                        bucket: object.bucket.clone(),
                        key: object.key.clone(),
                    }
                } else {
                    ProcessError::Aws(err)
                }
            })?;
        let size = u64::try_from(output.content_length.unwrap_or(0)).unwrap_or(0);
        if size > max_bytes {
            return Err(ProcessError::TooLarge {
                bucket: object.bucket.clone(),
                key: object.key.clone(),
                size,
                max_bytes,
            });
        }
        let etag = output.e_tag.clone();
        let body = output.body.collect().await.map_err(|err| {
            AwsError::transient("S3.GetObject", format!("reading the object body: {err}"))
        })?;
        Ok((body.into_bytes(), etag))
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
            .map_err(|err| AwsError::environment("DynamoDB.BatchGetItem", err.to_string()))?;
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

    /// Sends one `PublishBatch` (at most 10 entries, 256 KiB). Entries SNS fails for a reason on
    /// AWS's side are sent again with backoff; the others come back as failures for the summary.
    /// A call that fails as a whole is an error.
    pub async fn publish_batch(
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
            let sent = self
                .sns
                .publish_batch()
                .topic_arn(topic_arn)
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

    /// Takes the ledger item of a request for `holder` until `lease_until_ms` (epoch ms), unless it
    /// is completed or another holder's lease is still running.
    pub async fn claim(
        &self,
        table: &str,
        key: &LedgerKey,
        holder: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Claim, AwsError> {
        let result = self
            .dynamodb
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(key)))
            .update_expression(
                "SET #status = :in_progress, lease_until = :lease, holder = :holder, expires_at = :ttl, \
                 next_row = if_not_exists(next_row, :zero), failed = if_not_exists(failed, :none)",
            )
            // Our own holder id matches when the SDK retries a claim whose response was lost.
            .condition_expression(
                "attribute_not_exists(pk) OR (#status = :in_progress AND (lease_until < :now OR holder = :holder))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":lease", number(lease_until_ms))
            .expression_attribute_values(":holder", AttributeValue::S(holder.into()))
            .expression_attribute_values(":ttl", number(now_ms / 1000 + RETENTION_SECONDS))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":none", AttributeValue::S("[]".into()))
            .expression_attribute_values(":now", number(now_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                let next_row = number_attr(&item, "next_row");
                let failed = string_attr(&item, "failed")
                    .map(Checkpoint::parse_failed)
                    .unwrap_or_default();
                Ok(Claim::Acquired(Checkpoint {
                    next_row,
                    failed,
                    sent_so_far: number_attr(&item, "sent_so_far"),
                    invites_done: item
                        .get("invites_done")
                        .and_then(|v| v.as_bool().ok())
                        .copied()
                        .unwrap_or(false),
                }))
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let item = self
                    .dynamodb
                    .get_item()
                    .table_name(table)
                    .set_key(Some(ledger_key(key)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|err| AwsError::from_sdk("DynamoDB.GetItem", err))?
                    .item
                    .unwrap_or_default();
                Ok(match string_attr(&item, "status") {
                    Some(COMPLETED) => Claim::AlreadyCompleted,
                    _ => Claim::HeldElsewhere,
                })
            }
            Err(err) => Err(AwsError::from_sdk("DynamoDB.UpdateItem", err)),
        }
    }

    /// Records progress, if `holder` still holds the request (else: held elsewhere now).
    pub async fn save_checkpoint(
        &self,
        table: &str,
        key: &LedgerKey,
        holder: &str,
        checkpoint: &Checkpoint,
    ) -> Result<(), ProcessError> {
        self.dynamodb
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(key)))
            .update_expression(
                "SET next_row = :next, failed = :failed, sent_so_far = :sent, invites_done = :done",
            )
            .condition_expression("holder = :holder")
            .expression_attribute_values(":next", number(checkpoint.next_row as i64))
            .expression_attribute_values(":sent", number(checkpoint.sent_so_far as i64))
            .expression_attribute_values(":done", AttributeValue::Bool(checkpoint.invites_done))
            .expression_attribute_values(":failed", AttributeValue::S(checkpoint.failed_json()))
            .expression_attribute_values(":holder", AttributeValue::S(holder.into()))
            .send()
            .await
            .map_err(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    ProcessError::HeldElsewhere
                } else {
                    ProcessError::Aws(AwsError::from_sdk("DynamoDB.UpdateItem", err))
                }
            })?;
        Ok(())
    }

    /// Gives up the lease after a failure, so the redelivery need not wait for it to run out.
    pub async fn release(
        &self,
        table: &str,
        key: &LedgerKey,
        holder: &str,
    ) -> Result<(), AwsError> {
        let result = self
            .dynamodb
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(key)))
            .update_expression("SET lease_until = :zero")
            .condition_expression("holder = :holder AND #status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":holder", AttributeValue::S(holder.into()))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else holds it now, or it completed: nothing of ours to give up.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(AwsError::from_sdk("DynamoDB.UpdateItem", err)),
        }
    }

    /// Takes the one last word of a request that is about to land in the dead-letter queue:
    /// `Some(invites sent so far)` the first time, `None` ever after (or when the request has
    /// no ledger item, or is completed), so the organizer never gets a second one.
    pub async fn take_last_word(
        &self,
        table: &str,
        key: &LedgerKey,
        now_ms: i64,
    ) -> Result<Option<u64>, AwsError> {
        let result = self
            .dynamodb
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(key)))
            .update_expression("SET last_word_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(last_word_at) AND #status = :in_progress",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", number(now_ms))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(number_attr(
                &output.attributes.unwrap_or_default(),
                "sent_so_far",
            ))),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(AwsError::from_sdk("DynamoDB.UpdateItem", err)),
        }
    }

    /// Sends `body` to the queue again as a new message, so a long request goes on in a fresh
    /// invocation without spending a receive of the original message (README "Long requests").
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
        self.sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .message_attributes(crate::continuation::ATTRIBUTE, attribute)
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("SQS.SendMessage", err))?;
        Ok(())
    }

    /// Marks the request completed, with its totals, so redeliveries do nothing.
    pub async fn complete(
        &self,
        table: &str,
        key: &LedgerKey,
        holder: &str,
        sent: usize,
        not_sent: usize,
    ) -> Result<(), AwsError> {
        self.dynamodb
            .update_item()
            .table_name(table)
            .set_key(Some(ledger_key(key)))
            .update_expression(
                "SET #status = :completed, sent = :sent, not_sent = :not_sent REMOVE lease_until",
            )
            .condition_expression("holder = :holder")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":completed", AttributeValue::S(COMPLETED.into()))
            .expression_attribute_values(":sent", number(sent as i64))
            .expression_attribute_values(":not_sent", number(not_sent as i64))
            .expression_attribute_values(":holder", AttributeValue::S(holder.into()))
            .send()
            .await
            .map_err(|err| AwsError::from_sdk("DynamoDB.UpdateItem", err))?;
        Ok(())
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
            .map_err(|err| AwsError::environment("SESv2.SendEmail", err.to_string()))?;
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
