//! Amazon EKS on its wire protocol (rest-json), over the served world: the clusters and
//! their managed node groups (ListClusters, DescribeCluster, CreateCluster,
//! DeleteCluster, ListNodegroups, DescribeNodegroup, CreateNodegroup,
//! DeleteNodegroup). A cluster's `endpoint` is this server's Kubernetes API for it, so
//! a client that reads the endpoint from EKS (the aws target, `aws eks
//! update-kubeconfig`) reaches the simulated cluster.
//!
//! Writes change the world as EKS would: a cluster is CREATING for the simulator's
//! `cluster_create_ms` and has no node until a node group is created (EKS accepts one
//! only once the cluster is ACTIVE); a cluster with node groups cannot be deleted.
//! What the simulator does not model (the cluster role, subnets, security groups) is
//! accepted and not checked.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Response, StatusCode};
use runbook_backend::ActionError;
use runbook_backend_sim::SimTarget;
use runbook_sim::{CapacityType, Cluster, ClusterSpec, ClusterStatus, NodeGroupSpec, World};
use serde_json::{Value, json};

use crate::aws_error;
use crate::body::{self, Body};
use crate::time::Instants;

/// Answers one EKS request (`/clusters...`) with `body`, its JSON (empty for reads).
pub(crate) fn handle(
    target: &Arc<SimTarget>,
    addr: SocketAddr,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Response<Body> {
    let request = match aws_error::request_body(body) {
        Ok(request) => request,
        Err(why) => return aws_error::not_json(&why),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let written = match (method, segments.as_slice()) {
        (&Method::POST, ["clusters"]) => Some(create_cluster(target, &request)),
        (&Method::DELETE, ["clusters", name]) => Some(delete_cluster(target, name)),
        (&Method::POST, ["clusters", name, "node-groups"]) => {
            Some(create_node_group(target, name, &request))
        }
        (&Method::DELETE, ["clusters", name, "node-groups", group]) => Some(
            target
                .act("EKS", "DeleteNodegroup", group, |w| {
                    w.delete_node_group(name, group)
                })
                .map(|()| ("nodegroup", name.to_string(), Some(group.to_string()))),
        ),
        (&Method::GET, _) => None,
        _ => {
            return aws_error::response(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                &format!("the simulated EKS does not serve {method} {path}"),
            );
        }
    };
    let world = target.world();
    let instants = Instants::of(target, world.now());
    let answer = match written {
        // A write answers with the object as it now is (DELETING after a delete).
        Some(Ok((key, cluster, group))) => {
            let cluster = world.cluster(&cluster).map_err(|e| e.to_string());
            match group {
                None => cluster.map(|c| json!({key: cluster_json(c, addr, &instants)})),
                Some(group) => cluster.map(|c| {
                    let shown = c.nodegroups.get(&group).map_or_else(
                        || json!({"nodegroupName": group, "clusterName": c.name, "status": "DELETING"}),
                        |ng| node_group_json(c, &ng.spec, ng.active, &instants),
                    );
                    json!({key: shown})
                }),
            }
        }
        Some(Err(e)) => return aws_error::from_action(&e),
        None => read(&world, addr, &instants, &segments),
    };
    match answer {
        Ok(value) => body::json(StatusCode::OK, &value),
        Err(message) => {
            aws_error::response(StatusCode::NOT_FOUND, "ResourceNotFoundException", &message)
        }
    }
}

/// A read (GET), or `Err` with the message of EKS's ResourceNotFoundException.
fn read(
    world: &World,
    addr: SocketAddr,
    instants: &Instants,
    segments: &[&str],
) -> Result<Value, String> {
    match segments {
        ["clusters"] => {
            Ok(json!({"clusters": existing(world).map(|c| c.name.clone()).collect::<Vec<_>>()}))
        }
        ["clusters", name] => {
            cluster(world, name).map(|c| json!({"cluster": cluster_json(c, addr, instants)}))
        }
        ["clusters", name, "node-groups"] => cluster(world, name)
            .map(|c| json!({"nodegroups": c.nodegroups.keys().collect::<Vec<_>>()})),
        ["clusters", name, "node-groups", group] => cluster(world, name).and_then(|c| {
            c.nodegroups
                .get(*group)
                .map(|ng| json!({"nodegroup": node_group_json(c, &ng.spec, ng.active, instants)}))
                .ok_or_else(|| format!("No node group found for name: {group}."))
        }),
        _ => Err(format!(
            "the simulated EKS does not serve GET /{}",
            segments.join("/")
        )),
    }
}

/// What a write did: the answer's key and the cluster (and node group) to show.
type Written = Result<(&'static str, String, Option<String>), ActionError>;

/// CreateCluster: a cluster without node groups, CREATING.
fn create_cluster(target: &Arc<SimTarget>, request: &Value) -> Written {
    let Some(name) = request.get("name").and_then(Value::as_str) else {
        return Err(aws_error::invalid_parameter("EKS", "name is required"));
    };
    // EKS makes the latest version it offers when none is asked for.
    let version = request
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or(runbook_sim::eks_versions::DEFAULT);
    let spec = ClusterSpec {
        nodegroups: Vec::new(),
        ..ClusterSpec::new(
            name,
            version,
            NodeGroupSpec::new(String::new(), String::new(), 0),
        )
    };
    target
        .act("EKS", "CreateCluster", name, |w| {
            w.create_cluster(spec).map(|_| ())
        })
        .map(|()| ("cluster", name.to_string(), None))
}

/// DeleteCluster: refused while node groups remain, as EKS does.
fn delete_cluster(target: &Arc<SimTarget>, name: &str) -> Written {
    let groups: Vec<String> = {
        let world = target.world();
        match cluster(&world, name) {
            Ok(c) => c.nodegroups.keys().cloned().collect(),
            Err(message) => {
                return Err(aws_error::service(
                    "EKS",
                    "ResourceNotFoundException",
                    &message,
                ));
            }
        }
    };
    if !groups.is_empty() {
        return Err(aws_error::service(
            "EKS",
            "ResourceInUseException",
            &format!("Cluster has nodegroups attached: {}", groups.join(", ")),
        ));
    }
    target
        .act("EKS", "DeleteCluster", name, |w| w.delete_cluster(name))
        .map(|()| ("cluster", name.to_string(), None))
}

/// CreateNodegroup from the request's scaling config, instance type, capacity type,
/// labels and node role.
fn create_node_group(target: &Arc<SimTarget>, cluster: &str, request: &Value) -> Written {
    let Some(name) = request.get("nodegroupName").and_then(Value::as_str) else {
        return Err(aws_error::invalid_parameter(
            "EKS",
            "nodegroupName is required",
        ));
    };
    let size = |key: &str, default: u32| {
        request
            .pointer(&format!("/scalingConfig/{key}"))
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(default)
    };
    let desired = size("desiredSize", 2);
    let instance_type = request
        .pointer("/instanceTypes/0")
        .and_then(Value::as_str)
        .unwrap_or("t3.medium");
    let spec = NodeGroupSpec {
        min_size: size("minSize", 1),
        max_size: size("maxSize", 2),
        capacity_type: match request.get("capacityType").and_then(Value::as_str) {
            Some("SPOT") => CapacityType::Spot,
            _ => CapacityType::OnDemand,
        },
        labels: request
            .get("labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default(),
        node_role_arn: request
            .get("nodeRole")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..NodeGroupSpec::new(name, instance_type, desired)
    };
    target
        .act("EKS", "CreateNodegroup", name, |w| {
            w.create_node_group(cluster, spec)
        })
        .map(|()| ("nodegroup", cluster.to_string(), Some(name.to_string())))
}

fn existing(world: &World) -> impl Iterator<Item = &Cluster> {
    world
        .clusters()
        .filter(|c| c.status != ClusterStatus::Deleted)
}

fn cluster<'w>(world: &'w World, name: &str) -> Result<&'w Cluster, String> {
    existing(world)
        .find(|c| c.name == name)
        .ok_or_else(|| format!("No cluster found for name: {name}."))
}

fn cluster_json(c: &Cluster, addr: SocketAddr, instants: &Instants) -> Value {
    json!({
        "name": c.name,
        "arn": c.arn,
        "createdAt": instants.epoch_seconds(c.created_at_ms),
        "version": c.version,
        "endpoint": format!("http://{addr}/clusters/{}", c.name),
        "status": c.status.to_string(),
        "platformVersion": "eks.1",
        "identity": {"oidc": {"issuer": c.oidc_issuer}},
        // Served over plain HTTP on loopback: there is no certificate to trust.
        "certificateAuthority": {"data": ""},
        "resourcesVpcConfig": {"subnetIds": [], "endpointPublicAccess": true, "endpointPrivateAccess": false},
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"},
        "tags": {},
    })
}

fn node_group_json(c: &Cluster, ng: &NodeGroupSpec, active: bool, instants: &Instants) -> Value {
    json!({
        "nodegroupName": ng.name,
        "nodegroupArn": format!("arn:aws:eks:{}:{}:nodegroup/{}/{}", c.region, c.account_id, c.name, ng.name),
        "clusterName": c.name,
        "status": if active { "ACTIVE" } else { "CREATING" },
        "capacityType": match ng.capacity_type {
            CapacityType::OnDemand => "ON_DEMAND",
            CapacityType::Spot => "SPOT",
        },
        "instanceTypes": [ng.instance_type],
        "scalingConfig": {"minSize": ng.min_size, "maxSize": ng.max_size, "desiredSize": ng.desired_size},
        "labels": ng.labels,
        "nodeRole": ng.node_role_arn,
        "version": c.version,
        "createdAt": instants.epoch_seconds(c.created_at_ms),
        "health": {"issues": []},
    })
}
