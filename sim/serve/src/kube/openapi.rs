//! The OpenAPI v3 documents `kubectl apply` and `kubectl create -f` read before they
//! write: an index of group versions, and for each a document whose PATCH operations
//! carry the kind (`x-kubernetes-group-version-kind`) and the `fieldValidation`
//! parameter. From that kubectl knows the server validates fields itself, and sends
//! `fieldValidation=Strict` instead of checking the object against schemas; so the
//! documents carry no schemas.

use serde_json::{Map, Value, json};

use super::resources::{RESOURCES, Resource};

/// `GET /openapi/v3`: where each group version's document is.
pub(crate) fn index() -> Value {
    let mut paths = Map::new();
    for resource in RESOURCES {
        let path = group_version_path(resource);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash=runbook-sim")}),
        );
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION`, if served.
pub(crate) fn document(path: &str) -> Option<Value> {
    let served: Vec<&Resource> = RESOURCES
        .iter()
        .filter(|r| group_version_path(r) == path)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    for r in served {
        let prefix = format!("/{}", group_version_path(r));
        let item = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        paths.insert(
            item,
            json!({
                "get": {"x-kubernetes-group-version-kind": gvk, "responses": {}},
                "patch": {
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}],
                    "responses": {},
                },
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (runbook's simulated cluster)", "version": "v1"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

/// `api/v1` or `apis/GROUP/VERSION`.
fn group_version_path(r: &Resource) -> String {
    if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    }
}
