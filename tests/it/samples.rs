//! The files in `events/` are what developers replay with `cargo lambda invoke`: they must
//! deserialize as Lambda delivers them and drive the real handler to the expected result.

use std::path::Path;

use crate::common::*;
use aws_lambda_events::sqs::SqsEvent;

fn sample(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(name),
    )
    .unwrap()
}

fn sample_event(name: &str, bucket: &str) -> SqsEvent {
    let text = sample(name).replace("bulk-invites-demo-inbound", bucket);
    serde_json::from_str(&text).expect("a valid SQS event")
}

#[tokio::test]
async fn two_record_sample_processes_both_sample_requests() {
    let f = Fixture::new("samples").await;
    let organizer = "organizer@example.com";
    // The samples' From: is fixed, so count only the summaries this test adds.
    let summaries_before = emails_to(organizer).len();
    f.put_item(&[
        ("pk", &format!("organizer#{organizer}")),
        ("sk", &format!("bulk#{organizer}")),
    ])
    .await;
    f.seed_event("team-offsite-2026", organizer).await;
    f.seed_event("product-launch-2026", organizer).await;
    f.seed_block("blocked@example.com", organizer).await;
    let requests = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/requests");
    f.put_email(
        "bulk_event_invites_email/team-offsite-request",
        std::fs::read(requests.join("team-offsite-request.eml")).unwrap(),
    )
    .await;
    f.put_email(
        "bulk_event_invites_email/launch list (final).eml",
        std::fs::read(requests.join("launch-list-final.eml")).unwrap(),
    )
    .await;

    let response = f
        .invoke(sample_event("sqs-two-records.json", &f.bucket))
        .await;

    assert!(failed_ids(&response).is_empty());
    let invited = invited(&f.published());
    let expected: Vec<(String, String)> = [
        ("product-launch-2026", "chen.wei@example.com"),
        ("product-launch-2026", "eli@example.com"),
        ("product-launch-2026", "fatima@example.com"),
        ("team-offsite-2026", "ana.lopez@example.com"),
        ("team-offsite-2026", "ben.okafor@example.com"),
    ]
    .iter()
    .map(|(u, e)| (u.to_string(), e.to_string()))
    .collect();
    assert_eq!(invited, expected);
    let names: Vec<String> = f
        .published()
        .iter()
        .map(|m| inner(m)["request"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"Okafor, Ben".to_string()));
    assert!(
        names.contains(&"Eli Åberg".to_string()),
        "quoted-printable UTF-8 decoded: {names:?}"
    );
    assert_eq!(
        emails_to(organizer).len(),
        summaries_before + 2,
        "one summary per request"
    );
}

#[tokio::test]
async fn every_sample_event_deserializes_and_decodes() {
    for name in [
        "sqs-sns-s3.json",
        "sqs-raw-s3.json",
        "sqs-s3-test-event.json",
        "sqs-two-records.json",
    ] {
        let event = sample_event(name, "bucket");
        assert!(!event.records.is_empty(), "{name}");
        for record in event.records {
            assert!(
                record.message_id.is_some(),
                "{name}: message ids are what partial failures report"
            );
            let decoded =
                bulk_invites::inbound::notification::decode(record.body.as_deref().unwrap());
            assert!(decoded.is_ok(), "{name}: {decoded:?}");
        }
    }
}

/// One request per common mail client, as SES stores it, processed end to end.
#[tokio::test]
async fn every_common_client_s_csv_is_read() {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients");
    for client in [
        "outlook-desktop",
        "outlook-web",
        "gmail",
        "apple-mail",
        "thunderbird",
    ] {
        let f = Fixture::new(client).await;
        let organizer = "olivia@example.org";
        f.put_item(&[
            ("pk", &format!("organizer#{organizer}")),
            ("sk", &format!("bulk#{organizer}")),
        ])
        .await;
        f.seed_event("team-offsite", organizer).await;
        let key = format!("bulk_event_invites_email/{client}");
        f.put_email(
            &key,
            std::fs::read(clients.join(format!("{client}.eml"))).unwrap(),
        )
        .await;

        let response = f
            .invoke(sqs_event(&[sns_wrapped(&s3_event(&f.bucket, &key))]))
            .await;

        assert!(failed_ids(&response).is_empty(), "{client}");
        let mut people: Vec<(String, String)> = f
            .published()
            .iter()
            .map(|m| {
                let request = &inner(m)["request"];
                (
                    request["email"].as_str().unwrap().to_string(),
                    request["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        people.sort();
        assert_eq!(
            people,
            [
                ("ann@example.com".to_string(), "Ann Äbel".to_string()),
                ("bob@example.com".to_string(), "Smith, Bob".to_string()),
                ("cleo@example.com".to_string(), "Cléo".to_string()),
            ],
            "{client}"
        );
    }
}
