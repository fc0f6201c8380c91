//! EC2 instance types: vCPU, memory, ENI limits and price, and the node capacity the
//! EKS AMI leaves for pods on each.
//!
//! # Allocatable
//!
//! The EKS AMI (nodeadm `config.go`) configures the kubelet with:
//! - `maxPods = ENIs × (IPv4 addresses per ENI − 1) + 2` (VPC CNI without prefix
//!   delegation);
//! - `kubeReserved.cpu` = 6 % of the first core + 1 % of the second + 0.5 % of cores 3-4
//!   + 0.25 % of every core above 4;
//! - `kubeReserved.memory = 11 MiB × maxPods + 255 MiB`;
//! - `evictionHard memory.available = 100Mi`; no `systemReserved`.
//!
//! The memory the kubelet sees is less than the instance's nominal GiB (the hypervisor
//! and kernel keep some). Karpenter models that with `VM_MEMORY_OVERHEAD_PERCENT`
//! (default 7.5 %). So, here:
//!
//! ```text
//! allocatable.cpu    = vCPU × 1000 − kubeReserved.cpu
//! allocatable.memory = floor(MiB × (1 − 0.075)) − kubeReserved.memory − 100
//! ```
//!
//! which reproduces Karpenter's published allocatable table exactly (for example
//! m5.2xlarge 7910m / 29317Mi, c5.2xlarge 7910m / 14162Mi); the unit test below checks
//! every row. The VM overhead is a parameter
//! ([`SimParams::vm_memory_overhead_permille`](crate::SimParams)); real nodes usually
//! report a few hundred MiB more, which only makes the demo's arithmetic more robust
//! (see the crate documentation).

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::resources::Resources;

/// Static data for one EC2 instance type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceType {
    /// API name, e.g. `m5.2xlarge`.
    pub name: &'static str,
    /// vCPUs.
    pub vcpu: u32,
    /// Nominal memory in MiB (GiB × 1024).
    pub memory_mib: u64,
    /// Maximum elastic network interfaces.
    pub enis: u32,
    /// IPv4 addresses per ENI.
    pub ipv4_per_eni: u32,
    /// On-demand price in US dollars per hour × 1000 (us-east-1, Linux), used by the
    /// autoscaler to pick the cheapest fitting type.
    pub on_demand_millidollars_per_hour: u64,
}

/// The instance types the simulator knows: m5, m6i, c5 and r5 in large to 4xlarge.
pub const INSTANCE_TYPES: &[InstanceType] = &[
    it("c5.large", 2, 4, 3, 10, 85),
    it("c5.xlarge", 4, 8, 4, 15, 170),
    it("c5.2xlarge", 8, 16, 4, 15, 340),
    it("c5.4xlarge", 16, 32, 8, 30, 680),
    it("m5.large", 2, 8, 3, 10, 96),
    it("m5.xlarge", 4, 16, 4, 15, 192),
    it("m5.2xlarge", 8, 32, 4, 15, 384),
    it("m5.4xlarge", 16, 64, 8, 30, 768),
    it("m6i.large", 2, 8, 3, 10, 96),
    it("m6i.xlarge", 4, 16, 4, 15, 192),
    it("m6i.2xlarge", 8, 32, 4, 15, 384),
    it("m6i.4xlarge", 16, 64, 8, 30, 768),
    it("r5.large", 2, 16, 3, 10, 126),
    it("r5.xlarge", 4, 32, 4, 15, 252),
    it("r5.2xlarge", 8, 64, 4, 15, 504),
    it("r5.4xlarge", 16, 128, 8, 30, 1008),
];

const fn it(
    name: &'static str,
    vcpu: u32,
    gib: u64,
    enis: u32,
    ipv4_per_eni: u32,
    price: u64,
) -> InstanceType {
    InstanceType {
        name,
        vcpu,
        memory_mib: gib * 1024,
        enis,
        ipv4_per_eni,
        on_demand_millidollars_per_hour: price,
    }
}

/// Looks up an instance type by name.
pub fn instance_type(name: &str) -> Result<&'static InstanceType, SimError> {
    INSTANCE_TYPES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| SimError::UnknownInstanceType {
            name: name.to_string(),
            known: INSTANCE_TYPES
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl InstanceType {
    /// The kubelet's `maxPods` for this type (VPC CNI, no prefix delegation).
    pub const fn max_pods(&self) -> u32 {
        self.enis * (self.ipv4_per_eni - 1) + 2
    }

    /// The nominal capacity (all vCPUs, all memory).
    pub const fn capacity(&self) -> Resources {
        Resources::new(self.vcpu as u64 * 1000, self.memory_mib)
    }

    /// `kubeReserved` CPU in milli-CPUs, by the EKS AMI's banded formula.
    pub const fn kube_reserved_cpu_millis(&self) -> u64 {
        let total = self.vcpu as u64 * 1000;
        // (band start, band end, basis points)
        let bands: [(u64, u64, u64); 4] = [
            (0, 1000, 600),
            (1000, 2000, 100),
            (2000, 4000, 50),
            (4000, u64::MAX, 25),
        ];
        let mut reserved = 0;
        let mut i = 0;
        while i < bands.len() {
            let (start, end, bp) = bands[i];
            if total > start {
                let top = if total < end { total } else { end };
                reserved += (top - start) * bp / 10_000;
            }
            i += 1;
        }
        reserved
    }

    /// `kubeReserved` memory in MiB: `11 × maxPods + 255`.
    pub const fn kube_reserved_memory_mib(&self) -> u64 {
        11 * self.max_pods() as u64 + 255
    }

    /// What the scheduler may hand out to pods on a node of this type (see the module
    /// documentation for the formula).
    pub const fn allocatable(
        &self,
        vm_memory_overhead_permille: u64,
        eviction_hard_mib: u64,
    ) -> Resources {
        let visible = self.memory_mib * (1000 - vm_memory_overhead_permille) / 1000;
        let memory = visible
            .saturating_sub(self.kube_reserved_memory_mib())
            .saturating_sub(eviction_hard_mib);
        Resources::new(
            self.vcpu as u64 * 1000 - self.kube_reserved_cpu_millis(),
            memory,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Karpenter's published allocatable for every type we model
    /// (website/content/en/docs/reference/instance-types.md).
    #[test]
    fn allocatable_matches_karpenter_table() {
        let expected: &[(&str, u32, u64, u64, u64, u64)] = &[
            // name, maxPods, kube-reserved cpu, kube-reserved mem, alloc cpu, alloc mem
            ("m5.large", 29, 70, 574, 1930, 6903),
            ("m5.xlarge", 58, 80, 893, 3920, 14162),
            ("m5.2xlarge", 58, 90, 893, 7910, 29317),
            ("m5.4xlarge", 234, 110, 2829, 15890, 57691),
            ("m6i.large", 29, 70, 574, 1930, 6903),
            ("m6i.2xlarge", 58, 90, 893, 7910, 29317),
            ("c5.large", 29, 70, 574, 1930, 3114),
            ("c5.xlarge", 58, 80, 893, 3920, 6584),
            ("c5.2xlarge", 58, 90, 893, 7910, 14162),
            ("c5.4xlarge", 234, 110, 2829, 15890, 27381),
            ("r5.large", 29, 70, 574, 1930, 14481),
            ("r5.xlarge", 58, 80, 893, 3920, 29317),
            ("r5.2xlarge", 58, 90, 893, 7910, 59627),
            ("r5.4xlarge", 234, 110, 2829, 15890, 118312),
        ];
        for &(name, max_pods, res_cpu, res_mem, cpu, mem) in expected {
            let t = instance_type(name).expect("type is in the table");
            assert_eq!(t.max_pods(), max_pods, "{name} maxPods");
            assert_eq!(t.kube_reserved_cpu_millis(), res_cpu, "{name} cpu reserve");
            assert_eq!(t.kube_reserved_memory_mib(), res_mem, "{name} mem reserve");
            assert_eq!(t.allocatable(75, 100), Resources::new(cpu, mem), "{name}");
        }
    }

    #[test]
    fn unknown_type_lists_known_ones() {
        let err = instance_type("t2.micro").expect_err("not modelled");
        assert!(err.to_string().contains("m5.2xlarge"));
    }
}
