//! Step 6, first: the event the request's subject names, for lists with an email column and
//! no uid column (`Invites for team-offsite-2026`).
//!
//! Invariant: the lookup costs one BatchGetItem and is made only when the subject has
//! uid-shaped words ([`crate::domain::uid_words`]) and a list may want them
//! ([`crate::attendees::lists::may_want_subject_event`]); only the organizer's own event can
//! take a list's rows, and only when it is the one such event named.

use super::Request;
use crate::attendees::lists;
use crate::decision::plan::LookupKeys;
use crate::domain::{EventUid, uid_words};
use crate::error::ProcessError;

impl Request<'_> {
    /// Step 6, first: the event the subject names (`Invites for team-offsite-2026`), for lists
    /// with an email column and no uid column. Looked up (one BatchGetItem) only when the subject
    /// has uid-shaped words and a list may want it; exactly one of them must be the organizer's
    /// own event, else no list goes without a uid column (the help explains both ways).
    pub(super) async fn event_from_subject(
        &self,
        sources: &[lists::ListSource],
    ) -> Result<Option<EventUid>, ProcessError> {
        let subject = self.answers.subject.as_deref().unwrap_or_default();
        let words = uid_words(subject);
        if words.is_empty() || !lists::may_want_subject_event(sources) {
            return Ok(None);
        }
        let keys = LookupKeys {
            events: words,
            ..LookupKeys::default()
        };
        let lookup = self.app.aws.directory.lookup(&self.sender, keys);
        let found = (self.time.deadline)
            .within(self.time.lookups_keep(), lookup)
            .await
            .ok_or(ProcessError::DeadlineReached { progressed: false })??;
        let mut own = found
            .events
            .into_iter()
            .filter(|(_, event)| event.is_owned_by(self.sender.as_str()))
            .map(|(uid, _)| uid);
        Ok(match (own.next(), own.next()) {
            (Some(uid), None) => Some(uid),
            _ => None,
        })
    }
}
