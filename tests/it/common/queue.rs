//! A real queue on the emulator, driven the way Lambda's SQS event source drives the function:
//! receive one message, invoke the real handler with a deadline, delete what it acknowledged,
//! make the rest visible again. The queue has a dead-letter queue with `max_receives`, and moto
//! moves a message there when a receive would exceed it, as SQS does.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use lambda_runtime::{Context, LambdaEvent};

use super::{Fixture, unique};

/// A queue with its dead-letter queue.
pub struct Queue {
    client: aws_sdk_sqs::Client,
    pub url: String,
    pub arn: String,
    pub dead_url: String,
}

/// What one drive of the queue saw.
#[derive(Debug, Default)]
pub struct Run {
    /// Invocations made.
    pub invocations: usize,
    /// Records handed back to SQS (`batchItemFailures`).
    pub returned: usize,
    /// Messages in the dead-letter queue at the end.
    pub dead: usize,
    /// Invocations that answered after their deadline (Lambda would have killed them).
    pub late: usize,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl Queue {
    /// Creates `name` and `name-dead`, with `maxReceiveCount = max_receives`.
    pub async fn new(f: &Fixture, max_receives: u32) -> Self {
        let client = aws_sdk_sqs::Client::new(&f.sdk);
        let name = unique("bulk-requests");
        let dead_url = client
            .create_queue()
            .queue_name(format!("{name}-dead"))
            .send()
            .await
            .expect("create dead-letter queue")
            .queue_url
            .unwrap();
        let dead_arn = Self::arn_of(&client, &dead_url).await;
        let policy =
            serde_json::json!({"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receives});
        let url = client
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
            .attributes(QueueAttributeName::VisibilityTimeout, "60")
            .send()
            .await
            .expect("create queue")
            .queue_url
            .unwrap();
        let arn = Self::arn_of(&client, &url).await;
        Self {
            client,
            url,
            arn,
            dead_url,
        }
    }

    async fn arn_of(client: &aws_sdk_sqs::Client, url: &str) -> String {
        client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap()
            .remove(&QueueAttributeName::QueueArn)
            .unwrap()
    }

    /// Sends a notification body, as SNS does.
    pub async fn send(&self, body: &str) {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .expect("send message");
    }

    /// Removes one message from the dead-letter queue and returns its body (an operator's
    /// redrive takes it from there).
    pub async fn take_dead_letter(&self) -> String {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.dead_url)
            .max_number_of_messages(1)
            .send()
            .await
            .expect("receive from the dead-letter queue");
        let message = out
            .messages
            .unwrap_or_default()
            .into_iter()
            .next()
            .expect("a dead letter");
        self.client
            .delete_message()
            .queue_url(&self.dead_url)
            .receipt_handle(message.receipt_handle.unwrap())
            .send()
            .await
            .expect("delete the dead letter");
        message.body.unwrap()
    }

    /// Messages waiting in the dead-letter queue (received and left there).
    pub async fn dead_letters(&self) -> usize {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.dead_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive from the dead-letter queue");
        out.messages.unwrap_or_default().len()
    }

    /// Delivers messages to the handler, one per invocation with `budget_ms` to its deadline,
    /// until the queue is empty or `max_invocations` were made. `between` runs before each
    /// invocation (to fix the environment at some point, say).
    pub async fn drive(
        &self,
        f: &Fixture,
        budget_ms: u64,
        max_invocations: usize,
        mut between: impl AsyncFnMut(usize),
    ) -> Run {
        let mut run = Run::default();
        while run.invocations < max_invocations {
            let received = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .expect("receive");
            let Some(message) = received.messages.unwrap_or_default().into_iter().next() else {
                break;
            };
            between(run.invocations).await;
            let record = self.record(&message);
            let mut event = SqsEvent::default();
            event.records = vec![record];
            let mut context = Context::default();
            context.request_id = unique("invocation");
            context.deadline = now_ms() + budget_ms;
            let deadline = context.deadline;
            let response = bulk_invites::handler::handle(&f.app, LambdaEvent::new(event, context))
                .await
                .expect("handler answers");
            run.late += usize::from(now_ms() > deadline);
            run.invocations += 1;
            let handle = message.receipt_handle.unwrap();
            if response.batch_item_failures.is_empty() {
                self.client
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete");
            } else {
                run.returned += 1;
                self.client
                    .change_message_visibility()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .expect("make visible again");
            }
        }
        run.dead = self.dead_letters().await;
        run
    }

    /// The Lambda record for a received message, as the event source mapping builds it.
    fn record(&self, message: &aws_sdk_sqs::types::Message) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id.clone();
        record.receipt_handle = message.receipt_handle.clone();
        record.body = message.body.clone();
        record.event_source = Some("aws:sqs".into());
        record.event_source_arn = Some(self.arn.clone());
        for (name, value) in message.attributes.clone().unwrap_or_default() {
            record.attributes.insert(name.as_str().to_string(), value);
        }
        for (name, value) in message.message_attributes.clone().unwrap_or_default() {
            let mut attribute = SqsMessageAttribute::default();
            attribute.string_value = value.string_value;
            attribute.data_type = Some(value.data_type);
            record.message_attributes.insert(name, attribute);
        }
        record
    }
}
