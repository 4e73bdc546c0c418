//! Lambda entry point: read configuration and build clients once, then serve invocations.

use std::process::ExitCode;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use bulk_invites::app::App;
use bulk_invites::config::Config;
use bulk_invites::handler;
use bulk_invites::telemetry;
use lambda_runtime::service_fn;

// A request of 100,000 rows makes hundreds of thousands of small strings and a few large
// buffers; glibc's allocator hands the large ones back to the kernel and faults them in again,
// which cost more than the parsing itself (BENCHMARKS.md: 10 MB parse 253 -> 407 MiB/s).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            telemetry::init(&telemetry::LogSettings {
                filter: "error".into(),
                json: std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some(),
            });
            // One line, in the log's own shape: in Lambda a bare text line would be taken as
            // INFO, and dropped at WARN.
            tracing::error!(error = %err, "configuration error");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(&config.log);

    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(config.sdk.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(config.sdk.attempt_timeout)
                .operation_timeout(config.sdk.operation_timeout)
                .build(),
        )
        .load()
        .await;
    let app = App::new(&sdk, config);
    let app = &app;

    match lambda_runtime::run(service_fn(move |event| handler::handle(app, event))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
