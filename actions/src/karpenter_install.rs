//! What `enable-autoscaling` needs on the cluster before it applies anything:
//! Karpenter v1, its NodePool API served and its controller running. Without them a
//! NodePool is refused (no API) or accepted and never acted on (no controller), so
//! the step fails at once and says what to install, with the commands the README's
//! "Karpenter on the aws target" section gives (from Karpenter's getting-started
//! guide).

use crate::context::StepContext;
use crate::planned_call::{PlannedCall, PlannedCalls};
use runbook_backend::{ActionError, Target};

/// The Helm install of Karpenter for cluster `cluster`, as Karpenter's
/// getting-started guide gives it (the chart into `kube-system`, the cluster's name
/// and its interruption queue, which the guide's CloudFormation stack creates with
/// the controller's and the nodes' IAM roles).
fn helm_install(cluster: &str) -> String {
    format!(
        "helm upgrade --install karpenter oci://public.ecr.aws/karpenter/karpenter --version \"${{KARPENTER_VERSION}}\" --namespace kube-system --create-namespace --set \"settings.clusterName={cluster}\" --set \"settings.interruptionQueue={cluster}\" --wait"
    )
}

/// Fails, saying what to install, unless the cluster serves Karpenter's NodePool API
/// and runs its controller.
pub(crate) async fn require_controller(
    ctx: &StepContext,
    cluster: &str,
) -> Result<(), ActionError> {
    let status = ctx.target.kube.autoscaler(cluster).await?;
    let problem = if !status.node_pool_api {
        "serves no karpenter.sh/v1 NodePool API: Karpenter v1 is not installed"
    } else if status.controller_pods.is_empty() {
        "serves Karpenter's NodePool API, but no Karpenter controller pod is Running (`kubectl get pods -A -l app.kubernetes.io/name=karpenter` shows why)"
    } else {
        return Ok(());
    };
    Err(ActionError::Failed(format!(
        "cluster `{cluster}` {problem}; install Karpenter v1 as the README's \"Karpenter on the aws target\" shows: its IAM roles and interruption queue (Karpenter's getting-started CloudFormation stack, `Karpenter-{cluster}`), then `{}`",
        helm_install(cluster)
    )))
}

/// The calls [`require_controller`] makes on `target` (discovery of the NodePool API
/// and the list of controller pods).
pub(crate) fn planned_controller_check(target: &Target, cluster: &str) -> Vec<PlannedCall> {
    target.kube.planned_autoscaler(cluster).note(
        "without Karpenter's NodePool API or a Running controller pod, the step fails here and says what to install",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use serde_json::json;

    use crate::test_support::SimWorld;
    use runbook_backend::{AutoscalerStatus, Kube, TargetResult};

    /// A cluster API that answers only what the autoscaler check reads.
    struct Cluster(AutoscalerStatus);

    #[async_trait]
    impl Kube for Cluster {
        async fn default_cluster(&self) -> TargetResult<String> {
            Ok("demo".into())
        }
        async fn autoscaler(&self, _cluster: &str) -> TargetResult<AutoscalerStatus> {
            Ok(self.0.clone())
        }
    }

    async fn enable_on(status: AutoscalerStatus) -> String {
        let world = SimWorld::new();
        let mut ctx = world.ctx("step", "token");
        let mut target = (*ctx.target).clone();
        target.kube = Arc::new(Cluster(status));
        ctx.target = Arc::new(target);
        let action = crate::find("enable-autoscaling").expect("the action");
        action
            .run(json!({}), &ctx)
            .await
            .expect_err("no Karpenter")
            .to_string()
    }

    #[tokio::test]
    async fn without_karpenter_it_fails_at_once_naming_what_to_install() {
        let err = enable_on(AutoscalerStatus {
            node_pool_api: false,
            controller_pods: Vec::new(),
        })
        .await;
        assert!(
            err.contains("cluster `demo` serves no karpenter.sh/v1 NodePool API"),
            "{err}"
        );
        assert!(
            err.contains(
                "helm upgrade --install karpenter oci://public.ecr.aws/karpenter/karpenter"
            ),
            "{err}"
        );
        assert!(err.contains("settings.clusterName=demo"), "{err}");
        let err = enable_on(AutoscalerStatus {
            node_pool_api: true,
            controller_pods: Vec::new(),
        })
        .await;
        assert!(
            err.contains("no Karpenter controller pod is Running"),
            "{err}"
        );
    }
}
