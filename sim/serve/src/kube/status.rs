//! Errors as the API server gives them: a `Status` object with the HTTP code.

use http::{Response, StatusCode};
use serde_json::json;

use crate::body::{self, Body};

/// A failure `Status` (`reason` as the API spells it: `NotFound`, `BadRequest`,
/// `MethodNotAllowed`, `NotAcceptable`, ...).
pub(crate) fn failure(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    body::json(
        code,
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code.as_u16(),
        }),
    )
}

/// `kind "name" not found`, with the details kubectl prints from.
pub(crate) fn not_found(plural: &str, group: &str, name: &str) -> Response<Body> {
    let shown = if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    };
    body::json(
        StatusCode::NOT_FOUND,
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": format!("{shown} \"{name}\" not found"),
            "reason": "NotFound",
            "details": {"name": name, "group": group, "kind": plural},
            "code": 404,
        }),
    )
}

/// A path that names nothing served.
pub(crate) fn no_such_path() -> Response<Body> {
    failure(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
    )
}
