//! Logging set-up: JSON lines in Lambda (CloudWatch), readable text elsewhere.
//!
//! The level comes from `LOG_LEVEL` (the original's parameter, Python names in any case:
//! `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`) or, when that is unset, Lambda's own
//! `AWS_LAMBDA_LOG_LEVEL`; the format from Lambda's `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`),
//! JSON by default inside Lambda.

use tracing_subscriber::EnvFilter;

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    // The timestamp is CloudWatch's own.
    let installed = if settings.json {
        builder
            .json()
            .without_time()
            .with_current_span(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    let _ = installed;
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
