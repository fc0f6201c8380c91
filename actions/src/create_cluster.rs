//! `create-cluster`: an EKS cluster with one managed node group, waited until it is
//! ACTIVE and its nodes are Ready (walkthrough row 1).

use crate::capacity_type::CapacityTypeInput;
use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::deadline::Deadline;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls, is_placeholder};
use runbook_backend::ActionError;
use runbook_backend::duration::HumaneDuration;
use runbook_backend::{ClusterInfo, ClusterRequest, NodeGroupInfo, NodeGroupRequest, WaitOutcome};

/// The action; [`CreateClusterInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct CreateCluster;

/// Creates an EKS cluster and its managed node group, or adopts the cluster of that
/// name if it already exists (a re-run, or a resumed run whose first attempt got as far
/// as CreateCluster), then waits until it is ACTIVE and the node group's nodes are
/// Ready, so the next steps can schedule pods at once.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateClusterInput {
    /// Cluster name (walkthrough: `eks-emr-cluster`); 1-100 letters, digits, `-` and
    /// `_`, starting with a letter or digit.
    name: String,
    /// Kubernetes version of the control plane: one EKS offers (1.35, in standard
    /// support until 2027-03-27, is the default; the walkthrough's 1.22 is retired).
    #[serde(default = "default_version")]
    version: String,
    /// The managed node group created with the cluster (walkthrough: `<name>-ng`, one
    /// `m5.2xlarge`, 1 to 10 nodes).
    #[serde(default)]
    nodegroup: NodeGroupInput,
    /// Subnets of the cluster's VPC (at least two Availability Zones on AWS). Ignored
    /// on `sim`, which places nodes in two zones of the region.
    #[serde(default)]
    subnet_ids: Vec<String>,
    /// IAM role the EKS control plane assumes (`aws`).
    #[serde(default)]
    role_arn: Option<String>,
    /// IAM role of the node group's instances (`aws`).
    #[serde(default)]
    node_role_arn: Option<String>,
    /// Tags on the cluster, e.g. `karpenter.sh/discovery: eks-emr-cluster` so Karpenter
    /// finds its subnets and security groups.
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// How long to wait for the cluster to be ACTIVE and its nodes Ready (10-15 minutes
    /// on AWS; virtual time on `sim`).
    #[serde(default = "default_wait_timeout")]
    wait_timeout: HumaneDuration,
}

/// The managed node group of `create-cluster`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeGroupInput {
    /// Node group name (default: `<cluster name>-ng`, as eksctl names it in the
    /// walkthrough).
    #[serde(default)]
    name: Option<String>,
    /// EC2 instance type of the nodes.
    #[serde(default = "default_instance_type")]
    instance_type: String,
    /// Nodes to run now.
    #[serde(default = "one")]
    desired_size: u32,
    /// Fewest nodes the group may scale to.
    #[serde(default = "one")]
    min_size: u32,
    /// Most nodes the group may scale to.
    #[serde(default = "ten")]
    max_size: u32,
    /// `on-demand` or `spot` (EKS's `ON_DEMAND` or `SPOT` is accepted too). The
    /// walkthrough's pod templates pin drivers to
    /// `eks.amazonaws.com/capacityType: ON_DEMAND`, so that is the default.
    #[serde(default)]
    capacity_type: CapacityTypeInput,
    /// Extra Kubernetes labels on the nodes.
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

impl Default for NodeGroupInput {
    fn default() -> Self {
        NodeGroupInput {
            name: None,
            instance_type: default_instance_type(),
            desired_size: 1,
            min_size: 1,
            max_size: 10,
            capacity_type: CapacityTypeInput::default(),
            labels: BTreeMap::new(),
        }
    }
}

/// The newest version in EKS standard support (the simulator's
/// `eks_versions::DEFAULT`; a test keeps the two equal).
fn default_version() -> String {
    "1.35".into()
}

fn default_instance_type() -> String {
    "m5.2xlarge".into()
}

fn one() -> u32 {
    1
}

fn ten() -> u32 {
    10
}

fn default_wait_timeout() -> HumaneDuration {
    HumaneDuration(Duration::from_secs(30 * 60))
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreateClusterOutput {
    /// Cluster name.
    name: String,
    /// Cluster ARN (`arn:aws:eks:REGION:ACCOUNT:cluster/NAME`).
    arn: String,
    /// Kubernetes API endpoint.
    endpoint: String,
    /// OIDC issuer URL, which IAM roles for service accounts trust.
    oidc_issuer: String,
    /// `ACTIVE`.
    status: String,
    /// Kubernetes version of the control plane.
    version: String,
    /// Whether the cluster already existed and was adopted rather than created.
    adopted: bool,
}

impl Action for CreateCluster {
    type Input = CreateClusterInput;
    type Output = CreateClusterOutput;
    const NAME: &'static str = "create-cluster";
    const SUMMARY: &'static str = "Create (or adopt) an EKS cluster with a managed node group and wait until its nodes are Ready.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: CreateClusterInput,
        ctx: &StepContext,
    ) -> Result<CreateClusterOutput, ActionError> {
        let request = request_from(input.name.clone(), &input, true)?;
        let eks = &ctx.target.eks;
        let deadline = Deadline::start(ctx, input.wait_timeout.0);

        let (mut cluster, adopted) = match eks.describe_cluster(&request.name).await? {
            Some(existing) if existing.status == "DELETING" => {
                return Err(ActionError::Failed(format!(
                    "cluster `{}` is being deleted; wait for `delete-cluster` to finish before creating it again",
                    request.name
                )));
            }
            Some(existing) => {
                ctx.say(&format!(
                    "adopting existing cluster `{}` ({})",
                    existing.name, existing.status
                ));
                (existing, true)
            }
            None => match eks.create_cluster(&request, &ctx.idempotency_key).await {
                Ok(created) => {
                    ctx.say(&format!(
                        "creating cluster `{}` (takes 10-15 minutes on AWS)",
                        created.name
                    ));
                    (created, false)
                }
                // Somebody created it between our look and our create: adopt it.
                Err(ActionError::Service { code, .. }) if code == "ResourceInUseException" => {
                    let existing = eks.describe_cluster(&request.name).await?.ok_or_else(|| {
                        ActionError::Failed(format!(
                            "cluster `{}` was reported in use but cannot be described",
                            request.name
                        ))
                    })?;
                    (existing, true)
                }
                Err(e) => return Err(e),
            },
        };

        // Wait for the control plane.
        loop {
            match cluster.status.as_str() {
                "ACTIVE" => break,
                "CREATING" | "UPDATING" | "PENDING" => {}
                other => {
                    return Err(ActionError::Failed(format!(
                        "cluster `{}` is {other}, not ACTIVE; it cannot be used",
                        cluster.name
                    )));
                }
            }
            let outcome = deadline
                .wait(ctx, || {
                    format!("cluster `{}` is still {}", cluster.name, cluster.status)
                })
                .await?;
            cluster = crate::patient::read(ctx, deadline.at_ms(), || {
                eks.describe_cluster(&request.name)
            })
            .await?
            .ok_or_else(|| {
                ActionError::Failed(format!(
                    "cluster `{}` disappeared while waiting for it to be ACTIVE",
                    request.name
                ))
            })?;
            if outcome == WaitOutcome::Idle && cluster.status != "ACTIVE" {
                return Err(ActionError::Failed(format!(
                    "cluster `{}` is stuck in {}: nothing else is going to happen",
                    cluster.name, cluster.status
                )));
            }
        }

        eks.complete_cluster(&cluster, &request, &ctx.idempotency_key)
            .await?;

        // Wait for the node group's nodes, so that later steps find somewhere to run.
        // EKS's own view of the node group comes first: a node group that failed (no
        // egress from its subnets, no capacity, a role without a policy) never brings
        // its nodes, and its health issues say why.
        let wanted = request.nodegroup.desired_size as usize;
        let group = &request.nodegroup.name;
        loop {
            let status = crate::patient::read(ctx, deadline.at_ms(), || {
                eks.describe_node_group(&cluster.name, group)
            })
            .await?;
            let status = node_group_usable(&cluster.name, group, status)?;
            let ready =
                crate::patient::read(ctx, deadline.at_ms(), || ready_nodes(ctx, &cluster.name))
                    .await?;
            if ready >= wanted {
                break;
            }
            let outcome = deadline
                .wait(ctx, || {
                    format!(
                        "cluster `{}` is ACTIVE but only {ready} of {wanted} nodes are Ready (node group `{group}` is {status})",
                        cluster.name
                    )
                })
                .await?;
            if outcome == WaitOutcome::Idle {
                let ready = ready_nodes(ctx, &cluster.name).await?;
                if ready < wanted {
                    return Err(ActionError::Failed(format!(
                        "cluster `{}` is ACTIVE but only {ready} of {wanted} nodes are Ready, and no more are coming",
                        cluster.name
                    )));
                }
            }
        }

        Ok(output(cluster, adopted))
    }

    fn planned_calls(
        input: &CreateClusterInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        // A plan may hold placeholders where the names go; the rest is checked.
        let names_known = !is_placeholder(&input.name)
            && !input.nodegroup.name.as_deref().is_some_and(is_placeholder);
        let request = request_from(input.name.clone(), input, names_known)?;
        let ng = &request.nodegroup;
        let token = plan.idempotency_key();
        let eks = &plan.target.eks;
        let mut calls = eks.planned_describe_cluster(&request.name);
        calls.extend(
            eks.planned_create_cluster(&request, &token)
                .under("if the cluster does not exist (an existing one is adopted)"),
        );
        calls.extend(
            eks.planned_describe_cluster(&request.name)
                .note("repeated until the cluster is ACTIVE"),
        );
        calls.extend(eks.planned_complete_cluster(&request, &token));
        calls.extend(
            eks.planned_describe_node_group(&request.name, &ng.name)
                .note("repeated while waiting; CREATE_FAILED or DEGRADED fails the step with EKS's health issues"),
        );
        let ready = format!(
            "repeated until {} Ready",
            match ng.desired_size {
                1 => "1 node is".to_string(),
                n => format!("{n} nodes are"),
            }
        );
        calls.extend(plan.target.kube.planned_nodes(&request.name).note(&ready));
        Ok(calls)
    }
}

/// The target-neutral request, after checking what EKS would reject anyway (so the
/// mistake is reported before a 15-minute wait, with the field that is wrong). Names
/// are checked when `names_known`.
fn request_from(
    name: String,
    input: &CreateClusterInput,
    names_known: bool,
) -> Result<ClusterRequest, ActionError> {
    let ng = &input.nodegroup;
    let ng_name = ng.name.clone().unwrap_or_else(|| format!("{name}-ng"));
    if names_known {
        check_name("cluster name", &name, 100)?;
        check_name("node group name", &ng_name, 63)?;
    }
    if ng.max_size == 0 {
        return Err(ActionError::InvalidInput(
            "`nodegroup.max_size` must be at least 1".into(),
        ));
    }
    if !(ng.min_size <= ng.desired_size && ng.desired_size <= ng.max_size) {
        return Err(ActionError::InvalidInput(format!(
            "node group sizes must satisfy min_size <= desired_size <= max_size (got {} <= {} <= {})",
            ng.min_size, ng.desired_size, ng.max_size
        )));
    }
    if ng.instance_type.trim().is_empty() {
        return Err(ActionError::InvalidInput(
            "`nodegroup.instance_type` is empty".into(),
        ));
    }
    Ok(ClusterRequest {
        name,
        version: input.version.clone(),
        nodegroup: NodeGroupRequest {
            name: ng_name,
            instance_type: ng.instance_type.clone(),
            desired_size: ng.desired_size,
            min_size: ng.min_size,
            max_size: ng.max_size,
            capacity_type: ng.capacity_type.0.eks_label().to_string(),
            labels: ng.labels.clone(),
            node_role_arn: input.node_role_arn.clone(),
        },
        subnet_ids: input.subnet_ids.clone(),
        role_arn: input.role_arn.clone(),
        tags: input.tags.clone(),
    })
}

/// EKS names: `^[0-9A-Za-z][A-Za-z0-9\-_]*`, at most `max` characters.
fn check_name(what: &str, name: &str, max: usize) -> Result<(), ActionError> {
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !starts_ok || !rest_ok || name.len() > max {
        return Err(ActionError::InvalidInput(format!(
            "{what} `{name}` is not valid: use 1-{max} letters, digits, `-` and `_`, starting with a letter or digit"
        )));
    }
    Ok(())
}

/// The node group's status, or why waiting for its nodes is pointless: it failed,
/// is degraded, is going away, or does not exist.
fn node_group_usable(
    cluster: &str,
    group: &str,
    info: Option<NodeGroupInfo>,
) -> Result<String, ActionError> {
    let Some(info) = info else {
        return Err(ActionError::Failed(format!(
            "node group `{group}` of cluster `{cluster}` does not exist (deleted meanwhile?)"
        )));
    };
    match info.status.as_str() {
        "CREATE_FAILED" | "DEGRADED" | "DELETING" | "DELETE_FAILED" => {
            let issues = if info.health_issues.is_empty() {
                "EKS reports no health issue".to_string()
            } else {
                info.health_issues.join("; ")
            };
            Err(ActionError::Failed(format!(
                "node group `{group}` of cluster `{cluster}` is {}: {issues}",
                info.status
            )))
        }
        _ => Ok(info.status),
    }
}

async fn ready_nodes(ctx: &StepContext, cluster: &str) -> Result<usize, ActionError> {
    Ok(ctx
        .target
        .kube
        .nodes(cluster)
        .await?
        .iter()
        .filter(|n| n.ready)
        .count())
}

fn output(cluster: ClusterInfo, adopted: bool) -> CreateClusterOutput {
    CreateClusterOutput {
        name: cluster.name,
        arn: cluster.arn,
        endpoint: cluster.endpoint,
        oidc_issuer: cluster.oidc_issuer,
        status: cluster.status,
        version: cluster.version,
        adopted,
    }
}

#[cfg(test)]
mod tests {
    use std::ops::RangeInclusive;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;
    use serde_json::json;

    use crate::test_support::SimWorld;
    use runbook_backend::{
        ActionError, ClusterInfo, ClusterRequest, Eks, NodeGroupInfo, TargetResult,
    };

    /// The simulator's EKS, unlucky the way the real one can be: the DescribeCluster
    /// calls numbered in `throttled` (from 1) are throttled, and DescribeNodegroup
    /// answers `node_group` when it is set.
    struct UnluckyEks {
        inner: Arc<dyn Eks>,
        describes: AtomicU32,
        throttled: RangeInclusive<u32>,
        node_group: Option<NodeGroupInfo>,
    }

    #[async_trait]
    impl Eks for UnluckyEks {
        async fn describe_cluster(&self, name: &str) -> TargetResult<Option<ClusterInfo>> {
            let call = self.describes.fetch_add(1, Ordering::SeqCst) + 1;
            if self.throttled.contains(&call) {
                return Err(ActionError::Service {
                    service: "EKS",
                    operation: "DescribeCluster",
                    resource: name.to_string(),
                    code: "ThrottlingException".into(),
                    message: "Rate exceeded".into(),
                });
            }
            self.inner.describe_cluster(name).await
        }
        async fn create_cluster(
            &self,
            request: &ClusterRequest,
            token: &str,
        ) -> TargetResult<ClusterInfo> {
            self.inner.create_cluster(request, token).await
        }
        async fn complete_cluster(
            &self,
            cluster: &ClusterInfo,
            request: &ClusterRequest,
            token: &str,
        ) -> TargetResult<()> {
            self.inner.complete_cluster(cluster, request, token).await
        }
        async fn describe_node_group(
            &self,
            cluster: &str,
            name: &str,
        ) -> TargetResult<Option<NodeGroupInfo>> {
            match &self.node_group {
                Some(info) => Ok(Some(info.clone())),
                None => self.inner.describe_node_group(cluster, name).await,
            }
        }
    }

    /// Runs create-cluster `input` on `world` with EKS replaced by `eks`.
    async fn create_with(
        world: &SimWorld,
        eks: UnluckyEks,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, ActionError> {
        let mut target = world.sim.target();
        target.eks = Arc::new(eks);
        let ctx = world.ctx_on(target, "cluster", "rb-test-token");
        crate::find("create-cluster")
            .expect("action")
            .run(input, &ctx)
            .await
    }

    fn unlucky(world: &SimWorld, throttled: RangeInclusive<u32>) -> UnluckyEks {
        UnluckyEks {
            inner: world.sim.target().eks,
            describes: AtomicU32::new(0),
            throttled,
            node_group: None,
        }
    }

    /// Throttling while the control plane comes up (past what the SDK retries) does
    /// not end a 15-minute wait: the wait reads again after a pause.
    #[tokio::test]
    async fn throttled_reads_during_the_wait_are_retried() {
        let world = SimWorld::new();
        let eks = unlucky(&world, 2..=6);
        let out = create_with(&world, eks, json!({"name": "c"}))
            .await
            .expect("created despite throttling");
        assert_eq!(out["status"], "ACTIVE");
    }

    /// Throttling that outlasts the step's budget fails with the service's error and
    /// how long it went on.
    #[tokio::test]
    async fn throttling_past_the_deadline_fails_with_the_last_error() {
        let world = SimWorld::new();
        let eks = unlucky(&world, 2..=u32::MAX);
        let err = create_with(&world, eks, json!({"name": "c", "wait_timeout": "20m"}))
            .await
            .expect_err("throttled for ever");
        let message = err.to_string();
        assert!(
            message.starts_with(
                "EKS DescribeCluster of `c` failed: ThrottlingException: Rate exceeded (failed "
            ),
            "{message}"
        );
        assert!(
            message.contains("retried until the step's timeout"),
            "{message}"
        );
        assert!(
            world.now_ms() <= 20 * 60 * 1000,
            "gave up within the budget"
        );
    }

    /// A node group EKS reports as failed ends the wait at once, quoting EKS's health
    /// issues, instead of counting Ready nodes for 30 minutes.
    #[tokio::test]
    async fn a_failed_node_group_fails_at_once_with_its_health_issues() {
        let world = SimWorld::new();
        let mut eks = unlucky(&world, 0..=0);
        eks.node_group = Some(NodeGroupInfo {
            name: "c-ng".into(),
            status: "CREATE_FAILED".into(),
            health_issues: vec![
                "NodeCreationFailure: Instances failed to join the kubernetes cluster (i-0abc)"
                    .into(),
            ],
            node_role: None,
        });
        let err = create_with(&world, eks, json!({"name": "c"}))
            .await
            .expect_err("the node group failed");
        assert_eq!(
            err.to_string(),
            "node group `c-ng` of cluster `c` is CREATE_FAILED: NodeCreationFailure: Instances failed to join the kubernetes cluster (i-0abc)"
        );
        let minutes = world.now_ms() / 60_000;
        assert!(
            minutes < 15,
            "failed once the cluster was ACTIVE, not after the 30m budget ({minutes}m)"
        );
    }

    #[test]
    fn the_default_version_is_the_simulated_eks_default() {
        assert_eq!(super::default_version(), runbook_sim::eks_versions::DEFAULT);
    }

    #[tokio::test]
    async fn creates_then_adopts_and_waits_for_ready_nodes() {
        let world = SimWorld::new();
        let first = world
            .run(
                "create-cluster",
                json!({"name": "eks-emr-cluster", "nodegroup": {"desired_size": 2}}),
            )
            .await
            .expect("created");
        assert_eq!(first["status"], "ACTIVE");
        assert_eq!(first["adopted"], false);
        assert_eq!(first["version"], "1.35");
        assert_eq!(
            first["arn"],
            "arn:aws:eks:us-east-2:123456789012:cluster/eks-emr-cluster"
        );
        assert!(
            first["oidc_issuer"]
                .as_str()
                .is_some_and(|i| i.starts_with("https://oidc.eks.us-east-2.amazonaws.com/id/"))
        );
        {
            let w = world.sim.world();
            let nodes = w.nodes("eks-emr-cluster").expect("cluster");
            assert_eq!(nodes.iter().filter(|n| n.ready).count(), 2);
            let cluster = w.cluster("eks-emr-cluster").expect("cluster");
            let ng = cluster
                .nodegroups
                .get("eks-emr-cluster-ng")
                .expect("node group named <cluster>-ng");
            assert_eq!(ng.spec.instance_type, "m5.2xlarge");
            assert_eq!((ng.spec.min_size, ng.spec.max_size), (1, 10));
        }

        let second = world
            .run(
                "create-cluster",
                json!({"name": "eks-emr-cluster", "nodegroup": {"desired_size": 2}}),
            )
            .await
            .expect("adopted");
        assert_eq!(second["adopted"], true);
        assert_eq!(second["arn"], first["arn"]);
        assert_eq!(second["oidc_issuer"], first["oidc_issuer"]);
        assert_eq!(world.sim.world().clusters().count(), 1);
    }

    #[tokio::test]
    async fn times_out_saying_the_status_it_is_stuck_in() {
        let world = SimWorld::new();
        let err = world
            .run("create-cluster", json!({"name": "c", "wait_timeout": "1m"}))
            .await
            .expect_err("EKS takes ten minutes");
        let message = err.to_string();
        assert!(message.contains("still CREATING after 1m"), "{message}");
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run(
                "create-cluster",
                json!({"name": "c", "nodegroup": {"desired_size": 11}}),
            )
            .await
            .expect_err("desired above max");
        assert!(
            err.to_string()
                .contains("min_size <= desired_size <= max_size"),
            "{err}"
        );

        let err = world
            .run("create-cluster", json!({"name": "no spaces"}))
            .await
            .expect_err("bad name");
        assert!(
            err.to_string()
                .contains("cluster name `no spaces` is not valid"),
            "{err}"
        );

        let err = world
            .run(
                "create-cluster",
                json!({"name": "c", "nodegroup": {"capacity_type": "Spot"}}),
            )
            .await
            .expect_err("neither spelling");
        assert!(
            err.to_string().contains("use `on-demand` or `spot`"),
            "{err}"
        );

        let err = world
            .run("create-cluster", json!({"name": "c", "node_group": {}}))
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `node_group`"),
            "{err}"
        );
        assert_eq!(world.sim.world().clusters().count(), 0);
    }
}
