//! A fault-injecting HTTP client: wraps the SDK's real HTTP client and, on the way to moto,
//! makes chosen `PublishBatch` entries fail the way SNS reports partial failures.
//!
//! A failed entry is *withheld* (removed from the request before moto sees it) and reported in
//! the response's `Failed` list, so what moto records is exactly what SNS would have accepted.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
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

impl FaultyConnector {
    /// Splits a `PublishBatch` form body into kept pairs (entries renumbered) and withheld entries.
    fn rewrite(&self, body: &str) -> Option<(String, Vec<Withheld>, usize)> {
        if !body.starts_with("Action=PublishBatch&") {
            return None;
        }
        let prefix = "PublishBatchRequestEntries.member.";
        let mut common = Vec::new();
        let mut entries: std::collections::BTreeMap<usize, Vec<(String, String)>> =
            Default::default();
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
        let mut faults = self.faults.lock().unwrap();
        let mut kept = Vec::new();
        let mut withheld = Vec::new();
        for (position, fields) in entries.into_values().enumerate() {
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(f, _)| f == name)
                    .map(|(_, v)| decode(v))
                    .unwrap_or_default()
            };
            let (id, message) = (field("Id"), field("Message"));
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
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
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
