//! An event as a request needs it: who owns it, what the summary shows of it, its allowance,
//! and its item's JSON for the invite message ([`crate::decision::contract`]). The conversion
//! from the DynamoDB item lives with the table ([`crate::aws::dynamodb::event_record`]).

use serde_json::value::RawValue;

/// What the summary shows of an event next to its uid: its title and when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInfo {
    /// The event's `summary`.
    pub title: Option<String>,
    /// `dtstart`, epoch seconds.
    pub starts_at: Option<i64>,
    /// The event's IANA time zone (`timezone`, `tzid` or `tz`), if the item has one.
    pub timezone: Option<String>,
}

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
    /// True when the event's `mailto` is this organizer (compared case-insensitively).
    pub fn is_owned_by(&self, sender: &str) -> bool {
        self.mailto
            .as_deref()
            .is_some_and(|mailto| mailto.eq_ignore_ascii_case(sender))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned_by(mailto: Option<&str>) -> EventRecord {
        EventRecord {
            mailto: mailto.map(str::to_string),
            json: serde_json::value::to_raw_value(&serde_json::json!({})).unwrap(),
            info: EventInfo::default(),
            allowance: None,
        }
    }

    #[test]
    fn ownership_is_case_insensitive_and_requires_mailto() {
        let owned = owned_by(Some("Org@Example.com"));
        assert!(owned.is_owned_by("org@example.com"));
        assert!(!owned.is_owned_by("other@example.com"));
        assert!(!owned_by(None).is_owned_by("org@example.com"));
    }
}
