//! Logging set-up: JSON lines in Lambda (CloudWatch), readable text elsewhere.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; `level` is a `tracing` filter such as `info`.
pub fn init(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    // Lambda sets AWS_LAMBDA_FUNCTION_NAME; there, one JSON object per line is what CloudWatch
    // Logs Insights can query. The timestamp is CloudWatch's own.
    let installed = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
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
