//! The ledger's storage: the only code that reads or writes a `bulk_request#` item.
//!
//! Every write is conditional on the holder, so an invocation whose lease was taken over can
//! neither move the item forward nor complete it (it learns `HeldElsewhere` and stops).

use std::collections::HashSet;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::state::{Checkpoint, LedgerKey, RETENTION_SECONDS, Taken};
use crate::aws::dynamodb::{Item, item_key, number, number_attr, string_attr};
use crate::deadline::Deadline;
use crate::decision::blocked;
use crate::decision::limits::Allowances;
use crate::domain::{AttendeeEmail, RowPosition, SenderEmail};
use crate::error::{AwsError, ProcessError};

/// Ledger `status` of a request being worked on.
const IN_PROGRESS: &str = "in_progress";
/// Ledger `status` of a finished request.
const COMPLETED: &str = "completed";
/// The attribute holding the request's frozen event allowances.
const ALLOWANCES: &str = "invite_allowances";
/// The attribute holding who blocked the organizer when a large request was first decided.
const BLOCKED: &str = "blocked_attendees";

/// The write's condition did not hold: another holder has the item, or it is in another state.
fn condition_failed(err: &SdkError<UpdateItemError>) -> bool {
    err.as_service_error()
        .is_some_and(|e| e.is_conditional_check_failed_exception())
}

/// A holder's write that failed: its condition means the lease was taken over.
fn held_write_failed(err: SdkError<UpdateItemError>) -> ProcessError {
    if condition_failed(&err) {
        ProcessError::HeldElsewhere
    } else {
        ProcessError::Aws(AwsError::from_sdk("DynamoDB.UpdateItem", err))
    }
}

fn ledger_key(key: &LedgerKey) -> Item {
    item_key(key.pk.clone(), key.sk.clone())
}

/// The ledger items in the shared table (`THIRTYONE_TABLE`).
#[derive(Debug, Clone)]
pub struct LedgerStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl LedgerStore {
    /// Wraps a client built at cold start.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }

    /// Takes the ledger item of a request for `holder` until `deadline` (the lease runs out
    /// then), unless it is completed or another holder's lease is still running.
    /// [`super::lease::Lease::claim`] hands the result back as a lease.
    pub(super) async fn claim(
        &self,
        key: &LedgerKey,
        holder: &str,
        sender: &SenderEmail,
        now_ms: i64,
        deadline: Deadline,
    ) -> Result<Taken, AwsError> {
        let lease_until_ms = deadline.epoch_ms();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .update_expression(
                "SET #status = :in_progress, lease_until = :lease, holder = :holder, expires_at = :ttl, \
                 next_row = if_not_exists(next_row, :zero), failed = if_not_exists(failed, :none), \
                 sender = :sender",
            )
            // Our own holder id matches when the SDK retries a claim whose response was lost.
            .condition_expression(
                "attribute_not_exists(pk) OR (#status = :in_progress AND (lease_until < :now OR holder = :holder))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":lease", number(lease_until_ms))
            .expression_attribute_values(":holder", AttributeValue::S(holder.into()))
            .expression_attribute_values(":sender", AttributeValue::S(sender.as_str().into()))
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
                let next_row = RowPosition::from_ledger(number_attr(&item, "next_row"));
                let failed = string_attr(&item, "failed")
                    .map(Checkpoint::parse_failed)
                    .unwrap_or_default();
                Ok(Taken::Acquired(Checkpoint {
                    next_row,
                    failed,
                    sent_so_far: number_attr(&item, "sent_so_far"),
                    invites_done: item
                        .get("invites_done")
                        .and_then(|v| v.as_bool().ok())
                        .copied()
                        .unwrap_or(false),
                    summary_attempts: number_attr(&item, "summary_attempts"),
                    stopped_at: item
                        .contains_key("stopped_at")
                        .then(|| RowPosition::from_ledger(number_attr(&item, "stopped_at"))),
                    allowances: string_attr(&item, ALLOWANCES).and_then(Allowances::from_ledger),
                    blocked: string_attr(&item, BLOCKED).and_then(blocked::from_ledger),
                }))
            }
            Err(err) if condition_failed(&err) => {
                let item = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(ledger_key(key)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|err| AwsError::from_sdk("DynamoDB.GetItem", err))?
                    .item
                    .unwrap_or_default();
                Ok(match string_attr(&item, "status") {
                    Some(COMPLETED) => Taken::AlreadyCompleted,
                    _ => Taken::HeldElsewhere,
                })
            }
            Err(err) => Err(AwsError::from_sdk("DynamoDB.UpdateItem", err)),
        }
    }

    /// Records progress, if `holder` still holds the request (else: held elsewhere now).
    pub(super) async fn save_checkpoint(
        &self,
        key: &LedgerKey,
        holder: &str,
        checkpoint: &Checkpoint,
    ) -> Result<(), ProcessError> {
        let stopped = checkpoint.stopped_at.map(|row| row.to_ledger() as i64);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .update_expression(if stopped.is_some() {
                "SET next_row = :next, failed = :failed, sent_so_far = :sent, invites_done = :done, \
                 stopped_at = :stopped"
            } else {
                "SET next_row = :next, failed = :failed, sent_so_far = :sent, invites_done = :done"
            })
            .condition_expression("holder = :holder")
            .expression_attribute_values(":next", number(checkpoint.next_row.to_ledger() as i64))
            .expression_attribute_values(":sent", number(checkpoint.sent_so_far as i64))
            .expression_attribute_values(":done", AttributeValue::Bool(checkpoint.invites_done))
            .expression_attribute_values(":failed", AttributeValue::S(checkpoint.failed_json()))
            .expression_attribute_values(":holder", AttributeValue::S(holder.into()));
        if let Some(stopped) = stopped {
            update = update.expression_attribute_values(":stopped", number(stopped));
        }
        update.send().await.map_err(held_write_failed)?;
        Ok(())
    }

    /// Counts one more start of the summary's send, before it starts: a send whose answer is
    /// lost counts too, since SES may have taken it.
    pub(super) async fn count_summary_attempt(
        &self,
        key: &LedgerKey,
        holder: &str,
    ) -> Result<(), ProcessError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .update_expression("ADD summary_attempts :one")
            .condition_expression("holder = :holder")
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":holder", AttributeValue::S(holder.into()))
            .send()
            .await
            .map_err(held_write_failed)?;
        Ok(())
    }

    /// Keeps what the request's first decision read, so every later delivery decides with it:
    /// the event allowances that bound it and who blocked the organizer, each when given and
    /// small enough for the item; the first value written of each stays.
    pub(super) async fn freeze_decision(
        &self,
        key: &LedgerKey,
        holder: &str,
        allowances: Option<&Allowances>,
        blocked: Option<&HashSet<AttendeeEmail>>,
    ) -> Result<(), ProcessError> {
        let kept = [
            (ALLOWANCES, allowances.and_then(Allowances::to_ledger)),
            (BLOCKED, blocked.and_then(blocked::to_ledger)),
        ];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(key)))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", AttributeValue::S(holder.into()));
        let mut sets = Vec::new();
        for (n, (attribute, json)) in kept.into_iter().enumerate() {
            let Some(json) = json else { continue };
            sets.push(format!("#a{n} = if_not_exists(#a{n}, :v{n})"));
            update = update
                .expression_attribute_names(format!("#a{n}"), attribute)
                .expression_attribute_values(format!(":v{n}"), AttributeValue::S(json));
        }
        if sets.is_empty() {
            return Ok(());
        }
        update
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .map_err(held_write_failed)?;
        Ok(())
    }

    /// Gives up the lease after a failure, so the redelivery need not wait for it to run out.
    pub(super) async fn release(&self, key: &LedgerKey, holder: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
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
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(AwsError::from_sdk("DynamoDB.UpdateItem", err)),
        }
    }

    /// Takes the one last word of a request that is about to land in the dead-letter queue:
    /// `Some` (invites sent so far, and the organizer) the first time, `None` ever after (or
    /// when the request has no ledger item, or is completed), so the organizer never gets a
    /// second one.
    pub async fn take_last_word(
        &self,
        key: &LedgerKey,
        now_ms: i64,
    ) -> Result<Option<LastWord>, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
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
            Ok(output) => {
                let item = output.attributes.unwrap_or_default();
                Ok(Some(LastWord {
                    sent_so_far: number_attr(&item, "sent_so_far"),
                    sender: string_attr(&item, "sender").and_then(|s| SenderEmail::parse(s).ok()),
                }))
            }
            Err(err) if condition_failed(&err) => Ok(None),
            Err(err) => Err(AwsError::from_sdk("DynamoDB.UpdateItem", err)),
        }
    }

    /// Marks the request completed, with its totals, so redeliveries do nothing.
    pub(super) async fn complete(
        &self,
        key: &LedgerKey,
        holder: &str,
        sent: usize,
        not_sent: usize,
    ) -> Result<(), AwsError> {
        self.client
            .update_item()
            .table_name(&self.table)
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
}

/// What the last word needs from the ledger item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWord {
    /// Invites published so far.
    pub sent_so_far: u64,
    /// The organizer, as the claim recorded them (absent on items written before it did).
    pub sender: Option<SenderEmail>,
}
