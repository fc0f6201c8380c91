//! Whether the caller may do what a run needs in a cluster: one
//! SelfSubjectAccessReview per permission (what `kubectl auth can-i` sends), after
//! discovery has named each kind's resource (its plural, and whether it is
//! namespaced). For `runbook preflight`: an EKS access entry with less than
//! cluster-admin (AmazonEKSEditPolicy cannot make PriorityClasses) shows here, before
//! the demo, instead of as a Forbidden halfway through it.

use std::collections::HashMap;

use ::kube::api::{Api, ApiResource, GroupVersionKind, PostParams};
use ::kube::discovery::{self, Scope};
use ::kube::error::DiscoveryError;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use serde_json::json;

use super::AwsKube;
use super::service::discover_call;
use super::status::kube_error;
use runbook_backend::calls::{PlannedCall, Service, declared};
use runbook_backend::{AccessVerdict, KubeAccess, TargetResult};

/// Each of `asked`'s verdict on `cluster`, in order.
pub(super) async fn access(
    kube: &AwsKube,
    cluster: &str,
    asked: &[KubeAccess],
) -> TargetResult<Vec<AccessVerdict>> {
    let client = kube.unwatched_client(cluster).await?;
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    // A kind the cluster does not serve (Karpenter's, before it is installed) is
    // `None`: its permissions cannot be asked about yet.
    let mut resources: HashMap<(String, String), Option<(ApiResource, bool)>> = HashMap::new();
    let mut verdicts = Vec::with_capacity(asked.len());
    for access in asked {
        let key = (access.api_version.clone(), access.kind.clone());
        let resource = match resources.get(&key) {
            Some(found) => found.clone(),
            None => {
                let found = resource_of(&client, access).await?;
                resources.insert(key, found.clone());
                found
            }
        };
        let Some((resource, namespaced)) = resource else {
            verdicts.push(AccessVerdict::Unknown(format!(
                "the cluster does not serve {} ({}) yet",
                access.kind, access.api_version
            )));
            continue;
        };
        let attributes = ResourceAttributes {
            verb: Some(access.verb.clone()),
            group: Some(resource.group.clone()),
            version: Some(resource.version.clone()),
            resource: Some(resource.plural.clone()),
            namespace: access.namespace.clone().filter(|_| namespaced),
            ..ResourceAttributes::default()
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(attributes.clone()),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answered = declared(
            review_call(&attributes),
            reviews.create(&PostParams::default(), &review),
        )
        .await
        .map_err(|e| kube_error("create SelfSubjectAccessReview", cluster, &e))?;
        let status = answered.status.unwrap_or_default();
        verdicts.push(if status.allowed {
            AccessVerdict::Allowed
        } else {
            AccessVerdict::Denied(status.reason.unwrap_or_default())
        });
    }
    Ok(verdicts)
}

/// The resource of `access`'s kind and whether it is namespaced, or `None` when the
/// cluster does not serve the kind.
async fn resource_of(
    client: &::kube::Client,
    access: &KubeAccess,
) -> TargetResult<Option<(ApiResource, bool)>> {
    let (group, version) = access
        .api_version
        .split_once('/')
        .unwrap_or(("", &access.api_version));
    let gvk = GroupVersionKind::gvk(group, version, &access.kind);
    match declared(
        discover_call(&access.api_version, &access.kind),
        discovery::pinned_kind(client, &gvk),
    )
    .await
    {
        Ok((resource, capabilities)) => {
            Ok(Some((resource, capabilities.scope == Scope::Namespaced)))
        }
        Err(::kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(::kube::Error::Discovery(DiscoveryError::MissingKind(_))) => Ok(None),
        Err(e) => Err(kube_error(
            "discover",
            &format!("{}/{}", access.api_version, access.kind),
            &e,
        )),
    }
}

fn review_call(attributes: &ResourceAttributes) -> PlannedCall {
    PlannedCall::new(
        Service::Kubernetes,
        "create SelfSubjectAccessReview",
        json!({
            "verb": attributes.verb,
            "group": attributes.group,
            "resource": attributes.resource,
            "namespace": attributes.namespace,
        }),
    )
}
