//! The SNS message contract read by `send_bulk_event_invite`, and the event item it embeds.
//!
//! Message = `{"default": "<JSON of {\"request\": REQUEST, \"event\": EVENT}>"}`, published with
//! `MessageStructure = "json"`. REQUEST's fields and fixed values are those of the original;
//! EVENT is the DynamoDB event item flattened to plain JSON. Do not change this shape: another
//! service parses it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use crate::attendees::rows::Candidate;
use crate::decision::limits;
use crate::report::tally::EventInfo;

/// `origin` of every bulk invite.
pub const ORIGIN: &str = "bulk";
/// `partstat` of a new invite: the attendee has not answered.
pub const PARTSTAT: &str = "noaction";
/// `prodid` the downstream sender puts in the `.ics`.
pub const PRODID: &str = "31events//ses";

/// An event item as the function needs it: who owns it, and its JSON for the message.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// The organizer address stored on the event (`mailto`), if any.
    pub mailto: Option<String>,
    /// The whole item flattened to JSON, serialized once and embedded in every message.
    pub json: Box<RawValue>,
    /// What the organizer's summary shows of the event.
    pub info: EventInfo,
    /// Invites the event allows now (`max(0, invite_limit)`); `None`: the item has no limit.
    pub allowance: Option<u64>,
}

impl EventRecord {
    /// Flattens a DynamoDB item into an event record.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Self {
        let mailto = item
            .get("mailto")
            .and_then(|v| v.as_s().ok())
            .map(|s| s.trim().to_string());
        let flat: Map<String, Value> = item
            .iter()
            .map(|(name, value)| (name.clone(), flatten(value)))
            .collect();
        let json =
            serde_json::value::to_raw_value(&flat).expect("a map of JSON values always serializes");
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let info = EventInfo {
            title: text("summary"),
            starts_at: item
                .get("dtstart")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<f64>().ok())
                .map(|n| n as i64),
            timezone: text("timezone")
                .or_else(|| text("tzid"))
                .or_else(|| text("tz")),
        };
        let invite_limit = item
            .get("invite_limit")
            .map(|v| v.as_n().or_else(|_| v.as_s()).map_or("", String::as_str));
        Self {
            mailto,
            json,
            info,
            allowance: limits::allowance(invite_limit),
        }
    }

    /// True when the event's `mailto` is this organizer (compared case-insensitively).
    pub fn is_owned_by(&self, sender: &str) -> bool {
        self.mailto
            .as_deref()
            .is_some_and(|mailto| mailto.eq_ignore_ascii_case(sender))
    }
}

/// Converts one DynamoDB attribute to plain JSON.
pub fn flatten(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(name, value)| (name.clone(), flatten(value)))
                .collect(),
        ),
        AttributeValue::L(list) => Value::Array(list.iter().map(flatten).collect()),
        AttributeValue::Ss(set) => Value::Array(set.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(set) => Value::Array(set.iter().map(|n| number(n)).collect()),
        AttributeValue::B(blob) => Value::String(aws_smithy_types::base64::encode(blob.as_ref())),
        AttributeValue::Bs(set) => Value::Array(
            set.iter()
                .map(|blob| Value::String(aws_smithy_types::base64::encode(blob.as_ref())))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// A DynamoDB number as JSON: an integer when integral (as the original's `int()`), else a float.
fn number(text: &str) -> Value {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    match text.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Number((f as i64).into()),
        Ok(f) => Number::from_f64(f).map_or_else(|| Value::String(text.to_string()), Value::Number),
        Err(_) => Value::String(text.to_string()),
    }
}

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
    use crate::attendees::domain::{AttendeeEmail, AttendeeName, EventUid};
    use crate::attendees::outcome::RowPosition;
    use serde_json::json;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }
    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    #[test]
    fn every_attribute_type_flattens() {
        let item: HashMap<String, AttributeValue> = [
            ("s", s("text")),
            ("int", n("1735732800")),
            ("neg", n("-3")),
            ("float", n("1.5")),
            ("integral_float", n("2.0")),
            ("flag", AttributeValue::Bool(true)),
            ("nothing", AttributeValue::Null(true)),
            ("map", AttributeValue::M([("k".to_string(), n("7"))].into())),
            ("list", AttributeValue::L(vec![s("a"), n("1")])),
            ("ss", AttributeValue::Ss(vec!["x".into(), "y".into()])),
            ("ns", AttributeValue::Ns(vec!["1".into(), "2.5".into()])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let record = EventRecord::from_item(&item);
        let got: Value = serde_json::from_str(record.json.get()).unwrap();
        assert_eq!(
            got,
            json!({
                "s": "text", "int": 1735732800, "neg": -3, "float": 1.5, "integral_float": 2,
                "flag": true, "nothing": null, "map": {"k": 7}, "list": ["a", 1],
                "ss": ["x", "y"], "ns": [1, 2.5]
            })
        );
    }

    #[test]
    fn ownership_is_case_insensitive_and_requires_mailto() {
        let owned = EventRecord::from_item(&[("mailto".to_string(), s("Org@Example.com"))].into());
        assert!(owned.is_owned_by("org@example.com"));
        assert!(!owned.is_owned_by("other@example.com"));
        let orphan = EventRecord::from_item(&HashMap::new());
        assert!(!orphan.is_owned_by("org@example.com"));
    }

    #[test]
    fn message_has_the_contract_shape() {
        let event = EventRecord::from_item(
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
