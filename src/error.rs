//! Errors that stop one bulk request, each saying whether a retry can help.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::inbound::EmailError;
use crate::notification::NotificationError;

/// Error codes AWS services use for throttling and passing trouble; a later attempt may succeed.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionInProgressException",
    "SlowDown",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "KMSThrottlingException",
];

/// True for an AWS error code that names throttling or a passing service fault.
pub fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// A failed AWS call, after the SDK's own retries.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    /// The SDK operation, e.g. `S3.GetObject`.
    pub operation: &'static str,
    /// The service's error code, when it sent one.
    pub code: Option<String>,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// True when a later attempt may succeed (throttling, 5xx, timeouts, dropped connections).
    pub retryable: bool,
    /// The error with its causes.
    pub message: String,
}

impl AwsError {
    /// Classifies an SDK error.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (code, status, retryable) = match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => (None, None, true),
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = service.err().code().map(str::to_string);
                let transient = status >= 500
                    || status == 429
                    || code.as_deref().is_some_and(is_transient_code);
                (code, Some(status), transient)
            }
            _ => (None, None, false),
        };
        Self {
            operation,
            code,
            status,
            retryable,
            message: DisplayErrorContext(&err).to_string(),
        }
    }

    /// A failure with no SDK error behind it that a later attempt may clear (e.g. keys DynamoDB
    /// kept returning unprocessed).
    pub fn transient(operation: &'static str, message: impl Into<String>) -> Self {
        Self::local(operation, true, message)
    }

    /// A failure with no SDK error behind it that retrying cannot clear (e.g. a request the SDK
    /// refuses to build).
    pub fn permanent(operation: &'static str, message: impl Into<String>) -> Self {
        Self::local(operation, false, message)
    }

    fn local(operation: &'static str, retryable: bool, message: impl Into<String>) -> Self {
        Self {
            operation,
            code: None,
            status: None,
            retryable,
            message: message.into(),
        }
    }
}

/// Why one stored email could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The SQS record is not a notification this function understands.
    #[error("malformed notification: {0}")]
    Notification(#[from] NotificationError),
    /// The object named by the notification is gone.
    #[error("object s3://{bucket}/{key} does not exist")]
    ObjectMissing {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// The object is larger than the configured limit; it is left unread.
    #[error("object s3://{bucket}/{key} has {size} bytes, more than the limit of {max_bytes}")]
    TooLarge {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
        /// Its size.
        size: u64,
        /// The limit (`MAX_OBJECT_BYTES`).
        max_bytes: u64,
    },
    /// Another invocation holds this request's lease; SQS should deliver it again later.
    #[error("request is being processed by another invocation")]
    HeldElsewhere,
    /// The invocation's deadline came before the request was done; progress is checkpointed.
    #[error("deadline reached with work left; checkpointed for the next delivery")]
    DeadlineReached,
    /// The object is not an email the function can act on.
    #[error("unusable email: {0}")]
    Email(#[from] EmailError),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl ProcessError {
    /// True when SQS should deliver the message again; false when a retry would fail the same way.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProcessError::Aws(err) => err.retryable,
            ProcessError::HeldElsewhere | ProcessError::DeadlineReached => true,
            ProcessError::Notification(_)
            | ProcessError::ObjectMissing { .. }
            | ProcessError::TooLarge { .. }
            | ProcessError::Email(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_aws_errors_are_retryable() {
        assert!(
            ProcessError::Aws(AwsError::transient("DynamoDB.BatchGetItem", "x")).is_retryable()
        );
        let missing = ProcessError::ObjectMissing {
            bucket: "b".into(),
            key: "k".into(),
        };
        assert!(!missing.is_retryable());
        assert!(!ProcessError::Aws(AwsError::permanent("SESv2.SendEmail", "x")).is_retryable());
        assert!(!ProcessError::Email(EmailError::NoSender).is_retryable());
        assert!(is_transient_code("ThrottlingException"));
        assert!(!is_transient_code("AccessDenied"));
    }
}
