//! What `runbook plan --target aws` shows under each step: the AWS and Kubernetes
//! operations the step's action would call, with the parameters rendered from its
//! input, computed without calling anything.
//!
//! Each action lists its own calls (`Action::planned_calls`) next to its `run`, from
//! the same helpers `run` uses (request builders, trust statements, selectors), so the
//! plan and the run cannot drift apart silently: a change to what `run` sends shows in
//! the helper both use. Values only known at run time (a cluster's OIDC issuer, the
//! account of the credentials, the step's idempotency key) are shown as `<...>`
//! placeholders, like the step outputs `plan` already shows that way.

use std::fmt;

pub use runbook_backend::calls::Service;
use serde::Serialize;
use serde_json::Value;

/// One operation a step would call on the `aws` target, in the order it would call it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedCall {
    pub service: Service,
    /// The API operation (`CreateCluster`), or for Kubernetes the verb and kind
    /// (`create Namespace`, `server-side apply NodePool`).
    pub operation: String,
    /// The parameters that matter, named as the API names them, rendered from the
    /// step's input (placeholders where a value is only known at run time).
    pub detail: Value,
    /// The condition under which the call is made (`if the cluster does not exist`);
    /// absent for calls that are always made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// How the call is repeated or what it is for (`repeated until ACTIVE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl PlannedCall {
    pub fn new(service: Service, operation: impl Into<String>, detail: Value) -> Self {
        PlannedCall {
            service,
            operation: operation.into(),
            detail,
            when: None,
            note: None,
        }
    }

    /// Marks the call as conditional.
    #[must_use]
    pub fn when(mut self, condition: impl Into<String>) -> Self {
        self.when = Some(condition.into());
        self
    }

    /// Says how the call is repeated or why it is made.
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// One line for people: `EKS CreateCluster name=eks-emr-cluster version=1.35 ...
/// [if the cluster does not exist]`. Nested parameters are compact JSON.
impl fmt::Display for PlannedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.service, self.operation)?;
        match &self.detail {
            Value::Object(map) => {
                for (key, value) in map {
                    write!(f, " {key}={}", inline(value))?;
                }
            }
            Value::Null => {}
            other => write!(f, " {}", inline(other))?,
        }
        let remarks: Vec<&str> = [self.when.as_deref(), self.note.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !remarks.is_empty() {
            write!(f, " [{}]", remarks.join("; "))?;
        }
        Ok(())
    }
}

/// A parameter value on one line: plain text unless it needs quotes to stay one word.
fn inline(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() || s.chars().any(char::is_whitespace) => format!("{s:?}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a step's plan knows besides its input: which step instance it is, for the
/// placeholders of values the run decides.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The step instance: `cluster`, or `virtual_clusters[3]` for a `for_each` instance.
    pub step_key: String,
}

/// The AWS account of the credentials, which the `aws` target asks for when the run
/// starts; unknown to a plan, which calls nothing.
pub const ACCOUNT_PLACEHOLDER: &str = "<account id>";
/// The ARN partition of the account (`aws`, `aws-cn`, ...), from the caller's ARN.
pub const PARTITION_PLACEHOLDER: &str = "<partition>";
/// The region of the AWS configuration the run would use.
pub const REGION_PLACEHOLDER: &str = "<region>";

impl PlanContext {
    pub fn new(step_key: impl Into<String>) -> Self {
        PlanContext {
            step_key: step_key.into(),
        }
    }

    /// The step's idempotency key is made when the step starts (and recorded before
    /// any call), so a plan can only name it.
    pub fn idempotency_key(&self) -> String {
        format!("<idempotency key of step {}>", self.step_key)
    }
}

/// Whether a rendered value still holds a run-time placeholder (`<steps.x.outputs.y>`).
/// No AWS or Kubernetes name may contain `<`, so a `<` can only come from one.
pub(crate) fn is_placeholder(text: &str) -> bool {
    text.contains('<')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_call_reads_as_one_line() {
        let call = PlannedCall::new(
            Service::Eks,
            "CreateCluster",
            json!({"name": "c", "version": "1.30", "subnetIds": ["a", "b"], "note": "two words"}),
        )
        .when("if the cluster does not exist")
        .note("returns at once");
        assert_eq!(
            call.to_string(),
            r#"EKS CreateCluster name=c version=1.30 subnetIds=["a","b"] note="two words" [if the cluster does not exist; returns at once]"#
        );
        let bare = PlannedCall::new(Service::Kubernetes, "list Node", Value::Null);
        assert_eq!(bare.to_string(), "Kubernetes list Node");
    }

    #[test]
    fn the_json_names_the_service_as_aws_does() {
        let call = PlannedCall::new(Service::EmrOnEks, "StartJobRun", json!({}));
        assert_eq!(
            serde_json::to_value(&call).expect("json"),
            json!({"service": "EMR on EKS", "operation": "StartJobRun", "detail": {}})
        );
    }
}
