//! SelfSubjectAccessReviews (`authorization.k8s.io/v1`), what `kubectl auth can-i`
//! and `runbook preflight` ask: on the simulated cluster the caller is its creator,
//! and so its admin (as EKS makes a cluster's creator), so every question is allowed.
//! The review is answered, not stored, as an API server answers it.

use http::{Response, StatusCode};
use serde_json::Value;

use crate::body::{self, Body};

/// Whether `group` and `plural` name the reviews (a POST there is a question).
pub(super) fn is_review(group: &str, plural: &str) -> bool {
    group == "authorization.k8s.io" && plural == "selfsubjectaccessreviews"
}

/// The review `body` asks (JSON, or protobuf as kubectl sends it), answered:
/// allowed. A body that is no review is a 400.
pub(super) fn answer(content_type: &str, body: &[u8]) -> Response<Body> {
    let read = if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        super::protobuf::decode("SelfSubjectAccessReview", body)
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())
    };
    let mut review = match read {
        Ok(review) => review,
        Err(e) => {
            return super::status::failure(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("the request body is not a SelfSubjectAccessReview: {e}"),
            );
        }
    };
    if !review.is_object() || review.pointer("/spec").is_none() {
        return super::status::failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "SelfSubjectAccessReview.authorization.k8s.io is invalid: spec: Required value",
        );
    }
    review["apiVersion"] = "authorization.k8s.io/v1".into();
    review["kind"] = "SelfSubjectAccessReview".into();
    if review.get("metadata").is_none() {
        review["metadata"] = serde_json::json!({});
    }
    review["status"] = serde_json::json!({
        "allowed": true,
        "reason": "the simulated caller created the simulated cluster: it is its admin",
    });
    body::json(StatusCode::CREATED, &review)
}
