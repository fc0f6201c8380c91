//! Roles as the API shows them (kubectl's columns: NAME, CREATED AT), and what makes
//! one invalid.

use k8s_openapi::api::rbac::v1::Role;
use runbook_sim::StoredObject;
use serde_json::{Value, json};

use crate::time::Instants;

/// The table row of a Role stored as `stored`: when it was created, as a date.
pub(crate) fn cells(stored: &StoredObject, instants: &Instants) -> Vec<Value> {
    vec![
        json!(stored.key.name),
        json!(instants.date(stored.created_at_ms)),
    ]
}

/// Why the API server refuses `role`: every rule needs verbs.
pub(crate) fn refused(name: &str, role: &Role) -> Option<String> {
    let empty = role
        .rules
        .iter()
        .flatten()
        .position(|rule| rule.verbs.is_empty())?;
    Some(format!(
        "Role.rbac.authorization.k8s.io \"{name}\" is invalid: rules[{empty}].verbs: Required value: verbs must contain at least one value"
    ))
}
