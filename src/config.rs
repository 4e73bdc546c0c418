//! Configuration from the environment, read once at cold start.

use std::time::Duration;

use crate::domain::SenderEmail;
use crate::emf::MetricsConfig;
use crate::inbound::authenticity::Policy;
use crate::telemetry::{self, LogSettings};

/// Region used when neither `REGION` nor `AWS_REGION` is set, as in the original.
pub const DEFAULT_REGION: &str = "us-west-2";
/// Concurrent AWS batch calls per request when `MAX_IN_FLIGHT` is not set.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;
/// 40 MiB: what SES can store for one inbound email.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 40 * 1024 * 1024;
/// No limit: every row of any stored email the function accepts (`MAX_OBJECT_BYTES`) is read;
/// memory is bounded by the object's size, not by a row count (BENCHMARKS.md, issue 20).
/// `MAX_ROWS` is an operator's cap.
pub const DEFAULT_MAX_ROWS: u64 = u64::MAX;
/// Time kept in hand before the Lambda deadline: no new batch starts inside it, batches in
/// flight get its first half, and the checkpoint, lease release and continuation the second.
/// 20 s: twice the longest SDK attempt (`ATTEMPT_TIMEOUT_MS`), so a call that has started
/// normally ends before the last calls need the time.
pub const DEFAULT_DEADLINE_MARGIN_MS: u64 = 20_000;
/// Receives of one message before SQS moves it to the dead-letter queue (the queue's
/// `maxReceiveCount`; the template passes the same number).
pub const DEFAULT_MAX_RECEIVE_COUNT: u64 = 3;
/// Continuations of one request; at ~100 s of publishing each, hours of work.
pub const DEFAULT_MAX_CONTINUATIONS: u64 = 20;
/// 20 batches of 10: at most 200 invites (plus those in flight) are sent again after a crash.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 20;
/// SDK attempts per call (standard retry mode with backoff).
pub const DEFAULT_MAX_ATTEMPTS: u64 = 4;
/// One attempt's time limit.
pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 10_000;
/// One call's time limit, retries included.
pub const DEFAULT_OPERATION_TIMEOUT_MS: u64 = 30_000;

/// A display name and address, such as `Calendar Snack <notification@calendarsnack.com>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Display name, if any.
    pub name: Option<String>,
    /// Bare address.
    pub address: String,
}

impl Mailbox {
    /// Parses `Name <address>` or a bare address.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let (name, address) = match raw.rsplit_once('<') {
            Some((name, rest)) => {
                let address = rest.strip_suffix('>')?;
                let name = name.trim().trim_matches('"').trim();
                ((!name.is_empty()).then(|| name.to_string()), address)
            }
            None => (None, raw),
        };
        let address = SenderEmail::parse(address).ok()?.as_str().to_string();
        Some(Self { name, address })
    }
}

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// AWS region of the clients.
    pub region: String,
    /// DynamoDB table holding organizers, events and block records (`THIRTYONE_TABLE`).
    pub table: String,
    /// SNS topic ARN that receives one message per invite (`NEW_EVENT_INVITE`).
    pub topic_arn: String,
    /// Sender of the summary emails (`SYSTEM_EMAIL`).
    pub system_email: Mailbox,
    /// Log level and format (`LOG_LEVEL` or `AWS_LAMBDA_LOG_LEVEL`, default `info`;
    /// `AWS_LAMBDA_LOG_FORMAT`, JSON by default in Lambda).
    pub log: LogSettings,
    /// Upper bound on concurrent AWS batch calls (`MAX_IN_FLIGHT`).
    pub max_in_flight: usize,
    /// Size, row and time limits of one request.
    pub limits: Limits,
    /// SDK retry and timeout settings.
    pub sdk: SdkSettings,
    /// What SES must have verified about a sender (`SENDER_POLICY`: `strict`, the default, or `off`).
    pub sender_policy: Policy,
    /// Reject attendee addresses whose domain looks misspelt (`TYPO_CHECK`: `on`, the default,
    /// or `off`).
    pub typo_check: bool,
    /// Namespace and `Service` dimension of the per-request metrics (`METRICS_NAMESPACE`,
    /// default `BulkInvites`; `METRICS_SERVICE`, default `bulk-invites`).
    pub metrics: MetricsConfig,
}

/// Limits that keep one request within what the function was measured to handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest stored email read (`MAX_OBJECT_BYTES`); SES itself stores at most 40 MB.
    pub max_object_bytes: u64,
    /// Rows processed per request (`MAX_ROWS`); later rows are reported as not sent.
    pub max_rows: usize,
    /// No new batch starts when less than this remains before the Lambda deadline
    /// (`DEADLINE_MARGIN_MS`); the request is checkpointed and handed back to SQS.
    pub deadline_margin: Duration,
    /// Publish batches between two progress checkpoints (`CHECKPOINT_EVERY_BATCHES`).
    pub checkpoint_every: usize,
    /// The queue's `maxReceiveCount` (`MAX_RECEIVE_COUNT`): a failure on this receive sends the
    /// message to the dead-letter queue, so the organizer gets the last word.
    pub max_receives: u32,
    /// Times one request may continue in a new message (`MAX_CONTINUATIONS`).
    pub max_continuations: u32,
}

/// How the SDK retries and times out calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkSettings {
    /// Attempts per call, the first included (`RETRY_MAX_ATTEMPTS`, standard retry mode).
    pub max_attempts: u32,
    /// Limit on one attempt (`ATTEMPT_TIMEOUT_MS`).
    pub attempt_timeout: Duration,
    /// Limit on a call with all its attempts (`OPERATION_TIMEOUT_MS`).
    pub operation_timeout: Duration,
}

/// A configuration problem that stops the cold start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("environment variable {name} has an invalid value {value:?}: {expected}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// What it holds.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));

        let table = required("THIRTYONE_TABLE")?;
        let topic_arn = required("NEW_EVENT_INVITE")?;
        let raw_system_email = required("SYSTEM_EMAIL")?;
        let system_email = Mailbox::parse(&raw_system_email).ok_or(ConfigError::Invalid {
            name: "SYSTEM_EMAIL",
            value: raw_system_email,
            expected: "an address, optionally as `Name <address>`",
        })?;
        let number =
            |name: &'static str, default: u64, range: std::ops::RangeInclusive<u64>, expected| {
                match get(name) {
                    None => Ok(default),
                    Some(value) => match value.parse::<u64>() {
                        Ok(n) if range.contains(&n) => Ok(n),
                        _ => Err(ConfigError::Invalid {
                            name,
                            value,
                            expected,
                        }),
                    },
                }
            };
        let max_in_flight = number(
            "MAX_IN_FLIGHT",
            DEFAULT_MAX_IN_FLIGHT as u64,
            1..=256,
            "a whole number from 1 to 256",
        )?;
        let limits = Limits {
            max_object_bytes: number(
                "MAX_OBJECT_BYTES",
                DEFAULT_MAX_OBJECT_BYTES,
                1..=u64::MAX,
                "a number of bytes",
            )?,
            max_rows: number(
                "MAX_ROWS",
                DEFAULT_MAX_ROWS,
                1..=u64::MAX,
                "a whole number from 1",
            )?
            .try_into()
            .unwrap_or(usize::MAX),
            deadline_margin: Duration::from_millis(number(
                "DEADLINE_MARGIN_MS",
                DEFAULT_DEADLINE_MARGIN_MS,
                0..=600_000,
                "milliseconds, at most 600000",
            )?),
            checkpoint_every: number(
                "CHECKPOINT_EVERY_BATCHES",
                DEFAULT_CHECKPOINT_EVERY,
                1..=100_000,
                "a whole number of batches",
            )? as usize,
            max_receives: number(
                "MAX_RECEIVE_COUNT",
                DEFAULT_MAX_RECEIVE_COUNT,
                1..=1000,
                "the queue's maxReceiveCount, 1 to 1000",
            )? as u32,
            max_continuations: number(
                "MAX_CONTINUATIONS",
                DEFAULT_MAX_CONTINUATIONS,
                0..=1000,
                "a whole number from 0 to 1000",
            )? as u32,
        };
        let sdk = SdkSettings {
            max_attempts: number(
                "RETRY_MAX_ATTEMPTS",
                DEFAULT_MAX_ATTEMPTS,
                1..=20,
                "a whole number from 1 to 20",
            )? as u32,
            attempt_timeout: Duration::from_millis(number(
                "ATTEMPT_TIMEOUT_MS",
                DEFAULT_ATTEMPT_TIMEOUT_MS,
                100..=900_000,
                "milliseconds from 100 to 900000",
            )?),
            operation_timeout: Duration::from_millis(number(
                "OPERATION_TIMEOUT_MS",
                DEFAULT_OPERATION_TIMEOUT_MS,
                100..=900_000,
                "milliseconds from 100 to 900000",
            )?),
        };
        let sender_policy = match get("SENDER_POLICY") {
            None => Policy::Strict,
            Some(value) => Policy::parse(&value).ok_or(ConfigError::Invalid {
                name: "SENDER_POLICY",
                value,
                expected: "strict or off",
            })?,
        };
        let typo_check = match get("TYPO_CHECK") {
            None => true,
            Some(value) if value.eq_ignore_ascii_case("on") => true,
            Some(value) if value.eq_ignore_ascii_case("off") => false,
            Some(value) => {
                return Err(ConfigError::Invalid {
                    name: "TYPO_CHECK",
                    value,
                    expected: "on or off",
                });
            }
        };
        let (level_name, level) = match get("LOG_LEVEL") {
            Some(level) => ("LOG_LEVEL", level),
            None => (
                "AWS_LAMBDA_LOG_LEVEL",
                get("AWS_LAMBDA_LOG_LEVEL").unwrap_or_else(|| "info".to_string()),
            ),
        };
        let filter = telemetry::filter_for(&level).ok_or(ConfigError::Invalid {
            name: level_name,
            value: level,
            expected: "DEBUG, INFO, WARNING, ERROR (any case), trace, or a tracing filter such as \
                       info,bulk_invites=debug",
        })?;
        let json = match get("AWS_LAMBDA_LOG_FORMAT") {
            Some(format) if format.eq_ignore_ascii_case("json") => true,
            Some(format) if format.eq_ignore_ascii_case("text") => false,
            Some(format) => {
                return Err(ConfigError::Invalid {
                    name: "AWS_LAMBDA_LOG_FORMAT",
                    value: format,
                    expected: "JSON or Text",
                });
            }
            // Lambda sets AWS_LAMBDA_FUNCTION_NAME: there JSON, elsewhere readable text.
            None => get("AWS_LAMBDA_FUNCTION_NAME").is_some(),
        };
        Ok(Self {
            sender_policy,
            typo_check,
            region: get("REGION")
                .or_else(|| get("AWS_REGION"))
                .unwrap_or_else(|| DEFAULT_REGION.to_string()),
            table,
            topic_arn,
            system_email,
            log: LogSettings { filter, json },
            max_in_flight: max_in_flight as usize,
            limits,
            sdk,
            metrics: MetricsConfig {
                namespace: get("METRICS_NAMESPACE").unwrap_or_else(|| "BulkInvites".to_string()),
                service: get("METRICS_SERVICE").unwrap_or_else(|| "bulk-invites".to_string()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        ("THIRTYONE_TABLE", "thirtyone"),
        (
            "NEW_EVENT_INVITE",
            "arn:aws:sns:us-west-2:123456789012:send-bulk-event-invite",
        ),
        (
            "SYSTEM_EMAIL",
            "Calendar Snack <notification@calendarsnack.com>",
        ),
    ];

    #[test]
    fn defaults_apply() {
        let config = Config::from_lookup(env(FULL)).unwrap();
        assert_eq!(config.region, "us-west-2");
        assert_eq!(
            config.log,
            LogSettings {
                filter: "info".into(),
                json: false
            }
        );
        assert_eq!(config.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        assert_eq!(config.limits.max_rows, usize::MAX);
        assert_eq!(config.limits.checkpoint_every, 20);
        assert_eq!(config.limits.deadline_margin, Duration::from_secs(20));
        assert_eq!(
            (config.limits.max_receives, config.limits.max_continuations),
            (3, 20)
        );
        assert_eq!(config.sdk.max_attempts, 4);
        assert_eq!(
            config.system_email,
            Mailbox {
                name: Some("Calendar Snack".into()),
                address: "notification@calendarsnack.com".into()
            }
        );
    }

    #[test]
    fn region_falls_back_to_aws_region() {
        let mut pairs = FULL.to_vec();
        pairs.push(("AWS_REGION", "eu-west-1"));
        assert_eq!(
            Config::from_lookup(env(&pairs)).unwrap().region,
            "eu-west-1"
        );
        pairs.push(("REGION", "us-east-1"));
        assert_eq!(
            Config::from_lookup(env(&pairs)).unwrap().region,
            "us-east-1"
        );
    }

    #[test]
    fn each_missing_variable_is_named() {
        for missing in ["THIRTYONE_TABLE", "NEW_EVENT_INVITE", "SYSTEM_EMAIL"] {
            let pairs: Vec<_> = FULL
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            assert_eq!(
                Config::from_lookup(env(&pairs)),
                Err(ConfigError::Missing(missing))
            );
        }
    }

    /// The variable named as invalid when `extra` is set over the full configuration.
    fn invalid(extra: &[(&'static str, &'static str)]) -> Option<&'static str> {
        let mut pairs = FULL.to_vec();
        pairs.retain(|(name, _)| extra.iter().all(|(set, _)| set != name));
        pairs.extend_from_slice(extra);
        match Config::from_lookup(env(&pairs)) {
            Err(ConfigError::Invalid { name, .. }) => Some(name),
            _ => None,
        }
    }

    #[test]
    fn typo_check_is_on_unless_turned_off() {
        assert!(Config::from_lookup(env(FULL)).unwrap().typo_check);
        for (value, on) in [("off", false), ("OFF", false), ("on", true), (" On ", true)] {
            let mut pairs = FULL.to_vec();
            pairs.push(("TYPO_CHECK", value));
            assert_eq!(
                Config::from_lookup(env(&pairs)).unwrap().typo_check,
                on,
                "{value}"
            );
        }
        assert_eq!(invalid(&[("TYPO_CHECK", "maybe")]), Some("TYPO_CHECK"));
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(invalid(&[("MAX_IN_FLIGHT", "0")]), Some("MAX_IN_FLIGHT"));
        assert_eq!(
            invalid(&[("DEADLINE_MARGIN_MS", "soon")]),
            Some("DEADLINE_MARGIN_MS")
        );
        assert_eq!(
            invalid(&[("SYSTEM_EMAIL", "Calendar Snack <nope>")]),
            Some("SYSTEM_EMAIL")
        );
    }

    #[test]
    fn log_settings_follow_the_original_and_lambda() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = FULL.to_vec();
            pairs.extend_from_slice(extra);
            Config::from_lookup(env(&pairs)).map(|c| c.log)
        };
        let log = |filter: &str, json| LogSettings {
            filter: filter.into(),
            json,
        };
        assert_eq!(with(&[("LOG_LEVEL", "WARNING")]), Ok(log("warn", false)));
        assert_eq!(
            with(&[
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ("AWS_LAMBDA_FUNCTION_NAME", "f")
            ]),
            Ok(log("debug", true))
        );
        assert_eq!(
            with(&[("LOG_LEVEL", "ERROR"), ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]),
            Ok(log("error", false)),
            "the function's own LOG_LEVEL wins"
        );
        assert_eq!(
            with(&[
                ("AWS_LAMBDA_LOG_FORMAT", "Text"),
                ("AWS_LAMBDA_FUNCTION_NAME", "f")
            ]),
            Ok(log("info", false))
        );
        assert!(matches!(
            with(&[("LOG_LEVEL", "loud")]),
            Err(ConfigError::Invalid {
                name: "LOG_LEVEL",
                ..
            })
        ));
        assert!(matches!(
            with(&[("AWS_LAMBDA_LOG_FORMAT", "xml")]),
            Err(ConfigError::Invalid {
                name: "AWS_LAMBDA_LOG_FORMAT",
                ..
            })
        ));
    }

    #[test]
    fn bare_mailbox_parses() {
        assert_eq!(
            Mailbox::parse("notification@calendarsnack.com"),
            Some(Mailbox {
                name: None,
                address: "notification@calendarsnack.com".into()
            })
        );
    }
}
