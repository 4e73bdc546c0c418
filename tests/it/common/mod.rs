//! Test harness: real handler, real AWS SDK, moto server over HTTP.
//!
//! The test command starts moto and exports `AWS_ENDPOINT_URL` (always a 127.0.0.1 address).
//! Each test makes its own bucket, table, topic and organizer, so tests run in parallel on
//! one emulator without seeing each other's records.

pub mod faults;
pub mod queue;
pub mod runtime_api;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use bulk_invites::app::App;
use bulk_invites::config::Config;
use bulk_invites::handler;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

/// Region every test uses.
pub const REGION: &str = "us-west-2";
/// The summary sender configured in tests.
pub const SYSTEM_EMAIL: &str = "Calendar Snack <notification@calendarsnack.com>";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The emulator's base URL, from `AWS_ENDPOINT_URL`; refuses anything but loopback.
pub fn endpoint() -> String {
    let url = std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is not set: run the tests with `make test`, which starts moto server",
    );
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "tests only talk to a local emulator on 127.0.0.1, not {url}"
    );
    url
}

/// SDK configuration pointing at the emulator with dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(&endpoint()).await
}

/// SDK configuration for an explicit endpoint (used to point at a closed port).
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// GETs a path of the emulator and parses the JSON body.
///
/// moto serializes its whole state for `data.json`; while other tests write to it concurrently
/// that can fail ("changed size during iteration"), so a failed read is tried again.
pub fn emulator_json(path: &str) -> Value {
    let url = endpoint();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut last_error = String::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(host).expect("connect to moto");
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("HTTP header end");
        match serde_json::from_slice(&response[split + 4..]) {
            Ok(value) => return value,
            Err(err) => {
                last_error = format!(
                    "{err}: {}",
                    String::from_utf8_lossy(&response[..split.min(200)])
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    panic!("moto did not return JSON for {path}: {last_error}");
}

/// A unique suffix for resource names.
pub fn unique(name: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{}-{n}", std::process::id())
}

/// One test's resources on the emulator.
pub struct Fixture {
    /// Talks to moto directly: sets up and inspects the world.
    pub sdk: SdkConfig,
    /// What the function's clients are built from (moto, or moto behind a fault client).
    client_sdk: SdkConfig,
    pub bucket: String,
    pub table: String,
    pub topic_arn: String,
    pub sender: String,
    pub app: App,
}

impl Fixture {
    /// Creates bucket, table, topic and SES identity, and authorizes `sender` as a bulk sender.
    pub async fn new(name: &str) -> Self {
        let sdk = sdk_config().await;
        let id = unique(name);
        let bucket = format!("inbound-{id}").to_lowercase();
        let table = format!("thirtyone-{id}");
        let sender = format!("org-{id}@example.com").to_lowercase();

        aws_sdk_s3::Client::new(&sdk)
            .create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send()
            .await
            .expect("create bucket");
        create_table(&sdk, &table).await;
        let topic_arn = aws_sdk_sns::Client::new(&sdk)
            .create_topic()
            .name(format!("send-bulk-event-invite-{id}"))
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .unwrap();
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity("calendarsnack.com")
            .send()
            .await
            .ok(); // already there from another test

        let config = config(&table, &topic_arn);
        let app = App::new(&sdk, config);
        let fixture = Self {
            client_sdk: sdk.clone(),
            sdk,
            bucket,
            table,
            topic_arn,
            sender,
            app,
        };
        fixture
            .put_item(&[
                ("pk", &format!("organizer#{}", fixture.sender)),
                ("sk", &format!("bulk#{}", fixture.sender)),
            ])
            .await;
        fixture
    }

    /// Changes the function's configuration and rebuilds its clients, which hold the resource
    /// names.
    pub fn configure(&mut self, change: impl FnOnce(&mut Config)) {
        let mut config = self.app.config.clone();
        change(&mut config);
        self.app = App::new(&self.client_sdk, config);
    }

    /// Sends every call of the function (not the fixture's own) through `faulty`.
    pub fn route_through(&mut self, faulty: &faults::FaultyClient) {
        self.client_sdk = faulty.sdk(&self.sdk);
        self.app = App::new(&self.client_sdk, self.app.config.clone());
    }

    /// Runs the real binary as Lambda runs it (JSON logs, this fixture's resources, moto) on
    /// the notification of the stored email `key`, its address space capped at `cap_kib`.
    pub async fn run_binary(&self, key: &str, cap_kib: Option<u64>) -> runtime_api::Invocation {
        let event = sqs_event(&[sns_wrapped(&s3_event(&self.bucket, &encode_key(key)))]);
        let env = [
            ("AWS_ENDPOINT_URL", endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("THIRTYONE_TABLE", self.table.clone()),
            ("NEW_EVENT_INVITE", self.topic_arn.clone()),
            ("SYSTEM_EMAIL", SYSTEM_EMAIL.to_string()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()),
            // Two attempts, so a failing call answers quickly.
            ("RETRY_MAX_ATTEMPTS", "2".to_string()),
        ];
        let event = serde_json::to_string(&event).unwrap();
        tokio::task::spawn_blocking(move || {
            runtime_api::invoke_binary_capped(&event, &env, cap_kib)
        })
        .await
        .unwrap()
    }

    /// Gives every call of the function an attempt timeout, as the binary's configuration does.
    pub fn with_attempt_timeout(&mut self, timeout: std::time::Duration) {
        self.client_sdk = self
            .client_sdk
            .to_builder()
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(timeout)
                    .build(),
            )
            .build();
        self.app = App::new(&self.client_sdk, self.app.config.clone());
    }

    /// Writes an item of string attributes.
    pub async fn put_item(&self, attrs: &[(&str, &str)]) {
        let item: HashMap<String, AttributeValue> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect();
        self.put_raw_item(item).await;
    }

    /// Writes an item as given.
    pub async fn put_raw_item(&self, item: HashMap<String, AttributeValue>) {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put item");
    }

    /// Stores an event owned by `mailto`, with the attributes the downstream sender reads.
    pub async fn seed_event(&self, uid: &str, mailto: &str) {
        let s = |v: &str| AttributeValue::S(v.to_string());
        let n = |v: &str| AttributeValue::N(v.to_string());
        self.put_raw_item(HashMap::from([
            ("pk".to_string(), s(&format!("event#{uid}"))),
            ("sk".to_string(), s(&format!("event#{uid}"))),
            ("uid".to_string(), s(uid)),
            ("mailto".to_string(), s(mailto)),
            ("organizer".to_string(), s("Org Anizer")),
            ("summary".to_string(), s(&format!("Summary of {uid}"))),
            ("description".to_string(), s("Plain description")),
            ("description_html".to_string(), s("<p>HTML description</p>")),
            ("location".to_string(), s("Room 1")),
            ("dtstart".to_string(), n("1767225600")),
            ("dtend".to_string(), n("1767229200")),
            ("sequence".to_string(), n("0")),
            ("status".to_string(), s("CONFIRMED")),
        ]))
        .await;
    }

    /// Records that `attendee` blocked `organizer`.
    pub async fn seed_block(&self, attendee: &str, organizer: &str) {
        self.put_item(&[
            ("pk", &format!("attendee#{attendee}")),
            ("sk", &format!("block#{organizer}")),
        ])
        .await;
    }

    /// Uploads a raw email.
    pub async fn put_email(&self, key: &str, raw: impl Into<Vec<u8>>) {
        aws_sdk_s3::Client::new(&self.sdk)
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(raw.into()))
            .send()
            .await
            .expect("put object");
    }

    /// Runs the real handler on an SQS event.
    pub async fn invoke(&self, event: SqsEvent) -> SqsBatchResponse {
        handler::handle(&self.app, LambdaEvent::new(event, Context::default()))
            .await
            .expect("handler returns a batch response")
    }

    /// Uploads an email with `csv` attached as `text/csv` from this fixture's organizer, and
    /// runs the handler on its notification.
    pub async fn run_csv(&self, csv: &str) -> SqsBatchResponse {
        self.run_email(email_with_csv(&self.sender, csv.as_bytes()))
            .await
    }

    /// Uploads `raw` as a stored email and runs the handler on its notification.
    pub async fn run_email(&self, raw: Vec<u8>) -> SqsBatchResponse {
        let key = format!("bulk_event_invites_email/{}", unique("req"));
        self.put_email(&key, raw).await;
        self.invoke(sqs_event(&[sns_wrapped(&s3_event(
            &self.bucket,
            &encode_key(&key),
        ))]))
        .await
    }

    /// Every message the topic received, in order, as moto recorded them.
    pub fn published(&self) -> Vec<String> {
        published_to(&self.topic_arn)
    }

    /// Every raw email the emulator sent to this fixture's organizer.
    pub fn emails(&self) -> Vec<mail_parser::Message<'static>> {
        emails_to(&self.sender)
    }
}

/// The configuration the function would read from its environment.
pub fn config(table: &str, topic_arn: &str) -> Config {
    let env: HashMap<&str, String> = HashMap::from([
        ("THIRTYONE_TABLE", table.to_string()),
        ("NEW_EVENT_INVITE", topic_arn.to_string()),
        ("SYSTEM_EMAIL", SYSTEM_EMAIL.to_string()),
        ("REGION", REGION.to_string()),
    ]);
    Config::from_lookup(|name| env.get(name).cloned()).unwrap()
}

/// Creates a table keyed like the original's (`pk` hash, `sk` range, both strings).
pub async fn create_table(sdk: &SdkConfig, table: &str) {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(table)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
}

/// Messages a topic received, from moto's record.
pub fn published_to(topic_arn: &str) -> Vec<String> {
    let data = emulator_json("/moto-api/data.json");
    data["sns"]["Topic"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|topic| topic["arn"] == topic_arn)
        .flat_map(|topic| {
            topic["sent_notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|n| n[1].as_str().unwrap().to_string())
        .collect()
}

/// Raw emails sent to `address`, parsed.
pub fn emails_to(address: &str) -> Vec<mail_parser::Message<'static>> {
    let data = emulator_json("/moto-api/data.json");
    data["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["destinations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d == address)
        })
        .map(|m| {
            let raw = m["raw_data"].as_str().unwrap().as_bytes().to_vec();
            mail_parser::MessageParser::default()
                .parse(&raw)
                .unwrap()
                .into_owned()
        })
        .collect()
}

/// Text and HTML bodies of a summary, with MIME's CRLF line ends read as `\n`.
pub fn bodies(message: &mail_parser::Message<'_>) -> (String, String) {
    (
        message
            .body_text(0)
            .expect("text part")
            .replace("\r\n", "\n"),
        message
            .body_html(0)
            .expect("html part")
            .replace("\r\n", "\n"),
    )
}

/// The `{request, event}` object inside a published message.
pub fn inner(message: &str) -> Value {
    let outer: Value = serde_json::from_str(message).unwrap();
    assert_eq!(
        outer.as_object().unwrap().len(),
        1,
        "only `default`: {message}"
    );
    serde_json::from_str(outer["default"].as_str().unwrap()).unwrap()
}

/// (uid, email) of every published invite, sorted.
pub fn invited(messages: &[String]) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = messages
        .iter()
        .map(|m| {
            let v = inner(m);
            (
                v["request"]["uid"].as_str().unwrap().to_string(),
                v["request"]["email"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

/// The header block SES puts above a message it received and authenticated (DMARC pass for the
/// domain of `from`), ending with `X-SES-RECEIPT`.
pub fn ses_headers(from: &str) -> String {
    ses_headers_with(
        from,
        "PASS",
        &format!(
            "dmarc=pass header.from={}",
            from.rsplit('@').next().unwrap()
        ),
    )
}

/// An SES header block with the given virus verdict and DMARC clause.
pub fn ses_headers_with(from: &str, virus: &str, dmarc: &str) -> String {
    let domain = from.rsplit('@').next().unwrap();
    format!(
        "X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: {virus}\r\n\
         Received-SPF: pass (spfCheck: domain of {domain} designates 192.0.2.10 as permitted sender) client-ip=192.0.2.10;\r\n\
         Authentication-Results: amazonses.com;\r\n spf=pass (spfCheck) smtp.mailfrom={from};\r\n \
         dkim=pass header.i=@{domain};\r\n {dmarc};\r\n\
         X-SES-RECEIPT: AEFBQUFBQUFBQUFHZz09\r\n\
         X-SES-DKIM-SIGNATURE: a=rsa-sha256; d=amazonses.com; s=example; b=EXAMPLE\r\n"
    )
}

/// A multipart email from `from` with `csv` attached as `text/csv`, base64-encoded, as SES
/// stores it.
pub fn email_with_csv(from: &str, csv: &[u8]) -> Vec<u8> {
    email_with_csv_and_ses(&ses_headers(from), from, csv)
}

/// The same with a given SES header block.
pub fn email_with_csv_and_ses(ses: &str, from: &str, csv: &[u8]) -> Vec<u8> {
    email_with_attachment(ses, from, "invites", "attendees.csv", "text/csv", csv)
}

/// A multipart email from `from` with `subject`, a short text part and one attachment,
/// base64-encoded, under the SES header block `ses`.
pub fn email_with_attachment(
    ses: &str,
    from: &str,
    subject: &str,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Vec<u8> {
    let encoded = aws_smithy_types::base64::encode(bytes);
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "{ses}From: \"Org Anizer\" <{from}>\r\nTo: bulk@calendarsnack.com\r\nSubject: {subject}\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease send these.\r\n\
--b1\r\nContent-Type: {content_type}; name=\"{file_name}\"\r\n\
Content-Disposition: attachment; filename=\"{file_name}\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        wrapped.join("\r\n")
    )
    .into_bytes()
}

/// The one email the emulator sent to the fixture's organizer (asserts there is exactly one).
pub fn only_email(f: &Fixture) -> mail_parser::Message<'static> {
    let mut emails = f.emails();
    assert_eq!(emails.len(), 1, "exactly one summary");
    emails.remove(0)
}

/// Encodes a key as S3 does in notifications (form encoding: space as `+`).
pub fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An S3 `ObjectCreated:Put` notification for one object, as S3 sends it.
pub fn s3_event(bucket: &str, encoded_key: &str) -> String {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:ses"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "bulk-invites",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": encoded_key, "size": 1024, "eTag": "0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"}
        }
    }]})
    .to_string()
}

/// An SNS notification wrapping `message`, as SQS receives it from a topic subscription.
pub fn sns_wrapped(message: &str) -> String {
    json!({
        "Type": "Notification",
        "MessageId": "7b5e2f0e-1c1a-4a57-9d1e-000000000001",
        "TopicArn": format!("arn:aws:sns:{REGION}:123456789012:new-bulk-event-invites-from-email"),
        "Subject": "Amazon S3 Notification",
        "Message": message,
        "Timestamp": "2026-11-24T10:00:01.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-example.pem",
        "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=example"
    })
    .to_string()
}

/// An SQS event whose records carry `bodies`, with message ids `msg-0`, `msg-1`, …
pub fn sqs_event(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("msg-{i}"));
            message.body = Some(body.clone());
            message.event_source = Some("aws:sqs".into());
            message
        })
        .collect();
    event
}

/// The message ids a batch response hands back to SQS.
pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// How many times each invite (by address) was published.
pub fn deliveries(f: &Fixture) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for (_, email) in invited(&f.published()) {
        *counts.entry(email).or_default() += 1;
    }
    counts
}

/// Every invite published exactly once and exactly one summary with the whole request's totals.
pub fn assert_completed_once(f: &Fixture, rows: usize) {
    let counts = deliveries(f);
    assert_eq!(counts.len(), rows, "every invite published");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "published more than once: {twice:?}");
    let emails = f.emails();
    assert_eq!(emails.len(), 1, "exactly one summary");
    let total = format!("Total: {rows} invites sent, 0 not sent.");
    assert!(
        bodies(&emails[0]).0.contains(&total),
        "summary covers the request"
    );
}
