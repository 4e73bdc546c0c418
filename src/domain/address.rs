//! Organizer and attendee addresses: trimmed, lowercased, and only plain deliverable ones.

use std::fmt;

/// Why a string is not a usable email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid email address: {0:?}")]
pub struct InvalidEmail(pub String);

/// Trims and lowercases `raw`, then accepts it only when it is a plain deliverable address.
///
/// The original's regex demanded a dotted domain with an alphanumeric top-level label of two or
/// more characters; `email_address` alone accepts `user@localhost` and quoted local parts, so
/// both rules apply.
fn normalize_address(raw: &str) -> Result<String, InvalidEmail> {
    let trimmed = raw.trim();
    if is_plain_address(trimmed.as_bytes()) {
        return Ok(trimmed.to_ascii_lowercase());
    }
    checked_address(raw)
}

/// The full rules, for whatever the fast path does not settle.
///
/// Internationalized domains are converted to their ASCII form (punycode A-labels, with the
/// `idna` crate, UTS 46), which is what the invite mail can deliver to; a non-ASCII local part
/// would need SMTPUTF8, which it cannot use, so it is refused ([`has_non_ascii_local_part`]
/// lets callers say why).
fn checked_address(raw: &str) -> Result<String, InvalidEmail> {
    let address = lowercase(raw.trim());
    let invalid = || InvalidEmail(raw.to_string());
    if address.is_empty()
        || address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>'))
    {
        return Err(invalid());
    }
    let (local, domain) = address.rsplit_once('@').ok_or_else(invalid)?;
    if !local.is_ascii() {
        return Err(invalid());
    }
    let domain = if domain.is_ascii() {
        domain.to_string()
    } else {
        idna::domain_to_ascii(domain).map_err(|_| invalid())?
    };
    let address = format!("{local}@{domain}");
    if !email_address::EmailAddress::is_valid(&address) {
        return Err(invalid());
    }
    let (_, tld) = domain.rsplit_once('.').ok_or_else(invalid)?;
    if !is_top_level_label(tld) {
        return Err(invalid());
    }
    Ok(address)
}

/// A top-level label: two or more letters or digits, or an IDN A-label (`xn--p1ai`).
fn is_top_level_label(label: &str) -> bool {
    let plain = label.len() >= 2 && label.bytes().all(|b| b.is_ascii_alphanumeric());
    let a_label = label.strip_prefix("xn--").is_some_and(|rest| {
        !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !rest.ends_with('-')
    });
    plain || a_label
}

/// True when the part before the last `@` has non-ASCII characters: such an address needs
/// SMTPUTF8, which the invite mail cannot use.
pub fn has_non_ascii_local_part(raw: &str) -> bool {
    raw.trim()
        .rsplit_once('@')
        .is_some_and(|(local, _)| !local.is_ascii())
}

/// Fast path, in one pass over the bytes, for the shape nearly every attendee address has: a
/// dot-atom local part of `[A-Za-z0-9._+-]` and two or more dotted `[A-Za-z0-9-]` labels, the
/// last alphanumeric and 2+ long, within RFC 5321 lengths. A property test checks that whatever
/// it accepts, [`checked_address`] accepts with the same result, so it changes speed, not the
/// verdict; anything it declines goes to [`checked_address`].
fn is_plain_address(address: &[u8]) -> bool {
    let Some(at) = memchr::memchr(b'@', address) else {
        return false;
    };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return false;
    }
    let mut previous = b'.';
    for &b in local {
        let word = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-');
        if !(word || b == b'.' && previous != b'.') {
            return false;
        }
        previous = b;
    }
    if previous == b'.' {
        return false;
    }
    let (mut labels, mut length, mut hyphens, mut previous) = (1, 0, false, b'.');
    for &b in domain {
        match b {
            b'.' if length > 0 && previous != b'-' => {
                (labels, length, hyphens) = (labels + 1, 0, false)
            }
            b'-' if length > 0 => (length, hyphens) = (length + 1, true),
            _ if b.is_ascii_alphanumeric() => length += 1,
            _ => return false,
        }
        if length > 63 {
            return false;
        }
        previous = b;
    }
    labels >= 2 && length >= 2 && !hyphens
}

/// Lowercases, with a fast path for the ASCII text nearly every CSV holds.
pub(super) fn lowercase(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
    }
}

/// The organizer who sent the bulk request: the `From:` address, trimmed and lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderEmail(String);
string_newtype!(SenderEmail);

impl SenderEmail {
    /// Parses and normalizes an organizer address.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        normalize_address(raw).map(Self)
    }

    /// The domain part, e.g. `example.com`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

/// An attendee address from the CSV, trimmed, lowercased and valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// Boxed, not a `String`: a million-row list holds a million of them, and a box is the
/// address's bytes and two words, no spare capacity.
pub struct AttendeeEmail(Box<str>);
string_newtype!(AttendeeEmail);

impl AttendeeEmail {
    /// Parses and normalizes an attendee address.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        normalize_address(raw).map(|address| Self(address.into_boxed_str()))
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }

    /// The domain part, e.g. `example.com`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The address with its domain in Unicode (`ann@münchen.de`), when the domain is an
    /// internationalized one: the form the original function published, and block records
    /// made from its invites carry.
    pub fn unicode_form(&self) -> Option<String> {
        if !self
            .domain()
            .split('.')
            .any(|label| label.starts_with("xn--"))
        {
            return None;
        }
        let (unicode, result) = idna::domain_to_unicode(self.domain());
        result.ok()?;
        Some(format!("{}@{unicode}", self.local_part()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internationalized_domains_become_ascii() {
        for (given, expected) in [
            ("user@example.xn--p1ai", "user@example.xn--p1ai"),
            ("user@пример.рф", "user@xn--e1afmkfd.xn--p1ai"),
            ("Ann@Bücher.de", "ann@xn--bcher-kva.de"),
            ("a@xn--bcher-kva.de", "a@xn--bcher-kva.de"),
        ] {
            assert_eq!(
                AttendeeEmail::parse(given).map(|e| e.to_string()),
                Ok(expected.to_string()),
                "{given}"
            );
        }
        assert!(AttendeeEmail::parse("jörg@example.com").is_err());
        assert!(has_non_ascii_local_part("jörg@example.com"));
        assert!(!has_non_ascii_local_part("user@пример.рф"));
        assert!(AttendeeEmail::parse("a@example.xn--").is_err());
        assert!(AttendeeEmail::parse("a@example.x").is_err());
    }

    #[test]
    fn attendee_email_is_trimmed_and_lowercased() {
        let email = AttendeeEmail::parse("  Jane.Doe@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "jane.doe@example.com");
    }

    #[test]
    fn plus_addressing_and_subdomains_are_valid() {
        for ok in [
            "a+tag@example.com",
            "x@mail.example.co.uk",
            "a_b-c@ex-ample.io",
        ] {
            assert!(AttendeeEmail::parse(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "user@",
            "user@localhost",
            "user@example.c",
            "user@example.c0m!",
            "user@exa mple.com",
            "us er@example.com",
            "\"quoted\"@example.com",
            "o'neil@example.com",
            "Jane <jane@example.com>",
            "user@@example.com",
            "user@example..com",
            "user@[127.0.0.1]",
        ] {
            assert!(
                AttendeeEmail::parse(bad).is_err(),
                "{bad:?} should be invalid"
            );
        }
    }

    #[test]
    fn everyday_addresses_take_the_fast_path() {
        for plain in [
            "Attendee.12@Example.com",
            "a+tag@mail.example.co.uk",
            "a_b-c@ex-ample.io",
            "x@a1.b2",
        ] {
            assert!(is_plain_address(plain.as_bytes()), "{plain}");
        }
        for other in [
            "a@b.c",
            "a@b-.com",
            "a@-b.com",
            "a@b.c-m",
            ".a@b.com",
            "a..b@c.com",
            "a@b",
        ] {
            assert!(!is_plain_address(other.as_bytes()), "{other}");
        }
    }

    #[test]
    fn sender_uses_the_same_rules() {
        assert_eq!(
            SenderEmail::parse("Org@Example.com").unwrap().as_str(),
            "org@example.com"
        );
        assert!(SenderEmail::parse("org@localhost").is_err());
    }

    use proptest::prop_oneof;

    proptest::proptest! {
        #[test]
        fn fast_path_agrees_with_the_full_rules(
            address in prop_oneof![
                "[a-zA-Z0-9._+-]{0,70}@[a-zA-Z0-9.-]{0,70}",
                // Mostly plain addresses, so the accepting side is exercised as well.
                "[a-zA-Z0-9_+-]{1,30}(\\.{1,2}[a-zA-Z0-9_+-]{0,30}){0,2}@([a-zA-Z0-9-]{0,64}\\.){1,3}[a-zA-Z0-9-]{1,4}",
            ]
        ) {
            if is_plain_address(address.as_bytes()) {
                proptest::prop_assert_eq!(checked_address(&address), Ok(address.to_ascii_lowercase()));
            }
        }

        #[test]
        fn parsing_never_panics(raw in "\\PC{0,80}") {
            let _ = AttendeeEmail::parse(&raw);
        }
    }
}
