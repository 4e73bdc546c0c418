//! Property tests: arbitrary input never panics and always ends in a classified result.

use bulk_invites::attendees::lists::{self, ListSource, NoList};
use bulk_invites::attendees::records::Records;
use bulk_invites::attendees::rows::ListRules;
use bulk_invites::domain::AttendeeEmail;
use bulk_invites::inbound::auth_results;
use bulk_invites::inbound::{email as inbound, notification};
use proptest::prelude::*;

/// CSV-like text: the characters that matter to a CSV reader, plus addresses and odd bytes.
fn csv_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        r#"(uid|email|name|[a-zA-Z0-9@.,;"' \t\r\n\u{FEFF}\u{00E9}+-]){0,300}"#,
    )
    .unwrap()
}

fn email_around(csv: &str) -> Vec<u8> {
    let encoded = aws_smithy_types::base64::encode(csv.as_bytes());
    format!(
        "From: organizer@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/csv\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn check_rows(text: &str) {
    let csv = ListSource::Csv {
        name: None,
        text: text.to_string(),
    };
    check_lists(vec![csv]);
}

/// Every list of a request through the list reader: no list, or every row with one outcome.
fn check_lists(sources: Vec<ListSource>) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    match lists::read(sources, &ListRules::with_max_rows(50), until) {
        Err(NoList::NoneFound | NoList::NoneUsable(_)) => {}
        Err(NoList::OutOfTime) => panic!("a small list read out of time"),
        Ok(lists) => {
            let rows = lists.rows;
            let mut seen = std::collections::HashSet::new();
            for candidate in &rows.candidates {
                assert_eq!(
                    AttendeeEmail::parse(candidate.email.as_str()).as_ref(),
                    Ok(&candidate.email),
                    "a candidate's address is valid and normalized"
                );
                assert!(seen.insert(candidate.row), "one outcome per row");
            }
            for rejected in &rows.rejected {
                assert!(seen.insert(rejected.row), "one outcome per row");
            }
            assert!(
                rows.candidates.windows(2).all(|w| w[0].row < w[1].row),
                "file order"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn notification_decoding_never_panics(body in any::<Vec<u8>>()) {
        let _ = notification::decode(&String::from_utf8_lossy(&body));
    }

    #[test]
    fn json_shaped_notifications_never_panic(body in r#"\{("(Type|Message|Records|s3|bucket|object|key|name|Event)":("[^"]{0,20}"|\[\]|\{\}|null|1),?){0,6}\}"#) {
        let _ = notification::decode(&body);
    }

    #[test]
    fn any_bytes_as_an_email_never_panic(raw in any::<Vec<u8>>()) {
        if let Ok(email) = inbound::parse(&raw) {
            check_lists(email.lists);
        }
    }

    #[test]
    fn any_csv_text_gets_one_outcome_per_row(text in csv_text()) {
        check_rows(&text);
    }

    #[test]
    fn records_read_as_the_csv_crate_reads_them(text in csv_text(), delimiter in prop::sample::select(vec![b',', b';', b'\t'])) {
        let mut ours = Vec::new();
        let mut records = Records::new(&text, delimiter);
        while let Some((_, record)) = records.next_record() {
            ours.push(record.iter().map(str::to_string).collect::<Vec<_>>());
        }
        let theirs: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes())
            .records()
            .map(|record| record.unwrap().iter().map(str::to_string).collect())
            .collect();
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn authentication_results_parsing_never_panics(value in r#"[a-z0-9 ;=().@"\\/-]{0,120}"#) {
        let _ = auth_results::parse(&value);
    }

    /// Whatever a sender smuggles inside a quoted string or a comment, it never becomes a
    /// clause: no `dkim=pass` for the victim domain appears.
    #[test]
    fn clauses_inside_quotes_or_comments_never_count(
        before in r#"[a-z0-9 ;=.@-]{0,20}"#,
        after in r#"[a-z0-9 ;=.@-]{0,20}"#,
        in_comment in any::<bool>(),
    ) {
        let forged = format!("{before}; dkim=pass header.d=victim.example;{after}");
        let smuggled = if in_comment {
            format!("spf=fail ({forged}) smtp.mailfrom=evil.example")
        } else {
            format!("spf=fail smtp.mailfrom=\"{forged}\"@evil.example")
        };
        let header = format!("amazonses.com; {smuggled}; dmarc=none header.from=victim.example");
        let parsed = auth_results::parse(&header).expect("an authserv-id");
        prop_assert!(
            parsed.results.iter().all(|r| r.method != "dkim"),
            "{header}: {parsed:?}"
        );
    }

    #[test]
    fn csv_survives_the_trip_through_an_email(text in csv_text()) {
        let email = inbound::parse(&email_around(&text)).expect("a well-formed email");
        let Some(ListSource::Csv { text: found, .. }) = email.lists.first() else {
            panic!("the attachment is found: {:?}", email.lists);
        };
        prop_assert_eq!(found.as_str(), text.strip_prefix('\u{FEFF}').unwrap_or(&text));
        check_lists(email.lists);
    }
}
