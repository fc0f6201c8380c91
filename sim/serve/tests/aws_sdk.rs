//! The AWS SDK for Rust's EKS and EMR on EKS clients against the served endpoints:
//! the shapes they read, and the errors (`ResourceNotFoundException`,
//! `ValidationException`) as the services give them. A job run started through the
//! API is the simulator's: its pods exist and it runs to completion.

mod common;

use aws_sdk_emrcontainers::types::{JobDriver, SparkSubmitJobDriver};
use common::{ServedDemo, served_demo};
use runbook_sim::demo;

/// A client of `$sdk` (an AWS SDK crate) pointed at the served endpoint, with
/// throwaway credentials (the simulator checks no signatures).
macro_rules! client {
    ($sdk:ident, $served:expr) => {{
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new(demo::REGION))
            .credentials_provider($sdk::config::Credentials::new(
                "AKID", "secret", None, None, "test",
            ))
            .endpoint_url(format!("http://{}", $served.addr))
            .http_client(runbook_backend_aws::https_client())
            .build();
        $sdk::Client::from_conf(config)
    }};
}

/// StartJobRun of the pi example on `vc` with `--conf` settings `submit`.
async fn start_pi(
    emr: &aws_sdk_emrcontainers::Client,
    vc: &str,
    role: &str,
    name: &str,
    submit: &str,
) -> Result<
    aws_sdk_emrcontainers::operation::start_job_run::StartJobRunOutput,
    aws_sdk_emrcontainers::error::SdkError<
        aws_sdk_emrcontainers::operation::start_job_run::StartJobRunError,
    >,
> {
    emr.start_job_run()
        .virtual_cluster_id(vc)
        .name(name)
        .client_token(format!("{name}-1"))
        .execution_role_arn(role)
        .release_label(demo::RELEASE_LABEL)
        .job_driver(
            JobDriver::builder()
                .spark_submit_job_driver(
                    SparkSubmitJobDriver::builder()
                        .entry_point("local:///usr/lib/spark/examples/src/main/python/pi.py")
                        .spark_submit_parameters(submit)
                        .build()
                        .expect("a driver"),
                )
                .build(),
        )
        .send()
        .await
}

/// DescribeJobRun of `id` in `vc`, which must answer with the job run.
async fn describe(
    emr: &aws_sdk_emrcontainers::Client,
    vc: &str,
    id: &str,
) -> aws_sdk_emrcontainers::types::JobRun {
    emr.describe_job_run()
        .virtual_cluster_id(vc)
        .id(id)
        .send()
        .await
        .expect("DescribeJobRun")
        .job_run
        .expect("a job run")
}

#[tokio::test]
async fn eks_describes_the_simulated_cluster_and_its_node_group() {
    let ServedDemo { served, .. } = served_demo(false).await;
    let eks = client!(aws_sdk_eks, served);
    let clusters = eks.list_clusters().send().await.expect("ListClusters");
    assert_eq!(clusters.clusters(), [demo::CLUSTER_NAME]);
    let cluster = eks
        .describe_cluster()
        .name(demo::CLUSTER_NAME)
        .send()
        .await
        .expect("DescribeCluster");
    let cluster = cluster.cluster().expect("a cluster");
    assert_eq!(cluster.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(cluster.version(), Some(demo::KUBERNETES_VERSION));
    assert_eq!(
        cluster.endpoint(),
        Some(format!("http://{}/clusters/{}", served.addr, demo::CLUSTER_NAME).as_str())
    );
    let missing = eks
        .describe_cluster()
        .name("no-such-cluster")
        .send()
        .await
        .expect_err("no such cluster");
    let service_error = missing.as_service_error().expect("a service error");
    assert!(
        service_error.is_resource_not_found_exception(),
        "{service_error:?}"
    );

    let group = eks
        .describe_nodegroup()
        .cluster_name(demo::CLUSTER_NAME)
        .nodegroup_name(demo::NODEGROUP_NAME)
        .send()
        .await
        .expect("DescribeNodegroup");
    let group = group.nodegroup().expect("a node group");
    assert_eq!(group.instance_types(), [demo::NODE_INSTANCE_TYPE]);
    assert_eq!(group.capacity_type().map(|c| c.as_str()), Some("ON_DEMAND"));
}

#[tokio::test]
async fn a_job_run_started_through_emr_runs_on_the_simulated_cluster() {
    let ServedDemo {
        target,
        served,
        setup,
    } = served_demo(false).await;
    let emr = client!(aws_sdk_emrcontainers, served);
    let listed = emr
        .list_virtual_clusters()
        .send()
        .await
        .expect("ListVirtualClusters");
    let vc = listed
        .virtual_clusters()
        .iter()
        .find(|vc| vc.container_provider().and_then(|p| p.info()).is_some())
        .expect("a virtual cluster");
    assert_eq!(vc.state().map(|s| s.as_str()), Some("RUNNING"));
    let vc_id = setup.virtual_clusters[demo::LOW_NAMESPACE].clone();
    let role = target
        .world()
        .create_role("pi-job-role", None)
        .expect("a job execution role");

    let started = start_pi(
        &emr,
        &vc_id,
        &role,
        "pi",
        "--conf spark.executor.instances=2",
    )
    .await
    .expect("StartJobRun");
    let job_id = started.id().expect("an id").to_string();
    let run = describe(&emr, &vc_id, &job_id).await;
    assert_eq!(run.name(), Some("pi"));
    assert_eq!(run.release_label(), Some(demo::RELEASE_LABEL));
    assert!(run.created_at().is_some());

    target.world().run_until_idle();
    assert!(
        !target.world().job_pods(&job_id).is_empty(),
        "the job's pods were created"
    );
    assert_eq!(
        describe(&emr, &vc_id, &job_id)
            .await
            .state()
            .map(|s| s.as_str()),
        Some("COMPLETED")
    );
    let runs = emr
        .list_job_runs()
        .virtual_cluster_id(&vc_id)
        .send()
        .await
        .expect("ListJobRuns");
    assert!(
        runs.job_runs()
            .iter()
            .any(|r| r.id() == Some(job_id.as_str()))
    );

    let missing = emr
        .describe_virtual_cluster()
        .id("no-such-vc")
        .send()
        .await
        .expect_err("no such virtual cluster");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{missing:?}"
    );
    let invalid = start_pi(
        &emr,
        &vc_id,
        &role,
        "bad",
        "--conf spark.executor.instances=lots",
    )
    .await
    .expect_err("a bad executor count");
    assert!(
        invalid
            .as_service_error()
            .is_some_and(|e| e.is_validation_exception()),
        "{invalid:?}"
    );
}
