//! CloudWatch Logs on the simulated world.

use async_trait::async_trait;

use super::SimTarget;
use crate::target::model::LogGroupInfo;
use crate::target::services::{Logs, TargetResult};

#[async_trait]
impl Logs for SimTarget {
    async fn create_log_group(&self, name: &str, retention_days: Option<u32>) -> TargetResult<LogGroupInfo> {
        let existing = self.world().log_group(name).ok().map(|g| g.arn.clone());
        let (arn, created) = match existing {
            Some(arn) => (arn, false),
            None => (
                self.act("CloudWatchLogs", "CreateLogGroup", name, |w| w.create_log_group(name, retention_days))?,
                true,
            ),
        };
        Ok(LogGroupInfo {
            name: name.to_string(),
            arn,
            retention_days,
            created,
        })
    }

    async fn delete_log_group(&self, name: &str) -> TargetResult<bool> {
        if self.world().log_group(name).is_err() {
            return Ok(false);
        }
        self.act("CloudWatchLogs", "DeleteLogGroup", name, |w| w.delete_log_group(name))?;
        Ok(true)
    }
}
