//! The least-privilege IAM policy a runbook's run needs on `aws`
//! (`runbook plan --target aws --iam-policy`), from the calls its plan lists: every
//! action those calls need (the same mapping `preflight` simulates), `iam:PassRole` only
//! for the roles handed to EKS and only to EKS, and the service-linked roles EKS and
//! EMR on EKS create on first use in an account.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::iam_actions::iam_actions;

/// The service-linked role a create call makes the first time an account uses the
/// service, by the call; creating it needs `iam:CreateServiceLinkedRole`
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html>).
fn service_linked_role(service: &str, operation: &str) -> Option<&'static str> {
    match (service, operation) {
        ("EKS", "CreateCluster") => Some("eks.amazonaws.com"),
        ("EKS", "CreateNodegroup") => Some("eks-nodegroup.amazonaws.com"),
        ("EMR on EKS", "CreateVirtualCluster") => Some("emr-containers.amazonaws.com"),
        _ => None,
    }
}

/// The policy document for the calls of `steps` (`plan --output json`'s steps).
pub fn policy(steps: &[Value]) -> Value {
    let mut by_prefix: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut passed_roles = BTreeSet::new();
    let mut any_role = false;
    let mut linked = BTreeSet::new();
    for call in steps
        .iter()
        .flat_map(|step| step["calls"].as_array().into_iter().flatten())
    {
        let service = call["service"].as_str().unwrap_or_default();
        let operation = call["operation"].as_str().unwrap_or_default();
        for action in iam_actions(service, operation) {
            if action == "iam:PassRole" {
                let role = match operation {
                    "CreateCluster" => call.pointer("/detail/roleArn"),
                    _ => call.pointer("/detail/nodeRole"),
                }
                .and_then(Value::as_str)
                .filter(|arn| arn.starts_with("arn:") && !arn.contains('<'));
                match role {
                    Some(arn) => {
                        passed_roles.insert(arn.to_string());
                    }
                    None => any_role = true,
                }
                continue;
            }
            let prefix = action.split(':').next().unwrap_or_default().to_string();
            by_prefix.entry(prefix).or_default().insert(action);
        }
        if let Some(name) = service_linked_role(service, operation) {
            linked.insert(name);
        }
    }
    let mut statements: Vec<Value> = by_prefix
        .into_iter()
        .map(|(prefix, actions)| {
            json!({
                "Sid": sid(&prefix),
                "Effect": "Allow",
                "Action": actions,
                "Resource": "*",
            })
        })
        .collect();
    if any_role || !passed_roles.is_empty() {
        let resource = if any_role {
            json!("*")
        } else {
            json!(passed_roles)
        };
        statements.push(json!({
            "Sid": "PassRolesToEks",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": resource,
            "Condition": {"StringEquals": {"iam:PassedToService": "eks.amazonaws.com"}},
        }));
    }
    if !linked.is_empty() {
        statements.push(json!({
            "Sid": "ServiceLinkedRolesOnFirstUse",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": linked}},
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A statement id from an action prefix: `emr-containers` -> `EmrContainers`.
fn sid(prefix: &str) -> String {
    prefix
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::policy;

    #[test]
    fn the_policy_grants_what_the_calls_need_and_passes_only_the_given_roles_to_eks() {
        let steps = [json!({"id": "cluster", "calls": [
            {"service": "EKS", "operation": "DescribeCluster", "detail": {}},
            {"service": "EKS", "operation": "CreateCluster",
                "detail": {"roleArn": "arn:aws:iam::111122223333:role/eks-cluster"}},
            {"service": "EKS", "operation": "CreateNodegroup",
                "detail": {"nodeRole": "arn:aws:iam::111122223333:role/eks-node"}},
            {"service": "S3", "operation": "ListObjectsV2", "detail": {}},
            {"service": "Kubernetes", "operation": "list Node", "detail": {}},
        ]})];
        assert_eq!(
            policy(&steps),
            json!({"Version": "2012-10-17", "Statement": [
                // EKS checks a new node group's subnets and role with the caller's rights.
                {"Sid": "Ec2", "Effect": "Allow", "Action": ["ec2:DescribeSubnets"], "Resource": "*"},
                {"Sid": "Eks", "Effect": "Allow", "Action": ["eks:CreateCluster", "eks:CreateNodegroup", "eks:DescribeCluster"], "Resource": "*"},
                {"Sid": "Iam", "Effect": "Allow", "Action": ["iam:GetRole", "iam:ListAttachedRolePolicies"], "Resource": "*"},
                {"Sid": "S3", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "*"},
                {"Sid": "PassRolesToEks", "Effect": "Allow", "Action": "iam:PassRole",
                    "Resource": ["arn:aws:iam::111122223333:role/eks-cluster", "arn:aws:iam::111122223333:role/eks-node"],
                    "Condition": {"StringEquals": {"iam:PassedToService": "eks.amazonaws.com"}}},
                {"Sid": "ServiceLinkedRolesOnFirstUse", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
                    "Condition": {"StringEquals": {"iam:AWSServiceName": ["eks-nodegroup.amazonaws.com", "eks.amazonaws.com"]}}},
            ]})
        );
    }

    #[test]
    fn a_role_known_only_at_run_time_is_passed_as_any_role_to_eks() {
        let steps = [json!({"id": "cluster", "calls": [
            {"service": "EKS", "operation": "CreateCluster", "detail": {"roleArn": ""}},
        ]})];
        let statement = &policy(&steps)["Statement"][1];
        assert_eq!(statement["Sid"], "PassRolesToEks");
        assert_eq!(statement["Resource"], "*");
    }
}
