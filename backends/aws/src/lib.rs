//! The `aws` target: every service call goes to real AWS through aws-sdk-rust, and to
//! the cluster's Kubernetes API through kube-rs.
//!
//! Configuration is what AWS users expect: the SDK's default credential chain, a
//! profile (`--profile` or `AWS_PROFILE`), the region from `--region`, the runbook's
//! `region` parameter or the usual sources, and `AWS_ENDPOINT_URL` (or a per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`) for local endpoints such as moto.

mod call_recording;
mod capacity;
mod connect_error;
mod eks;
mod eks_roles;
pub(crate) mod emr;
mod error;
mod https_client;
pub(crate) mod iam;
pub mod kube;
mod logs;
mod network;
mod propagation;
mod s3;
#[cfg(test)]
mod sdk_mock;

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;

use runbook_backend::calls::CallLog;
use runbook_backend::{Target, TargetKind};

use call_recording::sdk_config;

pub use connect_error::ConnectError;
pub(crate) use error::service_error;
pub use https_client::https_client;
pub use iam::policy_document;

/// How to reach AWS, from the command line and the runbook.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// A named profile of `~/.aws/config` (else `AWS_PROFILE`, else `default`).
    pub profile: Option<String>,
    /// The region given on the command line; wins over every other source.
    pub region: Option<String>,
    /// The region the runbook asks for (its `region` parameter), used when the SDK's
    /// usual sources name none.
    pub runbook_region: Option<String>,
    /// A kubeconfig context to reach the cluster's API with, instead of the EKS
    /// endpoint and a token presigned from STS.
    pub kube_context: Option<String>,
    /// Where to record every AWS and Kubernetes call the run makes, if anywhere
    /// (`--record-calls`).
    pub record_calls: Option<CallLog>,
    /// For read-only checks a person waits for (`preflight`): one retry after 100 ms
    /// instead of the SDK's standard three attempts with backoff of up to seconds;
    /// a check that still fails says it cannot be made, and checking again is cheap.
    pub quick_retries: bool,
}

/// The SDK configuration every client of the target is built from.
#[derive(Clone)]
pub(crate) struct AwsConfig {
    pub(crate) sdk: SdkConfig,
    /// Whether an endpoint override is in force (local S3 endpoints need path-style
    /// bucket addressing).
    pub(crate) custom_endpoint: bool,
    /// The run's record of its calls, which every client made from this configuration
    /// writes to.
    pub(crate) calls: Option<CallLog>,
}

/// Loads the configuration and checks, with one STS GetCallerIdentity, that the
/// credentials work; every problem becomes one message before any step runs.
pub async fn connect(settings: &AwsSettings) -> Result<Target, ConnectError> {
    let config = load_config(settings).await?;
    let region = config
        .sdk
        .region()
        .map(ToString::to_string)
        .unwrap_or_default();
    let (account_id, caller_arn) = caller_identity(&config).await?;
    let partition = runbook_backend::arn::partition_of_caller(&caller_arn, &region).to_string();
    Ok(target(
        &config,
        Identity {
            account_id,
            caller_arn,
            region,
            partition,
        },
        settings.kube_context.clone(),
    ))
}

/// Who the target acts as, and where.
struct Identity {
    account_id: String,
    caller_arn: String,
    region: String,
    partition: String,
}

/// The target's clients, made from `config`.
fn target(config: &AwsConfig, identity: Identity, kube_context: Option<String>) -> Target {
    let observer = Arc::new(kube::AwsObserver::new());
    Target {
        kind: TargetKind::Aws,
        eks: Arc::new(eks::AwsEks::new(
            config,
            identity.account_id.clone(),
            identity.partition.clone(),
        )),
        kube: Arc::new(
            kube::AwsKube::new(
                aws_sdk_eks::Client::from_conf(sdk_config!(aws_sdk_eks, config).build()),
                config.sdk.clone(),
                kube_context,
                Arc::clone(&observer),
            )
            .in_partition(&identity.partition)
            .recording_calls(config.calls.clone()),
        ),
        emr: Arc::new(emr::AwsEmr::new(config)),
        iam: Arc::new(iam::AwsIam::new(config)),
        logs: Arc::new(logs::AwsLogs::new(config)),
        s3: Arc::new(s3::AwsS3::new(config)),
        capacity: Arc::new(capacity::AwsCapacity::new(config)),
        observer,
        account_id: identity.account_id,
        caller_arn: identity.caller_arn,
        region: identity.region,
    }
}

/// The `aws` target as a plan sees it: its operations' `planned_` twins list the calls
/// each makes, built by the functions that declare those calls when a run sends
/// them. Its clients have no credentials and a plan never sends anything.
pub fn planning_target(region: Option<&str>) -> Target {
    use runbook_backend::calls::{ACCOUNT_PLACEHOLDER, REGION_PLACEHOLDER};
    let region = region.unwrap_or(REGION_PLACEHOLDER);
    let config = AwsConfig {
        sdk: SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .build(),
        custom_endpoint: false,
        calls: None,
    };
    target(
        &config,
        Identity {
            account_id: ACCOUNT_PLACEHOLDER.to_string(),
            caller_arn: String::new(),
            region: region.to_string(),
            partition: runbook_backend::calls::PARTITION_PLACEHOLDER.to_string(),
        },
        None,
    )
}

/// The SDK's configuration with the settings applied; fails without a region or
/// credentials.
pub(crate) async fn load_config(settings: &AwsSettings) -> Result<AwsConfig, ConnectError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if settings.quick_retries {
        loader = loader.retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(std::time::Duration::from_millis(100)),
        );
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let mut sdk = loader.load().await;
    // An empty AWS_REGION (`AWS_REGION= runbook ...`) means none; it must not hide
    // the profile's region, which the SDK's chain would only read after it.
    if sdk.region().is_some_and(|r| r.as_ref().trim().is_empty()) {
        let mut from_profile = aws_config::profile::ProfileFileRegionProvider::builder();
        if let Some(profile) = &settings.profile {
            from_profile = from_profile.profile_name(profile);
        }
        let region = aws_config::meta::region::ProvideRegion::region(&from_profile.build()).await;
        sdk = sdk.into_builder().region(region).build();
    }
    if sdk.region().is_none() {
        match &settings.runbook_region {
            Some(region) => {
                sdk = sdk
                    .into_builder()
                    .region(Region::new(region.clone()))
                    .build();
            }
            None => return Err(ConnectError::NoRegion),
        }
    }
    let provider = sdk
        .credentials_provider()
        .ok_or(ConnectError::NoCredentialsProvider)?;
    if let Err(e) = provider.provide_credentials().await {
        let profile = settings
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok());
        return Err(ConnectError::UnusableCredentials {
            profile,
            cause: error::chain(&e),
        });
    }
    let custom_endpoint = sdk.endpoint_url().is_some()
        || std::env::vars().any(|(k, _)| k.starts_with("AWS_ENDPOINT_URL_S3"));
    Ok(AwsConfig {
        sdk,
        custom_endpoint,
        calls: settings.record_calls.clone(),
    })
}

/// The account and ARN of the credentials, from STS GetCallerIdentity (which needs no
/// permission, so a failure means the credentials themselves are wrong).
async fn caller_identity(config: &AwsConfig) -> Result<(String, String), ConnectError> {
    let sts = aws_sdk_sts::Client::from_conf(sdk_config!(aws_sdk_sts, config).build());
    let identity = runbook_backend::calls::PlannedCall::new(
        runbook_backend::calls::Service::Sts,
        "GetCallerIdentity",
        serde_json::json!({}),
    )
    .note("whose credentials these are");
    match runbook_backend::calls::declared(identity, sts.get_caller_identity().send()).await {
        Ok(identity) => identity
            .account()
            .map(|account| {
                (
                    account.to_string(),
                    identity.arn().unwrap_or_default().to_string(),
                )
            })
            .ok_or(ConnectError::NoAccount),
        Err(e) => Err(ConnectError::CredentialsRejected(Box::new(service_error(
            "STS",
            "GetCallerIdentity",
            "caller",
            e,
        )))),
    }
}
