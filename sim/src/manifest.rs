//! Kubernetes manifests the simulator understands, so that `apply-manifest` and
//! `enable-autoscaling` can hand it the same YAML they apply on EKS: PriorityClasses,
//! Namespaces, and Karpenter `Provisioner` (v1alpha5, the walkthrough's) or `NodePool`
//! (v1) objects. Other kinds are reported back as not modelled.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use crate::autoscaler::AutoscalerSpec;
use crate::error::SimError;
use crate::node::{CapacityType, LABEL_INSTANCE_TYPE, LABEL_KARPENTER_CAPACITY_TYPE};
use crate::priority::{PreemptionPolicy, PriorityClassSpec};
use crate::resources::{Resources, parse_cpu_quantity, parse_memory_quantity_mib};
use crate::world::World;

/// One parsed manifest document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    /// `scheduling.k8s.io/v1` PriorityClass.
    PriorityClass(PriorityClassSpec),
    /// `v1` Namespace.
    Namespace(String),
    /// Karpenter Provisioner or NodePool.
    Autoscaler(AutoscalerSpec),
    /// Anything else: accepted on EKS, not modelled here.
    Unmodelled {
        /// `apiVersion`.
        api_version: String,
        /// `kind`.
        kind: String,
        /// `metadata.name`.
        name: String,
    },
}

/// What applying one document did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `created`, `unchanged` (it existed), or `not modelled`.
    pub outcome: &'static str,
}

fn invalid(reason: impl Into<String>) -> SimError {
    SimError::InvalidManifest {
        reason: reason.into(),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(*key)?;
    }
    cur.as_str()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_map(v: Option<&Value>) -> Result<BTreeMap<String, String>, SimError> {
    let mut out = BTreeMap::new();
    if let Some(Value::Mapping(m)) = v {
        for (k, val) in m {
            let k = scalar_text(k).ok_or_else(|| invalid("label keys must be strings"))?;
            let val =
                scalar_text(val).ok_or_else(|| invalid(format!("label {k} must be a string")))?;
            out.insert(k, val);
        }
    }
    Ok(out)
}

/// Parses a Karpenter duration such as `30s`, `5m`, `1h30m`; `None` for `Never`.
fn parse_duration_seconds(text: &str) -> Result<Option<u64>, SimError> {
    if text == "Never" {
        return Ok(None);
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number
            .parse()
            .map_err(|_| invalid(format!("invalid duration `{text}`")))?;
        number.clear();
        total += match c {
            's' => n,
            'm' => n * 60,
            'h' => n * 3600,
            _ => return Err(invalid(format!("invalid duration `{text}`"))),
        };
    }
    if !number.is_empty() {
        return Err(invalid(format!("invalid duration `{text}` (missing unit)")));
    }
    Ok(Some(total))
}

fn limits(v: Option<&Value>) -> Result<Option<Resources>, SimError> {
    let Some(Value::Mapping(m)) = v else {
        return Ok(None);
    };
    let mut cpu = u64::MAX;
    let mut memory = u64::MAX;
    for (k, val) in m {
        let text = scalar_text(val).ok_or_else(|| invalid("limits must be quantities"))?;
        match k.as_str() {
            Some("cpu") => cpu = parse_cpu_quantity(&text)?,
            Some("memory") => memory = parse_memory_quantity_mib(&text)?,
            _ => {}
        }
    }
    Ok(Some(Resources::new(cpu, memory)))
}

fn requirements(v: Option<&Value>, spec: &mut AutoscalerSpec) -> Result<(), SimError> {
    let Some(Value::Sequence(reqs)) = v else {
        return Ok(());
    };
    for r in reqs {
        let key = str_at(r, &["key"]).ok_or_else(|| invalid("a requirement needs a key"))?;
        let operator = str_at(r, &["operator"]).unwrap_or("In");
        if operator != "In" {
            return Err(invalid(format!(
                "requirement {key}: only the In operator is modelled"
            )));
        }
        let values: Vec<String> = r
            .get("values")
            .and_then(Value::as_sequence)
            .map(|s| s.iter().filter_map(scalar_text).collect())
            .unwrap_or_default();
        match key {
            LABEL_KARPENTER_CAPACITY_TYPE => {
                spec.capacity_types = values
                    .iter()
                    .map(|v| {
                        CapacityType::from_label(v)
                            .ok_or_else(|| invalid(format!("unknown capacity type `{v}`")))
                    })
                    .collect::<Result<_, _>>()?;
            }
            LABEL_INSTANCE_TYPE => spec.instance_types = Some(values),
            _ => {
                // Any other requirement pins a label on the nodes it launches.
                if let [only] = values.as_slice() {
                    spec.labels.insert(key.to_string(), only.clone());
                }
            }
        }
    }
    Ok(())
}

fn parse_document(doc: &Value) -> Result<Manifest, SimError> {
    let api_version = str_at(doc, &["apiVersion"]).unwrap_or_default().to_string();
    let kind = str_at(doc, &["kind"])
        .ok_or_else(|| invalid("the document has no kind"))?
        .to_string();
    let name = str_at(doc, &["metadata", "name"])
        .ok_or_else(|| invalid(format!("{kind} has no metadata.name")))?
        .to_string();
    match (api_version.as_str(), kind.as_str()) {
        (api, "PriorityClass") if api.starts_with("scheduling.k8s.io/") => {
            let value = doc
                .get("value")
                .and_then(Value::as_i64)
                .ok_or_else(|| invalid(format!("PriorityClass {name} needs an integer value")))?;
            let policy = match str_at(doc, &["preemptionPolicy"]) {
                None | Some("PreemptLowerPriority") => PreemptionPolicy::PreemptLowerPriority,
                Some("Never") => PreemptionPolicy::Never,
                Some(other) => return Err(invalid(format!("unknown preemptionPolicy {other}"))),
            };
            Ok(Manifest::PriorityClass(PriorityClassSpec {
                name,
                value,
                global_default: doc
                    .get("globalDefault")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                preemption_policy: policy,
                description: str_at(doc, &["description"]).map(str::to_string),
            }))
        }
        ("v1", "Namespace") => Ok(Manifest::Namespace(name)),
        (api, "Provisioner") if api.starts_with("karpenter.sh/") => {
            let spec_v = doc.get("spec");
            let mut spec = AutoscalerSpec {
                name,
                capacity_types: vec![CapacityType::OnDemand],
                instance_types: None,
                labels: string_map(spec_v.and_then(|s| s.get("labels")))?,
                ttl_seconds_after_empty: spec_v
                    .and_then(|s| s.get("ttlSecondsAfterEmpty"))
                    .and_then(Value::as_u64),
                limits: limits(
                    spec_v
                        .and_then(|s| s.get("limits"))
                        .and_then(|l| l.get("resources")),
                )?,
            };
            requirements(spec_v.and_then(|s| s.get("requirements")), &mut spec)?;
            spec.validate()?;
            Ok(Manifest::Autoscaler(spec))
        }
        (api, "NodePool") if api.starts_with("karpenter.sh/") => {
            let spec_v = doc.get("spec");
            let template = spec_v.and_then(|s| s.get("template"));
            let disruption = spec_v.and_then(|s| s.get("disruption"));
            match disruption.and_then(|d| str_at(d, &["consolidationPolicy"])) {
                None | Some("WhenEmpty" | "WhenEmptyOrUnderutilized" | "Balanced") => {}
                Some(other) => {
                    return Err(invalid(format!("unknown consolidationPolicy {other}")));
                }
            }
            let after = match disruption
                .and_then(|d| d.get("consolidateAfter"))
                .and_then(scalar_text)
            {
                Some(text) => parse_duration_seconds(&text)?,
                None => Some(0),
            };
            let mut spec = AutoscalerSpec {
                name,
                capacity_types: vec![CapacityType::OnDemand],
                instance_types: None,
                labels: string_map(
                    template
                        .and_then(|t| t.get("metadata"))
                        .and_then(|m| m.get("labels")),
                )?,
                // Emptiness is modelled; consolidation of under-used nodes is not, so
                // every policy removes empty nodes after consolidateAfter.
                ttl_seconds_after_empty: after,
                limits: limits(spec_v.and_then(|s| s.get("limits")))?,
            };
            requirements(
                template
                    .and_then(|t| t.get("spec"))
                    .and_then(|s| s.get("requirements")),
                &mut spec,
            )?;
            spec.validate()?;
            Ok(Manifest::Autoscaler(spec))
        }
        _ => Ok(Manifest::Unmodelled {
            api_version,
            kind,
            name,
        }),
    }
}

/// One object as the API has it (`apiVersion`, `kind`, `metadata`, the rest; a
/// server-side apply's body, an object kept in the cluster) read as a manifest.
pub fn parse_object(object: &serde_json::Value) -> Result<Manifest, SimError> {
    let value = serde_yaml_ng::to_value(object).map_err(|e| invalid(e.to_string()))?;
    parse_document(&value)
}

/// Parses one or more YAML documents (separated by `---`).
pub fn parse_manifests(yaml: &str) -> Result<Vec<Manifest>, SimError> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let value =
            <Value as serde::Deserialize>::deserialize(doc).map_err(|e| invalid(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        out.push(parse_document(&value)?);
    }
    Ok(out)
}

impl World {
    /// Applies manifests to a cluster, like `kubectl apply`: objects that already exist
    /// are left as they are (`unchanged`), except the autoscaler, which is replaced.
    pub fn apply_manifests(&mut self, cluster: &str, yaml: &str) -> Result<Vec<Applied>, SimError> {
        let manifests = parse_manifests(yaml)?;
        let mut applied = Vec::new();
        for m in manifests {
            let (kind, name, result) = match m {
                Manifest::PriorityClass(spec) => {
                    let name = spec.name.clone();
                    (
                        "PriorityClass",
                        name,
                        self.create_priority_class(cluster, spec),
                    )
                }
                Manifest::Namespace(name) => {
                    let r = self.create_namespace(cluster, &name);
                    ("Namespace", name, r)
                }
                Manifest::Autoscaler(spec) => {
                    let name = spec.name.clone();
                    ("Provisioner", name, self.enable_autoscaling(cluster, spec))
                }
                Manifest::Unmodelled { kind, name, .. } => {
                    applied.push(Applied {
                        kind,
                        name,
                        outcome: "not modelled",
                    });
                    continue;
                }
            };
            let outcome = match result {
                Ok(()) => "created",
                Err(e) if e.is_already_exists() => "unchanged",
                Err(e) => return Err(e),
            };
            applied.push(Applied {
                kind: kind.to_string(),
                name,
                outcome,
            });
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walkthrough_provisioner() {
        let yaml = r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: default
spec:
  requirements:
    - key: karpenter.sh/capacity-type
      operator: In
      values: ["spot", "on-demand"]
  labels:
    intent: emr-job
  limits:
    resources:
      cpu: 1000
  ttlSecondsAfterEmpty: 30
"#;
        let m = parse_manifests(yaml).expect("valid");
        let Manifest::Autoscaler(spec) = &m[0] else {
            panic!("expected an autoscaler: {m:?}");
        };
        assert_eq!(
            spec.capacity_types,
            vec![CapacityType::Spot, CapacityType::OnDemand]
        );
        assert_eq!(
            spec.labels.get("intent").map(String::as_str),
            Some("emr-job")
        );
        assert_eq!(spec.ttl_seconds_after_empty, Some(30));
        assert_eq!(spec.limits.map(|l| l.cpu_millis), Some(1_000_000));
    }

    #[test]
    fn nodepool_and_priority_classes() {
        let yaml = r#"
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: critical-priority}
value: 400
globalDefault: true
description: "critical"
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    metadata: {labels: {intent: emr-job}}
    spec:
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.xlarge, c5.xlarge]}
  disruption: {consolidationPolicy: WhenEmpty, consolidateAfter: 1m30s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
"#;
        let m = parse_manifests(yaml).expect("valid");
        assert_eq!(
            m[0],
            Manifest::PriorityClass(PriorityClassSpec {
                name: "critical-priority".into(),
                value: 400,
                global_default: true,
                preemption_policy: PreemptionPolicy::PreemptLowerPriority,
                description: Some("critical".into()),
            })
        );
        let Manifest::Autoscaler(pool) = &m[1] else {
            panic!("expected a NodePool");
        };
        assert_eq!(pool.capacity_types, vec![CapacityType::Spot]);
        assert_eq!(pool.ttl_seconds_after_empty, Some(90));
        assert_eq!(pool.instance_types.as_ref().map(Vec::len), Some(2));
        assert!(matches!(m[2], Manifest::Unmodelled { .. }));
        assert!(parse_manifests("kind: PriorityClass\n").is_err());
        assert_eq!(parse_duration_seconds("Never").ok(), Some(None));
        assert!(parse_duration_seconds("30").is_err());
    }
}
