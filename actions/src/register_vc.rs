//! `register-vc`: an EMR virtual cluster on a namespace of the EKS cluster.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::error::ActionError;

/// Registers a namespace of the EKS cluster with EMR as a virtual cluster (walkthrough
/// row 2): makes sure the namespace exists, gives EMR access to it (on `aws`: the RBAC
/// Role and RoleBinding for user `emr-containers` and the identity mapping of the EMR
/// service-linked role), and creates the virtual cluster. A RUNNING virtual cluster
/// with the same name on the same namespace is adopted.
pub(crate) struct RegisterVc;

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
    const SUMMARY: &'static str = "Register a namespace with EMR as a virtual cluster (adopting a running one).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(&self, input: RegisterVcInput, ctx: &StepContext) -> Result<RegisterVcOutput, ActionError> {
        let target = &ctx.target;
        let cluster = match input.cluster {
            Some(c) => c,
            None => target.kube.default_cluster().await?,
        };
        let name = input.name.unwrap_or_else(|| format!("{}-emr-cluster", input.namespace));
        target.kube.create_namespace(&cluster, &input.namespace).await?;
        let existing = target
            .emr
            .list_virtual_clusters()
            .await?
            .into_iter()
            .filter(|vc| vc.state == "RUNNING" && vc.cluster == cluster && vc.namespace == input.namespace)
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
}
