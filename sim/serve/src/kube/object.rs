//! One served object: its JSON as the API gives it, what selectors read from it, and
//! its row of `kubectl get`'s table.

use std::collections::BTreeMap;

use serde_json::Value;

/// An object of the simulated cluster, rendered for one answer.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    /// The fields a field selector may name (`metadata.name`, `spec.nodeName`, ...).
    pub(crate) fields: BTreeMap<&'static str, String>,
    /// The whole object (k8s-openapi's shape, `apiVersion` and `kind` included).
    pub(crate) value: Value,
    /// Its row in the kind's table, one cell per column (see `table`).
    pub(crate) cells: Vec<Value>,
}

impl Object {
    /// An object with `metadata.name` and, if namespaced, `metadata.namespace` as
    /// fields, as every kind has.
    pub(crate) fn new(
        namespace: Option<&str>,
        name: &str,
        labels: BTreeMap<String, String>,
        value: Value,
        cells: Vec<Value>,
    ) -> Object {
        let mut fields = BTreeMap::from([("metadata.name", name.to_string())]);
        if let Some(ns) = namespace {
            fields.insert("metadata.namespace", ns.to_string());
        }
        Object {
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            labels,
            fields,
            value,
            cells,
        }
    }

    /// Adds a field a field selector may name.
    pub(crate) fn field(mut self, name: &'static str, value: impl Into<String>) -> Object {
        self.fields.insert(name, value.into());
        self
    }

    /// Sets `metadata.resourceVersion`.
    pub(crate) fn at_version(mut self, resource_version: u64) -> Object {
        self.value["metadata"]["resourceVersion"] = Value::String(resource_version.to_string());
        self
    }
}
