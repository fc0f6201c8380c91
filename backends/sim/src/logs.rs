//! CloudWatch Logs on the simulated world.

use async_trait::async_trait;

use super::SimTarget;
use runbook_backend::LogGroupInfo;
use runbook_backend::{Logs, TargetResult};

#[async_trait]
impl Logs for SimTarget {
    async fn describe_log_group(&self, name: &str) -> TargetResult<Option<LogGroupInfo>> {
        Ok(self.world().log_group(name).ok().map(|g| LogGroupInfo {
            name: name.to_string(),
            arn: g.arn.clone(),
            retention_days: g.retention_days,
            created: false,
        }))
    }

    async fn create_log_group(
        &self,
        name: &str,
        retention_days: Option<u32>,
    ) -> TargetResult<LogGroupInfo> {
        let existing = self
            .world()
            .log_group(name)
            .ok()
            .map(|g| (g.arn.clone(), g.retention_days));
        let Some((arn, current)) = existing else {
            let arn = self.act("CloudWatchLogs", "CreateLogGroup", name, |w| {
                w.create_log_group(name, retention_days)
            })?;
            return Ok(LogGroupInfo {
                name: name.to_string(),
                arn,
                retention_days,
                created: true,
            });
        };
        // Adopted: set the retention asked for, as PutRetentionPolicy does on AWS. The
        // world has no such command, and a simulated log group holds nothing but its
        // name, ARN and retention, so it is re-created with the new retention (only
        // its creation time changes).
        if let Some(days) = retention_days
            && current != Some(days)
        {
            self.act("CloudWatchLogs", "PutRetentionPolicy", name, |w| {
                w.delete_log_group(name)?;
                w.create_log_group(name, Some(days))
            })?;
        }
        Ok(LogGroupInfo {
            name: name.to_string(),
            arn,
            retention_days: retention_days.or(current),
            created: false,
        })
    }

    async fn delete_log_group(&self, name: &str) -> TargetResult<bool> {
        if self.world().log_group(name).is_err() {
            return Ok(false);
        }
        self.act("CloudWatchLogs", "DeleteLogGroup", name, |w| {
            w.delete_log_group(name)
        })?;
        Ok(true)
    }
}
