//! The Kubernetes API of a simulated cluster.

use runbook_sim::priority::PreemptionPolicy;
use std::collections::BTreeMap;

use async_trait::async_trait;
use runbook_sim::pod::ConditionType;
use runbook_sim::{
    ClusterStatus, ObjectKey, ObjectWrite, PodPhase, PriorityClassSpec, SimError, StoredKind,
};

use super::SimTarget;
use runbook_backend::ActionError;
use runbook_backend::karpenter_node_pool;
use runbook_backend::{AccessVerdict, AutoscalerStatus, Kube, KubeAccess, TargetResult};
use runbook_backend::{
    AppliedObject, AutoscalingRequest, NodeInfo, ObjectReadiness, PodInfo, PriorityClassRequest,
};

#[async_trait]
impl Kube for SimTarget {
    async fn create_namespace(&self, cluster: &str, name: &str) -> TargetResult<bool> {
        let exists = self.read("Kubernetes", "get namespace", name, |w| {
            w.cluster(cluster).map(|c| c.namespaces.contains(name))
        })?;
        if exists {
            return Ok(false);
        }
        self.act("Kubernetes", "create namespace", name, |w| {
            w.create_namespace(cluster, name)
        })?;
        Ok(true)
    }

    /// The simulated EMR is not subject to RBAC, but what eksctl grants on AWS is
    /// stored for clients to see (see `emr_access`); the namespace must exist.
    async fn grant_emr_access(
        &self,
        cluster: &str,
        namespace: &str,
        account_id: &str,
    ) -> TargetResult<()> {
        super::emr_access::grant(self, cluster, namespace, account_id)
    }

    async fn delete_namespace(&self, cluster: &str, name: &str) -> TargetResult<bool> {
        let exists = self
            .world()
            .cluster(cluster)
            .is_ok_and(|c| c.namespaces.contains(name));
        if !exists {
            return Ok(false);
        }
        self.act("Kubernetes", "delete namespace", name, |w| {
            w.delete_namespace(cluster, name)
        })?;
        Ok(true)
    }

    async fn create_priority_class(
        &self,
        cluster: &str,
        request: &PriorityClassRequest,
    ) -> TargetResult<bool> {
        let policy = match request.preemption_policy.as_str() {
            "PreemptLowerPriority" => PreemptionPolicy::PreemptLowerPriority,
            "Never" => PreemptionPolicy::Never,
            other => {
                return Err(ActionError::Service {
                    service: "Kubernetes",
                    operation: "create priorityclass",
                    resource: request.name.clone(),
                    code: "Invalid".into(),
                    message: format!(
                        "PriorityClass \"{}\" is invalid: preemptionPolicy: Unsupported value: \"{other}\": supported values: \"Never\", \"PreemptLowerPriority\"",
                        request.name
                    ),
                });
            }
        };
        let existing = self.read("Kubernetes", "get priorityclass", &request.name, |w| {
            w.cluster(cluster).map(|c| {
                c.priority_classes
                    .get(&request.name)
                    .map(|p| (p.value, p.global_default, p.preemption_policy))
            })
        })?;
        if let Some((value, global_default, existing_policy)) = existing {
            if value == request.value
                && global_default == request.global_default
                && existing_policy == policy
            {
                return Ok(false);
            }
            return Err(ActionError::Service {
                service: "Kubernetes",
                operation: "create priorityclass",
                resource: request.name.clone(),
                code: "AlreadyExists".into(),
                message: format!(
                    "priorityclasses.scheduling.k8s.io \"{}\" already exists with value {value} and globalDefault {global_default}; the value of a PriorityClass cannot be changed, delete it first",
                    request.name
                ),
            });
        }
        let mut spec = PriorityClassSpec::new(
            &request.name,
            i64::from(request.value),
            request.global_default,
        );
        spec.description = request.description.clone();
        spec.preemption_policy = policy;
        self.act("Kubernetes", "create priorityclass", &request.name, |w| {
            w.create_priority_class(cluster, spec)
        })?;
        Ok(true)
    }

    async fn delete_priority_class(&self, cluster: &str, name: &str) -> TargetResult<bool> {
        let exists = self
            .world()
            .cluster(cluster)
            .is_ok_and(|c| c.priority_classes.get(name).is_some());
        if !exists {
            return Ok(false);
        }
        self.act("Kubernetes", "delete priorityclass", name, |w| {
            w.delete_priority_class(cluster, name)
        })?;
        Ok(true)
    }

    async fn apply_manifest(
        &self,
        cluster: &str,
        documents: &[serde_json::Value],
    ) -> TargetResult<Vec<AppliedObject>> {
        let mut applied = Vec::new();
        for doc in documents {
            let kind = doc
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_string();
            let api_version = doc
                .get("apiVersion")
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_string();
            let name = doc
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_string();
            let namespace = doc
                .pointer("/metadata/namespace")
                .and_then(|n| n.as_str())
                .map(str::to_string);
            match kind.as_str() {
                "PriorityClass" => {
                    // `value` is required and an int32; the API server rejects anything else.
                    let value = doc
                        .get("value")
                        .and_then(serde_json::Value::as_i64)
                        .and_then(|v| i32::try_from(v).ok())
                        .ok_or_else(|| ActionError::Service {
                            service: "Kubernetes",
                            operation: "apply PriorityClass",
                            resource: name.clone(),
                            code: "Invalid".into(),
                            message: format!(
                                "PriorityClass \"{name}\" is invalid: `value` must be an integer from -2147483648 to 2147483647"
                            ),
                        })?;
                    let request = PriorityClassRequest {
                        name: name.clone(),
                        value,
                        global_default: doc
                            .get("globalDefault")
                            .and_then(serde_json::Value::as_bool)
                            .unwrap_or(false),
                        description: doc
                            .get("description")
                            .and_then(|d| d.as_str())
                            .map(str::to_string),
                        preemption_policy: doc
                            .get("preemptionPolicy")
                            .and_then(|d| d.as_str())
                            .unwrap_or("PreemptLowerPriority")
                            .to_string(),
                    };
                    self.create_priority_class(cluster, &request).await?;
                }
                "Namespace" => {
                    self.create_namespace(cluster, &name).await?;
                }
                "Provisioner" | "NodePool" => {
                    let request = autoscaling_from_manifest(&name, doc);
                    self.enable_autoscaling(cluster, &request).await?;
                }
                // ConfigMaps, Roles and RoleBindings are kept for clients of the served
                // API to read. Other kinds have no effect on the simulated scheduling;
                // they are accepted and listed, as the API server would store them.
                other => {
                    if let Some(stored) =
                        StoredKind::from_name(other).filter(|k| k.api_version() == api_version)
                    {
                        let key = ObjectKey::new(
                            stored,
                            namespace.as_deref().unwrap_or("default"),
                            &name,
                        );
                        self.act("Kubernetes", "apply", &name, |w| {
                            w.apply_kube_object(cluster, key, ObjectWrite::from_api(doc))
                        })?;
                    }
                }
            }
            applied.push(AppliedObject {
                api_version,
                kind,
                name,
                namespace,
            });
        }
        Ok(applied)
    }

    /// The NodePool the `aws` target would apply for `request`, read as the
    /// simulator's autoscaler (as a served cluster reads the one the `aws` target
    /// applies to it), so both targets configure the same autoscaler.
    async fn enable_autoscaling(
        &self,
        cluster: &str,
        request: &AutoscalingRequest,
    ) -> TargetResult<()> {
        let node_pool = karpenter_node_pool::node_pool(request)?;
        let spec = runbook_sim::autoscaler_spec(&node_pool)
            .map_err(|e| ActionError::InvalidInput(e.to_string()))?;
        self.act("Kubernetes", "apply Provisioner", &request.name, |w| {
            w.enable_autoscaling(cluster, spec)
        })
    }

    async fn default_cluster(&self) -> TargetResult<String> {
        let world = self.world();
        let live: Vec<&str> = world
            .clusters()
            .filter(|c| !matches!(c.status, ClusterStatus::Deleted | ClusterStatus::Deleting))
            .map(|c| c.name.as_ref())
            .collect();
        runbook_backend::only_cluster(&live)
    }

    /// Every simulated cluster can autoscale: the world's Karpenter-like autoscaler
    /// stands for the NodePool API and its controller (it acts once
    /// `enable-autoscaling` gave it a NodePool).
    async fn autoscaler(&self, cluster: &str) -> TargetResult<AutoscalerStatus> {
        let world = self.world();
        world
            .cluster(cluster)
            .map_err(|e| super::service_error("Kubernetes", "discover", cluster, &e))?;
        Ok(AutoscalerStatus {
            node_pool_api: true,
            controller_pods: vec!["karpenter (simulated)".to_string()],
        })
    }

    /// The simulated caller made the simulated clusters, so it is their admin (as EKS
    /// makes a cluster's creator): everything is allowed.
    async fn access(
        &self,
        cluster: &str,
        asked: &[KubeAccess],
    ) -> TargetResult<Vec<AccessVerdict>> {
        self.world().cluster(cluster).map_err(|e| {
            super::service_error("Kubernetes", "create SelfSubjectAccessReview", cluster, &e)
        })?;
        Ok(vec![AccessVerdict::Allowed; asked.len()])
    }

    /// The simulated autoscaler is Ready as soon as it is applied (it has no node
    /// class, IAM role or subnets to resolve); one that is not there is not Ready.
    async fn autoscaling_readiness(
        &self,
        cluster: &str,
        name: &str,
    ) -> TargetResult<Vec<ObjectReadiness>> {
        let world = self.world();
        let found = world
            .cluster(cluster)
            .map_err(|e| super::service_error("Kubernetes", "get NodePool", cluster, &e))?
            .autoscaler
            .as_ref()
            .is_some_and(|a| a.spec.name == name);
        Ok(vec![ObjectReadiness {
            kind: "NodePool".into(),
            name: name.to_string(),
            ready: found,
            not_true: if found {
                Vec::new()
            } else {
                vec!["not found: enable-autoscaling applied no NodePool of this name".into()]
            },
        }])
    }

    /// Nothing to remove ahead of the cluster: deleting a simulated cluster removes
    /// its autoscaler and every node it launched in the same instant, so no node can
    /// outlive it (which is what removing NodePools first prevents on `aws`).
    async fn remove_node_pools(&self, cluster: &str) -> TargetResult<Vec<String>> {
        self.read("Kubernetes", "list NodePool", cluster, |w| {
            w.cluster(cluster).map(|_| ())
        })?;
        Ok(Vec::new())
    }

    async fn node_pool_nodes(&self, cluster: &str, pools: &[String]) -> TargetResult<Vec<String>> {
        self.list_nodes(cluster, |n| {
            n.provisioner
                .as_ref()
                .is_some_and(|p| pools.contains(p))
                .then(|| n.name.to_string())
        })
    }

    async fn nodes(&self, cluster: &str) -> TargetResult<Vec<NodeInfo>> {
        self.list_nodes(cluster, |n| {
            Some(NodeInfo {
                name: n.name.to_string(),
                instance_type: n.instance_type.to_string(),
                capacity_type: n.capacity_type.eks_label().to_string(),
                ready: n.ready,
            })
        })
    }

    async fn pods(
        &self,
        cluster: &str,
        namespace: Option<&str>,
        selector: &BTreeMap<String, String>,
    ) -> TargetResult<Vec<PodInfo>> {
        let world = self.world();
        world
            .cluster(cluster)
            .map_err(|e: SimError| super::service_error("Kubernetes", "list pods", cluster, &e))?;
        Ok(world
            .select_pods(cluster, namespace, selector)
            .into_iter()
            .map(|p| PodInfo {
                name: p.name.to_string(),
                namespace: p.namespace.to_string(),
                labels: p
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                phase: match p.phase {
                    PodPhase::Pending => "Pending",
                    PodPhase::Running => "Running",
                    PodPhase::Succeeded => "Succeeded",
                    PodPhase::Failed => "Failed",
                }
                .to_string(),
                node: p.node_name.as_ref().map(ToString::to_string),
                terminating: p.is_terminating(),
                conditions: p
                    .conditions
                    .iter()
                    .filter(|c| c.status)
                    .map(|c| {
                        let name = match c.condition_type {
                            ConditionType::PodScheduled => "PodScheduled",
                            ConditionType::Ready => "Ready",
                            ConditionType::DisruptionTarget => "DisruptionTarget",
                        };
                        (
                            name.to_string(),
                            c.reason
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                        )
                    })
                    .collect(),
            })
            .collect())
    }
}

impl SimTarget {
    /// The cluster's nodes, each as `pick` shows it (`None` leaves it out).
    fn list_nodes<T>(
        &self,
        cluster: &str,
        pick: impl Fn(&runbook_sim::Node) -> Option<T>,
    ) -> TargetResult<Vec<T>> {
        let world = self.world();
        let nodes = world
            .nodes(cluster)
            .map_err(|e| super::service_error("Kubernetes", "list nodes", cluster, &e))?;
        Ok(nodes.into_iter().filter_map(pick).collect())
    }
}

/// A Karpenter Provisioner (v1alpha5) or NodePool (v1) as the simulator's autoscaler.
fn autoscaling_from_manifest(name: &str, doc: &serde_json::Value) -> AutoscalingRequest {
    let spec = doc.get("spec").cloned().unwrap_or_default();
    let requirements = spec
        .get("requirements")
        .or_else(|| spec.pointer("/template/spec/requirements"))
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    let values_of = |key: &str| -> Vec<String> {
        requirements
            .iter()
            .filter(|r| r.get("key").and_then(|k| k.as_str()) == Some(key))
            .flat_map(|r| {
                r.get("values")
                    .and_then(|v| v.as_array())
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let mut capacity_types = values_of("karpenter.sh/capacity-type");
    if capacity_types.is_empty() {
        capacity_types.push("on-demand".into());
    }
    let labels = spec
        .get("labels")
        .or_else(|| spec.pointer("/template/metadata/labels"))
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    let ttl = spec
        .get("ttlSecondsAfterEmpty")
        .and_then(serde_json::Value::as_u64)
        .or_else(|| {
            spec.pointer("/disruption/consolidateAfter")
                .and_then(|c| c.as_str())
                .and_then(|c| runbook_backend::duration::parse_duration(c).ok())
                .map(|d| d.as_secs())
        });
    let cpu_limit = spec
        .pointer("/limits/resources/cpu")
        .or_else(|| spec.pointer("/limits/cpu"))
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|c| u32::try_from(c).ok());
    AutoscalingRequest {
        name: name.to_string(),
        capacity_types,
        instance_types: values_of("node.kubernetes.io/instance-type"),
        labels,
        ttl_seconds_after_empty: ttl,
        cpu_limit,
        node_role: None,
    }
}
