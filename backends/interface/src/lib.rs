//! The interface between actions and the targets they run on: the service traits
//! each backend implements (`runbook-backend-sim`, `runbook-backend-aws`), the request
//! and answer types, the errors, the observed events, and the one clock each target
//! keeps. It has no cloud dependencies, so the actions (and their tests on `sim`)
//! build without the AWS SDK.
//!
//! On `aws` time is the wall clock. On `sim` time is virtual: it belongs to
//! [`VirtualClock`], which moves forward only when every participant (each running
//! step, and the engine's scheduler) is waiting, and then jumps straight to the earliest
//! thing anybody waits for. Concurrent waits therefore interleave exactly as they would
//! in real time, and a six-minute job takes milliseconds.

mod clock;
mod event_listener;
mod virtual_clock;

pub use clock::{Clock, Participant};
pub use event_listener::{EventListener, Listeners};
pub use virtual_clock::{Pace, VirtualClock, Wake, WorldDriver};

use std::fmt;
use std::str::FromStr;

/// Where a run's actions take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The deterministic in-process simulation of EKS + EMR on EKS (the default).
    Sim,
    /// Real AWS services and the cluster's Kubernetes API.
    Aws,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Sim => "sim",
            TargetKind::Aws => "aws",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sim" => Ok(TargetKind::Sim),
            "aws" => Ok(TargetKind::Aws),
            other => Err(format!(
                "unknown target `{other}` (expected `sim` or `aws`)"
            )),
        }
    }
}

pub mod arn;
pub mod calls;
pub mod duration;
mod eks_role;
mod error;
pub mod events;
pub mod karpenter_node_pool;
pub mod kube_kinds;
mod model;
mod only_cluster;
mod readiness;
mod services;

pub use eks_role::EksRole;
pub use error::{ActionError, ErrorClass};
pub use events::ObservedEvent;
pub use model::*;
pub use only_cluster::only_cluster;
pub use readiness::{
    AccessVerdict, ActionVerdict, AutoscalerStatus, BucketOwner, KubeAccess, OfferedVersion,
    SubnetInfo, VcpuQuota,
};
pub use services::{Capacity, Eks, Emr, Iam, Kube, Logs, S3, TargetResult};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

/// Where a run's actions take effect: the services of one target.
#[derive(Clone)]
pub struct Target {
    pub kind: TargetKind,
    /// The AWS account (ARNs, bucket names).
    pub account_id: String,
    /// The ARN of the identity the target acts as (STS GetCallerIdentity on `aws`).
    pub caller_arn: String,
    pub region: String,
    pub eks: Arc<dyn Eks>,
    pub kube: Arc<dyn Kube>,
    pub emr: Arc<dyn Emr>,
    pub iam: Arc<dyn Iam>,
    pub logs: Arc<dyn Logs>,
    pub s3: Arc<dyn S3>,
    /// What the account can run: subnets, instance offerings, vCPU quotas (EC2 and
    /// Service Quotas), asked by `preflight` only.
    pub capacity: Arc<dyn Capacity>,
    pub observer: Arc<dyn Observer>,
}

impl Target {
    /// The ARN partition of the account the target acts in: the caller ARN's (STS's
    /// answer on `aws`), else the region's.
    pub fn partition(&self) -> &str {
        arn::partition_of_caller(&self.caller_arn, &self.region)
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("kind", &self.kind)
            .field("account_id", &self.account_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Why a wait for a change returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// Something may have changed: look again.
    Changed,
    /// The timeout passed.
    TimedOut,
    /// Nothing will change any more (the simulated world is idle and every step waits).
    Idle,
}

/// Watching the target: waits for changes, and the record of what happened.
#[async_trait]
pub trait Observer: Send + Sync {
    /// Waits until something observable may have changed, or `timeout` passed.
    /// Without anything to watch, a wait with a timeout sleeps it out and one without
    /// could wait for ever: it says so.
    async fn wait_for_change(
        &self,
        clock: &Clock,
        participant: &Participant,
        timeout: Option<Duration>,
    ) -> WaitOutcome {
        match timeout {
            Some(t) => {
                clock.sleep(participant, t).await;
                WaitOutcome::TimedOut
            }
            None => WaitOutcome::Idle,
        }
    }
    /// Returns once the record has caught up with what the target shows now, so that
    /// a judgment on [`Observer::events`] does not miss what a wait just saw through a
    /// direct call. The simulator records synchronously; Kubernetes watches lag the API
    /// by a little.
    async fn settle(&self) {}
    /// Every event observed during the run so far, oldest first.
    fn events(&self) -> Vec<ObservedEvent> {
        Vec::new()
    }
    /// Why the record may be incomplete: the watches failing now (refused, cut), each
    /// `cluster: error`. The simulator records everything; watches retry by themselves.
    fn watch_errors(&self) -> Vec<String> {
        Vec::new()
    }
    /// Gives back what was observed before an interruption (read from the state DB on
    /// resume), so that [`Observer::events`] has it; it is not drained again. The
    /// simulator's snapshot holds its own record, so it ignores this.
    fn restore_events(&self, _earlier: Vec<ObservedEvent>) {}
    /// The events observed since the last call (to be stored with the step that ends).
    fn drain_events(&self) -> Vec<ObservedEvent> {
        Vec::new()
    }
    /// The target's state for resume, if it changed since the last call.
    fn snapshot(&self) -> Option<Vec<u8>> {
        None
    }

    /// From now on, tells `listener` of every event as it is recorded (after telling
    /// it what was recorded before, see [`EventListener::earlier`]). One listener at
    /// a time: a later one replaces it. A target that observes nothing tells nothing.
    fn subscribe(&self, _listener: Arc<dyn EventListener>) {}
}

/// A target without cloud services: every service call is refused by the traits'
/// defaults, and there is nothing to observe.
struct NoCloud;

impl Eks for NoCloud {}
impl Kube for NoCloud {}
impl Emr for NoCloud {}
impl Iam for NoCloud {}
impl Logs for NoCloud {}
impl S3 for NoCloud {}
impl Capacity for NoCloud {}
impl Observer for NoCloud {}

impl Target {
    /// A target whose cloud services are not available; utility actions (`log`,
    /// `sleep`, `assert`, `exec`) still run on it.
    pub fn without_cloud(kind: TargetKind) -> Target {
        let none = Arc::new(NoCloud);
        Target {
            kind,
            account_id: String::new(),
            caller_arn: String::new(),
            region: String::new(),
            eks: none.clone(),
            kube: none.clone(),
            emr: none.clone(),
            iam: none.clone(),
            logs: none.clone(),
            s3: none.clone(),
            capacity: none.clone(),
            observer: none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Target, TargetKind};

    #[test]
    fn the_partition_is_the_callers_else_the_regions() {
        let mut target = Target::without_cloud(TargetKind::Aws);
        target.region = "cn-north-1".into();
        assert_eq!(target.partition(), "aws-cn", "no caller: the region's");
        target.caller_arn = "arn:aws-us-gov:iam::123456789012:user/ops".into();
        assert_eq!(target.partition(), "aws-us-gov", "STS's answer wins");
    }
}
