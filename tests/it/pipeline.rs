//! The whole function against moto server: real handler, real SDK, what landed is asserted.

use crate::common::*;
use mail_parser::MimeHeaders;
use serde_json::json;

const ORG_EVENT: &str = "team-offsite";

async fn fixture_with_event(name: &str) -> Fixture {
    let f = Fixture::new(name).await;
    f.seed_event(ORG_EVENT, &f.sender).await;
    f
}

fn summary_text(f: &Fixture) -> String {
    bodies(&only_email(f)).0
}

#[tokio::test]
async fn happy_path_publishes_the_contract_and_mails_a_summary() {
    let f = Fixture::new("happy").await;
    f.seed_event("ev-one", &f.sender).await;
    f.seed_event("ev-two", &f.sender.to_uppercase()).await;
    let csv = "uid,email,name\nev-one,ann@example.com,Ann\nEV-TWO, Bob@Example.com ,\nev-one,cy@example.com,Cy\n";

    let response = f.run_csv(csv).await;
    assert!(failed_ids(&response).is_empty());

    let published = f.published();
    assert_eq!(published.len(), 3);
    let first = inner(&published[0]);
    let expected_event = |uid: &str, mailto: &str| {
        json!({
            "pk": format!("event#{uid}"), "sk": format!("event#{uid}"), "uid": uid, "mailto": mailto,
            "organizer": "Org Anizer", "summary": format!("Summary of {uid}"),
            "description": "Plain description", "description_html": "<p>HTML description</p>",
            "location": "Room 1", "dtstart": 1767225600, "dtend": 1767229200, "sequence": 0,
            "status": "CONFIRMED"
        })
    };
    assert_eq!(
        first,
        json!({
            "request": {"email": "ann@example.com", "name": "Ann", "origin": "bulk",
                        "partstat": "noaction", "prodid": "31events//ses", "uid": "ev-one"},
            "event": expected_event("ev-one", &f.sender)
        })
    );
    assert_eq!(
        inner(&published[1]),
        json!({
            "request": {"email": "bob@example.com", "name": "customer", "origin": "bulk",
                        "partstat": "noaction", "prodid": "31events//ses", "uid": "ev-two"},
            "event": expected_event("ev-two", &f.sender.to_uppercase())
        })
    );
    assert_eq!(inner(&published[2])["request"]["email"], "cy@example.com");

    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0].subject(),
        Some("calendarsnack.com Bulk Invite Status")
    );
    let from = emails[0].from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some("notification@calendarsnack.com"));
    assert_eq!(from.name(), Some("Calendar Snack"));
    let (text, html) = bodies(&emails[0]);
    // Each event by its title and start (the item's dtstart, 2026-01-01 00:00 UTC), then the
    // contract lines.
    assert_eq!(
        text,
        "Your bulk invite request has been processed.\n\n\
         Your request: \u{201c}invites\u{201d}\nList: attendees.csv (3 rows)\n\n\
         Summary of ev-one, Thu 1 Jan 2026, 00:00 UTC\nev-one: 2 invites sent\n\n\
         Summary of ev-two, Thu 1 Jan 2026, 00:00 UTC\nev-two: 1 invites sent\n\n\
         Total: 3 invites sent, 0 not sent.\n"
    );
    for part in [
        "<p style=\"margin:0 0 12px\">Your bulk invite request has been processed.</p>",
        "<div style=\"font-weight:bold\">Summary of ev-one, Thu 1 Jan 2026, 00:00 UTC</div>\n\
         <div>ev-one: 2 invites sent</div>",
        "<div>ev-two: 1 invites sent</div>",
        ">Total: 3 invites sent, 0 not sent.</p>",
    ] {
        assert!(html.contains(part), "{part:?} in\n{html}");
    }
}

#[tokio::test]
async fn unauthorized_sender_gets_nothing() {
    let f = fixture_with_event("unauth").await;
    let stranger = format!("stranger-{}@example.com", unique("s"));
    let key = "bulk_event_invites_email/unauthorized";
    f.put_email(
        key,
        email_with_csv(&stranger, b"uid,email\nteam-offsite,ann@example.com\n"),
    )
    .await;

    let response = f
        .invoke(sqs_event(&[sns_wrapped(&s3_event(&f.bucket, key))]))
        .await;

    assert!(failed_ids(&response).is_empty(), "permanent: not retried");
    assert!(f.published().is_empty());
    assert!(
        emails_to(&stranger).is_empty(),
        "no mail to a possibly spoofed address"
    );
    assert!(f.emails().is_empty());
}

#[tokio::test]
async fn sender_case_does_not_matter() {
    let f = fixture_with_event("case").await;
    let key = "bulk_event_invites_email/case";
    f.put_email(
        key,
        email_with_csv(
            &f.sender.to_uppercase(),
            b"uid,email\nteam-offsite,ann@example.com\n",
        ),
    )
    .await;
    f.invoke(sqs_event(&[s3_event(&f.bucket, key)])).await;
    assert_eq!(
        f.published().len(),
        1,
        "Org@Example.com is the same organizer as org@example.com"
    );
}

#[tokio::test]
async fn block_records_in_the_forms_the_original_wrote_are_found() {
    let f = fixture_with_event("blocked-forms").await;
    // The original published addresses as written: its block records may carry a Unicode
    // domain or the attendee's own capitals.
    f.seed_block("dora@münchen.example", &f.sender).await;
    f.seed_block("Eve.Smith@Example.com", &f.sender).await;

    f.run_csv(
        "uid,email\nteam-offsite,dora@xn--mnchen-3ya.example\n\
         team-offsite,Eve.Smith@Example.com\nteam-offsite,fay@example.com\n",
    )
    .await;

    assert_eq!(
        invited(&f.published()),
        [(ORG_EVENT.into(), "fay@example.com".into())]
    );
}

#[tokio::test]
async fn blocked_attendee_is_not_invited() {
    let f = fixture_with_event("blocked").await;
    f.seed_block("blocker@example.com", &f.sender).await;
    f.seed_block("ann@example.com", "someone-else@example.com")
        .await;

    f.run_csv(
        "uid,email,name\nteam-offsite,blocker@example.com,B\nteam-offsite,ann@example.com,Ann\n",
    )
    .await;

    assert_eq!(
        invited(&f.published()),
        [(ORG_EVENT.into(), "ann@example.com".into())]
    );
    let text = summary_text(&f);
    assert!(
        text.contains("team-offsite: 1 invites sent\nteam-offsite: 1 not sent.\n"),
        "{text}"
    );
    assert!(
        text.contains("  row 2, team-offsite, blocker@example.com: blocked\n"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_event_rows_are_not_sent() {
    let f = fixture_with_event("unknown").await;
    f.run_csv("uid,email\nno-such-event,ann@example.com\nteam-offsite,bob@example.com\n")
        .await;

    assert_eq!(
        invited(&f.published()),
        [(ORG_EVENT.into(), "bob@example.com".into())]
    );
    let text = summary_text(&f);
    assert!(text.contains("no-such-event: 1 not sent.\n"), "{text}");
    assert!(
        !text.contains("no-such-event: 0 invites sent"),
        "a failed event is not listed as sent"
    );
    assert!(!text.contains("no-such-event: 1 invites sent"));
    assert!(
        text.contains("row 2, no-such-event, ann@example.com: unknown event"),
        "{text}"
    );
}

#[tokio::test]
async fn someone_elses_event_is_refused() {
    let f = fixture_with_event("theirs").await;
    f.seed_event("their-party", "other-organizer@example.com")
        .await;
    f.run_csv("uid,email\ntheir-party,ann@example.com\ntheir-party,bob@example.com\n")
        .await;

    assert!(f.published().is_empty());
    let text = summary_text(&f);
    assert!(text.contains("their-party: 2 not sent.\n"), "{text}");
    assert_eq!(text.matches(": not your event").count(), 2, "{text}");
    // Another organizer's event title is not shown.
    assert!(!text.contains("Summary of their-party"), "{text}");
}

#[tokio::test]
async fn invalid_and_missing_fields_are_reported_per_row() {
    let f = fixture_with_event("invalid").await;
    let csv = "uid,email,name\n\
               team-offsite,not-an-email,A\n\
               ,b@example.com,B\n\
               team-offsite,,C\n\
               team-offsite,d@example.com,D\n\
               team-offsite,D@EXAMPLE.com,D again\n";
    f.run_csv(csv).await;

    assert_eq!(
        invited(&f.published()),
        [(ORG_EVENT.into(), "d@example.com".into())]
    );
    let text = summary_text(&f);
    for line in [
        "team-offsite: 1 invites sent\n",
        "team-offsite: 3 not sent.\n",
        "(no uid): 1 not sent.\n",
        "  row 2, team-offsite, not-an-email: invalid email\n",
        "  row 3, (no uid), b@example.com: missing field (uid)\n",
        "  row 4, team-offsite, : missing field (email)\n",
        "  row 6, team-offsite, d@example.com: duplicate of row 5\n",
        "Total: 1 invites sent, 4 not sent.\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[tokio::test]
async fn quoted_names_with_commas_survive() {
    let f = fixture_with_event("quoted").await;
    f.run_csv("uid,email,name\nteam-offsite,jane@example.com,\"Smith, Jane\"\n")
        .await;
    let published = f.published();
    assert_eq!(published.len(), 1);
    assert_eq!(inner(&published[0])["request"]["name"], "Smith, Jane");
}

#[tokio::test]
async fn reordered_and_extra_columns_are_read_by_name() {
    let f = fixture_with_event("columns").await;
    f.run_csv("Name,Phone,EMAIL,Uid\nAnn,555-0100,ann@example.com,team-offsite\n")
        .await;
    let published = f.published();
    assert_eq!(published.len(), 1);
    let request = &inner(&published[0])["request"];
    assert_eq!(
        (request["name"].as_str(), request["email"].as_str()),
        (Some("Ann"), Some("ann@example.com"))
    );
}

#[tokio::test]
async fn bom_and_crlf_are_handled() {
    let f = fixture_with_event("bom").await;
    f.run_csv("\u{FEFF}uid,email,name\r\nteam-offsite,ann@example.com,Ann\r\n\r\nteam-offsite,bob@example.com,Bob\r\n").await;
    assert_eq!(
        invited(&f.published()),
        [
            (ORG_EVENT.into(), "ann@example.com".into()),
            (ORG_EVENT.into(), "bob@example.com".into())
        ]
    );
    assert!(summary_text(&f).contains("Total: 2 invites sent, 0 not sent."));
}

#[tokio::test]
async fn url_encoded_key_with_spaces_is_found() {
    let f = fixture_with_event("spaces").await;
    let key = "bulk_event_invites_email/my request+plus é.eml";
    f.put_email(
        key,
        email_with_csv(&f.sender, b"uid,email\nteam-offsite,ann@example.com\n"),
    )
    .await;
    let encoded = encode_key(key);
    assert!(encoded.contains("my+request%2Bplus+%C3%A9"), "{encoded}");

    let response = f
        .invoke(sqs_event(&[sns_wrapped(&s3_event(&f.bucket, &encoded))]))
        .await;

    assert!(failed_ids(&response).is_empty());
    assert_eq!(f.published().len(), 1);
}

#[tokio::test]
async fn s3_test_event_is_acknowledged_and_ignored() {
    let f = fixture_with_event("testevent").await;
    let test_event = format!(
        r#"{{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-24T10:00:00.000Z","Bucket":"{}","RequestId":"R","HostId":"H"}}"#,
        f.bucket
    );
    let response = f
        .invoke(sqs_event(&[sns_wrapped(&test_event), test_event.clone()]))
        .await;
    assert!(failed_ids(&response).is_empty());
    assert!(f.published().is_empty());
    assert!(f.emails().is_empty());
}

#[tokio::test]
async fn two_record_batch_with_one_missing_object() {
    let f = fixture_with_event("batch").await;
    let good = "bulk_event_invites_email/good";
    f.put_email(
        good,
        email_with_csv(&f.sender, b"uid,email\nteam-offsite,ann@example.com\n"),
    )
    .await;
    let event = sqs_event(&[
        sns_wrapped(&s3_event(&f.bucket, "bulk_event_invites_email/gone")),
        sns_wrapped(&s3_event(&f.bucket, good)),
    ]);

    let response = f.invoke(event).await;

    assert!(
        failed_ids(&response).is_empty(),
        "a missing object is permanent, not retried"
    );
    assert_eq!(
        invited(&f.published()),
        [(ORG_EVENT.into(), "ann@example.com".into())]
    );
    assert_eq!(f.emails().len(), 1);
}

#[tokio::test]
async fn malformed_notification_is_acknowledged_and_the_rest_proceeds() {
    let f = fixture_with_event("malformed").await;
    let good = "bulk_event_invites_email/good";
    f.put_email(
        good,
        email_with_csv(&f.sender, b"uid,email\nteam-offsite,ann@example.com\n"),
    )
    .await;
    let response = f
        .invoke(sqs_event(&[
            "{not json".to_string(),
            r#"{"Records":[]}"#.to_string(),
            s3_event(&f.bucket, good),
        ]))
        .await;
    assert!(failed_ids(&response).is_empty());
    assert_eq!(f.published().len(), 1);
}

#[tokio::test]
async fn email_without_csv_gets_the_expected_format() {
    let f = fixture_with_event("nocsv").await;
    let key = "bulk_event_invites_email/nocsv";
    let raw = format!(
        "{}From: {}\r\nTo: bulk@calendarsnack.com\r\nSubject: invites\r\n\r\nI forgot the file.\r\n",
        ses_headers(&f.sender),
        f.sender
    );
    f.put_email(key, raw).await;

    let response = f
        .invoke(sqs_event(&[sns_wrapped(&s3_event(&f.bucket, key))]))
        .await;

    assert!(failed_ids(&response).is_empty());
    assert!(f.published().is_empty());
    let emails = f.emails();
    assert_eq!(emails.len(), 1);
    let (text, html) = bodies(&emails[0]);
    assert!(
        text.contains("could not be processed: the email has no attendee list"),
        "{text}"
    );
    assert!(
        text.contains("uid,email,name\nyour-event-uid,jane@example.com,Jane Doe"),
        "{text}"
    );
    assert!(html.contains(">uid,email,name</pre>"), "{html}");
}

#[tokio::test]
async fn csv_without_required_columns_is_explained() {
    let f = fixture_with_event("nocols").await;
    f.run_csv("name,address\nAnn,ann@example.com\n").await;
    assert!(f.published().is_empty());
    assert!(summary_text(&f).contains(
        "could not be processed: attendees.csv: the CSV header has no uid or email column"
    ));
}

#[tokio::test]
async fn html_summary_escapes_values_from_the_csv() {
    let f = fixture_with_event("escape").await;
    f.run_csv("uid,email\n<b>evil</b>,<script>alert(1)</script>\n")
        .await;
    let emails = f.emails();
    let (_, html) = bodies(&emails[0]);
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;evil&lt;/b&gt;"), "{html}");
}

#[tokio::test]
async fn ses_setup_notification_object_is_ignored() {
    let f = fixture_with_event("setup").await;
    let key = "bulk_event_invites_email/AMAZON_SES_SETUP_NOTIFICATION";
    f.put_email(key, "not an email").await;
    let response = f
        .invoke(sqs_event(&[sns_wrapped(&s3_event(&f.bucket, key))]))
        .await;
    assert!(failed_ids(&response).is_empty());
    assert!(f.emails().is_empty());
}

#[tokio::test]
async fn unreachable_aws_is_retried_through_sqs() {
    let f = fixture_with_event("retry").await;
    // Nothing listens on port 9 of loopback: every call fails to connect, which is transient.
    let sdk = sdk_config_for("http://127.0.0.1:9").await;
    let app = bulk_invites::app::App::new(&sdk, f.app.config.clone());
    let event = sqs_event(&[
        s3_event(&f.bucket, "bulk_event_invites_email/any"),
        "{bad".to_string(),
    ]);
    let response = bulk_invites::handler::handle(
        &app,
        lambda_runtime::LambdaEvent::new(event, Default::default()),
    )
    .await
    .unwrap();
    assert_eq!(
        failed_ids(&response),
        ["msg-0"],
        "only the retryable record goes back to SQS"
    );
}

#[tokio::test]
async fn object_over_the_size_limit_is_left_unread() {
    let mut f = fixture_with_event("toolarge").await;
    f.configure(|c| c.limits.max_object_bytes = 100);
    let key = "bulk_event_invites_email/large";
    f.put_email(
        key,
        email_with_csv(&f.sender, b"uid,email\nteam-offsite,ann@example.com\n"),
    )
    .await;

    let response = f.invoke(sqs_event(&[s3_event(&f.bucket, key)])).await;

    assert!(
        failed_ids(&response).is_empty(),
        "permanent: logged and acknowledged, not retried"
    );
    assert!(f.published().is_empty());
    assert!(f.emails().is_empty());
    assert_eq!(
        f.app.aws.calls().snapshot().keys().collect::<Vec<_>>(),
        ["S3.GetObject"],
        "nothing else was called"
    );
}

#[tokio::test]
async fn outlook_excel_csv_in_windows_1252_with_semicolons() {
    let f = fixture_with_event("outlook").await;
    // What Excel on Windows in a European locale saves and Outlook attaches.
    let csv: &[u8] = b"UID;E-mail;Name\r\nteam-offsite;zoe@example.com;Zo\xEB M\xFCller\r\nteam-offsite;ana@example.com;\"Pe\xF1a; Ana\"\r\n";
    let encoded = aws_smithy_types::base64::encode(csv);
    let raw = format!(
        "{}From: \"Org\" <{}>\r\nTo: bulk@calendarsnack.com\r\nSubject: list\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"_002_outlook_\"\r\n\r\n--_002_outlook_\r\n\
         Content-Type: text/plain; charset=\"iso-8859-1\"\r\n\r\nSee attached.\r\n--_002_outlook_\r\n\
         Content-Type: application/vnd.ms-excel; name=\"Attendees.csv\"\r\n\
         Content-Disposition: attachment; filename=\"Attendees.csv\"; size=120\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--_002_outlook_--\r\n",
        ses_headers(&f.sender),
        f.sender
    );
    let key = "bulk_event_invites_email/outlook";
    f.put_email(key, raw).await;

    f.invoke(sqs_event(&[s3_event(&f.bucket, key)])).await;

    let mut names: Vec<String> = f
        .published()
        .iter()
        .map(|m| inner(m)["request"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["Peña; Ana", "Zoë Müller"]);
}

async fn refused(name: &str, ses: impl Fn(&str) -> String) {
    let f = fixture_with_event(name).await;
    let key = "bulk_event_invites_email/suspect";
    f.put_email(
        key,
        email_with_csv_and_ses(
            &ses(&f.sender),
            &f.sender,
            b"uid,email\nteam-offsite,ann@example.com\n",
        ),
    )
    .await;

    let response = f.invoke(sqs_event(&[s3_event(&f.bucket, key)])).await;

    assert!(
        failed_ids(&response).is_empty(),
        "refused for good, not retried"
    );
    assert!(f.published().is_empty(), "nothing published");
    assert!(f.emails().is_empty(), "no mail to a forged address");
}

#[tokio::test]
async fn spoofed_from_failing_dmarc_is_refused() {
    refused("spoofed", |from| {
        let domain = from.rsplit('@').next().unwrap().to_string();
        ses_headers_with(from, "PASS", &format!("dmarc=fail header.from={domain}"))
    })
    .await;
}

#[tokio::test]
async fn forged_authentication_results_below_ses_block_are_ignored() {
    refused("forged", |from| {
        let domain = from.rsplit('@').next().unwrap().to_string();
        format!(
            "{}Authentication-Results: amazonses.com; dmarc=pass header.from={domain};\r\n",
            ses_headers_with(from, "PASS", &format!("dmarc=fail header.from={domain}"))
        )
    })
    .await;
}

#[tokio::test]
async fn virus_fail_is_refused() {
    refused("virus", |from| {
        let domain = from.rsplit('@').next().unwrap().to_string();
        ses_headers_with(from, "FAIL", &format!("dmarc=pass header.from={domain}"))
    })
    .await;
}

#[tokio::test]
async fn message_not_stored_by_ses_is_refused() {
    refused("noses", |_| String::new()).await;
}

#[tokio::test]
async fn long_rejection_lists_come_back_as_an_attached_csv() {
    let f = fixture_with_event("rejectedcsv").await;
    let mut csv = String::from("uid,email,name\n");
    for i in 0..40 {
        csv.push_str(&format!(
            "team-offsite,broken{i}.example.com,\"Broken, No. {i}\"\n"
        ));
    }
    csv.push_str("team-offsite,fine@example.com,Fine\n");

    f.run_csv(&csv).await;

    assert_eq!(
        invited(&f.published()),
        [("team-offsite".to_string(), "fine@example.com".to_string())]
    );
    let emails = f.emails();
    let attachment = emails[0].attachment(0).expect("rejected-rows.csv attached");
    assert_eq!(attachment.attachment_name(), Some("rejected-rows.csv"));
    let text = std::str::from_utf8(attachment.contents())
        .unwrap()
        .replace("\r\n", "\n");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["uid", "email", "name", "row", "reason"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 40);
    for (i, row) in rows.iter().enumerate() {
        let expected = [
            "team-offsite".to_string(),
            format!("broken{i}.example.com"),
            format!("Broken, No. {i}"),
            (i + 2).to_string(),
            "invalid email".to_string(),
        ];
        assert_eq!(row.iter().collect::<Vec<_>>(), expected, "row {i}");
    }
    // The file is a valid request as it stands: fixed and sent back, it would be read as such.
    let csv = bulk_invites::attendees::lists::ListSource::Csv {
        name: Some("rejected-rows.csv".into()),
        text: text.clone(),
    };
    let rules = bulk_invites::attendees::rows::ListRules::with_max_rows(usize::MAX);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let again = bulk_invites::attendees::lists::read(vec![csv], &rules, until)
        .expect("a usable CSV")
        .rows;
    assert_eq!(
        again.rejected.len(),
        40,
        "still unfixed, so still rejected, row by row"
    );
    let (body, _) = bodies(&emails[0]);
    assert!(
        body.contains("All 40 rows not sent are in the attached rejected-rows.csv"),
        "{body}"
    );
}

#[tokio::test]
async fn every_csv_attachment_is_processed_and_named() {
    let f = fixture_with_event("twofiles").await;
    let part = |name: &str, csv: &str| {
        format!(
            "--b1\r\nContent-Type: text/csv; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            aws_smithy_types::base64::encode(csv.as_bytes())
        )
    };
    let raw = format!(
        "{}From: {}\r\nTo: bulk@calendarsnack.com\r\nSubject: two lists\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n{}{}{}--b1--\r\n",
        ses_headers(&f.sender),
        f.sender,
        part(
            "team.csv",
            "uid,email\r\nteam-offsite,ann@example.com\r\nteam-offsite,bob@example.com\r\n"
        ),
        part(
            "partners.csv",
            "uid;email\r\nteam-offsite;bob@example.com\r\nteam-offsite;not-an-email\r\nteam-offsite;cy@example.com\r\n"
        ),
        part("notes.csv", "who,where\r\nx,y\r\n"),
    );
    let key = "bulk_event_invites_email/two-files";
    f.put_email(key, raw).await;

    f.invoke(sqs_event(&[s3_event(&f.bucket, key)])).await;

    let expected: Vec<(String, String)> = ["ann@example.com", "bob@example.com", "cy@example.com"]
        .iter()
        .map(|e| ("team-offsite".to_string(), e.to_string()))
        .collect();
    assert_eq!(invited(&f.published()), expected, "both files, bob once");
    let text = summary_text(&f);
    for line in [
        "Files:\n  team.csv: 2 rows\n  partners.csv: 3 rows\n  notes.csv: the CSV header has no uid or email column\n",
        "  partners.csv, row 2, team-offsite, bob@example.com: duplicate of team.csv, row 3\n",
        "  partners.csv, row 3, team-offsite, not-an-email: invalid email\n",
        "Total: 3 invites sent, 2 not sent.",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[tokio::test]
async fn tab_utf16_and_forwarded_files_go_end_to_end() {
    let f = fixture_with_event("formats").await;
    let attach = |headers: &str, body: &[u8]| {
        let mut raw = format!(
            "{}From: {}\r\nTo: bulk@calendarsnack.com\r\nSubject: list\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n{headers}\r\n\r\n",
            ses_headers(&f.sender),
            f.sender
        )
        .into_bytes();
        raw.extend_from_slice(body);
        raw.extend_from_slice(b"\r\n--b1--\r\n");
        raw
    };
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "uid,email,name\r\nteam-offsite,utf16@example.com,Zoë\r\n".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let forwarded = "From: colleague@example.com\r\nSubject: the list\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/csv; charset=utf-8\r\n\r\n\
         uid,email,name\r\nteam-offsite,forwarded@example.com,Fwd\r\n--in--\r\n";
    let requests = [
        (
            "tab",
            attach(
                "Content-Type: text/tab-separated-values; name=\"list.csv\"",
                b"UID\tE-mail Address\tName\r\nteam-offsite\ttab@example.com\tTab, Person\r\n",
            ),
            ("tab@example.com", "Tab, Person"),
        ),
        (
            "utf16",
            attach(
                "Content-Type: application/octet-stream; name=\"u.csv\"\r\nContent-Transfer-Encoding: base64",
                aws_smithy_types::base64::encode(&utf16).as_bytes(),
            ),
            ("utf16@example.com", "Zoë"),
        ),
        (
            "forwarded",
            attach("Content-Type: message/rfc822", forwarded.as_bytes()),
            ("forwarded@example.com", "Fwd"),
        ),
    ];
    for (name, raw, (email, person)) in requests {
        let key = format!("bulk_event_invites_email/{name}");
        f.put_email(&key, raw).await;
        let before = f.published().len();
        f.invoke(sqs_event(&[s3_event(&f.bucket, &key)])).await;
        let published = f.published();
        assert_eq!(published.len(), before + 1, "{name}");
        let request = &inner(published.last().unwrap())["request"];
        assert_eq!(
            (request["email"].as_str(), request["name"].as_str()),
            (Some(email), Some(person)),
            "{name}"
        );
    }
}
