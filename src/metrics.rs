//! Counting AWS round trips by operation: in production they are what costs, more than seconds.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

tokio::task_local! {
    /// The attempts of the request being polled, when one is.
    static REQUEST_CALLS: Arc<AtomicU64>;
}

/// Runs `work` and counts the AWS attempts made while polling it, and only those: a request's
/// own count, even while other records of the batch run beside it on the same clients.
pub async fn count_calls<F: Future>(work: F) -> (F::Output, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let output = REQUEST_CALLS.scope(counter.clone(), work).await;
    (output, counter.load(Ordering::Relaxed))
}

/// An SDK interceptor that counts every HTTP attempt (retries included) per operation.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// Attempts so far, keyed `Service.Operation` (e.g. `SNS.PublishBatch`).
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// All attempts so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(metadata), Ok(mut counts)) = (cfg.load::<Metadata>(), self.counts.lock()) {
            *counts
                .entry(format!("{}.{}", metadata.service(), metadata.name()))
                .or_default() += 1;
        }
        let _ = REQUEST_CALLS.try_with(|calls| calls.fetch_add(1, Ordering::Relaxed));
        Ok(())
    }
}
