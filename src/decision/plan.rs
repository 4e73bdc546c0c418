//! Deciding who gets an invite, from the rows and what DynamoDB said about them, and the report
//! of the decision once publishing is done.
//!
//! Invariant (privacy): a request sees only the organizer's own events. Ownership is decided
//! once, in [`decide`]: a row for another organizer's event is `not your event`, and the plan
//! keeps only the organizer's own events for the summary, so another organizer's title never
//! reaches it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::attendees::outcome::{OverLimit, RejectedRow, Unlisted};
use crate::attendees::rows::{Attendees, Candidate};
use crate::decision::limits::Allowances;
use crate::domain::{AttendeeEmail, EventInfo, EventRecord, EventUid, Reason, SenderEmail};
use crate::report::tally::{Asked, Report};

/// The distinct keys to look up for a set of candidates. The attendees are borrowed from the
/// rows: a large list's addresses are not copied to be looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupKeys<'a> {
    /// Attendees whose block record (`attendee#<email>` / `block#<sender>`) is checked.
    pub attendees: Vec<&'a AttendeeEmail>,
    /// Other forms of those addresses a block record may be keyed by (as the row wrote it, its
    /// domain in Unicode), where they differ: the original published addresses as written.
    pub other_forms: Vec<String>,
    /// Events (`event#<uid>`) to fetch.
    pub events: Vec<EventUid>,
}

impl LookupKeys<'_> {
    /// Block-record keys: every form of every attendee.
    pub fn block_keys(&self) -> usize {
        self.attendees.len() + self.other_forms.len()
    }

    /// The events alone, for a delivery that decides with the block records an earlier one
    /// kept ([`crate::decision::blocked`]).
    pub fn events_only(self) -> Self {
        Self {
            attendees: Vec::new(),
            other_forms: Vec::new(),
            events: self.events,
        }
    }
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
    /// Rows not sent, with their reasons: the first
    /// [`crate::attendees::outcome::MAX_KEPT_REJECTED`].
    pub rejected: Vec<RejectedRow>,
    /// Rows not sent past those: counted.
    pub unlisted: Unlisted,
    /// The event allowances that bound this plan: what a later delivery of the request must
    /// decide with (the ledger keeps them).
    pub allowances: Allowances,
    /// Rows past `MAX_ROWS`, counted and not read.
    pub over_limit: OverLimit,
    /// The organizer's own events among those looked up, as the summary shows them, by uid.
    pub events: BTreeMap<String, EventInfo>,
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
    /// The request's whole report: the publish failures folded in (every row counted once),
    /// the lists the summary names, the rows over the limit, and the organizer's own events.
    pub fn into_report(self, failures: &[PublishFailure], asked: Asked) -> Report {
        let failed: HashMap<usize, &str> = failures
            .iter()
            .map(|f| (f.index, f.code.as_str()))
            .collect();
        let (mut rejected, mut unlisted) = (self.rejected, self.unlisted);
        // In the order they came, each invite once (every row is counted once).
        let mut folded = HashSet::new();
        for failure in failures.iter().filter(|f| folded.insert(f.index)) {
            if let Some(invite) = self.invites.get(failure.index) {
                let reason = Reason::PublishFailed(failure.code.clone());
                unlisted.keep_or_count(&mut rejected, invite.rejected(reason));
            }
        }
        // Counted as they are walked, not collected: a million invites are not listed again.
        let sent = (self.invites.iter().enumerate())
            .filter(|(index, _)| !failed.contains_key(index))
            .map(|(_, invite)| invite.uid.as_str());
        let mut report = Report::new(sent, rejected, unlisted);
        report.files = asked.named;
        report.lists = asked.lists;
        report.request = asked.request;
        report.over_limit = self.over_limit;
        report.preview = asked.preview;
        report.events = self.events;
        report
    }
}

/// Lists each attendee and event once, sorted, so lookups are deterministic and never repeat.
pub fn lookup_keys(candidates: &[Candidate]) -> LookupKeys<'_> {
    // A sorted vector of references, not a tree: 8 bytes an attendee at a million rows.
    let mut attendees: Vec<&AttendeeEmail> = candidates.iter().map(|c| &c.email).collect();
    attendees.sort_unstable();
    attendees.dedup();
    let events: BTreeSet<&EventUid> = candidates.iter().map(|c| &c.uid).collect();
    let other_forms: BTreeSet<String> = candidates
        .iter()
        .filter_map(|c| c.written.as_deref().map(str::to_string))
        .chain(attendees.iter().filter_map(|email| email.unicode_form()))
        .collect();
    LookupKeys {
        attendees,
        other_forms: other_forms.into_iter().collect(),
        events: events.into_iter().cloned().collect(),
    }
}

/// Applies the event, block and quota rules: a row is invited only when its event exists,
/// belongs to the sender, the attendee has not blocked the sender, and the event's allowance
/// is not used up by earlier rows of the list.
///
/// `frozen` holds the allowances an earlier delivery of this request decided with
/// ([`crate::decision::limits`]); without it they come from `lookups` (each event's
/// `invite_limit` as read now) and the plan says which of them bound it.
pub fn decide(
    sender: &SenderEmail,
    attendees: Attendees,
    lookups: &Lookups,
    frozen: Option<&Allowances>,
) -> Plan {
    let owned = |event: &EventRecord| event.is_owned_by(sender.as_str());
    let Attendees {
        mut candidates,
        mut rejected,
        mut unlisted,
        over_limit,
    } = attendees;
    let allowance_of = |uid: &EventUid, event: &EventRecord| match frozen {
        Some(frozen) => frozen.get(uid),
        None => event.allowance,
    };
    let mut taken: HashMap<&EventUid, u64> = HashMap::new();
    let mut bound = HashSet::new();
    // In place: the invites are the candidates that stay, so a large list is never held twice.
    candidates.retain(|candidate| {
        let verdict = match lookups.events.get_key_value(&candidate.uid) {
            None => Err(Reason::UnknownEvent),
            Some((_, event)) if !owned(event) => Err(Reason::NotYourEvent),
            Some(_) if lookups.blocked.contains(&candidate.email) => Err(Reason::Blocked),
            Some((uid, event)) => match allowance_of(uid, event) {
                Some(allowed) => {
                    let used = taken.entry(uid).or_insert(0);
                    if *used < allowed {
                        *used += 1;
                        Ok(())
                    } else {
                        bound.insert(uid);
                        Err(Reason::InviteLimitReached { allowed })
                    }
                }
                None => Ok(()),
            },
        };
        match verdict {
            Ok(()) => true,
            Err(reason) => {
                unlisted.keep_or_count(&mut rejected, candidate.rejected(reason));
                false
            }
        }
    });
    // Give back what most rows failing left unused; a near-full vector is not copied to save
    // a little.
    if candidates.len() < candidates.capacity() / 2 {
        candidates.shrink_to_fit();
    }
    let mut plan = Plan {
        invites: candidates,
        rejected,
        unlisted,
        allowances: Allowances::default(),
        over_limit,
        events: lookups
            .events
            .iter()
            .filter(|(_, event)| owned(event))
            .map(|(uid, event)| (uid.to_string(), event.info.clone()))
            .collect(),
    };
    plan.allowances = match frozen {
        Some(frozen) => frozen.clone(),
        None => {
            let mut binding = Allowances::default();
            for uid in bound {
                if let Some(allowed) = lookups.events.get(uid).and_then(|e| e.allowance) {
                    binding.insert(uid.clone(), allowed);
                }
            }
            binding
        }
    };
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attendees::lists::{self, ListSource, NoList};
    use crate::attendees::outcome::FileOutcome;
    use crate::attendees::rows::ListRules;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn read_csv(text: &str, max_rows: usize) -> Result<Attendees, NoList> {
        let csv = ListSource::Csv {
            name: None,
            text: text.into(),
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        Ok(lists::read(vec![csv], &ListRules::with_max_rows(max_rows), until)?.rows)
    }

    fn event(mailto: &str) -> EventRecord {
        crate::aws::dynamodb::event_record(
            &[("mailto".to_string(), AttributeValue::S(mailto.into()))].into(),
        )
    }

    fn sample() -> (SenderEmail, Attendees, Lookups) {
        let sender = SenderEmail::parse("org@example.com").unwrap();
        let rows = read_csv(
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
    fn block_lookups_also_ask_for_the_forms_a_row_wrote() {
        let rows = read_csv(
            "uid,email\nev,Ann@Example.com\nev,bo@xn--mnchen-3ya.de\nev,cy@example.com\n",
            usize::MAX,
        )
        .unwrap();
        let keys = lookup_keys(&rows.candidates);
        assert_eq!(keys.other_forms, ["Ann@Example.com", "bo@münchen.de"]);
    }

    #[test]
    fn each_publish_failure_counts_its_row_once() {
        let (sender, rows, lookups) = sample();
        let plan = decide(&sender, rows, &lookups, None);
        let invites = plan.invites.len();
        assert!(invites >= 1);
        let failure = PublishFailure {
            index: 0,
            code: "InternalError".into(),
        };
        let report = plan.into_report(&[failure.clone(), failure], Asked::default());
        assert_eq!(report.sent(), invites - 1);
        let failed = report
            .rejected
            .iter()
            .filter(|row| matches!(row.reason, Reason::PublishFailed(_)))
            .count();
        assert_eq!(failed, 1);
    }

    #[test]
    fn the_report_shows_only_the_organizers_own_events() {
        let (sender, rows, lookups) = sample();
        assert!(
            lookups.events.len() >= 2,
            "another organizer's event is looked up too"
        );
        let plan = decide(&sender, rows, &lookups, None);
        let named = vec![FileOutcome {
            name: "a.csv".into(),
            rows: 4,
            error: None,
        }];
        let asked = Asked {
            named: named.clone(),
            lists: named.clone(),
            preview: true,
            ..Asked::default()
        };
        let report = plan.into_report(&[], asked);
        let uids: Vec<&str> = report.events.keys().map(String::as_str).collect();
        assert_eq!(uids, ["mine"]);
        assert!(report.preview);
        assert_eq!(report.files, named);
    }

    #[test]
    fn every_row_ends_in_exactly_one_outcome() {
        let (sender, rows, lookups) = sample();
        let plan = decide(&sender, rows, &lookups, None);
        let (invited, rejected) = lines(&plan);
        assert_eq!(invited, [2]);
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
        let plan = decide(&sender, rows, &lookups, None);
        let report = plan.into_report(
            &[PublishFailure {
                index: 1,
                code: "InvalidParameter".into(),
            }],
            Asked::default(),
        );
        assert_eq!(report.sent(), 1);
        assert_eq!(report.not_sent(), 4);
        let failed = report.rejected.iter().find(|r| r.row.line == 3).unwrap();
        assert_eq!(
            failed.reason,
            Reason::PublishFailed("InvalidParameter".into())
        );
    }

    fn limited_event(mailto: &str, invite_limit: &str) -> EventRecord {
        crate::aws::dynamodb::event_record(
            &[
                ("mailto".to_string(), AttributeValue::S(mailto.into())),
                (
                    "invite_limit".to_string(),
                    AttributeValue::N(invite_limit.into()),
                ),
            ]
            .into(),
        )
    }

    /// Five rows for `limited`, one for `open`, interleaved; a blocked row before the limit.
    fn quota_sample(limit: &str) -> (SenderEmail, Attendees, Lookups) {
        let sender = SenderEmail::parse("org@example.com").unwrap();
        let rows = read_csv(
            "uid,email\n\
             limited,blocker@example.com\n\
             limited,a@example.com\n\
             open,a@example.com\n\
             limited,b@example.com\n\
             limited,c@example.com\n\
             limited,d@example.com\n\
             limited,e@example.com\n",
            usize::MAX,
        )
        .unwrap();
        let lookups = Lookups {
            blocked: [AttendeeEmail::parse("blocker@example.com").unwrap()].into(),
            events: [
                (
                    EventUid::parse("limited").unwrap(),
                    limited_event("org@example.com", limit),
                ),
                (EventUid::parse("open").unwrap(), event("org@example.com")),
            ]
            .into(),
        };
        (sender, rows, lookups)
    }

    fn lines(plan: &Plan) -> (Vec<u32>, Vec<(u32, Reason)>) {
        let mut rejected: Vec<_> = plan
            .rejected
            .iter()
            .map(|r| (r.row.line, r.reason.clone()))
            .collect();
        rejected.sort_by_key(|(row, _)| *row);
        (plan.invites.iter().map(|c| c.row.line).collect(), rejected)
    }

    #[test]
    fn an_events_invite_limit_takes_the_first_accepted_rows_in_list_order() {
        let (sender, rows, lookups) = quota_sample("3");
        let plan = decide(&sender, rows, &lookups, None);
        let limit = || Reason::InviteLimitReached { allowed: 3 };
        assert_eq!(
            lines(&plan),
            (
                vec![3, 4, 5, 6],
                vec![(2, Reason::Blocked), (7, limit()), (8, limit())]
            ),
            "the blocked row takes no place; the other event is not limited"
        );
        let mut expected = Allowances::default();
        expected.insert(EventUid::parse("limited").unwrap(), 3);
        assert_eq!(
            plan.allowances, expected,
            "only the binding event is frozen"
        );
    }

    #[test]
    fn an_event_at_zero_or_below_gets_no_invites_and_a_roomy_one_binds_nothing() {
        for limit in ["0", "-4"] {
            let (sender, rows, lookups) = quota_sample(limit);
            let plan = decide(&sender, rows, &lookups, None);
            assert_eq!(lines(&plan).0, vec![4], "{limit}: only the unlimited event");
        }
        let (sender, rows, lookups) = quota_sample("5");
        let plan = decide(&sender, rows, &lookups, None);
        assert_eq!(plan.invites.len(), 6);
        assert!(plan.allowances.is_empty());
    }

    #[test]
    fn a_resumed_delivery_decides_with_the_frozen_allowances() {
        let (sender, rows, lookups) = quota_sample("3");
        let first = decide(&sender, rows, &lookups, None);
        // By the next delivery the downstream has sent three invites: the counter reads 0.
        let (sender, rows, lookups) = quota_sample("0");
        let again = decide(&sender, rows, &lookups, Some(&first.allowances));
        assert_eq!(lines(&again), lines(&first));
        assert_eq!(again.allowances, first.allowances);
    }

    #[test]
    fn blocked_attendee_is_never_invited_even_when_others_are() {
        let (sender, rows, mut lookups) = sample();
        lookups.blocked.clear();
        let plan = decide(&sender, rows, &lookups, None);
        assert_eq!(
            plan.invites.len(),
            2,
            "without the block record both rows go out"
        );
    }
}
