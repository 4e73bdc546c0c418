//! Is the `From:` address real? SES's verdicts on the stored message, read only where SES put them.
//!
//! SES prepends its own block of headers above everything the sender wrote, ending with
//! `X-SES-RECEIPT`: `X-SES-Spam-Verdict`, `X-SES-Virus-Verdict`, `Received-SPF` and
//! `Authentication-Results: amazonses.com; spf=…; dkim=…; dmarc=…`. Only headers above the first
//! `X-SES-RECEIPT` are read, and of each only the first: copies further down can be written by
//! anyone, including a forger who wants this service to mail a list in an organizer's name.

use std::fmt;

use crate::inbound::auth_results;

/// What to require of a message before acting on it (`SENDER_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Refuse on a virus or spam FAIL, and unless DMARC passes for the `From:` domain (or, when
    /// the domain publishes no DMARC policy, SPF or DKIM passes aligned with it).
    Strict,
    /// Accept everything (local testing only).
    Off,
}

impl Policy {
    /// Parses `strict` or `off`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "strict" => Some(Self::Strict),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

/// One method's result and the domain it speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `pass`, `fail`, `none`, … (lowercased).
    pub result: String,
    /// The domain the result is about (lowercased; empty when the header named none).
    pub domain: String,
}

impl Verdict {
    fn new(result: impl Into<String>, domain: impl Into<String>) -> Self {
        Self {
            result: result.into(),
            domain: domain.into(),
        }
    }

    /// True when it passed for a domain aligned with `from_domain`.
    fn passes_for(&self, from_domain: &str) -> bool {
        self.result == "pass" && aligned(&self.domain, from_domain)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.result, self.domain)
    }
}

/// SES's verdicts on one message, from its own header block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    /// `X-SES-Spam-Verdict`.
    pub spam: Option<String>,
    /// `X-SES-Virus-Verdict`.
    pub virus: Option<String>,
    /// SPF result and the domain it was for (`envelope-from`, as SES writes it, or
    /// `smtp.mailfrom`).
    pub spf: Option<Verdict>,
    /// DKIM results and their signing domains (`header.d`, else `header.i=@domain`).
    pub dkim: Vec<Verdict>,
    /// DMARC result and the `From:` domain it was for (`header.from`).
    pub dmarc: Option<Verdict>,
    /// True when the message carries SES's block at all.
    pub from_ses: bool,
}

impl fmt::Display for Verdicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        write!(
            f,
            "ses_block={} spam={} virus={} spf={} dkim={} dmarc={}",
            self.from_ses,
            or_none(&self.spam),
            or_none(&self.virus),
            self.spf.as_ref().map_or("none".into(), Verdict::to_string),
            if self.dkim.is_empty() {
                "none".to_string()
            } else {
                self.dkim
                    .iter()
                    .map(Verdict::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            },
            self.dmarc
                .as_ref()
                .map_or("none".into(), Verdict::to_string),
        )
    }
}

/// Reads SES's verdicts from the message's headers, given top to bottom as (name, raw value).
pub fn read_verdicts<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Verdicts {
    let mut verdicts = Verdicts::default();
    let mut block = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("X-SES-RECEIPT") {
            verdicts.from_ses = true;
            break;
        }
        block.push((name, value));
    }
    if !verdicts.from_ses {
        return verdicts;
    }
    let first = |wanted: &str| {
        block
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.trim().to_string())
    };
    verdicts.spam = first("X-SES-Spam-Verdict");
    verdicts.virus = first("X-SES-Virus-Verdict");
    // SES's own header is the first one above X-SES-RECEIPT whose authserv-id is amazonses.com,
    // read with its grammar (crate::inbound::auth_results): quoted text can never add a clause.
    let results = block
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .filter_map(|(_, value)| auth_results::parse(value))
        .find(|parsed| parsed.authserv_id == "amazonses.com");
    for found in results.into_iter().flat_map(|parsed| parsed.results) {
        let property = |key: &str| found.property(key).unwrap_or_default().to_ascii_lowercase();
        let result = found.result.clone();
        match found.method.as_str() {
            // SES names the SPF identity `envelope-from`; RFC 8601 says `smtp.mailfrom`.
            "spf" if verdicts.spf.is_none() => {
                let identity = Some(property("smtp.mailfrom"))
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| property("envelope-from"));
                verdicts.spf = Some(Verdict::new(result, domain_of(&identity)));
            }
            "dkim" => {
                let domain = Some(property("header.d"))
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| property("header.i"));
                verdicts.dkim.push(Verdict::new(result, domain_of(&domain)));
            }
            "dmarc" if verdicts.dmarc.is_none() => {
                verdicts.dmarc = Some(Verdict::new(result, property("header.from")))
            }
            _ => {}
        }
    }
    verdicts
}

/// The domain of an address or a bare domain.
fn domain_of(value: &str) -> String {
    value
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Relaxed alignment: the same domain, or one a subdomain of the other.
fn aligned(a: &str, b: &str) -> bool {
    !a.is_empty()
        && !b.is_empty()
        && (a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")))
}

/// Why a message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The message did not come through SES (no SES header block).
    #[error("no SES verdict headers")]
    NotFromSes,
    /// SES found a virus.
    #[error("virus verdict FAIL")]
    Virus,
    /// SES judged it spam.
    #[error("spam verdict FAIL")]
    Spam,
    /// DMARC (or, without a DMARC policy, aligned SPF/DKIM) did not pass for the `From:` domain.
    #[error("sender not authenticated for {0}")]
    NotAuthenticated(String),
}

/// Applies the policy to a message from `from_domain`.
pub fn check(policy: Policy, verdicts: &Verdicts, from_domain: &str) -> Result<(), Refusal> {
    if policy == Policy::Off {
        return Ok(());
    }
    if !verdicts.from_ses {
        return Err(Refusal::NotFromSes);
    }
    let fail = |v: &Option<String>| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("FAIL"));
    if fail(&verdicts.virus) {
        return Err(Refusal::Virus);
    }
    if fail(&verdicts.spam) {
        return Err(Refusal::Spam);
    }
    let from_domain = from_domain.to_ascii_lowercase();
    let authenticated = match &verdicts.dmarc {
        Some(dmarc) if dmarc.result == "pass" => dmarc.passes_for(&from_domain),
        Some(dmarc) if dmarc.result != "none" => false,
        // No DMARC policy published: SPF or DKIM must pass for the From: domain itself.
        _ => {
            verdicts
                .spf
                .as_ref()
                .is_some_and(|spf| spf.passes_for(&from_domain))
                || verdicts
                    .dkim
                    .iter()
                    .any(|dkim| dkim.passes_for(&from_domain))
        }
    };
    if authenticated {
        Ok(())
    } else {
        Err(Refusal::NotAuthenticated(from_domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ses_block(results: &str) -> Vec<(&'static str, String)> {
        vec![
            ("X-SES-Spam-Verdict", " PASS".into()),
            ("X-SES-Virus-Verdict", " PASS".into()),
            ("Received-SPF", " pass".into()),
            (
                "Authentication-Results",
                format!(" amazonses.com;\r\n {results}"),
            ),
            ("X-SES-RECEIPT", " AEFBQU".into()),
        ]
    }

    fn verdicts(headers: &[(&'static str, String)]) -> Verdicts {
        read_verdicts(headers.iter().map(|(n, v)| (*n, v.as_str())))
    }

    const PASSING: &str = "spf=pass (spfCheck) smtp.mailfrom=org@example.com;\r\n dkim=pass header.i=@example.com;\r\n dmarc=pass header.from=example.com;";

    /// The exact shape SES writes for a domain without DMARC (field notes, "SES receiving":
    /// `envelope-from=` as a clause of its own, after the spfCheck comment).
    const SES_SPF_ONLY: &str = "spf=pass (spfCheck: domain of example.com designates 203.0.113.5 as permitted sender) client-ip=203.0.113.5; envelope-from=ann@example.com; helo=mail.example.com;\r\n dkim=pass header.i=@provider.example.net;\r\n dmarc=none header.from=example.com;";

    #[test]
    fn no_dmarc_organizer_passes_on_aligned_envelope_from() {
        let v = verdicts(&ses_block(SES_SPF_ONLY));
        assert_eq!(v.spf, Some(Verdict::new("pass", "example.com")));
        assert_eq!(check(Policy::Strict, &v, "example.com"), Ok(()));
        assert_eq!(
            check(Policy::Strict, &v, "other.example"),
            Err(Refusal::NotAuthenticated("other.example".into())),
            "SPF for another domain does not vouch for this one"
        );
    }

    #[test]
    fn a_quoted_local_part_cannot_forge_a_dkim_pass() {
        // The attacker's MAIL FROM local part carries a whole clause; SES copies it quoted.
        let v = verdicts(&ses_block(
            "spf=fail (spfCheck) client-ip=198.51.100.7; envelope-from=\"x;dkim=pass header.d=example.com\"@evil.example; helo=evil.example;\r\n dkim=none;\r\n dmarc=none header.from=example.com;",
        ));
        assert!(v.dkim.iter().all(|dkim| dkim.result != "pass"), "{v}");
        assert_eq!(
            check(Policy::Strict, &v, "example.com"),
            Err(Refusal::NotAuthenticated("example.com".into()))
        );
    }

    #[test]
    fn passing_dmarc_is_accepted() {
        let v = verdicts(&ses_block(PASSING));
        assert_eq!(v.dmarc, Some(Verdict::new("pass", "example.com")));
        assert_eq!(check(Policy::Strict, &v, "example.com"), Ok(()));
        assert_eq!(
            check(Policy::Strict, &v, "mail.example.com"),
            Ok(()),
            "relaxed alignment"
        );
    }

    #[test]
    fn spoofed_from_fails_dmarc() {
        let v = verdicts(&ses_block(
            "spf=pass smtp.mailfrom=x@attacker.test; dkim=none; dmarc=fail header.from=example.com;",
        ));
        assert_eq!(
            check(Policy::Strict, &v, "example.com"),
            Err(Refusal::NotAuthenticated("example.com".into()))
        );
        assert_eq!(check(Policy::Off, &v, "example.com"), Ok(()));
    }

    #[test]
    fn dmarc_pass_for_another_domain_does_not_count() {
        let v = verdicts(&ses_block("dmarc=pass header.from=attacker.test;"));
        assert!(check(Policy::Strict, &v, "example.com").is_err());
    }

    #[test]
    fn without_dmarc_policy_aligned_spf_or_dkim_must_pass() {
        let spf = verdicts(&ses_block(
            "spf=pass smtp.mailfrom=org@example.com; dkim=none; dmarc=none header.from=example.com;",
        ));
        assert_eq!(check(Policy::Strict, &spf, "example.com"), Ok(()));
        let dkim = verdicts(&ses_block(
            "spf=fail smtp.mailfrom=o@other.test; dkim=pass header.i=@example.com; dmarc=none header.from=example.com;",
        ));
        assert_eq!(check(Policy::Strict, &dkim, "example.com"), Ok(()));
        let neither = verdicts(&ses_block(
            "spf=pass smtp.mailfrom=o@other.test; dkim=pass header.i=@other.test; dmarc=none header.from=example.com;",
        ));
        assert!(check(Policy::Strict, &neither, "example.com").is_err());
    }

    #[test]
    fn forged_results_below_ses_block_are_ignored() {
        let mut headers = ses_block(
            "spf=fail smtp.mailfrom=x@attacker.test; dmarc=fail header.from=example.com;",
        );
        headers.push((
            "Authentication-Results",
            " amazonses.com; dmarc=pass header.from=example.com;".into(),
        ));
        headers.push(("From", " org@example.com".into()));
        assert!(check(Policy::Strict, &verdicts(&headers), "example.com").is_err());
    }

    #[test]
    fn forged_results_without_ses_block_are_ignored() {
        let headers = vec![
            (
                "Authentication-Results",
                " amazonses.com; dmarc=pass header.from=example.com;".to_string(),
            ),
            ("From", " org@example.com".into()),
        ];
        assert_eq!(
            check(Policy::Strict, &verdicts(&headers), "example.com"),
            Err(Refusal::NotFromSes)
        );
    }

    #[test]
    fn virus_and_spam_fail_are_refused() {
        let mut headers = ses_block(PASSING);
        headers[1].1 = " FAIL".into();
        assert_eq!(
            check(Policy::Strict, &verdicts(&headers), "example.com"),
            Err(Refusal::Virus)
        );
        let mut headers = ses_block(PASSING);
        headers[0].1 = " FAIL".into();
        assert_eq!(
            check(Policy::Strict, &verdicts(&headers), "example.com"),
            Err(Refusal::Spam)
        );
    }

    #[test]
    fn policy_parses() {
        assert_eq!(Policy::parse(" Strict "), Some(Policy::Strict));
        assert_eq!(Policy::parse("off"), Some(Policy::Off));
        assert_eq!(Policy::parse("maybe"), None);
    }
}
