//! ConfigMaps as the API shows them (kubectl's columns: NAME, DATA, AGE), and what an
//! update of one may not do.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use runbook_sim::StoredObject;
use serde_json::{Value, json};

use crate::time::Instants;

/// The table row of `config_map`, stored as `stored`: how many keys it holds.
pub(crate) fn cells(
    config_map: &ConfigMap,
    stored: &StoredObject,
    instants: &Instants,
) -> Vec<Value> {
    let data = config_map.data.as_ref().map_or(0, BTreeMap::len)
        + config_map.binary_data.as_ref().map_or(0, BTreeMap::len);
    vec![
        json!(stored.key.name),
        json!(data),
        json!(instants.age(stored.created_at_ms)),
    ]
}

/// Why the API server refuses `new` as an update of `old`: an immutable ConfigMap's
/// data cannot change, and it cannot be made mutable again.
pub(crate) fn refused_update(name: &str, new: &ConfigMap, old: &ConfigMap) -> Option<String> {
    if old.immutable != Some(true) {
        return None;
    }
    let field = if new.data != old.data {
        "data"
    } else if new.binary_data != old.binary_data {
        "binaryData"
    } else if new.immutable != Some(true) {
        "immutable"
    } else {
        return None;
    };
    Some(format!(
        "ConfigMap \"{name}\" is invalid: {field}: Forbidden: field is immutable when `immutable` is set"
    ))
}
