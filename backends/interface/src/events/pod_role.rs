//! What a pod is for, from the labels EMR on EKS puts on job pods.

use serde::{Deserialize, Serialize};

/// What a pod is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodRole {
    /// A cluster system pod (DaemonSet or CoreDNS), or any pod of no EMR job.
    System,
    /// The EMR job-runner pod (`component: controller`), which runs `spark-submit`.
    Controller,
    /// The Spark driver.
    Driver,
    /// A Spark executor.
    Executor,
}

impl PodRole {
    /// The `emr-containers.amazonaws.com/component` value, or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            PodRole::System => "system",
            PodRole::Controller => "controller",
            PodRole::Driver => "driver",
            PodRole::Executor => "executor",
        }
    }

    /// The role of a pod whose `emr-containers.amazonaws.com/component` label is
    /// `component` (a pod without the label, or with another value, is `System`).
    pub fn from_component(component: Option<&str>) -> PodRole {
        match component {
            Some("controller") => PodRole::Controller,
            Some("driver") => PodRole::Driver,
            Some("executor") => PodRole::Executor,
            _ => PodRole::System,
        }
    }
}

impl std::fmt::Display for PodRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
