//! EKS on the simulated world.

use async_trait::async_trait;
use runbook_sim::eks_versions::{self, Support};
use runbook_sim::{CapacityType, Cluster, ClusterSpec, ClusterStatus, NodeGroupSpec};

use super::SimTarget;
use runbook_backend::{ClusterInfo, ClusterRequest, NodeGroupInfo, OfferedVersion};
use runbook_backend::{Eks, TargetResult};

pub(super) fn cluster_info(c: &Cluster) -> ClusterInfo {
    let status = match c.status {
        ClusterStatus::Creating => "CREATING",
        ClusterStatus::Active => "ACTIVE",
        ClusterStatus::Deleting => "DELETING",
        ClusterStatus::Deleted => "DELETED",
    };
    ClusterInfo {
        name: c.name.clone(),
        arn: c.arn.clone(),
        endpoint: c.endpoint.clone(),
        oidc_issuer: c.oidc_issuer.clone(),
        status: status.to_string(),
        version: c.version.clone(),
    }
}

#[async_trait]
impl Eks for SimTarget {
    /// The simulator's dated table of what EKS offers.
    async fn offered_versions(&self) -> TargetResult<Vec<OfferedVersion>> {
        Ok(eks_versions::OFFERED
            .iter()
            .map(|v| OfferedVersion {
                version: v.version.to_string(),
                status: match v.support {
                    Support::Standard => "STANDARD_SUPPORT",
                    Support::Extended => "EXTENDED_SUPPORT",
                }
                .to_string(),
                default: v.version == eks_versions::DEFAULT,
            })
            .collect())
    }

    async fn node_groups(&self, cluster: &str) -> TargetResult<Vec<String>> {
        let world = self.world();
        let cluster = world
            .cluster(cluster)
            .map_err(|e| super::service_error("EKS", "ListNodegroups", cluster, &e))?;
        Ok(cluster.nodegroups.keys().cloned().collect())
    }

    /// The simulator makes no network or roles for a cluster: nothing to release.
    async fn release_cluster(&self, _cluster: &str) -> TargetResult<Vec<String>> {
        Ok(Vec::new())
    }

    /// The simulated node group is `CREATING` until its nodes are Ready, then
    /// `ACTIVE`; the simulator does not model failed node groups.
    async fn describe_node_group(
        &self,
        cluster: &str,
        name: &str,
    ) -> TargetResult<Option<NodeGroupInfo>> {
        let world = self.world();
        let cluster = world
            .cluster(cluster)
            .map_err(|e| super::service_error("EKS", "DescribeNodegroup", cluster, &e))?;
        Ok(cluster.nodegroups.get(name).map(|group| NodeGroupInfo {
            name: name.to_string(),
            status: if group.active { "ACTIVE" } else { "CREATING" }.to_string(),
            health_issues: Vec::new(),
            // The role the request named, if any: the simulated nodes run as none.
            node_role: group.spec.node_role_arn.clone(),
        }))
    }

    async fn describe_cluster(&self, name: &str) -> TargetResult<Option<ClusterInfo>> {
        let world = self.world();
        Ok(world
            .cluster(name)
            .ok()
            .filter(|c| c.status != ClusterStatus::Deleted)
            .map(cluster_info))
    }

    async fn create_cluster(
        &self,
        request: &ClusterRequest,
        _token: &str,
    ) -> TargetResult<ClusterInfo> {
        let ng = &request.nodegroup;
        let capacity_type = match ng.capacity_type.as_str() {
            "SPOT" => CapacityType::Spot,
            _ => CapacityType::OnDemand,
        };
        let nodegroup = NodeGroupSpec {
            name: ng.name.clone(),
            instance_type: ng.instance_type.clone(),
            desired_size: ng.desired_size,
            min_size: ng.min_size,
            max_size: ng.max_size,
            capacity_type,
            labels: ng.labels.clone(),
            node_role_arn: ng.node_role_arn.clone(),
        };
        let spec = ClusterSpec::new(&request.name, &request.version, nodegroup);
        self.act("EKS", "CreateCluster", &request.name, |w| {
            w.create_cluster(spec).map(cluster_info)
        })
    }

    /// The simulated cluster got its node group with CreateCluster, and IRSA needs no
    /// provider in the simulated IAM: nothing is left to do.
    async fn complete_cluster(
        &self,
        _cluster: &ClusterInfo,
        _request: &ClusterRequest,
        _token: &str,
    ) -> TargetResult<()> {
        Ok(())
    }

    async fn delete_cluster(&self, name: &str) -> TargetResult<bool> {
        let exists = self
            .world()
            .cluster(name)
            .is_ok_and(|c| !matches!(c.status, ClusterStatus::Deleted | ClusterStatus::Deleting));
        if !exists {
            return Ok(false);
        }
        self.act("EKS", "DeleteCluster", name, |w| w.delete_cluster(name))?;
        Ok(true)
    }
}
