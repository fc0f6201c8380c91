//! `enable-autoscaling`: a Karpenter node pool for the cluster (walkthrough rows 11, 21).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, Service};
use runbook_backend::ActionError;
use runbook_backend::AutoscalingRequest;

/// The action; [`EnableAutoscalingInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct EnableAutoscaling;

/// Lets the cluster add nodes when pods cannot be scheduled and remove them when they
/// are empty, as the walkthrough's Karpenter Provisioner does. Applying it again with
/// the same settings changes nothing; with other settings it replaces them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnableAutoscalingInput {
    /// EKS cluster (default: the only cluster there is).
    #[serde(default)]
    cluster: Option<String>,
    /// Name of the Karpenter NodePool/Provisioner.
    #[serde(default = "default_name")]
    name: String,
    /// Capacity types it may launch, `spot` and/or `on-demand` (Karpenter's
    /// `karpenter.sh/capacity-type` values).
    #[serde(default = "default_capacity_types")]
    capacity_types: Vec<String>,
    /// Instance types it may launch (empty: Karpenter's choice; on `sim`, any type the
    /// simulator knows).
    #[serde(default)]
    instance_types: Vec<String>,
    /// Labels on the nodes it launches, which pods can select (walkthrough:
    /// `intent: emr-job`).
    #[serde(default = "default_labels")]
    labels: BTreeMap<String, String>,
    /// Seconds an added node may stay empty before it is removed (walkthrough: 30).
    #[serde(default = "default_ttl")]
    ttl_seconds_after_empty: u64,
    /// The most vCPUs all the nodes it adds may have together (default: no limit).
    #[serde(default)]
    cpu_limit: Option<u32>,
}

fn default_name() -> String {
    "default".into()
}

fn default_capacity_types() -> Vec<String> {
    vec!["spot".into(), "on-demand".into()]
}

fn default_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("intent".to_string(), "emr-job".to_string())])
}

fn default_ttl() -> u64 {
    30
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EnableAutoscalingOutput {
    /// Name of the NodePool/Provisioner.
    name: String,
    /// Capacity types it may launch.
    capacity_types: Vec<String>,
    /// Seconds an added node may stay empty before it is removed.
    ttl_seconds_after_empty: u64,
}

impl Action for EnableAutoscaling {
    type Input = EnableAutoscalingInput;
    type Output = EnableAutoscalingOutput;
    const NAME: &'static str = "enable-autoscaling";
    const SUMMARY: &'static str =
        "Install a Karpenter NodePool/Provisioner: add nodes for pending pods, remove empty ones.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: EnableAutoscalingInput,
        ctx: &StepContext,
    ) -> Result<EnableAutoscalingOutput, ActionError> {
        check(&input)?;
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let request = AutoscalingRequest {
            name: input.name,
            capacity_types: input.capacity_types,
            instance_types: input.instance_types,
            labels: input.labels,
            ttl_seconds_after_empty: Some(input.ttl_seconds_after_empty),
            cpu_limit: input.cpu_limit,
        };
        ctx.target
            .kube
            .enable_autoscaling(&cluster, &request)
            .await?;
        Ok(EnableAutoscalingOutput {
            name: request.name,
            capacity_types: request.capacity_types,
            ttl_seconds_after_empty: input.ttl_seconds_after_empty,
        })
    }

    fn planned_calls(
        input: &EnableAutoscalingInput,
        _plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        check(input)?;
        let (_, mut calls) = crate::cluster_lookup::planned(input.cluster.as_deref());
        calls.push(PlannedCall::new(
            Service::Kubernetes,
            "server-side apply NodePool",
            json!({
                "apiVersion": "karpenter.sh/v1",
                "name": input.name,
                "capacityTypes": input.capacity_types,
                "instanceTypes": input.instance_types,
                "labels": input.labels,
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": format!("{}s", input.ttl_seconds_after_empty),
                "cpuLimit": input.cpu_limit,
            }),
        ));
        Ok(calls)
    }
}

/// Settings Karpenter would reject or that could never add a node.
fn check(input: &EnableAutoscalingInput) -> Result<(), ActionError> {
    if input.capacity_types.is_empty() {
        return Err(ActionError::InvalidInput(
            "`capacity_types` is empty: give `spot`, `on-demand` or both".into(),
        ));
    }
    if let Some(bad) = input
        .capacity_types
        .iter()
        .find(|c| !matches!(c.as_str(), "spot" | "on-demand"))
    {
        return Err(ActionError::InvalidInput(format!(
            "unknown capacity type `{bad}`: Karpenter knows `spot` and `on-demand`"
        )));
    }
    if input.cpu_limit == Some(0) {
        return Err(ActionError::InvalidInput(
            "`cpu_limit` of 0 would never add a node".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn installs_the_walkthrough_provisioner_by_default_and_again() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let out = world
            .run("enable-autoscaling", json!({}))
            .await
            .expect("enabled");
        assert_eq!(
            out,
            json!({"name": "default", "capacity_types": ["spot", "on-demand"], "ttl_seconds_after_empty": 30})
        );
        world
            .run("enable-autoscaling", json!({}))
            .await
            .expect("enabled again");
        let w = world.sim.world();
        let autoscaler = w
            .cluster("c")
            .expect("c")
            .autoscaler
            .as_ref()
            .expect("an autoscaler");
        assert_eq!(autoscaler.spec.name, "default");
        assert_eq!(autoscaler.spec.ttl_seconds_after_empty, Some(30));
        assert_eq!(
            autoscaler.spec.labels.get("intent").map(String::as_str),
            Some("emr-job")
        );
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run("enable-autoscaling", json!({"capacity_types": ["SPOT"]}))
            .await
            .expect_err("spelled the EKS way");
        assert!(
            err.to_string().contains("unknown capacity type `SPOT`"),
            "{err}"
        );
        let err = world
            .run("enable-autoscaling", json!({"ttlSecondsAfterEmpty": 30}))
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string()
                .contains("unknown field `ttlSecondsAfterEmpty`"),
            "{err}"
        );
    }
}
