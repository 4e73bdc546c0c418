//! Who blocked the organizer, kept with the request once a list is large (issue 20).
//!
//! A request that outlasts one invocation continues in a new message and decides again from a
//! fresh reading of its email. For a million distinct attendees that reading includes 10,000
//! `BatchGetItem` calls of block records (31 s at 25 ms a call, 8 at a time), repeated by every
//! continuation. So the first delivery that decides a large list keeps what those calls found,
//! the blocking attendees (usually none, a handful at most), in the request's ledger item, and
//! every later delivery of the request decides with that set instead of reading the block
//! records again.
//!
//! Invariant: one request decides with one reading, as it does for the event allowances
//! ([`crate::decision::limits`]) and as the original function did (it read the block records
//! once, at the start). A block record written while a long request is under way takes effect
//! from the organizer's next request. Bounds: kept only when the lookups were large enough to
//! be worth one write ([`FREEZE_FROM_KEYS`]) and the set fits [`MAX_FROZEN_BYTES`] of the
//! item (DynamoDB items hold 400 KB, shared with the refused rows and the allowances); a set
//! that does not fit is read again by each delivery, as before.

use std::collections::HashSet;

use crate::domain::AttendeeEmail;

/// Block-record keys from which the set is kept: 10 `BatchGetItem` calls, more than one round
/// of calls at the default 8 in flight, against the one write that keeps it.
pub const FREEZE_FROM_KEYS: usize = 1_000;

/// Largest serialized set the ledger item keeps.
pub const MAX_FROZEN_BYTES: usize = 64 * 1024;

/// True when a delivery whose block lookups had `keys` keys should keep what they found.
pub fn worth_keeping(keys: usize) -> bool {
    keys >= FREEZE_FROM_KEYS
}

/// The ledger's form, a sorted JSON list of addresses; `None` when larger than
/// [`MAX_FROZEN_BYTES`].
pub fn to_ledger(blocked: &HashSet<AttendeeEmail>) -> Option<String> {
    let mut addresses: Vec<&str> = blocked.iter().map(AttendeeEmail::as_str).collect();
    addresses.sort_unstable();
    let json = serde_json::to_string(&addresses).expect("a list of strings serializes");
    (json.len() <= MAX_FROZEN_BYTES).then_some(json)
}

/// Reads back what [`to_ledger`] stored; `None` when unreadable (the delivery then reads the
/// block records again: an unreadable set is not an empty one).
pub fn from_ledger(json: &str) -> Option<HashSet<AttendeeEmail>> {
    let addresses: Vec<String> = serde_json::from_str(json).ok()?;
    addresses
        .iter()
        .map(|address| AttendeeEmail::parse(address).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(addresses: &[&str]) -> HashSet<AttendeeEmail> {
        addresses
            .iter()
            .map(|a| AttendeeEmail::parse(a).unwrap())
            .collect()
    }

    #[test]
    fn a_kept_set_reads_back_as_it_was() {
        let blocked = set(&["zed@example.com", "ann@example.com"]);
        let json = to_ledger(&blocked).unwrap();
        assert_eq!(json, r#"["ann@example.com","zed@example.com"]"#);
        assert_eq!(from_ledger(&json), Some(blocked));
        assert_eq!(
            from_ledger("[]"),
            Some(HashSet::new()),
            "none blocked is kept too"
        );
    }

    #[test]
    fn a_set_too_large_for_the_item_is_not_kept() {
        let many: Vec<String> = (0..3_000)
            .map(|i| format!("attendee{i}@example.com"))
            .collect();
        let blocked = set(&many.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(to_ledger(&blocked), None);
    }

    #[test]
    fn an_unreadable_set_is_not_an_empty_one() {
        assert_eq!(from_ledger("not json"), None);
        assert_eq!(from_ledger(r#"["not an address"]"#), None);
        assert_eq!(from_ledger(r#"{"a": 1}"#), None);
    }

    #[test]
    fn only_large_lookups_are_worth_a_write() {
        assert!(!worth_keeping(FREEZE_FROM_KEYS - 1));
        assert!(worth_keeping(FREEZE_FROM_KEYS));
    }
}
