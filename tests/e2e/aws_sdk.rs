//! aws-sdk-rust clients on a test's moto server, for checking what a run left behind
//! the way a user would look at it: through the AWS APIs.

use aws_config::{BehaviorVersion, Region};
use serde_json::Value;

use crate::aws_harness::AwsWorld;

/// Blocking wrappers over the SDK clients of one moto server.
pub(crate) struct Sdk {
    runtime: tokio::runtime::Runtime,
    pub(crate) eks: aws_sdk_eks::Client,
    pub(crate) emr: aws_sdk_emrcontainers::Client,
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) logs: aws_sdk_cloudwatchlogs::Client,
    pub(crate) ec2: aws_sdk_ec2::Client,
}

impl Sdk {
    pub(crate) fn new(world: &AwsWorld) -> Sdk {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let config = runtime.block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .http_client(runbook_backend_aws::https_client())
                .endpoint_url(world.moto_url())
                .region(Region::new("us-east-2"))
                .test_credentials()
                .load(),
        );
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        Sdk {
            eks: aws_sdk_eks::Client::new(&config),
            emr: aws_sdk_emrcontainers::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            runtime,
        }
    }

    /// Runs one SDK future to its end.
    pub(crate) fn call<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// A new VPC with one subnet in each of `zones`, as a user prepares one for EKS;
    /// returns the subnet ids.
    pub(crate) fn subnets_in(&self, zones: &[&str]) -> Vec<String> {
        let vpc = self
            .call(self.ec2.create_vpc().cidr_block("10.0.0.0/16").send())
            .expect("CreateVpc");
        let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id");
        zones
            .iter()
            .enumerate()
            .map(|(i, zone)| {
                let subnet = self
                    .call(
                        self.ec2
                            .create_subnet()
                            .vpc_id(vpc_id)
                            .availability_zone(*zone)
                            .cidr_block(format!("10.0.{i}.0/24"))
                            .send(),
                    )
                    .expect("CreateSubnet");
                subnet
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .expect("subnet id")
                    .to_owned()
            })
            .collect()
    }

    /// (name, namespace, EKS cluster) of every RUNNING virtual cluster, sorted.
    pub(crate) fn running_virtual_clusters(&self) -> Vec<(String, String, String)> {
        let out = self
            .call(
                self.emr
                    .list_virtual_clusters()
                    .states(aws_sdk_emrcontainers::types::VirtualClusterState::Running)
                    .send(),
            )
            .expect("ListVirtualClusters");
        let mut found: Vec<(String, String, String)> = out
            .virtual_clusters()
            .iter()
            .map(|vc| {
                let provider = vc.container_provider().expect("container provider");
                let namespace = match provider.info() {
                    Some(aws_sdk_emrcontainers::types::ContainerInfo::EksInfo(eks)) => {
                        eks.namespace().unwrap_or_default().to_owned()
                    }
                    _ => String::new(),
                };
                (
                    vc.name().unwrap_or_default().to_owned(),
                    namespace,
                    provider.id().to_owned(),
                )
            })
            .collect();
        found.sort();
        found
    }

    /// The id of the RUNNING virtual cluster called `name`.
    pub(crate) fn virtual_cluster_id(&self, name: &str) -> String {
        let out = self
            .call(self.emr.list_virtual_clusters().send())
            .expect("ListVirtualClusters");
        out.virtual_clusters()
            .iter()
            .find(|vc| {
                vc.name() == Some(name)
                    && vc.state()
                        == Some(&aws_sdk_emrcontainers::types::VirtualClusterState::Running)
            })
            .and_then(|vc| vc.id())
            .unwrap_or_else(|| panic!("no RUNNING virtual cluster {name}"))
            .to_owned()
    }

    /// Every job run of a virtual cluster, fully described.
    pub(crate) fn job_runs(
        &self,
        virtual_cluster_id: &str,
    ) -> Vec<aws_sdk_emrcontainers::types::JobRun> {
        let listed = self
            .call(
                self.emr
                    .list_job_runs()
                    .virtual_cluster_id(virtual_cluster_id)
                    .send(),
            )
            .expect("ListJobRuns");
        listed
            .job_runs()
            .iter()
            .map(|j| {
                self.call(
                    self.emr
                        .describe_job_run()
                        .virtual_cluster_id(virtual_cluster_id)
                        .id(j.id().unwrap_or_default())
                        .send(),
                )
                .expect("DescribeJobRun")
                .job_run()
                .expect("a job run")
                .clone()
            })
            .collect()
    }

    /// Names of the IAM roles, sorted.
    pub(crate) fn role_names(&self) -> Vec<String> {
        let out = self.call(self.iam.list_roles().send()).expect("ListRoles");
        let mut names: Vec<String> = out
            .roles()
            .iter()
            .map(|r| r.role_name().to_owned())
            .collect();
        names.sort();
        names
    }

    /// A role's trust policy, decoded.
    pub(crate) fn trust_policy(&self, role: &str) -> Value {
        let out = self
            .call(self.iam.get_role().role_name(role).send())
            .expect("GetRole");
        let document = out
            .role()
            .and_then(|r| r.assume_role_policy_document())
            .expect("a trust policy");
        let policy = runbook_backend_aws::policy_document(Some(document));
        assert!(!policy.is_null(), "not a policy document: {document}");
        policy
    }

    /// Names of a role's inline policies.
    pub(crate) fn inline_policies(&self, role: &str) -> Vec<String> {
        self.call(self.iam.list_role_policies().role_name(role).send())
            .expect("ListRolePolicies")
            .policy_names()
            .to_vec()
    }

    /// ARNs of the IAM OIDC providers.
    pub(crate) fn oidc_providers(&self) -> Vec<String> {
        self.call(self.iam.list_open_id_connect_providers().send())
            .expect("ListOpenIDConnectProviders")
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn().map(str::to_owned))
            .collect()
    }

    /// (name, retention) of every log group, sorted.
    pub(crate) fn log_groups(&self) -> Vec<(String, Option<i32>)> {
        let out = self
            .call(self.logs.describe_log_groups().send())
            .expect("DescribeLogGroups");
        let mut groups: Vec<(String, Option<i32>)> = out
            .log_groups()
            .iter()
            .map(|g| {
                (
                    g.log_group_name().unwrap_or_default().to_owned(),
                    g.retention_in_days(),
                )
            })
            .collect();
        groups.sort();
        groups
    }

    /// Names of the buckets, sorted.
    pub(crate) fn buckets(&self) -> Vec<String> {
        let out = self
            .call(self.s3.list_buckets().send())
            .expect("ListBuckets");
        let mut names: Vec<String> = out
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// The region a bucket was created in.
    pub(crate) fn bucket_region(&self, bucket: &str) -> String {
        self.call(self.s3.get_bucket_location().bucket(bucket).send())
            .expect("GetBucketLocation")
            .location_constraint()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default()
    }
}
