//! `register-vc`: an EMR virtual cluster on a namespace of the EKS cluster.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, PlannedCalls};
use runbook_backend::ActionError;

/// The action; [`RegisterVcInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct RegisterVc;

/// Registers a namespace of the EKS cluster with EMR as a virtual cluster (walkthrough
/// row 2): makes sure the namespace exists, gives EMR access to it (on `aws`: the RBAC
/// Role and RoleBinding for user `emr-containers` and the identity mapping of the EMR
/// service-linked role), and creates the virtual cluster. A RUNNING virtual cluster
/// with the same name on the same namespace is adopted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterVcInput {
    /// The EKS cluster (default: the only cluster).
    #[serde(default)]
    cluster: Option<String>,
    /// The namespace EMR runs jobs in, e.g. `monthly-batch`.
    namespace: String,
    /// The virtual cluster's name (default: `<namespace>-emr-cluster`, as in the
    /// walkthrough).
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RegisterVcOutput {
    /// The virtual cluster id (what StartJobRun needs).
    virtual_cluster_id: String,
    /// The virtual cluster's name.
    name: String,
    /// Its ARN.
    arn: String,
    /// The namespace it runs jobs in.
    namespace: String,
    /// The EKS cluster.
    cluster: String,
    /// Whether an existing virtual cluster was adopted instead of created.
    adopted: bool,
}

impl Action for RegisterVc {
    type Input = RegisterVcInput;
    type Output = RegisterVcOutput;
    const NAME: &'static str = "register-vc";
    const SUMMARY: &'static str =
        "Register a namespace with EMR as a virtual cluster (adopting a running one).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: RegisterVcInput,
        ctx: &StepContext,
    ) -> Result<RegisterVcOutput, ActionError> {
        let target = &ctx.target;
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let name = vc_name(input.name, &input.namespace);
        target
            .kube
            .create_namespace(&cluster, &input.namespace)
            .await?;
        target
            .kube
            .grant_emr_access(&cluster, &input.namespace, &target.account_id)
            .await?;
        let existing = target
            .emr
            .list_virtual_clusters()
            .await?
            .into_iter()
            .filter(|vc| {
                vc.state == "RUNNING" && vc.cluster == cluster && vc.namespace == input.namespace
            })
            .find(|vc| vc.name == name);
        let (vc, adopted) = match existing {
            Some(vc) => (vc, true),
            None => (
                target
                    .emr
                    .create_virtual_cluster(&name, &cluster, &input.namespace, &ctx.idempotency_key)
                    .await?,
                false,
            ),
        };
        Ok(RegisterVcOutput {
            virtual_cluster_id: vc.id,
            name: vc.name,
            arn: vc.arn,
            namespace: vc.namespace,
            cluster: vc.cluster,
            adopted,
        })
    }

    fn planned_calls(
        input: &RegisterVcInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        let target = &plan.target;
        let (cluster, mut calls) = crate::cluster_lookup::planned(target, input.cluster.as_deref());
        let namespace = input.namespace.as_str();
        let name = vc_name(input.name.clone(), namespace);
        calls.extend(target.kube.planned_create_namespace(&cluster, namespace));
        calls.extend(
            target
                .kube
                .planned_grant_emr_access(&cluster, namespace, &target.account_id),
        );
        let emr = &plan.target.emr;
        calls.extend(emr.planned_list_virtual_clusters().note(&format!(
            "looks for a RUNNING `{name}` on {cluster}/{namespace} to adopt"
        )));
        calls.extend(
            emr.planned_create_virtual_cluster(&name, &cluster, namespace, &plan.idempotency_key())
                .under("if there is none to adopt"),
        );
        Ok(calls)
    }
}

/// The virtual cluster's name: the one given, or the walkthrough's `<namespace>-emr-cluster`.
fn vc_name(given: Option<String>, namespace: &str) -> String {
    given.unwrap_or_else(|| format!("{namespace}-emr-cluster"))
}

#[cfg(test)]
mod tests {
    use runbook_sim::virtual_cluster::VirtualClusterState;
    use serde_json::json;

    use crate::test_support::SimWorld;

    fn running_vcs(world: &SimWorld) -> Vec<(String, String, String)> {
        world
            .sim
            .world()
            .virtual_clusters()
            .filter(|vc| vc.state == VirtualClusterState::Running)
            .map(|vc| (vc.id.clone(), vc.name.clone(), vc.namespace.clone()))
            .collect()
    }

    #[tokio::test]
    async fn creates_the_namespace_and_vc_then_adopts_it() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "eks-emr-cluster"}))
            .await
            .expect("cluster");
        assert!(
            !world
                .sim
                .world()
                .cluster("eks-emr-cluster")
                .expect("cluster")
                .namespaces
                .contains("monthly-batch")
        );

        let first = world
            .run("register-vc", json!({"namespace": "monthly-batch"}))
            .await
            .expect("registered");
        let id = first["virtual_cluster_id"]
            .as_str()
            .expect("id")
            .to_string();
        assert_eq!(
            first,
            json!({
                "virtual_cluster_id": id,
                "name": "monthly-batch-emr-cluster",
                "arn": format!("arn:aws:emr-containers:us-east-2:123456789012:/virtualclusters/{id}"),
                "namespace": "monthly-batch",
                "cluster": "eks-emr-cluster",
                "adopted": false,
            })
        );
        assert!(
            world
                .sim
                .world()
                .cluster("eks-emr-cluster")
                .expect("cluster")
                .namespaces
                .contains("monthly-batch"),
            "register-vc creates the namespace"
        );
        assert_eq!(
            running_vcs(&world),
            vec![(
                id.clone(),
                "monthly-batch-emr-cluster".to_string(),
                "monthly-batch".to_string()
            )]
        );

        let second = world
            .run("register-vc", json!({"namespace": "monthly-batch"}))
            .await
            .expect("adopted");
        assert_eq!(second["adopted"], true);
        assert_eq!(second["virtual_cluster_id"], id);
        assert_eq!(second["arn"], first["arn"]);
        assert_eq!(running_vcs(&world).len(), 1, "still one virtual cluster");
        assert_eq!(world.sim.world().virtual_clusters().count(), 1);
    }

    #[tokio::test]
    async fn a_deleted_vc_is_not_adopted() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let first = world
            .run(
                "register-vc",
                json!({"namespace": "adhoc", "name": "adhoc-vc", "cluster": "c"}),
            )
            .await
            .expect("registered");
        assert_eq!(first["name"], "adhoc-vc");
        world
            .run("delete-vc", json!({"virtual_cluster": "adhoc-vc"}))
            .await
            .expect("deleted");
        let again = world
            .run(
                "register-vc",
                json!({"namespace": "adhoc", "name": "adhoc-vc"}),
            )
            .await
            .expect("registered again");
        assert_eq!(again["adopted"], false);
        assert_ne!(again["virtual_cluster_id"], first["virtual_cluster_id"]);
        assert_eq!(running_vcs(&world).len(), 1);
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run("register-vc", json!({"namespace": "monthly-batch"}))
            .await
            .expect_err("no cluster yet");
        assert!(
            err.to_string().contains("there is no EKS cluster yet"),
            "{err}"
        );

        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let err = world
            .run(
                "register-vc",
                json!({"namespace": "monthly-batch", "cluster": "other"}),
            )
            .await
            .expect_err("unknown cluster");
        assert!(err.to_string().contains("other"), "{err}");

        let err = world
            .run(
                "register-vc",
                json!({"namespace": "monthly-batch", "virtual_cluster": "x"}),
            )
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `virtual_cluster`"),
            "{err}"
        );

        world
            .run("register-vc", json!({"namespace": "monthly-batch"}))
            .await
            .expect("registered");
        let err = world
            .run(
                "register-vc",
                json!({"namespace": "monthly-batch", "name": "another-name"}),
            )
            .await
            .expect_err("one running virtual cluster per namespace");
        assert!(
            err.to_string()
                .contains("is already registered for namespace `monthly-batch`"),
            "{err}"
        );
        assert_eq!(running_vcs(&world).len(), 1);
    }
}
