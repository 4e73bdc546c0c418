//! The everyday bulk request, read without mail-parser decoding its attachment byte by byte.
//!
//! Nearly every request is a multipart email whose CSV parts are base64. mail-parser
//! decodes base64 one byte at a time, a quarter of the parsing time on a large list; here the
//! parts are found by their boundary lines, each part's headers are still read by mail-parser,
//! and the CSV bodies are decoded with `base64-simd` (already in the tree through the AWS SDK).
//!
//! It is deliberately narrow: anything it is not sure of (forwarded messages, multiparts nested
//! more than four deep, quoted-printable, a declared charset other than valid UTF-8, a boundary
//! string where no boundary line is, base64 that is not canonical, no CSV at all) returns
//! `None`, and the caller parses the whole message with mail-parser. A property test checks
//! that when it answers, the answer is the one mail-parser's full parse gives.

use mail_parser::{MessageParser, MimeHeaders};

use super::{CsvAttachment, EmailError, InboundEmail, decode_csv_bytes, is_csv, sender_of};
use crate::authenticity::read_verdicts;

/// The email, when it is a multipart message with base64 CSV parts and nothing unusual;
/// `None` when the full parser must decide.
pub(super) fn parse(raw: &[u8]) -> Option<Result<InboundEmail, EmailError>> {
    let headers_end = header_end(raw)?;
    let message = MessageParser::default().parse_headers(&raw[..headers_end])?;
    let content_type = message.parts.first()?.content_type()?;
    if !content_type.ctype().eq_ignore_ascii_case("multipart") {
        return None;
    }
    let boundary = content_type.attribute("boundary")?;
    let mut csvs = Vec::new();
    collect_csvs(&raw[headers_end..], boundary.as_bytes(), 0, &mut csvs)?;
    if csvs.is_empty() {
        return None;
    }
    Some(sender_of(&message).map(|sender| InboundEmail {
        sender,
        verdicts: read_verdicts(message.headers_raw()),
        attachments: Vec::new(),
        csvs,
    }))
}

/// Depth of nested multiparts read here; deeper structures go to the full parser.
const MAX_DEPTH: usize = 4;

/// Appends the CSV files of the multipart body `body`, delimited by `boundary`, looking
/// into nested multiparts; `None` when the full parser must decide.
fn collect_csvs(
    body: &[u8],
    boundary: &[u8],
    depth: usize,
    csvs: &mut Vec<CsvAttachment>,
) -> Option<()> {
    for part in parts(body, boundary)? {
        let headers_end = header_end(part)?;
        let message = MessageParser::default().parse_headers(&part[..headers_end])?;
        let headers = message.parts.first()?;
        let content_type = headers.content_type()?;
        let body = &part[headers_end..];
        if content_type.ctype().eq_ignore_ascii_case("multipart") && depth < MAX_DEPTH {
            collect_csvs(
                body,
                content_type.attribute("boundary")?.as_bytes(),
                depth + 1,
                csvs,
            )?;
            continue;
        }
        if content_type.ctype().eq_ignore_ascii_case("multipart")
            || content_type.ctype().eq_ignore_ascii_case("message")
        {
            return None;
        }
        if !is_csv(headers) {
            continue;
        }
        let base64 = headers
            .content_transfer_encoding()
            .is_some_and(|encoding| encoding.trim().eq_ignore_ascii_case("base64"));
        if !base64 {
            return None;
        }
        let bytes = decode_base64(body)?;
        // mail-parser reads a text part with a declared charset in that charset; only UTF-8
        // that is valid reads the same as `decode_csv_bytes` does, the rest is left to it.
        let declared = content_type.attribute("charset").map(str::trim);
        if content_type.ctype().eq_ignore_ascii_case("text")
            && let Some(charset) = declared
            && !(["utf-8", "utf8"]
                .iter()
                .any(|utf8| charset.eq_ignore_ascii_case(utf8))
                && std::str::from_utf8(&bytes).is_ok())
        {
            return None;
        }
        csvs.push(CsvAttachment {
            file_name: headers.attachment_name().map(str::to_string),
            text: decode_csv_bytes(bytes),
        });
    }
    Some(())
}

/// The parts between the delimiter lines `--boundary`, each from its first header byte to
/// the line end before the next delimiter. `None` unless every occurrence of the delimiter is
/// a whole line and the closing `--boundary--` is there.
fn parts<'a>(body: &'a [u8], boundary: &[u8]) -> Option<Vec<&'a [u8]>> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    for at in memchr::memmem::find_iter(body, &delimiter) {
        if at > 0 && body[at - 1] != b'\n' {
            return None;
        }
        let after = &body[at + delimiter.len()..];
        let (closing, line_end) = match after {
            [b'-', b'-', rest @ ..] => (true, rest),
            rest => (false, rest),
        };
        let next_line = if let Some(rest) = line_end.strip_prefix(b"\r\n") {
            rest
        } else if let Some(rest) = line_end.strip_prefix(b"\n") {
            rest
        } else if closing && line_end.is_empty() {
            line_end
        } else {
            return None;
        };
        if let Some(start) = open {
            // The line break before a delimiter belongs to the delimiter (RFC 2046).
            let end = at - 1 - usize::from(at >= 2 && body[at - 2] == b'\r');
            parts.push(body.get(start..end.max(start))?);
        }
        if closing {
            return Some(parts);
        }
        open = Some(body.len() - next_line.len());
    }
    None
}

/// Where a header block ends: just past the first empty line. `None` when there is no header
/// line before it, or a line is neither a `Name:` field nor a folded continuation, since
/// mail-parser might then see the headers end elsewhere.
fn header_end(part: &[u8]) -> Option<usize> {
    let mut start = 0;
    loop {
        let end = start + memchr::memchr(b'\n', &part[start..])?;
        let line = &part[start..end];
        if line.is_empty() || line == b"\r" {
            return (start > 0).then_some(end + 1);
        }
        let folded = matches!(line[0], b' ' | b'\t') && start > 0;
        let field = line
            .iter()
            .position(|&b| b == b':')
            .is_some_and(|colon| colon > 0 && line[..colon].iter().all(|&b| b.is_ascii_graphic()));
        if !(folded || field) {
            return None;
        }
        start = end + 1;
    }
}

/// Base64 text gathered per decode call: big enough for SIMD to pay, small enough to stay in
/// cache. A multiple of 4, so only the last chunk can end inside a quantum.
const CHUNK: usize = 64 * 1024;

/// A MIME base64 body: line breaks dropped, then strict, padded base64 (anything else is left
/// to mail-parser, which has its own ways with broken input). Decoded a chunk at a time, so
/// the body is never held a second time without its line breaks.
fn decode_base64(body: &[u8]) -> Option<Vec<u8>> {
    let mut decoded = Vec::with_capacity(body.len() / 4 * 3);
    let mut chunk = Vec::with_capacity(CHUNK + 1024);
    let mut rest = body;
    loop {
        while chunk.len() < CHUNK && !rest.is_empty() {
            let at = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
            chunk.extend_from_slice(&rest[..at]);
            rest = rest.get(at + 1..).unwrap_or_default();
        }
        let last = rest.is_empty();
        let whole = if last {
            chunk.len()
        } else {
            chunk.len() / 4 * 4
        };
        // Padding ends the data: only the last chunk may end with it.
        if !last && chunk[..whole].last() == Some(&b'=') {
            return None;
        }
        base64_simd::STANDARD
            .decode_append(&chunk[..whole], &mut decoded)
            .ok()?;
        if last {
            return Some(decoded);
        }
        chunk.drain(..whole);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_split_on_whole_delimiter_lines() {
        let body = b"preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--b\nB: 2\n\ntwo\n--b--\r\nepilogue";
        let got = parts(body, b"b").unwrap();
        assert_eq!(got, [&b"A: 1\r\n\r\none"[..], &b"B: 2\n\ntwo"[..]]);
    }

    #[test]
    fn a_delimiter_string_that_is_not_a_line_defers_to_the_full_parser() {
        assert!(parts(b"--b\r\nA: 1\r\n\r\nx--b\r\n--b--", b"b").is_none());
        assert!(parts(b"--b\r\nA: 1\r\n\r\nx\r\n--bb\r\n--b--", b"b").is_none());
        assert!(parts(b"--b\r\nA: 1\r\n\r\nno closing line\r\n", b"b").is_none());
    }

    #[test]
    fn base64_must_be_canonical() {
        assert_eq!(
            decode_base64(b"dWlk\r\nLGVt\r\nYWls").unwrap(),
            b"uid,email"
        );
        assert_eq!(decode_base64(b"YQ==").unwrap(), b"a");
        assert!(decode_base64(b"YQ").is_none());
        assert!(decode_base64(b"YQ==YQ==").is_none());
        assert!(decode_base64(b"dW lk").is_none());
        // Across chunk boundaries too.
        let text: Vec<u8> = (0..200_000u32)
            .map(|i| b"uid,email\r\n"[i as usize % 11])
            .collect();
        let encoded = aws_smithy_types::base64::encode(&text);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        assert_eq!(decode_base64(lines.join("\r\n").as_bytes()).unwrap(), text);
        let padded_early = format!("{}YQ==\r\n{}", "A".repeat(CHUNK - 4), "YQ==");
        assert!(decode_base64(padded_early.as_bytes()).is_none());
    }
}

#[cfg(test)]
mod agreement {
    //! Whenever the fast path answers, its answer is the full parser's.

    use proptest::prelude::*;

    use super::super::full_parse;

    fn agree(raw: &[u8]) -> bool {
        let Some(fast) = super::parse(raw) else {
            return false;
        };
        let full = full_parse(raw);
        assert_eq!(
            fast.as_ref().map_err(ToString::to_string),
            full.as_ref().map_err(ToString::to_string),
            "{}",
            String::from_utf8_lossy(raw)
        );
        true
    }

    fn fixtures() -> Vec<(String, Vec<u8>)> {
        let root = env!("CARGO_MANIFEST_DIR");
        ["tests/fixtures/clients", "events/requests"]
            .iter()
            .flat_map(|dir| std::fs::read_dir(format!("{root}/{dir}")).unwrap())
            .map(|entry| {
                let path = entry.unwrap().path();
                (path.display().to_string(), std::fs::read(&path).unwrap())
            })
            .collect()
    }

    #[test]
    fn sample_emails_agree_and_plain_ones_take_the_fast_path() {
        let fast: Vec<String> = fixtures()
            .into_iter()
            .filter(|(_, raw)| agree(raw))
            .map(|(name, _)| name)
            .collect();
        for expected in ["gmail.eml", "team-offsite-request.eml"] {
            assert!(
                fast.iter().any(|name| name.ends_with(expected)),
                "{expected} should take the fast path; fast: {fast:?}"
            );
        }
    }

    /// One MIME part: content type line, transfer encoding, body bytes.
    fn part() -> impl Strategy<Value = Vec<u8>> {
        let content_type = prop::sample::select(vec![
            "text/plain",
            "text/csv",
            "text/csv; charset=utf-8",
            "application/vnd.ms-excel; name=\"list.csv\"",
            "application/octet-stream; name=\"list.csv\"",
            "application/octet-stream; name=\"photo.png\"",
            "message/rfc822",
            "multipart/alternative; boundary=\"inner\"",
            "multipart/mixed; boundary=\"b\"",
        ]);
        let encoding = prop::sample::select(vec!["base64", "BASE64", "quoted-printable", "7bit"]);
        let disposition =
            prop::option::of(Just("Content-Disposition: attachment; filename=\"a.csv\""));
        let body = prop::collection::vec(
            prop::sample::select(
                b"uid,email,name\r\nev1,a@example.com,\"A, B\"\n\xE9\xFF\xFE--b".to_vec(),
            ),
            0..120,
        );
        let line = prop::sample::select(vec![76usize, 64, 4, 1000]);
        let newline = prop::sample::select(vec!["\r\n", "\n"]);
        (
            content_type,
            encoding,
            disposition,
            body,
            line,
            newline,
            any::<bool>(),
        )
            .prop_map(
                |(content_type, encoding, disposition, body, line, nl, pad_break)| {
                    let mut out = format!("Content-Type: {content_type}{nl}");
                    out += &format!("Content-Transfer-Encoding: {encoding}{nl}");
                    if let Some(d) = disposition {
                        out += &format!("{d}{nl}");
                    }
                    out += nl;
                    if encoding.eq_ignore_ascii_case("base64") {
                        let encoded = aws_smithy_types::base64::encode(&body);
                        for chunk in encoded.as_bytes().chunks(line) {
                            out += std::str::from_utf8(chunk).unwrap();
                            out += nl;
                        }
                        if pad_break {
                            out += nl;
                        }
                        out.into_bytes()
                    } else {
                        let mut out = out.into_bytes();
                        out.extend_from_slice(&body);
                        out
                    }
                },
            )
    }

    fn email() -> impl Strategy<Value = Vec<u8>> {
        let newline = prop::sample::select(vec!["\r\n", "\n"]);
        let top = prop::sample::select(vec![
            "multipart/mixed; boundary=\"b\"",
            "multipart/mixed; boundary=b",
            "Multipart/Mixed; boundary=\"b\"",
            "multipart/alternative; boundary=\"b\"",
            "text/csv",
        ]);
        let from = prop::sample::select(vec![
            "Organizer <Organizer@Example.com>",
            "organizer@example.com",
            "not an address",
        ]);
        let ses = any::<bool>();
        let closing = prop::sample::select(vec!["--b--", "--b--\r\n", "--b--\r\nepilogue", "--b"]);
        (newline, top, from, ses, prop::collection::vec(part(), 0..4), closing).prop_map(
            |(nl, top, from, ses, parts, closing)| {
                let mut out = Vec::new();
                if ses {
                    out.extend_from_slice(format!("X-SES-Spam-Verdict: PASS{nl}X-SES-RECEIPT: x{nl}").as_bytes());
                }
                out.extend_from_slice(
                    format!("From: {from}{nl}Subject: list{nl}MIME-Version: 1.0{nl}Content-Type: {top}{nl}{nl}preamble{nl}").as_bytes(),
                );
                for part in parts {
                    out.extend_from_slice(format!("--b{nl}").as_bytes());
                    out.extend_from_slice(&part);
                    out.extend_from_slice(nl.as_bytes());
                }
                out.extend_from_slice(closing.as_bytes());
                out
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn fast_path_agrees_with_the_full_parser(raw in email()) {
            agree(&raw);
        }
    }
}
