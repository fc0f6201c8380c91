//! Amazon EKS on its wire protocol (rest-json), over the served world: the clusters and
//! their managed node groups, read-only (ListClusters, DescribeCluster,
//! ListNodegroups, DescribeNodegroup). A cluster's `endpoint` is this server's
//! Kubernetes API for it, so a client that reads the endpoint from EKS (the aws target,
//! `aws eks update-kubeconfig`) reaches the simulated cluster.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Response, StatusCode};
use runbook_backend_sim::SimTarget;
use runbook_sim::{Cluster, ClusterStatus, World};
use serde_json::{Value, json};

use crate::aws_error;
use crate::body::{self, Body};
use crate::time::Instants;

/// Answers one EKS request (`/clusters...`).
pub(crate) fn handle(
    target: &Arc<SimTarget>,
    addr: SocketAddr,
    method: &Method,
    path: &str,
) -> Response<Body> {
    if method != Method::GET {
        return aws_error::response(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnsupportedOperationException",
            &format!(
                "the simulated EKS serves reads only; {method} {path} is not served (runbook's create-cluster makes clusters)"
            ),
        );
    }
    let world = target.world();
    let instants = Instants::at(world.now());
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let answer = match segments.as_slice() {
        ["clusters"] => Ok(json!({"clusters": existing(&world).map(|c| c.name.clone()).collect::<Vec<_>>()})),
        ["clusters", name] => cluster(&world, name).map(|c| json!({"cluster": cluster_json(c, addr, &instants)})),
        ["clusters", name, "node-groups"] => cluster(&world, name)
            .map(|c| json!({"nodegroups": c.nodegroups.keys().collect::<Vec<_>>()})),
        ["clusters", name, "node-groups", group] => cluster(&world, name).and_then(|c| {
            c.nodegroups
                .get(*group)
                .map(|ng| {
                    json!({"nodegroup": {
                        "nodegroupName": ng.spec.name,
                        "nodegroupArn": format!("arn:aws:eks:{}:{}:nodegroup/{}/{}", c.region, c.account_id, c.name, ng.spec.name),
                        "clusterName": c.name,
                        "status": if ng.active { "ACTIVE" } else { "CREATING" },
                        "capacityType": match ng.spec.capacity_type {
                            runbook_sim::CapacityType::OnDemand => "ON_DEMAND",
                            runbook_sim::CapacityType::Spot => "SPOT",
                        },
                        "instanceTypes": [ng.spec.instance_type],
                        "scalingConfig": {"minSize": ng.spec.min_size, "maxSize": ng.spec.max_size, "desiredSize": ng.spec.desired_size},
                        "labels": ng.spec.labels,
                        "version": c.version,
                        "createdAt": instants.epoch_seconds(c.created_at_ms),
                        "health": {"issues": []},
                    }})
                })
                .ok_or_else(|| format!("No node group found for name: {group}."))
        }),
        _ => {
            return aws_error::response(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                &format!("the simulated EKS does not serve GET {path}"),
            );
        }
    };
    match answer {
        Ok(value) => body::json(StatusCode::OK, &value),
        Err(message) => {
            aws_error::response(StatusCode::NOT_FOUND, "ResourceNotFoundException", &message)
        }
    }
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
        "certificateAuthority": {"data": ""},
        "resourcesVpcConfig": {"subnetIds": [], "endpointPublicAccess": true, "endpointPrivateAccess": false},
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"},
        "tags": {},
    })
}
