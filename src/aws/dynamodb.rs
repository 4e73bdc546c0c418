//! DynamoDB reads of the shared table (`THIRTYONE_TABLE`): bulk authorization and suspension,
//! block records and events. The key formats here are read by other services: keep them. The request ledger's
//! writes live with the ledger ([`crate::ledger::store`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Map, Number, Value};

use super::{MAX_PARTIAL_ATTEMPTS, backoff};
use crate::decision::limits;
use crate::decision::plan::{LookupKeys, Lookups};
use crate::domain::{AttendeeEmail, EventInfo, EventRecord, EventUid, SenderEmail};
use crate::error::AwsError;

/// Keys DynamoDB accepts in one `BatchGetItem`.
const BATCH_GET_KEYS: usize = 100;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The key attributes of an item.
pub fn item_key(pk: String, sk: String) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk)),
    ])
}

/// A number attribute.
pub fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// A string attribute of `item`, if it has one.
pub fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A number attribute of `item`; absent or unreadable counts as 0.
pub fn number_attr(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// What the table says of a sender who mails a bulk request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// An authorized bulk sender, not suspended.
    Authorized,
    /// No bulk authorization item.
    NotAuthorized,
    /// Authorized, but the organizer is suspended: the system sends none of their invites.
    Suspended,
}

/// The organizers, events and block records, and how many lookups may be in flight.
#[derive(Debug, Clone)]
pub struct Directory {
    client: aws_sdk_dynamodb::Client,
    table: String,
    max_in_flight: usize,
}

impl Directory {
    /// Wraps a client built at cold start.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, max_in_flight: usize) -> Self {
        Self {
            client,
            table,
            max_in_flight,
        }
    }

    /// The sender's standing as a bulk sender, in one call: the bulk authorization item
    /// (`organizer#<sender>` / `bulk#<sender>`) and the suspension item (`organizer#<sender>` /
    /// `suspended#<sender>`, the one the system checks before it creates an event) are read
    /// together.
    pub async fn standing(&self, sender: &SenderEmail) -> Result<Standing, AwsError> {
        let pk = format!("organizer#{sender}");
        let bulk = format!("bulk#{sender}");
        let suspended = format!("suspended#{sender}");
        let keys = vec![
            item_key(pk.clone(), bulk.clone()),
            item_key(pk, suspended.clone()),
        ];
        let found = self.batch_get_chunk(keys, Some("sk")).await?;
        let has = |sk: &str| found.iter().any(|item| string_attr(item, "sk") == Some(sk));
        Ok(match (has(&bulk), has(&suspended)) {
            (false, _) => Standing::NotAuthorized,
            (true, true) => Standing::Suspended,
            (true, false) => Standing::Authorized,
        })
    }

    /// Fetches the block records and events for the lookup keys, in batches of 100 keys.
    ///
    /// Each batch's request is built only when it is sent, so a large request never holds
    /// every DynamoDB key at once.
    pub async fn lookup(
        &self,
        sender: &SenderEmail,
        keys: LookupKeys<'_>,
    ) -> Result<Lookups, AwsError> {
        let block_key =
            |email: &str| item_key(format!("attendee#{email}"), format!("block#{sender}"));
        let event_key = |uid: &EventUid| item_key(format!("event#{uid}"), format!("event#{uid}"));
        // Every form an attendee's block record may be keyed by, in one stream of 100-key calls.
        let forms = keys
            .attendees
            .iter()
            .map(|email| email.as_str())
            .chain(keys.other_forms.iter().map(String::as_str))
            .map(block_key);
        let (block_items, event_items) = futures::try_join!(
            self.batch_get(forms, Some("pk")),
            self.batch_get(keys.events.iter().map(event_key), None),
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
                Some((uid, event_record(item)))
            })
            .collect();
        Ok(Lookups { blocked, events })
    }

    /// Gets the items for `keys`, 100 keys a call, up to `max_in_flight` calls at once; a
    /// call's keys are taken from the iterator when it is about to be sent.
    async fn batch_get(
        &self,
        keys: impl Iterator<Item = Item> + Send,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, AwsError> {
        let mut keys = keys.peekable();
        let chunks = std::iter::from_fn(move || {
            keys.peek()?;
            Some(keys.by_ref().take(BATCH_GET_KEYS).collect::<Vec<Item>>())
        });
        let pages: Vec<Vec<Item>> = stream::iter(chunks)
            .map(|chunk| self.batch_get_chunk(chunk, projection))
            .buffer_unordered(self.max_in_flight)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// One `BatchGetItem` of at most 100 keys, repeated with backoff for `UnprocessedKeys`.
    async fn batch_get_chunk(
        &self,
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
                .client
                .batch_get_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(|err| AwsError::from_sdk("DynamoDB.BatchGetItem", err))?;
            if let Some(found) = output.responses.and_then(|mut r| r.remove(&self.table)) {
                items.extend(found);
            }
            match output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
            {
                Some(rest) if !rest.keys.is_empty() => pending = rest,
                _ => return Ok(items),
            }
        }
        Err(AwsError::transient(
            "DynamoDB.BatchGetItem",
            format!("keys still unprocessed after {MAX_PARTIAL_ATTEMPTS} attempts"),
        ))
    }
}

/// An event item as a request needs it (see [`EventRecord`]).
pub fn event_record(item: &Item) -> EventRecord {
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
    EventRecord {
        mailto,
        json,
        info,
        allowance: limits::allowance(invite_limit),
    }
}

/// Converts one DynamoDB attribute to plain JSON.
pub fn flatten(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => json_number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(name, value)| (name.clone(), flatten(value)))
                .collect(),
        ),
        AttributeValue::L(list) => Value::Array(list.iter().map(flatten).collect()),
        AttributeValue::Ss(set) => Value::Array(set.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(set) => Value::Array(set.iter().map(|n| json_number(n)).collect()),
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
fn json_number(text: &str) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;
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
        let record = event_record(&item);
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
    fn an_items_summary_info_and_limit_are_read() {
        let record = event_record(
            &[
                ("mailto".to_string(), s(" Org@Example.com ")),
                ("summary".to_string(), s("Offsite")),
                ("dtstart".to_string(), n("1735732800.0")),
                ("tzid".to_string(), s("Europe/Paris")),
                ("invite_limit".to_string(), n("-2")),
            ]
            .into(),
        );
        assert!(record.is_owned_by("org@example.com"));
        assert_eq!(record.info.title.as_deref(), Some("Offsite"));
        assert_eq!(record.info.starts_at, Some(1735732800));
        assert_eq!(record.info.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(record.allowance, Some(0));
    }
}
