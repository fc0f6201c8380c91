//! `runbook preflight`: read-only checks that answer "will this runbook work in this
//! account?" before anything is created. Each check passes, fails (the run would
//! fail, or cost what it should not), or cannot be checked (and says why); the same
//! checks run against the simulated account on `sim` and the real one on `aws`.

mod capacity;
mod checks;
mod needs;

use runbook_backend::Target;
use serde::Serialize;

pub use needs::Needs;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// The check could not be made (a call was refused, or what it needs only exists
    /// at run time); it does not fail the preflight.
    CannotCheck,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::CannotCheck => "cannot-check",
        }
    }
}

/// One check's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `credentials`, `permissions`, `kubernetes-permissions`, `kubernetes-version`,
    /// `subnets`, `vcpu-quota`, `buckets`, `existing`, `autoscaler`.
    pub check: &'static str,
    pub status: Status,
    /// What was found, for people.
    pub detail: String,
    /// What to do about a failure (or about what could not be checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(check: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check {
            check,
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn pass(check: &'static str, detail: impl Into<String>) -> Check {
        Check::new(check, Status::Pass, detail)
    }

    fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(check, Status::Fail, detail).with_fix(fix)
    }

    fn cannot(check: &'static str, detail: impl Into<String>) -> Check {
        Check::new(check, Status::CannotCheck, detail)
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// Every check of `needs` against `target`, side by side (they are independent reads),
/// in a fixed order.
pub async fn run_checks(target: &Target, needs: &Needs) -> Vec<Check> {
    let credentials = checks::credentials(target);
    let (permissions, versions, subnets, quotas, buckets, existing, autoscaler, kube) = tokio::join!(
        checks::permissions(target, needs),
        checks::kubernetes_versions(target, needs),
        capacity::subnets(target, needs),
        capacity::vcpu_quotas(target, needs),
        checks::buckets(target, needs),
        checks::existing(target, needs),
        checks::autoscaler(target, needs),
        checks::kubernetes_permissions(target, needs),
    );
    let mut all = vec![credentials, permissions];
    all.extend(kube);
    all.extend(versions);
    all.extend(subnets);
    all.extend(quotas);
    all.extend(buckets);
    all.extend(existing);
    all.extend(autoscaler);
    all
}

/// What a target that could not be reached leaves of the checks: the credentials
/// check fails with `why`, the others cannot be made.
pub fn unreachable(why: &str, fix: &str) -> Vec<Check> {
    let mut all = vec![Check::fail("credentials", why, fix)];
    all.extend(
        [
            "permissions",
            "kubernetes-version",
            "buckets",
            "existing",
            "autoscaler",
        ]
        .into_iter()
        .map(|check| Check::cannot(check, "the target could not be reached")),
    );
    all
}
