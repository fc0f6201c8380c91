//! A call `plan --target aws` lists, as a Task state's parameters: the same request the
//! action sends (its `planned_calls` detail, built by the helpers its `run` uses), with
//! the plan's placeholders for what only the run knows replaced by the execution's
//! values, and the API's member names as Step Functions' integrations spell them
//! (`roleArn` -> `RoleArn`). Policy documents are JSON text in the IAM API, so they
//! are written as text.

use serde_json::{Map, Value};

use super::runtime_value::{ACCOUNT_ID, PARTITION, REGION, escape_literal, marker};
use runbook_actions::planned_call::{
    ACCOUNT_PLACEHOLDER, PARTITION_PLACEHOLDER, REGION_PLACEHOLDER,
};

/// Members whose values are maps of user keys (tags, labels, Spark properties): their
/// keys are kept as written.
const USER_KEYED: [&str; 3] = ["tags", "labels", "properties"];
/// Members that are IAM policy documents: JSON text in the request.
const DOCUMENTS: [&str; 2] = ["assumeRolePolicyDocument", "policyDocument"];

/// Where a step's run-time values live in the execution: what replaces the plan's
/// placeholders.
pub(crate) struct Placeholders {
    /// The step's key as the plan names it (`roles`, or `roles[<index>]` inside a Map).
    pub step_key: String,
    /// The expression of the step's idempotency key.
    pub idempotency_key: String,
    /// The path of the step's cluster description (`DescribeCluster` kept by
    /// [`describe_cluster_selector`]), when a placeholder needs it.
    pub cluster: Option<String>,
}

/// The idempotency key of a step's execution: a SHA-256 of the execution's name and the
/// step's key (with the instance index inside a Map), 64 hex digits, what EMR's and
/// EKS's client tokens accept. A redriven execution keeps its name, so its calls repeat
/// their tokens, as a resumed run repeats its keys.
pub(crate) fn idempotency_key(step: &str, in_map: bool) -> String {
    if in_map {
        format!(
            "States.Hash(States.Format('{{}}/{}[{{}}]', $$.Execution.Name, $.index), 'SHA-256')",
            escape_literal(step)
        )
    } else {
        format!(
            "States.Hash(States.Format('{{}}/{}', $$.Execution.Name), 'SHA-256')",
            escape_literal(step)
        )
    }
}

/// `ResultSelector` of an `eks:describeCluster` whose OIDC issuer later calls read.
pub(crate) fn describe_cluster_selector() -> Value {
    serde_json::json!({
        "issuer.$": "$.Cluster.Identity.Oidc.Issuer",
        "issuer_parts.$": "States.StringSplit($.Cluster.Identity.Oidc.Issuer, '/')",
        "endpoint.$": "$.Cluster.Endpoint",
        "certificate_authority.$": "$.Cluster.CertificateAuthority.Data",
    })
}

/// The issuer without its `https://`, as IAM names the OIDC provider: its host is the
/// third part from the end of the issuer split at `/`, its id the last.
fn provider_expression(cluster: &str) -> String {
    let parts = format!("{cluster}.issuer_parts");
    format!(
        "States.Format('{{}}/id/{{}}', States.ArrayGetItem({parts}, States.MathAdd(States.ArrayLength({parts}), -3)), States.ArrayGetItem({parts}, States.MathAdd(States.ArrayLength({parts}), -1)))"
    )
}

/// Why a planned call cannot become a Task's parameters.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unmapped {
    #[error("the plan's value `{0}` has no equivalent the exported state machine can read")]
    Placeholder(String),
}

impl Placeholders {
    fn replace(&self, text: &str) -> Result<String, Unmapped> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            out.push_str(&rest[..start]);
            let end = closing(&rest[start..]).map_or(rest.len(), |e| start + e + 1);
            let placeholder = &rest[start..end];
            // Markers of run-time values are already the execution's.
            if placeholder.starts_with("<\u{1}") {
                out.push_str(placeholder);
            } else {
                out.push_str(&self.value_of(placeholder)?);
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn value_of(&self, placeholder: &str) -> Result<String, Unmapped> {
        let unknown = || Unmapped::Placeholder(placeholder.to_string());
        if placeholder == ACCOUNT_PLACEHOLDER {
            return Ok(marker(ACCOUNT_ID));
        }
        if placeholder == PARTITION_PLACEHOLDER {
            return Ok(marker(PARTITION));
        }
        if placeholder == REGION_PLACEHOLDER {
            return Ok(marker(REGION));
        }
        if placeholder == format!("<idempotency key of step {}>", self.step_key) {
            return Ok(marker(&self.idempotency_key));
        }
        // A lookup the plan shows around a run-time value that already is what the
        // lookup finds (`<id of virtual cluster <$.steps.vc.virtual_cluster_id>>`).
        for lookup in ["<id of virtual cluster ", "<ARN of role "] {
            if let Some(inner) = placeholder
                .strip_prefix(lookup)
                .and_then(|rest| rest.strip_suffix('>'))
                .filter(|inner| {
                    inner.starts_with("<\u{1}") && closing(inner) == Some(inner.len() - 1)
                })
            {
                return Ok(inner.to_string());
            }
        }
        // The base36 of a role name known per `for_each` instance, computed at export
        // time and selected per Map iteration (`role_suffix`).
        if placeholder.starts_with("<base36 of ") && self.step_key.ends_with("[<index>]") {
            return Ok(marker("$.role_suffix"));
        }
        let cluster = self.cluster.as_deref().ok_or_else(unknown)?;
        if placeholder.starts_with("<OIDC issuer of cluster ") {
            return Ok(marker(&format!("{cluster}.issuer")));
        }
        if placeholder.starts_with("<OIDC provider of cluster ") {
            return Ok(marker(&provider_expression(cluster)));
        }
        Err(unknown())
    }

    /// The request of a planned call's detail, as a Task's parameters (still holding
    /// markers; `runtime_value::parameters` writes them as `.$` entries).
    pub(crate) fn request(&self, detail: &Value) -> Result<Value, Unmapped> {
        self.convert(detail, true)
    }

    /// A Kubernetes object's fields from a planned call's detail: the API server's own
    /// camelCase names, kept as written (no renaming as for an AWS request).
    pub(crate) fn object(&self, detail: &Value) -> Result<Value, Unmapped> {
        self.convert(detail, false)
    }

    fn convert(&self, value: &Value, rename: bool) -> Result<Value, Unmapped> {
        Ok(match value {
            Value::String(text) => Value::String(self.replace(text)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.convert(item, rename))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, item) in map {
                    let converted = if DOCUMENTS.contains(&key.as_str()) {
                        // JSON text escapes the markers' control character; keep them.
                        let text = item.to_string().replace("<\\u0001", "<\u{1}");
                        Value::String(self.replace(&text)?)
                    } else {
                        self.convert(item, !USER_KEYED.contains(&key.as_str()))?
                    };
                    let name = if rename {
                        pascal_case(key)
                    } else {
                        key.clone()
                    };
                    out.insert(name, converted);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

/// The index of the `>` that closes the `<` `text` starts with (placeholders nest).
fn closing(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `roleArn` -> `RoleArn`: the member names of Step Functions' integrations.
pub(crate) fn pascal_case(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_become_the_executions_values_and_members_are_pascal_case() {
        let placeholders = Placeholders {
            step_key: "role".into(),
            idempotency_key: idempotency_key("role", false),
            cluster: Some("$.scratch.role_cluster".into()),
        };
        let detail = json!({
            "roleName": "r",
            "clientToken": "<idempotency key of step role>",
            "tags": {"karpenter.sh/discovery": "c"},
            "policyDocument": {"Principal": {"Federated": "arn:<partition>:iam::<account id>:oidc-provider/<OIDC provider of cluster c>"}},
        });
        let request = placeholders.request(&detail).expect("maps");
        assert_eq!(request["RoleName"], "r");
        assert_eq!(request["Tags"], json!({"karpenter.sh/discovery": "c"}));
        assert_eq!(
            request["ClientToken"],
            marker(&idempotency_key("role", false))
        );
        let document = request["PolicyDocument"].as_str().expect("text");
        assert!(document.starts_with("{\"Principal\""), "{document}");
        assert!(document.contains(&marker(PARTITION)), "{document}");
        assert!(
            document.contains("$.scratch.role_cluster.issuer_parts"),
            "{document}"
        );
        let unknown = placeholders.request(&json!({"id": "<id of the job run>"}));
        assert!(unknown.is_err());
    }
}
