//! Why a row was not sent, and the kind of reason every report and metric counts by.
//!
//! The list's rules ([`crate::attendees::rows`]) and the decision ([`crate::decision::plan`])
//! reject rows with a [`Reason`]; the summary groups them by [`ReasonKind`] and metrics count
//! them by its code. A new reason does not compile until it has a kind, and a new kind until
//! it has a code and the summary's words for it.

use std::fmt;

use super::row::RowPosition;

/// Why a row was not sent. Every row ends in exactly one outcome: queued or one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A required field (`uid` or `email`) is absent or empty.
    MissingField(&'static str),
    /// The email address is not valid.
    InvalidEmail,
    /// The uid is present but unusable (control characters).
    InvalidUid,
    /// The address has non-ASCII characters before the `@`: it needs SMTPUTF8, which the
    /// invite mail cannot use.
    NonAsciiLocalPart,
    /// A value is longer than its column allows ([`crate::attendees::rows::MAX_UID_CHARS`] and the
    /// other cell limits).
    TooLong {
        /// The column.
        field: &'static str,
        /// Its limit, in characters.
        max_chars: usize,
    },
    /// The row is longer than [`crate::attendees::records::MAX_RECORD_BYTES`] (or has more fields than
    /// [`crate::attendees::records::MAX_FIELDS`]); it was not kept.
    RowTooLong,
    /// The same `(uid, email)` pair appeared on an earlier row, which is the one sent.
    Duplicate {
        /// Where the first occurrence is.
        first_row: RowPosition,
    },
    /// The address's domain looks misspelt ([`crate::attendees::typos`]): the invite would
    /// bounce.
    LikelyTypo {
        /// The address that was probably meant.
        meant: String,
    },
    /// The attendee has blocked this organizer.
    Blocked,
    /// No event with this uid exists.
    UnknownEvent,
    /// The event exists but belongs to another organizer.
    NotYourEvent,
    /// The event's `invite_limit` allows fewer invites than the list has for it, and earlier
    /// rows of the list took them ([`crate::decision::limits`]).
    InviteLimitReached {
        /// Invites the event allowed when the request was decided.
        allowed: u64,
    },
    /// SNS refused the message for this invite.
    PublishFailed(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MissingField(field) => write!(f, "missing field ({field})"),
            Reason::InvalidEmail => f.write_str("invalid email"),
            Reason::InvalidUid => f.write_str("invalid uid"),
            Reason::NonAsciiLocalPart => f.write_str(
                "address not deliverable: non-ASCII characters before the @ need SMTPUTF8",
            ),
            Reason::TooLong { field, max_chars } => {
                write!(f, "{field} too long (more than {max_chars} characters)")
            }
            Reason::RowTooLong => write!(
                f,
                "row too long (more than {} KiB or {} columns)",
                crate::attendees::records::MAX_RECORD_BYTES / 1024,
                crate::attendees::records::MAX_FIELDS
            ),
            Reason::Duplicate { first_row } => write!(f, "duplicate of row {}", first_row.line),
            Reason::Blocked => f.write_str("blocked"),
            Reason::UnknownEvent => f.write_str("unknown event"),
            Reason::NotYourEvent => f.write_str("not your event"),
            Reason::InviteLimitReached { allowed } => write!(
                f,
                "invite limit reached: the event allows {allowed} more invite{}",
                if *allowed == 1 { "" } else { "s" }
            ),
            Reason::PublishFailed(code) => write!(f, "publish failed ({code})"),
            Reason::LikelyTypo { meant } => write!(f, "did you mean {meant}?"),
        }
    }
}

impl Reason {
    /// The kind of reason, which the summary groups by and metrics count.
    pub fn kind(&self) -> ReasonKind {
        match self {
            Reason::MissingField(_) => ReasonKind::MissingField,
            Reason::InvalidEmail => ReasonKind::InvalidEmail,
            Reason::InvalidUid => ReasonKind::InvalidUid,
            Reason::NonAsciiLocalPart => ReasonKind::NonAsciiLocalPart,
            Reason::TooLong { .. } => ReasonKind::TooLong,
            Reason::RowTooLong => ReasonKind::RowTooLong,
            Reason::Duplicate { .. } => ReasonKind::Duplicate,
            Reason::LikelyTypo { .. } => ReasonKind::LikelyTypo,
            Reason::Blocked => ReasonKind::Blocked,
            Reason::UnknownEvent => ReasonKind::UnknownEvent,
            Reason::NotYourEvent => ReasonKind::NotYourEvent,
            Reason::InviteLimitReached { .. } => ReasonKind::InviteLimitReached,
            Reason::PublishFailed(_) => ReasonKind::PublishFailed,
        }
    }
}

/// A kind of [`Reason`], without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonKind {
    /// `missing_field`: a uid or email is missing.
    MissingField,
    /// `invalid_email`: not a valid email address.
    InvalidEmail,
    /// `invalid_uid`: not a valid uid.
    InvalidUid,
    /// `non_ascii_local_part`: address not deliverable (non-ASCII before the @).
    NonAsciiLocalPart,
    /// `too_long`: a value is too long.
    TooLong,
    /// `row_too_long`: the row is too long.
    RowTooLong,
    /// `duplicate`: the same uid and email on an earlier row.
    Duplicate,
    /// `likely_typo`: the address's domain looks misspelt.
    LikelyTypo,
    /// `blocked`: the attendee blocked invites from you.
    Blocked,
    /// `unknown_event`: no event has this uid.
    UnknownEvent,
    /// `not_your_event`: the event is not yours.
    NotYourEvent,
    /// `invite_limit`: the event's invite limit is reached.
    InviteLimitReached,
    /// `publish_failed`: could not be sent.
    PublishFailed,
}

impl ReasonKind {
    /// A short stable code: metrics (`RowsNotSent_<code>`) and the reports' `reason` field.
    pub fn code(self) -> &'static str {
        match self {
            ReasonKind::MissingField => "missing_field",
            ReasonKind::InvalidEmail => "invalid_email",
            ReasonKind::InvalidUid => "invalid_uid",
            ReasonKind::NonAsciiLocalPart => "non_ascii_local_part",
            ReasonKind::TooLong => "too_long",
            ReasonKind::RowTooLong => "row_too_long",
            ReasonKind::Duplicate => "duplicate",
            ReasonKind::LikelyTypo => "likely_typo",
            ReasonKind::Blocked => "blocked",
            ReasonKind::UnknownEvent => "unknown_event",
            ReasonKind::NotYourEvent => "not_your_event",
            ReasonKind::InviteLimitReached => "invite_limit",
            ReasonKind::PublishFailed => "publish_failed",
        }
    }

    /// The kind in the words of the summary's "by reason" table.
    pub fn label(self) -> &'static str {
        match self {
            ReasonKind::MissingField => "a uid or email is missing",
            ReasonKind::InvalidEmail => "not a valid email address",
            ReasonKind::InvalidUid => "not a valid uid",
            ReasonKind::NonAsciiLocalPart => "address not deliverable (non-ASCII before the @)",
            ReasonKind::TooLong => "a value is too long",
            ReasonKind::RowTooLong => "the row is too long",
            ReasonKind::Duplicate => "the same uid and email on an earlier row",
            ReasonKind::LikelyTypo => "the address's domain looks misspelt",
            ReasonKind::Blocked => "the attendee blocked invites from you",
            ReasonKind::UnknownEvent => "no event has this uid",
            ReasonKind::NotYourEvent => "the event is not yours",
            ReasonKind::InviteLimitReached => "the event's invite limit is reached",
            ReasonKind::PublishFailed => "could not be sent",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_plain_words() {
        assert_eq!(
            Reason::MissingField("email").to_string(),
            "missing field (email)"
        );
        assert_eq!(
            Reason::Duplicate {
                first_row: RowPosition::new(0, 2)
            }
            .to_string(),
            "duplicate of row 2"
        );
        assert_eq!(Reason::NotYourEvent.to_string(), "not your event");
        assert_eq!(
            Reason::InviteLimitReached { allowed: 3 }.to_string(),
            "invite limit reached: the event allows 3 more invites"
        );
    }
}
