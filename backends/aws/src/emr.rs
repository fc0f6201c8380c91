//! Amazon EMR on EKS (emr-containers) through aws-sdk-emrcontainers.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_emrcontainers::types::{
    CloudWatchMonitoringConfiguration, Configuration, ConfigurationOverrides, ContainerInfo,
    ContainerProvider, ContainerProviderType, EksInfo, JobDriver, JobRun, MonitoringConfiguration,
    S3MonitoringConfiguration, SparkSubmitJobDriver, VirtualClusterState,
};

use serde_json::json;

use super::AwsConfig;
use super::error::{code_of, service_error};
use runbook_backend::ActionError;
use runbook_backend::calls::{PlannedCall, Service, declared};
use runbook_backend::{CLIENT_TOKEN_TAG, JobRunInfo, JobRunRequest, VirtualClusterInfo};
use runbook_backend::{Emr, TargetResult};

pub(super) struct AwsEmr {
    emr: aws_sdk_emrcontainers::Client,
}

impl AwsEmr {
    pub(super) fn new(config: &AwsConfig) -> AwsEmr {
        AwsEmr {
            emr: aws_sdk_emrcontainers::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_emrcontainers, config).build(),
            ),
        }
    }

    #[cfg(test)]
    pub(super) fn from_client(emr: aws_sdk_emrcontainers::Client) -> AwsEmr {
        AwsEmr { emr }
    }

    async fn job_runs(&self, virtual_cluster_id: &str) -> TargetResult<Vec<JobRun>> {
        let mut runs = Vec::new();
        let mut pages = self
            .emr
            .list_job_runs()
            .virtual_cluster_id(virtual_cluster_id)
            .into_paginator()
            .send();
        while let Some(page) = declared(list_job_runs_call(virtual_cluster_id), pages.next()).await
        {
            let page =
                page.map_err(|e| service_error("EMR", "ListJobRuns", virtual_cluster_id, e))?;
            runs.extend(page.job_runs().iter().cloned());
        }
        Ok(runs)
    }
}

fn vc_info(vc: &aws_sdk_emrcontainers::types::VirtualCluster) -> VirtualClusterInfo {
    let provider = vc.container_provider();
    VirtualClusterInfo {
        id: vc.id().unwrap_or_default().to_string(),
        name: vc.name().unwrap_or_default().to_string(),
        arn: vc.arn().unwrap_or_default().to_string(),
        state: vc
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        cluster: provider.map(|p| p.id().to_string()).unwrap_or_default(),
        namespace: provider
            .and_then(|p| p.info())
            .and_then(|info| match info {
                ContainerInfo::EksInfo(eks) => eks.namespace(),
                _ => None,
            })
            .unwrap_or_default()
            .to_string(),
    }
}

fn millis(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.and_then(|t| t.to_millis().ok())
}

fn job_info(job: &JobRun) -> JobRunInfo {
    JobRunInfo {
        id: job.id().unwrap_or_default().to_string(),
        name: job.name().unwrap_or_default().to_string(),
        arn: job.arn().unwrap_or_default().to_string(),
        virtual_cluster_id: job.virtual_cluster_id().unwrap_or_default().to_string(),
        state: job
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        state_details: job.state_details().map(str::to_string),
        failure_reason: job.failure_reason().map(|r| r.as_str().to_string()),
        created_at_ms: millis(job.created_at()),
        finished_at_ms: millis(job.finished_at()),
    }
}

fn started_with(job: &JobRun, token: &str) -> bool {
    job.client_token() == Some(token)
        || job
            .tags()
            .and_then(|t| t.get(CLIENT_TOKEN_TAG))
            .is_some_and(|t| t == token)
}

fn build_error(what: &str, e: impl std::fmt::Display) -> ActionError {
    ActionError::InvalidInput(format!("StartJobRun {what}: {e}"))
}

#[async_trait]
impl Emr for AwsEmr {
    async fn list_virtual_clusters(&self) -> TargetResult<Vec<VirtualClusterInfo>> {
        let mut clusters = Vec::new();
        let mut pages = self
            .emr
            .list_virtual_clusters()
            .states(VirtualClusterState::Running)
            .states(VirtualClusterState::Terminating)
            .states(VirtualClusterState::Arrested)
            .into_paginator()
            .send();
        while let Some(page) = declared(list_vcs_call(), pages.next()).await {
            let page = page.map_err(|e| service_error("EMR", "ListVirtualClusters", "*", e))?;
            clusters.extend(
                page.virtual_clusters()
                    .iter()
                    .filter(|vc| vc.state() != Some(&VirtualClusterState::Terminated))
                    .map(vc_info),
            );
        }
        Ok(clusters)
    }

    async fn create_virtual_cluster(
        &self,
        name: &str,
        cluster: &str,
        namespace: &str,
        token: &str,
    ) -> TargetResult<VirtualClusterInfo> {
        let provider = ContainerProvider::builder()
            .r#type(ContainerProviderType::Eks)
            .id(cluster)
            .info(ContainerInfo::EksInfo(
                EksInfo::builder().namespace(namespace).build(),
            ))
            .build()
            .map_err(|e| ActionError::Bug(format!("CreateVirtualCluster request: {e}")))?;
        let out = declared(
            create_vc_call(name, cluster, namespace, token),
            self.emr
                .create_virtual_cluster()
                .name(name)
                .container_provider(provider)
                .client_token(token)
                .send(),
        )
        .await
        .map_err(|e| service_error("EMR", "CreateVirtualCluster", name, e))?;
        let id = out.id().unwrap_or_default();
        let described = declared(
            describe_created_vc_call(id),
            self.emr.describe_virtual_cluster().id(id).send(),
        )
        .await
        .map_err(|e| service_error("EMR", "DescribeVirtualCluster", id, e))?;
        described.virtual_cluster().map(vc_info).ok_or_else(|| {
            ActionError::Failed(format!(
                "virtual cluster `{name}` ({id}) was created but cannot be described"
            ))
        })
    }

    async fn delete_virtual_cluster(&self, id: &str) -> TargetResult<bool> {
        let state = match declared(
            describe_doomed_vc_call(id),
            self.emr.describe_virtual_cluster().id(id).send(),
        )
        .await
        {
            Ok(out) => out.virtual_cluster().and_then(|vc| vc.state().cloned()),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => return Ok(false),
            Err(e) => return Err(service_error("EMR", "DescribeVirtualCluster", id, e)),
        };
        if matches!(
            state,
            Some(VirtualClusterState::Terminated | VirtualClusterState::Terminating)
        ) {
            return Ok(false);
        }
        match declared(
            delete_vc_call(id),
            self.emr.delete_virtual_cluster().id(id).send(),
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(service_error("EMR", "DeleteVirtualCluster", id, e)),
        }
    }

    async fn start_job_run(&self, request: &JobRunRequest) -> TargetResult<JobRunInfo> {
        let parameters = request.spark_submit_parameters();
        let defaults = request.spark_defaults();
        let mut driver = SparkSubmitJobDriver::builder()
            .entry_point(&request.entry_point)
            .set_entry_point_arguments(
                (!request.entry_point_arguments.is_empty())
                    .then(|| request.entry_point_arguments.clone()),
            );
        if !parameters.is_empty() {
            driver = driver.spark_submit_parameters(parameters);
        }
        let driver = driver
            .build()
            .map_err(|e| build_error("sparkSubmitJobDriver", e))?;
        let mut overrides = ConfigurationOverrides::builder();
        if !defaults.is_empty() {
            overrides = overrides.application_configuration(
                Configuration::builder()
                    .classification("spark-defaults")
                    .set_properties(Some(defaults.into_iter().collect::<HashMap<_, _>>()))
                    .build()
                    .map_err(|e| build_error("spark-defaults", e))?,
            );
        }
        let mut monitoring = MonitoringConfiguration::builder();
        if let Some(group) = &request.log_group {
            monitoring = monitoring.cloud_watch_monitoring_configuration(
                CloudWatchMonitoringConfiguration::builder()
                    .log_group_name(group)
                    .set_log_stream_name_prefix(request.log_stream_prefix.clone())
                    .build()
                    .map_err(|e| build_error("cloudWatchMonitoringConfiguration", e))?,
            );
        }
        if let Some(uri) = &request.s3_log_uri {
            monitoring = monitoring.s3_monitoring_configuration(
                S3MonitoringConfiguration::builder()
                    .log_uri(uri)
                    .build()
                    .map_err(|e| build_error("s3MonitoringConfiguration", e))?,
            );
        }
        if request.log_group.is_some() || request.s3_log_uri.is_some() {
            overrides = overrides.monitoring_configuration(monitoring.build());
        }
        let out = declared(
            start_call(request),
            self.emr
                .start_job_run()
                .name(&request.name)
                .virtual_cluster_id(&request.virtual_cluster_id)
                .client_token(&request.client_token)
                .execution_role_arn(&request.execution_role_arn)
                .release_label(&request.release_label)
                .job_driver(JobDriver::builder().spark_submit_job_driver(driver).build())
                .configuration_overrides(overrides.build())
                .tags(CLIENT_TOKEN_TAG, &request.client_token)
                .send(),
        )
        .await
        .map_err(|e| service_error("EMR", "StartJobRun", &request.name, e))?;
        let id = out.id().unwrap_or_default();
        self.describe(
            &request.virtual_cluster_id,
            id,
            describe_started_call(&request.virtual_cluster_id, id),
        )
        .await
    }

    async fn find_job_run(
        &self,
        virtual_cluster_id: &str,
        client_token: &str,
    ) -> TargetResult<Option<JobRunInfo>> {
        let runs = self.job_runs(virtual_cluster_id).await?;
        if let Some(job) = runs.iter().find(|j| started_with(j, client_token)) {
            return Ok(Some(job_info(job)));
        }
        // ListJobRuns may leave tags out; DescribeJobRun has them. Only runs whose tags
        // were not listed need a look.
        for job in runs.iter().filter(|j| j.tags().is_none()) {
            let id = job.id().unwrap_or_default();
            let described = declared(
                describe_untagged_call(virtual_cluster_id, id),
                self.emr
                    .describe_job_run()
                    .virtual_cluster_id(virtual_cluster_id)
                    .id(id)
                    .send(),
            )
            .await
            .map_err(|e| service_error("EMR", "DescribeJobRun", id, e))?;
            if let Some(full) = described
                .job_run()
                .filter(|j| started_with(j, client_token))
            {
                return Ok(Some(job_info(full)));
            }
        }
        Ok(None)
    }

    async fn describe_job_run(
        &self,
        virtual_cluster_id: &str,
        job_id: &str,
    ) -> TargetResult<JobRunInfo> {
        self.describe(
            virtual_cluster_id,
            job_id,
            describe_job_run_call(virtual_cluster_id, job_id),
        )
        .await
    }

    async fn find_job_run_by_id(&self, job_id: &str) -> TargetResult<Option<JobRunInfo>> {
        for vc in self.list_virtual_clusters().await? {
            match declared(
                describe_anywhere_call(&vc.id, job_id),
                self.emr
                    .describe_job_run()
                    .virtual_cluster_id(&vc.id)
                    .id(job_id)
                    .send(),
            )
            .await
            {
                Ok(out) => {
                    if let Some(job) = out.job_run() {
                        return Ok(Some(job_info(job)));
                    }
                }
                Err(e) if code_of(&e) == Some("ResourceNotFoundException") => {}
                Err(e) => return Err(service_error("EMR", "DescribeJobRun", job_id, e)),
            }
        }
        Ok(None)
    }

    async fn cancel_job_run(&self, virtual_cluster_id: &str, job_id: &str) -> TargetResult<()> {
        declared(
            cancel_call(virtual_cluster_id, job_id),
            self.emr
                .cancel_job_run()
                .virtual_cluster_id(virtual_cluster_id)
                .id(job_id)
                .send(),
        )
        .await
        .map_err(|e| service_error("EMR", "CancelJobRun", job_id, e))?;
        Ok(())
    }

    fn planned_list_virtual_clusters(&self) -> Vec<PlannedCall> {
        vec![list_vcs_call()]
    }

    fn planned_create_virtual_cluster(
        &self,
        name: &str,
        cluster: &str,
        namespace: &str,
        token: &str,
    ) -> Vec<PlannedCall> {
        vec![
            create_vc_call(name, cluster, namespace, token),
            describe_created_vc_call(&format!("<id of virtual cluster {name}>")),
        ]
    }

    fn planned_delete_virtual_cluster(&self, id: &str) -> Vec<PlannedCall> {
        vec![describe_doomed_vc_call(id), delete_vc_call(id)]
    }

    fn planned_start_job_run(&self, request: &JobRunRequest) -> Vec<PlannedCall> {
        vec![
            start_call(request),
            describe_started_call(&request.virtual_cluster_id, "<id of the job run>"),
        ]
    }

    fn planned_find_job_run(
        &self,
        virtual_cluster_id: &str,
        _client_token: &str,
    ) -> Vec<PlannedCall> {
        vec![
            list_job_runs_call(virtual_cluster_id),
            describe_untagged_call(virtual_cluster_id, "<each job run listed without tags>"),
        ]
    }

    fn planned_describe_job_run(&self, virtual_cluster_id: &str, job_id: &str) -> Vec<PlannedCall> {
        vec![describe_job_run_call(virtual_cluster_id, job_id)]
    }

    fn planned_find_job_run_by_id(&self, job_id: &str) -> Vec<PlannedCall> {
        vec![
            list_vcs_call(),
            describe_anywhere_call(
                &format!("<each virtual cluster, until job {job_id} is found>"),
                job_id,
            ),
        ]
    }

    fn planned_cancel_job_run(&self, virtual_cluster_id: &str, job_id: &str) -> Vec<PlannedCall> {
        vec![cancel_call(virtual_cluster_id, job_id)]
    }
}

impl AwsEmr {
    /// Job run `id` of `virtual_cluster_id`, asked as `call` (its DescribeJobRun, with
    /// what it is for) declares.
    async fn describe(
        &self,
        virtual_cluster_id: &str,
        id: &str,
        call: PlannedCall,
    ) -> TargetResult<JobRunInfo> {
        let out = declared(
            call,
            self.emr
                .describe_job_run()
                .virtual_cluster_id(virtual_cluster_id)
                .id(id)
                .send(),
        )
        .await
        .map_err(|e| service_error("EMR", "DescribeJobRun", id, e))?;
        out.job_run().map(job_info).ok_or_else(|| {
            ActionError::Failed(format!("EMR DescribeJobRun of `{id}` returned no job run"))
        })
    }
}

/// The virtual clusters that are not TERMINATED (ListVirtualClusters lists those for
/// 60 days).
fn list_vcs_call() -> PlannedCall {
    PlannedCall::new(
        Service::EmrOnEks,
        "ListVirtualClusters",
        json!({"states": ["RUNNING", "TERMINATING", "ARRESTED"]}),
    )
}

fn create_vc_call(name: &str, cluster: &str, namespace: &str, token: &str) -> PlannedCall {
    PlannedCall::new(
        Service::EmrOnEks,
        "CreateVirtualCluster",
        json!({
            "name": name,
            "containerProvider": {
                "id": cluster,
                "type": "EKS",
                "info": {"eksInfo": {"namespace": namespace}},
            },
            "clientToken": token,
        }),
    )
}

fn describe_created_vc_call(id: &str) -> PlannedCall {
    PlannedCall::new(
        Service::EmrOnEks,
        "DescribeVirtualCluster",
        json!({"id": id}),
    )
    .note("after creating it: its ARN and state")
}

fn describe_doomed_vc_call(id: &str) -> PlannedCall {
    PlannedCall::new(
        Service::EmrOnEks,
        "DescribeVirtualCluster",
        json!({"id": id}),
    )
    .note("one already TERMINATING or TERMINATED is left alone")
}

fn delete_vc_call(id: &str) -> PlannedCall {
    PlannedCall::new(Service::EmrOnEks, "DeleteVirtualCluster", json!({"id": id}))
        .when("unless it is TERMINATING or TERMINATED already")
}

fn list_job_runs_call(virtual_cluster_id: &str) -> PlannedCall {
    PlannedCall::new(
        Service::EmrOnEks,
        "ListJobRuns",
        json!({"virtualClusterId": virtual_cluster_id}),
    )
    .note("looks for a job this step started before with its key, to reattach (resume)")
}

fn describe_job_run_call(virtual_cluster_id: &str, job_id: &str) -> PlannedCall {
    PlannedCall::new(
        Service::EmrOnEks,
        "DescribeJobRun",
        json!({"id": job_id, "virtualClusterId": virtual_cluster_id}),
    )
}

fn describe_untagged_call(virtual_cluster_id: &str, job_id: &str) -> PlannedCall {
    describe_job_run_call(virtual_cluster_id, job_id)
        .when("for each job run ListJobRuns gave without its tags, which hold the key")
}

fn describe_started_call(virtual_cluster_id: &str, job_id: &str) -> PlannedCall {
    describe_job_run_call(virtual_cluster_id, job_id)
        .note("the job's state, for the step's outputs")
}

fn describe_anywhere_call(virtual_cluster_id: &str, job_id: &str) -> PlannedCall {
    describe_job_run_call(virtual_cluster_id, job_id)
        .note("no virtual_cluster_id given: each virtual cluster is asked until one has the job")
}

fn start_call(request: &JobRunRequest) -> PlannedCall {
    PlannedCall::new(
        Service::EmrOnEks,
        "StartJobRun",
        request.start_job_run_parameters(),
    )
}

fn cancel_call(virtual_cluster_id: &str, job_id: &str) -> PlannedCall {
    PlannedCall::new(
        Service::EmrOnEks,
        "CancelJobRun",
        json!({"id": job_id, "virtualClusterId": virtual_cluster_id}),
    )
}
