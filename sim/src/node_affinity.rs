//! Required node affinity (`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`)
//! and the `nodeSelector`, as kube-scheduler's `NodeAffinity` filter and Karpenter read
//! them: a node fits when its labels satisfy every `nodeSelector` entry AND at least one
//! of the `nodeSelectorTerms`, a term being satisfied when all its `matchExpressions`
//! are.
//!
//! The demo's templates need it because the node group's nodes and Karpenter's nodes
//! carry different capacity-type labels (`eks.amazonaws.com/capacityType: ON_DEMAND`,
//! `karpenter.sh/capacity-type: on-demand`): only two ORed terms select on-demand
//! nodes of both kinds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A `matchExpressions` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    /// The label's value, as an integer, is greater than the one value.
    Gt,
    /// The label's value, as an integer, is less than the one value.
    Lt,
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeSelectorRequirement {
    pub key: String,
    pub operator: Operator,
    #[serde(default)]
    pub values: Vec<String>,
}

impl NodeSelectorRequirement {
    /// `key In [value]`: what a `nodeSelector` entry means.
    pub fn equals(key: &str, value: &str) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.to_string(),
            operator: Operator::In,
            values: vec![value.to_string()],
        }
    }

    /// Whether a node whose label `key` is `value` (`None`: no such label) satisfies it.
    pub fn admits(&self, value: Option<&str>) -> bool {
        let number = |s: &str| s.parse::<i64>().ok();
        let bound = || self.values.first().and_then(|v| number(v));
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.iter().any(|w| w == v)),
            Operator::NotIn => value.is_none_or(|v| self.values.iter().all(|w| w != v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt => {
                matches!((value.and_then(number), bound()), (Some(v), Some(b)) if v > b)
            }
            Operator::Lt => {
                matches!((value.and_then(number), bound()), (Some(v), Some(b)) if v < b)
            }
        }
    }

    /// Whether `labels` satisfy it.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.admits(labels.get(&self.key).map(String::as_str))
    }
}

/// One of `nodeSelectorTerms`: its `matchExpressions`, all of which must hold. A term
/// without expressions matches no node, as in Kubernetes.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeSelectorTerm {
    #[serde(default)]
    pub match_expressions: Vec<NodeSelectorRequirement>,
}

impl NodeSelectorTerm {
    /// Whether `labels` satisfy every expression (and there is one).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.match_expressions.is_empty()
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

/// Everything a pod requires of its node's labels: the `nodeSelector` and the required
/// node affinity's terms (none: any node).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NodePlacement {
    pub selector: BTreeMap<String, String>,
    pub terms: Vec<NodeSelectorTerm>,
}

impl NodePlacement {
    /// Requires nothing: every node fits.
    pub fn is_empty(&self) -> bool {
        self.selector.is_empty() && self.terms.is_empty()
    }

    /// Whether a node with `labels` fits.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.selector
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
            && (self.terms.is_empty() || self.terms.iter().any(|t| t.matches(labels)))
    }

    /// The ways a node can fit, each a list of requirements that must all hold: the
    /// `nodeSelector` entries plus one term's expressions, term by term in order (one
    /// alternative when there are no terms). What the autoscaler reads to decide what
    /// it may launch.
    pub fn alternatives(&self) -> Vec<Vec<NodeSelectorRequirement>> {
        let selector: Vec<NodeSelectorRequirement> = self
            .selector
            .iter()
            .map(|(k, v)| NodeSelectorRequirement::equals(k, v))
            .collect();
        if self.terms.is_empty() {
            return vec![selector];
        }
        self.terms
            .iter()
            .filter(|t| !t.match_expressions.is_empty())
            .map(|t| {
                let mut all = selector.clone();
                all.extend(t.match_expressions.iter().cloned());
                all
            })
            .collect()
    }
}

/// Reads both what this module writes and a plain `nodeSelector` map, which is how
/// snapshots stored before required node affinity was modelled hold a pod's selector.
impl<'de> Deserialize<'de> for NodePlacement {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Current {
            selector: BTreeMap<String, String>,
            #[serde(default)]
            terms: Vec<NodeSelectorTerm>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Current(Current),
            Selector(BTreeMap<String, String>),
        }
        Ok(match Stored::deserialize(d)? {
            Stored::Current(c) => NodePlacement {
                selector: c.selector,
                terms: c.terms,
            },
            Stored::Selector(selector) => NodePlacement {
                selector,
                terms: Vec::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn req(key: &str, operator: Operator, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| (*v).to_string()).collect(),
        }
    }

    /// The demo's on-demand placement: the node group's label OR Karpenter's.
    fn on_demand() -> NodePlacement {
        NodePlacement {
            selector: BTreeMap::new(),
            terms: vec![
                NodeSelectorTerm {
                    match_expressions: vec![req(
                        "eks.amazonaws.com/capacityType",
                        Operator::In,
                        &["ON_DEMAND"],
                    )],
                },
                NodeSelectorTerm {
                    match_expressions: vec![req(
                        "karpenter.sh/capacity-type",
                        Operator::In,
                        &["on-demand"],
                    )],
                },
            ],
        }
    }

    #[test]
    fn terms_are_ored_and_expressions_anded() {
        let p = on_demand();
        assert!(p.matches(&labels(&[("eks.amazonaws.com/capacityType", "ON_DEMAND")])));
        assert!(p.matches(&labels(&[("karpenter.sh/capacity-type", "on-demand")])));
        assert!(!p.matches(&labels(&[("karpenter.sh/capacity-type", "spot")])));
        assert!(!p.matches(&labels(&[("eks.amazonaws.com/capacityType", "SPOT")])));
        assert!(!p.matches(&labels(&[])));

        let both = NodePlacement {
            selector: BTreeMap::new(),
            terms: vec![NodeSelectorTerm {
                match_expressions: vec![
                    req("kubernetes.io/arch", Operator::In, &["amd64"]),
                    req("karpenter.sh/capacity-type", Operator::NotIn, &["spot"]),
                ],
            }],
        };
        assert!(both.matches(&labels(&[("kubernetes.io/arch", "amd64")])));
        assert!(!both.matches(&labels(&[
            ("kubernetes.io/arch", "amd64"),
            ("karpenter.sh/capacity-type", "spot")
        ])));
        assert!(!both.matches(&labels(&[("kubernetes.io/arch", "arm64")])));
    }

    #[test]
    fn operators_follow_kubernetes() {
        let l = labels(&[("a", "1"), ("b", "x")]);
        assert!(req("a", Operator::Exists, &[]).matches(&l));
        assert!(!req("z", Operator::Exists, &[]).matches(&l));
        assert!(req("z", Operator::DoesNotExist, &[]).matches(&l));
        assert!(!req("a", Operator::DoesNotExist, &[]).matches(&l));
        assert!(
            req("z", Operator::NotIn, &["x"]).matches(&l),
            "absent is not in"
        );
        assert!(!req("b", Operator::NotIn, &["x"]).matches(&l));
        assert!(!req("z", Operator::In, &["x"]).matches(&l));
        assert!(req("a", Operator::Gt, &["0"]).matches(&l));
        assert!(!req("a", Operator::Gt, &["1"]).matches(&l));
        assert!(req("a", Operator::Lt, &["2"]).matches(&l));
        assert!(!req("b", Operator::Lt, &["2"]).matches(&l), "not a number");
    }

    #[test]
    fn selector_and_terms_both_hold_and_an_empty_term_matches_nothing() {
        let mut p = on_demand();
        p.selector.insert("intent".into(), "emr-job".into());
        assert!(!p.matches(&labels(&[("karpenter.sh/capacity-type", "on-demand")])));
        assert!(p.matches(&labels(&[
            ("karpenter.sh/capacity-type", "on-demand"),
            ("intent", "emr-job")
        ])));
        assert_eq!(p.alternatives().len(), 2);
        assert_eq!(p.alternatives()[1].len(), 2);

        let empty = NodePlacement {
            selector: BTreeMap::new(),
            terms: vec![NodeSelectorTerm::default()],
        };
        assert!(!empty.matches(&labels(&[("a", "1")])));
        assert!(empty.alternatives().is_empty());
        assert!(NodePlacement::default().matches(&labels(&[])));
    }

    #[test]
    fn a_stored_plain_selector_still_reads() {
        let old: NodePlacement =
            serde_json::from_str(r#"{"eks.amazonaws.com/capacityType":"ON_DEMAND"}"#)
                .expect("old form");
        assert_eq!(old.selector.len(), 1);
        assert!(old.terms.is_empty());
        let p = on_demand();
        let back: NodePlacement =
            serde_json::from_str(&serde_json::to_string(&p).expect("json")).expect("new form");
        assert_eq!(back, p);
    }
}
