//! What the simulated account can run: the zones the simulator places nodes in, the
//! instance types it knows (offered in every zone), and its EC2 vCPU quotas.

use async_trait::async_trait;
use runbook_backend::{Capacity, SubnetInfo, TargetResult, VcpuQuota};
use runbook_sim::instance_types;

use super::SimTarget;

/// The simulated account's EC2 vCPU quotas, On-Demand and Spot alike: an established
/// account's figure, large enough for the canned demos and their autoscaling.
pub const SIMULATED_VCPU_QUOTA: f64 = 640.0;

impl SimTarget {
    /// The two zones of the region the simulator spreads nodes over.
    fn zones(&self) -> Vec<String> {
        let region = self.world().params().region.clone();
        vec![format!("{region}a"), format!("{region}b")]
    }
}

#[async_trait]
impl Capacity for SimTarget {
    /// The simulator ignores the subnets a runbook names (`create-cluster`'s
    /// `subnet_ids`) and places nodes in one subnet of each of its two zones.
    async fn subnets(&self, _ids: &[String]) -> TargetResult<Vec<SubnetInfo>> {
        Ok(self
            .zones()
            .into_iter()
            .map(|zone| SubnetInfo {
                id: format!("subnet-sim-{zone}"),
                zone,
            })
            .collect())
    }

    async fn instance_type_zones(&self, instance_type: &str) -> TargetResult<Vec<String>> {
        Ok(if instance_types::instance_type(instance_type).is_ok() {
            self.zones()
        } else {
            Vec::new()
        })
    }

    async fn instance_vcpus(&self, instance_type: &str) -> TargetResult<u32> {
        instance_types::instance_type(instance_type)
            .map(|t| t.vcpu)
            .map_err(|e| super::service_error("EC2", "DescribeInstanceTypes", instance_type, &e))
    }

    async fn vcpu_quota(&self, code: &str) -> TargetResult<VcpuQuota> {
        Ok(VcpuQuota {
            code: code.to_string(),
            name: format!("the simulated account's vCPU quota {code}"),
            value: SIMULATED_VCPU_QUOTA,
            default: true,
        })
    }
}
