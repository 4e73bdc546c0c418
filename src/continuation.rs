//! Where a record stands in its life on the queue: which receive this is, whether it is the last
//! before the dead-letter queue, and whether a long request may go on in a new message.
//!
//! A request that is making progress when its invocation's time runs out must not spend the
//! queue's receive budget (`maxReceiveCount`) on being long: the request saves progress, sends
//! the same body to the same queue as a new message carrying a continuation count, and
//! acknowledges the current one. Bounds: only a delivery that published something continues
//! (one that made no progress goes back to SQS and spends a receive, so a stuck request still
//! reaches the dead-letter queue), and at most `MAX_CONTINUATIONS` times per request.

use aws_lambda_events::sqs::SqsMessage;

/// Message attribute holding how many continuations came before this message.
pub const ATTRIBUTE: &str = "bulk_invites_continuation";

/// One SQS record's place in its request's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// `ApproximateReceiveCount` of this message (1 on its first delivery).
    pub receive_count: u32,
    /// Continuations before this message (0 for the notification itself).
    pub continuation: u32,
    /// URL of the queue the record came from, when its ARN says it.
    pub queue_url: Option<String>,
    /// True when a failure now sends the message to the dead-letter queue.
    pub final_receive: bool,
    /// True when a deadline stop with progress may continue in a new message.
    pub may_continue: bool,
    /// The record's body, which a continuation sends again.
    pub body: String,
}

impl Attempt {
    /// Reads the record's attributes against the queue's `max_receives` and the continuation cap.
    pub fn of(record: &SqsMessage, max_receives: u32, max_continuations: u32) -> Self {
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let continuation = record
            .message_attributes
            .get(ATTRIBUTE)
            .and_then(|a| a.string_value.as_deref())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let queue_url = record.event_source_arn.as_deref().and_then(queue_url);
        Self {
            receive_count,
            continuation,
            final_receive: receive_count >= max_receives,
            may_continue: queue_url.is_some() && continuation < max_continuations,
            queue_url,
            body: record.body.clone().unwrap_or_default(),
        }
    }
}

/// The queue URL for a queue ARN (`arn:aws:sqs:us-west-2:123456789012:name`).
///
/// The SDK sends to its own endpoint (`AWS_ENDPOINT_URL` locally) and SQS reads the queue from
/// the URL's account and name, so this works against AWS and the emulator alike.
pub fn queue_url(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("sqs"), Some(region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    if !(valid(region) && valid(account) && valid(name)) {
        return None;
    }
    let domain = match partition {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    };
    Some(format!("https://sqs.{region}.{domain}/{account}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsMessageAttribute;

    fn record(receives: &str, continuation: Option<&str>, arn: Option<&str>) -> SqsMessage {
        let mut record = SqsMessage::default();
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), receives.into());
        if let Some(n) = continuation {
            let mut attribute = SqsMessageAttribute::default();
            attribute.string_value = Some(n.into());
            attribute.data_type = Some("Number".into());
            record
                .message_attributes
                .insert(ATTRIBUTE.into(), attribute);
        }
        record.event_source_arn = arn.map(str::to_string);
        record
    }

    const ARN: &str = "arn:aws:sqs:us-west-2:123456789012:get-new-bulk-event-invites-from-email";

    #[test]
    fn queue_urls_come_from_arns() {
        assert_eq!(
            queue_url(ARN).as_deref(),
            Some(
                "https://sqs.us-west-2.amazonaws.com/123456789012/get-new-bulk-event-invites-from-email"
            )
        );
        assert_eq!(
            queue_url("arn:aws-cn:sqs:cn-north-1:1:q").as_deref(),
            Some("https://sqs.cn-north-1.amazonaws.com.cn/1/q")
        );
        for bad in [
            "",
            "arn:aws:sns:us-west-2:1:q",
            "arn:aws:sqs:us-west-2:1",
            "arn:aws:sqs:r:1:a/b",
        ] {
            assert_eq!(queue_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_last_receive_is_known() {
        let first = Attempt::of(&record("1", None, Some(ARN)), 3, 20);
        assert_eq!((first.receive_count, first.final_receive), (1, false));
        let last = Attempt::of(&record("3", None, Some(ARN)), 3, 20);
        assert!(last.final_receive);
    }

    #[test]
    fn continuations_are_capped_and_need_a_queue() {
        assert!(Attempt::of(&record("1", Some("19"), Some(ARN)), 3, 20).may_continue);
        let capped = Attempt::of(&record("1", Some("20"), Some(ARN)), 3, 20);
        assert_eq!((capped.continuation, capped.may_continue), (20, false));
        assert!(!Attempt::of(&record("1", None, None), 3, 20).may_continue);
        let garbage = Attempt::of(&record("x", Some("y"), Some(ARN)), 3, 20);
        assert_eq!((garbage.receive_count, garbage.continuation), (1, 0));
    }
}
