//! CloudWatch Embedded Metric Format: one JSON line per request on stdout, which CloudWatch
//! Logs turns into metrics without an API call (and without a metrics client to keep warm).
//!
//! Written by hand: EMF is one documented JSON shape, a dozen lines with `serde_json`; the
//! maintained crate (`metrics_cloudwatch_embedded`) brings the `metrics` facade and a collector
//! for what is here a single line per request.
//!
//! Metrics (unit): `Requests` (Count), `InvitesSent` (Count), `RowsNotSent` (Count),
//! `RowsNotSent_<reason>` (Count, one per reason present), `Rows` (Count), `AwsCalls` (Count),
//! `Duration` (Milliseconds). Dimension sets: `[Service]` and `[Service, Outcome]`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// How a request ended, as the `Outcome` dimension says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Invites published and the summary sent (or the organizer told the list was unusable,
    /// or a redelivery of a completed request).
    Processed,
    /// A preview: every check done and the organizer told, nothing published.
    Previewed,
    /// A bad request: sender refused, not authorized, no usable sender, too large.
    Refused,
    /// Not a request: test events, SES's setup object, objects gone or not emails.
    NotARequest,
    /// Continued in a new message at the deadline, making progress.
    Continued,
    /// Returned to SQS: the environment failed, or the lease is held elsewhere.
    Failed,
}

impl RequestOutcome {
    fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Processed => "processed",
            RequestOutcome::Previewed => "previewed",
            RequestOutcome::Refused => "refused",
            RequestOutcome::NotARequest => "not_a_request",
            RequestOutcome::Continued => "continued",
            RequestOutcome::Failed => "failed",
        }
    }
}

/// The figures of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMetrics {
    /// How it ended.
    pub outcome: RequestOutcome,
    /// Data rows read (past `MAX_ROWS` included).
    pub rows: u64,
    /// Invites published.
    pub invites_sent: u64,
    /// Rows not sent, by reason kind (see [`crate::domain::Reason::kind`]).
    pub not_sent: Vec<(&'static str, u64)>,
    /// AWS attempts this request made (retries included).
    pub aws_calls: u64,
    /// Wall time of the request.
    pub duration: Duration,
}

impl RequestMetrics {
    /// A request that ended as `outcome` before any row was read.
    pub fn new(outcome: RequestOutcome) -> Self {
        Self {
            outcome,
            rows: 0,
            invites_sent: 0,
            not_sent: Vec::new(),
            aws_calls: 0,
            duration: Duration::ZERO,
        }
    }
}

/// Where the metrics go and under which names (`METRICS_NAMESPACE`, `METRICS_SERVICE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// CloudWatch namespace.
    pub namespace: String,
    /// Value of the `Service` dimension.
    pub service: String,
}

/// Writes a request's metrics: EMF goes to stdout, one line, where CloudWatch Logs extracts it
/// (logs go to stderr).
pub fn emit(config: &MetricsConfig, metrics: &RequestMetrics) {
    println!("{}", line(config, metrics, SystemTime::now()));
}

/// The EMF line for one request, at `now`.
pub fn line(config: &MetricsConfig, metrics: &RequestMetrics, now: SystemTime) -> String {
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let not_sent_total: u64 = metrics.not_sent.iter().map(|(_, n)| n).sum();
    let mut values: Vec<(String, Value, &str)> = vec![
        ("Requests".into(), json!(1), "Count"),
        ("Rows".into(), json!(metrics.rows), "Count"),
        ("InvitesSent".into(), json!(metrics.invites_sent), "Count"),
        ("RowsNotSent".into(), json!(not_sent_total), "Count"),
        ("AwsCalls".into(), json!(metrics.aws_calls), "Count"),
        (
            "Duration".into(),
            json!(metrics.duration.as_millis() as u64),
            "Milliseconds",
        ),
    ];
    for (reason, count) in &metrics.not_sent {
        values.push((format!("RowsNotSent_{reason}"), json!(count), "Count"));
    }
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": config.namespace,
                "Dimensions": [["Service"], ["Service", "Outcome"]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert("Service".into(), json!(config.service));
    root.insert("Outcome".into(), json!(metrics.outcome.as_str()));
    for (name, value, _) in values {
        root.insert(name, value);
    }
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_every_value_it_carries() {
        let config = MetricsConfig {
            namespace: "BulkInvites".into(),
            service: "bulk-invites".into(),
        };
        let metrics = RequestMetrics {
            outcome: RequestOutcome::Processed,
            rows: 12,
            invites_sent: 9,
            not_sent: vec![("invalid_email", 2), ("blocked", 1)],
            aws_calls: 7,
            duration: Duration::from_millis(1500),
        };
        let line = line(&config, &metrics, UNIX_EPOCH + Duration::from_secs(2));
        assert!(!line.contains('\n'), "one line");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 2000);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "BulkInvites");
        assert_eq!(
            directive["Dimensions"],
            json!([["Service"], ["Service", "Outcome"]])
        );
        // Every declared metric has a value at the top level, and every dimension too.
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name} has a value");
        }
        assert_eq!(
            (v["Service"].as_str(), v["Outcome"].as_str()),
            (Some("bulk-invites"), Some("processed"))
        );
        assert_eq!(
            (v["InvitesSent"].as_u64(), v["RowsNotSent"].as_u64()),
            (Some(9), Some(3))
        );
        assert_eq!(v["RowsNotSent_invalid_email"], 2);
        assert_eq!(v["Duration"], 1500);
    }
}
