//! Event uids, as stored in `event#<uid>` keys.

use std::fmt;
use std::sync::Arc;

use super::address::lowercase;

/// Longest uid accepted; DynamoDB partition keys are capped at 2048 bytes and `event#` is added.
const MAX_UID_LEN: usize = 1024;

/// Why a string is not a usable event uid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUid {
    /// Nothing left after trimming.
    #[error("uid is empty")]
    Empty,
    /// Longer than a DynamoDB key allows.
    #[error("uid is longer than {MAX_UID_LEN} characters")]
    TooLong,
    /// Contains a control character, which no real uid has.
    #[error("uid contains a control character")]
    ControlCharacter,
}

/// An event uid, trimmed and lowercased, as stored in `event#<uid>` keys.
///
/// Shared (`Arc`) because a request has many rows and few events: rows of one event hold one
/// copy of its uid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventUid(Arc<str>);
string_newtype!(EventUid);

impl EventUid {
    /// Parses and normalizes a uid.
    pub fn parse(raw: &str) -> Result<Self, InvalidUid> {
        let uid = lowercase(raw.trim());
        if uid.is_empty() {
            Err(InvalidUid::Empty)
        } else if uid.len() > MAX_UID_LEN {
            Err(InvalidUid::TooLong)
        } else if uid.chars().any(char::is_control) {
            Err(InvalidUid::ControlCharacter)
        } else {
            Ok(Self(uid.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_trimmed_lowercased_and_non_empty() {
        assert_eq!(EventUid::parse(" AbC-123 ").unwrap().as_str(), "abc-123");
        assert_eq!(EventUid::parse("  "), Err(InvalidUid::Empty));
        assert_eq!(
            EventUid::parse("a\u{0}b"),
            Err(InvalidUid::ControlCharacter)
        );
        assert_eq!(
            EventUid::parse(&"x".repeat(MAX_UID_LEN + 1)),
            Err(InvalidUid::TooLong)
        );
    }
}
