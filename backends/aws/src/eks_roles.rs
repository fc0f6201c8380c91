//! The two IAM roles `eksctl create cluster` makes, made by `create-cluster` on `aws`
//! when the runbook gives no `role_arn` or `node_role_arn`, and removed by
//! `delete-cluster` once the cluster is gone: the cluster role EKS's control plane
//! assumes, and the node role of the node group's instances (which Karpenter's nodes
//! can use too), with the AWS managed policies eksctl attaches. Both carry the tag
//! `runbook.io/cluster: <cluster>`; a role of that name without it is not runbook's and
//! is neither adopted nor deleted.

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use runbook_backend::calls::{PlannedCall, PlannedCalls, Service, declared};
use runbook_backend::{ActionError, EksRole, TargetResult};
use serde_json::{Value, json};

use crate::error::code_of;
use crate::iam::{create_role_call, get_role_call, removal_calls};
use crate::network::CLUSTER_TAG;
use crate::propagation::retry_while_propagating;
use crate::service_error;

/// Who assumes the role.
fn service(role: EksRole) -> &'static str {
    match role {
        EksRole::Cluster => "eks.amazonaws.com",
        EksRole::Node => "ec2.amazonaws.com",
    }
}

/// The AWS managed policies eksctl attaches.
pub(crate) fn policies(role: EksRole) -> &'static [&'static str] {
    match role {
        EksRole::Cluster => &["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"],
        EksRole::Node => &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonSSMManagedInstanceCore",
        ],
    }
}

/// The role's ARN, made with its trust and managed policies unless it exists already
/// (made by an earlier attempt; one without runbook's tag is refused).
pub(crate) async fn ensure_role(
    iam: &aws_sdk_iam::Client,
    role: EksRole,
    cluster: &str,
    partition: &str,
) -> TargetResult<String> {
    let name = role.name(cluster);
    let arn = match declared(get_role_call(&name), iam.get_role().role_name(&name).send()).await {
        Ok(found) => {
            let found = found.role().ok_or_else(|| {
                ActionError::Failed(format!("IAM GetRole of `{name}` returned no role"))
            })?;
            let ours = found
                .tags()
                .iter()
                .any(|t| t.key() == CLUSTER_TAG && t.value() == cluster);
            if !ours {
                return Err(ActionError::Failed(format!(
                    "IAM role `{name}` exists but was not made by runbook for cluster `{cluster}` (no tag {CLUSTER_TAG}={cluster}); give its ARN as the step's role input, or delete it"
                )));
            }
            found.arn().to_string()
        }
        Err(e) if code_of(&e) == Some("NoSuchEntity") => {
            let trust = trust(role);
            let call = make_call(role, cluster);
            let tag = Tag::builder()
                .key(CLUSTER_TAG)
                .value(cluster)
                .build()
                .map_err(|e| ActionError::Bug(format!("IAM tag: {e}")))?;
            let created = retry_while_propagating(|| {
                declared(
                    call.clone(),
                    iam.create_role()
                        .role_name(&name)
                        .assume_role_policy_document(trust.to_string())
                        .description(format!(
                            "EKS {role:?} role of cluster {cluster}, made by runbook"
                        ))
                        .tags(tag.clone())
                        .send(),
                )
            })
            .await
            .map_err(|e| service_error("IAM", "CreateRole", &name, e))?;
            created.role().map(|r| r.arn().to_string()).ok_or_else(|| {
                ActionError::Failed(format!("IAM CreateRole of `{name}` returned no role"))
            })?
        }
        Err(e) => return Err(service_error("IAM", "GetRole", &name, e)),
    };
    for policy in policies(role) {
        let policy_arn = managed_policy(partition, policy);
        declared(
            attach_call(&name, &policy_arn),
            iam.attach_role_policy()
                .role_name(&name)
                .policy_arn(&policy_arn)
                .send(),
        )
        .await
        .map_err(|e| service_error("IAM", "AttachRolePolicy", &name, e))?;
    }
    Ok(arn)
}

/// Deletes the role if runbook made it for `cluster`: detaches its managed policies,
/// takes it out of instance profiles (Karpenter makes some for the node role), then
/// deletes it. Returns whether it did.
pub(crate) async fn delete_role(
    iam: &aws_sdk_iam::Client,
    role: EksRole,
    cluster: &str,
    partition: &str,
) -> TargetResult<bool> {
    let name = role.name(cluster);
    let found = match declared(get_role_call(&name), iam.get_role().role_name(&name).send()).await {
        Ok(found) => found,
        Err(e) if code_of(&e) == Some("NoSuchEntity") => return Ok(false),
        Err(e) => return Err(service_error("IAM", "GetRole", &name, e)),
    };
    let ours = found.role().is_some_and(|r| {
        r.tags()
            .iter()
            .any(|t| t.key() == CLUSTER_TAG && t.value() == cluster)
    });
    if !ours {
        return Ok(false);
    }
    for policy in policies(role) {
        let policy_arn = managed_policy(partition, policy);
        match declared(
            detach_call(&name, &policy_arn),
            iam.detach_role_policy()
                .role_name(&name)
                .policy_arn(&policy_arn)
                .send(),
        )
        .await
        {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("NoSuchEntity") => {}
            Err(e) => return Err(service_error("IAM", "DetachRolePolicy", &name, e)),
        }
    }
    let profiles = declared(
        removal_calls::list_profiles(&name),
        iam.list_instance_profiles_for_role()
            .role_name(&name)
            .send(),
    )
    .await
    .map_err(|e| service_error("IAM", "ListInstanceProfilesForRole", &name, e))?;
    for profile in profiles.instance_profiles() {
        let profile = profile.instance_profile_name();
        declared(
            removal_calls::remove_from_profile(&name, profile),
            iam.remove_role_from_instance_profile()
                .instance_profile_name(profile)
                .role_name(&name)
                .send(),
        )
        .await
        .map_err(|e| service_error("IAM", "RemoveRoleFromInstanceProfile", &name, e))?;
    }
    match declared(
        removal_calls::delete_role(&name),
        iam.delete_role().role_name(&name).send(),
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(false),
        Err(e) => Err(service_error("IAM", "DeleteRole", &name, e)),
    }
}

fn managed_policy(partition: &str, policy: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/{policy}")
}

/// The trust policy of the role: the service that assumes it.
fn trust(role: EksRole) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service(role)},
            "Action": "sts:AssumeRole",
        }],
    })
}

/// CreateRole of the role, tagged as runbook's for `cluster`.
fn make_call(role: EksRole, cluster: &str) -> PlannedCall {
    let tags = BTreeMap::from([(CLUSTER_TAG.to_string(), cluster.to_string())]);
    create_role_call(&role.name(cluster), &trust(role), &tags)
        .when("if the role does not exist yet")
}

fn attach_call(name: &str, policy_arn: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Iam,
        "AttachRolePolicy",
        json!({"roleName": name, "policyArn": policy_arn}),
    )
}

fn detach_call(name: &str, policy_arn: &str) -> PlannedCall {
    PlannedCall::new(
        Service::Iam,
        "DetachRolePolicy",
        json!({"roleName": name, "policyArn": policy_arn}),
    )
    .note("NoSuchEntity: not attached, which is success")
}

/// The calls [`ensure_role`] makes.
pub(crate) fn planned_ensure_role(
    role: EksRole,
    cluster: &str,
    partition: &str,
) -> Vec<PlannedCall> {
    let name = role.name(cluster);
    let mut calls = vec![get_role_call(&name), make_call(role, cluster)];
    calls.extend(
        policies(role)
            .iter()
            .map(|policy| attach_call(&name, &managed_policy(partition, policy))),
    );
    calls
}

/// The calls [`delete_role`] makes.
pub(crate) fn planned_delete_role(
    role: EksRole,
    cluster: &str,
    partition: &str,
) -> Vec<PlannedCall> {
    let name = role.name(cluster);
    let mut calls = vec![get_role_call(&name)];
    let mut removal: Vec<PlannedCall> = policies(role)
        .iter()
        .map(|policy| detach_call(&name, &managed_policy(partition, policy)))
        .collect();
    removal.extend([
        removal_calls::list_profiles(&name),
        removal_calls::remove_from_profile(&name, "<each instance profile>"),
        removal_calls::delete_role(&name),
    ]);
    calls.extend(removal.under("if runbook made the role for this cluster (its tag says so)"));
    calls
}
