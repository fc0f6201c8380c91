//! How [`AwsKube`] reaches a cluster's API server: through EKS (`DescribeCluster`
//! and an EKS token), through a kubeconfig context, or through a fixed client.

use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use base64::Engine as _;
use serde_json::json;

use super::AwsKube;
use super::bearer::TokenSource;
use super::status::{eks_error, error_chain};
use crate::error::ActionError;
use crate::target::services::TargetResult;

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
        let mut clients = self.clients.lock().await;
        let client = match clients.get(cluster) {
            Some(client) => client.clone(),
            None => {
                let client = self.connect(cluster).await?;
                clients.insert(cluster.to_string(), client.clone());
                client
            }
        };
        drop(clients);
        self.observer.watch(cluster, &client);
        Ok(client)
    }

    async fn connect(&self, cluster: &str) -> TargetResult<Client> {
        match &self.connection {
            Connection::Eks { eks, sdk } => connect_eks(eks, sdk, cluster).await,
            Connection::Context { context, .. } => {
                let options = KubeConfigOptions {
                    context: Some(context.clone()),
                    ..KubeConfigOptions::default()
                };
                let config = Config::from_kubeconfig(&options)
                    .await
                    .map_err(|e| connect_error(cluster, "InvalidConfig", &e))?;
                Client::try_from(config).map_err(|e| connect_error(cluster, "ClientError", &e))
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
            Connection::Context { context, .. } => return context_cluster(context),
            Connection::Eks { eks, .. } => eks,
        };
        let mut names = Vec::new();
        let mut pages = eks.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| eks_error("ListClusters", "*", e))?;
            names.extend(page.clusters().iter().cloned());
        }
        match names.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ActionError::Failed(
                "there is no EKS cluster yet; create one with `create-cluster` first".into(),
            )),
            many => Err(ActionError::InvalidInput(format!(
                "there are {} clusters ({}); say which with `cluster:`",
                many.len(),
                many.join(", ")
            ))),
        }
    }
}

/// A client for an EKS cluster: its endpoint and CA, and a renewed EKS token.
async fn connect_eks(
    eks: &aws_sdk_eks::Client,
    sdk: &aws_config::SdkConfig,
    cluster: &str,
) -> TargetResult<Client> {
    let described = eks
        .describe_cluster()
        .name(cluster)
        .send()
        .await
        .map_err(|e| eks_error("DescribeCluster", cluster, e))?;
    let info = described.cluster();
    let status = info
        .and_then(|c| c.status())
        .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string());
    let (Some(endpoint), Some(ca)) = (
        info.and_then(|c| c.endpoint()),
        info.and_then(|c| c.certificate_authority())
            .and_then(|a| a.data()),
    ) else {
        return Err(ActionError::Failed(format!(
            "EKS cluster `{cluster}` has no Kubernetes API endpoint yet (status {status}); wait for it to be ACTIVE"
        )));
    };
    // The CA must decode; a broken one would only show as a TLS error later.
    base64::engine::general_purpose::STANDARD
        .decode(ca)
        .map_err(|e| connect_error(cluster, "InvalidConfig", &e))?;
    let region = sdk.region().map(ToString::to_string).ok_or_else(|| {
        ActionError::Failed("no AWS region is configured for the EKS token".into())
    })?;
    let credentials = sdk.credentials_provider().ok_or_else(|| {
        ActionError::Failed("no AWS credentials are configured for the EKS token".into())
    })?;
    let kubeconfig: Kubeconfig = serde_json::from_value(json!({
        "clusters": [{"name": cluster, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
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
    Ok(builder.with_layer(&bearer).build())
}

/// The EKS cluster a kubeconfig context points at: the name in an
/// `arn:aws:eks:...:cluster/NAME` (what `aws eks update-kubeconfig` writes) or in
/// `NAME.REGION.eksctl.io` (what eksctl writes), else the kubeconfig cluster name.
fn context_cluster(context: &str) -> TargetResult<String> {
    let kubeconfig = Kubeconfig::read().map_err(|e| connect_error(context, "InvalidConfig", &e))?;
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
    use super::eks_cluster_name;

    #[test]
    fn context_clusters_map_to_eks_names() {
        assert_eq!(
            eks_cluster_name("arn:aws:eks:us-east-2:111122223333:cluster/demo"),
            "demo"
        );
        assert_eq!(eks_cluster_name("demo.us-east-2.eksctl.io"), "demo");
        assert_eq!(eks_cluster_name("kind-local"), "kind-local");
    }
}
