//! Spark pod templates (`spark.kubernetes.{driver,executor}.podTemplateFile`), the way
//! EMR on EKS reads them from S3.
//!
//! The simulator uses the parts of a template that change scheduling: the
//! `priorityClassName`, the `nodeSelector` and required node affinity
//! (`affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`), extra labels, the
//! `terminationGracePeriodSeconds`, and the resource requests of any *additional*
//! containers (sidecars). The Spark main container (`spark-kubernetes-driver` /
//! `spark-kubernetes-executor`) gets its requests from Spark's own settings, which
//! override the template, as Spark does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::node_affinity::{NodePlacement, NodeSelectorRequirement, NodeSelectorTerm};
use crate::resources::{Resources, parse_cpu_quantity, parse_memory_quantity_mib};

/// The Spark driver's main container name; its template resources are ignored.
pub const DRIVER_CONTAINER: &str = "spark-kubernetes-driver";
/// The Spark executor's main container name; its template resources are ignored.
pub const EXECUTOR_CONTAINER: &str = "spark-kubernetes-executor";

/// The scheduling-relevant content of a pod template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodTemplate {
    /// `spec.priorityClassName`.
    pub priority_class_name: Option<String>,
    /// `spec.nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
    /// .nodeSelectorTerms` (ORed; empty: no required node affinity).
    #[serde(default)]
    pub node_affinity: Vec<NodeSelectorTerm>,
    /// `metadata.labels` (added to the labels Spark and EMR set).
    pub labels: BTreeMap<String, String>,
    /// `spec.terminationGracePeriodSeconds`.
    pub termination_grace_period_seconds: Option<u64>,
    /// Sum of the requests of the template's extra containers (not the Spark main
    /// container), which Spark keeps in the pod.
    pub sidecar_requests: Resources,
}

#[derive(Deserialize)]
struct RawPod {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: Option<RawMetadata>,
    #[serde(default)]
    spec: Option<RawSpec>,
}

#[derive(Deserialize)]
struct RawMetadata {
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    priority_class_name: Option<String>,
    #[serde(default)]
    node_selector: BTreeMap<String, String>,
    #[serde(default)]
    affinity: Option<RawAffinity>,
    termination_grace_period_seconds: Option<u64>,
    #[serde(default)]
    containers: Vec<RawContainer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAffinity {
    #[serde(default)]
    node_affinity: Option<RawNodeAffinity>,
}

/// Only the required part changes where a pod may run; the preferred part
/// (`preferredDuringScheduling...`) only scores nodes and is not modelled.
#[derive(Deserialize)]
struct RawNodeAffinity {
    #[serde(default, rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    required: Option<RawNodeSelector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNodeSelector {
    #[serde(default)]
    node_selector_terms: Vec<RawNodeSelectorTerm>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNodeSelectorTerm {
    #[serde(default)]
    match_expressions: Vec<NodeSelectorRequirement>,
    /// `matchFields` (by `metadata.name`) pins a pod to named nodes, which a
    /// template cannot know in advance; refused rather than ignored.
    #[serde(default)]
    match_fields: Vec<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct RawContainer {
    name: Option<String>,
    #[serde(default)]
    resources: Option<RawResources>,
}

#[derive(Deserialize)]
struct RawResources {
    #[serde(default)]
    requests: BTreeMap<String, serde_yaml_ng::Value>,
}

impl PodTemplate {
    /// What the template requires of a node: its `nodeSelector` and required node
    /// affinity together.
    pub fn placement(&self) -> NodePlacement {
        NodePlacement {
            selector: self.node_selector.clone(),
            terms: self.node_affinity.clone(),
        }
    }

    /// Parses a pod template document (the YAML of walkthrough row 8, or any `v1` Pod).
    ///
    /// Fields the simulator does not model (volumes, env, tolerations, ...) are
    /// accepted and ignored, as they would be valid on EKS.
    pub fn from_yaml(yaml: &str) -> Result<PodTemplate, SimError> {
        Self::from_yaml_named(yaml, "inline")
    }

    /// As [`PodTemplate::from_yaml`], naming the source (e.g. its S3 URI) in errors.
    pub fn from_yaml_named(yaml: &str, source_name: &str) -> Result<PodTemplate, SimError> {
        let invalid = |reason: String| SimError::InvalidPodTemplate {
            source_name: source_name.to_string(),
            reason,
        };
        let raw: RawPod = serde_yaml_ng::from_str(yaml).map_err(|e| invalid(e.to_string()))?;
        if let Some(kind) = &raw.kind {
            if kind != "Pod" {
                return Err(invalid(format!("kind is `{kind}`, expected `Pod`")));
            }
        }
        if let Some(api) = &raw.api_version {
            if api != "v1" {
                return Err(invalid(format!("apiVersion is `{api}`, expected `v1`")));
            }
        }
        let labels = raw.metadata.map(|m| m.labels).unwrap_or_default();
        let spec = match raw.spec {
            Some(spec) => spec,
            None => {
                return Ok(PodTemplate {
                    labels,
                    ..PodTemplate::default()
                });
            }
        };
        let mut sidecar_requests = Resources::ZERO;
        for container in &spec.containers {
            let name = container.name.as_deref().unwrap_or("");
            if name == DRIVER_CONTAINER || name == EXECUTOR_CONTAINER {
                continue;
            }
            if let Some(resources) = &container.resources {
                for (key, value) in &resources.requests {
                    let text = match value {
                        serde_yaml_ng::Value::String(s) => s.clone(),
                        serde_yaml_ng::Value::Number(n) => n.to_string(),
                        other => {
                            return Err(invalid(format!(
                                "container `{name}`: request `{key}` is not a quantity: {other:?}"
                            )));
                        }
                    };
                    match key.as_str() {
                        "cpu" => sidecar_requests.cpu_millis += parse_cpu_quantity(&text)?,
                        "memory" => {
                            sidecar_requests.memory_mib += parse_memory_quantity_mib(&text)?
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut node_affinity = Vec::new();
        if let Some(required) = spec
            .affinity
            .and_then(|a| a.node_affinity)
            .and_then(|n| n.required)
        {
            if required.node_selector_terms.is_empty() {
                return Err(invalid(
                    "requiredDuringSchedulingIgnoredDuringExecution has no nodeSelectorTerms (the API server requires at least one)".into(),
                ));
            }
            for term in required.node_selector_terms {
                if !term.match_fields.is_empty() {
                    return Err(invalid(
                        "nodeSelectorTerms with matchFields are not simulated: select nodes by label with matchExpressions".into(),
                    ));
                }
                node_affinity.push(NodeSelectorTerm {
                    match_expressions: term.match_expressions,
                });
            }
        }
        Ok(PodTemplate {
            priority_class_name: spec.priority_class_name,
            node_selector: spec.node_selector,
            node_affinity,
            labels,
            termination_grace_period_seconds: spec.termination_grace_period_seconds,
            sidecar_requests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walkthrough_driver_template() {
        let yaml = r#"
apiVersion: v1
kind: Pod
spec:
  priorityClassName: "critical-priority"
  nodeSelector:
    eks.amazonaws.com/capacityType: ON_DEMAND
  containers:
  - name: spark-kubernetes-driver # This will be interpreted as Spark driver container
"#;
        let t = PodTemplate::from_yaml(yaml).expect("valid template");
        assert_eq!(t.priority_class_name.as_deref(), Some("critical-priority"));
        assert_eq!(
            t.node_selector
                .get("eks.amazonaws.com/capacityType")
                .map(String::as_str),
            Some("ON_DEMAND")
        );
        assert_eq!(t.sidecar_requests, Resources::ZERO);
    }

    #[test]
    fn required_node_affinity_is_read_and_preferred_ignored() {
        let t = PodTemplate::from_yaml(crate::demo::DRIVER_TEMPLATE_YAML).expect("valid template");
        assert!(t.node_selector.is_empty());
        let placement = t.placement();
        assert_eq!(placement.terms.len(), 2);
        let label = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(placement.matches(&label("eks.amazonaws.com/capacityType", "ON_DEMAND")));
        assert!(placement.matches(&label("karpenter.sh/capacity-type", "on-demand")));
        assert!(!placement.matches(&label("karpenter.sh/capacity-type", "spot")));

        let preferred = r#"
spec:
  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference: {matchExpressions: [{key: a, operator: In, values: [b]}]}
"#;
        let t = PodTemplate::from_yaml(preferred).expect("valid template");
        assert!(t.placement().is_empty(), "preferences only score nodes");

        let fields = r#"
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchFields: [{key: metadata.name, operator: In, values: [n]}]
"#;
        let err = PodTemplate::from_yaml(fields).expect_err("matchFields");
        assert!(err.to_string().contains("matchFields"), "{err}");
        let bad = "spec:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions: [{key: a, operator: Near}]\n";
        assert!(PodTemplate::from_yaml(bad).is_err(), "unknown operator");
    }

    #[test]
    fn sidecar_requests_add_up_but_main_container_is_ignored() {
        let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  labels: {team: analytics}
spec:
  terminationGracePeriodSeconds: 60
  containers:
  - name: spark-kubernetes-executor
    resources: {requests: {cpu: 4, memory: 64Gi}}
  - name: log-forwarder
    resources: {requests: {cpu: 100m, memory: 128Mi}}
"#;
        let t = PodTemplate::from_yaml(yaml).expect("valid template");
        assert_eq!(t.sidecar_requests, Resources::new(100, 128));
        assert_eq!(t.termination_grace_period_seconds, Some(60));
        assert_eq!(t.labels.get("team").map(String::as_str), Some("analytics"));
    }

    #[test]
    fn wrong_kind_and_bad_yaml_are_errors() {
        assert!(PodTemplate::from_yaml("kind: Deployment\n").is_err());
        let err = PodTemplate::from_yaml_named("spec: [", "s3://b/k").expect_err("bad yaml");
        assert!(err.to_string().contains("s3://b/k"), "{err}");
    }
}
