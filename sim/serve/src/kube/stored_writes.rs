//! Writes of the objects the cluster stores as clients write them (ConfigMaps, Roles,
//! RoleBindings, EC2NodeClasses, NodePools): create (POST), replace (PUT), patch
//! (PATCH), server-side apply (PATCH of an applied configuration) and delete
//! (DELETE), as the API server answers them. A server-side apply creates the object
//! or replaces what it holds with the configuration applied: the simulated cluster
//! keeps no field managers, which is what an apply comes to when one manager owns
//! every field (as runbook's forced apply does). A replace that carries `metadata.resourceVersion` is
//! conditional on it (`409 Conflict` when someone wrote the object since: how
//! read-modify-write clients such as the `aws` target's update of aws-auth keep
//! concurrent changes); without one it replaces whatever is there.
//!
//! The body is read as the kind's type (k8s-openapi's), so what is stored has the
//! API's shape; the world keeps it (see [`runbook_sim::stored_object`]), so the run's
//! steps and every client see the same objects, and a world's snapshot keeps them.

use http::{Method, Response, StatusCode};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use runbook_backend_sim::SimTarget;
use runbook_sim::{ObjectKey, ObjectWrite, SimError, StoredKind, StoredObject};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::resources::Resource;
use super::stored_objects::{shown, typed};
use super::{config_maps, karpenter_objects, patch, role_bindings, roles, status, write};
use crate::body::{self, Body};
use crate::time::Instants;

/// What a write names: the collection's namespace, and the object's name (for all
/// but a create); and whether a PATCH is a server-side apply.
pub(crate) struct Named<'a> {
    pub(crate) namespace: Option<&'a str>,
    pub(crate) name: Option<&'a str>,
    pub(crate) server_side_apply: bool,
}

/// Creates, replaces, patches or deletes an object of `resource` (a stored `kind`)
/// in `cluster`, with `body` (the object, or the patch).
pub(crate) fn write(
    target: &SimTarget,
    cluster: &str,
    resource: &'static Resource,
    kind: StoredKind,
    method: &Method,
    named: &Named<'_>,
    body: Option<&Value>,
) -> Response<Body> {
    let namespace = match named.namespace {
        Some(namespace) => namespace,
        None if !kind.namespaced() => "",
        None => {
            return status::failure(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            );
        }
    };
    let write = Write {
        target,
        cluster,
        resource,
        kind,
        namespace,
    };
    let answer = match (method, named.name, body) {
        (&Method::POST, None, Some(object)) => write.create(object),
        (&Method::PUT, Some(name), Some(object)) => write.replace(name, object),
        (&Method::PATCH, Some(name), Some(object)) if named.server_side_apply => {
            write.apply(name, object)
        }
        (&Method::PATCH, Some(name), Some(patch)) => write.patch(name, patch),
        (&Method::DELETE, Some(name), _) => write.delete(name),
        _ => Err(status::failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!(
                "the simulated cluster creates {0} (POST to the collection), and replaces (PUT), patches (PATCH) and deletes (DELETE) them by name; {method} is not modelled",
                resource.plural
            ),
        ).into()),
    };
    answer.unwrap_or_else(|refused| *refused)
}

/// A write's target.
struct Write<'a> {
    target: &'a SimTarget,
    cluster: &'a str,
    resource: &'static Resource,
    kind: StoredKind,
    namespace: &'a str,
}

/// An answer, or the refusal that answers instead (boxed: a response is large).
type Answer = Result<Response<Body>, Refused>;
type Refused = Box<Response<Body>>;

impl Write<'_> {
    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey::new(self.kind, self.namespace, name)
    }

    fn create(&self, object: &Value) -> Answer {
        let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) else {
            return Err(status::failure(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                &format!(
                    "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                    self.kind.name()
                ),
            ).into());
        };
        let object = self.checked(name, object, None)?;
        let created = self.command(name, |w| {
            w.create_kube_object(self.cluster, self.key(name), ObjectWrite::from_api(&object))
        })?;
        Ok(self.answer(StatusCode::CREATED, &created))
    }

    fn replace(&self, name: &str, object: &Value) -> Answer {
        let current = self.current(name)?;
        let expected = match object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            None | Some("") => None,
            // A version that is no number is no version the object has.
            Some(version) => Some(version.parse().unwrap_or(u64::MAX)),
        };
        self.written(name, object, &current, expected)
    }

    /// A server-side apply: the object created with the configuration applied, or
    /// what it holds replaced with it. The configuration names the object of the URL
    /// (or no object: then it is the URL's).
    fn apply(&self, name: &str, object: &Value) -> Answer {
        let mut object = object.clone();
        if object.pointer("/metadata/name").is_none()
            && let Some(metadata) = object
                .as_object_mut()
                .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
                .and_then(Value::as_object_mut)
        {
            metadata.insert("name".into(), json!(name));
        }
        let exists = {
            let world = self.target.world();
            matches!(
                world.kube_object(self.cluster, &self.key(name)),
                Ok(Some(_))
            )
        };
        if exists {
            let current = self.current(name)?;
            self.written(name, &object, &current, None)
        } else {
            self.create(&object)
        }
    }

    /// A patch applies to the object as the API shows it now; if the patch gives a
    /// `resourceVersion`, it must be the object's.
    fn patch(&self, name: &str, patch: &Value) -> Answer {
        let current = self.current(name)?;
        let mut object = self.shown(&current)?;
        patch::apply(&mut object, patch).map_err(|e| -> Refused {
            Box::new(status::failure(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                &format!(
                    "the patch of {} \"{name}\" does not apply: {e}",
                    self.resource.plural
                ),
            ))
        })?;
        let version = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(|v| v.parse().unwrap_or(u64::MAX));
        let expected = version.unwrap_or(current.resource_version);
        self.written(name, &object, &current, Some(expected))
    }

    fn delete(&self, name: &str) -> Answer {
        let deleted = self.command(name, |w| {
            w.delete_kube_object(self.cluster, &self.key(name))
        })?;
        Ok(body::json(
            StatusCode::OK,
            &json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": self.resource.group, "kind": self.resource.plural, "uid": deleted.uid},
            }),
        ))
    }

    /// Replaces `current` with `object` if it was still at `expected`.
    fn written(
        &self,
        name: &str,
        object: &Value,
        current: &StoredObject,
        expected: Option<u64>,
    ) -> Answer {
        if let Some(given) = object.pointer("/metadata/name").and_then(Value::as_str)
            && given != name
        {
            return Err(status::failure(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "the name of the object ({given}) does not match the name on the URL ({name})"
                ),
            )
            .into());
        }
        let object = self.checked(name, object, Some(current))?;
        let replaced = self.command(name, |w| {
            w.replace_kube_object(
                self.cluster,
                &self.key(name),
                ObjectWrite::from_api(&object),
                expected,
            )
        })?;
        Ok(self.answer(StatusCode::OK, &replaced))
    }

    fn current(&self, name: &str) -> Result<StoredObject, Refused> {
        let world = self.target.world();
        match world.kube_object(self.cluster, &self.key(name)) {
            Ok(Some(object)) => Ok(object.clone()),
            Ok(None) => Err(self.not_found(name).into()),
            Err(e) => Err(self.refused(name, &e).into()),
        }
    }

    /// `object` read as the kind and written back as the API server keeps it (its
    /// `apiVersion` and `kind` given if the body had none, as a protobuf body has
    /// not), or why it is refused: `400` for a body that is not the kind, `422` for an
    /// invalid object or update. The namespace, if the body names one, must be the
    /// request's.
    fn checked(
        &self,
        name: &str,
        object: &Value,
        current: Option<&StoredObject>,
    ) -> Result<Value, Refused> {
        let mut object = object.clone();
        if let Some(ns) = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            && self.kind.namespaced()
            && ns != self.namespace
        {
            return Err(status::failure(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            ).into());
        }
        if let Some(fields) = object.as_object_mut() {
            for (field, value) in [
                ("apiVersion", self.kind.api_version()),
                ("kind", self.kind.name()),
            ] {
                fields.entry(field).or_insert_with(|| json!(value));
            }
        }
        let refused = match self.kind {
            StoredKind::ConfigMap => read::<ConfigMap>(&object, |new| {
                current.and_then(|old| config_maps::refused_update(name, new, &typed(old)))
            }),
            StoredKind::Role => read::<Role>(&object, |new| roles::refused(name, new)),
            StoredKind::RoleBinding => read::<RoleBinding>(&object, |new| {
                role_bindings::refused(name, new).or_else(|| {
                    current.and_then(|old| role_bindings::refused_update(name, new, &typed(old)))
                })
            }),
            // Their status is their controller's (a status subresource): a write of
            // the object leaves it out. A NodePool the autoscaler cannot follow is
            // refused by the world.
            StoredKind::Ec2NodeClass | StoredKind::NodePool => {
                if let Some(fields) = object.as_object_mut() {
                    fields.remove("status");
                }
                match karpenter_objects::refused_node_class(name, &object) {
                    Some(message) if self.kind == StoredKind::Ec2NodeClass => {
                        Err((StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message))
                    }
                    _ => Ok(object),
                }
            }
        };
        refused.map_err(|(code, reason, message)| status::failure(code, reason, &message).into())
    }

    /// Runs a command on object `name` on the world as a step's call does (waking
    /// the steps that wait for it, marking the world for its next snapshot).
    fn command(
        &self,
        name: &str,
        command: impl FnOnce(&mut runbook_sim::World) -> Result<StoredObject, SimError>,
    ) -> Result<StoredObject, Refused> {
        let operation = "write";
        match self
            .target
            .act("Kubernetes", operation, self.resource.plural, |w| {
                Ok(command(w))
            }) {
            Ok(Ok(object)) => Ok(object),
            Ok(Err(e)) => Err(self.refused(name, &e).into()),
            Err(e) => Err(status::failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &e.to_string(),
            )
            .into()),
        }
    }

    fn answer(&self, code: StatusCode, object: &StoredObject) -> Response<Body> {
        match self.shown(object) {
            Ok(value) => body::json(code, &value),
            Err(refused) => *refused,
        }
    }

    /// `object` as the API shows it now.
    fn shown(&self, object: &StoredObject) -> Result<Value, Refused> {
        let world = self.target.world();
        let cluster = world
            .cluster(self.cluster)
            .map_err(|e| -> Refused { self.refused(&object.key.name, &e).into() })?;
        let instants = Instants::of(self.target, world.now());
        Ok(shown(object, &world, cluster, &instants).value)
    }

    fn not_found(&self, name: &str) -> Response<Body> {
        status::not_found(self.resource.plural, self.resource.group, name)
    }

    /// The world's refusal as the API server's `Status`.
    fn refused(&self, name: &str, error: &SimError) -> Response<Body> {
        match error {
            SimError::NamespaceNotFound { name, .. } => status::not_found("namespaces", "", name),
            SimError::ObjectNotFound { name, .. } => self.not_found(name),
            SimError::ObjectAlreadyExists { name, .. } => {
                write::already_exists(self.resource, name)
            }
            SimError::ObjectConflict { .. } => {
                status::failure(StatusCode::CONFLICT, "Conflict", &error.to_string())
            }
            SimError::InvalidManifest { reason } | SimError::InvalidAutoscaler { reason } => {
                status::failure(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    &format!(
                        "{}.{} \"{name}\" is invalid: {reason}",
                        self.kind.name(),
                        self.resource.group
                    ),
                )
            }
            other => status::failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &other.to_string(),
            ),
        }
    }
}

/// `object` as `K`, written back, unless it does not read as one (`400`) or
/// `refused` says why it is invalid (`422`).
fn read<K>(
    object: &Value,
    refused: impl FnOnce(&K) -> Option<String>,
) -> Result<Value, (StatusCode, &'static str, String)>
where
    K: k8s_openapi::Resource + DeserializeOwned + Serialize,
{
    let typed: K = serde_json::from_value(object.clone()).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {e}",
                kind = K::KIND,
                version = K::VERSION
            ),
        )
    })?;
    if let Some(message) = refused(&typed) {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message));
    }
    serde_json::to_value(&typed).map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            e.to_string(),
        )
    })
}
