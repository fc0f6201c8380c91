//! Amazon CloudWatch Logs through aws-sdk-cloudwatchlogs: the jobs' log groups.

use async_trait::async_trait;

use serde_json::json;

use super::AwsConfig;
use super::error::{code_of, service_error};
use runbook_backend::ActionError;
use runbook_backend::LogGroupInfo;
use runbook_backend::calls::{PlannedCall, Service, declared};
use runbook_backend::{Logs, TargetResult};

pub(super) struct AwsLogs {
    logs: aws_sdk_cloudwatchlogs::Client,
}

impl AwsLogs {
    pub(super) fn new(config: &AwsConfig) -> AwsLogs {
        AwsLogs {
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_cloudwatchlogs, config).build(),
            ),
        }
    }
}

#[async_trait]
impl Logs for AwsLogs {
    async fn create_log_group(
        &self,
        name: &str,
        retention_days: Option<u32>,
    ) -> TargetResult<LogGroupInfo> {
        let created = match declared(
            create_call(name),
            self.logs.create_log_group().log_group_name(name).send(),
        )
        .await
        {
            Ok(_) => true,
            Err(e) if code_of(&e) == Some("ResourceAlreadyExistsException") => false,
            Err(e) => return Err(service_error("CloudWatch Logs", "CreateLogGroup", name, e)),
        };
        let found = self.describe_log_group(name).await?.ok_or_else(|| {
            ActionError::Failed(format!(
                "log group `{name}` was created but DescribeLogGroups does not list it"
            ))
        })?;
        if let Some(days) = retention_days
            && found.retention_days != Some(days)
        {
            declared(
                retention_call(name, days),
                self.logs
                    .put_retention_policy()
                    .log_group_name(name)
                    .retention_in_days(i32::try_from(days).unwrap_or(i32::MAX))
                    .send(),
            )
            .await
            .map_err(|e| service_error("CloudWatch Logs", "PutRetentionPolicy", name, e))?;
        }
        Ok(LogGroupInfo {
            retention_days: retention_days.or(found.retention_days),
            created,
            ..found
        })
    }

    /// The log group called exactly `name` (DescribeLogGroups matches prefixes).
    async fn describe_log_group(&self, name: &str) -> TargetResult<Option<LogGroupInfo>> {
        let mut pages = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .into_paginator()
            .send();
        while let Some(page) = declared(describe_call(name), pages.next()).await {
            let page =
                page.map_err(|e| service_error("CloudWatch Logs", "DescribeLogGroups", name, e))?;
            if let Some(group) = page
                .log_groups()
                .iter()
                .find(|g| g.log_group_name() == Some(name))
            {
                return Ok(Some(LogGroupInfo {
                    name: name.to_string(),
                    // DescribeLogGroups reports the ARN with a `:*` suffix (the streams).
                    arn: group
                        .arn()
                        .unwrap_or_default()
                        .trim_end_matches(":*")
                        .to_string(),
                    retention_days: group
                        .retention_in_days()
                        .and_then(|d| u32::try_from(d).ok()),
                    created: false,
                }));
            }
        }
        Ok(None)
    }

    async fn delete_log_group(&self, name: &str) -> TargetResult<bool> {
        match declared(
            delete_call(name),
            self.logs.delete_log_group().log_group_name(name).send(),
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(service_error("CloudWatch Logs", "DeleteLogGroup", name, e)),
        }
    }

    fn planned_create_log_group(
        &self,
        name: &str,
        retention_days: Option<u32>,
    ) -> Vec<PlannedCall> {
        let mut calls = vec![create_call(name), describe_call(name)];
        calls.extend(retention_days.map(|days| retention_call(name, days)));
        calls
    }

    fn planned_delete_log_group(&self, name: &str) -> Vec<PlannedCall> {
        vec![delete_call(name)]
    }
}

fn create_call(name: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Logs,
        "CreateLogGroup",
        json!({"logGroupName": name}),
    )
    .note("ResourceAlreadyExistsException: adopted")
}

fn describe_call(name: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Logs,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": name}),
    )
    .note("its ARN and retention")
}

fn retention_call(name: &str, days: u32) -> PlannedCall {
    PlannedCall::new(
        Service::Logs,
        "PutRetentionPolicy",
        json!({"logGroupName": name, "retentionInDays": days}),
    )
    .when("unless it keeps its events that long already")
}

fn delete_call(name: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Logs,
        "DeleteLogGroup",
        json!({"logGroupName": name}),
    )
    .note("ResourceNotFoundException: already gone, which is success")
}
