//! The annotations written objects were given, which the simulator does not model but
//! clients rely on: `kubectl apply` keeps the configuration it applied in
//! `kubectl.kubernetes.io/last-applied-configuration` and reads it back to compute
//! its next patch (without it, kubectl warns on every apply after the first).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

use super::object::Object;

/// An object's annotations by its cluster, kind and name.
type Kept = BTreeMap<(String, String, String), Map<String, Value>>;

/// Annotations of written objects, for the life of the server.
#[derive(Debug, Default)]
pub struct Annotations(Mutex<Kept>);

type Key<'a> = (&'a str, &'a str, &'a str);

impl Annotations {
    fn entries(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn owned((cluster, kind, name): Key<'_>) -> (String, String, String) {
        (cluster.to_string(), kind.to_string(), name.to_string())
    }

    /// Takes in the annotations of a written object (`metadata.annotations` of what was
    /// created or patched), a null value removing one, as a merge patch does.
    pub(crate) fn write(&self, key: Key<'_>, written: &Value) {
        let Some(given) = written
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
        else {
            return;
        };
        let mut entries = self.entries();
        let kept = entries.entry(Self::owned(key)).or_default();
        for (name, value) in given {
            if value.is_null() {
                kept.remove(name);
            } else {
                kept.insert(name.clone(), value.clone());
            }
        }
    }

    /// Forgets a deleted object's annotations.
    pub(crate) fn forget(&self, key: Key<'_>) {
        self.entries().remove(&Self::owned(key));
    }

    /// Puts the kept annotations into `objects` of `kind` in `cluster`.
    pub(crate) fn show(&self, cluster: &str, kind: &str, objects: &mut [Object]) {
        let entries = self.entries();
        if entries.is_empty() {
            return;
        }
        for object in objects {
            if let Some(kept) = entries.get(&Self::owned((cluster, kind, &object.name)))
                && !kept.is_empty()
            {
                object.value["metadata"]["annotations"] = Value::Object(kept.clone());
            }
        }
    }
}
