//! Kubernetes and EKS errors as the actions report them: which call failed and the
//! server's own reason (`NotFound`, `AlreadyExists`, `Forbidden`, `Conflict`, ...), so
//! adoption logic can match on it and a user can read what the API server said.

use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use runbook_backend::ActionError;

/// The Status `reason` of a failed API call (`NotFound`, ...), if the server answered.
pub(super) fn reason(error: &::kube::Error) -> Option<&str> {
    match error {
        ::kube::Error::Api(status) => Some(status.reason.as_str()),
        _ => None,
    }
}

/// Whether the API server answered `reason` (e.g. `NotFound`).
pub(super) fn is(error: &::kube::Error, wanted: &str) -> bool {
    reason(error) == Some(wanted)
}

/// A kube-rs error as an [`ActionError::Service`] of the Kubernetes API.
pub(super) fn kube_error(
    operation: &'static str,
    resource: &str,
    error: &::kube::Error,
) -> ActionError {
    let (code, message) = match error {
        ::kube::Error::Api(status) => {
            let code = if status.reason.is_empty() {
                // Some proxies answer without a Status body: the HTTP code is all there is.
                status.code.to_string()
            } else {
                status.reason.clone()
            };
            (code, status.message.clone())
        }
        ::kube::Error::Discovery(e) => ("NotFound".to_string(), e.to_string()),
        other => ("RequestFailed".to_string(), error_chain(other)),
    };
    ActionError::Service {
        service: "Kubernetes",
        operation,
        resource: resource.to_string(),
        code,
        message,
    }
}

/// An aws-sdk-eks error as an [`ActionError::Service`] of EKS: the modeled error code
/// when the service answered, otherwise what kept the request from reaching it.
pub(super) fn eks_error<E, R>(
    operation: &'static str,
    resource: &str,
    error: SdkError<E, R>,
) -> ActionError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let (code, message) = match error.as_service_error() {
        Some(service) => (
            service.code().unwrap_or("Unknown").to_string(),
            service
                .message()
                .map_or_else(|| error_chain(service), ToString::to_string),
        ),
        None => (
            "RequestFailed".to_string(),
            DisplayErrorContext(&error).to_string(),
        ),
    };
    ActionError::Service {
        service: "EKS",
        operation,
        resource: resource.to_string(),
        code,
        message,
    }
}

/// An error and its sources on one line (`failed to connect: tls: ...`).
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}
