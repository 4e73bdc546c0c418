//! Deciding who gets an invite, from the rows and what DynamoDB said about them.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::attendees::domain::{AttendeeEmail, EventUid, SenderEmail};
use crate::attendees::outcome::{Reason, RejectedRow};
use crate::attendees::rows::{Attendees, Candidate};
use crate::decision::contract::EventRecord;
use crate::report::tally::Report;

/// The distinct keys to look up for a set of candidates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupKeys {
    /// Attendees whose block record (`attendee#<email>` / `block#<sender>`) is checked.
    pub attendees: Vec<AttendeeEmail>,
    /// Events (`event#<uid>`) to fetch.
    pub events: Vec<EventUid>,
}

/// What DynamoDB holds for the lookup keys.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    /// Attendees who blocked this organizer.
    pub blocked: HashSet<AttendeeEmail>,
    /// Events that exist, by uid.
    pub events: HashMap<EventUid, EventRecord>,
}

/// Who is invited and who is not, before publishing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Rows to publish, in file order.
    pub invites: Vec<Candidate>,
    /// Rows not sent, with their reasons.
    pub rejected: Vec<RejectedRow>,
}

/// An invite SNS did not accept, by its index in [`Plan::invites`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishFailure {
    /// Position of the invite in `Plan::invites`.
    pub index: usize,
    /// SNS error code, or why it was not sent.
    pub code: String,
}

impl Plan {
    /// Folds the publish failures into the final report: every row counted once.
    pub fn into_report(self, failures: &[PublishFailure]) -> Report {
        let failed: HashMap<usize, &str> = failures
            .iter()
            .map(|f| (f.index, f.code.as_str()))
            .collect();
        let mut rejected = self.rejected;
        let mut sent = Vec::with_capacity(self.invites.len());
        for (index, invite) in self.invites.iter().enumerate() {
            match failed.get(&index) {
                Some(code) => {
                    rejected.push(invite.rejected(Reason::PublishFailed(code.to_string())))
                }
                None => sent.push(invite.uid.as_str()),
            }
        }
        Report::new(sent, rejected)
    }
}

/// Lists each attendee and event once, sorted, so lookups are deterministic and never repeat.
pub fn lookup_keys(candidates: &[Candidate]) -> LookupKeys {
    let attendees: BTreeSet<&AttendeeEmail> = candidates.iter().map(|c| &c.email).collect();
    let events: BTreeSet<&EventUid> = candidates.iter().map(|c| &c.uid).collect();
    LookupKeys {
        attendees: attendees.into_iter().cloned().collect(),
        events: events.into_iter().cloned().collect(),
    }
}

/// Applies the event and block rules: a row is invited only when its event exists, belongs to
/// the sender, and the attendee has not blocked the sender.
pub fn decide(sender: &SenderEmail, attendees: Attendees, lookups: &Lookups) -> Plan {
    let mut plan = Plan {
        invites: Vec::with_capacity(attendees.candidates.len()),
        rejected: attendees.rejected,
    };
    for candidate in attendees.candidates {
        let verdict = match lookups.events.get(&candidate.uid) {
            None => Err(Reason::UnknownEvent),
            Some(event) if !event.is_owned_by(sender.as_str()) => Err(Reason::NotYourEvent),
            Some(_) if lookups.blocked.contains(&candidate.email) => Err(Reason::Blocked),
            Some(_) => Ok(()),
        };
        match verdict {
            Ok(()) => plan.invites.push(candidate),
            Err(reason) => plan.rejected.push(candidate.rejected(reason)),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attendees::rows as attendees;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn event(mailto: &str) -> EventRecord {
        EventRecord::from_item(&[("mailto".to_string(), AttributeValue::S(mailto.into()))].into())
    }

    fn sample() -> (SenderEmail, Attendees, Lookups) {
        let sender = SenderEmail::parse("org@example.com").unwrap();
        let rows = attendees::parse(
            "uid,email,name\n\
             mine,ann@example.com,Ann\n\
             mine,blocker@example.com,B\n\
             theirs,ann@example.com,Ann\n\
             ghost,ann@example.com,Ann\n\
             mine,bad-address,X\n",
            usize::MAX,
        )
        .unwrap();
        let lookups = Lookups {
            blocked: [AttendeeEmail::parse("blocker@example.com").unwrap()].into(),
            events: [
                (EventUid::parse("mine").unwrap(), event("ORG@example.com")),
                (
                    EventUid::parse("theirs").unwrap(),
                    event("someone@example.com"),
                ),
            ]
            .into(),
        };
        (sender, rows, lookups)
    }

    #[test]
    fn keys_are_distinct_and_sorted() {
        let (_, rows, _) = sample();
        let keys = lookup_keys(&rows.candidates);
        let attendees: Vec<_> = keys.attendees.iter().map(|e| e.as_str()).collect();
        let events: Vec<_> = keys.events.iter().map(|e| e.as_str()).collect();
        assert_eq!(attendees, ["ann@example.com", "blocker@example.com"]);
        assert_eq!(events, ["ghost", "mine", "theirs"]);
    }

    #[test]
    fn every_row_ends_in_exactly_one_outcome() {
        let (sender, rows, lookups) = sample();
        let plan = decide(&sender, rows, &lookups);
        let invited: Vec<_> = plan.invites.iter().map(|c| c.row.line).collect();
        assert_eq!(invited, [2]);
        let mut rejected: Vec<_> = plan
            .rejected
            .iter()
            .map(|r| (r.row.line, r.reason.clone()))
            .collect();
        rejected.sort_by_key(|(row, _)| *row);
        assert_eq!(
            rejected,
            vec![
                (3, Reason::Blocked),
                (4, Reason::NotYourEvent),
                (5, Reason::UnknownEvent),
                (6, Reason::InvalidEmail),
            ]
        );
    }

    #[test]
    fn publish_failures_move_rows_to_not_sent() {
        let (sender, rows, mut lookups) = sample();
        lookups.blocked.clear();
        let plan = decide(&sender, rows, &lookups);
        let report = plan.into_report(&[PublishFailure {
            index: 1,
            code: "InvalidParameter".into(),
        }]);
        assert_eq!(report.sent(), 1);
        assert_eq!(report.not_sent(), 4);
        let failed = report.rejected.iter().find(|r| r.row.line == 3).unwrap();
        assert_eq!(
            failed.reason,
            Reason::PublishFailed("InvalidParameter".into())
        );
    }

    #[test]
    fn blocked_attendee_is_never_invited_even_when_others_are() {
        let (sender, rows, mut lookups) = sample();
        lookups.blocked.clear();
        let plan = decide(&sender, rows, &lookups);
        assert_eq!(
            plan.invites.len(),
            2,
            "without the block record both rows go out"
        );
    }
}
