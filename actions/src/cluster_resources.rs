//! The calls `create-cluster` and `delete-cluster` make on `aws` for what the runbook
//! does not give and eksctl would make: the cluster and node IAM roles, and a VPC with
//! public and private subnets in two zones, gateways and routes (see the aws backend's
//! `network` and `eks_roles` modules, which make them).

use serde_json::json;

use crate::planned_call::{PlannedCall, Service};
use runbook_backend::EksRole;

/// The role's calls when the runbook gave none: looked up, made if missing, with the
/// managed policies eksctl attaches. `making` is what they are part of (`the cluster`,
/// `the node group`), which is made only when it does not exist.
pub(crate) fn planned_role(
    role: EksRole,
    cluster: &str,
    input: &str,
    making: &str,
) -> Vec<PlannedCall> {
    let name = role.name(cluster);
    let when = format!("if {making} does not exist and `{input}` is not given");
    vec![
        PlannedCall::new(Service::Iam, "GetRole", json!({"roleName": name})).when(when.clone()),
        PlannedCall::new(Service::Iam, "CreateRole", json!({"roleName": name}))
            .when(format!("{when} and the role does not exist yet")),
        PlannedCall::new(
            Service::Iam,
            "AttachRolePolicy",
            json!({"roleName": name, "policyArn": "<each managed policy eksctl attaches>"}),
        )
        .when(when),
    ]
}

/// The network's calls when the runbook gives no `subnet_ids`: each part is looked up
/// by its tag and made only if it is missing.
pub(crate) fn planned_network(cluster: &str, instance_type: &str) -> Vec<PlannedCall> {
    let when = "if the cluster does not exist and `subnet_ids` is not given";
    let missing = |what: &str| format!("{when} and the {what} does not exist yet");
    let ec2 = |operation: &'static str, detail: serde_json::Value| {
        PlannedCall::new(Service::Ec2, operation, detail)
    };
    let tag = json!({"tag:runbook.io/cluster": cluster});
    vec![
        ec2("DescribeVpcs", tag.clone()).when(when),
        ec2("CreateVpc", json!({"cidrBlock": "192.168.0.0/16"})).when(missing("VPC")),
        ec2("ModifyVpcAttribute", json!({"enableDnsSupport": true, "enableDnsHostnames": true}))
            .when(missing("VPC")),
        ec2("DescribeInstanceTypeOfferings", json!({"instance-type": instance_type}))
            .when(when)
            .note("the first two zones that offer it"),
        ec2("DescribeSubnets", json!({"cidr-block": "<each of the four /19s>"})).when(when),
        ec2("CreateSubnet", json!({"cidrBlock": "<public and private /19 in each zone>"}))
            .when(missing("subnet")),
        ec2("ModifySubnetAttribute", json!({"mapPublicIpOnLaunch": true}))
            .when(missing("public subnet")),
        ec2("DescribeInternetGateways", json!({"attachment.vpc-id": "<the VPC>"})).when(when),
        ec2("CreateInternetGateway", json!({})).when(missing("internet gateway")),
        ec2("AttachInternetGateway", json!({})).when(missing("internet gateway")),
        ec2("DescribeNatGateways", json!({"vpc-id": "<the VPC>"}))
            .when(when)
            .note("repeated until the NAT gateway is available"),
        ec2("DescribeAddresses", tag).when(missing("NAT gateway")),
        ec2("AllocateAddress", json!({"domain": "vpc"})).when(missing("NAT gateway's address")),
        ec2("CreateNatGateway", json!({"subnetId": "<the first public subnet>"}))
            .when(missing("NAT gateway")),
        ec2("DescribeRouteTables", json!({"tag:Name": [format!("{cluster}/public-routes"), format!("{cluster}/private-routes")]}))
            .when(when),
        ec2("CreateRouteTable", json!({})).when(missing("route table")),
        ec2("CreateRoute", json!({"destinationCidrBlock": "0.0.0.0/0"}))
            .when(when)
            .note("to the internet gateway from the public table, to the NAT gateway from the private one; RouteAlreadyExists is success"),
        ec2("AssociateRouteTable", json!({})).when(missing("association of a subnet with its table")),
    ]
}

/// What `complete_cluster` adds once the cluster is ACTIVE, for a network runbook made:
/// the nodes' private subnets, and Karpenter's discovery tag on EKS's security group.
pub(crate) fn planned_network_lookup(cluster: &str) -> Vec<PlannedCall> {
    let when = "if the node group does not exist and `subnet_ids` is not given";
    vec![
        PlannedCall::new(
            Service::Ec2,
            "DescribeVpcs",
            json!({"tag:runbook.io/cluster": cluster}),
        )
        .when(when),
        PlannedCall::new(
            Service::Ec2,
            "DescribeSubnets",
            json!({"vpc-id": "<the VPC>"}),
        )
        .when(when)
        .note("the node group goes in the private ones"),
        PlannedCall::new(Service::Eks, "DescribeCluster", json!({"name": cluster}))
            .when(when)
            .note("for the security group EKS made"),
        PlannedCall::new(
            Service::Ec2,
            "CreateTags",
            json!({"resources": "<the cluster security group>", "karpenter.sh/discovery": cluster}),
        )
        .when(when),
    ]
}

/// `delete-cluster`'s calls once the cluster is gone: the network and roles runbook
/// made for it (found by their tag; given ones are not touched).
pub(crate) fn planned_release(cluster: &str) -> Vec<PlannedCall> {
    let made = "if runbook made the VPC for this cluster";
    let ec2 = |operation: &'static str, detail: serde_json::Value| {
        PlannedCall::new(Service::Ec2, operation, detail).when(made)
    };
    let mut calls = vec![
        PlannedCall::new(
            Service::Ec2,
            "DescribeVpcs",
            json!({"tag:runbook.io/cluster": cluster}),
        ),
        ec2("DescribeNatGateways", json!({"vpc-id": "<the VPC>"}))
            .note("repeated until the NAT gateway is gone"),
        ec2("DeleteNatGateway", json!({})),
        ec2(
            "DescribeAddresses",
            json!({"tag:runbook.io/cluster": cluster}),
        ),
        ec2("ReleaseAddress", json!({})),
        ec2(
            "DescribeInternetGateways",
            json!({"attachment.vpc-id": "<the VPC>"}),
        ),
        ec2("DetachInternetGateway", json!({})),
        ec2("DeleteInternetGateway", json!({})),
        ec2("DescribeRouteTables", json!({"vpc-id": "<the VPC>"})),
        ec2(
            "DisassociateRouteTable",
            json!({"associationId": "<each subnet association>"}),
        ),
        ec2(
            "DeleteRouteTable",
            json!({"routeTableId": "<each table but the main one>"}),
        ),
        ec2("DescribeSubnets", json!({"vpc-id": "<the VPC>"})),
        ec2("DeleteSubnet", json!({"subnetId": "<each subnet>"})),
        ec2("DeleteVpc", json!({})),
    ];
    for role in [EksRole::Node, EksRole::Cluster] {
        let name = role.name(cluster);
        let made = "if runbook made the role for this cluster (its tag says so)";
        calls.extend([
            PlannedCall::new(Service::Iam, "GetRole", json!({"roleName": name})),
            PlannedCall::new(Service::Iam, "DetachRolePolicy", json!({"roleName": name}))
                .when(made),
            PlannedCall::new(
                Service::Iam,
                "ListInstanceProfilesForRole",
                json!({"roleName": name}),
            )
            .when(made),
            PlannedCall::new(
                Service::Iam,
                "RemoveRoleFromInstanceProfile",
                json!({"roleName": name}),
            )
            .when("for each instance profile the role is in (Karpenter makes them)"),
            PlannedCall::new(Service::Iam, "DeleteRole", json!({"roleName": name})).when(made),
        ]);
    }
    calls
}
