//! What names a request to the organizer and to their program: the subject they wrote and the
//! `Message-ID` their mail client gave it, which the summary answers (`In-Reply-To`,
//! `References`) so it threads under their message and a program can match it.
//!
//! Threat: both are the sender's text and land in a header and in the summary. A Message-ID is
//! kept only when it is one plain token of printable ASCII (no spaces, brackets or line breaks)
//! of at most [`MAX_MESSAGE_ID_CHARS`]; a subject loses its control characters and is clipped.

use crate::attendees::cells::{clip, without_controls};

/// Longest Message-ID kept (RFC 5322 allows a header line of 998 characters).
pub const MAX_MESSAGE_ID_CHARS: usize = 250;
/// Longest subject the summary repeats, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// A `Message-ID` without its angle brackets, safe to write back in a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId(String);

impl MessageId {
    /// The id, when it is one plain token (`<` and `>` around it are taken off).
    pub fn parse(raw: &str) -> Option<Self> {
        let id = raw.trim().trim_start_matches('<').trim_end_matches('>');
        let plain = |b: u8| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\');
        (!id.is_empty() && id.len() <= MAX_MESSAGE_ID_CHARS && id.bytes().all(plain))
            .then(|| Self(id.to_string()))
    }

    /// The id, without brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The request as its sender named it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestRef {
    /// The subject, cleaned and clipped; `None` when there was none (or only spaces).
    pub subject: Option<String>,
    /// The request's own Message-ID, when it had a usable one.
    pub message_id: Option<MessageId>,
}

impl RequestRef {
    /// From the email's `Subject:` and `Message-ID:` as mail-parser read them.
    pub fn new(subject: Option<&str>, message_id: Option<&str>) -> Self {
        let subject = subject
            .map(|s| clip(without_controls(s).trim(), MAX_SUBJECT_CHARS))
            .filter(|s| !s.is_empty());
        Self {
            subject,
            message_id: message_id.and_then(MessageId::parse),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_message_id_is_kept() {
        let id = MessageId::parse("<CAB123.456@mail.example.com>").expect("plain");
        assert_eq!(id.as_str(), "CAB123.456@mail.example.com");
        assert_eq!(
            MessageId::parse("abc@example.com").unwrap().as_str(),
            "abc@example.com"
        );
        for bad in [
            "",
            "<>",
            "a b@example.com",
            "a\r\nBcc: x@example.com",
            "a<b>@c",
            "\"q\"@c",
        ] {
            assert_eq!(MessageId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            MessageId::parse(&"x".repeat(MAX_MESSAGE_ID_CHARS + 1)),
            None
        );
    }

    #[test]
    fn a_subject_is_cleaned_and_clipped() {
        let request = RequestRef::new(Some("  Guests\r\nfor launch  "), None);
        assert_eq!(request.subject.as_deref(), Some("Guests for launch"));
        assert_eq!(RequestRef::new(Some("   "), None).subject, None);
        let long = RequestRef::new(Some(&"é".repeat(500)), None)
            .subject
            .unwrap();
        assert!(
            long.chars().count() <= MAX_SUBJECT_CHARS + 1,
            "{}",
            long.len()
        );
    }
}
