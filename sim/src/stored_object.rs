//! Objects of the Kubernetes API that a cluster keeps as clients write them:
//! ConfigMaps, Roles and RoleBindings, and Karpenter's EC2NodeClasses and NodePools.
//! EMR on EKS needs the first three to exist (the Role and RoleBinding
//! `emr-containers` in a job namespace, its mapping in ConfigMap
//! `kube-system/aws-auth`), and clients read and write them, but nothing in the
//! simulated scheduling depends on them: there are no authorization checks.
//! Karpenter's objects are kept as written too; what a NodePool says is what the
//! world's autoscaler does (the served API hands it to
//! [`World::enable_autoscaling`] when it is written).
//!
//! An object is kept as the API wrote it (labels, annotations, and everything but its
//! metadata as JSON), with what the API server adds: a UID, a creation time and a
//! resource version. Writes are recorded in the world's log of object changes, not in
//! its event log: they are not part of the story a run tells (no report or narration
//! changes because a Role was written), but they take their place in the world's
//! resource versions (see [`resource_version`](crate::resource_version)), so a watch
//! of them follows them like any other change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::SimError;
use crate::node_pool_object::autoscaler_of;
use crate::world::World;

/// The kinds of object a cluster stores without interpreting them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StoredKind {
    /// `v1` ConfigMap.
    ConfigMap,
    /// `rbac.authorization.k8s.io/v1` Role.
    Role,
    /// `rbac.authorization.k8s.io/v1` RoleBinding.
    RoleBinding,
    /// `karpenter.k8s.aws/v1` EC2NodeClass (cluster-scoped).
    #[serde(rename = "EC2NodeClass")]
    Ec2NodeClass,
    /// `karpenter.sh/v1` NodePool (cluster-scoped).
    NodePool,
}

impl StoredKind {
    /// The kind by its API name (`ConfigMap`).
    pub fn from_name(kind: &str) -> Option<StoredKind> {
        match kind {
            "ConfigMap" => Some(StoredKind::ConfigMap),
            "Role" => Some(StoredKind::Role),
            "RoleBinding" => Some(StoredKind::RoleBinding),
            "EC2NodeClass" => Some(StoredKind::Ec2NodeClass),
            "NodePool" => Some(StoredKind::NodePool),
            _ => None,
        }
    }

    /// The API name (`ConfigMap`).
    pub fn name(self) -> &'static str {
        match self {
            StoredKind::ConfigMap => "ConfigMap",
            StoredKind::Role => "Role",
            StoredKind::RoleBinding => "RoleBinding",
            StoredKind::Ec2NodeClass => "EC2NodeClass",
            StoredKind::NodePool => "NodePool",
        }
    }

    /// Whether its objects live in a namespace (Karpenter's are cluster-scoped: their
    /// key's namespace is empty, and no namespace's deletion touches them).
    pub fn namespaced(self) -> bool {
        !matches!(self, StoredKind::Ec2NodeClass | StoredKind::NodePool)
    }

    /// Its `apiVersion` (`v1`, `rbac.authorization.k8s.io/v1`).
    pub fn api_version(self) -> &'static str {
        match self {
            StoredKind::ConfigMap => "v1",
            StoredKind::Role | StoredKind::RoleBinding => "rbac.authorization.k8s.io/v1",
            StoredKind::Ec2NodeClass => "karpenter.k8s.aws/v1",
            StoredKind::NodePool => "karpenter.sh/v1",
        }
    }

    /// The resource as the API server names it in its messages (`configmaps`,
    /// `roles.rbac.authorization.k8s.io`).
    pub fn resource(self) -> &'static str {
        match self {
            StoredKind::ConfigMap => "configmaps",
            StoredKind::Role => "roles.rbac.authorization.k8s.io",
            StoredKind::RoleBinding => "rolebindings.rbac.authorization.k8s.io",
            StoredKind::Ec2NodeClass => "ec2nodeclasses.karpenter.k8s.aws",
            StoredKind::NodePool => "nodepools.karpenter.sh",
        }
    }
}

/// Which object: its kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The kind.
    pub kind: StoredKind,
    /// The namespace (empty for a cluster-scoped kind).
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The object of `kind` named `name` in `namespace`.
    pub fn new(kind: StoredKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// What a client writes of an object: what the API server keeps as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectWrite {
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// Everything but `apiVersion`, `kind` and `metadata` (a ConfigMap's `data`, a
    /// Role's `rules`, a RoleBinding's `roleRef` and `subjects`).
    pub content: Map<String, Value>,
}

impl ObjectWrite {
    /// The write of `object`, an object as the API has it (`apiVersion`, `kind`,
    /// `metadata` and the rest); a label or annotation that is not a string is left
    /// out.
    pub fn from_api(object: &Value) -> ObjectWrite {
        let strings = |field: &str| -> BTreeMap<String, String> {
            object
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        };
        let content = object
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ObjectWrite {
            labels: strings("labels"),
            annotations: strings("annotations"),
            content,
        }
    }
}

/// An object as the cluster keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    /// Which object.
    pub key: ObjectKey,
    /// `metadata.uid`: new for every object created, even under a name used before.
    pub uid: String,
    /// `metadata.labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Everything but `apiVersion`, `kind` and `metadata`, as written.
    #[serde(default)]
    pub content: Map<String, Value>,
    /// Virtual time of its creation.
    pub created_at_ms: u64,
    /// The world's resource version of its last write (see
    /// [`World::resource_version`]).
    pub resource_version: u64,
}

impl StoredObject {
    /// What writing it as it is would write.
    pub fn as_write(&self) -> ObjectWrite {
        ObjectWrite {
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            content: self.content.clone(),
        }
    }

    fn holds(&self, write: &ObjectWrite) -> bool {
        self.labels == write.labels
            && self.annotations == write.annotations
            && self.content == write.content
    }
}

/// What a write did to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectChangeKind {
    /// Created.
    Added,
    /// Replaced or patched.
    Modified,
    /// Deleted (by a client, or with its namespace).
    Deleted,
}

/// One write, in the world's log of object changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectChange {
    /// The cluster of the object.
    pub cluster: String,
    /// What happened to it.
    pub change: ObjectChangeKind,
    /// How many world events there were when it was written: it comes after them in
    /// the world's history, and before any later one.
    pub after_event: u64,
    /// The object as written (as it last was, for a deletion), with the change's
    /// resource version.
    pub object: StoredObject,
}

impl World {
    /// The objects `cluster` stores, by kind, namespace and name.
    pub fn kube_objects(
        &self,
        cluster: &str,
    ) -> Result<impl Iterator<Item = &StoredObject>, SimError> {
        Ok(self.cluster(cluster)?.objects.values())
    }

    /// The object `key` of `cluster`, if it exists.
    pub fn kube_object(
        &self,
        cluster: &str,
        key: &ObjectKey,
    ) -> Result<Option<&StoredObject>, SimError> {
        Ok(self.cluster(cluster)?.objects.get(key))
    }

    /// Creates an object (Kubernetes `create`): its namespace must exist (for a
    /// namespaced kind), and no object of its kind may have its name there. A
    /// NodePool configures the world's autoscaler (see `node_pool_object`),
    /// and one the autoscaler cannot follow is refused (`InvalidManifest`).
    pub fn create_kube_object(
        &mut self,
        cluster: &str,
        key: ObjectKey,
        write: ObjectWrite,
    ) -> Result<StoredObject, SimError> {
        let c = self.active_cluster(cluster)? as usize;
        if key.kind.namespaced() && !self.clusters[c].namespaces.contains(&key.namespace) {
            return Err(SimError::NamespaceNotFound {
                cluster: cluster.to_string(),
                name: key.namespace,
            });
        }
        if self.clusters[c].objects.contains_key(&key) {
            return Err(already_exists(&key));
        }
        let autoscaler = autoscaler_of(&key, &write)?;
        self.objects_created += 1;
        let object = StoredObject {
            uid: format!("00000000-0000-4000-8000-{:012x}", self.objects_created),
            labels: write.labels,
            annotations: write.annotations,
            content: write.content,
            created_at_ms: self.now,
            resource_version: 0,
            key,
        };
        let created = self.record(c, ObjectChangeKind::Added, object);
        if let Some(spec) = autoscaler {
            self.enable_autoscaling(cluster, spec)?;
        }
        Ok(created)
    }

    /// Replaces an object's labels, annotations and content (Kubernetes `update`); a
    /// NodePool reconfigures the autoscaler.
    /// With `expected`, only if that is still the object's resource version
    /// (`Conflict` otherwise: someone else wrote it since it was read). A write that
    /// changes nothing leaves the object and its version as they are, as the API
    /// server does.
    pub fn replace_kube_object(
        &mut self,
        cluster: &str,
        key: &ObjectKey,
        write: ObjectWrite,
        expected: Option<u64>,
    ) -> Result<StoredObject, SimError> {
        let c = self.active_cluster(cluster)? as usize;
        let Some(current) = self.clusters[c].objects.get(key) else {
            return Err(not_found(key));
        };
        if expected.is_some_and(|v| v != current.resource_version) {
            return Err(SimError::ObjectConflict {
                resource: key.kind.resource(),
                namespace: key.namespace.clone(),
                name: key.name.clone(),
            });
        }
        if current.holds(&write) {
            return Ok(current.clone());
        }
        let autoscaler = autoscaler_of(key, &write)?;
        let object = StoredObject {
            labels: write.labels,
            annotations: write.annotations,
            content: write.content,
            ..current.clone()
        };
        let replaced = self.record(c, ObjectChangeKind::Modified, object);
        if let Some(spec) = autoscaler {
            self.enable_autoscaling(cluster, spec)?;
        }
        Ok(replaced)
    }

    /// Creates the object, or replaces the one of its name whatever its version
    /// (what a step does: eksctl's create-or-replace, or an applied manifest).
    pub fn apply_kube_object(
        &mut self,
        cluster: &str,
        key: ObjectKey,
        write: ObjectWrite,
    ) -> Result<StoredObject, SimError> {
        if self.kube_object(cluster, &key)?.is_some() {
            self.replace_kube_object(cluster, &key, write, None)
        } else {
            self.create_kube_object(cluster, key, write)
        }
    }

    /// Deletes an object; returns it as it last was. A NodePool's autoscaler stops
    /// and its nodes go with it (see `node_pool_object`).
    pub fn delete_kube_object(
        &mut self,
        cluster: &str,
        key: &ObjectKey,
    ) -> Result<StoredObject, SimError> {
        let c = self.active_cluster(cluster)? as usize;
        let object = self.clusters[c]
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| not_found(key))?;
        let deleted = self.record(c, ObjectChangeKind::Deleted, object);
        if key.kind == StoredKind::NodePool {
            self.node_pool_deleted(cluster, &key.name)?;
        }
        Ok(deleted)
    }

    /// Deletes every object in a namespace being deleted.
    pub(crate) fn delete_namespace_objects(&mut self, c: u32, namespace: &str) {
        let c = c as usize;
        let doomed: Vec<StoredObject> = self.clusters[c]
            .objects
            .values()
            .filter(|o| o.key.namespace == namespace)
            .cloned()
            .collect();
        for object in doomed {
            self.record(c, ObjectChangeKind::Deleted, object);
        }
    }

    /// Records a write of `object` in cluster `c` at the next resource version, and
    /// makes it so in the cluster; returns the object as written.
    fn record(
        &mut self,
        c: usize,
        change: ObjectChangeKind,
        mut object: StoredObject,
    ) -> StoredObject {
        object.resource_version = self.resource_version() + 1;
        self.object_log.push(ObjectChange {
            cluster: self.clusters[c].name.clone(),
            change,
            after_event: self.events.len() as u64,
            object: object.clone(),
        });
        let objects = &mut self.clusters[c].objects;
        if change == ObjectChangeKind::Deleted {
            objects.remove(&object.key);
        } else {
            objects.insert(object.key.clone(), object.clone());
        }
        object
    }
}

fn already_exists(key: &ObjectKey) -> SimError {
    SimError::ObjectAlreadyExists {
        resource: key.kind.resource(),
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    }
}

fn not_found(key: &ObjectKey) -> SimError {
    SimError::ObjectNotFound {
        resource: key.kind.resource(),
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::demo::{self, DemoOptions};
    use crate::params::SimParams;

    /// The demo's platform: its world, its set-up and its cluster's name.
    pub(crate) fn platform() -> (World, demo::Demo, String) {
        let mut world = World::new(3, SimParams::default());
        let setup = demo::setup(&mut world, &DemoOptions::default()).expect("the demo's platform");
        let cluster = world.clusters().next().expect("a cluster").name.clone();
        (world, setup, cluster)
    }

    /// ConfigMap `name` in `default`.
    pub(crate) fn config_map(name: &str) -> ObjectKey {
        ObjectKey::new(StoredKind::ConfigMap, "default", name)
    }

    #[test]
    fn a_write_that_changes_nothing_keeps_the_version() {
        let (mut world, _, cluster) = platform();
        let created = world
            .create_kube_object(&cluster, config_map("a"), ObjectWrite::default())
            .expect("created");
        let again = world
            .apply_kube_object(&cluster, config_map("a"), ObjectWrite::default())
            .expect("applied");
        assert_eq!(again, created);
        assert!(matches!(
            world.create_kube_object(&cluster, config_map("a"), ObjectWrite::default()),
            Err(crate::SimError::ObjectAlreadyExists { .. })
        ));
    }

    #[test]
    fn deleting_a_namespace_deletes_its_objects() {
        let (mut world, _, cluster) = platform();
        let namespace = demo::NAMESPACES[0].to_string();
        let key = ObjectKey::new(StoredKind::Role, namespace.as_str(), "r");
        world
            .create_kube_object(&cluster, key.clone(), ObjectWrite::default())
            .expect("created");
        world
            .delete_namespace(&cluster, &namespace)
            .expect("deleted");
        assert_eq!(
            world.kube_object(&cluster, &key).expect("the cluster"),
            None
        );
        let last = world.object_changes_after(0).last().expect("logged");
        assert_eq!(last.change, crate::stored_object::ObjectChangeKind::Deleted);
        let missing = world.create_kube_object(&cluster, key, ObjectWrite::default());
        assert!(matches!(
            missing,
            Err(crate::SimError::NamespaceNotFound { .. })
        ));
    }
}
