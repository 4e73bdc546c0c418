//! Sender authenticity as SES really writes it, and attendee data that cannot inject anything
//! downstream (issue 10), through the real handler against moto.
//!
//! The SES header blocks below follow the shape recorded in the field notes (SES receiving:
//! `Authentication-Results: amazonses.com;` with `spf=… envelope-from=…` as SES writes it, from
//! AWS's SES receiving documentation and messages SES stored).

use crate::common::*;

/// SES's block for a sender whose domain publishes no DMARC policy: SPF passes for the
/// envelope-from, the only DKIM signature is the provider's.
fn ses_spf_only(from: &str, spf: &str, envelope_from: &str) -> String {
    let domain = from.rsplit('@').next().unwrap();
    format!(
        "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n\
         Received-SPF: {spf} (spfCheck: domain of {domain} designates 203.0.113.5 as permitted sender) client-ip=203.0.113.5; envelope-from={envelope_from}; helo=mail.{domain};\r\n\
         Authentication-Results: amazonses.com;\r\n spf={spf} (spfCheck: domain of {domain} designates 203.0.113.5 as permitted sender) client-ip=203.0.113.5; envelope-from={envelope_from}; helo=mail.{domain};\r\n \
         dkim=pass header.i=@mailhost.example.net;\r\n dmarc=none header.from={domain};\r\n\
         X-SES-RECEIPT: AEFBQUFBQUFBQUFHZz09\r\n\
         X-SES-DKIM-SIGNATURE: a=rsa-sha256; d=amazonses.com; s=example; b=EXAMPLE\r\n"
    )
}

async fn run_with_ses(f: &Fixture, ses: &str, csv: &str) {
    let key = format!("bulk_event_invites_email/{}", unique("sec"));
    f.put_email(&key, email_with_csv_and_ses(ses, &f.sender, csv.as_bytes()))
        .await;
    let response = f
        .invoke(sqs_event(&[sns_wrapped(&s3_event(
            &f.bucket,
            &encode_key(&key),
        ))]))
        .await;
    assert!(failed_ids(&response).is_empty());
}

async fn fixture(name: &str) -> Fixture {
    let f = Fixture::new(name).await;
    f.seed_event("ev-a", &f.sender).await;
    f
}

#[tokio::test]
async fn an_organizer_without_dmarc_is_authenticated_by_aligned_spf() {
    let f = fixture("nodmarc").await;
    let ses = ses_spf_only(&f.sender, "pass", &f.sender);
    run_with_ses(&f, &ses, "uid,email\nev-a,ann@example.com\n").await;
    assert_eq!(
        invited(&f.published()),
        [("ev-a".into(), "ann@example.com".into())]
    );
    assert_eq!(f.emails().len(), 1);
}

#[tokio::test]
async fn a_clause_forged_in_a_quoted_envelope_from_is_refused() {
    let f = fixture("quotedforgery").await;
    let domain = f.sender.rsplit('@').next().unwrap().to_string();
    let forged = format!("\"x;dkim=pass header.d={domain}\"@evil.example");
    let ses = ses_spf_only(&f.sender, "fail", &forged)
        .replace("dkim=pass header.i=@mailhost.example.net", "dkim=none");
    run_with_ses(&f, &ses, "uid,email\nev-a,ann@example.com\n").await;
    assert!(
        f.published().is_empty(),
        "nothing published for a forged sender"
    );
    assert!(
        f.emails().is_empty(),
        "and no reply to a possibly forged address"
    );
}

#[tokio::test]
async fn internationalized_domains_are_published_as_ascii_and_utf8_local_parts_reported() {
    let f = fixture("idn").await;
    f.run_csv("uid,email\nev-a,user@пример.рф\nev-a,Ann@Bücher.de\nev-a,x@example.xn--p1ai\nev-a,jörg@example.com\n")
        .await;
    assert_eq!(
        invited(&f.published()),
        [
            ("ev-a".into(), "ann@xn--bcher-kva.de".into()),
            ("ev-a".into(), "user@xn--e1afmkfd.xn--p1ai".into()),
            ("ev-a".into(), "x@example.xn--p1ai".into()),
        ]
    );
    let (text, _) = bodies(&f.emails()[0]);
    assert!(
        text.contains("row 5, ev-a, jörg@example.com: address not deliverable: non-ASCII characters before the @ need SMTPUTF8"),
        "{text}"
    );
}

#[tokio::test]
async fn control_characters_never_reach_the_invite_or_split_a_summary_line() {
    let f = fixture("controls").await;
    f.run_csv(
        "uid,email,name\nev-a,ann@example.com,\"Ann\r\nBcc: x@evil.example\"\nev-a,bell@example.com,\"B\u{7}e\u{1b}[31ml\0l\"\n\"ev-a\rX\",cr@example.com,Cr\n",
    )
    .await;
    let names: Vec<String> = f
        .published()
        .iter()
        .map(|m| inner(m)["request"]["name"].as_str().unwrap().to_string())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["Ann Bcc: x@evil.example", "B e [31ml l"]);
    let (text, html) = bodies(&f.emails()[0]);
    let line = text
        .lines()
        .find(|l| l.contains("cr@example.com"))
        .expect("the rejected row is listed");
    // Row 5: the quoted line break in row 2's name is a line of the file, as the editor shows.
    assert_eq!(
        line.trim(),
        "row 5, ev-a x, cr@example.com: invalid uid",
        "{text}"
    );
    assert!(!html.contains("ev-a\rx") && html.contains("ev-a x"));
}

#[tokio::test]
async fn rejected_rows_file_is_formula_safe_and_reads_back_as_sent() {
    let f = fixture("formula").await;
    let mut csv = String::from("uid,email,name\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "@launch,-attendee{i}@example.com,\"=HYPERLINK(\"\"http://evil.example/{i}\"\",\"\"x\"\")\"\n"
        ));
    }
    f.run_csv(&csv).await;
    assert!(f.published().is_empty(), "the event does not exist yet");
    let emails = f.emails();
    let attachment = emails[0].attachment(0).expect("rejected-rows.csv attached");
    let file = std::str::from_utf8(attachment.contents())
        .unwrap()
        .to_string();
    let mut reader = csv::Reader::from_reader(file.as_bytes());
    for record in reader.records() {
        let record = record.unwrap();
        for cell in record.iter().take(3) {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell Excel would run as a formula: {cell:?}"
            );
        }
        assert!(record[0].starts_with("'@"), "{:?}", &record[0]);
        assert!(record[2].starts_with("'=HYPERLINK"), "{:?}", &record[2]);
    }

    // The organizer creates the event and sends the file back exactly as received.
    f.seed_event("@launch", &f.sender).await;
    f.run_csv(&file).await;
    let published = f.published();
    assert_eq!(published.len(), 30, "every row now goes out");
    let first = published
        .iter()
        .map(|m| inner(m)["request"].clone())
        .find(|r| r["email"] == "-attendee0@example.com")
        .expect("the guarded address read back without its guard");
    assert_eq!(first["uid"], "@launch");
    assert_eq!(first["name"], "=HYPERLINK(\"http://evil.example/0\",\"x\")");
}
