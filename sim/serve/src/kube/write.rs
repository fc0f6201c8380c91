//! Writes that change the world: `kubectl create namespace NAME`, `kubectl create
//! priorityclass NAME --value N`, `kubectl delete ns|pc NAME` (and POST or DELETE of
//! their JSON from any client). They go through the `sim` target's `Kube` service, the
//! code a run's steps call, so a namespace deleted here terminates its pods as it does
//! when a runbook deletes it, and a priority class keeps its immutable value.

use std::sync::Arc;

use http::{Method, Response, StatusCode};
use runbook_backend::{ActionError, Kube, PriorityClassRequest};
use runbook_backend_sim::SimTarget;
use serde_json::{Value, json};

use super::Annotations;
use super::catalog;
use super::namespaces::BUILT_IN;
use super::resources::Resource;
use super::status;
use super::stored_objects;
use crate::body::{self, Body};
use crate::time::Instants;

/// The kinds whose objects can be created and deleted (and the stored kinds, whose
/// writes are `stored_writes`').
pub(crate) fn writable(resource: &Resource) -> bool {
    matches!(resource.kind, "Namespace" | "PriorityClass")
        || stored_objects::kind_of(resource).is_some()
}

/// Creates (POST of `object` to the collection), patches (PATCH of a name) or deletes
/// (DELETE of a name) an object of `resource` in `cluster`.
pub(crate) async fn write(
    target: &Arc<SimTarget>,
    kept: &Annotations,
    cluster: &str,
    resource: &'static Resource,
    method: &Method,
    name: Option<&str>,
    object: Option<&Value>,
) -> Response<Body> {
    match (method, name, object) {
        (&Method::POST, None, Some(object)) => {
            let created = create(target, cluster, resource, object).await;
            if created.status() == StatusCode::CREATED
                && let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str)
            {
                kept.write((cluster, resource.kind, name), object);
                return shown(target, kept, cluster, resource, name, StatusCode::CREATED);
            }
            created
        }
        (&Method::DELETE, Some(name), _) => {
            let deleted = delete(target, cluster, resource, name).await;
            if deleted.status() == StatusCode::OK {
                kept.forget((cluster, resource.kind, name));
            }
            deleted
        }
        (&Method::PATCH, Some(name), Some(patch)) => {
            patched(target, cluster, resource, name, patch)
        }
        _ => status::failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!(
                "the simulated cluster creates {0} (POST) and deletes them by name (DELETE); {method} is not modelled",
                resource.plural
            ),
        ),
    }
}

async fn create(
    target: &Arc<SimTarget>,
    cluster: &str,
    resource: &'static Resource,
    object: &Value,
) -> Response<Body> {
    let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) else {
        return status::failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            &format!(
                "{} is invalid: metadata.name: Required value: name is required",
                resource.kind
            ),
        );
    };
    let created = match resource.kind {
        "Namespace" if BUILT_IN.contains(&name) => Ok(false),
        "Namespace" => target.create_namespace(cluster, name).await,
        _ => {
            let request = PriorityClassRequest {
                name: name.to_string(),
                value: object["value"]
                    .as_i64()
                    .and_then(|v| i32::try_from(v).ok())
                    .unwrap_or_default(),
                global_default: object["globalDefault"].as_bool().unwrap_or(false),
                description: object["description"].as_str().map(str::to_string),
                preemption_policy: object["preemptionPolicy"]
                    .as_str()
                    .unwrap_or("PreemptLowerPriority")
                    .to_string(),
            };
            target.create_priority_class(cluster, &request).await
        }
    };
    match created {
        Ok(true) => match stored(target, cluster, resource, name) {
            Some(value) => body::json(StatusCode::CREATED, &value),
            None => status::not_found(resource.plural, resource.group, name),
        },
        Ok(false) => already_exists(resource, name),
        Err(ActionError::Service { code, .. }) if code == "AlreadyExists" => {
            already_exists(resource, name)
        }
        Err(e) => failed(&e),
    }
}

async fn delete(
    target: &Arc<SimTarget>,
    cluster: &str,
    resource: &'static Resource,
    name: &str,
) -> Response<Body> {
    if resource.kind == "Namespace" && BUILT_IN.contains(&name) {
        return status::failure(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
        );
    }
    let before = stored(target, cluster, resource, name);
    let deleted = match resource.kind {
        "Namespace" => target.delete_namespace(cluster, name).await,
        _ => target.delete_priority_class(cluster, name).await,
    };
    match (deleted, before) {
        (Ok(true), Some(value)) => body::json(StatusCode::OK, &value),
        (Ok(true), None) => body::json(
            StatusCode::OK,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": resource.group, "kind": resource.plural}}),
        ),
        (Ok(false), _) => status::not_found(resource.plural, resource.group, name),
        (Err(e), _) => failed(&e),
    }
}

/// A patch (`kubectl apply` of an object that exists): what the simulator models of
/// these kinds cannot change, so a patch that leaves it as it is succeeds with the
/// object, and one that changes a priority class's value is refused as the API server
/// refuses it (the value is immutable). Other fields (labels, a description) are not
/// modelled and are accepted without effect.
fn patched(
    target: &Arc<SimTarget>,
    cluster: &str,
    resource: &'static Resource,
    name: &str,
    patch: &Value,
) -> Response<Body> {
    let Some(current) = stored(target, cluster, resource, name) else {
        return status::not_found(resource.plural, resource.group, name);
    };
    if resource.kind == "PriorityClass"
        && let Some(value) = patch.get("value")
        && *value != current["value"]
    {
        return status::failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            &format!(
                "PriorityClass.scheduling.k8s.io \"{name}\" is invalid: value: Forbidden: may not be changed in an update."
            ),
        );
    }
    body::json(StatusCode::OK, &current)
}

/// The object as the API shows it now, with its kept annotations, answered with
/// `status`.
fn shown(
    target: &Arc<SimTarget>,
    kept: &Annotations,
    cluster: &str,
    resource: &'static Resource,
    name: &str,
    status: StatusCode,
) -> Response<Body> {
    let world = target.world();
    let Ok(in_cluster) = world.cluster(cluster) else {
        return status::no_such_path();
    };
    let instants = Instants::of(target, world.now());
    match catalog::find(resource, &world, in_cluster, &instants, None, name) {
        Some(mut object) => {
            kept.show(cluster, resource.kind, std::slice::from_mut(&mut object));
            body::json(status, &object.value)
        }
        None => status::not_found(resource.plural, resource.group, name),
    }
}

/// The object as the API shows it now, if it exists.
fn stored(
    target: &Arc<SimTarget>,
    cluster: &str,
    resource: &'static Resource,
    name: &str,
) -> Option<Value> {
    let world = target.world();
    let cluster = world.cluster(cluster).ok()?;
    let instants = Instants::of(target, world.now());
    catalog::find(resource, &world, cluster, &instants, None, name).map(|o| o.value)
}

pub(crate) fn already_exists(resource: &Resource, name: &str) -> Response<Body> {
    let shown = if resource.group.is_empty() {
        resource.plural.to_string()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    };
    status::failure(
        StatusCode::CONFLICT,
        "AlreadyExists",
        &format!("{shown} \"{name}\" already exists"),
    )
}

/// A refusal of the simulated cluster, as the API server's `Status`.
fn failed(error: &ActionError) -> Response<Body> {
    match error {
        ActionError::Service { code, message, .. } if code == "Invalid" => {
            status::failure(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
        }
        ActionError::Service { code, message, .. } if code == "Forbidden" => {
            status::failure(StatusCode::FORBIDDEN, "Forbidden", message)
        }
        other => status::failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &other.to_string(),
        ),
    }
}
