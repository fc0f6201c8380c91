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

/// EMR's `ValidationException` with the service's message.
pub(crate) fn validation(message: &str) -> ActionError {
    service("EMR", "ValidationException", message)
}

/// EMR's `ResourceNotFoundException` with the service's message.
pub(crate) fn not_found(message: &str) -> ActionError {
    service("EMR", "ResourceNotFoundException", message)
}

/// `InvalidParameterException` (EKS's word for a bad request) of `service`.
pub(crate) fn invalid_parameter(service_name: &'static str, message: &str) -> ActionError {
    service(service_name, "InvalidParameterException", message)
}

/// An error of type `code` from the served `service`.
pub(crate) fn service(service: &'static str, code: &str, message: &str) -> ActionError {
    ActionError::Service {
        service,
        operation: "served",
        resource: String::new(),
        code: code.into(),
        message: message.into(),
    }
}

/// A rest-json request's body as JSON (an empty body, as reads send, is `{}`), or why
/// it is not JSON.
pub(crate) fn request_body(body: &[u8]) -> Result<serde_json::Value, String> {
    if body.is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// The services' answer to a request whose body is not JSON.
pub(crate) fn not_json(why: &str) -> Response<Body> {
    response(
        StatusCode::BAD_REQUEST,
        "SerializationException",
        &format!("the request body is not JSON: {why}"),
    )
}
