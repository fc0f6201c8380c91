//! Amazon EMR on EKS (`emr-containers`) on its wire protocol (rest-json, as the SDKs
//! and the AWS CLI speak it), over the served world: virtual clusters and job runs.
//! A job run started here is the simulator's: its job runner, driver and executors
//! are pods the scheduler places and preempts, and kubectl sees them.
//!
//! Requests go through the `sim` target's `Emr` service, the same code a `sim` run's
//! steps call, so the answers (and the errors, `ResourceNotFoundException`,
//! `ValidationException`) are the simulator's own.

use std::sync::Arc;

use http::{Method, Response, StatusCode};
use runbook_backend::{ActionError, Emr, JobRunInfo, JobRunRequest, VirtualClusterInfo};
use runbook_backend_sim::{SimTarget, job_info, vc_info};
use runbook_sim::World;
use serde_json::{Value, json};

use crate::account::Account;
use crate::aws_error;
use crate::body::{self, Body};
use crate::time::Instants;

/// Answers one request under `/virtualclusters`.
pub(crate) async fn handle(
    target: &Arc<SimTarget>,
    account: Option<&Account>,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Response<Body> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let request = match aws_error::request_body(body) {
        Ok(request) => request,
        Err(why) => return aws_error::not_json(&why),
    };
    let answer = match (method, segments.as_slice()) {
        (&Method::POST, ["virtualclusters"]) => create_virtual_cluster(target, &request).await,
        (&Method::GET, ["virtualclusters"]) => Ok(list_virtual_clusters(target)),
        (&Method::GET, ["virtualclusters", id]) => describe_virtual_cluster(target, id),
        (&Method::DELETE, ["virtualclusters", id]) => {
            target.delete_virtual_cluster(id).await.and_then(|deleted| {
                deleted
                    .then(|| json!({"id": id}))
                    .ok_or_else(|| vc_not_found(id))
            })
        }
        (&Method::POST, ["virtualclusters", vc, "jobruns"]) => {
            start_job_run(target, account, vc, &request).await
        }
        (&Method::GET, ["virtualclusters", vc, "jobruns"]) => list_job_runs(target, vc),
        (&Method::GET, ["virtualclusters", vc, "jobruns", id]) => {
            target.describe_job_run(vc, id).await.map(|info| {
                let world = target.world();
                let instants = Instants::of(target, world.now());
                json!({"jobRun": job_run_json(&world, &instants, &info)})
            })
        }
        (&Method::DELETE, ["virtualclusters", vc, "jobruns", id]) => target
            .cancel_job_run(vc, id)
            .await
            .map(|()| json!({"id": id, "virtualClusterId": vc})),
        _ => {
            return aws_error::response(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                &format!("the simulated EMR on EKS does not serve {method} {path}"),
            );
        }
    };
    match answer {
        Ok(value) => body::json(StatusCode::OK, &value),
        Err(e) => aws_error::from_action(&e),
    }
}

async fn create_virtual_cluster(
    target: &Arc<SimTarget>,
    request: &Value,
) -> Result<Value, ActionError> {
    let text = |pointer: &str| request.pointer(pointer).and_then(Value::as_str);
    let missing = |member: &str| {
        aws_error::validation(&format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    };
    let name = text("/name").ok_or_else(|| missing("name"))?;
    let cluster = text("/containerProvider/id").ok_or_else(|| missing("containerProvider.id"))?;
    let namespace = text("/containerProvider/info/eksInfo/namespace").unwrap_or("default");
    let token = text("/clientToken").unwrap_or(name);
    let vc = target
        .create_virtual_cluster(name, cluster, namespace, token)
        .await?;
    Ok(json!({"id": vc.id, "name": vc.name, "arn": vc.arn}))
}

fn list_virtual_clusters(target: &Arc<SimTarget>) -> Value {
    let world = target.world();
    let instants = Instants::of(target, world.now());
    let clusters: Vec<Value> = world
        .virtual_clusters()
        .map(|vc| virtual_cluster_json(&vc_info(vc), vc.created_at_ms, &instants))
        .collect();
    json!({"virtualClusters": clusters})
}

fn describe_virtual_cluster(target: &Arc<SimTarget>, id: &str) -> Result<Value, ActionError> {
    let world = target.world();
    let instants = Instants::of(target, world.now());
    let vc = world.virtual_cluster(id).map_err(|_| vc_not_found(id))?;
    Ok(json!({"virtualCluster": virtual_cluster_json(&vc_info(vc), vc.created_at_ms, &instants)}))
}

fn virtual_cluster_json(vc: &VirtualClusterInfo, created_at_ms: u64, instants: &Instants) -> Value {
    json!({
        "id": vc.id,
        "name": vc.name,
        "arn": vc.arn,
        "state": vc.state,
        "containerProvider": {
            "type": "EKS",
            "id": vc.cluster,
            "info": {"eksInfo": {"namespace": vc.namespace}},
        },
        "createdAt": instants.date_time(created_at_ms),
        "tags": {},
    })
}

async fn start_job_run(
    target: &Arc<SimTarget>,
    account: Option<&Account>,
    vc: &str,
    request: &Value,
) -> Result<Value, ActionError> {
    let request =
        JobRunRequest::from_start_job_run(vc, request).map_err(|m| aws_error::validation(&m))?;
    if let Some(account) = account {
        account.bring_in(target, &request).await?;
    }
    let job = target.start_job_run(&request).await?;
    Ok(
        json!({"id": job.id, "name": job.name, "arn": job.arn, "virtualClusterId": job.virtual_cluster_id}),
    )
}

fn list_job_runs(target: &Arc<SimTarget>, vc: &str) -> Result<Value, ActionError> {
    // One look at the world renders every job run of the list.
    let world = target.world();
    world.virtual_cluster(vc).map_err(|_| vc_not_found(vc))?;
    let instants = Instants::of(target, world.now());
    let runs: Vec<Value> = world
        .job_runs()
        .filter(|j| j.virtual_cluster_id.as_ref() == vc)
        .map(job_info)
        .collect::<Vec<_>>()
        .iter()
        .rev()
        .map(|info| job_run_json(&world, &instants, info))
        .collect();
    Ok(json!({"jobRuns": runs}))
}

/// A job run as DescribeJobRun and ListJobRuns show it.
fn job_run_json(world: &World, instants: &Instants, info: &JobRunInfo) -> Value {
    let at = |ms: Option<i64>| {
        ms.and_then(|t| u64::try_from(t).ok())
            .map(|t| instants.date_time(t))
    };
    let mut job = json!({
        "id": info.id,
        "name": info.name,
        "arn": info.arn,
        "virtualClusterId": info.virtual_cluster_id,
        "state": info.state,
        "createdAt": at(info.created_at_ms),
        "createdBy": format!("arn:aws:iam::{}:user/{}", world.params().account_id, runbook_backend_sim::SIMULATED_CALLER),
        "tags": {},
    });
    if let Some(run) = world.job_run_by_id(&info.id) {
        job["releaseLabel"] = json!(run.release_label);
        job["executionRoleArn"] = json!(run.execution_role_arn);
        job["clientToken"] = json!(run.client_token);
    }
    for (key, value) in [
        ("finishedAt", at(info.finished_at_ms).map(|t| json!(t))),
        (
            "stateDetails",
            info.state_details.as_ref().map(|s| json!(s)),
        ),
        (
            "failureReason",
            info.failure_reason.as_ref().map(|s| json!(s)),
        ),
    ] {
        if let Some(value) = value {
            job[key] = value;
        }
    }
    job
}

fn vc_not_found(id: &str) -> ActionError {
    aws_error::not_found(&format!("Virtual cluster {id} doesn't exist."))
}
