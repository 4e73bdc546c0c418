//! Attendee display names.

use std::fmt;

/// Name used when the CSV leaves the attendee's name empty, as the original does.
pub const DEFAULT_NAME: &str = "customer";

/// An attendee's display name: trimmed, and `customer` when empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttendeeName(String);
string_newtype!(AttendeeName);

impl AttendeeName {
    /// Normalizes a name; never fails, because an empty name has a default. Control characters
    /// (and line separators) become spaces ([`crate::attendees::cells::without_controls`]): a name reaches
    /// the invite service and the summary, neither of which may see a line break from it.
    pub fn parse(raw: &str) -> Self {
        let cleaned = crate::attendees::cells::without_controls(raw);
        let name = cleaned.trim();
        if name.is_empty() {
            Self(DEFAULT_NAME.to_string())
        } else {
            Self(name.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_name_becomes_customer() {
        assert_eq!(AttendeeName::parse("  ").as_str(), "customer");
        assert_eq!(AttendeeName::parse(" Smith, Jane ").as_str(), "Smith, Jane");
    }
}
