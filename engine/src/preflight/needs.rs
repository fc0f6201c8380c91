//! What a runbook needs from the account, read from its plan (the same source as
//! `runbook plan --target aws`): the clusters, buckets, virtual clusters and roles its
//! steps create or adopt, the IAM actions and Kubernetes permissions its calls need,
//! and whether it autoscales.

use std::collections::{BTreeMap, BTreeSet};

use runbook_backend::KubeAccess;
use serde_json::Value;

use crate::iam_actions::iam_actions;

/// A cluster a `create-cluster` step creates or adopts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNeed {
    pub step: String,
    pub name: String,
    /// The Kubernetes version asked for (`None`: EKS's default).
    pub version: Option<String>,
}

/// The managed node group a `create-cluster` step creates, as its plan's
/// `CreateNodegroup` call asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeGroupNeed {
    pub step: String,
    pub cluster: String,
    pub instance_type: String,
    pub max_size: u64,
    /// `SPOT` rather than `ON_DEMAND`.
    pub spot: bool,
    /// The subnets of the cluster and its nodes.
    pub subnets: Vec<String>,
}

/// The Karpenter NodePool an `enable-autoscaling` step applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoscalingNeed {
    pub step: String,
    /// `None`: the account's only cluster.
    pub cluster: Option<String>,
    /// The most vCPUs its nodes may have together (`None`: no limit).
    pub cpu_limit: Option<u64>,
    pub on_demand: bool,
    pub spot: bool,
}

/// A virtual cluster a `register-vc` step registers or adopts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualClusterNeed {
    pub step: String,
    /// The EKS cluster (`None`: the account's only one).
    pub cluster: Option<String>,
    pub namespace: String,
    pub name: String,
}

/// What the runbook needs, by kind, each with the step instance that needs it.
#[derive(Debug, Default, Clone)]
pub struct Needs {
    pub clusters: Vec<ClusterNeed>,
    pub node_groups: Vec<NodeGroupNeed>,
    /// (step, bucket name) of each `create-bucket`.
    pub buckets: Vec<(String, String)>,
    pub virtual_clusters: Vec<VirtualClusterNeed>,
    /// (step, role name) of each `create-job-role`.
    pub roles: Vec<(String, String)>,
    /// (step, log group name) of each `create-log-group`.
    pub log_groups: Vec<(String, String)>,
    /// Each IAM action a call of the plan needs, with the steps that make the call.
    pub actions: BTreeMap<String, BTreeSet<String>>,
    /// Each step that needs the Karpenter autoscaler (`enable-autoscaling`).
    pub autoscaling: Vec<AutoscalingNeed>,
    /// The Kubernetes permissions the plan's calls need, by cluster (`None`: the
    /// account's only one), each with the steps that make the calls.
    pub kube_access: BTreeMap<Option<String>, BTreeMap<KubeAccess, BTreeSet<String>>>,
    /// Step instances whose input only renders at run time (a loop over outputs):
    /// what they need cannot be read before the run.
    pub unknown: Vec<String>,
}

/// The permissions a planned Kubernetes call (`create Namespace`, `server-side apply
/// NodePool`) needs: a server-side apply also creates what does not exist yet;
/// discovery is open to every authenticated caller. A kind whose API version the plan
/// does not say and runbook does not know is left out.
fn kube_access(operation: &str, detail: &Value) -> Vec<KubeAccess> {
    let Some((verb, kind)) = operation.rsplit_once(' ') else {
        return Vec::new();
    };
    let verbs: &[&str] = match verb {
        "create" | "get" | "list" | "watch" | "patch" | "delete" => &[verb],
        "replace" => &["update"],
        "server-side apply" => &["patch", "create"],
        "delete collection" => &["deletecollection"],
        _ => &[],
    };
    let api_version = match detail["apiVersion"].as_str().filter(|v| known(v)) {
        Some(given) => given,
        None => match runbook_backend::kube_kinds::of_kind(kind) {
            Some((api_version, _)) => api_version,
            None => return Vec::new(),
        },
    };
    let namespace = detail["namespace"]
        .as_str()
        .filter(|ns| known(ns))
        .map(str::to_string);
    verbs
        .iter()
        .map(|verb| KubeAccess {
            verb: (*verb).to_string(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.clone(),
        })
        .collect()
}

/// Whether a rendered value still holds a run-time placeholder (`<steps.x.outputs.y>`).
fn known(text: &str) -> bool {
    !text.contains('<')
}

impl Needs {
    /// Reads the needs from `plan --target aws --output json`'s steps.
    pub fn from_plan(steps: &[Value]) -> Needs {
        let mut needs = Needs::default();
        for step in steps {
            let id = step["id"].as_str().unwrap_or_default();
            let action = step["action"].as_str().unwrap_or_default();
            let instances: Vec<(String, &Value)> = match step.get("instances") {
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, with)| (format!("{id}[{i}]"), with))
                    .collect(),
                _ => vec![(id.to_string(), &step["with"])],
            };
            for (key, with) in instances {
                if with.is_object() {
                    needs.add_input(action, key, with);
                } else {
                    needs.unknown.push(key);
                }
            }
            // The cluster a step's Kubernetes calls go to: the one its plan reaches
            // (the DescribeCluster made once, before them).
            let mut cluster: Option<String> = None;
            for call in step["calls"].as_array().into_iter().flatten() {
                let key = match call.get("instance").and_then(Value::as_u64) {
                    Some(i) => format!("{id}[{i}]"),
                    None => id.to_string(),
                };
                let service = call["service"].as_str().unwrap_or_default();
                let operation = call["operation"].as_str().unwrap_or_default();
                if (service, operation) == ("EKS", "CreateNodegroup") {
                    needs.add_node_group(key.clone(), &call["detail"]);
                }
                if (service, operation) == ("EKS", "DescribeCluster") && call["once"] == true {
                    cluster = call["detail"]["name"]
                        .as_str()
                        .filter(|name| known(name))
                        .map(str::to_string);
                }
                if service == "Kubernetes" {
                    for access in kube_access(operation, &call["detail"]) {
                        needs
                            .kube_access
                            .entry(cluster.clone())
                            .or_default()
                            .entry(access)
                            .or_default()
                            .insert(key.clone());
                    }
                }
                for action in iam_actions(service, operation) {
                    needs.actions.entry(action).or_default().insert(key.clone());
                }
            }
        }
        needs
    }

    fn add_input(&mut self, action: &str, key: String, with: &Value) {
        let text = |field: &str| with.get(field).and_then(Value::as_str).filter(|s| known(s));
        match action {
            "create-cluster" => {
                if let Some(name) = text("name") {
                    self.clusters.push(ClusterNeed {
                        step: key,
                        name: name.to_string(),
                        version: text("version")
                            .filter(|v| !v.is_empty())
                            .map(str::to_string),
                    });
                }
            }
            "create-bucket" => {
                if let Some(name) = text("name") {
                    self.buckets.push((key, name.to_string()));
                }
            }
            "register-vc" => {
                if let Some(namespace) = text("namespace") {
                    self.virtual_clusters.push(VirtualClusterNeed {
                        step: key,
                        cluster: text("cluster").map(str::to_string),
                        namespace: namespace.to_string(),
                        name: text("name")
                            .map_or_else(|| format!("{namespace}-emr-cluster"), str::to_string),
                    });
                }
            }
            "create-job-role" => {
                if let Some(name) = text("name") {
                    self.roles.push((key, name.to_string()));
                }
            }
            "create-log-group" => {
                if let Some(name) = text("name") {
                    self.log_groups.push((key, name.to_string()));
                }
            }
            "enable-autoscaling" => {
                // Karpenter's capacity types, as the action's default has them.
                let types: Vec<&str> = match with.get("capacity_types").and_then(Value::as_array) {
                    Some(list) => list.iter().filter_map(Value::as_str).collect(),
                    None => vec!["spot", "on-demand"],
                };
                self.autoscaling.push(AutoscalingNeed {
                    step: key,
                    cluster: text("cluster").map(str::to_string),
                    cpu_limit: with.get("cpu_limit").and_then(Value::as_u64),
                    on_demand: types.contains(&"on-demand"),
                    spot: types.contains(&"spot"),
                });
            }
            _ => {}
        }
    }

    fn add_node_group(&mut self, key: String, detail: &Value) {
        let text = |pointer: &str| detail.pointer(pointer).and_then(Value::as_str);
        let (Some(cluster), Some(instance_type)) = (text("/clusterName"), text("/instanceTypes/0"))
        else {
            return;
        };
        if !known(cluster) || !known(instance_type) {
            return;
        }
        self.node_groups.push(NodeGroupNeed {
            step: key,
            cluster: cluster.to_string(),
            instance_type: instance_type.to_string(),
            max_size: detail
                .pointer("/scalingConfig/maxSize")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            spot: text("/capacityType") == Some("SPOT"),
            // Subnets the run makes (`<the private subnets>`) are not there to check.
            subnets: detail["subnets"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .filter(|subnet| known(subnet))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The Kubernetes permissions a step's calls need go to the cluster its plan
    /// reaches (the once-made DescribeCluster before them): a replace needs update, a
    /// server-side apply patch and create, discovery nothing; a manifest's kind comes
    /// with its apiVersion; a cluster only known at run time is the only cluster.
    #[test]
    fn kubernetes_permissions_are_read_by_cluster() {
        let reach = |name: &str| json!({"service": "EKS", "operation": "DescribeCluster", "detail": {"name": name}, "once": true});
        let plan = [
            json!({"id": "vc", "action": "register-vc", "with": {"cluster": "c"}, "calls": [
                reach("c"),
                {"service": "Kubernetes", "operation": "watch Pod", "detail": {"namespace": "<all namespaces>"}, "once": true},
                {"service": "Kubernetes", "operation": "replace Role", "detail": {"namespace": "a", "name": "emr-containers"}},
                {"service": "EMR on EKS", "operation": "CreateVirtualCluster"},
            ]}),
            json!({"id": "m", "action": "apply-manifest", "with": {}, "calls": [
                reach("<the only cluster>"),
                {"service": "Kubernetes", "operation": "discover karpenter.sh/v1"},
                {"service": "Kubernetes", "operation": "server-side apply NodePool", "detail": {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "name": "p"}},
                {"service": "Kubernetes", "operation": "server-side apply Widget", "detail": {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "namespace": "a"}},
            ]}),
        ];
        let needs = Needs::from_plan(&plan);
        let access =
            |verb: &str, api_version: &str, kind: &str, namespace: Option<&str>| KubeAccess {
                verb: verb.into(),
                api_version: api_version.into(),
                kind: kind.into(),
                namespace: namespace.map(Into::into),
            };
        let on = |cluster: Option<&str>| -> Vec<(KubeAccess, Vec<String>)> {
            needs.kube_access[&cluster.map(str::to_string)]
                .iter()
                .map(|(a, steps)| (a.clone(), steps.iter().cloned().collect()))
                .collect()
        };
        assert_eq!(
            on(Some("c")),
            [
                (
                    access("update", "rbac.authorization.k8s.io/v1", "Role", Some("a")),
                    vec!["vc".to_string()]
                ),
                (access("watch", "v1", "Pod", None), vec!["vc".to_string()]),
            ]
        );
        assert_eq!(
            on(None),
            [
                (
                    access("create", "example.com/v1", "Widget", Some("a")),
                    vec!["m".to_string()]
                ),
                (
                    access("create", "karpenter.sh/v1", "NodePool", None),
                    vec!["m".to_string()]
                ),
                (
                    access("patch", "example.com/v1", "Widget", Some("a")),
                    vec!["m".to_string()]
                ),
                (
                    access("patch", "karpenter.sh/v1", "NodePool", None),
                    vec!["m".to_string()]
                ),
            ]
        );
        assert_eq!(needs.kube_access.len(), 2);
    }

    #[test]
    fn needs_are_read_from_each_instance_of_the_plan() {
        let plan = [
            json!({"id": "cluster", "action": "create-cluster",
            "with": {"name": "c", "version": "1.35"},
            "calls": [
                {"service": "EKS", "operation": "CreateCluster"},
                {"service": "EKS", "operation": "CreateNodegroup", "detail": {
                    "clusterName": "c", "instanceTypes": ["m5.2xlarge"],
                    "scalingConfig": {"minSize": 1, "maxSize": 10, "desiredSize": 1},
                    "capacityType": "ON_DEMAND", "subnets": ["subnet-a", "subnet-b"]}},
            ]}),
            json!({"id": "vcs", "action": "register-vc",
            "instances": [{"cluster": "c", "namespace": "a"}, {"namespace": "b", "name": "bee"}],
            "calls": [
                {"service": "EMR on EKS", "operation": "CreateVirtualCluster", "instance": 0},
                {"service": "Kubernetes", "operation": "create Namespace", "instance": 1},
            ]}),
            json!({"id": "bucket", "action": "create-bucket", "with": {"name": "logs-<account id>"}}),
            json!({"id": "done", "action": "wait-for-job", "for_each": "<steps.jobs.outputs>",
                "with": "<cannot render yet: x at line 3>"}),
            json!({"id": "karpenter", "action": "enable-autoscaling", "with": {"cpu_limit": 100, "capacity_types": ["spot"]}}),
        ];
        let needs = Needs::from_plan(&plan);
        assert_eq!(
            needs.clusters,
            [ClusterNeed {
                step: "cluster".into(),
                name: "c".into(),
                version: Some("1.35".into())
            }]
        );
        assert_eq!(needs.virtual_clusters.len(), 2);
        assert_eq!(needs.virtual_clusters[0].name, "a-emr-cluster");
        assert_eq!(needs.virtual_clusters[1].cluster, None);
        assert_eq!(needs.virtual_clusters[1].name, "bee");
        assert!(
            needs.buckets.is_empty(),
            "a name with a placeholder is not known"
        );
        assert_eq!(needs.unknown, ["done"]);
        assert_eq!(
            needs.autoscaling,
            [AutoscalingNeed {
                step: "karpenter".into(),
                cluster: None,
                cpu_limit: Some(100),
                on_demand: false,
                spot: true,
            }]
        );
        assert_eq!(
            needs.node_groups,
            [NodeGroupNeed {
                step: "cluster".into(),
                cluster: "c".into(),
                instance_type: "m5.2xlarge".into(),
                max_size: 10,
                spot: false,
                subnets: vec!["subnet-a".into(), "subnet-b".into()],
            }]
        );
        assert_eq!(
            needs.actions.keys().collect::<Vec<_>>(),
            [
                "ec2:DescribeSubnets",
                "eks:CreateCluster",
                "eks:CreateNodegroup",
                "emr-containers:CreateVirtualCluster",
                "iam:GetRole",
                "iam:ListAttachedRolePolicies",
                "iam:PassRole"
            ]
        );
        assert_eq!(
            needs.actions["emr-containers:CreateVirtualCluster"],
            BTreeSet::from(["vcs[0]".to_string()])
        );
    }
}
