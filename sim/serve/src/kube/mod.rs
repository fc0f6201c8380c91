//! The Kubernetes API of the simulated cluster, for the real `kubectl` and kube-rs.
//!
//! Served: discovery (`/version`, `/api`, `/apis`, each group version), and `get`,
//! `list` and `watch` of namespaces, nodes, pods, events and priority classes (create
//! and delete of namespaces and priority classes), and of the objects the cluster
//! stores as clients write them: ConfigMaps, Roles, RoleBindings and Karpenter's
//! EC2NodeClasses and NodePools (create, replace, patch, server-side apply and
//! delete), with label and field selectors and server-side tables (what `kubectl
//! get` prints), and SelfSubjectAccessReviews (`kubectl auth can-i`: all allowed). Every cluster comes with Karpenter v1 installed, as on an EKS
//! cluster that followed Karpenter's getting-started guide: its APIs, its controller
//! pod (`karpenter_controller`), and the world's autoscaler doing what the NodePool
//! written says. Each
//! object has the API's shape (k8s-openapi's types). What is not modelled is answered
//! as an API server answers it: `404 NotFound` or `405 MethodNotAllowed` with a
//! `Status`, never a hang.
//!
//! The API is served at the root for the world's first cluster that exists, and at
//! `/clusters/NAME/` for each by name.

mod access_reviews;
mod annotations;
mod catalog;
mod config_maps;
mod discovery;
mod events;
mod karpenter_controller;
mod karpenter_objects;
mod list;
mod namespaces;
mod node_pools;
mod nodes;
mod object;
mod openapi;
mod patch;
mod pods;
mod priority_classes;
mod protobuf;
mod request;
mod resources;
mod role_bindings;
mod roles;
mod selector;
mod status;
mod stored_objects;
mod stored_writes;
mod table;
mod watch;
mod write;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Response, StatusCode};
use runbook_backend_sim::SimTarget;
use runbook_sim::{ClusterStatus, World};
use serde_json::Value;

pub use annotations::Annotations;
use request::{ResourcePath, Target};
use resources::Resource;
use selector::Selector;
use table::Include;

use crate::body::{self, Body};
use crate::time::Instants;

/// The parts of a request the API reads.
pub struct Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub accept: &'a str,
}

/// Answers one request of the Kubernetes API.
pub fn handle(
    target: &Arc<SimTarget>,
    kept: &Annotations,
    request: &Request<'_>,
) -> Response<Body> {
    let (cluster, path) = split_cluster(request.path);
    let found = |value: Option<Value>| match value {
        Some(value) => body::json(StatusCode::OK, &value),
        None => status::no_such_path(),
    };
    match request::target(&path) {
        Target::Version => {
            let world = target.world();
            let version = served_cluster(&world, cluster.as_deref())
                .ok()
                .and_then(|name| world.cluster(&name).ok().map(|c| c.version.clone()));
            found(Some(discovery::version(version.as_deref())))
        }
        Target::CoreVersions => found(Some(discovery::core_versions())),
        Target::Groups => found(Some(discovery::group_list())),
        Target::Group(group) => found(discovery::group(&group)),
        Target::Resources { group, version } => found(discovery::resource_list(&group, &version)),
        Target::Resource(path) => resource(target, kept, cluster.as_deref(), &path, request),
        Target::OpenApiIndex => found(Some(openapi::index())),
        Target::OpenApi(path) => found(openapi::document(&path)),
        Target::Unknown => status::no_such_path(),
    }
}

/// Answers a request that would change the world (anything but GET): creates and
/// deletes of the kinds that can be written (and replaces and patches of the stored
/// kinds), `405 MethodNotAllowed` for the rest.
pub async fn handle_write(
    target: &Arc<SimTarget>,
    kept: &Annotations,
    request: &Request<'_>,
    content_type: &str,
    body: &[u8],
) -> Response<Body> {
    let (cluster, path) = split_cluster(request.path);
    let Target::Resource(path) = request::target(&path) else {
        return status::no_such_path();
    };
    if access_reviews::is_review(&path.group, &path.plural) && request.method == Method::POST {
        return access_reviews::answer(content_type, body);
    }
    let Some(resource) = resources::find(&path.group, &path.version, &path.plural) else {
        return status::no_such_path();
    };
    if path.namespace.is_some() && !resource.namespaced {
        return status::no_such_path();
    }
    if !write::writable(resource) {
        return not_modelled(resource, request.method);
    }
    let cluster_name = match served_cluster(&target.world(), cluster.as_deref()) {
        Ok(name) => name,
        Err(message) => return unavailable(&message),
    };
    let server_side_apply = content_type.starts_with(APPLY_PATCH);
    let object = if ![Method::POST, Method::PUT, Method::PATCH].contains(request.method) {
        None
    } else if server_side_apply {
        match serde_yaml_ng::from_slice::<Value>(body) {
            Ok(object) => Some(object),
            Err(e) => {
                return status::failure(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("the applied configuration is not a YAML or JSON object: {e}"),
                );
            }
        }
    } else if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        match protobuf::decode(resource.kind, body) {
            Ok(object) => Some(object),
            Err(e) => return status::failure(StatusCode::BAD_REQUEST, "BadRequest", &e),
        }
    } else if content_type.contains("json") || content_type.is_empty() {
        match serde_json::from_slice(body) {
            Ok(object) => Some(object),
            Err(e) => {
                return status::failure(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("the request body is not a JSON object: {e}"),
                );
            }
        }
    } else {
        return status::failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            &format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json, application/vnd.kubernetes.protobuf, {APPLY_PATCH}"
            ),
        );
    };
    if let Some(kind) = stored_objects::kind_of(resource) {
        let named = stored_writes::Named {
            namespace: path.namespace.as_deref(),
            name: path.name.as_deref(),
            server_side_apply,
        };
        return stored_writes::write(
            target,
            &cluster_name,
            resource,
            kind,
            request.method,
            &named,
            object.as_ref(),
        );
    }
    write::write(
        target,
        kept,
        &cluster_name,
        resource,
        request.method,
        path.name.as_deref(),
        object.as_ref(),
    )
    .await
}

/// The content type of a server-side apply (`kubectl apply --server-side`, kube-rs's
/// `Patch::Apply`): the applied configuration, as YAML (JSON is YAML too).
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// `503 ServiceUnavailable`: no cluster to answer for (see [`served_cluster`]).
fn unavailable(message: &str) -> Response<Body> {
    status::failure(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        message,
    )
}

/// `405 MethodNotAllowed`: the kind is served for reading only.
fn not_modelled(resource: &Resource, method: &Method) -> Response<Body> {
    status::failure(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!(
            "the simulated cluster serves {} for get, list and watch only; {method} is not modelled",
            resource.plural
        ),
    )
}

/// A path's `/clusters/NAME` prefix, if any, and the rest.
fn split_cluster(path: &str) -> (Option<String>, String) {
    match path.strip_prefix("/clusters/") {
        Some(rest) => {
            let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
            (Some(name.to_string()), format!("/{path}"))
        }
        None => (None, path.to_string()),
    }
}

fn resource(
    target: &Arc<SimTarget>,
    kept: &Annotations,
    cluster: Option<&str>,
    path: &ResourcePath,
    request: &Request<'_>,
) -> Response<Body> {
    let Some(resource) = resources::find(&path.group, &path.version, &path.plural) else {
        return status::no_such_path();
    };
    if path.namespace.is_some() && !resource.namespaced {
        return status::no_such_path();
    }
    if request.method != Method::GET {
        return not_modelled(resource, request.method);
    }
    let query = request::query(request.query);
    let labels = match Selector::labels(query.get("labelSelector").map_or("", String::as_str)) {
        Ok(s) => s,
        Err(e) => return status::failure(StatusCode::BAD_REQUEST, "BadRequest", &e),
    };
    let mut fields = match Selector::fields(query.get("fieldSelector").map_or("", String::as_str)) {
        Ok(s) => s,
        Err(e) => return status::failure(StatusCode::BAD_REQUEST, "BadRequest", &e),
    };
    if let Some(unsupported) = fields.keys().find(|k| !supported_field(resource.kind, k)) {
        return status::failure(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("field label not supported: {unsupported}"),
        );
    }
    let table = request
        .accept
        .contains("as=Table")
        .then(|| Include::from_query(query.get("includeObject").map(String::as_str)));
    let cluster_name = match served_cluster(&target.world(), cluster) {
        Ok(name) => name,
        Err(message) => return unavailable(&message),
    };
    if let Some(name) = &path.name {
        if is_watch(&query) {
            // A watch of one object is a watch with its name as a field selector.
            fields = match Selector::fields(&format!("metadata.name={name}")) {
                Ok(s) => s,
                Err(e) => return status::failure(StatusCode::BAD_REQUEST, "BadRequest", &e),
            };
        } else {
            return get(target, kept, &cluster_name, resource, path, name, table);
        }
    }
    if is_watch(&query) {
        return watch::start(
            Arc::clone(target),
            watch::Watch {
                resource,
                cluster: cluster_name,
                namespace: path.namespace.clone(),
                labels,
                fields,
                table,
                from: query.get("resourceVersion").and_then(|v| v.parse().ok()),
                timeout: query
                    .get("timeoutSeconds")
                    .and_then(|v| v.parse().ok())
                    .map(Duration::from_secs),
            },
        );
    }
    let query = catalog::Query {
        namespace: path.namespace.as_deref(),
        labels: &labels,
        fields: &fields,
        whole: table.is_none_or(|include| include == Include::Object),
        from: query
            .get("continue")
            .and_then(|token| token.parse().ok())
            .unwrap_or(0),
        limit: query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .filter(|l| *l > 0),
    };
    list::respond(target, kept, &cluster_name, resource, &query, table)
}

fn get(
    target: &Arc<SimTarget>,
    kept: &Annotations,
    cluster_name: &str,
    resource: &'static Resource,
    path: &ResourcePath,
    name: &str,
    table: Option<Include>,
) -> Response<Body> {
    let world = target.world();
    let Ok(cluster) = world.cluster(cluster_name) else {
        return status::no_such_path();
    };
    let instants = Instants::of(target, world.now());
    let found = catalog::find(
        resource,
        &world,
        cluster,
        &instants,
        path.namespace.as_deref(),
        name,
    );
    match found {
        None => status::not_found(resource.plural, resource.group, name),
        Some(mut object) => {
            kept.show(
                cluster_name,
                resource.kind,
                std::slice::from_mut(&mut object),
            );
            match table {
                Some(include) => {
                    let version = catalog::resource_version(&world);
                    body::json(
                        StatusCode::OK,
                        &table::table(resource.kind, &[object], include, version),
                    )
                }
                None => body::json(StatusCode::OK, &object.value),
            }
        }
    }
}

fn is_watch(query: &BTreeMap<String, String>) -> bool {
    query.get("watch").is_some_and(|v| v == "true" || v == "1")
}

/// The fields a field selector may name, by kind (as the API server supports them).
fn supported_field(kind: &str, field: &str) -> bool {
    let specific: &[&str] = match kind {
        "Pod" => &[
            "spec.nodeName",
            "status.phase",
            "spec.schedulerName",
            "metadata.uid",
        ],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
        ],
        "Namespace" => &["status.phase"],
        _ => &[],
    };
    matches!(field, "metadata.name" | "metadata.namespace") || specific.contains(&field)
}

/// The cluster a request is about: the one it names, or the world's first that exists
/// (or why there is none).
fn served_cluster(world: &World, named: Option<&str>) -> Result<String, String> {
    let exists =
        |status: ClusterStatus| matches!(status, ClusterStatus::Active | ClusterStatus::Deleting);
    let found = match named {
        Some(name) => world
            .clusters()
            .find(|c| c.name == name && exists(c.status)),
        None => world.clusters().find(|c| exists(c.status)),
    };
    found.map(|c| c.name.clone()).ok_or_else(|| match named {
        Some(name) => format!("the simulated world has no ACTIVE cluster named {name}"),
        None => "the simulated world has no ACTIVE cluster yet".to_string(),
    })
}
