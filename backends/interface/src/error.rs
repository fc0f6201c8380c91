//! How an action fails, and what that means for a retry.

/// The ways a step's action can fail. The engine adds the step and action names.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The action ran and the outcome was a failure the user should read.
    #[error("{0}")]
    Failed(String),
    /// The rendered input does not match the action's input struct.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The action cannot run on this target, and says why.
    #[error("`{action}` cannot run on the {target} target: {reason}")]
    Unsupported {
        action: &'static str,
        target: &'static str,
        reason: String,
    },
    /// The target does not offer this operation at all (a backend implements only what
    /// its platform has; a target without cloud services offers none).
    #[error("this target does not offer {service} {operation}")]
    NotOffered {
        service: &'static str,
        operation: &'static str,
    },
    /// A cloud (or simulated cloud) call failed: which service, operation and resource,
    /// and the service's own error code.
    #[error("{service} {operation} of `{resource}` failed: {code}: {message}")]
    Service {
        service: &'static str,
        operation: &'static str,
        resource: String,
        code: String,
        message: String,
    },
    /// The step's `timeout` ran out while the action was still working: whatever it
    /// was calling may have taken effect.
    #[error("timed out after {0}")]
    TimedOut(String),
    /// The run is being interrupted (SIGINT/SIGTERM): the step stays `running` and is
    /// re-entered by `runbook resume`.
    #[error("interrupted")]
    Interrupted,
    /// A bug in runbook itself.
    #[error("internal error (a bug in runbook): {0}")]
    Bug(String),
}

/// What a failure means for the next attempt of the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The call was answered with a no (or the action's own check failed): nothing took
    /// effect, so a retry is a new request under a new idempotency key.
    Rejected,
    /// The call may have reached the service and taken effect: a timeout, a lost
    /// connection or unreadable answer, a 5xx, throttling. A retry repeats it under the
    /// same idempotency key, so the service (and the action's own lookup by key) can
    /// tell it is the same request.
    Uncertain,
    /// Retrying cannot help: the input is invalid, the action cannot run on this
    /// target, or runbook has a bug.
    Permanent,
}

impl ErrorClass {
    /// Why a step is not retried after a failure of this class, if it is not.
    pub fn not_retried_because(self) -> Option<&'static str> {
        match self {
            ErrorClass::Permanent => Some("not retried: this error cannot go away by retrying"),
            ErrorClass::Rejected | ErrorClass::Uncertain => None,
        }
    }
}

/// Service error codes (AWS and Kubernetes) for requests that may have been carried
/// out although no success came back, or that the service asks to repeat later.
///
/// The transport codes are the ones `runbook_backend_aws`'s `service_error` gives errors
/// without a service answer. Throttling codes are those AWS SDKs treat as throttling
/// (aws-smithy-runtime's `THROTTLING_ERRORS`, plus the service-specific spellings);
/// server-side codes are 5xx answers, named as the services name them; Kubernetes
/// codes are the `reason` of its 429/5xx Status answers.
const UNCERTAIN_CODES: &[&str] = &[
    // no (readable) answer
    "DispatchFailure",
    "TimeoutError",
    "ResponseError",
    "RequestFailed",
    // throttling
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    // the server failed
    "InternalServerException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceFailure",
    "ServerException",
    "RequestTimeout",
    "RequestTimeoutException",
    // Kubernetes (Status reasons of 429 and 5xx)
    "TooManyRequests",
    "Timeout",
    "ServerTimeout",
    "500",
    "502",
    "503",
    "504",
];

impl ActionError {
    /// This error with `note` added to what it says (in parentheses after the
    /// service's message or the failure's text); its kind and code stay, so its
    /// [`ErrorClass`] does too.
    #[must_use]
    pub fn with_note(self, note: &str) -> ActionError {
        match self {
            ActionError::Service {
                service,
                operation,
                resource,
                code,
                message,
            } => ActionError::Service {
                service,
                operation,
                resource,
                code,
                message: format!("{message} ({note})"),
            },
            ActionError::Failed(text) => ActionError::Failed(format!("{text} ({note})")),
            other => other,
        }
    }

    /// What this failure means for a retry (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            ActionError::InvalidInput(_)
            | ActionError::Unsupported { .. }
            | ActionError::NotOffered { .. }
            | ActionError::Bug(_) => ErrorClass::Permanent,
            ActionError::TimedOut(_) | ActionError::Interrupted => ErrorClass::Uncertain,
            ActionError::Service { code, .. } if UNCERTAIN_CODES.contains(&code.as_str()) => {
                ErrorClass::Uncertain
            }
            ActionError::Service { .. } | ActionError::Failed(_) => ErrorClass::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str) -> ActionError {
        ActionError::Service {
            service: "EMR",
            operation: "StartJobRun",
            resource: "pi-4".into(),
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn calls_that_may_have_taken_effect_are_uncertain() {
        for code in [
            "DispatchFailure",
            "TimeoutError",
            "ResponseError",
            "ThrottlingException",
            "TooManyRequestsException",
            "InternalServerException",
            "ServiceUnavailable",
            "TooManyRequests",
        ] {
            assert_eq!(service(code).class(), ErrorClass::Uncertain, "{code}");
        }
        assert_eq!(
            ActionError::TimedOut("5s".into()).class(),
            ErrorClass::Uncertain
        );
    }

    #[test]
    fn answers_that_say_no_are_rejections() {
        for code in [
            "ValidationException",
            "AccessDenied",
            "ResourceNotFoundException",
        ] {
            assert_eq!(service(code).class(), ErrorClass::Rejected, "{code}");
        }
        assert_eq!(
            ActionError::Failed("job FAILED".into()).class(),
            ErrorClass::Rejected
        );
    }

    #[test]
    fn invalid_input_and_unsupported_are_never_retried() {
        let unsupported = ActionError::Unsupported {
            action: "exec",
            target: "sim",
            reason: "r".into(),
        };
        for error in [ActionError::InvalidInput("x".into()), unsupported] {
            assert_eq!(error.class(), ErrorClass::Permanent);
            assert!(error.class().not_retried_because().is_some());
        }
    }
}
