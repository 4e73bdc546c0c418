//! Reading the stored email: who sent it and the CSV it carries.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::domain::{InvalidEmail, SenderEmail};

/// What the function needs from an inbound email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    /// The organizer, from `From:`.
    pub sender: SenderEmail,
    /// The first CSV attachment, if any.
    pub csv: Option<CsvAttachment>,
}

/// A CSV file found in the email, transfer-decoded to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvAttachment {
    /// The file name the client gave it, if any.
    pub file_name: Option<String>,
    /// The file's text.
    pub text: String,
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

/// Parses a raw RFC 5322 message as SES stores it.
pub fn parse(raw: &[u8]) -> Result<InboundEmail, EmailError> {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let mut message = MessageParser::default()
        .parse(raw)
        .ok_or(EmailError::NotAnEmail)?;
    let from = message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
        .ok_or(EmailError::NoSender)?;
    let sender = SenderEmail::parse(from)?;
    let csv_part = message.parts.iter().position(|part| {
        !matches!(part.body, PartType::Multipart(_))
            && part.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("text")
                    && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("csv"))
            })
    });
    // Move the decoded attachment out of the parsed message rather than copying it: a large
    // request is then held once as raw bytes and once as text, never more.
    let csv = csv_part.map(|index| {
        let part = message.parts.swap_remove(index);
        let file_name = part.attachment_name().map(str::to_string);
        let text = match part.body {
            PartType::Text(text) | PartType::Html(text) => strip_bom(text.into_owned()),
            other => decode_text(other_contents(other)),
        };
        CsvAttachment { file_name, text }
    });
    Ok(InboundEmail { sender, csv })
}

fn other_contents(body: PartType<'_>) -> Vec<u8> {
    match body {
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => bytes.into_owned(),
        PartType::Text(text) | PartType::Html(text) => text.into_owned().into_bytes(),
        PartType::Message(message) => message.raw_message().to_vec(),
        PartType::Multipart(_) => Vec::new(),
    }
}

fn strip_bom(mut text: String) -> String {
    if text.starts_with('\u{FEFF}') {
        text.drain(..'\u{FEFF}'.len_utf8());
    }
    text
}

/// Decodes attachment bytes as UTF-8, dropping a byte-order mark.
///
/// mail-parser already converts a declared charset to UTF-8 for text parts; bytes that still
/// are not UTF-8 are replaced rather than failing the whole request.
fn decode_text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => strip_bom(text),
        Err(err) => strip_bom(String::from_utf8_lossy(err.as_bytes()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let csv = email.csv.unwrap();
        assert_eq!(csv.file_name.as_deref(), Some("list.csv"));
        assert_eq!(csv.text, "uid,email,name\r\nev1,a@example.com,Ann\r\n");
    }

    #[test]
    fn email_without_csv_has_none() {
        let raw = "From: org@example.com\r\nSubject: hi\r\n\r\nno attachment\r\n";
        assert_eq!(parse(raw.as_bytes()).unwrap().csv, None);
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

    #[test]
    fn bom_before_headers_and_in_csv_is_ignored() {
        let raw =
            "\u{FEFF}From: org@example.com\r\nContent-Type: text/csv\r\n\r\n\u{FEFF}uid,email\r\n";
        let email = parse(raw.as_bytes()).unwrap();
        assert_eq!(email.sender.as_str(), "org@example.com");
        assert_eq!(email.csv.unwrap().text, "uid,email\r\n");
    }
}
