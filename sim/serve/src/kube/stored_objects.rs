//! The objects the simulated cluster stores as clients write them (ConfigMaps, Roles,
//! RoleBindings, EC2NodeClasses and NodePools: [`runbook_sim::stored_object`]) as the
//! API shows them, each at the resource version of its last write, and the changes a
//! watch of them follows (the world's log of their writes).

use k8s_openapi::Metadata;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use runbook_sim::{Cluster, ObjectChangeKind, StoredKind, StoredObject, World};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::catalog::Change;
use super::object::Object;
use super::resources::Resource;
use super::{config_maps, karpenter_objects, role_bindings, roles};
use crate::time::Instants;

/// The stored kind `resource` is, if it is one.
pub(crate) fn kind_of(resource: &Resource) -> Option<StoredKind> {
    StoredKind::from_name(resource.kind)
}

/// Every object of `kind` in `cluster`, by namespace and name.
pub(crate) fn objects(
    world: &World,
    cluster: &Cluster,
    kind: StoredKind,
    instants: &Instants,
) -> Vec<Object> {
    cluster
        .objects
        .values()
        .filter(|o| o.key.kind == kind)
        .map(|o| shown(o, world, cluster, instants))
        .collect()
}

/// The writes of objects of `kind` in `cluster` after resource version `version`,
/// each with the object as it was written.
pub(crate) fn changes(
    kind: StoredKind,
    world: &World,
    cluster: &Cluster,
    version: u64,
    instants: &Instants,
) -> Vec<(Change, Object)> {
    world
        .object_changes_after(version)
        .iter()
        .filter(|c| c.cluster == cluster.name && c.object.key.kind == kind)
        .map(|c| {
            let change = match c.change {
                ObjectChangeKind::Added => Change::Added,
                ObjectChangeKind::Modified => Change::Modified,
                ObjectChangeKind::Deleted => Change::Deleted,
            };
            (change, shown(&c.object, world, cluster, instants))
        })
        .collect()
}

/// `stored`, an object of `cluster`, as the API shows it, at its resource version.
pub(crate) fn shown(
    stored: &StoredObject,
    world: &World,
    cluster: &Cluster,
    instants: &Instants,
) -> Object {
    let namespace = stored
        .key
        .kind
        .namespaced()
        .then_some(&stored.key.namespace);
    let metadata = ObjectMeta {
        name: Some(stored.key.name.clone()),
        namespace: namespace.cloned(),
        uid: Some(stored.uid.clone()),
        resource_version: Some(stored.resource_version.to_string()),
        creation_timestamp: Some(instants.time(stored.created_at_ms)),
        labels: (!stored.labels.is_empty()).then(|| stored.labels.clone()),
        annotations: (!stored.annotations.is_empty()).then(|| stored.annotations.clone()),
        ..ObjectMeta::default()
    };
    let (value, cells) = match stored.key.kind {
        StoredKind::ConfigMap => rendered(stored, metadata, |o: &ConfigMap| {
            config_maps::cells(o, stored, instants)
        }),
        StoredKind::Role => rendered(stored, metadata, |_: &Role| roles::cells(stored, instants)),
        StoredKind::RoleBinding => rendered(stored, metadata, |o: &RoleBinding| {
            role_bindings::cells(o, stored, instants)
        }),
        StoredKind::Ec2NodeClass | StoredKind::NodePool => karpenter_objects::shown(
            stored,
            serde_json::to_value(&metadata).unwrap_or(Value::Null),
            world,
            cluster,
            instants,
        ),
    };
    Object::new(
        namespace.map(String::as_str),
        &stored.key.name,
        stored.labels.clone(),
        value,
        cells,
    )
}

/// The object `stored` is in its kind's type, with `metadata`, and its table row as
/// `cells` makes it.
fn rendered<K>(
    stored: &StoredObject,
    metadata: ObjectMeta,
    cells: impl FnOnce(&K) -> Vec<Value>,
) -> (Value, Vec<Value>)
where
    K: k8s_openapi::Resource + Metadata<Ty = ObjectMeta> + DeserializeOwned + Serialize + Default,
{
    let mut object: K = typed(stored);
    *object.metadata_mut() = metadata;
    let cells = cells(&object);
    (serde_json::to_value(&object).unwrap_or(Value::Null), cells)
}

/// The stored object's content in the kind's type (k8s-openapi's). Content that does
/// not read as the kind (stored by a runbook's manifest, which the simulator does not
/// validate) shows as an empty object of the kind.
pub(crate) fn typed<K>(stored: &StoredObject) -> K
where
    K: k8s_openapi::Resource + DeserializeOwned + Default,
{
    let mut object: Map<String, Value> = stored.content.clone();
    object.insert("apiVersion".into(), K::API_VERSION.into());
    object.insert("kind".into(), K::KIND.into());
    serde_json::from_value(Value::Object(object)).unwrap_or_default()
}
