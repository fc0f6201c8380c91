//! What `eksctl create iamidentitymapping --service-name emr-containers --namespace NS`
//! sets up so that EMR on EKS may run jobs in a namespace: the Role and RoleBinding
//! `emr-containers`, and the aws-auth mapping of EMR's service-linked role to the
//! Kubernetes user `emr-containers` that the binding names.
//!
//! One definition for both targets: the `aws` target writes these objects to a real
//! cluster with kube-rs, the `sim` target stores them in the simulated cluster (where
//! the served Kubernetes API shows them), so the two cannot drift apart.

use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The name of the Role, the RoleBinding and the Kubernetes user, as eksctl has them.
pub const EMR_NAME: &str = "emr-containers";

/// The ConfigMap that maps IAM roles to Kubernetes users (`aws-auth`), and its
/// namespace.
pub const AWS_AUTH: &str = "aws-auth";
/// The namespace of [`AWS_AUTH`].
pub const AWS_AUTH_NAMESPACE: &str = "kube-system";
/// The key of aws-auth's data that holds the role mappings (a YAML list in a string).
pub const MAP_ROLES: &str = "mapRoles";

/// Verbs for what EMR creates and cleans up in bulk (pods, config maps, RBAC).
const FULL: &[&str] = &[
    "get",
    "list",
    "watch",
    "describe",
    "create",
    "edit",
    "delete",
    "deletecollection",
    "annotate",
    "patch",
    "label",
];
/// The same without `deletecollection`, for workloads.
const WORKLOAD: &[&str] = &[
    "get", "list", "watch", "describe", "create", "edit", "delete", "annotate", "patch", "label",
];

fn rule(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(strings(api_groups)),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

/// eksctl's Role (`pkg/authconfigmap/assets/emr-containers-rbac.yaml` at the facts
/// sheet's HEAD): exactly these rules, because EMR's job runner, Spark driver and
/// fluentd sidecar fail in confusing ways when one is missing.
pub fn emr_role(namespace: &str) -> Role {
    Role {
        metadata: ObjectMeta {
            name: Some(EMR_NAME.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![
            rule(&[""], &["namespaces"], &["get"]),
            rule(
                &[""],
                &[
                    "serviceaccounts",
                    "services",
                    "configmaps",
                    "events",
                    "pods",
                    "pods/log",
                ],
                FULL,
            ),
            rule(&[""], &["secrets"], &["create", "patch", "delete", "watch"]),
            rule(&["apps"], &["statefulsets", "deployments"], WORKLOAD),
            rule(&["batch"], &["jobs"], WORKLOAD),
            rule(
                &["extensions", "networking.k8s.io"],
                &["ingresses"],
                WORKLOAD,
            ),
            rule(
                &["rbac.authorization.k8s.io"],
                &["roles", "rolebindings"],
                FULL,
            ),
            rule(
                &[""],
                &["persistentvolumeclaims"],
                &["create", "list", "delete", "deletecollection"],
            ),
            rule(
                &["scheduling.volcano.sh"],
                &["podgroups"],
                &["get", "list", "watch", "create", "delete", "update"],
            ),
        ]),
    }
}

/// Binds the Role to the user `emr-containers` that aws-auth maps EMR's role to.
pub fn emr_role_binding(namespace: &str) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(EMR_NAME.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: EMR_NAME.into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "User".into(),
            name: EMR_NAME.into(),
            namespace: None,
        }]),
    }
}

/// The ARN of EMR on EKS's service-linked role, without a path: the authenticator
/// canonicalizes assumed-role ARNs to `arn:<partition>:iam::<account>:role/<name>`.
pub fn emr_service_role_arn(partition: &str, account_id: &str) -> String {
    format!("arn:{partition}:iam::{account_id}:role/AWSServiceRoleForAmazonEMRContainers")
}

/// aws-auth's `mapRoles` (a YAML list in a string) with the EMR mapping added, or
/// `None` if it is there already. Other entries are kept as they are.
pub fn add_emr_mapping(map_roles: Option<&str>, role_arn: &str) -> Result<Option<String>, String> {
    let mut entries: Vec<serde_yaml_ng::Value> = match map_roles.map(str::trim) {
        None | Some("") => Vec::new(),
        Some(text) => serde_yaml_ng::from_str::<Option<Vec<serde_yaml_ng::Value>>>(text)
            .map_err(|e| {
                format!("mapRoles of ConfigMap kube-system/aws-auth is not a YAML list: {e}")
            })?
            .unwrap_or_default(),
    };
    let present = entries.iter().any(|entry| {
        entry.get("rolearn").and_then(serde_yaml_ng::Value::as_str) == Some(role_arn)
            && entry.get("username").and_then(serde_yaml_ng::Value::as_str) == Some(EMR_NAME)
    });
    if present {
        return Ok(None);
    }
    let mut mapping = serde_yaml_ng::Mapping::new();
    mapping.insert("rolearn".into(), role_arn.into());
    mapping.insert("username".into(), EMR_NAME.into());
    entries.push(serde_yaml_ng::Value::Mapping(mapping));
    serde_yaml_ng::to_string(&entries)
        .map(Some)
        .map_err(|e| format!("failed to write mapRoles: {e}"))
}

#[cfg(test)]
mod tests {
    use super::add_emr_mapping;

    const ARN: &str = "arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers";

    #[test]
    fn mapping_is_added_once_and_other_entries_are_kept() {
        let existing = "- rolearn: arn:aws:iam::111122223333:role/nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n";
        let merged = add_emr_mapping(Some(existing), ARN)
            .expect("valid")
            .expect("added");
        let entries: Vec<serde_yaml_ng::Value> = serde_yaml_ng::from_str(&merged).expect("yaml");
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0]["username"].as_str(),
            Some("system:node:{{EC2PrivateDNSName}}")
        );
        assert_eq!(entries[0]["groups"][1].as_str(), Some("system:nodes"));
        assert_eq!(entries[1]["rolearn"].as_str(), Some(ARN));
        assert_eq!(entries[1]["username"].as_str(), Some("emr-containers"));
        // No `groups` key: eksctl leaves it out for service mappings.
        assert!(entries[1].get("groups").is_none());
        assert_eq!(add_emr_mapping(Some(&merged), ARN).expect("valid"), None);
    }

    #[test]
    fn empty_or_missing_map_roles_gets_just_the_mapping() {
        for existing in [None, Some(""), Some("[]")] {
            let merged = add_emr_mapping(existing, ARN)
                .expect("valid")
                .expect("added");
            let entries: Vec<serde_yaml_ng::Value> =
                serde_yaml_ng::from_str(&merged).expect("yaml");
            assert_eq!(entries.len(), 1, "{existing:?}");
        }
        assert!(add_emr_mapping(Some("rolearn: x"), ARN).is_err());
    }
}
