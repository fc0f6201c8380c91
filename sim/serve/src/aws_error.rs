//! Errors as the AWS rest-json services give them: the error's type in the
//! `x-amzn-errortype` header and a `{"message": ...}` body, with the HTTP status the
//! service uses for it (the SDKs read the type from the header).

use http::{HeaderValue, Response, StatusCode};
use runbook_backend::ActionError;
use serde_json::json;

use crate::body::{self, Body};

/// An error response of type `code`.
pub(crate) fn response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let mut response = body::json(status, &json!({"message": message}));
    if let Ok(value) = HeaderValue::from_str(code) {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}

/// The answer for a failed call of the simulated service.
pub(crate) fn from_action(error: &ActionError) -> Response<Body> {
    match error {
        ActionError::Service { code, message, .. } => {
            let status = match code.as_str() {
                "ResourceNotFoundException" => StatusCode::NOT_FOUND,
                "InternalServerException" => StatusCode::INTERNAL_SERVER_ERROR,
                "ConflictException" | "ResourceInUseException" => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            response(status, code, message)
        }
        other => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            &other.to_string(),
        ),
    }
}

/// `ValidationException` with the service's message.
pub(crate) fn validation(message: &str) -> ActionError {
    service_error("ValidationException", message)
}

/// `ResourceNotFoundException` with the service's message.
pub(crate) fn not_found(message: &str) -> ActionError {
    service_error("ResourceNotFoundException", message)
}

fn service_error(code: &str, message: &str) -> ActionError {
    ActionError::Service {
        service: "EMR",
        operation: "served",
        resource: String::new(),
        code: code.into(),
        message: message.into(),
    }
}
