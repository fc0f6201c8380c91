//! Amazon EKS through aws-sdk-eks: the cluster, its managed node group, and the IAM
//! OIDC provider that IRSA (the job roles' trust) needs.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eks::types::{
    AuthenticationMode, CapacityTypes, ClusterVersionInformation, CreateAccessConfigRequest,
    NodegroupScalingConfig, VersionStatus, VpcConfigRequest,
};

use serde_json::json;

use super::AwsConfig;
use super::error::{code_of, service_error};
use crate::eks_roles::{delete_role, ensure_role, planned_delete_role, planned_ensure_role};
use crate::network::{
    CLUSTER_TAG, DISCOVERY_TAG, delete_network, ensure_network, find_network,
    planned_delete_network, planned_ensure_network, planned_find_network,
};
use crate::propagation::retry_while_propagating;
use runbook_backend::ActionError;
use runbook_backend::EksRole;
use runbook_backend::calls::{PlannedCall, PlannedCalls, Service, declared};
use runbook_backend::{ClusterInfo, ClusterRequest, NodeGroupInfo, OfferedVersion};
use runbook_backend::{Eks, TargetResult};

/// The thumbprint of the root CA of the EKS OIDC endpoints (Amazon Root CA 1's
/// intermediate, as eksctl registers it); IAM ignores it for these endpoints today but
/// older accounts' APIs still require one.
const OIDC_THUMBPRINT: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

/// How long deleting a cluster waits for its node groups to go (EKS takes minutes).
const NODEGROUP_DELETE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub(super) struct AwsEks {
    eks: aws_sdk_eks::Client,
    iam: aws_sdk_iam::Client,
    /// For the network `create-cluster` makes when the runbook gives no subnets.
    ec2: aws_sdk_ec2::Client,
    account_id: String,
    /// The ARN partition of the account (STS's caller ARN), for OIDC provider ARNs.
    partition: String,
}

impl AwsEks {
    pub(super) fn new(config: &AwsConfig, account_id: String, partition: String) -> AwsEks {
        AwsEks {
            eks: aws_sdk_eks::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_eks, config).build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_iam, config).build(),
            ),
            ec2: aws_sdk_ec2::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_ec2, config).build(),
            ),
            account_id,
            partition,
        }
    }

    /// An EC2 client that answers nothing, for tests that never reach EC2.
    #[cfg(test)]
    fn unused_ec2() -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .build(),
        )
    }

    /// Over a mocked EKS client; the IAM client answers nothing (these tests never
    /// reach IAM).
    #[cfg(test)]
    fn from_client(eks: aws_sdk_eks::Client) -> AwsEks {
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .build(),
        );
        AwsEks {
            eks,
            iam,
            ec2: Self::unused_ec2(),
            account_id: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    /// The IAM ARN of the OIDC provider for an issuer URL.
    fn oidc_provider_arn(&self, issuer: &str) -> String {
        format!(
            "arn:{}:iam::{}:oidc-provider/{}",
            self.partition,
            self.account_id,
            issuer.trim_start_matches("https://")
        )
    }

    /// The role the runbook gave, else the one runbook makes as eksctl would.
    async fn role(
        &self,
        role: EksRole,
        given: Option<&str>,
        cluster: &str,
    ) -> TargetResult<String> {
        match self::given(given) {
            Some(arn) => Ok(arn.to_string()),
            None => ensure_role(&self.iam, role, cluster, &self.partition).await,
        }
    }

    /// Tags the security group EKS made for the cluster with Karpenter's discovery tag
    /// (as eksctl does), so an EC2NodeClass can select it.
    async fn tag_cluster_security_group(&self, cluster: &str) -> TargetResult<()> {
        let described = declared(
            security_group_call(cluster),
            self.eks.describe_cluster().name(cluster).send(),
        )
        .await
        .map_err(|e| service_error("EKS", "DescribeCluster", cluster, e))?;
        let Some(group) = described
            .cluster()
            .and_then(|c| c.resources_vpc_config())
            .and_then(|v| v.cluster_security_group_id())
        else {
            return Ok(());
        };
        declared(
            discovery_tag_call(group, cluster),
            self.ec2
                .create_tags()
                .resources(group)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key(DISCOVERY_TAG)
                        .value(cluster)
                        .build(),
                )
                .send(),
        )
        .await
        .map_err(|e| service_error("EC2", "CreateTags", group, e))?;
        Ok(())
    }

    /// Registers the cluster's OIDC issuer with IAM unless it already is.
    async fn ensure_oidc_provider(&self, cluster: &ClusterInfo) -> TargetResult<()> {
        if cluster.oidc_issuer.is_empty() {
            return Err(ActionError::Failed(format!(
                "cluster `{}` is ACTIVE but has no OIDC issuer; IRSA job roles cannot trust it",
                cluster.name
            )));
        }
        let arn = self.oidc_provider_arn(&cluster.oidc_issuer);
        if self.oidc_provider_exists(&arn).await? {
            return Ok(());
        }
        match declared(
            create_oidc_call(&cluster.oidc_issuer),
            self.iam
                .create_open_id_connect_provider()
                .url(&cluster.oidc_issuer)
                .client_id_list("sts.amazonaws.com")
                .thumbprint_list(OIDC_THUMBPRINT)
                .send(),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("EntityAlreadyExists") => Ok(()),
            Err(e) => Err(service_error(
                "IAM",
                "CreateOpenIDConnectProvider",
                &cluster.oidc_issuer,
                e,
            )),
        }
    }

    /// Removes the IAM OIDC provider of the cluster's issuer; gone already is fine.
    async fn delete_oidc_provider(&self, cluster: &ClusterInfo) -> TargetResult<()> {
        if cluster.oidc_issuer.is_empty() {
            return Ok(());
        }
        let arn = self.oidc_provider_arn(&cluster.oidc_issuer);
        match declared(
            delete_oidc_call(&arn),
            self.iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .send(),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(service_error("IAM", "DeleteOpenIDConnectProvider", arn, e)),
        }
    }

    async fn oidc_provider_exists(&self, arn: &str) -> TargetResult<bool> {
        let list = declared(
            list_oidc_call(),
            self.iam.list_open_id_connect_providers().send(),
        )
        .await
        .map_err(|e| service_error("IAM", "ListOpenIDConnectProviders", arn, e))?;
        Ok(list
            .open_id_connect_provider_list()
            .iter()
            .any(|p| p.arn() == Some(arn)))
    }

    /// The names of the cluster's managed node groups, every page of them.
    async fn nodegroups(&self, cluster: &str) -> TargetResult<Vec<String>> {
        self.nodegroups_as(cluster, list_nodegroups_call(cluster))
            .await
    }

    /// [`AwsEks::nodegroups`], each page asked as `call` declares.
    async fn nodegroups_as(&self, cluster: &str, call: PlannedCall) -> TargetResult<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self
            .eks
            .list_nodegroups()
            .cluster_name(cluster)
            .into_paginator()
            .send();
        while let Some(page) = declared(call.clone(), pages.next()).await {
            let page = page.map_err(|e| service_error("EKS", "ListNodegroups", cluster, e))?;
            names.extend(page.nodegroups().iter().cloned());
        }
        Ok(names)
    }

    /// Deletes every node group and waits until they are gone: EKS refuses to delete a
    /// cluster that still has any.
    async fn delete_nodegroups(&self, cluster: &str) -> TargetResult<()> {
        let groups = self.nodegroups(cluster).await?;
        for group in &groups {
            match declared(
                delete_nodegroup_call(cluster, group),
                self.eks
                    .delete_nodegroup()
                    .cluster_name(cluster)
                    .nodegroup_name(group)
                    .send(),
            )
            .await
            {
                Ok(_) => {}
                // Already deleting, or gone meanwhile.
                Err(e)
                    if matches!(
                        code_of(&e),
                        Some("ResourceInUseException" | "ResourceNotFoundException")
                    ) => {}
                Err(e) => {
                    return Err(service_error(
                        "EKS",
                        "DeleteNodegroup",
                        format!("{cluster}/{group}"),
                        e,
                    ));
                }
            }
        }
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_secs(2);
        while !self
            .nodegroups_as(cluster, nodegroups_left_call(cluster))
            .await?
            .is_empty()
        {
            if started.elapsed() > NODEGROUP_DELETE_TIMEOUT {
                return Err(ActionError::Failed(format!(
                    "the node groups of cluster `{cluster}` were still being deleted after 30 minutes"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(20));
        }
        Ok(())
    }
}

fn cluster_info(c: &aws_sdk_eks::types::Cluster) -> ClusterInfo {
    ClusterInfo {
        name: c.name().unwrap_or_default().to_string(),
        arn: c.arn().unwrap_or_default().to_string(),
        endpoint: c.endpoint().unwrap_or_default().to_string(),
        oidc_issuer: c
            .identity()
            .and_then(|i| i.oidc())
            .and_then(|o| o.issuer())
            .unwrap_or_default()
            .to_string(),
        status: c
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        version: c.version().unwrap_or_default().to_string(),
    }
}

/// A version EKS offers for new clusters, as preflight shows it; `None` for one past
/// its extended support (EKS can list those, and creating a cluster of one fails) or
/// one without a version or status.
/// One of a node group's health issues as EKS words it: its code, message and the
/// resources it is about (an Auto Scaling group, instances, a subnet).
fn health_issue(issue: &aws_sdk_eks::types::Issue) -> String {
    let code = issue.code().map_or("Unknown", |c| c.as_str());
    let mut text = format!("{code}: {}", issue.message().unwrap_or("no message"));
    if !issue.resource_ids().is_empty() {
        text.push_str(&format!(" ({})", issue.resource_ids().join(", ")));
    }
    text
}

fn offered_version(info: &ClusterVersionInformation) -> Option<OfferedVersion> {
    let status = info.version_status()?;
    if !matches!(
        status,
        VersionStatus::StandardSupport | VersionStatus::ExtendedSupport
    ) {
        return None;
    }
    Some(OfferedVersion {
        version: info.cluster_version()?.to_string(),
        status: status.as_str().to_string(),
        default: info.default_version(),
    })
}

fn tags(map: &std::collections::BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then(|| map.clone().into_iter().collect())
}

/// What EKS needs that only the `aws` target needs: the IAM roles and subnets, which
/// the simulator makes up.
#[async_trait]
impl Eks for AwsEks {
    async fn describe_cluster(&self, name: &str) -> TargetResult<Option<ClusterInfo>> {
        match declared(
            describe_cluster_call(name),
            self.eks.describe_cluster().name(name).send(),
        )
        .await
        {
            Ok(out) => Ok(out.cluster().map(cluster_info)),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(service_error("EKS", "DescribeCluster", name, e)),
        }
    }

    async fn create_cluster(
        &self,
        request: &ClusterRequest,
        token: &str,
    ) -> TargetResult<ClusterInfo> {
        // What the runbook does not give is made as eksctl makes it: the roles first
        // (IAM needs a moment before EKS can assume them), then the network.
        let role = self
            .role(EksRole::Cluster, request.role_arn.as_deref(), &request.name)
            .await?;
        self.role(
            EksRole::Node,
            request.nodegroup.node_role_arn.as_deref(),
            &request.name,
        )
        .await?;
        let subnets = if request.subnet_ids.is_empty() {
            ensure_network(&self.ec2, &request.name, &request.nodegroup.instance_type)
                .await?
                .all_subnets()
        } else {
            request.subnet_ids.clone()
        };
        let call = create_cluster_call(request, &role, &subnets, token);
        let out = retry_while_propagating(|| {
            declared(
                call.clone(),
                self.eks
                    .create_cluster()
                    .name(&request.name)
                    .version(&request.version)
                    .role_arn(&role)
                    .resources_vpc_config(
                        VpcConfigRequest::builder()
                            .set_subnet_ids(Some(subnets.clone()))
                            .build(),
                    )
                    // Both the aws-auth ConfigMap (which register-vc edits, as eksctl does) and
                    // access entries (which EMR uses on its own for new virtual clusters).
                    .access_config(
                        CreateAccessConfigRequest::builder()
                            .authentication_mode(AuthenticationMode::ApiAndConfigMap)
                            .build(),
                    )
                    .set_tags(tags(&request.tags))
                    .client_request_token(token)
                    .send(),
            )
        })
        .await
        .map_err(|e| service_error("EKS", "CreateCluster", &request.name, e))?;
        out.cluster().map(cluster_info).ok_or_else(|| {
            ActionError::Failed(format!(
                "EKS CreateCluster of `{}` returned no cluster",
                request.name
            ))
        })
    }

    async fn complete_cluster(
        &self,
        cluster: &ClusterInfo,
        request: &ClusterRequest,
        token: &str,
    ) -> TargetResult<()> {
        self.ensure_oidc_provider(cluster).await?;
        let ng = &request.nodegroup;
        if self.nodegroups(&cluster.name).await?.contains(&ng.name) {
            return Ok(());
        }
        let node_role = self
            .role(EksRole::Node, ng.node_role_arn.as_deref(), &cluster.name)
            .await?;
        // Nodes go in the private subnets of a network runbook made.
        let subnets =
            if request.subnet_ids.is_empty() {
                let network = find_network(&self.ec2, &cluster.name).await?.ok_or_else(|| {
                ActionError::Failed(format!(
                    "the VPC made for cluster `{}` is gone (no VPC tagged {CLUSTER_TAG}={})",
                    cluster.name, cluster.name
                ))
            })?;
                self.tag_cluster_security_group(&cluster.name).await?;
                network.private_subnets
            } else {
                request.subnet_ids.clone()
            };
        let size = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let call = create_nodegroup_call(&cluster.name, request, &subnets, &node_role, token);
        let created = retry_while_propagating(|| {
            declared(
                call.clone(),
                self.eks
                    .create_nodegroup()
                    .cluster_name(&cluster.name)
                    .nodegroup_name(&ng.name)
                    .scaling_config(
                        NodegroupScalingConfig::builder()
                            .min_size(size(ng.min_size))
                            .max_size(size(ng.max_size))
                            .desired_size(size(ng.desired_size))
                            .build(),
                    )
                    .set_subnets(Some(subnets.clone()))
                    .instance_types(&ng.instance_type)
                    .node_role(&node_role)
                    .capacity_type(CapacityTypes::from(ng.capacity_type.as_str()))
                    .set_labels(tags(&ng.labels))
                    .set_tags(tags(&request.tags))
                    .client_request_token(token)
                    .send(),
            )
        })
        .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(service_error(
                "EKS",
                "CreateNodegroup",
                format!("{}/{}", cluster.name, ng.name),
                e,
            )),
        }
    }

    async fn delete_cluster(&self, name: &str) -> TargetResult<bool> {
        let Some(cluster) = self.describe_cluster(name).await? else {
            return Ok(false);
        };
        // A cluster already DELETING (an earlier teardown interrupted after its
        // DeleteCluster) still gets its OIDC provider removed: IAM keeps providers
        // until they are deleted, and nothing else would.
        if cluster.status != "DELETING" {
            self.delete_nodegroups(name).await?;
            match declared(
                delete_cluster_call(name),
                self.eks.delete_cluster().name(name).send(),
            )
            .await
            {
                Ok(_) => {}
                Err(e) if code_of(&e) == Some("ResourceNotFoundException") => return Ok(false),
                Err(e) => return Err(service_error("EKS", "DeleteCluster", name, e)),
            }
        }
        self.delete_oidc_provider(&cluster).await?;
        Ok(true)
    }

    /// Every page of `DescribeClusterVersions` for EKS (not EKS Anywhere) clusters,
    /// keeping the versions in standard or extended support: the ones CreateCluster
    /// accepts. The request cannot filter on both statuses at once, so the filter is
    /// here.
    async fn offered_versions(&self) -> TargetResult<Vec<OfferedVersion>> {
        let region = self
            .eks
            .config()
            .region()
            .map_or_else(|| "*".to_string(), ToString::to_string);
        let mut offered = Vec::new();
        let mut pages = self
            .eks
            .describe_cluster_versions()
            .cluster_type("eks")
            .into_paginator()
            .send();
        let versions = PlannedCall::new(
            Service::Eks,
            "DescribeClusterVersions",
            json!({"clusterType": "eks"}),
        )
        .note("the versions EKS offers (preflight)");
        while let Some(page) = declared(versions.clone(), pages.next()).await {
            let page = page
                .map_err(|e| service_error("EKS", "DescribeClusterVersions", region.as_str(), e))?;
            offered.extend(page.cluster_versions().iter().filter_map(offered_version));
        }
        Ok(offered)
    }

    async fn node_groups(&self, cluster: &str) -> TargetResult<Vec<String>> {
        self.nodegroups(cluster).await
    }

    /// The VPC and the two roles, where runbook made them for this cluster (tagged
    /// with it); given ones are the runbook author's and stay.
    async fn release_cluster(&self, name: &str) -> TargetResult<Vec<String>> {
        let mut released = Vec::new();
        if let Some(vpc) = delete_network(&self.ec2, name).await? {
            released.push(format!("VPC {vpc}"));
        }
        for role in [EksRole::Node, EksRole::Cluster] {
            if delete_role(&self.iam, role, name, &self.partition).await? {
                released.push(format!("IAM role {}", role.name(name)));
            }
        }
        Ok(released)
    }

    async fn describe_node_group(
        &self,
        cluster: &str,
        name: &str,
    ) -> TargetResult<Option<NodeGroupInfo>> {
        let answer = match declared(
            describe_nodegroup_call(cluster, name),
            self.eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send(),
        )
        .await
        {
            Ok(answer) => answer,
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => {
                return Err(service_error(
                    "EKS",
                    "DescribeNodegroup",
                    format!("{cluster}/{name}"),
                    e,
                ));
            }
        };
        Ok(answer.nodegroup().map(|group| NodeGroupInfo {
            name: name.to_string(),
            status: group
                .status()
                .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string()),
            health_issues: group
                .health()
                .map(|health| health.issues().iter().map(health_issue).collect())
                .unwrap_or_default(),
            node_role: group.node_role().map(str::to_string),
        }))
    }

    fn planned_describe_cluster(&self, name: &str) -> Vec<PlannedCall> {
        vec![describe_cluster_call(name)]
    }

    /// The roles and network the runbook does not give, as eksctl makes them, then
    /// CreateCluster.
    fn planned_create_cluster(&self, request: &ClusterRequest, token: &str) -> Vec<PlannedCall> {
        let mut calls = Vec::new();
        let cluster_role = given(request.role_arn.as_deref());
        let node_role = given(request.nodegroup.node_role_arn.as_deref());
        if cluster_role.is_none() {
            calls.extend(
                planned_ensure_role(EksRole::Cluster, &request.name, &self.partition)
                    .under("if `role_arn` is not given"),
            );
        }
        if node_role.is_none() {
            calls.extend(
                planned_ensure_role(EksRole::Node, &request.name, &self.partition)
                    .under("if `node_role_arn` is not given"),
            );
        }
        let subnets = if request.subnet_ids.is_empty() {
            calls.extend(
                planned_ensure_network(&request.name, &request.nodegroup.instance_type)
                    .under("if `subnet_ids` is not given"),
            );
            vec!["<the four subnets made>".to_string()]
        } else {
            request.subnet_ids.clone()
        };
        let role = cluster_role.map_or_else(
            || self.role_arn(&EksRole::Cluster.name(&request.name)),
            str::to_string,
        );
        calls.push(create_cluster_call(request, &role, &subnets, token));
        calls
    }

    /// The IAM OIDC provider, then the node group unless it exists: its role and, for
    /// a network runbook made, the private subnets and the security group's tag.
    fn planned_complete_cluster(&self, request: &ClusterRequest, token: &str) -> Vec<PlannedCall> {
        let issuer = format!("<OIDC issuer of cluster {}>", request.name);
        let mut calls = vec![
            list_oidc_call(),
            create_oidc_call(&issuer),
            list_nodegroups_call(&request.name),
        ];
        let mut nodegroup = Vec::new();
        let node_role = given(request.nodegroup.node_role_arn.as_deref());
        if node_role.is_none() {
            nodegroup.extend(
                planned_ensure_role(EksRole::Node, &request.name, &self.partition)
                    .under("if `node_role_arn` is not given"),
            );
        }
        let subnets = if request.subnet_ids.is_empty() {
            let mut lookup = planned_find_network(&request.name);
            lookup.extend([
                security_group_call(&request.name),
                discovery_tag_call("<the cluster security group>", &request.name),
            ]);
            nodegroup.extend(lookup.under("if `subnet_ids` is not given"));
            vec!["<the private subnets>".to_string()]
        } else {
            request.subnet_ids.clone()
        };
        let role = node_role.map_or_else(
            || self.role_arn(&EksRole::Node.name(&request.name)),
            str::to_string,
        );
        nodegroup.push(create_nodegroup_call(
            &request.name,
            request,
            &subnets,
            &role,
            token,
        ));
        calls.extend(nodegroup.under("if the cluster has no node group of that name"));
        calls
    }

    fn planned_delete_cluster(&self, name: &str) -> Vec<PlannedCall> {
        let gone = "if it is gone, nothing else is called; if it is already DELETING, only its OIDC provider is deleted";
        vec![
            describe_cluster_call(name).note(gone),
            list_nodegroups_call(name).note("EKS deletes no cluster that still has node groups"),
            delete_nodegroup_call(name, "<each node group>").when("for each node group"),
            nodegroups_left_call(name),
            delete_cluster_call(name),
            delete_oidc_call(&self.oidc_provider_arn(&format!("<OIDC issuer of cluster {name}>")))
                .when("if the cluster had an OIDC issuer"),
        ]
    }

    fn planned_release_cluster(&self, name: &str) -> Vec<PlannedCall> {
        let mut calls = planned_delete_network(name);
        for role in [EksRole::Node, EksRole::Cluster] {
            calls.extend(planned_delete_role(role, name, &self.partition));
        }
        calls
    }

    fn planned_describe_node_group(&self, cluster: &str, name: &str) -> Vec<PlannedCall> {
        vec![describe_nodegroup_call(cluster, name)]
    }

    fn planned_node_groups(&self, cluster: &str) -> Vec<PlannedCall> {
        vec![list_nodegroups_call(cluster)]
    }
}

/// A role ARN the runbook gave (an empty one is none).
fn given(arn: Option<&str>) -> Option<&str> {
    arn.filter(|arn| !arn.is_empty())
}

impl AwsEks {
    /// The ARN of IAM role `name` of this account.
    fn role_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:iam::{}:role/{name}",
            self.partition, self.account_id
        )
    }
}

// The calls, each declared as the run sends it and as the plans above list it.

fn describe_cluster_call(name: &str) -> PlannedCall {
    PlannedCall::new(Service::Eks, "DescribeCluster", json!({"name": name}))
}

fn security_group_call(cluster: &str) -> PlannedCall {
    describe_cluster_call(cluster).note("for the security group EKS made")
}

fn discovery_tag_call(group: &str, cluster: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Ec2,
        "CreateTags",
        json!({"resources": group, DISCOVERY_TAG: cluster}),
    )
}

/// CreateCluster with API and ConfigMap authentication: register-vc edits the aws-auth
/// ConfigMap, as eksctl does, and EMR makes access entries for new virtual clusters.
fn create_cluster_call(
    request: &ClusterRequest,
    role_arn: &str,
    subnets: &[String],
    token: &str,
) -> PlannedCall {
    PlannedCall::new(
        Service::Eks,
        "CreateCluster",
        json!({
            "name": request.name,
            "version": request.version,
            "roleArn": role_arn,
            "resourcesVpcConfig": {"subnetIds": subnets},
            "accessConfig": {"authenticationMode": AuthenticationMode::ApiAndConfigMap.as_str()},
            "tags": request.tags,
            "clientRequestToken": token,
        }),
    )
}

fn create_nodegroup_call(
    cluster: &str,
    request: &ClusterRequest,
    subnets: &[String],
    node_role: &str,
    token: &str,
) -> PlannedCall {
    let ng = &request.nodegroup;
    let mut detail = json!({
        "clusterName": cluster,
        "nodegroupName": ng.name,
        "instanceTypes": [ng.instance_type],
        "scalingConfig": {
            "minSize": ng.min_size,
            "maxSize": ng.max_size,
            "desiredSize": ng.desired_size,
        },
        "capacityType": ng.capacity_type,
        "labels": ng.labels,
        "nodeRole": node_role,
        "subnets": subnets,
        "clientRequestToken": token,
    });
    if !request.tags.is_empty() {
        detail["tags"] = json!(request.tags);
    }
    PlannedCall::new(Service::Eks, "CreateNodegroup", detail)
        .note("EKS accepts it only once the cluster is ACTIVE; ResourceInUseException: adopted")
}

fn list_oidc_call() -> PlannedCall {
    PlannedCall::new(Service::Iam, "ListOpenIDConnectProviders", json!({}))
        .note("is the cluster's OIDC issuer registered with IAM?")
}

fn create_oidc_call(issuer: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Iam,
        "CreateOpenIDConnectProvider",
        json!({
            "url": issuer,
            "clientIDList": ["sts.amazonaws.com"],
            "thumbprintList": [OIDC_THUMBPRINT],
        }),
    )
    .when("if IAM has no provider for the cluster's issuer")
    .note("lets job roles trust the cluster's service accounts (IRSA)")
}

fn delete_oidc_call(arn: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Iam,
        "DeleteOpenIDConnectProvider",
        json!({"openIDConnectProviderArn": arn}),
    )
    .note("NoSuchEntity: already gone, which is success")
}

fn list_nodegroups_call(cluster: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Eks,
        "ListNodegroups",
        json!({"clusterName": cluster}),
    )
}

fn nodegroups_left_call(cluster: &str) -> PlannedCall {
    list_nodegroups_call(cluster).note("repeated until no node group is left")
}

fn delete_nodegroup_call(cluster: &str, group: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Eks,
        "DeleteNodegroup",
        json!({"clusterName": cluster, "nodegroupName": group}),
    )
}

fn delete_cluster_call(name: &str) -> PlannedCall {
    PlannedCall::new(Service::Eks, "DeleteCluster", json!({"name": name}))
        .note("ResourceNotFoundException: already gone, which is success")
}

fn describe_nodegroup_call(cluster: &str, name: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Eks,
        "DescribeNodegroup",
        json!({"clusterName": cluster, "nodegroupName": name}),
    )
}

#[cfg(test)]
mod tests {
    //! The preflight reads of EKS over aws-smithy-mocks: what EKS answers, as preflight
    //! shows it.

    use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
    use aws_sdk_eks::operation::describe_cluster_versions::DescribeClusterVersionsOutput;
    use aws_sdk_eks::operation::list_nodegroups::ListNodegroupsOutput;
    use aws_sdk_eks::types::{Cluster, ClusterStatus, Identity, Oidc};
    use aws_sdk_iam::operation::delete_open_id_connect_provider::DeleteOpenIdConnectProviderOutput;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::sdk_mock::mocked;

    fn version(number: &str, status: VersionStatus, default: bool) -> ClusterVersionInformation {
        ClusterVersionInformation::builder()
            .cluster_version(number)
            .cluster_type("eks")
            .version_status(status)
            .default_version(default)
            .build()
    }

    /// A teardown interrupted after DeleteCluster finds the cluster DELETING: the OIDC
    /// provider of its issuer is still removed (IAM would keep it for ever), and
    /// nothing is asked of EKS again.
    #[tokio::test]
    async fn a_cluster_already_deleting_still_loses_its_oidc_provider() {
        deleting_cluster_loses_provider(
            "aws",
            "https://oidc.eks.us-east-2.amazonaws.com/id/ABC123",
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/ABC123",
        )
        .await;
    }

    /// In China (and GovCloud) the provider's ARN is in the account's partition; an
    /// `arn:aws:` ARN names nothing there and the provider would leak.
    #[tokio::test]
    async fn the_oidc_provider_arn_is_in_the_accounts_partition() {
        deleting_cluster_loses_provider(
            "aws-cn",
            "https://oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC123",
            "arn:aws-cn:iam::123456789012:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC123",
        )
        .await;
    }

    async fn deleting_cluster_loses_provider(
        partition: &str,
        issuer: &'static str,
        provider_arn: &'static str,
    ) {
        let describe = mock!(aws_sdk_eks::Client::describe_cluster).then_output(move || {
            DescribeClusterOutput::builder()
                .cluster(
                    Cluster::builder()
                        .name("demo")
                        .status(ClusterStatus::Deleting)
                        .identity(
                            Identity::builder()
                                .oidc(Oidc::builder().issuer(issuer).build())
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let delete_cluster = mock!(aws_sdk_eks::Client::delete_cluster)
            .then_error(|| unreachable!("a cluster already deleting is not deleted again"));
        let delete_provider = mock!(aws_sdk_iam::Client::delete_open_id_connect_provider)
            .match_requests(move |r| r.open_id_connect_provider_arn() == Some(provider_arn))
            .then_output(|| DeleteOpenIdConnectProviderOutput::builder().build());
        let eks = AwsEks {
            eks: mocked!(aws_sdk_eks, &describe, &delete_cluster),
            iam: mocked!(aws_sdk_iam, &delete_provider),
            ec2: AwsEks::unused_ec2(),
            account_id: "123456789012".into(),
            partition: partition.into(),
        };
        assert!(eks.delete_cluster("demo").await.expect("deleted"));
        assert_eq!(delete_provider.num_calls(), 1);
        assert_eq!(delete_cluster.num_calls(), 0);
    }

    /// A failed node group reads as EKS words it: its status and each health issue
    /// with its code and resources; a missing one is `None`.
    #[tokio::test]
    async fn a_node_group_reads_with_its_status_and_health_issues() {
        use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupOutput;
        use aws_sdk_eks::types::{
            Issue, Nodegroup, NodegroupHealth, NodegroupIssueCode, NodegroupStatus,
        };
        let failed = mock!(aws_sdk_eks::Client::describe_nodegroup)
            .match_requests(|r| r.nodegroup_name() == Some("demo-ng"))
            .then_output(|| {
                DescribeNodegroupOutput::builder()
                    .nodegroup(
                        Nodegroup::builder()
                            .nodegroup_name("demo-ng")
                            .node_role("arn:aws:iam::123456789012:role/demo-ng-NodeInstanceRole")
                            .status(NodegroupStatus::CreateFailed)
                            .health(
                                NodegroupHealth::builder()
                                    .issues(
                                        Issue::builder()
                                            .code(NodegroupIssueCode::NodeCreationFailure)
                                            .message(
                                                "Instances failed to join the kubernetes cluster",
                                            )
                                            .resource_ids("i-0abc")
                                            .resource_ids("i-0def")
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let missing = mock!(aws_sdk_eks::Client::describe_nodegroup)
            .match_requests(|r| r.nodegroup_name() == Some("gone"))
            .sequence()
            .http_status(
                404,
                Some(
                    r#"{"__type":"ResourceNotFoundException","message":"No node group found for name: gone."}"#
                        .to_string(),
                ),
            )
            .build();
        let eks = AwsEks::from_client(mocked!(aws_sdk_eks, &failed, &missing));
        let group = eks
            .describe_node_group("demo", "demo-ng")
            .await
            .expect("described")
            .expect("exists");
        assert_eq!(group.status, "CREATE_FAILED");
        assert_eq!(
            group.node_role.as_deref(),
            Some("arn:aws:iam::123456789012:role/demo-ng-NodeInstanceRole")
        );
        assert_eq!(
            group.health_issues,
            [
                "NodeCreationFailure: Instances failed to join the kubernetes cluster (i-0abc, i-0def)"
            ]
        );
        assert_eq!(
            eks.describe_node_group("demo", "gone").await.expect("read"),
            None
        );
    }

    #[tokio::test]
    async fn offered_versions_are_the_supported_ones_of_every_page() {
        let first = mock!(aws_sdk_eks::Client::describe_cluster_versions)
            .match_requests(|r| r.cluster_type() == Some("eks") && r.next_token().is_none())
            .then_output(|| {
                DescribeClusterVersionsOutput::builder()
                    .cluster_versions(version("1.35", VersionStatus::StandardSupport, false))
                    .cluster_versions(version("1.34", VersionStatus::StandardSupport, true))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(aws_sdk_eks::Client::describe_cluster_versions)
            .match_requests(|r| r.cluster_type() == Some("eks") && r.next_token() == Some("page-2"))
            .then_output(|| {
                DescribeClusterVersionsOutput::builder()
                    .cluster_versions(version("1.31", VersionStatus::ExtendedSupport, false))
                    .cluster_versions(version("1.23", VersionStatus::Unsupported, false))
                    .build()
            });
        let eks = AwsEks::from_client(mocked!(aws_sdk_eks, &first, &second));
        let offered = eks.offered_versions().await.expect("versions");
        let offered: Vec<(&str, &str, bool)> = offered
            .iter()
            .map(|v| (v.version.as_str(), v.status.as_str(), v.default))
            .collect();
        assert_eq!(
            offered,
            vec![
                ("1.35", "STANDARD_SUPPORT", false),
                ("1.34", "STANDARD_SUPPORT", true),
                ("1.31", "EXTENDED_SUPPORT", false),
            ],
            "1.23 is past extended support and cannot be created"
        );
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn offered_versions_denied_names_the_call_and_the_region() {
        let denied = r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/demo is not authorized to perform: eks:DescribeClusterVersions"}"#;
        let rule = mock!(aws_sdk_eks::Client::describe_cluster_versions)
            .sequence()
            .http_status(403, Some(denied.to_string()))
            .build();
        let eks = AwsEks::from_client(mocked!(aws_sdk_eks, &rule));
        let err = eks.offered_versions().await.expect_err("denied");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "EKS DescribeClusterVersions of `us-east-2` failed: AccessDeniedException: User:"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn node_groups_are_listed_across_pages() {
        let first = mock!(aws_sdk_eks::Client::list_nodegroups)
            .match_requests(|r| r.cluster_name() == Some("demo") && r.next_token().is_none())
            .then_output(|| {
                ListNodegroupsOutput::builder()
                    .nodegroups("system")
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(aws_sdk_eks::Client::list_nodegroups)
            .match_requests(|r| {
                r.cluster_name() == Some("demo") && r.next_token() == Some("page-2")
            })
            .then_output(|| ListNodegroupsOutput::builder().nodegroups("spark").build());
        let eks = AwsEks::from_client(mocked!(aws_sdk_eks, &first, &second));
        let groups = eks.node_groups("demo").await.expect("node groups");
        assert_eq!(groups, vec!["system".to_string(), "spark".to_string()]);
    }

    #[tokio::test]
    async fn node_groups_of_a_missing_cluster_is_an_error_with_eks_code() {
        let missing = r#"{"__type":"ResourceNotFoundException","message":"No cluster found for name: demo."}"#;
        let rule = mock!(aws_sdk_eks::Client::list_nodegroups)
            .sequence()
            .http_status(404, Some(missing.to_string()))
            .build();
        let eks = AwsEks::from_client(mocked!(aws_sdk_eks, &rule));
        let err = eks.node_groups("demo").await.expect_err("no cluster");
        assert_eq!(
            err.to_string(),
            "EKS ListNodegroups of `demo` failed: ResourceNotFoundException: No cluster found for name: demo."
        );
    }
}
