//! The commands: what the AWS APIs (EKS, EMR on EKS, IAM, CloudWatch Logs, S3) and the
//! Kubernetes API accept, with their validation and their "already exists" / "not
//! found" errors. Commands change state at the current virtual time and schedule
//! what follows; nothing happens until the clock advances.

use std::collections::BTreeMap;

use crate::autoscaler::{Autoscaler, AutoscalerSpec};
use crate::cluster::{
    Cluster, ClusterSpec, ClusterStatus, DaemonSet, NodeGroup, NodeGroupSpec, SYSTEM_NAMESPACES,
};
use crate::emr::{JobPodInputs, build_pod_specs};
use crate::error::SimError;
use crate::event::{EventKind, TerminationReason};
use crate::iam::Role;
use crate::instance_types::instance_type;
use crate::job_run::{
    JobRun, JobRunRef, JobState, JobSubmission, PodTemplateSource, Task, TaskStatus,
};
use crate::log_group::LogGroup;
use crate::node_affinity::NodePlacement;
use crate::pod::PodRole;
use crate::pod_template::PodTemplate;
use crate::priority::{PriorityClassSpec, SYSTEM_CLUSTER_CRITICAL, SYSTEM_NODE_CRITICAL};
use crate::resources::parse_spark_memory_mib;
use crate::s3::{Bucket, parse_s3_uri};
use crate::scheduler::SchedulerState;
use crate::shared_str::SharedStr;
use crate::spark::{SparkRole, cpu_and_overhead, spark_pod_sizing};
use crate::timer::{NodeLaunch, TimerKind};
use crate::virtual_cluster::{VirtualCluster, VirtualClusterState};
use crate::world::{NewPod, World};

/// The namespace Container Insights runs in.
pub const CONTAINER_INSIGHTS_NAMESPACE: &str = "amazon-cloudwatch";

impl World {
    pub(crate) fn active_cluster(&self, name: &str) -> Result<u32, SimError> {
        let c = self.cluster_index(name)?;
        let status = self.clusters[c as usize].status;
        if status != ClusterStatus::Active {
            return Err(SimError::ClusterNotActive {
                name: name.to_string(),
                status: status.to_string(),
            });
        }
        Ok(c)
    }

    // ------------------------------------------------------------------ EKS

    /// EKS CreateCluster with its managed node groups (eksctl's ClusterConfig). The
    /// cluster is ACTIVE after `cluster_create_ms`; then the node groups' instances
    /// launch and register.
    pub fn create_cluster(&mut self, spec: ClusterSpec) -> Result<&Cluster, SimError> {
        if spec.name.is_empty() {
            return Err(SimError::InvalidNodeGroup {
                name: String::new(),
                reason: "the cluster needs a name".to_string(),
            });
        }
        if self.cluster_index(&spec.name).is_ok() {
            return Err(SimError::ClusterAlreadyExists { name: spec.name });
        }
        if crate::eks_versions::offered(&spec.version).is_none() {
            return Err(SimError::UnsupportedVersion {
                version: spec.version,
                offered: crate::eks_versions::offered_list(),
                as_of: crate::eks_versions::AS_OF,
            });
        }
        let mut nodegroups = BTreeMap::new();
        for ng in &spec.nodegroups {
            validate_node_group(ng)?;
            if nodegroups
                .insert(
                    ng.name.clone(),
                    NodeGroup {
                        spec: ng.clone(),
                        active: false,
                    },
                )
                .is_some()
            {
                return Err(SimError::InvalidNodeGroup {
                    name: ng.name.clone(),
                    reason: "duplicate node group name".to_string(),
                });
            }
        }
        let region = spec.region.unwrap_or_else(|| self.params.region.clone());
        let account = spec
            .account_id
            .unwrap_or_else(|| self.params.account_id.clone());
        let hex = crate::ids::hex(&mut self.rng, 32).to_uppercase();
        let coredns_hash = crate::ids::hex(&mut self.rng, 10);
        let daemonsets = vec![
            DaemonSet {
                name: "aws-node".to_string(),
                namespace: "kube-system".to_string(),
                requests: self.params.aws_node_requests,
                image: "amazon-k8s-cni".to_string(),
                priority_class: Some(SYSTEM_NODE_CRITICAL.to_string()),
            },
            DaemonSet {
                name: "kube-proxy".to_string(),
                namespace: "kube-system".to_string(),
                requests: self.params.kube_proxy_requests,
                image: "kube-proxy".to_string(),
                priority_class: Some(SYSTEM_NODE_CRITICAL.to_string()),
            },
        ];
        let cluster = Cluster {
            arn: format!("arn:aws:eks:{region}:{account}:cluster/{}", spec.name),
            name: spec.name.clone(),
            version: spec.version,
            endpoint: format!("https://{hex}.gr7.{region}.eks.amazonaws.com"),
            oidc_issuer: format!("https://oidc.eks.{region}.amazonaws.com/id/{hex}"),
            zones: vec![format!("{region}a"), format!("{region}b")],
            region,
            account_id: account,
            status: ClusterStatus::Creating,
            created_at_ms: self.now,
            active_at_ms: None,
            nodegroups,
            namespaces: SYSTEM_NAMESPACES.iter().map(|s| s.to_string()).collect(),
            priority_classes: Default::default(),
            daemonsets,
            autoscaler: None,
            objects: BTreeMap::new(),
            nodes: Vec::new(),
            pod_names: BTreeMap::new(),
            sched: SchedulerState::default(),
            reconcile_scheduled: false,
            next_zone: 0,
            coredns_hash,
        };
        let c = self.clusters.len() as u32;
        self.clusters.push(cluster);
        self.cluster_ids.insert(spec.name.clone(), c);
        self.emit(EventKind::ClusterCreating {
            cluster: spec.name.into(),
        });
        let delay = self.params.cluster_create_ms;
        self.schedule_in(delay, TimerKind::ClusterActive { cluster: c });
        Ok(&self.clusters[c as usize])
    }

    pub(crate) fn on_cluster_active(&mut self, c: u32) {
        if self.clusters[c as usize].status != ClusterStatus::Creating {
            return;
        }
        let now = self.now;
        let cluster = &mut self.clusters[c as usize];
        cluster.status = ClusterStatus::Active;
        cluster.active_at_ms = Some(now);
        let name = cluster.name.clone();
        let groups: Vec<_> = cluster
            .nodegroups
            .values()
            .map(|g| g.spec.clone())
            .collect();
        self.emit(EventKind::ClusterActive {
            cluster: name.clone().into(),
        });
        for _ in 0..self.params.coredns_replicas {
            self.create_coredns_pod(c);
        }
        for ng in groups {
            self.launch_node_group(c, &ng);
        }
    }

    /// Launches the instances of a managed node group; they register after
    /// `node_launch_ms`.
    pub(crate) fn launch_node_group(&mut self, c: u32, ng: &NodeGroupSpec) {
        for _ in 0..ng.desired_size {
            let region = self.clusters[c as usize].region.clone();
            let node = self.new_node_name(&region);
            let cluster = &mut self.clusters[c as usize];
            let zone = cluster.zones[(cluster.next_zone as usize) % cluster.zones.len()].clone();
            cluster.next_zone += 1;
            self.launch_node(
                NodeLaunch {
                    cluster: c,
                    name: node,
                    instance_type: ng.instance_type.clone(),
                    capacity_type: ng.capacity_type,
                    nodegroup: Some(ng.name.clone()),
                    provisioner: None,
                    zone,
                    extra_labels: ng.labels.clone().into_iter().collect(),
                },
                0,
            );
        }
    }

    /// Announces the launch of an instance (for `pending_pods` pods waiting on it) and
    /// schedules its registration as a node after `node_launch_ms`: how a managed node
    /// group's and the autoscaler's instances both begin.
    pub(crate) fn launch_node(&mut self, launch: NodeLaunch, pending_pods: u32) {
        self.emit(EventKind::NodeLaunched {
            cluster: self.clusters[launch.cluster as usize].name.clone().into(),
            node: launch.name.clone().into(),
            instance_type: launch.instance_type.clone().into(),
            capacity_type: launch.capacity_type,
            nodegroup: launch.nodegroup.clone().map(Into::into),
            provisioner: launch.provisioner.clone().map(Into::into),
            pending_pods,
        });
        let delay = self.params.node_launch_ms;
        self.schedule_in(
            delay,
            TimerKind::NodeRegistered {
                launch: Box::new(launch),
            },
        );
    }

    fn create_coredns_pod(&mut self, c: u32) {
        let suffix = crate::ids::name_suffix(&mut self.rng);
        let mut labels: BTreeMap<SharedStr, SharedStr> = BTreeMap::new();
        labels.insert("k8s-app".into(), "kube-dns".into());
        let spec = NewPod {
            cluster: c,
            namespace: "kube-system".into(),
            name: format!(
                "coredns-{}-{suffix}",
                self.clusters[c as usize].coredns_hash
            )
            .into(),
            role: PodRole::System,
            job: None,
            executor_id: None,
            labels,
            image: "coredns".into(),
            priority_class: Some(SYSTEM_CLUSTER_CRITICAL.to_string()),
            node_placement: NodePlacement::default(),
            containers: vec![("coredns".into(), self.params.coredns_requests)],
            grace_seconds: self.params.termination_grace_period_s,
            daemonset: false,
        };
        // kube-system and the system class always exist.
        let _ = self.admit_pod(spec);
    }

    /// The ReplicaSet controller replaces a deleted CoreDNS pod.
    pub(crate) fn recreate_system_replica(&mut self, pod: u32) {
        let c = self.pods[pod as usize].cluster_idx;
        if self.clusters[c as usize].status == ClusterStatus::Active
            && self.pods[pod as usize].name.starts_with("coredns-")
        {
            self.create_coredns_pod(c);
        }
    }

    /// EKS DeleteCluster (with its node groups, as `eksctl delete cluster` does): the
    /// nodes and their pods go at once; virtual clusters on it become ARRESTED; the
    /// cluster is gone after `cluster_delete_ms`.
    pub fn delete_cluster(&mut self, name: &str) -> Result<(), SimError> {
        let c = self.cluster_index(name)?;
        if self.clusters[c as usize].status == ClusterStatus::Deleting {
            return Ok(());
        }
        self.clusters[c as usize].status = ClusterStatus::Deleting;
        self.emit(EventKind::ClusterDeleting {
            cluster: name.to_string().into(),
        });
        let nodes = self.clusters[c as usize].nodes.clone();
        for n in nodes {
            self.remove_node(
                n,
                "cluster deleted".to_string(),
                TerminationReason::ClusterDeleted,
            );
        }
        let remaining: Vec<u32> = self.clusters[c as usize]
            .pod_names
            .values()
            .copied()
            .collect();
        for pod in remaining {
            self.delete_pod(pod, TerminationReason::ClusterDeleted);
        }
        for vc in self.virtual_clusters.values_mut() {
            if vc.cluster == name && vc.state == VirtualClusterState::Running {
                vc.state = VirtualClusterState::Arrested;
            }
        }
        self.clusters[c as usize].autoscaler = None;
        let delay = self.params.cluster_delete_ms;
        self.schedule_in(delay, TimerKind::ClusterDeleted { cluster: c });
        Ok(())
    }

    pub(crate) fn on_cluster_deleted(&mut self, c: u32) {
        let cluster = &mut self.clusters[c as usize];
        if cluster.status != ClusterStatus::Deleting {
            return;
        }
        cluster.status = ClusterStatus::Deleted;
        let name = cluster.name.clone();
        self.emit(EventKind::ClusterDeleted {
            cluster: name.into(),
        });
    }

    /// Creates a namespace.
    pub fn create_namespace(&mut self, cluster: &str, name: &str) -> Result<(), SimError> {
        let c = self.active_cluster(cluster)?;
        if !self.clusters[c as usize]
            .namespaces
            .insert(name.to_string())
        {
            return Err(SimError::NamespaceAlreadyExists {
                cluster: cluster.to_string(),
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// Deletes a namespace, (gracefully) every pod in it and every object it stores.
    pub fn delete_namespace(&mut self, cluster: &str, name: &str) -> Result<(), SimError> {
        let c = self.active_cluster(cluster)?;
        if SYSTEM_NAMESPACES.contains(&name) {
            return Err(SimError::NamespaceProtected {
                name: name.to_string(),
            });
        }
        if !self.clusters[c as usize].namespaces.remove(name) {
            return Err(SimError::NamespaceNotFound {
                cluster: cluster.to_string(),
                name: name.to_string(),
            });
        }
        let pods: Vec<u32> = self.clusters[c as usize]
            .pod_names
            .iter()
            .filter(|(k, _)| k.split_once('/').is_some_and(|(ns, _)| ns == name))
            .map(|(_, &p)| p)
            .collect();
        for pod in pods {
            self.delete_pod(pod, TerminationReason::NamespaceDeleted);
        }
        self.delete_namespace_objects(c, name);
        Ok(())
    }

    /// Creates a PriorityClass (at most one may be `globalDefault`).
    pub fn create_priority_class(
        &mut self,
        cluster: &str,
        spec: PriorityClassSpec,
    ) -> Result<(), SimError> {
        let c = self.active_cluster(cluster)?;
        self.clusters[c as usize]
            .priority_classes
            .create(cluster, spec)
    }

    /// Deletes a PriorityClass (pods keep the priority they were admitted with).
    pub fn delete_priority_class(&mut self, cluster: &str, name: &str) -> Result<(), SimError> {
        let c = self.active_cluster(cluster)?;
        self.clusters[c as usize]
            .priority_classes
            .delete(cluster, name)
    }

    /// Installs CloudWatch Container Insights (walkthrough row 6): the
    /// `cloudwatch-agent` and `fluentd-cloudwatch` DaemonSets in `amazon-cloudwatch`,
    /// one pod per node, taking node capacity like any pod.
    pub fn enable_container_insights(&mut self, cluster: &str) -> Result<(), SimError> {
        let c = self.active_cluster(cluster)?;
        if self.clusters[c as usize]
            .daemonsets
            .iter()
            .any(|d| d.namespace == CONTAINER_INSIGHTS_NAMESPACE)
        {
            return Ok(());
        }
        self.clusters[c as usize]
            .namespaces
            .insert(CONTAINER_INSIGHTS_NAMESPACE.to_string());
        let new = [
            (
                "cloudwatch-agent",
                self.params.cloudwatch_agent_requests,
                "cloudwatch-agent",
            ),
            (
                "fluentd-cloudwatch",
                self.params.fluentd_daemonset_requests,
                "fluentd",
            ),
        ];
        for (name, requests, image) in new {
            let ds = DaemonSet {
                name: name.to_string(),
                namespace: CONTAINER_INSIGHTS_NAMESPACE.to_string(),
                requests,
                image: image.to_string(),
                priority_class: None,
            };
            self.clusters[c as usize].daemonsets.push(ds.clone());
            let nodes = self.clusters[c as usize].nodes.clone();
            for n in nodes {
                self.create_daemonset_pod(c, n, &ds);
            }
        }
        self.request_reconcile(c);
        Ok(())
    }

    /// Installs (or replaces) the Karpenter-like autoscaler.
    pub fn enable_autoscaling(
        &mut self,
        cluster: &str,
        spec: AutoscalerSpec,
    ) -> Result<(), SimError> {
        let c = self.active_cluster(cluster)?;
        spec.validate()?;
        let mut autoscaler = Autoscaler::new(spec);
        if let Some(old) = self.clusters[c as usize].autoscaler.take() {
            autoscaler.inflight = old.inflight;
            autoscaler.launched = old.launched;
        }
        self.clusters[c as usize].autoscaler = Some(autoscaler);
        self.request_reconcile(c);
        Ok(())
    }

    /// Removes the autoscaler (nodes it launched stay).
    pub fn disable_autoscaling(&mut self, cluster: &str) -> Result<(), SimError> {
        let c = self.cluster_index(cluster)?;
        self.clusters[c as usize].autoscaler = None;
        Ok(())
    }

    // ------------------------------------------------------------------ EMR

    /// EMR CreateVirtualCluster on a namespace of an ACTIVE cluster. Returns the id.
    pub fn create_virtual_cluster(
        &mut self,
        name: &str,
        cluster: &str,
        namespace: &str,
    ) -> Result<String, SimError> {
        let c = self.active_cluster(cluster)?;
        if !self.clusters[c as usize].namespaces.contains(namespace) {
            return Err(SimError::NamespaceNotFound {
                cluster: cluster.to_string(),
                name: namespace.to_string(),
            });
        }
        if let Some(existing) = self.virtual_clusters.values().find(|v| {
            v.cluster == cluster
                && v.namespace == namespace
                && v.state == VirtualClusterState::Running
        }) {
            return Err(SimError::NamespaceAlreadyRegistered {
                cluster: cluster.to_string(),
                namespace: namespace.to_string(),
                existing: existing.id.clone(),
            });
        }
        let id = loop {
            let id = crate::ids::virtual_cluster_id(&mut self.rng);
            if !self.virtual_clusters.contains_key(&id) {
                break id;
            }
        };
        let cl = &self.clusters[c as usize];
        let vc = VirtualCluster {
            arn: format!(
                "arn:aws:emr-containers:{}:{}:/virtualclusters/{id}",
                cl.region, cl.account_id
            ),
            id: id.clone(),
            name: name.to_string(),
            cluster: cluster.to_string(),
            namespace: namespace.to_string(),
            state: VirtualClusterState::Running,
            created_at_ms: self.now,
        };
        self.virtual_clusters.insert(id.clone(), vc);
        Ok(id)
    }

    /// EMR DeleteVirtualCluster (succeeds if already terminated).
    pub fn delete_virtual_cluster(&mut self, id: &str) -> Result<(), SimError> {
        let vc = self
            .virtual_clusters
            .get_mut(id)
            .ok_or_else(|| SimError::VirtualClusterNotFound { id: id.to_string() })?;
        vc.state = VirtualClusterState::Terminated;
        Ok(())
    }

    /// Reads and parses a pod template from an `s3://bucket/key` object.
    pub fn resolve_pod_template(&self, uri: &str) -> Result<PodTemplate, SimError> {
        let (bucket, key) = parse_s3_uri(uri)?;
        let bytes = self.get_object(bucket, key)?;
        let text = std::str::from_utf8(bytes).map_err(|_| SimError::InvalidPodTemplate {
            source_name: uri.to_string(),
            reason: "the object is not UTF-8 text".to_string(),
        })?;
        PodTemplate::from_yaml_named(text, uri)
    }

    fn resolve_template_source(
        &self,
        source: &Option<PodTemplateSource>,
    ) -> Result<PodTemplate, SimError> {
        match source {
            None => Ok(PodTemplate::default()),
            Some(PodTemplateSource::Inline(t)) => Ok(t.clone()),
            Some(PodTemplateSource::S3(uri)) => self.resolve_pod_template(uri),
        }
    }

    /// EMR StartJobRun. Validates the request as EMR and the API server would (the
    /// virtual cluster, the role, the Spark sizes, the pod templates and the
    /// PriorityClasses they name), then accepts the job in state PENDING.
    ///
    /// A request with the `client_token` of an earlier job on the same virtual
    /// cluster returns that job instead of starting another (EMR's idempotency).
    pub fn submit_job_run(&mut self, sub: JobSubmission) -> Result<JobRunRef, SimError> {
        let invalid = |reason: String| SimError::InvalidJobRun { reason };
        if let Some(token) = &sub.client_token {
            if let Some(j) = self.jobs.iter().find(|j| {
                j.client_token.as_ref() == Some(token)
                    && j.virtual_cluster_id == sub.virtual_cluster_id
            }) {
                return Ok(JobRunRef {
                    id: j.id.to_string(),
                    name: j.name.to_string(),
                    arn: j.arn.to_string(),
                    virtual_cluster_id: j.virtual_cluster_id.to_string(),
                });
            }
        }
        let vc = self.virtual_cluster(&sub.virtual_cluster_id)?.clone();
        if vc.state != VirtualClusterState::Running {
            return Err(SimError::VirtualClusterNotRunning {
                id: vc.id,
                state: vc.state.to_string(),
            });
        }
        if sub.name.is_empty() || sub.name.len() > 64 {
            return Err(invalid(
                "the job name must be 1 to 64 characters".to_string(),
            ));
        }
        if !sub.release_label.starts_with("emr-") {
            return Err(invalid(format!(
                "release label `{}` is not an EMR release (expected e.g. emr-6.4.0-latest)",
                sub.release_label
            )));
        }
        let execution_role_arn = match &sub.execution_role_arn {
            None => None,
            Some(role) => {
                let name = role.rsplit_once(":role/").map_or(role.as_str(), |(_, n)| n);
                let name = name.rsplit('/').next().unwrap_or(name);
                Some(self.role(name)?.arn.clone())
            }
        };
        if sub.executors == 0 {
            return Err(invalid(
                "spark.executor.instances must be at least 1".to_string(),
            ));
        }
        if sub.executor_cores == 0 || sub.driver_cores == 0 {
            return Err(invalid(
                "spark.executor.cores and spark.driver.cores must be at least 1".to_string(),
            ));
        }
        let executor_memory = parse_spark_memory_mib(&sub.executor_memory)?;
        let driver_memory = match &sub.driver_memory {
            Some(m) => parse_spark_memory_mib(m)?,
            None => self.params.default_driver_memory_mib,
        };
        let durations = match &sub.task_durations_ms {
            Some(d) if d.is_empty() => return Err(invalid("the task list is empty".to_string())),
            Some(d) if d.contains(&0) => {
                return Err(invalid("task durations must be positive".to_string()));
            }
            Some(d) => d.clone(),
            None => self.params.default_task_durations_ms.clone(),
        };
        let driver_template = self.resolve_template_source(&sub.driver_pod_template)?;
        let executor_template = self.resolve_template_source(&sub.executor_pod_template)?;
        let c =
            self.cluster_index(&vc.cluster)
                .map_err(|_| SimError::VirtualClusterNotRunning {
                    id: vc.id.clone(),
                    state: VirtualClusterState::Arrested.to_string(),
                })?;
        for (role, template) in [
            ("driver", &driver_template),
            ("executor", &executor_template),
        ] {
            if let Some(class) = &template.priority_class_name {
                if self.clusters[c as usize]
                    .priority_classes
                    .get(class)
                    .is_none()
                {
                    return Err(SimError::UnknownPriorityClass {
                        cluster: vc.cluster.clone(),
                        role: role.to_string(),
                        name: class.clone(),
                    });
                }
            }
        }
        let (executor_cpu, executor_overhead) = cpu_and_overhead(
            SparkRole::Executor,
            sub.executor_cores,
            executor_memory,
            sub.non_jvm,
            &sub.sizing,
            &self.params,
        )
        .map_err(invalid)?;
        let (driver_cpu, driver_overhead) = cpu_and_overhead(
            SparkRole::Driver,
            sub.driver_cores,
            driver_memory,
            sub.non_jvm,
            &sub.sizing,
            &self.params,
        )
        .map_err(invalid)?;
        let executor_sizing = spark_pod_sizing(
            executor_cpu,
            executor_memory,
            executor_overhead,
            sub.monitoring,
            executor_template.sidecar_requests,
            &self.params,
        );
        let driver_sizing = spark_pod_sizing(
            driver_cpu,
            driver_memory,
            driver_overhead,
            sub.monitoring,
            driver_template.sidecar_requests,
            &self.params,
        );
        let id = loop {
            let id = crate::ids::job_run_id(&mut self.rng);
            if !self.job_ids.contains_key(&id) {
                break id;
            }
        };
        let spark_app_id = format!("spark-{}", crate::ids::hex(&mut self.rng, 32));
        let executor_pod_prefix = format!(
            "{}-{}",
            crate::ids::dns_label(&sub.name, 30),
            crate::ids::hex(&mut self.rng, 16)
        );
        let arn = format!("{}/jobruns/{id}", vc.arn);
        let tasks: Vec<Task> = durations
            .iter()
            .map(|&d| Task {
                duration_ms: d,
                attempts: 0,
                status: TaskStatus::Pending,
            })
            .collect();
        let job_id: SharedStr = id.clone().into();
        let vc_id: SharedStr = vc.id.clone().into();
        let spark_app_id: SharedStr = spark_app_id.into();
        let pod_specs = build_pod_specs(
            &JobPodInputs {
                job_id: &job_id,
                virtual_cluster_id: &vc_id,
                spark_app_id: &spark_app_id,
                release_label: &sub.release_label,
                driver_template: &driver_template,
                executor_template: &executor_template,
                driver_sizing: &driver_sizing,
                executor_sizing: &executor_sizing,
                monitoring: sub.monitoring,
            },
            &self.params,
        );
        let job_name: SharedStr = sub.name.clone().into();
        let namespace: SharedStr = vc.namespace.clone().into();
        let job = JobRun {
            id: job_id.clone(),
            name: job_name.clone(),
            arn: arn.clone().into(),
            virtual_cluster_id: vc_id.clone(),
            cluster: vc.cluster.clone().into(),
            namespace: namespace.clone(),
            release_label: sub.release_label.clone(),
            execution_role_arn,
            client_token: sub.client_token.clone(),
            state: JobState::Pending,
            state_details: None,
            failure_reason: None,
            created_at_ms: self.now,
            started_at_ms: None,
            finished_at_ms: None,
            executor_instances: sub.executors,
            executor_cores: sub.executor_cores,
            non_jvm: sub.non_jvm,
            monitoring: sub.monitoring,
            executor_sizing,
            driver_sizing,
            controller_requests: self.params.job_runner_pod_requests(),
            driver_template,
            executor_template,
            spark_app_id,
            executor_pod_prefix,
            controller_pod: None,
            driver_pod: None,
            pending_tasks: (0..tasks.len() as u32).collect(),
            tasks,
            executors: BTreeMap::new(),
            cluster_idx: c,
            pod_specs,
            controller_pod_idx: None,
            driver_pod_idx: None,
            next_executor_id: 1,
            finished_tasks: 0,
            driver_ready: false,
            allocation_scheduled: false,
            app_finished: false,
            terminal_pending: None,
        };
        let idx = self.jobs.len() as u32;
        self.jobs.push(job);
        self.job_ids.insert(id.clone(), idx);
        self.emit(EventKind::JobStateChanged {
            job_id,
            job_name,
            virtual_cluster_id: vc_id,
            namespace,
            from: None,
            to: JobState::Pending,
            state_details: None,
            failure_reason: None,
        });
        let delay = self.params.emr_submit_ms;
        self.schedule_in(delay, TimerKind::JobSubmitted { job: idx });
        Ok(JobRunRef {
            id,
            name: sub.name,
            arn,
            virtual_cluster_id: vc.id,
        })
    }

    /// EMR CancelJobRun: CANCEL_PENDING now, CANCELLED once the job's pods are gone
    /// (after their grace period). Cancelling a job that is already being cancelled
    /// succeeds; cancelling a finished job is an error.
    pub fn cancel_job_run(
        &mut self,
        virtual_cluster_id: &str,
        job_id: &str,
    ) -> Result<(), SimError> {
        let state = self.job_run(virtual_cluster_id, job_id)?.state;
        if state.is_terminal() {
            return Err(SimError::JobRunNotCancellable {
                id: job_id.to_string(),
                state: state.to_string(),
            });
        }
        let idx = self.job_ids[job_id];
        self.cancel_job(idx);
        Ok(())
    }

    // ------------------------------------------------------------------ IAM, logs, S3

    /// IAM CreateRole. Returns the ARN.
    pub fn create_role(
        &mut self,
        name: &str,
        assume_role_policy: Option<String>,
    ) -> Result<String, SimError> {
        if self.roles.contains_key(name) {
            return Err(SimError::RoleAlreadyExists {
                name: name.to_string(),
            });
        }
        let arn = format!("arn:aws:iam::{}:role/{name}", self.params.account_id);
        self.roles.insert(
            name.to_string(),
            Role {
                name: name.to_string(),
                arn: arn.clone(),
                assume_role_policy,
                policies: BTreeMap::new(),
                created_at_ms: self.now,
            },
        );
        Ok(arn)
    }

    /// IAM PutRolePolicy (creates or replaces an inline policy).
    pub fn put_role_policy(
        &mut self,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), SimError> {
        let r = self
            .roles
            .get_mut(role)
            .ok_or_else(|| SimError::RoleNotFound {
                name: role.to_string(),
            })?;
        r.policies
            .insert(policy_name.to_string(), document.to_string());
        Ok(())
    }

    /// IAM UpdateAssumeRolePolicy.
    pub fn update_assume_role_policy(
        &mut self,
        role: &str,
        document: &str,
    ) -> Result<(), SimError> {
        let r = self
            .roles
            .get_mut(role)
            .ok_or_else(|| SimError::RoleNotFound {
                name: role.to_string(),
            })?;
        r.assume_role_policy = Some(document.to_string());
        Ok(())
    }

    /// IAM DeleteRole.
    pub fn delete_role(&mut self, name: &str) -> Result<(), SimError> {
        self.roles
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| SimError::RoleNotFound {
                name: name.to_string(),
            })
    }

    /// CloudWatch Logs CreateLogGroup. Returns the ARN.
    pub fn create_log_group(
        &mut self,
        name: &str,
        retention_days: Option<u32>,
    ) -> Result<String, SimError> {
        if self.log_groups.contains_key(name) {
            return Err(SimError::LogGroupAlreadyExists {
                name: name.to_string(),
            });
        }
        let arn = format!(
            "arn:aws:logs:{}:{}:log-group:{name}",
            self.params.region, self.params.account_id
        );
        self.log_groups.insert(
            name.to_string(),
            LogGroup {
                name: name.to_string(),
                arn: arn.clone(),
                retention_days,
                created_at_ms: self.now,
            },
        );
        Ok(arn)
    }

    /// CloudWatch Logs DeleteLogGroup.
    pub fn delete_log_group(&mut self, name: &str) -> Result<(), SimError> {
        self.log_groups
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| SimError::LogGroupNotFound {
                name: name.to_string(),
            })
    }

    /// S3 CreateBucket. Re-creating one's own bucket is `BucketAlreadyOwnedByYou`,
    /// except in us-east-1, where S3 answers 200 OK (and so does this).
    pub fn create_bucket(&mut self, name: &str) -> Result<(), SimError> {
        if self.buckets.contains_key(name) {
            if self.params.region == "us-east-1" {
                return Ok(());
            }
            return Err(SimError::BucketAlreadyOwnedByYou {
                name: name.to_string(),
            });
        }
        self.buckets.insert(
            name.to_string(),
            Bucket {
                name: name.to_string(),
                region: self.params.region.clone(),
                objects: BTreeMap::new(),
                created_at_ms: self.now,
            },
        );
        Ok(())
    }

    /// S3 DeleteBucket; with `force`, empties it first (`aws s3 rb --force`).
    pub fn delete_bucket(&mut self, name: &str, force: bool) -> Result<(), SimError> {
        let bucket = self.bucket(name)?;
        if !force && !bucket.objects.is_empty() {
            return Err(SimError::BucketNotEmpty {
                name: name.to_string(),
                objects: bucket.objects.len(),
            });
        }
        self.buckets.remove(name);
        Ok(())
    }

    /// S3 PutObject.
    pub fn put_object(
        &mut self,
        bucket: &str,
        key: &str,
        content: impl Into<Vec<u8>>,
    ) -> Result<(), SimError> {
        let b = self
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| SimError::NoSuchBucket {
                name: bucket.to_string(),
            })?;
        b.objects.insert(key.to_string(), content.into());
        Ok(())
    }

    /// S3 DeleteObject (succeeds when the key does not exist, as S3 does).
    pub fn delete_object(&mut self, bucket: &str, key: &str) -> Result<(), SimError> {
        let b = self
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| SimError::NoSuchBucket {
                name: bucket.to_string(),
            })?;
        b.objects.remove(key);
        Ok(())
    }
}

/// What EKS checks of a node group's request: a known instance type and
/// `min <= desired <= max`.
pub(crate) fn validate_node_group(ng: &NodeGroupSpec) -> Result<(), SimError> {
    instance_type(&ng.instance_type)?;
    if ng.min_size > ng.desired_size || ng.desired_size > ng.max_size {
        return Err(SimError::InvalidNodeGroup {
            name: ng.name.clone(),
            reason: format!(
                "sizes must satisfy min <= desired <= max (got {} <= {} <= {})",
                ng.min_size, ng.desired_size, ng.max_size
            ),
        });
    }
    Ok(())
}
