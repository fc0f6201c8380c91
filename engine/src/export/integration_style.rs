//! How an exported state machine waits for what AWS finishes after answering (a
//! cluster becoming ACTIVE, a job run ending): with the optimised integrations' `.sync`
//! pattern, or by polling with the SDK integrations, which also runs where `.sync`
//! cannot (moto's Step Functions, which the tests execute exports on).

use std::time::Duration;

/// `--integration-style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum IntegrationStyle {
    /// `eks:createCluster.sync`, `eks:createNodegroup.sync` and
    /// `emr-containers:startJobRun.sync`: Step Functions waits, no polls billed
    #[default]
    Optimized,
    /// Request-response calls, then Wait + Describe + Choice until done
    Sdk,
}

/// What the exporter needs to know to write a wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waiting {
    pub style: IntegrationStyle,
    /// How long the state machine waits between two looks at what it polls.
    pub poll_interval: Duration,
}

/// `--poll-interval`'s default: a job run or a cluster takes minutes, and each look is
/// a state transition billed.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);

impl Default for Waiting {
    fn default() -> Waiting {
        Waiting {
            style: IntegrationStyle::Optimized,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

impl Waiting {
    /// Whether waits are the `.sync` patterns.
    pub(crate) fn sync(&self) -> bool {
        self.style == IntegrationStyle::Optimized
    }
}
