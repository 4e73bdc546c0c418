//! The system's quota on invites per event (`invite_limit`), as the bulk path applies it.
//!
//! Every event item carries `invite_limit`: set from the deployment's `EVENT_INVITE_LIMIT` when
//! the event is created and decremented by one, later and unconditionally, by
//! `send_bulk_event_invite` for each invite it sends. The rest of the system refuses a bulk
//! invite when it is below 1; this function honours it by publishing only the first
//! `max(0, invite_limit)` accepted rows of each event, in list order. It only reads the counter.
//!
//! Invariant: one request decides with one reading. The counter falls as the downstream sends
//! this very request's invites, so a delivery that resumes (a continuation, a redelivery) and
//! read it again would count the request's own invites twice and report rows it published as
//! not sent. The allowances that bind (fewer than the request's accepted rows for the event)
//! are frozen in the request's ledger item by the first delivery that decides, and every later
//! delivery of the request decides with them.

use std::collections::BTreeMap;

use crate::domain::EventUid;

/// How many invites an event item allows now: `max(0, invite_limit)`; `None` when the item has
/// no `invite_limit` (no limit).
///
/// A value that is not a number counts as 0: a quota nobody can read is not a licence to send.
pub fn allowance(invite_limit: Option<&str>) -> Option<u64> {
    let text = invite_limit?.trim();
    let allowed = match text.parse::<i64>() {
        Ok(n) => u64::try_from(n).unwrap_or(0),
        Err(_) => match text.parse::<f64>() {
            // DynamoDB numbers may be written with a fraction or exponent: whole invites only.
            Ok(n) if n.is_finite() && n >= 1.0 => n.floor().min(u64::MAX as f64) as u64,
            _ => 0,
        },
    };
    Some(allowed)
}

/// The allowances that bound one request: only events whose allowance is smaller than the
/// request's accepted rows for them. An event not named here is not limited for this request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowances(BTreeMap<EventUid, u64>);

/// Largest serialized [`Allowances`] the ledger item keeps (DynamoDB items hold 400 KB). A request
/// whose binding events need more is decided again from a fresh reading on each delivery.
pub const MAX_FROZEN_BYTES: usize = 32 * 1024;

impl Allowances {
    /// The allowance of `uid` for this request, if it is limited.
    pub fn get(&self, uid: &EventUid) -> Option<u64> {
        self.0.get(uid).copied()
    }

    /// Records that `uid` allows `allowed` invites for this request.
    pub fn insert(&mut self, uid: EventUid, allowed: u64) {
        self.0.insert(uid, allowed);
    }

    /// True when no event limits this request.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ledger's form, `{"<uid>": allowed, ...}`; `None` when larger than
    /// [`MAX_FROZEN_BYTES`].
    pub fn to_ledger(&self) -> Option<String> {
        let map: BTreeMap<&str, u64> = self.0.iter().map(|(uid, n)| (uid.as_str(), *n)).collect();
        let json = serde_json::to_string(&map).expect("a map of strings to numbers serializes");
        (json.len() <= MAX_FROZEN_BYTES).then_some(json)
    }

    /// Reads back what [`Allowances::to_ledger`] stored; `None` when unreadable.
    pub fn from_ledger(json: &str) -> Option<Self> {
        let map: BTreeMap<String, u64> = serde_json::from_str(json).ok()?;
        map.into_iter()
            .map(|(uid, n)| Some((EventUid::parse(&uid).ok()?, n)))
            .collect::<Option<BTreeMap<_, _>>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_is_the_limit_floored_at_zero() {
        assert_eq!(allowance(None), None, "no attribute: no limit");
        for (stored, expected) in [
            ("3", 3),
            (" 0 ", 0),
            ("-2", 0),
            ("2.9", 2),
            ("0.5", 0),
            ("1e3", 1000),
            ("-1e3", 0),
            ("NaN", 0),
            ("many", 0),
            ("99999999999999999999999", u64::MAX),
        ] {
            assert_eq!(allowance(Some(stored)), Some(expected), "{stored}");
        }
    }

    #[test]
    fn frozen_allowances_read_back_the_same() {
        let mut frozen = Allowances::default();
        frozen.insert(EventUid::parse("team-offsite-2026").unwrap(), 3);
        frozen.insert(EventUid::parse("launch").unwrap(), 0);
        let stored = frozen.to_ledger().unwrap();
        assert_eq!(stored, r#"{"launch":0,"team-offsite-2026":3}"#);
        assert_eq!(Allowances::from_ledger(&stored), Some(frozen));
        assert_eq!(Allowances::from_ledger("[1, 2]"), None);
    }

    #[test]
    fn allowances_too_large_for_the_ledger_are_not_frozen() {
        let mut many = Allowances::default();
        for n in 0..2_000 {
            many.insert(
                EventUid::parse(&format!("event-with-a-long-uid-{n:08}")).unwrap(),
                1,
            );
        }
        assert_eq!(many.to_ledger(), None);
    }
}
