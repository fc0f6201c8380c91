//! Discovery: what kubectl asks before anything else (`/version`, `/api`, `/apis` and
//! each group version's resource list), as plain JSON. kubectl first asks for the
//! aggregated form and falls back to this one (measured: ../shared/kubectl-facts.md).

use serde_json::{Value, json};

use super::resources::{RESOURCES, Resource, groups};

/// `GET /version`: the served cluster's Kubernetes version (`1.35`), as EKS reports
/// it; before any cluster exists, the simulator's default.
pub(crate) fn version(cluster_version: Option<&str>) -> Value {
    let default = runbook_sim::eks_versions::DEFAULT;
    let version = cluster_version.unwrap_or(default);
    let (major, minor) = version.split_once('.').unwrap_or(("1", version));
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{major}.{minor}.0-eks-sim"),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `GET /api`.
pub(crate) fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [],
    })
}

/// `GET /apis`.
pub(crate) fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(group, version)| group_json(group, version))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/GROUP`, if the group is served.
pub(crate) fn group(name: &str) -> Option<Value> {
    groups()
        .into_iter()
        .find(|(group, _)| *group == name)
        .map(|(group, version)| {
            let mut value = group_json(group, version);
            value["kind"] = json!("APIGroup");
            value["apiVersion"] = json!("v1");
            value
        })
}

fn group_json(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv], "preferredVersion": gv})
}

/// `GET /api/v1` or `GET /apis/GROUP/VERSION`, if served.
pub(crate) fn resource_list(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&Resource> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let first = served.first()?;
    let resources: Vec<Value> = served
        .iter()
        .map(|r| {
            json!({
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": r.verbs,
                "shortNames": r.short_names,
            })
        })
        .collect();
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": first.group_version(),
        "resources": resources,
    }))
}
