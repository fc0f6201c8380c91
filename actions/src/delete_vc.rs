//! `delete-vc`: deletes an EMR virtual cluster, by name or id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::error::ActionError;

/// Deletes a virtual cluster, looked up by name (as the walkthrough's clean-up does) or
/// given by id. Succeeds when it is already gone.
pub(crate) struct DeleteVc;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteVcInput {
    /// The virtual cluster's name or id.
    virtual_cluster: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeleteVcOutput {
    /// The id of the deleted virtual cluster, if one was found.
    virtual_cluster_id: Option<String>,
    /// False when there was nothing to delete.
    deleted: bool,
}

impl Action for DeleteVc {
    type Input = DeleteVcInput;
    type Output = DeleteVcOutput;
    const NAME: &'static str = "delete-vc";
    const SUMMARY: &'static str = "Delete an EMR virtual cluster by name or id (gone already is fine).";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(&self, input: DeleteVcInput, ctx: &StepContext) -> Result<DeleteVcOutput, ActionError> {
        let wanted = input.virtual_cluster;
        let found = ctx
            .target
            .emr
            .list_virtual_clusters()
            .await?
            .into_iter()
            .filter(|vc| vc.state == "RUNNING")
            .find(|vc| vc.id == wanted || vc.name == wanted);
        let Some(vc) = found else {
            return Ok(DeleteVcOutput {
                virtual_cluster_id: None,
                deleted: false,
            });
        };
        let deleted = ctx.target.emr.delete_virtual_cluster(&vc.id).await?;
        Ok(DeleteVcOutput {
            virtual_cluster_id: Some(vc.id),
            deleted,
        })
    }
}
