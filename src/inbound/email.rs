//! Reading the stored email: who sent it, what SES said of it, and the lists it carries.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::attendees::lists::ListSource;
use crate::attendees::sheets::SheetKind;
use crate::domain::{InvalidEmail, RequestRef, SenderEmail};
use crate::inbound::authenticity::{Verdicts, read_verdicts};

/// What the function needs from an inbound email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    /// The organizer, from `From:`.
    pub sender: SenderEmail,
    /// SES's spam, virus, SPF, DKIM and DMARC verdicts, from SES's own header block.
    pub verdicts: Verdicts,
    /// When the email has no list, the attachments it has instead, as `name (type)`, for a
    /// help email that says what was there; empty when a list was found.
    pub other_attachments: Vec<String>,
    /// Every list, for [`crate::attendees::lists::read`]: each CSV file in order (whatever the
    /// client labelled it, also inside a forwarded message), then each spreadsheet (`.xlsx`,
    /// `.ods`; `.xls` and `.xlsb` to be refused) undecoded; when there is neither, a list
    /// pasted into the body.
    pub lists: Vec<ListSource>,
    /// The request as its sender named it (subject, Message-ID), for the summary to answer.
    pub request: RequestRef,
    /// The subject asks for a preview (`preview` or `dry run`, as words, any case): check
    /// everything, send nothing, reply with what would be sent.
    pub preview: bool,
}

/// Why the object is not an email the function can act on. Always permanent.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// mail-parser found no message at all.
    #[error("object is not an email message")]
    NotAnEmail,
    /// There is no `From:` header with an address.
    #[error("email has no From: address")]
    NoSender,
    /// `From:` holds something that is not a usable address.
    #[error("From: is not a usable address: {0}")]
    InvalidSender(#[from] InvalidEmail),
}

/// Parses a raw RFC 5322 message as SES stores it, with mail-parser: every structure, encoding
/// and charset. (One MIME parser: a hand-written fast path for the everyday multipart/base64
/// shape saved tens of milliseconds on the largest request, in a function that spends seconds
/// on the network; BENCHMARKS.md has the figures.)
pub fn parse(raw: &[u8]) -> Result<InboundEmail, EmailError> {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(EmailError::NotAnEmail)?;
    let sender = sender_of(&message)?;
    let verdicts = read_verdicts(message.headers_raw());
    let attachments = describe_attachments(&message);
    let preview = message.subject().is_some_and(asks_for_preview);
    let request = RequestRef::new(message.subject(), message.message_id());
    // Read from the same cleaned subject the request looks its event up by.
    let subject_names_event = (request.subject.as_deref())
        .is_some_and(|subject| !crate::domain::uid_words(subject).is_empty());
    let mut message = message;
    let mut lists = Vec::new();
    let mut spreadsheets = Vec::new();
    collect_lists(&mut message, &mut lists, &mut spreadsheets);
    lists.append(&mut spreadsheets);
    if lists.is_empty()
        && let Some(body) = message.body_text(0)
        && let Some((list, delimiter)) = list_in_text(&body, subject_names_event)
    {
        lists.push(ListSource::Body {
            text: list.to_string(),
            delimiter,
        });
    }
    Ok(InboundEmail {
        preview,
        request,
        sender,
        verdicts,
        other_attachments: if lists.is_empty() {
            attachments
        } else {
            Vec::new()
        },
        lists,
    })
}

/// True when a subject asks for a preview: the word `preview`, or the words `dry run`
/// (`dry-run`, `Dry Run`), in any case. `previewed` or `dryrun` do not count.
pub fn asks_for_preview(subject: &str) -> bool {
    let words: Vec<String> = subject
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.iter().any(|word| word == "preview")
        || words
            .windows(2)
            .any(|pair| pair[0] == "dry" && pair[1] == "run")
}

/// A list pasted into a message body: from the first line that names a `uid` and an `email`
/// column (comma, semicolon or tab separated) to the last line before one with no separator
/// (a greeting or a signature ends it), with the delimiter its header was found with. `None`
/// when no line is such a header.
///
/// With `email_only` (the subject may name the list's event), a line naming an email column
/// is a header too.
pub fn list_in_text(text: &str, email_only: bool) -> Option<(&str, u8)> {
    let mut offset = 0;
    let mut start = None;
    let mut end = text.len();
    let mut delimiter = b',';
    for line in text.split_inclusive('\n') {
        let content = line.trim();
        match start {
            None => {
                let header = crate::attendees::header::names_columns(content, None, email_only);
                if let Some(found) = header {
                    start = Some(offset);
                    delimiter = found;
                }
            }
            Some(_) if !content.is_empty() && !content.as_bytes().contains(&delimiter) => {
                end = offset;
                break;
            }
            Some(_) => {}
        }
        offset += line.len();
    }
    start.map(|start| (&text[start..end], delimiter))
}

/// The organizer: the first address of `From:`.
fn sender_of(message: &Message<'_>) -> Result<SenderEmail, EmailError> {
    let from = message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
        .ok_or(EmailError::NoSender)?;
    Ok(SenderEmail::parse(from)?)
}

/// Content types mail clients give CSV files (Outlook and Excel on Windows say
/// `application/vnd.ms-excel`; some clients send `application/octet-stream` with a `.csv` name).
const CSV_TYPES: &[(&str, &str)] = &[
    ("text", "csv"),
    ("text", "comma-separated-values"),
    ("text", "x-comma-separated-values"),
    ("text", "x-csv"),
    ("application", "csv"),
    ("application", "x-csv"),
    ("application", "vnd.ms-excel"),
];

/// True for a leaf part that holds a CSV file: a CSV content type, or any type with a `.csv`
/// file name (RFC 2231 `filename*=` names included, as mail-parser decodes them). An
/// `application/vnd.ms-excel` part named otherwise (a real `.xls` workbook) is not a CSV.
fn is_csv(part: &MessagePart<'_>) -> bool {
    if matches!(part.body, PartType::Multipart(_) | PartType::Message(_)) {
        return false;
    }
    let name = part
        .attachment_name()
        .map(|n| n.trim().to_ascii_lowercase());
    if name.as_deref().is_some_and(|n| n.ends_with(".csv")) {
        return true;
    }
    part.content_type().is_some_and(|ct| {
        let subtype = ct.subtype().unwrap_or_default();
        CSV_TYPES
            .iter()
            .any(|(t, s)| ct.ctype().eq_ignore_ascii_case(t) && subtype.eq_ignore_ascii_case(s))
            && !(subtype.eq_ignore_ascii_case("vnd.ms-excel") && name.is_some())
    })
}

/// The spreadsheet format of a leaf part, by its file name or content type.
fn spreadsheet_kind(part: &MessagePart<'_>) -> Option<SheetKind> {
    if matches!(part.body, PartType::Multipart(_) | PartType::Message(_)) {
        return None;
    }
    let subtype = part
        .content_type()
        .and_then(|ct| ct.subtype())
        .unwrap_or_default();
    SheetKind::of(part.attachment_name(), subtype)
}

/// Every CSV and spreadsheet part in document order, looking inside forwarded messages too.
///
/// Each part's body is moved out of the parsed message rather than copied: a large request is
/// then held once as raw bytes and once as text, never more.
fn collect_lists(
    message: &mut Message<'_>,
    csvs: &mut Vec<ListSource>,
    spreadsheets: &mut Vec<ListSource>,
) {
    for index in 0..message.parts.len() {
        let part = &message.parts[index];
        let forwarded = matches!(part.body, PartType::Message(_));
        let sheet = spreadsheet_kind(part);
        if !forwarded && sheet.is_none() && !is_csv(part) {
            continue;
        }
        let body = std::mem::replace(
            &mut message.parts[index].body,
            PartType::Multipart(Vec::new()),
        );
        let part = &message.parts[index];
        match (body, sheet) {
            (PartType::Message(mut inner), _) => collect_lists(&mut inner, csvs, spreadsheets),
            (body, Some(kind)) => spreadsheets.push(ListSource::Sheet {
                name: part.attachment_name().map(str::to_string),
                kind,
                bytes: match body {
                    PartType::Binary(bytes) | PartType::InlineBinary(bytes) => bytes.into_owned(),
                    PartType::Text(text) | PartType::Html(text) => text.into_owned().into_bytes(),
                    PartType::Message(_) | PartType::Multipart(_) => Vec::new(),
                },
            }),
            // Part offsets index the whole stored buffer, not `raw_message()`'s slice of it.
            (body, None) => csvs.push(take_csv(part, body, &message.raw_message)),
        }
    }
}

/// The attachments a message carries, as `name (type/subtype)`, to tell an organizer whose
/// email had no CSV what was found instead.
fn describe_attachments(message: &Message<'_>) -> Vec<String> {
    message
        .parts
        .iter()
        .filter(|part| part.attachment_name().is_some() || matches!(part.body, PartType::Binary(_)))
        .map(|part| {
            let kind = part
                .content_type()
                .map_or("unknown type".to_string(), |ct| {
                    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("?"))
                });
            format!("{} ({kind})", part.attachment_name().unwrap_or("unnamed"))
        })
        .collect()
}

fn take_csv(part: &MessagePart<'_>, body: PartType<'_>, raw_message: &[u8]) -> ListSource {
    let name = part.attachment_name().map(str::to_string);
    let declared_charset = part
        .content_type()
        .is_some_and(|ct| ct.attribute("charset").is_some());
    let text = match body {
        // mail-parser read a text part as UTF-8 when no charset was declared, replacing what was
        // not; Excel on Windows writes Windows-1252, so such a part is decoded again from its
        // transfer-decoded bytes.
        PartType::Text(text) if !declared_charset && text.contains('\u{FFFD}') => {
            let body = raw_message
                .get(part.offset_body as usize..part.offset_end as usize)
                .unwrap_or_default();
            let bytes = match part.encoding {
                Encoding::Base64 => base64_decode(body),
                Encoding::QuotedPrintable => quoted_printable_decode(body),
                Encoding::None => Some(body.to_vec()),
            };
            match bytes {
                Some(bytes) => decode_csv_bytes(bytes),
                None => strip_bom(text.into_owned()),
            }
        }
        PartType::Text(text) | PartType::Html(text) => strip_bom(text.into_owned()),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            decode_csv_bytes(bytes.into_owned())
        }
        PartType::Message(_) | PartType::Multipart(_) => String::new(),
    };
    ListSource::Csv { name, text }
}

fn strip_bom(mut text: String) -> String {
    if text.starts_with('\u{FEFF}') {
        text.drain(..'\u{FEFF}'.len_utf8());
    }
    text
}

/// Decodes a CSV file's bytes: by its byte-order mark (UTF-8, UTF-16LE/BE) when it has one,
/// else as UTF-8 when valid, else as Windows-1252 (what Excel on Windows writes).
pub fn decode_csv_bytes(bytes: Vec<u8>) -> String {
    if let Some((encoding, bom_length)) = encoding_rs::Encoding::for_bom(&bytes) {
        return encoding
            .decode_without_bom_handling(&bytes[bom_length..])
            .0
            .into_owned();
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(err.as_bytes())
            .0
            .into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl InboundEmail {
        /// The CSV files' texts, in order.
        fn csvs(&self) -> Vec<String> {
            self.lists
                .iter()
                .filter_map(|list| match list {
                    ListSource::Csv { text, .. } => Some(text.clone()),
                    _ => None,
                })
                .collect()
        }

        /// The spreadsheets' kinds and bytes, in order.
        fn sheets(&self) -> Vec<(SheetKind, Vec<u8>)> {
            self.lists
                .iter()
                .filter_map(|list| match list {
                    ListSource::Sheet { kind, bytes, .. } => Some((*kind, bytes.clone())),
                    _ => None,
                })
                .collect()
        }
    }

    #[test]
    fn preview_is_asked_by_a_word_in_the_subject() {
        for subject in [
            "Preview",
            "guests (preview)",
            "DRY RUN: offsite",
            "dry-run list",
        ] {
            assert!(asks_for_preview(subject), "{subject}");
        }
        for subject in ["Guests", "previewed list", "dryrun", "dry running", ""] {
            assert!(!asks_for_preview(subject), "{subject}");
        }
    }

    #[test]
    fn a_list_in_the_body_runs_from_its_header_to_the_first_line_without_commas() {
        let body = "Hi,\n\nplease invite these:\n\nuid,email,name\r\n\
                    ev1,ann@example.com,Ann\r\n\r\nev1,bob@example.com,Bob\r\n\
                    Thanks!\n-- \nJane\n";
        assert_eq!(
            list_in_text(body, false),
            Some((
                "uid,email,name\r\nev1,ann@example.com,Ann\r\n\r\nev1,bob@example.com,Bob\r\n",
                b','
            ))
        );
        let semicolons = "Email; UID\nann@example.com; ev1\n";
        assert_eq!(list_in_text(semicolons, false), Some((semicolons, b';')));
        assert_eq!(
            list_in_text("Hi, see you at the uid event by email", false),
            None
        );
        assert_eq!(list_in_text("", false), None);
    }

    const CSV_EMAIL: &str = "From: \"Org Anizer\" <Org@Example.com>\r\n\
To: bulk@calendarsnack.com\r\n\
Subject: invites\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\
\r\n\
--XYZ\r\n\
Content-Type: text/plain\r\n\
\r\n\
Please invite these.\r\n\
--XYZ\r\n\
Content-Type: text/csv; name=\"list.csv\"\r\n\
Content-Disposition: attachment; filename=\"list.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
dWlkLGVtYWlsLG5hbWUNCmV2MSxhQGV4YW1wbGUuY29tLEFubg0K\r\n\
--XYZ--\r\n";

    #[test]
    fn sender_is_lowercased_and_csv_is_decoded() {
        let email = parse(CSV_EMAIL.as_bytes()).unwrap();
        assert_eq!(email.sender.as_str(), "org@example.com");
        assert_eq!(
            email.lists,
            [ListSource::Csv {
                name: Some("list.csv".into()),
                text: "uid,email,name\r\nev1,a@example.com,Ann\r\n".into(),
            }]
        );
    }

    #[test]
    fn email_without_csv_has_none() {
        let raw = "From: org@example.com\r\nSubject: hi\r\n\r\nno attachment\r\n";
        assert!(parse(raw.as_bytes()).unwrap().csvs().is_empty());
    }

    #[test]
    fn missing_or_bad_from_is_an_error() {
        assert!(matches!(
            parse(b"Subject: hi\r\n\r\nbody"),
            Err(EmailError::NoSender)
        ));
        assert!(matches!(
            parse(b"From: nobody@localhost\r\n\r\nbody"),
            Err(EmailError::InvalidSender(_))
        ));
        assert!(parse(b"").is_err());
    }

    fn email_with_part(headers: &str, body: &[u8]) -> Vec<u8> {
        let mut raw = format!(
            "From: org@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n{headers}\r\n\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(body);
        raw.extend_from_slice(b"\r\n--b--\r\n");
        raw
    }

    fn base64(bytes: &[u8]) -> Vec<u8> {
        aws_smithy_types::base64::encode(bytes).into_bytes()
    }

    #[test]
    fn csv_is_found_whatever_the_client_calls_it() {
        for headers in [
            "Content-Type: application/vnd.ms-excel; name=\"list.csv\"\r\nContent-Transfer-Encoding: base64",
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"List.CSV\"\r\nContent-Transfer-Encoding: base64",
            "Content-Type: text/comma-separated-values\r\nContent-Transfer-Encoding: base64",
            "Content-Type: application/csv\r\nContent-Transfer-Encoding: base64",
            "Content-Type: text/x-csv\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64",
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''G%C3%A4ste.csv\r\nContent-Transfer-Encoding: base64",
        ] {
            let email = parse(&email_with_part(
                headers,
                &base64(b"uid,email\r\nev1,a@example.com\r\n"),
            ))
            .unwrap();
            assert_eq!(
                email.csvs().first().map(String::as_str),
                Some("uid,email\r\nev1,a@example.com\r\n"),
                "{headers}"
            );
        }
    }

    #[test]
    fn excel_workbooks_and_other_files_are_not_csv() {
        let pdf = "Content-Type: application/pdf; name=\"agenda.pdf\"\r\nContent-Transfer-Encoding: base64";
        let email = parse(&email_with_part(pdf, &base64(b"x"))).unwrap();
        assert!(email.csvs().is_empty());
        assert!(email.sheets().is_empty());
        assert_eq!(email.other_attachments, ["agenda.pdf (application/pdf)"]);

        for (headers, kind) in [
            (
                "Content-Type: application/vnd.ms-excel; name=\"list.xls\"\r\nContent-Transfer-Encoding: base64",
                SheetKind::Xls,
            ),
            (
                "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=\"guests.xlsx\"\r\nContent-Transfer-Encoding: base64",
                SheetKind::Xlsx,
            ),
            (
                "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"guests.ods\"\r\nContent-Transfer-Encoding: base64",
                SheetKind::Ods,
            ),
        ] {
            let email = parse(&email_with_part(headers, &base64(b"PK"))).unwrap();
            assert!(email.csvs().is_empty(), "{headers}");
            let kinds: Vec<SheetKind> = email.sheets().iter().map(|(kind, _)| *kind).collect();
            assert_eq!(kinds, [kind], "{headers}");
            assert_eq!(email.sheets()[0].1, b"PK");
        }
    }

    #[test]
    fn forwarded_message_without_csv_does_not_hide_a_later_csv() {
        let raw = b"From: org@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                    --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@example.com\r\nSubject: fwd\r\n\r\nno list here\r\n\
                    --b\r\nContent-Type: text/csv\r\n\r\nuid,email\r\nev1,a@example.com\r\n--b--\r\n";
        assert_eq!(
            parse(raw).unwrap().csvs().remove(0),
            "uid,email\r\nev1,a@example.com"
        );
    }

    #[test]
    fn windows_1252_and_utf16_files_are_decoded() {
        let cp1252 = b"uid;E-mail;Name\r\nev1;zoe@example.com;Zo\xEB M\xFCller\r\n";
        let headers = "Content-Type: application/vnd.ms-excel; name=\"a.csv\"\r\nContent-Transfer-Encoding: base64";
        let text = parse(&email_with_part(headers, &base64(cp1252)))
            .unwrap()
            .csvs()
            .remove(0);
        assert!(text.ends_with("Zoë Müller\r\n"), "{text}");

        let headers = "Content-Type: text/csv\r\nContent-Transfer-Encoding: base64";
        let text = parse(&email_with_part(headers, &base64(cp1252)))
            .unwrap()
            .csvs()
            .remove(0);
        assert!(
            text.ends_with("Zoë Müller\r\n"),
            "text/csv without charset: {text}"
        );

        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "uid,email\r\nev1,é@example.com\r\n".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let headers = "Content-Type: application/octet-stream; name=\"u.csv\"\r\nContent-Transfer-Encoding: base64";
        let text = parse(&email_with_part(headers, &base64(&utf16)))
            .unwrap()
            .csvs()
            .remove(0);
        assert_eq!(text, "uid,email\r\nev1,é@example.com\r\n");
    }

    #[test]
    fn csv_inside_a_forwarded_message_is_found() {
        let inner = "From: someone@example.com\r\nSubject: list\r\nMIME-Version: 1.0\r\n\
                     Content-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\nContent-Type: text/csv\r\n\r\n\
                     uid,email\r\nev1,a@example.com\r\n--i--\r\n";
        let email = parse(&email_with_part(
            "Content-Type: message/rfc822",
            inner.as_bytes(),
        ))
        .unwrap();
        assert_eq!(
            email.sender.as_str(),
            "org@example.com",
            "the forwarder is the sender"
        );
        assert_eq!(email.csvs().remove(0), "uid,email\r\nev1,a@example.com");
    }

    #[test]
    fn bom_before_headers_and_in_csv_is_ignored() {
        let raw =
            "\u{FEFF}From: org@example.com\r\nContent-Type: text/csv\r\n\r\n\u{FEFF}uid,email\r\n";
        let email = parse(raw.as_bytes()).unwrap();
        assert_eq!(email.sender.as_str(), "org@example.com");
        assert_eq!(email.csvs().remove(0), "uid,email\r\n");
    }
}
