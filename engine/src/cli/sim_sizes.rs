//! `runbook sim sizes`: the numbers that decide whether anything is preempted, where an
//! author sizes a scenario. What a node of each instance type can give pods (EKS's
//! allocatable, minus the DaemonSets every node runs), and what Spark's driver and
//! executor pods request for the job settings given, computed by the simulator's own
//! functions (the same ones its scheduler uses).

use std::collections::BTreeMap;

use runbook_sim::instance_types::INSTANCE_TYPES;
use runbook_sim::resources::parse_spark_memory_mib;
use runbook_sim::spark::{SparkRole, SparkSizingConf, cpu_and_overhead, spark_pod_sizing};
use runbook_sim::{Resources, SimParams};

use crate::error::Error;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct SizesArgs {
    /// `spark.executor.memory`
    #[arg(long, default_value = "2G", value_name = "SIZE")]
    pub executor_memory: String,
    /// `spark.executor.cores`
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub executor_cores: u32,
    /// `spark.driver.memory`
    #[arg(long, default_value = "1G", value_name = "SIZE")]
    pub driver_memory: String,
    /// `spark.driver.cores`
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub driver_cores: u32,
    /// A JVM application (Scala/Java) instead of PySpark: memory overhead factor 0.1,
    /// not 0.4
    #[arg(long)]
    pub jvm: bool,
    /// No CloudWatch or S3 monitoring configuration (EMR then adds no logging sidecar)
    #[arg(long)]
    pub no_monitoring: bool,
    /// Other Spark settings that change pod requests, e.g.
    /// `--conf spark.executor.memoryOverhead=1g`
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    pub conf: Vec<String>,
}

pub(super) fn sizes(args: &SizesArgs) -> Result<Exit, Error> {
    let params = SimParams::default();
    let conf = sizing_conf(&args.conf)?;
    let daemonsets = params.aws_node_requests.plus(&params.kube_proxy_requests);
    println!(
        "Node allocatable by instance type (EKS's formula; minus the DaemonSets every node runs, aws-node and kube-proxy: {}m, {}Mi):",
        daemonsets.cpu_millis, daemonsets.memory_mib
    );
    println!(
        "  {:<12} {:>5} {:>9} {:>18} {:>18}",
        "type", "vCPU", "memory", "allocatable", "left for pods"
    );
    for t in INSTANCE_TYPES {
        let allocatable = t.allocatable(
            params.vm_memory_overhead_permille,
            params.eviction_hard_memory_mib,
        );
        let left = Resources::new(
            allocatable.cpu_millis.saturating_sub(daemonsets.cpu_millis),
            allocatable.memory_mib.saturating_sub(daemonsets.memory_mib),
        );
        println!(
            "  {:<12} {:>5} {:>7}Mi {:>18} {:>18}",
            t.name,
            t.vcpu,
            t.memory_mib,
            show(allocatable),
            show(left)
        );
    }
    println!(
        "  (the cluster's {} CoreDNS replicas take {}m, {}Mi each on some node)",
        params.coredns_replicas,
        params.coredns_requests.cpu_millis,
        params.coredns_requests.memory_mib
    );
    println!();
    println!(
        "Spark pod requests ({} application{}):",
        if args.jvm { "JVM" } else { "PySpark" },
        if args.no_monitoring {
            ", no monitoring configuration"
        } else {
            ", with EMR's logging sidecar"
        }
    );
    for (role, name, cores, memory) in [
        (
            SparkRole::Driver,
            "driver",
            args.driver_cores,
            &args.driver_memory,
        ),
        (
            SparkRole::Executor,
            "executor",
            args.executor_cores,
            &args.executor_memory,
        ),
    ] {
        let memory_mib = parse_spark_memory_mib(memory).map_err(|e| invalid(&e.to_string()))?;
        let (cpu, overhead) = cpu_and_overhead(role, cores, memory_mib, !args.jvm, &conf, &params)
            .map_err(|e| invalid(&e))?;
        let sizing = spark_pod_sizing(
            cpu,
            memory_mib,
            overhead,
            !args.no_monitoring,
            Resources::ZERO,
            &params,
        );
        println!(
            "  {name:<9} cpu {}m; memory {memory_mib} + {overhead} overhead + {} sidecar = {}Mi",
            sizing.requests.cpu_millis, sizing.sidecars.memory_mib, sizing.requests.memory_mib
        );
    }
    println!(
        "  (EMR's job runner pod adds {}m, {}Mi per job; a pod template's own sidecars add theirs)",
        params.job_runner_requests.cpu_millis + params.job_runner_logging_requests.cpu_millis,
        params.job_runner_requests.memory_mib + params.job_runner_logging_requests.memory_mib
    );
    Ok(Exit::Ok)
}

fn show(r: Resources) -> String {
    format!("{}m {}Mi", r.cpu_millis, r.memory_mib)
}

/// The `--conf` settings that size pods; any other key is refused, naming the ones
/// that count.
fn sizing_conf(conf: &[String]) -> Result<SparkSizingConf, Error> {
    let mut given = BTreeMap::new();
    for kv in conf {
        let Some((key, value)) = kv.split_once('=') else {
            return Err(invalid(&format!("--conf {kv}: expected KEY=VALUE")));
        };
        given.insert(key.trim().to_string(), value.trim().to_string());
    }
    if let Some(key) = given
        .keys()
        .find(|k| !SparkSizingConf::KEYS.contains(&k.as_str()))
    {
        return Err(invalid(&format!(
            "--conf {key} does not change pod requests; the settings that do: {} (memory and cores have their own flags)",
            SparkSizingConf::KEYS.join(", ")
        )));
    }
    Ok(SparkSizingConf::from_spark_conf(&given))
}

fn invalid(message: &str) -> Error {
    Error::BadArgument(message.to_string())
}
