//! How [`AwsKube`] reaches a cluster's API server: through EKS (`DescribeCluster`
//! and an EKS token), through a kubeconfig context, or through a fixed client.

use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use base64::Engine as _;
use serde_json::json;

use super::AwsKube;
use super::bearer::TokenSource;
use super::status::{eks_error, error_chain};
use runbook_backend::ActionError;
use runbook_backend::TargetResult;
use runbook_backend::calls::{CallLog, PlannedCall, Service, declared};

use crate::call_recording::RecordKubeCalls;

/// Where clients come from.
pub(super) enum Connection {
    /// EKS: endpoint and CA from `DescribeCluster`, token from the SDK credentials.
    Eks {
        eks: aws_sdk_eks::Client,
        sdk: Box<aws_config::SdkConfig>,
    },
    /// A kubeconfig context, for every cluster (and EKS only to list clusters).
    Context { context: String },
    /// One client given up front.
    Fixed { cluster: String },
}

impl AwsKube {
    /// The client of `cluster`, built on first use; the first one also starts the
    /// observer's watches of the cluster.
    pub(super) async fn client(&self, cluster: &str) -> TargetResult<Client> {
        let client = self.unwatched_client(cluster).await?;
        self.observer.watch(cluster, &client);
        Ok(client)
    }

    /// [`AwsKube::client`] without starting the watches: for questions about the
    /// cluster that no run's record needs (preflight's), which should not list every
    /// pod of a large cluster to ask them.
    pub(super) async fn unwatched_client(&self, cluster: &str) -> TargetResult<Client> {
        let mut clients = self.clients.lock().await;
        match clients.get(cluster) {
            Some(client) => Ok(client.clone()),
            None => {
                let client = self.connect(cluster).await?;
                clients.insert(cluster.to_string(), client.clone());
                Ok(client)
            }
        }
    }

    async fn connect(&self, cluster: &str) -> TargetResult<Client> {
        match &self.connection {
            Connection::Eks { eks, sdk } => {
                connect_eks(eks, sdk, cluster, self.calls.as_ref()).await
            }
            Connection::Context { context } => {
                // `KUBECONFIG` (several files merged) or ~/.kube/config, as kubectl.
                let kubeconfig =
                    Kubeconfig::read().map_err(|e| connect_error(cluster, "InvalidConfig", &e))?;
                connect_context(kubeconfig, context, cluster, self.calls.as_ref()).await
            }
            Connection::Fixed { cluster: known } => Err(ActionError::Service {
                service: "Kubernetes",
                operation: "connect",
                resource: cluster.to_string(),
                code: "NotFound".into(),
                message: format!("this target only has a client for cluster `{known}`"),
            }),
        }
    }

    /// The cluster steps mean when they name none.
    pub(super) async fn only_cluster(&self) -> TargetResult<String> {
        let eks = match &self.connection {
            Connection::Fixed { cluster } => return Ok(cluster.clone()),
            Connection::Context { context } => {
                let kubeconfig =
                    Kubeconfig::read().map_err(|e| connect_error(context, "InvalidConfig", &e))?;
                return cluster_of_context(&kubeconfig, context);
            }
            Connection::Eks { eks, .. } => eks,
        };
        let mut names = Vec::new();
        let mut pages = eks.list_clusters().into_paginator().send();
        while let Some(page) = declared(list_clusters_call(), pages.next()).await {
            let page = page.map_err(|e| eks_error("ListClusters", "*", e))?;
            names.extend(page.clusters().iter().cloned());
        }
        runbook_backend::only_cluster(&names)
    }

    /// The calls [`AwsKube::client`] makes the first time a step reaches `cluster`,
    /// before the step's own: through EKS, the cluster's endpoint and CA; then the
    /// observer's watches, which go on in the run's own tasks. Every operation on a
    /// cluster lists these first ([`Kube`](runbook_backend::Kube)'s `planned_` twins).
    pub(super) fn planned_client(&self, cluster: &str) -> Vec<PlannedCall> {
        let connect = match &self.connection {
            Connection::Eks { .. } => Some(connect_call(cluster)),
            Connection::Fixed { .. } | Connection::Context { .. } => None,
        };
        let condition = format!("if the run has not reached cluster `{cluster}` yet");
        connect
            .into_iter()
            .chain(super::observer::planned_watches())
            .map(|call| call.under(&condition).once())
            .collect()
    }

    /// The calls [`AwsKube::only_cluster`] makes.
    pub(super) fn planned_only_cluster(&self) -> Vec<PlannedCall> {
        match &self.connection {
            Connection::Eks { .. } => vec![list_clusters_call()],
            Connection::Fixed { .. } | Connection::Context { .. } => Vec::new(),
        }
    }
}

fn list_clusters_call() -> PlannedCall {
    PlannedCall::new(Service::Eks, "ListClusters", json!({}))
        .note("the step names no cluster: the only one is used")
}

fn connect_call(cluster: &str) -> PlannedCall {
    PlannedCall::new(Service::Eks, "DescribeCluster", json!({"name": cluster}))
        .note("its API endpoint and certificate authority, to connect")
}

/// A client for an EKS cluster: its endpoint and CA, and a renewed EKS token.
async fn connect_eks(
    eks: &aws_sdk_eks::Client,
    sdk: &aws_config::SdkConfig,
    cluster: &str,
    calls: Option<&CallLog>,
) -> TargetResult<Client> {
    let described = declared(
        connect_call(cluster),
        eks.describe_cluster().name(cluster).send(),
    )
    .await
    .map_err(|e| eks_error("DescribeCluster", cluster, e))?;
    let info = described.cluster();
    let status = info
        .and_then(|c| c.status())
        .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string());
    let endpoint = info.and_then(|c| c.endpoint()).filter(|e| !e.is_empty());
    let ca = info
        .and_then(|c| c.certificate_authority())
        .and_then(|a| a.data())
        .filter(|d| !d.is_empty());
    let server = match (endpoint, ca) {
        (Some(endpoint), Some(ca)) => {
            // The CA must decode; a broken one would only show as a TLS error later.
            base64::engine::general_purpose::STANDARD
                .decode(ca)
                .map_err(|e| connect_error(cluster, "InvalidConfig", &e))?;
            json!({"server": endpoint, "certificate-authority-data": ca})
        }
        // EKS endpoints are HTTPS with the cluster's CA. Plain HTTP, with no CA to
        // trust, comes only from a local peer that serves EKS (`runbook sim serve
        // --for-aws`); there is no TLS to verify.
        (Some(endpoint), None) if endpoint.starts_with("http://") => json!({"server": endpoint}),
        _ => {
            return Err(ActionError::Failed(format!(
                "EKS cluster `{cluster}` has no Kubernetes API endpoint yet (status {status}); wait for it to be ACTIVE"
            )));
        }
    };
    let region = sdk.region().map(ToString::to_string).ok_or_else(|| {
        ActionError::Failed("no AWS region is configured for the EKS token".into())
    })?;
    let credentials = sdk.credentials_provider().ok_or_else(|| {
        ActionError::Failed("no AWS credentials are configured for the EKS token".into())
    })?;
    let kubeconfig: Kubeconfig = serde_json::from_value(json!({
        "clusters": [{"name": cluster, "cluster": server}],
        "users": [{"name": "runbook", "user": {}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": "runbook"}}],
        "current-context": cluster,
    }))
    .map_err(|e| connect_error(cluster, "InvalidConfig", &e))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| connect_error(cluster, "InvalidConfig", &e))?;
    let bearer = TokenSource {
        cluster: cluster.to_string(),
        region,
        credentials,
    }
    .start()
    .await?;
    let builder = ::kube::client::ClientBuilder::try_from(config)
        .map_err(|e| connect_error(cluster, "ClientError", &e))?;
    Ok(builder
        .with_layer(&RecordKubeCalls(crate::call_recording::recording_log(
            calls,
        )))
        .with_layer(&bearer)
        .build())
}

/// A client through `context` of `kubeconfig`, with whatever authentication the
/// context has (an exec plugin such as `aws eks get-token` renews its own tokens).
async fn connect_context(
    kubeconfig: Kubeconfig,
    context: &str,
    cluster: &str,
    calls: Option<&CallLog>,
) -> TargetResult<Client> {
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| connect_error(cluster, "InvalidConfig", &e))?;
    let builder = ::kube::client::ClientBuilder::try_from(config)
        .map_err(|e| connect_error(cluster, "ClientError", &e))?;
    Ok(builder
        .with_layer(&RecordKubeCalls(crate::call_recording::recording_log(
            calls,
        )))
        .build())
}

/// The EKS cluster a kubeconfig context points at: the name in an
/// `arn:aws:eks:...:cluster/NAME` (what `aws eks update-kubeconfig` writes) or in
/// `NAME.REGION.eksctl.io` (what eksctl writes), else the kubeconfig cluster name.
fn cluster_of_context(kubeconfig: &Kubeconfig, context: &str) -> TargetResult<String> {
    let cluster = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .ok_or_else(|| {
            ActionError::InvalidInput(format!("kubeconfig has no context `{context}`"))
        })?;
    Ok(eks_cluster_name(&cluster))
}

fn eks_cluster_name(kubeconfig_cluster: &str) -> String {
    if let Some((_, name)) = kubeconfig_cluster
        .strip_prefix("arn:")
        .and_then(|arn| arn.rsplit_once(":cluster/"))
    {
        return name.to_string();
    }
    if let Some(prefix) = kubeconfig_cluster.strip_suffix(".eksctl.io") {
        if let Some((name, _region)) = prefix.rsplit_once('.') {
            return name.to_string();
        }
    }
    kubeconfig_cluster.to_string()
}

fn connect_error(cluster: &str, code: &str, error: &dyn std::error::Error) -> ActionError {
    ActionError::Service {
        service: "Kubernetes",
        operation: "connect",
        resource: cluster.to_string(),
        code: code.to_string(),
        message: error_chain(error),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_sdk_eks::error::ErrorMetadata;
    use aws_sdk_eks::operation::describe_cluster::{DescribeClusterError, DescribeClusterOutput};
    use aws_sdk_eks::operation::list_clusters::ListClustersOutput;
    use aws_sdk_eks::types::{Certificate, Cluster, ClusterStatus};
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::{cluster_of_context, connect_context, eks_cluster_name};
    use crate::kube::{AwsKube, AwsObserver};
    use runbook_backend::ActionError;
    use runbook_backend::Kube;
    use runbook_backend::calls::{PlannedCall, Service, declared};

    /// A self-signed CA certificate (no key is needed: nothing here speaks TLS).
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBizCCATGgAwIBAgIUAf42zbcGY75i10v0uvOZC0V4m9EwCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPcnVuYm9vay10ZXN0LWNhMCAXDTI2MTEyNTIwNDAyN1oYDzIx
MjYxMTAxMjA0MDI3WjAaMRgwFgYDVQQDDA9ydW5ib29rLXRlc3QtY2EwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAR+LE5CW+eJIPtOLxed48TUmybI03GUGN9LL1MM
GqPAeRH4XmXxWByqd5eN8Ic4mf0YKZk8/dB90G9+osXqG7iqo1MwUTAdBgNVHQ4E
FgQUT/lTx53AQhIAfTCq43HAowrD13IwHwYDVR0jBBgwFoAUT/lTx53AQhIAfTCq
43HAowrD13IwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAi4dW
qwz3YqngcMv0DUvkG0Q4j8dZDc41yfkyNj6zQLUCIDHzPDetZ04j5QQWeIsnXwgS
ZVRVaUTN2AV7vQYk/+L3
-----END CERTIFICATE-----
";

    fn credentials() -> Credentials {
        Credentials::new("AKIDTEST", "secret", None, None, "test")
    }

    fn sdk() -> SdkConfig {
        SdkConfig::builder()
            .region(Region::new("us-east-2"))
            .credentials_provider(SharedCredentialsProvider::new(credentials()))
            .behavior_version(BehaviorVersion::latest())
            .build()
    }

    fn eks(rules: &[&Rule]) -> aws_sdk_eks::Client {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        let config = aws_sdk_eks::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-2"))
            .credentials_provider(credentials())
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        aws_sdk_eks::Client::from_conf(config)
    }

    fn kube_over(rules: &[&Rule]) -> AwsKube {
        AwsKube::new(
            eks(rules),
            sdk(),
            None,
            Arc::new(AwsObserver::with_poll_interval(
                std::time::Duration::from_secs(30),
            )),
        )
    }

    async fn default_cluster_of(names: &[&str]) -> Result<String, ActionError> {
        let names: Vec<String> = names.iter().map(ToString::to_string).collect();
        let list = mock!(aws_sdk_eks::Client::list_clusters).then_output(move || {
            ListClustersOutput::builder()
                .set_clusters(Some(names.clone()))
                .build()
        });
        kube_over(&[&list]).default_cluster().await
    }

    #[tokio::test]
    async fn the_default_cluster_is_the_only_eks_cluster() {
        assert_eq!(default_cluster_of(&["demo"]).await.expect("one"), "demo");
        assert_eq!(
            default_cluster_of(&[]).await.expect_err("none").to_string(),
            "there is no EKS cluster yet; create one with `create-cluster` first"
        );
        assert_eq!(
            default_cluster_of(&["a", "b"])
                .await
                .expect_err("two")
                .to_string(),
            "invalid input: there are 2 clusters (a, b); say which with `cluster:`"
        );
    }

    #[tokio::test]
    async fn an_eks_cluster_without_endpoint_or_unknown_is_reported() {
        let creating = mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| {
            DescribeClusterOutput::builder()
                .cluster(
                    Cluster::builder()
                        .name("demo")
                        .status(ClusterStatus::Creating)
                        .build(),
                )
                .build()
        });
        let error = kube_over(&[&creating])
            .create_namespace("demo", "spark")
            .await
            .expect_err("not ready");
        assert_eq!(
            error.to_string(),
            "EKS cluster `demo` has no Kubernetes API endpoint yet (status CREATING); wait for it to be ACTIVE"
        );
        let missing = mock!(aws_sdk_eks::Client::describe_cluster).then_error(|| {
            DescribeClusterError::ResourceNotFoundException(
                aws_sdk_eks::types::error::ResourceNotFoundException::builder()
                    .message("No cluster found for name: demo.")
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .message("No cluster found for name: demo.")
                            .build(),
                    )
                    .build(),
            )
        });
        let error = kube_over(&[&missing])
            .create_namespace("demo", "spark")
            .await
            .expect_err("no cluster");
        assert_eq!(
            error.to_string(),
            "EKS DescribeCluster of `demo` failed: ResourceNotFoundException: No cluster found for name: demo."
        );
    }

    /// Answers the first POST with a created Namespace; other requests (the
    /// observer's lists and watches) get no answer. Records the POST's headers.
    async fn api_server(listener: TcpListener, seen: Arc<Mutex<Vec<String>>>) {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                if !head.starts_with("POST /api/v1/namespaces") {
                    std::future::pending::<()>().await;
                }
                seen.lock().expect("seen").push(head);
                let body = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"spark","uid":"u","resourceVersion":"1"}}"#;
                let response = format!(
                    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                std::future::pending::<()>().await;
            });
        }
    }

    #[tokio::test]
    async fn eks_clusters_are_reached_at_their_endpoint_with_a_token_for_the_cluster() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(api_server(listener, Arc::clone(&seen)));
        let ca = base64::engine::general_purpose::STANDARD.encode(TEST_CA);
        let describe = mock!(aws_sdk_eks::Client::describe_cluster)
            .match_requests(|r| r.name() == Some("demo"))
            .then_output(move || {
                DescribeClusterOutput::builder()
                    .cluster(
                        Cluster::builder()
                            .name("demo")
                            .status(ClusterStatus::Active)
                            .endpoint(endpoint.clone())
                            .certificate_authority(Certificate::builder().data(ca.clone()).build())
                            .build(),
                    )
                    .build()
            });
        let kube = kube_over(&[&describe]);
        assert!(
            kube.create_namespace("demo", "spark")
                .await
                .expect("created")
        );
        // The client is built once per cluster.
        assert_eq!(describe.num_calls(), 1);
        let head = seen.lock().expect("seen")[0].clone();
        let token = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("authorization")
                    .then(|| value.trim().strip_prefix("Bearer k8s-aws-v1."))
                    .flatten()
            })
            .expect("an EKS token");
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .expect("base64url"),
        )
        .expect("utf-8");
        assert!(
            url.starts_with(
                "https://sts.us-east-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Credential=AKIDTEST%2F"), "{url}");
        assert!(url.contains("%2Fus-east-2%2Fsts%2Faws4_request"), "{url}");
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
            "{url}"
        );
    }

    #[test]
    fn context_clusters_map_to_eks_names() {
        assert_eq!(
            eks_cluster_name("arn:aws:eks:us-east-2:111122223333:cluster/demo"),
            "demo"
        );
        assert_eq!(eks_cluster_name("demo.us-east-2.eksctl.io"), "demo");
        assert_eq!(eks_cluster_name("kind-local"), "kind-local");
    }

    #[tokio::test]
    async fn a_kubeconfig_context_gives_the_cluster_and_its_credentials() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(api_server(listener, Arc::clone(&seen)));
        let kubeconfig: ::kube::config::Kubeconfig = serde_json::from_value(serde_json::json!({
            "clusters": [
                {"name": "arn:aws:eks:us-east-2:111122223333:cluster/demo", "cluster": {"server": server}},
                {"name": "other", "cluster": {"server": "http://127.0.0.1:9"}},
            ],
            "users": [{"name": "admin", "user": {"token": "static-token"}}],
            "contexts": [
                {"name": "demo-admin", "context": {"cluster": "arn:aws:eks:us-east-2:111122223333:cluster/demo", "user": "admin"}},
                {"name": "other", "context": {"cluster": "other", "user": "admin"}},
            ],
            "current-context": "other",
        }))
        .expect("kubeconfig");
        assert_eq!(
            cluster_of_context(&kubeconfig, "demo-admin").expect("context"),
            "demo"
        );
        assert_eq!(
            cluster_of_context(&kubeconfig, "nope")
                .expect_err("unknown")
                .to_string(),
            "invalid input: kubeconfig has no context `nope`"
        );
        let client = connect_context(kubeconfig, "demo-admin", "demo", None)
            .await
            .expect("client");
        let api: ::kube::Api<k8s_openapi::api::core::v1::Namespace> = ::kube::Api::all(client);
        let namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "spark"}}))
            .expect("namespace");
        // A debug build's client refuses what the code does not declare.
        let create = PlannedCall::new(
            Service::Kubernetes,
            "create Namespace",
            serde_json::json!({"name": "spark"}),
        );
        declared(
            create,
            api.create(&::kube::api::PostParams::default(), &namespace),
        )
        .await
        .expect("created at the context's server, not the current context's");
        let head = seen.lock().expect("seen")[0].clone();
        assert!(
            head.lines()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer static-token")),
            "{head}"
        );
    }
}
