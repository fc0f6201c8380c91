//! `enable-autoscaling`: a Karpenter node pool for the cluster (walkthrough rows 11, 21).

use crate::capacity_type::CapacityTypeInput;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::time::Duration;

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::deadline::Deadline;
use crate::karpenter_install;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls};
use runbook_backend::duration::{Humane, HumaneDuration};
use runbook_backend::events::CapacityType;
use runbook_backend::{ActionError, AutoscalingRequest, ObjectReadiness, WaitOutcome};

/// The action; [`EnableAutoscalingInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct EnableAutoscaling;

/// Lets the cluster add nodes when pods cannot be scheduled and remove them when they
/// are empty, as the walkthrough's Karpenter Provisioner does. On `aws` it needs
/// Karpenter v1 on the cluster (it fails at once, saying what to install, without
/// it), applies an EC2NodeClass (the node role, the AL2023 AMI, the subnets and
/// security groups tagged `karpenter.sh/discovery: <cluster>`) and a NodePool of amd64
/// Linux nodes, both named `name`, and waits until both are Ready. Applying it again
/// with the same settings changes nothing; with other settings it replaces them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnableAutoscalingInput {
    /// EKS cluster (default: the only cluster there is).
    #[serde(default)]
    cluster: Option<String>,
    /// Name of the Karpenter NodePool (and, on `aws`, of its EC2NodeClass); not
    /// `default`, which Karpenter's getting-started guide uses for its own.
    #[serde(default = "default_name")]
    name: String,
    /// Capacity types it may launch, `spot` and/or `on-demand` (Karpenter's
    /// `karpenter.sh/capacity-type` values; EKS's `SPOT`/`ON_DEMAND` are accepted too).
    #[serde(default = "default_capacity_types")]
    capacity_types: Vec<CapacityTypeInput>,
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
    /// `aws`: the IAM role (ARN or name) the nodes it launches run as (default: the
    /// role of the cluster's managed node group, which aws-auth already lets join).
    #[serde(default)]
    node_role: Option<String>,
    /// How long to wait for the NodePool and its EC2NodeClass to be Ready.
    #[serde(default = "default_wait_timeout")]
    wait_timeout: HumaneDuration,
}

fn default_wait_timeout() -> HumaneDuration {
    HumaneDuration(Duration::from_secs(5 * 60))
}

fn default_name() -> String {
    "runbook-emr".into()
}

fn default_capacity_types() -> Vec<CapacityTypeInput> {
    vec![
        CapacityTypeInput(CapacityType::Spot),
        CapacityTypeInput(CapacityType::OnDemand),
    ]
}

/// Karpenter's labels of the capacity types, as the NodePool and the outputs spell them.
fn karpenter_labels(types: &[CapacityTypeInput]) -> Vec<String> {
    types
        .iter()
        .map(|t| t.0.karpenter_label().to_string())
        .collect()
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
        let deadline = Deadline::start(ctx, input.wait_timeout.0);
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster.clone()).await?;
        karpenter_install::require_controller(ctx, &cluster).await?;
        let node_role = match input.node_role.clone() {
            Some(role) => Some(role),
            None => node_group_role(ctx, &cluster).await?,
        };
        let request = request_of(&input, node_role);
        let kube = &ctx.target.kube;
        kube.enable_autoscaling(&cluster, &request).await?;
        loop {
            let objects = kube.autoscaling_readiness(&cluster, &request.name).await?;
            let waiting: Vec<String> = objects
                .iter()
                .filter(|o| !o.ready)
                .map(ObjectReadiness::describe)
                .collect();
            if waiting.is_empty() {
                break;
            }
            let outcome = deadline.wait(ctx, || waiting.join("; ")).await?;
            if outcome == WaitOutcome::Idle {
                return Err(ActionError::Failed(format!(
                    "{}: nothing else is going to happen",
                    waiting.join("; ")
                )));
            }
        }
        Ok(EnableAutoscalingOutput {
            name: request.name,
            capacity_types: request.capacity_types,
            ttl_seconds_after_empty: input.ttl_seconds_after_empty,
        })
    }

    fn planned_calls(
        input: &EnableAutoscalingInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        check(input)?;
        let (cluster, mut calls) =
            crate::cluster_lookup::planned(&plan.target, input.cluster.as_deref());
        let target = &plan.target;
        calls.extend(karpenter_install::planned_controller_check(
            target, &cluster,
        ));
        let node_role = match &input.node_role {
            Some(role) => role.clone(),
            None => {
                let eks = &target.eks;
                let mut lookup = eks.planned_node_groups(&cluster);
                lookup.extend(
                    eks.planned_describe_node_group(&cluster, "<its first node group>")
                        .note("its nodeRole is the nodes' role"),
                );
                calls.extend(lookup.under("without `node_role`"));
                format!("<node role of cluster {cluster}'s node group>")
            }
        };
        let request = request_of(input, Some(node_role));
        let kube = &target.kube;
        calls.extend(kube.planned_enable_autoscaling(&cluster, &request));
        let until = format!(
            "repeated until both are Ready, for at most {}",
            Humane(input.wait_timeout.0)
        );
        calls.extend(
            kube.planned_autoscaling_readiness(&cluster, &request.name)
                .note(&until),
        );
        Ok(calls)
    }
}

/// The role of the cluster's first managed node group (by name), if it has one and
/// the target knows its role: EKS mapped it in aws-auth, so nodes that run as it join.
async fn node_group_role(ctx: &StepContext, cluster: &str) -> Result<Option<String>, ActionError> {
    let eks = &ctx.target.eks;
    let mut groups = eks.node_groups(cluster).await?;
    groups.sort();
    match groups.first() {
        Some(group) => Ok(eks
            .describe_node_group(cluster, group)
            .await?
            .and_then(|g| g.node_role)),
        None => Ok(None),
    }
}

/// What the target is asked to apply.
fn request_of(input: &EnableAutoscalingInput, node_role: Option<String>) -> AutoscalingRequest {
    AutoscalingRequest {
        name: input.name.clone(),
        capacity_types: karpenter_labels(&input.capacity_types),
        instance_types: input.instance_types.clone(),
        labels: input.labels.clone(),
        ttl_seconds_after_empty: Some(input.ttl_seconds_after_empty),
        cpu_limit: input.cpu_limit,
        node_role,
    }
}

/// Settings Karpenter would reject or that could never add a node.
fn check(input: &EnableAutoscalingInput) -> Result<(), ActionError> {
    if input.capacity_types.is_empty() {
        return Err(ActionError::InvalidInput(
            "`capacity_types` is empty: give `spot`, `on-demand` or both".into(),
        ));
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
            json!({"name": "runbook-emr", "capacity_types": ["spot", "on-demand"], "ttl_seconds_after_empty": 30})
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
        assert_eq!(autoscaler.spec.name, "runbook-emr");
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
            .run("enable-autoscaling", json!({"capacity_types": ["Spot"]}))
            .await
            .expect_err("neither Karpenter's nor EKS's spelling");
        assert!(
            err.to_string().contains("unknown capacity type `Spot`"),
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
