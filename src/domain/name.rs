//! Attendee display names.

use std::fmt;

/// Name used when the CSV leaves the attendee's name empty, as the original does.
pub const DEFAULT_NAME: &str = "customer";

/// An attendee's display name: trimmed, and `customer` when empty. Boxed, and the default
/// name not stored at all (an empty box): a million-row list of addresses alone holds no name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttendeeName(Box<str>);

impl AttendeeName {
    /// The normalized value.
    pub fn as_str(&self) -> &str {
        if self.0.is_empty() {
            DEFAULT_NAME
        } else {
            &self.0
        }
    }
}

impl fmt::Display for AttendeeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for AttendeeName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AttendeeName {
    /// Normalizes a name; never fails, because an empty name has a default. Control characters
    /// (and line separators) become spaces ([`crate::attendees::cells::without_controls`]): a name reaches
    /// the invite service and the summary, neither of which may see a line break from it.
    pub fn parse(raw: &str) -> Self {
        let cleaned = crate::attendees::cells::without_controls(raw);
        let name = cleaned.trim();
        // A name written as "customer" is the default too: the two are the same value.
        if name == DEFAULT_NAME {
            Self(Box::default())
        } else {
            Self(name.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_name_becomes_customer() {
        assert_eq!(AttendeeName::parse("  ").as_str(), "customer");
        assert_eq!(AttendeeName::parse("  ").to_string(), "customer");
        assert_eq!(AttendeeName::parse(""), AttendeeName::parse("customer"));
        assert_eq!(AttendeeName::parse(" Smith, Jane ").as_str(), "Smith, Jane");
    }
}
