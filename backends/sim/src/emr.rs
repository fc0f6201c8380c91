//! EMR on EKS (emr-containers) on the simulated world.

use async_trait::async_trait;
use runbook_sim::spark::SparkSizingConf;
use runbook_sim::virtual_cluster::{VirtualCluster, VirtualClusterState};
use runbook_sim::{JobRun, JobSubmission, PodTemplateSource};

use super::SimTarget;
use runbook_backend::ActionError;
use runbook_backend::{Emr, TargetResult};
use runbook_backend::{JobRunInfo, JobRunRequest, VirtualClusterInfo};

/// A virtual cluster as the `Emr` service reports it (and the served API shows it).
pub fn vc_info(vc: &VirtualCluster) -> VirtualClusterInfo {
    VirtualClusterInfo {
        id: vc.id.clone(),
        name: vc.name.clone(),
        arn: vc.arn.clone(),
        state: vc.state.to_string(),
        cluster: vc.cluster.clone(),
        namespace: vc.namespace.clone(),
    }
}

/// A job run as the `Emr` service reports it (and the served API shows it).
pub fn job_info(job: &JobRun) -> JobRunInfo {
    JobRunInfo {
        id: job.id.to_string(),
        name: job.name.to_string(),
        arn: job.arn.to_string(),
        virtual_cluster_id: job.virtual_cluster_id.to_string(),
        state: job.state.as_str().to_string(),
        state_details: job.state_details.as_ref().map(ToString::to_string),
        failure_reason: job.failure_reason.map(|r| r.to_string()),
        created_at_ms: i64::try_from(job.created_at_ms).ok(),
        finished_at_ms: job.finished_at_ms.and_then(|t| i64::try_from(t).ok()),
    }
}

/// Reads a Spark setting as a number, with a clear error for nonsense.
fn conf_number(request: &JobRunRequest, key: &str, default: u32) -> TargetResult<u32> {
    match request.spark_conf.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ActionError::Service {
            service: "EMR",
            operation: "StartJobRun",
            resource: request.name.clone(),
            code: "ValidationException".into(),
            message: format!("{key}={v} is not a number"),
        }),
    }
}

#[async_trait]
impl Emr for SimTarget {
    async fn list_virtual_clusters(&self) -> TargetResult<Vec<VirtualClusterInfo>> {
        Ok(self
            .world()
            .virtual_clusters()
            .filter(|vc| vc.state != VirtualClusterState::Terminated)
            .map(vc_info)
            .collect())
    }

    async fn create_virtual_cluster(
        &self,
        name: &str,
        cluster: &str,
        namespace: &str,
        _token: &str,
    ) -> TargetResult<VirtualClusterInfo> {
        let id = self.act("EMR", "CreateVirtualCluster", name, |w| {
            w.create_virtual_cluster(name, cluster, namespace)
        })?;
        self.read("EMR", "DescribeVirtualCluster", &id, |w| {
            w.virtual_cluster(&id).map(vc_info)
        })
    }

    async fn delete_virtual_cluster(&self, id: &str) -> TargetResult<bool> {
        let live = self
            .world()
            .virtual_cluster(id)
            .is_ok_and(|vc| vc.state != VirtualClusterState::Terminated);
        if !live {
            return Ok(false);
        }
        self.act("EMR", "DeleteVirtualCluster", id, |w| {
            w.delete_virtual_cluster(id)
        })?;
        Ok(true)
    }

    async fn start_job_run(&self, request: &JobRunRequest) -> TargetResult<JobRunInfo> {
        let mut sub = JobSubmission::new(
            &request.virtual_cluster_id,
            &request.name,
            &request.release_label,
        );
        sub.execution_role_arn = Some(request.execution_role_arn.clone());
        sub.client_token = Some(request.client_token.clone());
        sub.executors = conf_number(request, "spark.executor.instances", 2)?;
        sub.executor_cores = conf_number(request, "spark.executor.cores", 1)?;
        if let Some(m) = request.spark_conf.get("spark.executor.memory") {
            sub.executor_memory = m.clone();
        }
        sub.driver_cores = conf_number(request, "spark.driver.cores", 1)?;
        sub.driver_memory = request.spark_conf.get("spark.driver.memory").cloned();
        sub.driver_pod_template = request
            .driver_pod_template
            .as_deref()
            .map(PodTemplateSource::from);
        sub.executor_pod_template = request
            .executor_pod_template
            .as_deref()
            .map(PodTemplateSource::from);
        sub.task_durations_ms = request.sim_tasks_ms.clone();
        let entry = request.entry_point.to_ascii_lowercase();
        sub.non_jvm = entry.ends_with(".py") || entry.ends_with(".r");
        sub.monitoring = request.log_group.is_some() || request.s3_log_uri.is_some();
        // The settings that change the pods' requests, as EKS would size them.
        sub.sizing = SparkSizingConf::from_spark_conf(&request.spark_conf);
        let job = self.act("EMR", "StartJobRun", &request.name, |w| {
            w.submit_job_run(sub)
        })?;
        self.describe_job_run(&job.virtual_cluster_id, &job.id)
            .await
    }

    async fn find_job_run(
        &self,
        virtual_cluster_id: &str,
        client_token: &str,
    ) -> TargetResult<Option<JobRunInfo>> {
        Ok(self
            .world()
            .job_runs()
            .find(|j| {
                j.virtual_cluster_id == virtual_cluster_id
                    && j.client_token.as_deref() == Some(client_token)
            })
            .map(job_info))
    }

    async fn describe_job_run(
        &self,
        virtual_cluster_id: &str,
        job_id: &str,
    ) -> TargetResult<JobRunInfo> {
        self.read("EMR", "DescribeJobRun", job_id, |w| {
            w.job_run(virtual_cluster_id, job_id).map(job_info)
        })
    }

    async fn find_job_run_by_id(&self, job_id: &str) -> TargetResult<Option<JobRunInfo>> {
        Ok(self.world().job_run_by_id(job_id).map(job_info))
    }

    async fn cancel_job_run(&self, virtual_cluster_id: &str, job_id: &str) -> TargetResult<()> {
        self.act("EMR", "CancelJobRun", job_id, |w| {
            w.cancel_job_run(virtual_cluster_id, job_id)
        })
    }
}
