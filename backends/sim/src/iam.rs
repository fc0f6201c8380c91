//! IAM on the simulated world.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::SimTarget;
use runbook_backend::{ActionVerdict, RoleInfo};
use runbook_backend::{Iam, TargetResult};

#[async_trait]
impl Iam for SimTarget {
    /// The simulated account has no IAM policies: its caller may call everything.
    async fn simulate_principal_policy(
        &self,
        _principal_arn: &str,
        actions: &[String],
    ) -> TargetResult<Vec<ActionVerdict>> {
        Ok(actions
            .iter()
            .map(|action| ActionVerdict {
                action: action.clone(),
                allowed: true,
                decision: "allowed".to_string(),
            })
            .collect())
    }

    async fn get_role(&self, name: &str) -> TargetResult<Option<RoleInfo>> {
        Ok(self.world().role(name).ok().map(|r| RoleInfo {
            name: r.name.clone(),
            arn: r.arn.clone(),
            tags: BTreeMap::new(),
            trust_policy: r
                .assume_role_policy
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(serde_json::Value::Null),
        }))
    }

    async fn create_role(
        &self,
        name: &str,
        trust_policy: &serde_json::Value,
        tags: &BTreeMap<String, String>,
    ) -> TargetResult<RoleInfo> {
        let document = trust_policy.to_string();
        let arn = self.act("IAM", "CreateRole", name, |w| {
            w.create_role(name, Some(document))
        })?;
        Ok(RoleInfo {
            name: name.to_string(),
            arn,
            tags: tags.clone(),
            trust_policy: trust_policy.clone(),
        })
    }

    async fn update_trust_policy(
        &self,
        name: &str,
        trust_policy: &serde_json::Value,
    ) -> TargetResult<()> {
        let document = trust_policy.to_string();
        self.act("IAM", "UpdateAssumeRolePolicy", name, |w| {
            w.update_assume_role_policy(name, &document)
        })
    }

    async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &serde_json::Value,
    ) -> TargetResult<()> {
        let document = document.to_string();
        self.act("IAM", "PutRolePolicy", role, |w| {
            w.put_role_policy(role, policy_name, &document)
        })
    }

    async fn delete_role(&self, name: &str) -> TargetResult<bool> {
        if self.world().role(name).is_err() {
            return Ok(false);
        }
        self.act("IAM", "DeleteRole", name, |w| w.delete_role(name))?;
        Ok(true)
    }
}
