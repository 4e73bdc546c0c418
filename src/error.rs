//! Errors that stop one bulk request, and the one fate each gets.
//!
//! Three kinds of failure, three fates (docs/operations.md "Failure classes"):
//! 1. the request is bad (no `From:`, not authorized, refused sender, no CSV): acknowledged,
//!    the organizer told where that is safe;
//! 2. it is not a request at all (`s3:TestEvent`, SES's setup object, an object that is not an
//!    email or no longer exists): acknowledged and logged;
//! 3. anything about the environment (throttling, 5xx, timeouts, dropped connections, access
//!    denied, a missing table, topic or identity, SES refusing to send, KMS): the record goes
//!    back to SQS and, after its last receive, to the dead-letter queue. Never acknowledged.
//!
//! Invariant: an AWS error is class 3 unless [`classify`] names it as something the request
//! itself caused. Unknown codes are class 3: an error nobody foresaw must reach an operator,
//! not vanish.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::emf::RequestOutcome;
use crate::inbound::email::EmailError;

/// What an AWS error says about the world, from its code and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, a 5xx, a timeout or a dropped connection: it passes by itself.
    Transient,
    /// The environment needs an operator: access denied, a missing table, topic, bucket or
    /// identity, SES refusing to send, KMS trouble, or a code nobody listed.
    Environment,
    /// The stored email is gone (`NoSuchKey`): there is no request left to process.
    ObjectGone,
}

impl ErrorClass {
    /// True when the record must go back to SQS (class 3).
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorClass::ObjectGone)
    }
}

/// Codes AWS services use for throttling: the service asks for fewer calls.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
];

/// Codes AWS services use for passing trouble other than throttling; a later attempt may
/// succeed.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionInProgressException",
    "SlowDown",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "KMSThrottlingException",
];

/// True for an AWS error code that names throttling: the service did not do what was asked.
pub fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

/// True for an AWS error code that names throttling or a passing service fault.
pub fn is_transient_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code) || TRANSIENT_CODES.contains(&code)
}

/// Classifies an AWS service error by its code and HTTP status (docs/operations.md "Failure classes").
///
/// `None` for both means no response arrived (timeout, dropped connection): transient.
pub fn classify(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    match (code, status) {
        (Some("NoSuchKey"), _) => ErrorClass::ObjectGone,
        (Some(code), _) if is_transient_code(code) => ErrorClass::Transient,
        (_, Some(status)) if status >= 500 || status == 429 => ErrorClass::Transient,
        (None, None) => ErrorClass::Transient,
        // Access denied, missing resources, SES refusals, KMS, validation and every code not
        // named above: the environment (or this function's own deployment) is wrong.
        _ => ErrorClass::Environment,
    }
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
    /// What the failure says about the world; decides the record's fate.
    pub class: ErrorClass,
    /// The error with its causes, in one line for the logs.
    pub message: String,
    /// The SDK error itself, so a caller can walk the chain (`None` for local failures).
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AwsError {
    /// Classifies an SDK error.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (code, status) = match &err {
            SdkError::ServiceError(service) => (
                service.err().code().map(str::to_string),
                Some(service.raw().status().as_u16()),
            ),
            SdkError::ResponseError(response) => (None, Some(response.raw().status().as_u16())),
            _ => (None, None),
        };
        let class = match &err {
            // The request could not even be built: a defect of this deployment, not of the
            // email; an operator must see it.
            SdkError::ConstructionFailure(_) => ErrorClass::Environment,
            _ => classify(code.as_deref(), status),
        };
        Self {
            operation,
            message: describe(&err, code.as_deref()),
            code,
            status,
            class,
            source: Some(Box::new(err)),
        }
    }

    /// The service part of [`AwsError::operation`] (`SNS` of `SNS.PublishBatch`).
    pub fn service(&self) -> &'static str {
        self.operation
            .split_once('.')
            .map_or(self.operation, |(service, _)| service)
    }

    /// True for throttling: the service asks for fewer calls, not for a fix.
    pub fn is_throttling(&self) -> bool {
        self.status == Some(429)
            || self
                .code
                .as_deref()
                .is_some_and(|code| THROTTLING_CODES.contains(&code))
    }

    /// A failure with no SDK error behind it that a later attempt may clear (e.g. keys DynamoDB
    /// kept returning unprocessed, the invocation's time running out).
    pub fn transient(operation: &'static str, message: impl Into<String>) -> Self {
        Self::local(operation, ErrorClass::Transient, message)
    }

    /// A failure with no SDK error behind it that an operator must fix (e.g. a request the SDK
    /// refuses to build).
    pub fn environment(operation: &'static str, message: impl Into<String>) -> Self {
        Self::local(operation, ErrorClass::Environment, message)
    }

    fn local(operation: &'static str, class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            operation,
            code: None,
            status: None,
            class,
            message: message.into(),
            source: None,
        }
    }
}

/// Longest description of an SDK error kept for the logs: the service's own message fits; an
/// HTTP dump does not belong in a log line.
const MAX_MESSAGE_CHARS: usize = 300;

/// What went wrong, in the service's words when it answered (`NotFound: Topic does not
/// exist`), else the failure's chain of causes (a timeout, a refused connection), without the
/// SDK's debug rendering of the raw response.
fn describe<E>(err: &SdkError<E, HttpResponse>, code: Option<&str>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let text = match err {
        SdkError::ServiceError(service) => {
            let message = service.err().message().unwrap_or("no message");
            match code {
                Some(code) => format!("{code}: {message}"),
                None => format!("HTTP {}: {message}", service.raw().status().as_u16()),
            }
        }
        SdkError::ResponseError(response) => format!(
            "unreadable response (HTTP {})",
            response.raw().status().as_u16()
        ),
        SdkError::TimeoutError(_) => "timed out".to_string(),
        other => DisplayErrorContext(other).to_string(),
    };
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Why one stored email could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The object named by the notification is gone (not a request).
    #[error("object s3://{bucket}/{key} does not exist")]
    ObjectMissing {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// The stored email of a request already under way (a continuation) is gone: someone
    /// deleted it mid-request. Invites may be half sent; an operator must look.
    #[error("the stored email s3://{bucket}/{key} of a request under way is gone")]
    EmailGone {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// The object is larger than the configured limit; it is left unread (a bad request).
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
    #[error("deadline reached with work left ({}); checkpointed", if *.progressed { "progress made" } else { "no progress" })]
    DeadlineReached {
        /// True when this invocation moved the request forward (invites published), so another
        /// invocation can be expected to move it further: the request may continue.
        progressed: bool,
    },
    /// The object is not an email the function can act on (not a request, or no sender).
    #[error("unusable email: {0}")]
    Email(#[from] EmailError),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// What an acknowledged failure was, for its log line and its metric outcome alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledged {
    /// Not a request at all (class 2): logged at `info`, outcome `not_a_request`.
    NotARequest,
    /// A bad request (class 1): logged at `warn`, outcome `refused`.
    BadRequest,
}

/// How a failure ends, for its log line and its metric alike: the handler logs at `level`, the
/// request counts `outcome`. One decision both read, so they cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    /// The log line's level: `error` when an operator must act.
    pub level: tracing::Level,
    /// The request's `Outcome` dimension.
    pub outcome: RequestOutcome,
}

/// What happens to the SQS record after a [`ProcessError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Acknowledged: retrying brings the same bytes and the same answer.
    Acknowledge,
    /// Returned to SQS (and, after its last receive, the dead-letter queue).
    Retry,
}

impl ProcessError {
    /// The record's fate: only class 3 (the environment) and work left over go back to SQS.
    pub fn fate(&self) -> Fate {
        match self {
            ProcessError::Aws(err) if err.class.is_retryable() => Fate::Retry,
            ProcessError::HeldElsewhere
            | ProcessError::DeadlineReached { .. }
            | ProcessError::EmailGone { .. } => Fate::Retry,
            ProcessError::Aws(_)
            | ProcessError::ObjectMissing { .. }
            | ProcessError::TooLarge { .. }
            | ProcessError::Email(_) => Fate::Acknowledge,
        }
    }

    /// What an acknowledged failure was; `None` when the record goes back to SQS. The handler's
    /// log line and the request's metric both read it, so they cannot disagree.
    pub fn acknowledged_as(&self) -> Option<Acknowledged> {
        match self {
            _ if self.is_retryable() => None,
            ProcessError::ObjectMissing { .. }
            | ProcessError::Email(EmailError::NotAnEmail)
            | ProcessError::Aws(_) => Some(Acknowledged::NotARequest),
            _ => Some(Acknowledged::BadRequest),
        }
    }

    /// How this failure ends, to the log and to the metrics.
    pub fn ending(&self) -> Ending {
        use tracing::Level;
        let (level, outcome) = match self.acknowledged_as() {
            None if self.needs_operator() => (Level::ERROR, RequestOutcome::Failed),
            None => (Level::WARN, RequestOutcome::Failed),
            Some(Acknowledged::NotARequest) => (Level::INFO, RequestOutcome::NotARequest),
            Some(Acknowledged::BadRequest) => (Level::WARN, RequestOutcome::Refused),
        };
        Ending { level, outcome }
    }

    /// True when SQS should deliver the message again.
    pub fn is_retryable(&self) -> bool {
        self.fate() == Fate::Retry
    }

    /// The AWS call that failed, if an AWS call did.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            ProcessError::Aws(err) => Some(err),
            _ => None,
        }
    }

    /// True when an operator must act (logged at `error`): the environment is wrong.
    pub fn needs_operator(&self) -> bool {
        matches!(self, ProcessError::Aws(err) if err.class == ErrorClass::Environment)
            || matches!(self, ProcessError::EmailGone { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test per row of the "Failure classes" table of docs/operations.md.
    macro_rules! row {
        ($name:ident, $class:expr, [$($code:expr),+ $(,)?], $status:expr) => {
            #[test]
            fn $name() {
                for code in [$($code),+] {
                    assert_eq!(classify(code, $status), $class, "{code:?} / {:?}", $status);
                }
            }
        };
    }

    row!(
        throttling_is_transient,
        ErrorClass::Transient,
        [
            Some("Throttling"),
            Some("ThrottlingException"),
            Some("TooManyRequestsException"),
            Some("ProvisionedThroughputExceededException"),
            Some("RequestLimitExceeded"),
            Some("SlowDown"),
            Some("KMSThrottlingException")
        ],
        Some(400)
    );
    row!(
        server_faults_are_transient,
        ErrorClass::Transient,
        [
            None,
            Some("InternalError"),
            Some("InternalFailure"),
            Some("ServiceUnavailable"),
            Some("SomethingNew")
        ],
        Some(503)
    );
    row!(
        too_many_requests_status_is_transient,
        ErrorClass::Transient,
        [None],
        Some(429)
    );
    row!(
        no_response_is_transient,
        ErrorClass::Transient,
        [None],
        None::<u16>
    );
    row!(
        access_denied_needs_an_operator,
        ErrorClass::Environment,
        [
            Some("AccessDenied"),
            Some("AccessDeniedException"),
            Some("AuthorizationError"),
            Some("UnrecognizedClientException"),
            Some("InvalidClientTokenId"),
            Some("ExpiredToken"),
            Some("SignatureDoesNotMatch")
        ],
        Some(403)
    );
    row!(
        missing_resources_need_an_operator,
        ErrorClass::Environment,
        [
            Some("ResourceNotFoundException"),
            Some("NotFound"),
            Some("NotFoundException"),
            Some("NoSuchBucket")
        ],
        Some(404)
    );
    row!(
        ses_refusing_needs_an_operator,
        ErrorClass::Environment,
        [
            Some("MessageRejected"),
            Some("AccountSendingPausedException"),
            Some("SendingPausedException"),
            Some("MailFromDomainNotVerifiedException"),
            Some("AccountSuspendedException")
        ],
        Some(400)
    );
    row!(
        kms_errors_need_an_operator,
        ErrorClass::Environment,
        [
            Some("KMSDisabledException"),
            Some("KMSInvalidStateException"),
            Some("KMSNotFoundException"),
            Some("KMSAccessDeniedException"),
            Some("KMS.KMSInvalidStateException")
        ],
        Some(400)
    );
    row!(
        other_client_errors_need_an_operator,
        ErrorClass::Environment,
        [
            Some("ValidationException"),
            Some("InvalidParameter"),
            Some("BadRequestException"),
            Some("InvalidObjectState"),
            Some("NeverSeenBefore"),
            None
        ],
        Some(400)
    );
    row!(
        a_missing_object_is_not_a_request,
        ErrorClass::ObjectGone,
        [Some("NoSuchKey")],
        Some(404)
    );

    /// A failed AWS call of `class`.
    fn aws(class: ErrorClass) -> ProcessError {
        ProcessError::Aws(AwsError {
            operation: "X.Y",
            code: None,
            status: None,
            class,
            message: String::new(),
            source: None,
        })
    }

    #[test]
    fn only_a_gone_object_is_acknowledged_among_aws_errors() {
        assert_eq!(aws(ErrorClass::Transient).fate(), Fate::Retry);
        assert_eq!(aws(ErrorClass::Environment).fate(), Fate::Retry);
        assert!(aws(ErrorClass::Environment).needs_operator());
        assert!(!aws(ErrorClass::Transient).needs_operator());
        assert_eq!(aws(ErrorClass::ObjectGone).fate(), Fate::Acknowledge);
    }

    #[test]
    fn an_acknowledged_failure_is_one_thing_to_the_log_and_the_metric() {
        let gone = aws(ErrorClass::ObjectGone);
        assert_eq!(gone.acknowledged_as(), Some(Acknowledged::NotARequest));
        assert_eq!(
            ProcessError::Email(EmailError::NoSender).acknowledged_as(),
            Some(Acknowledged::BadRequest)
        );
        assert_eq!(ProcessError::HeldElsewhere.acknowledged_as(), None);
        let ending = |level, outcome| Ending { level, outcome };
        use tracing::Level;
        assert_eq!(
            gone.ending(),
            ending(Level::INFO, RequestOutcome::NotARequest)
        );
        assert_eq!(
            ProcessError::Email(EmailError::NoSender).ending(),
            ending(Level::WARN, RequestOutcome::Refused)
        );
        assert_eq!(
            ProcessError::HeldElsewhere.ending(),
            ending(Level::WARN, RequestOutcome::Failed)
        );
        let denied = aws(ErrorClass::Environment);
        assert_eq!(
            denied.ending(),
            ending(Level::ERROR, RequestOutcome::Failed)
        );
    }

    #[test]
    fn requests_that_are_bad_or_not_requests_are_acknowledged() {
        let missing = ProcessError::ObjectMissing {
            bucket: "b".into(),
            key: "k".into(),
        };
        assert_eq!(missing.fate(), Fate::Acknowledge);
        assert_eq!(
            ProcessError::Email(EmailError::NoSender).fate(),
            Fate::Acknowledge
        );
        assert_eq!(ProcessError::HeldElsewhere.fate(), Fate::Retry);
        assert_eq!(
            ProcessError::DeadlineReached { progressed: false }.fate(),
            Fate::Retry
        );
    }

    #[test]
    fn sdk_errors_keep_code_and_status() {
        use aws_sdk_sns::operation::publish_batch::PublishBatchError;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let raw = HttpResponse::new(404u16.try_into().unwrap(), SdkBody::from("{}"));
        let err = SdkError::service_error(
            PublishBatchError::generic(ErrorMetadata::builder().code("NotFound").build()),
            raw,
        );
        let err = AwsError::from_sdk("SNS.PublishBatch", err);
        assert_eq!(
            (err.code.as_deref(), err.status, err.class),
            (Some("NotFound"), Some(404), ErrorClass::Environment)
        );
        let source = std::error::Error::source(&err).expect("the SDK error is kept");
        assert!(source.to_string().contains("service error"), "{source}");
        assert_eq!(err.service(), "SNS");
    }

    #[test]
    fn a_service_error_reads_as_its_code_and_message_without_the_http_dump() {
        use aws_sdk_sns::operation::publish_batch::PublishBatchError;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let body = format!("<ErrorResponse>{}</ErrorResponse>", "x".repeat(2_000));
        let mut raw = HttpResponse::new(404u16.try_into().unwrap(), SdkBody::from(body));
        raw.headers_mut().insert("x-amzn-requestid", "f00d");
        let meta = ErrorMetadata::builder()
            .code("NotFound")
            .message("Topic does not exist")
            .build();
        let err = AwsError::from_sdk(
            "SNS.PublishBatch",
            SdkError::service_error(PublishBatchError::generic(meta), raw),
        );
        assert_eq!(
            err.to_string(),
            "SNS.PublishBatch failed: NotFound: Topic does not exist"
        );
        let timeout = AwsError::from_sdk(
            "SNS.PublishBatch",
            SdkError::<PublishBatchError, HttpResponse>::timeout_error("attempt timeout"),
        );
        assert_eq!(timeout.to_string(), "SNS.PublishBatch failed: timed out");
    }
}
