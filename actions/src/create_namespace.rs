//! `create-namespace`: a Kubernetes namespace (walkthrough row 2: one per team).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, is_placeholder};
use runbook_backend::ActionError;

/// The action; [`CreateNamespaceInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct CreateNamespace;

/// Creates a Kubernetes namespace, or adopts it if it already exists.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateNamespaceInput {
    /// EKS cluster (default: the only cluster there is).
    #[serde(default)]
    cluster: Option<String>,
    /// Namespace name, e.g. `monthly-batch`: a DNS label (at most 63 lowercase letters,
    /// digits and `-`, starting and ending with a letter or digit).
    name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreateNamespaceOutput {
    /// Namespace name.
    name: String,
    /// Whether this step created it (false: it existed and was adopted).
    created: bool,
}

impl Action for CreateNamespace {
    type Input = CreateNamespaceInput;
    type Output = CreateNamespaceOutput;
    const NAME: &'static str = "create-namespace";
    const SUMMARY: &'static str = "Create (or adopt) a Kubernetes namespace.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: CreateNamespaceInput,
        ctx: &StepContext,
    ) -> Result<CreateNamespaceOutput, ActionError> {
        check_dns_label(&input.name)?;
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let created = ctx
            .target
            .kube
            .create_namespace(&cluster, &input.name)
            .await?;
        Ok(CreateNamespaceOutput {
            name: input.name,
            created,
        })
    }

    fn planned_calls(
        input: &CreateNamespaceInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        if !is_placeholder(&input.name) {
            check_dns_label(&input.name)?;
        }
        let (cluster, mut calls) =
            crate::cluster_lookup::planned(&plan.target, input.cluster.as_deref());
        calls.extend(
            plan.target
                .kube
                .planned_create_namespace(&cluster, &input.name),
        );
        Ok(calls)
    }
}

/// Kubernetes validates namespace names as RFC 1123 labels; saying so here beats the
/// API server's regular expression.
fn check_dns_label(name: &str) -> Result<(), ActionError> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ends_ok = !name.starts_with('-') && !name.ends_with('-');
    if name.is_empty() || name.len() > 63 || !chars_ok || !ends_ok {
        return Err(ActionError::InvalidInput(format!(
            "namespace name `{name}` is not valid: use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn creates_then_adopts() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let first = world
            .run("create-namespace", json!({"name": "monthly-batch"}))
            .await
            .expect("created");
        assert_eq!(first, json!({"name": "monthly-batch", "created": true}));
        let second = world
            .run(
                "create-namespace",
                json!({"cluster": "c", "name": "monthly-batch"}),
            )
            .await
            .expect("adopted");
        assert_eq!(second, json!({"name": "monthly-batch", "created": false}));
        assert!(
            world
                .sim
                .world()
                .cluster("c")
                .expect("c")
                .namespaces
                .contains("monthly-batch")
        );
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run("create-namespace", json!({"name": "Monthly"}))
            .await
            .expect_err("capital");
        assert!(
            err.to_string()
                .contains("namespace name `Monthly` is not valid"),
            "{err}"
        );

        let err = world
            .run("create-namespace", json!({"name": "a"}))
            .await
            .expect_err("no cluster yet");
        assert!(err.to_string().contains("create-cluster"), "{err}");

        let err = world
            .run("create-namespace", json!({"name": "a", "namespace": "a"}))
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `namespace`"),
            "{err}"
        );

        let err = world
            .run("create-namespace", json!({"cluster": "nope", "name": "a"}))
            .await
            .expect_err("no such cluster");
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
