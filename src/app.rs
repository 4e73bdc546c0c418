//! What a cold start builds once and every invocation borrows (as aws-lambda-rust-runtime's
//! `examples/basic-sdk` does): the configuration and the service wrappers made from it.

use aws_config::SdkConfig;

use crate::aws::Aws;
use crate::config::Config;
use crate::ledger::store::LedgerStore;

/// The function's clients and configuration.
#[derive(Debug, Clone)]
pub struct App {
    /// The AWS service wrappers, each holding its resource name from `config`.
    pub aws: Aws,
    /// The request ledger, in the same table.
    pub ledger: LedgerStore,
    /// Configuration from the environment.
    pub config: Config,
}

impl App {
    /// Builds the service wrappers from `sdk` and `config`.
    pub fn new(sdk: &SdkConfig, config: Config) -> Self {
        let aws = Aws::new(sdk, &config);
        Self {
            ledger: LedgerStore::new(aws.dynamodb(), config.table.clone()),
            aws,
            config,
        }
    }
}
