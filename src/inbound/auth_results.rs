//! The `Authentication-Results` header (RFC 8601), read with its grammar.
//!
//! ```text
//! authres  = authserv-id [ version ] ( ";" "none" / 1*( ";" resinfo ) )
//! resinfo  = method [ "/" version ] "=" result [ reason ] *( ptype "." property "=" pvalue )
//! ```
//!
//! with comments `( … )` (nested, `\` escapes) allowed between any two tokens and values that may
//! be quoted strings (`"…"`, `\` escapes). Threat: the sender controls text that ends up in this
//! header (the MAIL FROM local part, the HELO name), so a naive split on `;` lets a local part
//! such as `"x;dkim=pass header.d=victim"@evil` add a clause. Here a `;` or `=` inside a quoted
//! string or a comment is never structure, so such text can only ever be one value.
//!
//! SES deviates from the grammar in one way this parser accepts: after `spf=…` it writes the SPF
//! identities as clauses of their own (`; envelope-from=ann@example.com; helo=mail.example.com;`);
//! those attach to the SPF result before them as properties.

/// One `method=result` with its properties (`ptype.property` keys, lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// `spf`, `dkim`, `dmarc`, … (lowercased, version dropped).
    pub method: String,
    /// `pass`, `fail`, `none`, … (lowercased).
    pub result: String,
    /// `smtp.mailfrom`, `header.d`, `envelope-from`, `reason`, … and their values, in order.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    /// The first value of a property, if present.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed header: who wrote it and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The authserv-id (`amazonses.com` for SES), lowercased.
    pub authserv_id: String,
    /// The results, in order.
    pub results: Vec<MethodResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Semicolon,
    Equals,
    Word(String),
}

/// SES's SPF identities, written as clauses of their own after `spf=`.
const SPF_IDENTITY_CLAUSES: &[&str] = &["envelope-from", "helo", "client-ip", "smtp.mailfrom"];

/// Splits a header value into tokens: comments dropped, quoted strings unquoted and joined with
/// the text they touch (`"a;b"@evil` is one word).
fn tokens(value: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    let mut word: Option<String> = None;
    let flush = |word: &mut Option<String>, out: &mut Vec<Token>| {
        if let Some(w) = word.take() {
            out.push(Token::Word(w));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                let mut depth = 1usize;
                while depth > 0 {
                    match chars.next() {
                        Some('\\') => {
                            chars.next();
                        }
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            '"' => {
                let text = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\\') => {
                            if let Some(escaped) = chars.next() {
                                text.push(escaped);
                            }
                        }
                        Some('"') | None => break,
                        Some(c) => text.push(c),
                    }
                }
            }
            ';' => {
                flush(&mut word, &mut out);
                out.push(Token::Semicolon);
            }
            '=' => {
                flush(&mut word, &mut out);
                out.push(Token::Equals);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            ')' => flush(&mut word, &mut out),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Parses one `Authentication-Results` value; `None` when it has no authserv-id.
pub fn parse(value: &str) -> Option<AuthResults> {
    let tokens = tokens(value);
    let mut clauses = tokens.split(|t| *t == Token::Semicolon);
    let authserv_id = match clauses.next()?.first()? {
        Token::Word(id) => id.to_ascii_lowercase(),
        _ => return None,
    };
    let mut results: Vec<MethodResult> = Vec::new();
    for clause in clauses {
        let Some(parsed) = resinfo(clause) else {
            continue;
        };
        let is_identity =
            SPF_IDENTITY_CLAUSES.contains(&parsed.method.as_str()) && parsed.properties.is_empty();
        match results.last_mut() {
            Some(spf) if is_identity && spf.method == "spf" => {
                spf.properties.push((parsed.method, parsed.result));
            }
            _ if is_identity => {}
            _ => results.push(parsed),
        }
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// One clause: `method=result` then `key=value` pairs. A clause that breaks the grammar is
/// dropped whole, rather than guessed at.
fn resinfo(clause: &[Token]) -> Option<MethodResult> {
    let mut pairs = Vec::new();
    let mut rest = clause;
    while !rest.is_empty() {
        match rest {
            [
                Token::Word(key),
                Token::Equals,
                Token::Word(value),
                tail @ ..,
            ] => {
                pairs.push((key.to_ascii_lowercase(), value.clone()));
                rest = tail;
            }
            _ => return None,
        }
    }
    let mut pairs = pairs.into_iter();
    let (method, result) = pairs.next()?;
    let method = method.split('/').next().unwrap_or_default().to_string();
    Some(MethodResult {
        method,
        result: result.to_ascii_lowercase(),
        properties: pairs.collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SES's header as the field notes record it (AWS's receiving documentation and SES-received
    /// messages): SPF identities as clauses of their own.
    const SES_NO_DMARC: &str = " amazonses.com;\r\n spf=pass (spfCheck: domain of example.com designates 203.0.113.5 as permitted sender) client-ip=203.0.113.5; envelope-from=ann@example.com; helo=mail.example.com;\r\n dkim=pass header.i=@mailhost.example.net;\r\n dmarc=none header.from=example.com;";

    fn result<'a>(parsed: &'a AuthResults, method: &str) -> &'a MethodResult {
        parsed.results.iter().find(|r| r.method == method).unwrap()
    }

    #[test]
    fn ses_header_with_envelope_from_clauses() {
        let parsed = parse(SES_NO_DMARC).unwrap();
        assert_eq!(parsed.authserv_id, "amazonses.com");
        let methods: Vec<_> = parsed.results.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["spf", "dkim", "dmarc"]);
        let spf = result(&parsed, "spf");
        assert_eq!(spf.result, "pass");
        assert_eq!(spf.property("envelope-from"), Some("ann@example.com"));
        assert_eq!(spf.property("helo"), Some("mail.example.com"));
        assert_eq!(spf.property("client-ip"), Some("203.0.113.5"));
        assert_eq!(
            result(&parsed, "dkim").property("header.i"),
            Some("@mailhost.example.net")
        );
        assert_eq!(result(&parsed, "dmarc").result, "none");
    }

    #[test]
    fn rfc_8601_style_header() {
        // RFC 8601 appendix B.5's shape, with a reason and a version.
        let parsed = parse(
            "example.com 1; spf=pass smtp.mailfrom=example.net (comment; dkim=pass header.d=evil) \
             ; dkim/1=fail reason=\"bad signature\" header.d=example.org",
        )
        .unwrap();
        assert_eq!(parsed.authserv_id, "example.com");
        assert_eq!(parsed.results.len(), 2);
        assert_eq!(
            result(&parsed, "spf").property("smtp.mailfrom"),
            Some("example.net")
        );
        let dkim = result(&parsed, "dkim");
        assert_eq!(dkim.result, "fail");
        assert_eq!(dkim.property("reason"), Some("bad signature"));
    }

    #[test]
    fn a_clause_inside_a_quoted_local_part_is_one_value() {
        let parsed = parse(
            "amazonses.com; spf=pass smtp.mailfrom=\"x;dkim=pass header.d=victim.example\"@evil.example; \
             dmarc=none header.from=victim.example",
        )
        .unwrap();
        assert!(
            parsed.results.iter().all(|r| r.method != "dkim"),
            "{parsed:?}"
        );
        assert_eq!(
            result(&parsed, "spf").property("smtp.mailfrom"),
            Some("x;dkim=pass header.d=victim.example@evil.example")
        );
    }

    #[test]
    fn broken_clauses_are_dropped_not_guessed() {
        let parsed = parse(
            "amazonses.com; spf=pass =; dkim pass header.d=x; dmarc=pass header.from=a.example",
        )
        .unwrap();
        let methods: Vec<_> = parsed.results.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["dmarc"]);
        assert_eq!(parse(""), None);
        assert_eq!(parse("; spf=pass"), None);
        assert_eq!(parse("(only a comment"), None);
    }
}
