//! PriorityClasses and the Priority admission plugin: how a pod gets its priority.
//!
//! As in Kubernetes, a pod names a class (`priorityClassName`); admission copies the
//! class's value into the pod, and a pod without a class gets the value of the class
//! marked `globalDefault` (or 0). The value is fixed at admission: deleting or adding
//! classes later does not change running pods. Only one class may be the global
//! default, and user classes are limited to 1,000,000,000.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::shared_str::SharedStr;

/// The highest value a user-defined PriorityClass may have (`HighestUserDefinablePriority`).
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;

/// `system-cluster-critical` (CoreDNS and other cluster add-ons).
pub const SYSTEM_CLUSTER_CRITICAL: &str = "system-cluster-critical";
/// `system-node-critical` (per-node DaemonSets such as `aws-node`, `kube-proxy`).
pub const SYSTEM_NODE_CRITICAL: &str = "system-node-critical";

/// Whether pods of a class may preempt lower-priority pods.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum PreemptionPolicy {
    /// The default: the scheduler may evict lower-priority pods to make room.
    #[default]
    PreemptLowerPriority,
    /// Pods wait in the queue ahead of lower-priority pods but never evict anything.
    Never,
}

/// A PriorityClass (`scheduling.k8s.io/v1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityClass {
    /// Name.
    pub name: SharedStr,
    /// Priority value; higher is more important.
    pub value: i32,
    /// Whether pods without a class get this one.
    pub global_default: bool,
    /// Whether pods of this class may preempt.
    pub preemption_policy: PreemptionPolicy,
    /// Free text.
    pub description: Option<String>,
    /// True for the two `system-` classes every cluster has.
    pub builtin: bool,
}

/// The input of [`World::create_priority_class`](crate::World::create_priority_class).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityClassSpec {
    /// Name.
    pub name: String,
    /// Priority value (at most 1,000,000,000).
    pub value: i64,
    /// Mark as the cluster-wide default for pods without a class.
    #[serde(default)]
    pub global_default: bool,
    /// Whether pods of this class may preempt (default `PreemptLowerPriority`).
    #[serde(default)]
    pub preemption_policy: PreemptionPolicy,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

impl PriorityClassSpec {
    /// A class with the default preemption policy and no description.
    pub fn new(name: impl Into<String>, value: i64, global_default: bool) -> Self {
        PriorityClassSpec {
            name: name.into(),
            value,
            global_default,
            preemption_policy: PreemptionPolicy::PreemptLowerPriority,
            description: None,
        }
    }
}

/// What admission resolved for a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResolvedPriority {
    pub(crate) value: i32,
    pub(crate) class_name: Option<SharedStr>,
    pub(crate) preemption_policy: PreemptionPolicy,
}

/// The PriorityClasses of one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityClasses {
    classes: BTreeMap<String, PriorityClass>,
}

impl Default for PriorityClasses {
    fn default() -> Self {
        let mut classes = BTreeMap::new();
        for (name, value) in [
            (SYSTEM_CLUSTER_CRITICAL, 2_000_000_000),
            (SYSTEM_NODE_CRITICAL, 2_000_001_000),
        ] {
            classes.insert(
                name.to_string(),
                PriorityClass {
                    name: name.into(),
                    value,
                    global_default: false,
                    preemption_policy: PreemptionPolicy::PreemptLowerPriority,
                    description: Some("built-in system class".to_string()),
                    builtin: true,
                },
            );
        }
        PriorityClasses { classes }
    }
}

impl PriorityClasses {
    /// All classes, by name.
    pub fn iter(&self) -> impl Iterator<Item = &PriorityClass> {
        self.classes.values()
    }

    /// One class.
    pub fn get(&self, name: &str) -> Option<&PriorityClass> {
        self.classes.get(name)
    }

    /// The class marked `globalDefault`, if any.
    pub fn global_default(&self) -> Option<&PriorityClass> {
        self.classes.values().find(|c| c.global_default)
    }

    pub(crate) fn create(
        &mut self,
        cluster: &str,
        spec: PriorityClassSpec,
    ) -> Result<(), SimError> {
        if self.classes.contains_key(&spec.name) {
            return Err(SimError::PriorityClassAlreadyExists {
                cluster: cluster.to_string(),
                name: spec.name,
            });
        }
        if spec.value > HIGHEST_USER_DEFINABLE_PRIORITY || spec.value < -i64::from(i32::MAX) {
            return Err(SimError::InvalidPriorityValue {
                name: spec.name,
                value: spec.value,
            });
        }
        if spec.global_default {
            if let Some(existing) = self.global_default() {
                return Err(SimError::GlobalDefaultConflict {
                    name: spec.name,
                    existing: existing.name.to_string(),
                });
            }
        }
        let value = i32::try_from(spec.value).map_err(|_| SimError::InvalidPriorityValue {
            name: spec.name.clone(),
            value: spec.value,
        })?;
        self.classes.insert(
            spec.name.clone(),
            PriorityClass {
                name: spec.name.into(),
                value,
                global_default: spec.global_default,
                preemption_policy: spec.preemption_policy,
                description: spec.description,
                builtin: false,
            },
        );
        Ok(())
    }

    pub(crate) fn delete(&mut self, cluster: &str, name: &str) -> Result<(), SimError> {
        match self.classes.get(name) {
            None => Err(SimError::PriorityClassNotFound {
                cluster: cluster.to_string(),
                name: name.to_string(),
            }),
            Some(c) if c.builtin => Err(SimError::PriorityClassProtected {
                name: name.to_string(),
            }),
            Some(_) => {
                self.classes.remove(name);
                Ok(())
            }
        }
    }

    /// The Priority admission plugin: the named class's value, or the global default's,
    /// or 0. `Err(name)` when the named class does not exist.
    pub(crate) fn resolve(&self, class: Option<&str>) -> Result<ResolvedPriority, String> {
        match class {
            Some(name) => self
                .classes
                .get(name)
                .map(|c| ResolvedPriority {
                    value: c.value,
                    class_name: Some(c.name.clone()),
                    preemption_policy: c.preemption_policy,
                })
                .ok_or_else(|| name.to_string()),
            None => Ok(match self.global_default() {
                Some(c) => ResolvedPriority {
                    value: c.value,
                    class_name: Some(c.name.clone()),
                    preemption_policy: c.preemption_policy,
                },
                None => ResolvedPriority {
                    value: 0,
                    class_name: None,
                    preemption_policy: PreemptionPolicy::PreemptLowerPriority,
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_global_default() {
        let mut pcs = PriorityClasses::default();
        pcs.create("c", PriorityClassSpec::new("critical-priority", 400, true))
            .expect("first default is fine");
        let err = pcs
            .create("c", PriorityClassSpec::new("other", 10, true))
            .expect_err("second default must be refused");
        assert_eq!(
            err,
            SimError::GlobalDefaultConflict {
                name: "other".into(),
                existing: "critical-priority".into()
            }
        );
        // a non-default class is fine
        pcs.create("c", PriorityClassSpec::new("low-priority", 100, false))
            .expect("non-default class");
    }

    #[test]
    fn admission_uses_global_default_then_zero() {
        let mut pcs = PriorityClasses::default();
        assert_eq!(pcs.resolve(None).map(|r| r.value), Ok(0));
        pcs.create("c", PriorityClassSpec::new("critical-priority", 400, true))
            .expect("create");
        let r = pcs.resolve(None).expect("default exists");
        assert_eq!(r.value, 400);
        assert_eq!(r.class_name.as_deref(), Some("critical-priority"));
        assert_eq!(pcs.resolve(Some("nope")), Err("nope".to_string()));
    }

    #[test]
    fn values_above_one_billion_are_reserved() {
        let mut pcs = PriorityClasses::default();
        assert!(matches!(
            pcs.create(
                "c",
                PriorityClassSpec::new("too-high", 1_000_000_001, false)
            ),
            Err(SimError::InvalidPriorityValue { .. })
        ));
        assert!(matches!(
            pcs.delete("c", SYSTEM_NODE_CRITICAL),
            Err(SimError::PriorityClassProtected { .. })
        ));
    }
}
