//! Amazon EKS through aws-sdk-eks: the cluster, its managed node group, and the IAM
//! OIDC provider that IRSA (the job roles' trust) needs.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eks::types::{
    AuthenticationMode, CapacityTypes, ClusterVersionInformation, CreateAccessConfigRequest,
    NodegroupScalingConfig, VersionStatus, VpcConfigRequest,
};

use super::AwsConfig;
use super::error::{code_of, service_error};
use runbook_backend::ActionError;
use runbook_backend::{ClusterInfo, ClusterRequest, OfferedVersion};
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
    account_id: String,
}

impl AwsEks {
    pub(super) fn new(config: &AwsConfig, account_id: String) -> AwsEks {
        AwsEks {
            eks: aws_sdk_eks::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_eks, config).build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_iam, config).build(),
            ),
            account_id,
        }
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
            account_id: "123456789012".into(),
        }
    }

    /// The IAM ARN of the OIDC provider for an issuer URL.
    fn oidc_provider_arn(&self, issuer: &str) -> String {
        format!(
            "arn:aws:iam::{}:oidc-provider/{}",
            self.account_id,
            issuer.trim_start_matches("https://")
        )
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
        match self
            .iam
            .create_open_id_connect_provider()
            .url(&cluster.oidc_issuer)
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list(OIDC_THUMBPRINT)
            .send()
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
        match self
            .iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(service_error("IAM", "DeleteOpenIDConnectProvider", arn, e)),
        }
    }

    async fn oidc_provider_exists(&self, arn: &str) -> TargetResult<bool> {
        let list = self
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| service_error("IAM", "ListOpenIDConnectProviders", arn, e))?;
        Ok(list
            .open_id_connect_provider_list()
            .iter()
            .any(|p| p.arn() == Some(arn)))
    }

    /// The names of the cluster's managed node groups, every page of them.
    async fn nodegroups(&self, cluster: &str) -> TargetResult<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self
            .eks
            .list_nodegroups()
            .cluster_name(cluster)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
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
            match self
                .eks
                .delete_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(group)
                .send()
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
        while !self.nodegroups(cluster).await?.is_empty() {
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
fn require<'a>(value: Option<&'a str>, what: &str) -> TargetResult<&'a str> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ActionError::InvalidInput(format!(
            "on the aws target create-cluster needs `{what}` (EKS does not create it)"
        ))
    })
}

#[async_trait]
impl Eks for AwsEks {
    async fn describe_cluster(&self, name: &str) -> TargetResult<Option<ClusterInfo>> {
        match self.eks.describe_cluster().name(name).send().await {
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
        let role = require(request.role_arn.as_deref(), "role_arn")?;
        if request.subnet_ids.is_empty() {
            return Err(ActionError::InvalidInput(
                "on the aws target create-cluster needs `subnet_ids` (at least two subnets in different availability zones)".into(),
            ));
        }
        require(request.nodegroup.node_role_arn.as_deref(), "node_role_arn")?;
        let out = self
            .eks
            .create_cluster()
            .name(&request.name)
            .version(&request.version)
            .role_arn(role)
            .resources_vpc_config(
                VpcConfigRequest::builder()
                    .set_subnet_ids(Some(request.subnet_ids.clone()))
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
            .send()
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
        let node_role = require(ng.node_role_arn.as_deref(), "node_role_arn")?;
        let size = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        match self
            .eks
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
            .set_subnets(Some(request.subnet_ids.clone()))
            .instance_types(&ng.instance_type)
            .node_role(node_role)
            .capacity_type(CapacityTypes::from(ng.capacity_type.as_str()))
            .set_labels(tags(&ng.labels))
            .set_tags(tags(&request.tags))
            .client_request_token(token)
            .send()
            .await
        {
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
            match self.eks.delete_cluster().name(name).send().await {
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
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| service_error("EKS", "DescribeClusterVersions", region.as_str(), e))?;
            offered.extend(page.cluster_versions().iter().filter_map(offered_version));
        }
        Ok(offered)
    }

    async fn node_groups(&self, cluster: &str) -> TargetResult<Vec<String>> {
        self.nodegroups(cluster).await
    }

    async fn node_group_role(
        &self,
        cluster: &str,
        nodegroup: &str,
    ) -> TargetResult<Option<String>> {
        crate::node_group_role::node_group_role(&self.eks, cluster, nodegroup).await
    }
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
        let issuer = "https://oidc.eks.us-east-2.amazonaws.com/id/ABC123";
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
            .match_requests(|r| {
                r.open_id_connect_provider_arn()
                    == Some("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/ABC123")
            })
            .then_output(|| DeleteOpenIdConnectProviderOutput::builder().build());
        let eks = AwsEks {
            eks: mocked!(aws_sdk_eks, &describe, &delete_cluster),
            iam: mocked!(aws_sdk_iam, &delete_provider),
            account_id: "123456789012".into(),
        };
        assert!(eks.delete_cluster("demo").await.expect("deleted"));
        assert_eq!(delete_provider.num_calls(), 1);
        assert_eq!(delete_cluster.num_calls(), 0);
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
