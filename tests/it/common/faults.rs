//! A fault-injecting HTTP client: wraps the SDK's real HTTP client and, on the way to moto,
//! makes calls fail the ways AWS calls fail.
//!
//! - Partial `PublishBatch` failures: a failed entry is *withheld* (removed from the request
//!   before moto sees it) and reported in the response's `Failed` list, so what moto records is
//!   exactly what SNS would have accepted.
//! - Random failures of a chosen fraction of all calls: 500, 503, throttling (in each service's
//!   own error format), a connection refused before the request is sent, and one dropped after
//!   moto handled it (the response is lost: the SDK sends it again).
//! - A `SendEmail` SES took whose answer is late or lost (the connection dropped after it).
//! - Environment faults: every call to one service answered `AccessDenied` in that service's
//!   own format, for as long as the switch is on.
//! - Latency: a fixed delay on every call (a real region's 10 to 30 ms), and a separate one on
//!   `PublishBatch` (sustained throttling, or a call that hangs past the deadline).
//! - SNS answered here ([`LocalSns`]): every `PublishBatch` entry accepted and counted without
//!   going to moto (or throttled past a publish quota of so many messages a second), so a benchmark of a million invites measures the function at a real
//!   region's latency, not the emulator's one Python thread.
//! - Block-record lookups answered here (`local_blocks`): a `BatchGetItem` whose every key is an
//!   attendee's block record is answered "none found" without going to moto (a million distinct
//!   attendees are 10,000 such calls); event lookups, the ledger and everything else still go
//!   to moto.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

/// Which `PublishBatch` entries fail.
#[derive(Debug, Default)]
pub struct PublishFaults {
    /// Entries whose message mentions one of these fail with `InvalidParameter` (sender fault) every time.
    pub reject_containing: Vec<String>,
    /// The entry at this position of each request fails once with `InternalError` (AWS's fault).
    pub transient_position: Option<usize>,
    /// Messages already failed transiently (they pass when sent again).
    pub failed_once: HashSet<String>,
    /// Entries withheld so far.
    pub withheld: usize,
    /// Fraction of all calls that fail at random (0 for none).
    pub random_rate: f64,
    /// PRNG state for the random failures (xorshift; any non-zero seed).
    pub seed: u64,
    /// Random failures injected, by kind.
    pub injected: std::collections::BTreeMap<&'static str, usize>,
    /// `PublishBatch` calls whose response was dropped after moto published the batch.
    pub lost_publish_responses: usize,
    /// Every call to this service (`dynamodb`, `sns`, `sesv2`, `s3`, `sqs`) is denied.
    pub deny_service: Option<&'static str>,
    /// Added to every call before it is sent.
    pub latency: std::time::Duration,
    /// Added to every `PublishBatch` call on top of `latency`.
    pub publish_latency: std::time::Duration,
    /// The next this many `PublishBatch` calls are throttled (SNS's own `Throttling`).
    pub throttle_publishes: usize,
    /// What becomes of every `SendEmail` after moto has taken it (and recorded the email).
    pub ses_after_accept: Option<AfterAccept>,
    /// When set, `PublishBatch` is answered here (after latency and faults), not by moto.
    pub local_sns: Option<LocalSns>,
    /// When set, block-record `BatchGetItem` calls are answered here (no attendee blocked).
    pub local_blocks: bool,
    /// Block-record lookups answered here.
    pub local_block_calls: u64,
}

/// Invites SNS would have taken, counted by the attendee number in each message's address
/// (`<marker><number>@`, `attendee7@example.com` by default, the benchmarks' lists): one bit a
/// number, so a million invites cost the counting process 125 KB, not the messages.
#[derive(Debug)]
pub struct LocalSns {
    /// What comes before the number in an attendee's address.
    pub marker: &'static str,
    /// Entries accepted.
    pub published: u64,
    /// Bit `i` is set once an invite for attendee number `i` was accepted.
    pub seen: Vec<u64>,
    /// Invites accepted for an attendee number already seen.
    pub repeats: u64,
    /// Messages without an attendee number.
    pub unnumbered: u64,
    /// The topic's publish quota in messages a second (SNS's 300 or 1,500 in smaller regions),
    /// when set: a `PublishBatch` the quota cannot take now is answered `Throttling`, as SNS
    /// answers, and nothing of it is counted.
    pub quota: Option<Quota>,
}

/// A token bucket of messages, refilled at `per_second` and holding at most one second's worth.
#[derive(Debug, Clone)]
pub struct Quota {
    pub per_second: f64,
    tokens: f64,
    last: Option<std::time::Instant>,
    /// Calls throttled so far.
    pub throttled: u64,
}

impl Quota {
    pub fn per_second(per_second: f64) -> Self {
        Self {
            per_second,
            tokens: per_second,
            last: None,
            throttled: 0,
        }
    }

    /// Takes `messages` tokens if there are that many now.
    fn take(&mut self, messages: usize) -> bool {
        let now = std::time::Instant::now();
        if let Some(last) = self.last {
            let refill = now.duration_since(last).as_secs_f64() * self.per_second;
            self.tokens = (self.tokens + refill).min(self.per_second);
        }
        self.last = Some(now);
        if self.tokens >= messages as f64 {
            self.tokens -= messages as f64;
            true
        } else {
            self.throttled += 1;
            false
        }
    }
}

impl Default for LocalSns {
    fn default() -> Self {
        Self {
            marker: "attendee",
            published: 0,
            seen: Vec::new(),
            repeats: 0,
            unnumbered: 0,
            quota: None,
        }
    }
}

impl LocalSns {
    /// The attendee number of the first address in `message` written `<marker><digits>@`.
    fn number(&self, message: &str) -> Option<usize> {
        message.match_indices('@').find_map(|(at, _)| {
            let before = &message[..at];
            let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            let start = at - digits;
            (digits > 0 && message[..start].ends_with(self.marker))
                .then(|| message[start..at].parse().ok())
                .flatten()
        })
    }

    fn count(&mut self, message: &str) {
        self.published += 1;
        let Some(number) = self.number(message) else {
            self.unnumbered += 1;
            return;
        };
        let (word, bit) = (number / 64, 1u64 << (number % 64));
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & bit != 0 {
            self.repeats += 1;
        }
        self.seen[word] |= bit;
    }

    /// Distinct attendee numbers invited.
    pub fn distinct(&self) -> u64 {
        self.seen.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// A `SendEmail` SES took whose answer the function never sees.
#[derive(Debug, Clone, Copy)]
pub enum AfterAccept {
    /// The answer comes this much later (past the attempt timeout).
    Late(std::time::Duration),
    /// The connection drops before the answer.
    Dropped,
}

impl PublishFaults {
    fn roll(&mut self) -> f64 {
        let mut x = self.seed.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The service a request is for, from its shape.
fn service(request: &HttpRequest, body: &str) -> &'static str {
    let target = request.headers().get("x-amz-target").unwrap_or_default();
    if target.starts_with("AmazonSQS") {
        "sqs"
    } else if !target.is_empty() {
        "dynamodb"
    } else if body.starts_with("Action=") {
        "sns"
    } else if request.uri().contains("/v2/email/") {
        "sesv2"
    } else {
        "s3"
    }
}

/// A throttling response in the service's own error format.
fn throttled(service: &str) -> HttpResponse {
    let (status, body, header): (u16, &str, Option<(&str, &str)>) = match service {
        "dynamodb" => (
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"injected"}"#,
            Some(("content-type", "application/x-amz-json-1.0")),
        ),
        "sns" => (
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>injected</Message></Error><RequestId>injected</RequestId></ErrorResponse>",
            Some(("content-type", "text/xml")),
        ),
        "sesv2" => (
            429,
            r#"{"message":"injected"}"#,
            Some(("x-amzn-errortype", "TooManyRequestsException")),
        ),
        _ => (
            503,
            "<Error><Code>SlowDown</Code><Message>injected</Message></Error>",
            Some(("content-type", "application/xml")),
        ),
    };
    let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
    if let Some((name, value)) = header {
        response.headers_mut().insert(name, value);
    }
    response
}

/// An access-denied response in the service's own error format.
fn denied(service: &str) -> HttpResponse {
    let (status, body, header): (u16, &str, (&str, &str)) = match service {
        "dynamodb" | "sqs" => (
            400,
            r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"injected: not authorized"}"#,
            ("content-type", "application/x-amz-json-1.0"),
        ),
        "sns" => (
            403,
            "<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>injected</Message></Error><RequestId>injected</RequestId></ErrorResponse>",
            ("content-type", "text/xml"),
        ),
        "sesv2" => (
            403,
            r#"{"message":"injected"}"#,
            ("x-amzn-errortype", "AccessDeniedException"),
        ),
        _ => (
            403,
            "<Error><Code>AccessDenied</Code><Message>injected</Message></Error>",
            ("content-type", "application/xml"),
        ),
    };
    let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
    response.headers_mut().insert(header.0, header.1);
    response
}

fn status_only(status: u16) -> HttpResponse {
    HttpResponse::new(status.try_into().unwrap(), SdkBody::from("injected"))
}

fn dropped() -> ConnectorError {
    ConnectorError::io("injected: connection reset".into())
}

/// A connection refused before anything was sent: the call certainly never arrived.
fn refused() -> ConnectorError {
    ConnectorError::io(Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "injected: connection refused",
    )))
}

/// The wrapping client; share it with `SdkConfig::to_builder().http_client(...)`.
#[derive(Debug, Clone)]
pub struct FaultyClient {
    inner: SharedHttpClient,
    pub faults: Arc<Mutex<PublishFaults>>,
}

impl FaultyClient {
    pub fn new(inner: SharedHttpClient, faults: PublishFaults) -> Self {
        Self {
            inner,
            faults: Arc::new(Mutex::new(faults)),
        }
    }

    /// Wraps the SDK's own default HTTPS client (rustls with aws-lc).
    pub fn around_default(faults: PublishFaults) -> Self {
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        Self::new(inner, faults)
    }

    /// `sdk` with every call going through this client.
    pub fn sdk(&self, sdk: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        sdk.to_builder().http_client(self.clone()).build()
    }
}

impl HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            faults: self.faults.clone(),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    faults: Arc<Mutex<PublishFaults>>,
}

struct Withheld {
    id: String,
    code: &'static str,
    sender_fault: bool,
}

fn decode(value: &str) -> String {
    percent_encoding::percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The entries of a `PublishBatch` form body, in order, as their fields.
fn publish_entries(body: &str) -> (Vec<String>, Vec<Vec<(String, String)>>) {
    let prefix = "PublishBatchRequestEntries.member.";
    let mut common = Vec::new();
    let mut entries: std::collections::BTreeMap<usize, Vec<(String, String)>> = Default::default();
    for pair in body.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('.'))
        {
            Some((n, field)) => entries
                .entry(n.parse().unwrap())
                .or_default()
                .push((field.to_string(), value.to_string())),
            None => common.push(pair.to_string()),
        }
    }
    (common, entries.into_values().collect())
}

/// One decoded field of a `PublishBatch` entry.
fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(f, _)| f == name)
        .map(|(_, v)| decode(v))
        .unwrap_or_default()
}

impl FaultyConnector {
    /// SNS's answer to a `PublishBatch`, every entry accepted, when [`LocalSns`] is on.
    fn answer_locally(&self, body: &str) -> Option<HttpResponse> {
        if !body.starts_with("Action=PublishBatch&") {
            return None;
        }
        let mut faults = self.faults.lock().unwrap();
        let sns = faults.local_sns.as_mut()?;
        let (_, entries) = publish_entries(body);
        if let Some(quota) = sns.quota.as_mut()
            && !quota.take(entries.len())
        {
            return Some(throttled("sns"));
        }
        let mut successful = String::new();
        for fields in entries {
            sns.count(&field(&fields, "Message"));
            let id = field(&fields, "Id");
            successful.push_str(&format!(
                "<member><Id>{id}</Id><MessageId>local-{}</MessageId></member>",
                sns.published
            ));
        }
        let xml = format!(
            "<PublishBatchResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishBatchResult>\
             <Successful>{successful}</Successful><Failed/></PublishBatchResult>\
             <ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></PublishBatchResponse>"
        );
        let mut response = HttpResponse::new(200u16.try_into().unwrap(), SdkBody::from(xml));
        response.headers_mut().insert("content-type", "text/xml");
        Some(response)
    }

    /// DynamoDB's answer to a `BatchGetItem` of block records only, none found, when
    /// `local_blocks` is on. Any other key (an event, the ledger) sends the call to moto.
    fn answer_blocks_locally(&self, request: &HttpRequest, body: &str) -> Option<HttpResponse> {
        let target = request.headers().get("x-amz-target")?;
        if !target.ends_with(".BatchGetItem") || !self.faults.lock().unwrap().local_blocks {
            return None;
        }
        let parsed: serde_json::Value = serde_json::from_str(body).ok()?;
        let items = parsed.get("RequestItems")?.as_object()?;
        let only_blocks = items.values().all(|table| {
            table["Keys"].as_array().is_some_and(|keys| {
                keys.iter().all(|key| {
                    key["pk"]["S"]
                        .as_str()
                        .is_some_and(|pk| pk.starts_with("attendee#"))
                })
            })
        });
        if !only_blocks {
            return None;
        }
        self.faults.lock().unwrap().local_block_calls += 1;
        let responses: serde_json::Map<String, serde_json::Value> = items
            .keys()
            .map(|table| (table.clone(), serde_json::json!([])))
            .collect();
        let json = serde_json::json!({"Responses": responses, "UnprocessedKeys": {}});
        let mut response =
            HttpResponse::new(200u16.try_into().unwrap(), SdkBody::from(json.to_string()));
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        Some(response)
    }

    /// Splits a `PublishBatch` form body into kept pairs (entries renumbered) and withheld entries.
    fn rewrite(&self, body: &str) -> Option<(String, Vec<Withheld>, usize)> {
        if !body.starts_with("Action=PublishBatch&") {
            return None;
        }
        let prefix = "PublishBatchRequestEntries.member.";
        let (common, entries) = publish_entries(body);
        let mut faults = self.faults.lock().unwrap();
        let mut kept = Vec::new();
        let mut withheld = Vec::new();
        for (position, fields) in entries.into_iter().enumerate() {
            let (id, message) = (field(&fields, "Id"), field(&fields, "Message"));
            if faults
                .reject_containing
                .iter()
                .any(|needle| message.contains(needle.as_str()))
            {
                withheld.push(Withheld {
                    id,
                    code: "InvalidParameter",
                    sender_fault: true,
                });
            } else if faults.transient_position == Some(position)
                && faults.failed_once.insert(message)
            {
                withheld.push(Withheld {
                    id,
                    code: "InternalError",
                    sender_fault: false,
                });
            } else {
                kept.push(fields);
            }
        }
        faults.withheld += withheld.len();
        let kept_count = kept.len();
        let mut pairs = common;
        for (n, fields) in kept.into_iter().enumerate() {
            for (field, value) in fields {
                pairs.push(format!("{prefix}{}.{field}={value}", n + 1));
            }
        }
        Some((pairs.join("&"), withheld, kept_count))
    }
}

fn failed_xml(withheld: &[Withheld]) -> String {
    withheld
        .iter()
        .map(|w| {
            format!(
                "<member><Id>{}</Id><Code>{}</Code><Message>injected</Message><SenderFault>{}</SenderFault></member>",
                w.id, w.code, w.sender_fault
            )
        })
        .collect()
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let service = service(&request, &body);
        let (delay, deny) = {
            let faults = self.faults.lock().unwrap();
            let publish = body.starts_with("Action=PublishBatch&");
            let delay = faults.latency
                + if publish {
                    faults.publish_latency
                } else {
                    Default::default()
                };
            (delay, faults.deny_service == Some(service))
        };
        if !delay.is_zero() {
            let this = FaultyConnector {
                inner: self.inner.clone(),
                faults: self.faults.clone(),
            };
            return HttpConnectorFuture::new(async move {
                tokio::time::sleep(delay).await;
                this.call_now(request, body, service, deny).await
            });
        }
        self.call_now(request, body, service, deny)
    }
}

impl FaultyConnector {
    fn call_now(
        &self,
        mut request: HttpRequest,
        body: String,
        service: &'static str,
        deny: bool,
    ) -> HttpConnectorFuture {
        if deny {
            return HttpConnectorFuture::ready(Ok(denied(service)));
        }
        let after_accept = self.faults.lock().unwrap().ses_after_accept;
        if let (Some(after), "sesv2") = (after_accept, service) {
            let call = self.inner.call(request);
            return HttpConnectorFuture::new(async move {
                let response = call.await;
                match after {
                    AfterAccept::Late(delay) => {
                        tokio::time::sleep(delay).await;
                        response
                    }
                    AfterAccept::Dropped => Err(dropped()),
                }
            });
        }
        let fault = {
            let mut faults = self.faults.lock().unwrap();
            if faults.throttle_publishes > 0 && body.starts_with("Action=PublishBatch&") {
                faults.throttle_publishes -= 1;
                *faults.injected.entry("throttle").or_default() += 1;
                Some("throttle")
            } else if faults.random_rate > 0.0 && faults.roll() < faults.random_rate {
                // A lost SendEmail response would mail the summary twice: SES has no
                // idempotency token, so that one fault is left out.
                let kinds: &[&'static str] = if service == "sesv2" {
                    &["500", "503", "throttle", "drop-before"]
                } else {
                    &["500", "503", "throttle", "drop-before", "drop-after"]
                };
                let kind = kinds[(faults.roll() * kinds.len() as f64) as usize % kinds.len()];
                *faults.injected.entry(kind).or_default() += 1;
                if kind == "drop-after" && body.starts_with("Action=PublishBatch&") {
                    faults.lost_publish_responses += 1;
                }
                Some(kind)
            } else {
                None
            }
        };
        match fault {
            Some("500") => return HttpConnectorFuture::ready(Ok(status_only(500))),
            Some("503") => return HttpConnectorFuture::ready(Ok(status_only(503))),
            Some("throttle") => return HttpConnectorFuture::ready(Ok(throttled(service))),
            Some("drop-before") => return HttpConnectorFuture::ready(Err(refused())),
            Some(_) => {
                let call = self.inner.call(request);
                return HttpConnectorFuture::new(async move {
                    let _ = call.await;
                    Err(dropped())
                });
            }
            None => {}
        }
        if let Some(response) = self
            .answer_locally(&body)
            .or_else(|| self.answer_blocks_locally(&request, &body))
        {
            return HttpConnectorFuture::ready(Ok(response));
        }
        let Some((new_body, withheld, kept)) = self.rewrite(&body) else {
            return self.inner.call(request);
        };
        if withheld.is_empty() {
            return self.inner.call(request);
        }
        let failed = failed_xml(&withheld);
        if kept == 0 {
            let xml = format!(
                "<PublishBatchResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishBatchResult>\
                 <Successful/><Failed>{failed}</Failed></PublishBatchResult>\
                 <ResponseMetadata><RequestId>injected</RequestId></ResponseMetadata></PublishBatchResponse>"
            );
            let mut response = HttpResponse::new(200u16.try_into().unwrap(), SdkBody::from(xml));
            response.headers_mut().insert("content-type", "text/xml");
            return HttpConnectorFuture::ready(Ok(response));
        }
        request
            .headers_mut()
            .insert("content-length", new_body.len().to_string());
        *request.body_mut() = SdkBody::from(new_body);
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let response = inner.call(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|err| {
                    aws_smithy_runtime_api::client::result::ConnectorError::io(err.into())
                })?
                .into_bytes();
            let xml = String::from_utf8_lossy(&bytes);
            let xml = if xml.contains("<Failed/>") {
                xml.replacen("<Failed/>", &format!("<Failed>{failed}</Failed>"), 1)
            } else if xml.contains("<Failed>") {
                xml.replacen("<Failed>", &format!("<Failed>{failed}"), 1)
            } else {
                xml.replacen(
                    "</PublishBatchResult>",
                    &format!("<Failed>{failed}</Failed></PublishBatchResult>"),
                    1,
                )
            };
            let mut rewritten = HttpResponse::new(status, SdkBody::from(xml));
            for (name, value) in headers.iter() {
                if !name.eq_ignore_ascii_case("content-length") {
                    rewritten
                        .headers_mut()
                        .insert(name.to_string(), value.to_string());
                }
            }
            Ok(rewritten)
        })
    }
}
