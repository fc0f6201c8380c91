//! How Spark on Kubernetes (as run by EMR on EKS) sizes driver and executor pods.
//!
//! From Spark's `BasicDriverFeatureStep` / `BasicExecutorFeatureStep`:
//! - CPU request = `spark.kubernetes.{driver,executor}.request.cores` if set, else
//!   `spark.{driver,executor}.cores`;
//! - memory request = limit = memory + overhead, where overhead =
//!   `spark.{driver,executor}.memoryOverhead` if set, else
//!   `max(factor × memory, 384 MiB)`, truncated to whole MiB;
//! - the factor: `spark.{driver,executor}.memoryOverheadFactor` if set, else
//!   `spark.kubernetes.memoryOverheadFactor` if set, else 0.10 for JVM jobs and 0.40
//!   for PySpark/R jobs (the driver passes the non-JVM factor on to the executors, so
//!   theirs is 0.40 too).
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
    /// CPU request of the Spark container in milli-CPUs (the request cores, else cores × 1000).
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

/// The Spark settings of a job that change its pods' requests (all optional; as the
/// job's `sparkSubmitParameters`/`spark-defaults` give them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkSizingConf {
    /// `spark.kubernetes.memoryOverheadFactor`, e.g. `0.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_memory_overhead_factor: Option<String>,
    /// The driver's own settings.
    #[serde(default)]
    pub driver: RoleSizingConf,
    /// The executors' own settings.
    #[serde(default)]
    pub executor: RoleSizingConf,
}

impl SparkSizingConf {
    /// The Spark settings this reads (any other setting does not change requests).
    pub const KEYS: [&'static str; 7] = [
        "spark.kubernetes.memoryOverheadFactor",
        "spark.kubernetes.driver.request.cores",
        "spark.driver.memoryOverhead",
        "spark.driver.memoryOverheadFactor",
        "spark.kubernetes.executor.request.cores",
        "spark.executor.memoryOverhead",
        "spark.executor.memoryOverheadFactor",
    ];

    /// The sizing settings among a job's Spark settings (`spark.x.y` -> value).
    pub fn from_spark_conf(conf: &std::collections::BTreeMap<String, String>) -> Self {
        let get = |key: &str| conf.get(key).cloned();
        let role = |role: &str| RoleSizingConf {
            request_cores: get(&format!("spark.kubernetes.{role}.request.cores")),
            memory_overhead: get(&format!("spark.{role}.memoryOverhead")),
            memory_overhead_factor: get(&format!("spark.{role}.memoryOverheadFactor")),
        };
        SparkSizingConf {
            kubernetes_memory_overhead_factor: get("spark.kubernetes.memoryOverheadFactor"),
            driver: role("driver"),
            executor: role("executor"),
        }
    }
}

/// `spark.{driver,executor}.*` settings of one role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSizingConf {
    /// `spark.kubernetes.{role}.request.cores`: a Kubernetes CPU quantity (`500m`,
    /// `0.5`, `2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_cores: Option<String>,
    /// `spark.{role}.memoryOverhead`: a Spark memory size (MiB without a unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_overhead: Option<String>,
    /// `spark.{role}.memoryOverheadFactor`, e.g. `0.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_overhead_factor: Option<String>,
}

/// Which Spark pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SparkRole {
    Driver,
    Executor,
}

/// The CPU request (milli-CPUs) and memory overhead (MiB) of a `role` pod with `cores`
/// and `memory_mib`, as Spark computes them from `conf`; an error names the setting
/// that does not read.
pub fn cpu_and_overhead(
    role: SparkRole,
    cores: u32,
    memory_mib: u64,
    non_jvm: bool,
    conf: &SparkSizingConf,
    params: &SimParams,
) -> Result<(u64, u64), String> {
    let (own, name) = match role {
        SparkRole::Driver => (&conf.driver, "driver"),
        SparkRole::Executor => (&conf.executor, "executor"),
    };
    let cpu_millis = match &own.request_cores {
        Some(q) => parse_cpu_millis(q).ok_or_else(|| {
            format!("spark.kubernetes.{name}.request.cores={q} is not a CPU quantity")
        })?,
        None => u64::from(cores) * 1000,
    };
    if let Some(size) = &own.memory_overhead {
        let mib = crate::resources::parse_spark_memory_mib(size)
            .map_err(|e| format!("spark.{name}.memoryOverhead: {e}"))?;
        return Ok((cpu_millis, mib));
    }
    let factor = |key: &str, value: &str| {
        parse_factor_permille(value).ok_or_else(|| format!("{key}={value} is not a fraction"))
    };
    let kubernetes = match &conf.kubernetes_memory_overhead_factor {
        Some(v) => Some(factor("spark.kubernetes.memoryOverheadFactor", v)?),
        None => None,
    };
    let default = if non_jvm {
        params.memory_overhead_factor_non_jvm_permille
    } else {
        params.memory_overhead_factor_jvm_permille
    };
    let factor = match &own.memory_overhead_factor {
        Some(v) => factor(&format!("spark.{name}.memoryOverheadFactor"), v)?,
        None => kubernetes.unwrap_or(default),
    };
    Ok((
        cpu_millis,
        memory_overhead_mib(memory_mib, factor, params.min_memory_overhead_mib),
    ))
}

/// A Kubernetes CPU quantity in milli-CPUs: `500m`, `0.5`, `2`.
fn parse_cpu_millis(quantity: &str) -> Option<u64> {
    let q = quantity.trim();
    if let Some(millis) = q.strip_suffix('m') {
        return millis.parse().ok().filter(|&m| m > 0);
    }
    let cpus: f64 = q.parse().ok()?;
    (cpus.is_finite() && cpus > 0.0 && cpus < 1e6).then(|| (cpus * 1000.0).round() as u64)
}

/// A fraction such as `0.2` in per-mille (200).
fn parse_factor_permille(value: &str) -> Option<u64> {
    let f: f64 = value.trim().parse().ok()?;
    (f.is_finite() && (0.0..1000.0).contains(&f)).then(|| (f * 1000.0).round() as u64)
}

/// Spark's memory overhead: `max(memory × factor, minimum)`, factor in per-mille.
pub fn memory_overhead_mib(memory_mib: u64, factor_permille: u64, minimum_mib: u64) -> u64 {
    (memory_mib * factor_permille / 1000).max(minimum_mib)
}

/// Sizes a driver or executor pod from its CPU request and memory with overhead (see
/// [`cpu_and_overhead`]).
///
/// `monitoring` adds EMR's fluentd sidecar; `template_sidecars` are the requests of
/// extra containers declared in the pod template.
pub fn spark_pod_sizing(
    cpu_millis: u64,
    memory_mib: u64,
    overhead_mib: u64,
    monitoring: bool,
    template_sidecars: Resources,
    params: &SimParams,
) -> SparkPodSizing {
    let mut sidecars = template_sidecars;
    if monitoring {
        sidecars += params.emr_fluentd_sidecar_requests;
    }
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

    fn sized(
        role: SparkRole,
        cores: u32,
        memory_mib: u64,
        non_jvm: bool,
        monitoring: bool,
        conf: &SparkSizingConf,
        p: &SimParams,
    ) -> SparkPodSizing {
        let (cpu, overhead) =
            cpu_and_overhead(role, cores, memory_mib, non_jvm, conf, p).expect("valid settings");
        spark_pod_sizing(cpu, memory_mib, overhead, monitoring, Resources::ZERO, p)
    }

    /// Every key it names is one it reads.
    #[test]
    fn the_keys_are_the_settings_it_reads() {
        for key in SparkSizingConf::KEYS {
            let conf = std::collections::BTreeMap::from([(key.to_string(), "1".to_string())]);
            assert_ne!(
                SparkSizingConf::from_spark_conf(&conf),
                SparkSizingConf::default(),
                "{key}"
            );
        }
    }

    /// Each setting changes the requests as Spark's feature steps compute them.
    #[test]
    fn each_sizing_setting_changes_the_requests_as_spark_does() {
        let p = SimParams::default();
        let conf = |f: &dyn Fn(&mut SparkSizingConf)| {
            let mut c = SparkSizingConf::default();
            f(&mut c);
            c
        };
        // An explicit overhead wins over any factor.
        let c = conf(&|c| c.executor.memory_overhead = Some("1g".into()));
        assert_eq!(
            sized(SparkRole::Executor, 1, 4096, true, false, &c, &p).requests,
            Resources::new(1000, 5120)
        );
        // The role's factor, above the 384 floor.
        let c = conf(&|c| c.executor.memory_overhead_factor = Some("0.25".into()));
        assert_eq!(
            sized(SparkRole::Executor, 1, 4096, false, false, &c, &p).overhead_mib,
            1024
        );
        // The Kubernetes factor applies to both roles when theirs is unset...
        let c = conf(&|c| c.kubernetes_memory_overhead_factor = Some("0.2".into()));
        assert_eq!(
            sized(SparkRole::Driver, 1, 4096, true, false, &c, &p).overhead_mib,
            819
        );
        assert_eq!(
            sized(SparkRole::Executor, 1, 4096, true, false, &c, &p).overhead_mib,
            819
        );
        // ...and the role's own factor wins over it.
        let c = conf(&|c| {
            c.kubernetes_memory_overhead_factor = Some("0.2".into());
            c.driver.memory_overhead_factor = Some("0.5".into());
        });
        assert_eq!(
            sized(SparkRole::Driver, 1, 4096, false, false, &c, &p).overhead_mib,
            2048
        );
        assert_eq!(
            sized(SparkRole::Executor, 1, 4096, false, false, &c, &p).overhead_mib,
            819
        );
        // The CPU request, in any Kubernetes spelling.
        for (q, millis) in [("500m", 500), ("0.5", 500), ("2", 2000)] {
            let c = conf(&|c| c.executor.request_cores = Some(q.into()));
            assert_eq!(
                sized(SparkRole::Executor, 4, 2048, false, false, &c, &p).cpu_millis,
                millis
            );
        }
        // Nonsense is an error naming the setting.
        let c = conf(&|c| c.executor.request_cores = Some("lots".into()));
        let err = cpu_and_overhead(SparkRole::Executor, 1, 2048, false, &c, &p).expect_err("bad");
        assert!(
            err.contains("spark.kubernetes.executor.request.cores=lots"),
            "{err}"
        );
    }

    #[test]
    fn spark_docs_example() {
        // executor.memory=4g, JVM: 4096 + max(409, 384) = 4505Mi
        let p = SimParams::default();
        let s = sized(
            SparkRole::Executor,
            1,
            4096,
            false,
            false,
            &SparkSizingConf::default(),
            &p,
        );
        assert_eq!(s.requests, Resources::new(1000, 4505));
    }

    #[test]
    fn pyspark_two_gig_executor_with_emr_sidecar() {
        let p = SimParams::default();
        // 2048 + max(819, 384) + 200 (fluentd) = 3067
        let none = SparkSizingConf::default();
        let s = sized(SparkRole::Executor, 1, 2048, true, true, &none, &p);
        assert_eq!(s.overhead_mib, 819);
        assert_eq!(s.requests, Resources::new(1000, 3067));
        // JVM: the 384 floor applies
        let s = sized(SparkRole::Executor, 1, 2048, false, false, &none, &p);
        assert_eq!(s.requests, Resources::new(1000, 2432));
    }
}
