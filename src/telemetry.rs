//! Logging set-up: Lambda's JSON log shape in Lambda (CloudWatch), plain text elsewhere.
//!
//! The level comes from `LOG_LEVEL` (the original's parameter, Python names in any case:
//! `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`) or, when that is unset, Lambda's own
//! `AWS_LAMBDA_LOG_LEVEL`; the format from Lambda's `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`),
//! JSON by default inside Lambda.
//!
//! Invariant: a JSON line is one flat object with `timestamp` (RFC 3339, UTC), `level`
//! (`ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`) and `message` at the top level, followed by the
//! fields of every span the line was written in (outermost first: the runtime's `requestId`,
//! then the record's and the request's `bucket`, `key` and `sender`) and the event's own fields.
//! That is the shape Lambda's log-level filtering reads (a line without a valid `timestamp` is
//! taken as INFO and dropped at WARN) and the one Logs Insights queries (`filter level =
//! "ERROR"`, `message`, `key`). tracing-subscriber's own JSON nests the message under `fields`
//! and span fields under `spans`, hence this small layer. Text lines carry no colour codes:
//! CloudWatch shows them as they are.

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// How logs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `bulk_invites=debug`.
    pub filter: String,
    /// One JSON object per line (else compact text).
    pub json: bool,
}

/// The level names a `tracing` filter directive may stand on alone.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// The `tracing` filter for a level as the original, Lambda or `tracing` names it; `None` when
/// it is none of those and not a valid filter either.
pub fn filter_for(level: &str) -> Option<String> {
    let level = level.trim();
    let mapped = match level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "critical" | "fatal" => "error",
        "off" => "off",
        // A bare word is a valid filter to tracing (a target name at every level) and would
        // silence every line but that target's; a directive must say `target=level`.
        _ if level.split(',').all(|directive| {
            directive.contains('=')
                || LEVELS.contains(&directive.trim().to_ascii_lowercase().as_str())
        }) =>
        {
            return EnvFilter::try_new(level).ok().map(|_| level.to_string());
        }
        _ => return None,
    };
    Some(mapped.to_string())
}

/// Installs the global subscriber once.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Only the first call installs anything (a cold start that fails calls it early).
    if settings.json {
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(LambdaJson::new(std::io::stderr))
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .compact()
            .try_init();
    }
}

/// A layer writing each event as one flat JSON object per line, in Lambda's log shape.
pub struct LambdaJson<W> {
    make_writer: W,
}

impl<W> LambdaJson<W> {
    /// Writes each line to a fresh writer from `make_writer` (stderr in Lambda).
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// The fields a span was given, kept in its extensions until it closes.
#[derive(Debug, Default)]
struct SpanFields(Map<String, Value>);

/// Collects fields as JSON values: numbers and booleans as themselves, the rest as text.
struct Collect<'a>(&'a mut Map<String, Value>);

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

impl<S, W> tracing_subscriber::Layer<S> for LambdaJson<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::default();
        attrs.record(&mut Collect(&mut fields.0));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Collect(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    fields.extend(span_fields.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut Collect(&mut fields));
        let message = fields.remove("message").unwrap_or_else(|| Value::from(""));
        // The three fields Lambda and a reader look for first, then the rest by name.
        let mut line = format!(
            "{{\"timestamp\":\"{:.3}\",\"level\":\"{}\",\"message\":{}",
            jiff::Timestamp::now(),
            event.metadata().level().as_str(),
            message
        );
        for (name, value) in fields
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "timestamp" | "level"))
        {
            line.push(',');
            line.push_str(&Value::from(name.as_str()).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        }
        line.push_str("}\n");
        // A log line that cannot be written has nowhere else to go.
        let _ = self.make_writer.make_writer().write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing::{error, info_span, warn};

    #[test]
    fn the_originals_level_names_map_to_tracing_levels() {
        for (given, expected) in [
            ("INFO", "info"),
            ("WARNING", "warn"),
            ("warning", "warn"),
            ("Debug", "debug"),
            ("ERROR", "error"),
            ("CRITICAL", "error"),
            ("FATAL", "error"),
            ("TRACE", "trace"),
            (" warn ", "warn"),
            ("bulk_invites=debug", "bulk_invites=debug"),
            ("info,bulk_invites=debug", "info,bulk_invites=debug"),
        ] {
            assert_eq!(filter_for(given).as_deref(), Some(expected), "{given}");
        }
        for invalid in ["loud=very", "loud", "info,loud", "", "debug2"] {
            assert_eq!(filter_for(invalid), None, "{invalid:?}");
        }
    }

    /// Collects what the layer writes.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn a_line_is_one_flat_object_with_the_spans_fields() {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry().with(LambdaJson::new(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let invoke = info_span!("Lambda runtime invoke", requestId = "req-1");
            let _invoke = invoke.enter();
            let request = info_span!(
                "request",
                bucket = "inbound",
                key = "bulk/a b",
                sender = tracing::field::Empty
            );
            let _request = request.enter();
            warn!(sent = 3, preview = false, "before the sender is known");
            request.record("sender", "org@example.com");
            error!(error = %"SNS.PublishBatch failed", "request failed");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let parsed: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(parsed.len(), 2, "{text}");
        assert!(
            text.lines()
                .all(|line| line.starts_with(r#"{"timestamp":""#)),
            "{text}"
        );
        for line in &parsed {
            let timestamp = line["timestamp"].as_str().unwrap();
            assert!(
                timestamp.parse::<jiff::Timestamp>().is_ok() && timestamp.ends_with('Z'),
                "{timestamp}"
            );
            assert_eq!(line["requestId"], "req-1");
            assert_eq!(
                (&line["bucket"], &line["key"]),
                (&"inbound".into(), &"bulk/a b".into())
            );
        }
        assert_eq!(parsed[0]["level"], "WARN");
        assert_eq!(parsed[0]["message"], "before the sender is known");
        assert_eq!(
            (&parsed[0]["sent"], &parsed[0]["preview"]),
            (&3.into(), &false.into())
        );
        assert!(parsed[0].get("sender").is_none());
        assert_eq!(parsed[1]["level"], "ERROR");
        assert_eq!(parsed[1]["message"], "request failed");
        assert_eq!(parsed[1]["sender"], "org@example.com");
        assert_eq!(parsed[1]["error"], "SNS.PublishBatch failed");
    }
}
