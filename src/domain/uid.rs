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

/// Most words of a subject looked up as event uids.
pub const MAX_SUBJECT_UIDS: usize = 20;

/// The words of a subject that may be an event's uid (`Invites for team-offsite-2026`,
/// `[team-offsite-2026] guests`): 3 to 128 characters of letters, digits, `-`, `_` or `.`,
/// with at least one digit, `-` or `_` (so `Invites` and `for` are not), lowercased, each once,
/// at most [`MAX_SUBJECT_UIDS`].
pub fn uid_words(subject: &str) -> Vec<EventUid> {
    let mut words: Vec<EventUid> = Vec::new();
    let separators = |c: char| c.is_whitespace() || "[](){}<>\"',:;!?/|".contains(c);
    for word in subject.split(separators) {
        let word = word.trim_matches('.');
        let shaped = (3..=128).contains(&word.len())
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && word
                .chars()
                .any(|c| c.is_ascii_digit() || matches!(c, '-' | '_'));
        if let Ok(uid) = EventUid::parse(word)
            && shaped
            && !words.contains(&uid)
        {
            words.push(uid);
            if words.len() == MAX_SUBJECT_UIDS {
                break;
            }
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_shaped_words_of_a_subject_are_found() {
        let words = |subject: &str| -> Vec<String> {
            uid_words(subject).iter().map(|u| u.to_string()).collect()
        };
        assert_eq!(
            words("Invites for team-offsite-2026"),
            ["team-offsite-2026"]
        );
        assert_eq!(words("[Team-Offsite-2026] guests"), ["team-offsite-2026"]);
        assert_eq!(
            words("Re: guests (launch_2026), launch_2026."),
            ["launch_2026"]
        );
        assert!(words("Invites for our offsite").is_empty());
        assert!(words("").is_empty());
        assert_eq!(uid_words(&"a-1 ".repeat(10)).len(), 1);
    }

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
