//! How Spark on Kubernetes (as run by EMR on EKS) sizes driver and executor pods.
//!
//! From Spark's `BasicDriverFeatureStep` / `BasicExecutorFeatureStep`:
//! - CPU request = `spark.{driver,executor}.cores` (as whole CPUs);
//! - memory request = limit = memory + overhead, where overhead =
//!   `max(factor × memory, 384 MiB)`, truncated to whole MiB, with factor 0.10 for JVM
//!   jobs and 0.40 for PySpark/R jobs (Spark passes the non-JVM factor on to the
//!   executors too).
//!
//! EMR on EKS adds the `emr-container-fluentd` logging sidecar to driver and executor
//! pods when the job has a monitoring configuration (200Mi request), and a pod
//! template can add more sidecars. A pod's request is the sum over its containers.

use serde::{Deserialize, Serialize};

use crate::params::SimParams;
use crate::resources::Resources;

/// The breakdown of one Spark pod's requests, kept so reports can show the arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkPodSizing {
    /// CPU request of the Spark container in milli-CPUs (cores × 1000).
    pub cpu_millis: u64,
    /// `spark.{driver,executor}.memory` in MiB.
    pub memory_mib: u64,
    /// Memory overhead in MiB.
    pub overhead_mib: u64,
    /// Requests of the EMR logging sidecar and template sidecars.
    pub sidecars: Resources,
    /// The pod's total requests.
    pub requests: Resources,
}

/// Spark's memory overhead: `max(memory × factor, minimum)`, factor in per-mille.
pub fn memory_overhead_mib(memory_mib: u64, factor_permille: u64, minimum_mib: u64) -> u64 {
    (memory_mib * factor_permille / 1000).max(minimum_mib)
}

/// Sizes a driver or executor pod.
///
/// `monitoring` adds EMR's fluentd sidecar; `template_sidecars` are the requests of
/// extra containers declared in the pod template.
pub fn spark_pod_sizing(
    cores: u32,
    memory_mib: u64,
    non_jvm: bool,
    monitoring: bool,
    template_sidecars: Resources,
    params: &SimParams,
) -> SparkPodSizing {
    let factor = if non_jvm {
        params.memory_overhead_factor_non_jvm_permille
    } else {
        params.memory_overhead_factor_jvm_permille
    };
    let overhead_mib = memory_overhead_mib(memory_mib, factor, params.min_memory_overhead_mib);
    let mut sidecars = template_sidecars;
    if monitoring {
        sidecars += params.emr_fluentd_sidecar_requests;
    }
    let cpu_millis = u64::from(cores) * 1000;
    SparkPodSizing {
        cpu_millis,
        memory_mib,
        overhead_mib,
        sidecars,
        requests: Resources::new(cpu_millis, memory_mib + overhead_mib).plus(&sidecars),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_docs_example() {
        // executor.memory=4g, JVM: 4096 + max(409, 384) = 4505Mi
        let p = SimParams::default();
        let s = spark_pod_sizing(1, 4096, false, false, Resources::ZERO, &p);
        assert_eq!(s.requests, Resources::new(1000, 4505));
    }

    #[test]
    fn pyspark_two_gig_executor_with_emr_sidecar() {
        let p = SimParams::default();
        // 2048 + max(819, 384) + 200 (fluentd) = 3067
        let s = spark_pod_sizing(1, 2048, true, true, Resources::ZERO, &p);
        assert_eq!(s.overhead_mib, 819);
        assert_eq!(s.requests, Resources::new(1000, 3067));
        // JVM: the 384 floor applies
        let s = spark_pod_sizing(1, 2048, false, false, Resources::ZERO, &p);
        assert_eq!(s.requests, Resources::new(1000, 2432));
    }
}
