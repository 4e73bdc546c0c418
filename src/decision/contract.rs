//! The SNS message contract read by `send_bulk_event_invite`, and the event item it embeds.
//!
//! Message = `{"default": "<JSON of {\"request\": REQUEST, \"event\": EVENT}>"}`, published with
//! `MessageStructure = "json"`. REQUEST's fields and fixed values are those of the original;
//! EVENT is the DynamoDB event item flattened to plain JSON. Do not change this shape: another
//! service parses it.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::attendees::rows::Candidate;
use crate::domain::EventRecord;

/// `origin` of every bulk invite.
pub const ORIGIN: &str = "bulk";
/// `partstat` of a new invite: the attendee has not answered.
pub const PARTSTAT: &str = "noaction";
/// `prodid` the downstream sender puts in the `.ics`.
pub const PRODID: &str = "31events//ses";

#[derive(Serialize)]
struct InviteRequest<'a> {
    email: &'a str,
    name: &'a str,
    origin: &'static str,
    partstat: &'static str,
    prodid: &'static str,
    uid: &'a str,
}

#[derive(Serialize)]
struct InviteBody<'a> {
    request: InviteRequest<'a>,
    event: &'a RawValue,
}

#[derive(Serialize)]
struct StructuredMessage {
    default: String,
}

/// Builds the SNS `Message` for one invite (to publish with `MessageStructure = "json"`).
pub fn invite_message(invite: &Candidate, event: &EventRecord) -> String {
    let body = InviteBody {
        request: InviteRequest {
            email: invite.email.as_str(),
            name: invite.name.as_str(),
            origin: ORIGIN,
            partstat: PARTSTAT,
            prodid: PRODID,
            uid: invite.uid.as_str(),
        },
        event: &event.json,
    };
    let default = serde_json::to_string(&body).expect("string fields always serialize");
    serde_json::to_string(&StructuredMessage { default }).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RowPosition;
    use crate::domain::{AttendeeEmail, AttendeeName, EventUid};
    use aws_sdk_dynamodb::types::AttributeValue;
    use serde_json::{Value, json};

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }
    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    #[test]
    fn message_has_the_contract_shape() {
        let event = crate::aws::dynamodb::event_record(
            &[
                ("uid".to_string(), s("ev1")),
                ("dtstart".to_string(), n("1735732800")),
            ]
            .into(),
        );
        let invite = Candidate {
            row: RowPosition::new(0, 2),
            uid: EventUid::parse("ev1").unwrap(),
            email: AttendeeEmail::parse("ann@example.com").unwrap(),
            written: None,
            name: AttendeeName::parse("Ann \"A\" O'Neil"),
        };
        let message: Value = serde_json::from_str(&invite_message(&invite, &event)).unwrap();
        let object = message.as_object().unwrap();
        assert_eq!(object.len(), 1, "only the default key");
        let inner = object["default"]
            .as_str()
            .expect("default is a JSON string");
        assert!(inner.starts_with(r#"{"request":{"email":"ann@example.com","name":"#));
        let inner: Value = serde_json::from_str(inner).unwrap();
        assert_eq!(
            inner,
            json!({
                "request": {
                    "email": "ann@example.com", "name": "Ann \"A\" O'Neil", "origin": "bulk",
                    "partstat": "noaction", "prodid": "31events//ses", "uid": "ev1"
                },
                "event": {"uid": "ev1", "dtstart": 1735732800}
            })
        );
    }
}
