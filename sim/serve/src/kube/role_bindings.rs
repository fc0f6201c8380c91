//! RoleBindings as the API shows them (kubectl's columns: NAME, ROLE, AGE, and with
//! `-o wide` USERS, GROUPS, SERVICEACCOUNTS), and what makes one invalid.

use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef};
use runbook_sim::StoredObject;
use serde_json::{Value, json};

use crate::time::Instants;

/// The table row of `binding`, stored as `stored`: the role it binds, and with `-o
/// wide` to whom.
pub(crate) fn cells(
    binding: &RoleBinding,
    stored: &StoredObject,
    instants: &Instants,
) -> Vec<Value> {
    // As the API server's printer joins them: users and groups by name, service
    // accounts as NAMESPACE/NAME.
    let subjects = |kind: &str| -> String {
        binding
            .subjects
            .iter()
            .flatten()
            .filter(|s| s.kind == kind)
            .map(|s| match (kind, &s.namespace) {
                ("ServiceAccount", Some(ns)) => format!("{ns}/{}", s.name),
                _ => s.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        json!(stored.key.name),
        json!(format!(
            "{}/{}",
            binding.role_ref.kind, binding.role_ref.name
        )),
        json!(instants.age(stored.created_at_ms)),
        json!(subjects("User")),
        json!(subjects("Group")),
        json!(subjects("ServiceAccount")),
    ]
}

/// Why the API server refuses `binding`: its role must be named, and be a Role or a
/// ClusterRole.
pub(crate) fn refused(name: &str, binding: &RoleBinding) -> Option<String> {
    let RoleRef {
        kind, name: role, ..
    } = &binding.role_ref;
    let problem = if !matches!(kind.as_str(), "Role" | "ClusterRole") {
        format!(
            "roleRef.kind: Unsupported value: \"{kind}\": supported values: \"ClusterRole\", \"Role\""
        )
    } else if role.is_empty() {
        "roleRef.name: Required value".to_string()
    } else {
        return None;
    };
    Some(format!(
        "RoleBinding.rbac.authorization.k8s.io \"{name}\" is invalid: {problem}"
    ))
}

/// Why the API server refuses `new` as an update of `old`: the role it binds cannot
/// change.
pub(crate) fn refused_update(name: &str, new: &RoleBinding, old: &RoleBinding) -> Option<String> {
    let RoleRef {
        api_group,
        kind,
        name: role,
    } = &new.role_ref;
    (new.role_ref != old.role_ref).then(|| {
        format!(
            "RoleBinding.rbac.authorization.k8s.io \"{name}\" is invalid: roleRef: Invalid value: rbac.RoleRef{{APIGroup:\"{api_group}\", Kind:\"{kind}\", Name:\"{role}\"}}: cannot change roleRef"
        )
    })
}
