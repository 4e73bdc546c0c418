//! Likely typos in an attendee's domain: `gmial.com`, `hotmial.com`, `yahoo.con`.
//!
//! An invite to a misspelt domain bounces, and bounces hurt the sending reputation of every
//! invite. Two rules, both on the domain only:
//! - one edit (a letter added, dropped, replaced, or two neighbours swapped) away from a
//!   well-known mailbox provider in [`PROVIDERS`] whose name has at least
//!   [`MIN_PROVIDER_NAME`] letters;
//! - a top-level domain in [`TLD_TYPOS`] (none of which is a real top-level domain).
//!
//! Invariant: a domain that is itself a provider (even a short one, `mail.com`, `me.com`) is
//! never flagged; short provider names are not used as targets because one edit from them
//! lands on real company domains (`me.com` -> `ms.com`).

/// Well-known mailbox providers: the targets of the one-edit rule, and never flagged.
pub const PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "ymail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "outlook.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "protonmail.com",
    "proton.me",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "yandex.ru",
    "zoho.com",
    "fastmail.com",
];

/// Providers whose name (before the first dot) is shorter than this are not typo targets.
pub const MIN_PROVIDER_NAME: usize = 5;

/// Top-level domains that are typos, with what was meant. None of them is delegated.
pub const TLD_TYPOS: &[(&str, &str)] = &[
    ("con", "com"),
    ("cmo", "com"),
    ("ocm", "com"),
    ("cpm", "com"),
    ("vom", "com"),
    ("xom", "com"),
    ("comm", "com"),
    ("coom", "com"),
    ("nte", "net"),
    ("ogr", "org"),
    ("rog", "org"),
    ("orgg", "org"),
];

/// The domain that was probably meant, when `domain` (lowercase ASCII, as a parsed
/// `AttendeeEmail` holds it) looks like a typo; `None` otherwise.
pub fn likely_meant(domain: &str) -> Option<String> {
    if PROVIDERS.contains(&domain) {
        return None;
    }
    if let Some(provider) = PROVIDERS.iter().find(|provider| {
        provider.split('.').next().unwrap_or("").len() >= MIN_PROVIDER_NAME
            && one_edit_apart(domain, provider)
    }) {
        return Some((*provider).to_string());
    }
    let (rest, tld) = domain.rsplit_once('.')?;
    TLD_TYPOS
        .iter()
        .find(|(typo, _)| *typo == tld)
        .map(|(_, meant)| format!("{rest}.{meant}"))
}

/// True when `a` becomes `b` by exactly one insertion, deletion, substitution, or swap of two
/// neighbouring characters (bytes: domains here are ASCII).
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a_rest, b_rest) = (&a[prefix..], &b[prefix..]);
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Less => a_rest == &b_rest[1..],
        std::cmp::Ordering::Greater => &a_rest[1..] == b_rest,
        std::cmp::Ordering::Equal => {
            a_rest[1..] == b_rest[1..]
                || (a_rest.len() >= 2
                    && a_rest[0] == b_rest[1]
                    && a_rest[1] == b_rest[0]
                    && a_rest[2..] == b_rest[2..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_usual_typos_are_caught() {
        for (typo, meant) in [
            ("gmial.com", "gmail.com"),
            ("gmal.com", "gmail.com"),
            ("gmaill.com", "gmail.com"),
            ("hotmial.com", "hotmail.com"),
            ("hotmail.cm", "hotmail.com"),
            ("yaho.com", "yahoo.com"),
            ("outlok.com", "outlook.com"),
            ("yahoo.con", "yahoo.com"),
            ("example.cmo", "example.com"),
            ("calendarsnack.nte", "calendarsnack.net"),
        ] {
            assert_eq!(likely_meant(typo).as_deref(), Some(meant), "{typo}");
        }
    }

    #[test]
    fn real_domains_are_left_alone() {
        for domain in [
            "gmail.com",
            "mail.com",
            "me.com",
            "ms.com",
            "gmx.de",
            "example.com",
            "calendarsnack.com",
            "yahoo.co.uk",
            "example.co",
            "example.om",
            "xn--e1afmkfd.xn--p1ai",
        ] {
            assert_eq!(likely_meant(domain), None, "{domain}");
        }
    }

    /// The reference: Damerau-Levenshtein distance (optimal string alignment) by the book.
    fn distance(a: &[u8], b: &[u8]) -> usize {
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                d[i][j] = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        d[a.len()][b.len()]
    }

    proptest! {
        #[test]
        fn one_edit_apart_is_distance_one(a in "[a-d.]{0,7}", b in "[a-d.]{0,7}") {
            prop_assert_eq!(one_edit_apart(&a, &b), distance(a.as_bytes(), b.as_bytes()) == 1);
        }

        #[test]
        fn providers_are_never_flagged(i in 0..PROVIDERS.len()) {
            prop_assert_eq!(likely_meant(PROVIDERS[i]), None);
        }
    }
}
