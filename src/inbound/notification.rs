//! Decoding an SQS record body into the S3 objects it announces.
//!
//! Deployed, the body is an SNS notification whose `Message` is an S3 event; with SNS raw message
//! delivery the body is the S3 event itself. Both are accepted.
//!
//! Only what is used is required: `Type` and `Message` of an SNS envelope, and per S3 record the
//! bucket name and object key. Everything else (`eventTime`, `userIdentity`, signatures, …) is
//! optional, so hand-built redrives and test tools that send less still work.
//! Threat: the body is attacker-adjacent data (anyone who can write to the queue); decoding never
//! panics and every failure is a [`NotificationError`] (fuzzed by `fuzz/notification`).

use serde::Deserialize;
use serde_json::Value;

/// Object SES writes into the bucket when a receipt rule is created; it is not an email.
const SES_SETUP_OBJECT: &str = "AMAZON_SES_SETUP_NOTIFICATION";

/// One stored email to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Object key, URL-decoded.
    pub key: String,
    /// ETag from the notification, when S3 sent one.
    pub etag: Option<String>,
}

impl ObjectRef {
    /// True for the placeholder object SES writes when a receipt rule is set up.
    pub fn is_ses_setup_notification(&self) -> bool {
        self.key.rsplit('/').next() == Some(SES_SETUP_OBJECT)
    }
}

/// What an SQS record asks the function to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// S3 announced one or more new objects.
    Objects(Vec<ObjectRef>),
    /// S3's `s3:TestEvent`, sent when notifications are configured: acknowledged and ignored.
    TestEvent,
}

/// Why a record body could not be decoded. Always permanent: redelivery brings the same bytes.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// The body (or the SNS `Message`) is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The body looks like an SNS envelope but is not a valid one.
    #[error("malformed SNS notification: {0}")]
    BadSnsEnvelope(#[source] serde_json::Error),
    /// An SNS message of another type (a subscription confirmation, say).
    #[error("SNS message of type {0:?} is not a notification")]
    NotANotification(String),
    /// The payload is not an S3 event notification.
    #[error("not an S3 event notification: {0}")]
    BadS3Event(#[source] serde_json::Error),
    /// An S3 event with no records.
    #[error("S3 event has no records")]
    NoRecords,
    /// A record without a bucket name or object key.
    #[error("S3 record {index} has no {field}")]
    MissingField {
        /// Position of the record in `Records`.
        index: usize,
        /// `bucket.name` or `object.key`.
        field: &'static str,
    },
    /// The key's percent-encoding does not decode to UTF-8.
    #[error("object key {0:?} is not valid URL-encoded UTF-8")]
    BadKeyEncoding(String),
}

/// The parts of an SNS envelope the function reads.
#[derive(Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

/// The parts of an S3 event notification the function reads.
#[derive(Deserialize)]
struct S3Event {
    #[serde(rename = "Records")]
    records: Vec<S3Record>,
}

#[derive(Deserialize)]
struct S3Record {
    #[serde(default)]
    s3: S3Entity,
}

#[derive(Deserialize, Default)]
struct S3Entity {
    #[serde(default)]
    bucket: S3Bucket,
    #[serde(default)]
    object: S3Object,
}

#[derive(Deserialize, Default)]
struct S3Bucket {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
struct S3Object {
    key: Option<String>,
    #[serde(rename = "eTag")]
    e_tag: Option<String>,
}

/// Decodes one SQS record body.
pub fn decode(body: &str) -> Result<Notification, NotificationError> {
    let value: Value = serde_json::from_str(body).map_err(NotificationError::NotJson)?;
    if value.get("Type").is_some() && value.get("Message").is_some() {
        let envelope: SnsEnvelope =
            serde_json::from_value(value).map_err(NotificationError::BadSnsEnvelope)?;
        if envelope.kind != "Notification" {
            return Err(NotificationError::NotANotification(envelope.kind));
        }
        let inner: Value =
            serde_json::from_str(&envelope.message).map_err(NotificationError::NotJson)?;
        decode_s3(inner)
    } else {
        decode_s3(value)
    }
}

fn decode_s3(value: Value) -> Result<Notification, NotificationError> {
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::TestEvent);
    }
    let event: S3Event = serde_json::from_value(value).map_err(NotificationError::BadS3Event)?;
    if event.records.is_empty() {
        return Err(NotificationError::NoRecords);
    }
    event
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let missing = |field| NotificationError::MissingField { index, field };
            let bucket = record
                .s3
                .bucket
                .name
                .filter(|name| !name.is_empty())
                .ok_or_else(|| missing("bucket.name"))?;
            let raw_key = record
                .s3
                .object
                .key
                .filter(|key| !key.is_empty())
                .ok_or_else(|| missing("object.key"))?;
            Ok(ObjectRef {
                bucket,
                key: decode_key(&raw_key)?,
                etag: record.s3.object.e_tag.filter(|etag| !etag.is_empty()),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Notification::Objects)
}

/// Decodes an S3 notification key: form encoding, so `+` is a space and `%2B` a real plus.
pub fn decode_key(raw: &str) -> Result<String, NotificationError> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| NotificationError::BadKeyEncoding(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_event(key: &str) -> String {
        serde_json::json!({
            "Records": [{
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-west-2",
                "eventTime": "2026-11-24T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:EXAMPLE"},
                "requestParameters": {"sourceIPAddress": "10.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "bulk",
                    "bucket": {"name": "inbound-mail", "arn": "arn:aws:s3:::inbound-mail"},
                    "object": {"key": key, "size": 10, "eTag": "abc123", "sequencer": "01"}
                }
            }]
        })
        .to_string()
    }

    fn sns_wrap(message: &str) -> String {
        serde_json::json!({
            "Type": "Notification",
            "MessageId": "11111111-2222-3333-4444-555555555555",
            "TopicArn": "arn:aws:sns:us-west-2:123456789012:new-bulk-event-invites-from-email",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2026-11-24T10:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.us-west-2.amazonaws.com/cert.pem",
            "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe"
        })
        .to_string()
    }

    #[test]
    fn sns_wrapped_s3_event_yields_the_object() {
        let got = decode(&sns_wrap(&s3_event("bulk_event_invites_email/abc"))).unwrap();
        assert_eq!(
            got,
            Notification::Objects(vec![ObjectRef {
                bucket: "inbound-mail".into(),
                key: "bulk_event_invites_email/abc".into(),
                etag: Some("abc123".into()),
            }])
        );
    }

    #[test]
    fn raw_delivery_is_accepted() {
        let got = decode(&s3_event("k")).unwrap();
        assert!(matches!(got, Notification::Objects(ref v) if v[0].key == "k"));
    }

    #[test]
    fn keys_are_form_url_decoded() {
        assert_eq!(decode_key("a+b%2Bc%20d/%C3%A9").unwrap(), "a b+c d/é");
        assert!(matches!(
            decode_key("%FF"),
            Err(NotificationError::BadKeyEncoding(_))
        ));
    }

    #[test]
    fn test_event_is_recognised_wrapped_or_raw() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-24T10:00:00.000Z","Bucket":"inbound-mail","RequestId":"X","HostId":"Y"}"#;
        assert_eq!(decode(test).unwrap(), Notification::TestEvent);
        assert_eq!(decode(&sns_wrap(test)).unwrap(), Notification::TestEvent);
    }

    #[test]
    fn malformed_bodies_are_classified() {
        assert!(matches!(
            decode("not json"),
            Err(NotificationError::NotJson(_))
        ));
        assert!(matches!(
            decode(r#"{"Records": "nope"}"#),
            Err(NotificationError::BadS3Event(_))
        ));
        assert!(matches!(
            decode(r#"{"Records": []}"#),
            Err(NotificationError::NoRecords)
        ));
        assert!(matches!(
            decode(&sns_wrap("not json")),
            Err(NotificationError::NotJson(_))
        ));
        assert!(matches!(
            decode(r#"{"Type": "Notification", "Message": 7}"#),
            Err(NotificationError::BadSnsEnvelope(_))
        ));
    }

    #[test]
    fn minimal_events_need_only_bucket_and_key() {
        let minimal = r#"{"Records":[{"s3":{"bucket":{"name":"b"},"object":{"key":"a+b%21"}}}]}"#;
        let expected = Notification::Objects(vec![ObjectRef {
            bucket: "b".into(),
            key: "a b!".into(),
            etag: None,
        }]);
        assert_eq!(decode(minimal).unwrap(), expected);
        let envelope = serde_json::json!({"Type": "Notification", "Message": minimal}).to_string();
        assert_eq!(decode(&envelope).unwrap(), expected);
        assert!(matches!(
            decode(r#"{"Records":[{"s3":{"bucket":{"name":"b"},"object":{}}}]}"#),
            Err(NotificationError::MissingField {
                index: 0,
                field: "object.key"
            })
        ));
        assert!(matches!(
            decode(r#"{"Records":[{}]}"#),
            Err(NotificationError::MissingField {
                index: 0,
                field: "bucket.name"
            })
        ));
    }

    #[test]
    fn missing_key_is_reported_with_its_record() {
        let body = s3_event("k").replace(r#""key":"k","#, "");
        assert!(matches!(
            decode(&body),
            Err(NotificationError::MissingField {
                index: 0,
                field: "object.key"
            })
        ));
    }

    #[test]
    fn ses_setup_object_is_recognised() {
        let setup = ObjectRef {
            bucket: "b".into(),
            key: "bulk_event_invites_email/AMAZON_SES_SETUP_NOTIFICATION".into(),
            etag: None,
        };
        assert!(setup.is_ses_setup_notification());
    }
}
