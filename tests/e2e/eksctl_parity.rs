//! What `eksctl create cluster` made for the walkthrough, made by the canned runbooks
//! on `--target aws` when they are given no roles or subnets (an empty account with
//! credentials): a VPC with public and private subnets in two zones, internet and NAT
//! gateways and routes, Karpenter's discovery tags, and the cluster and node roles
//! with eksctl's managed policies. A second run adopts all of it, and teardown deletes
//! it. Checked through the AWS SDK on moto directly.

use aws_sdk_ec2::types::Filter;
use serde_json::Value;

use crate::aws_harness::AwsWorld;
use crate::aws_sdk::Sdk;
use crate::harness::{Output, Test};

const CLUSTER: &str = "eks-emr-cluster";
const CLUSTER_ROLE: &str = "eks-emr-cluster-eks-cluster-role";
const NODE_ROLE: &str = "eks-emr-cluster-eks-node-role";

/// A canned runbook on the aws target with no parameters at all.
fn run_bare(world: &AwsWorld, t: &Test, runbook: &str) -> Output {
    let path = format!("{}/runbooks/{runbook}", env!("CARGO_MANIFEST_DIR"));
    world
        .env_for(t.args([
            "--output",
            "json",
            "run",
            "--target",
            "aws",
            "--kube-context",
            "fake",
            path.as_str(),
        ]))
        .run()
}

fn tagged(name: &str) -> Filter {
    Filter::builder()
        .name("tag:runbook.io/cluster")
        .values(name)
        .build()
}

/// The VPCs runbook made for the cluster.
fn vpcs(sdk: &Sdk) -> Vec<String> {
    let answer = sdk
        .call(sdk.ec2.describe_vpcs().filters(tagged(CLUSTER)).send())
        .expect("DescribeVpcs");
    answer
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_owned))
        .collect()
}

/// (cidr, zone, public, Karpenter-discoverable) of the VPC's subnets, sorted by cidr.
fn subnets(sdk: &Sdk, vpc: &str) -> Vec<(String, String, bool, bool)> {
    let answer = sdk
        .call(
            sdk.ec2
                .describe_subnets()
                .filters(Filter::builder().name("vpc-id").values(vpc).build())
                .send(),
        )
        .expect("DescribeSubnets");
    let mut subnets: Vec<_> = answer
        .subnets()
        .iter()
        .map(|s| {
            let discoverable = s
                .tags()
                .iter()
                .any(|t| t.key() == Some("karpenter.sh/discovery") && t.value() == Some(CLUSTER));
            (
                s.cidr_block().unwrap_or_default().to_owned(),
                s.availability_zone().unwrap_or_default().to_owned(),
                s.map_public_ip_on_launch() == Some(true),
                discoverable,
            )
        })
        .collect();
    subnets.sort();
    subnets
}

fn attached_policies(sdk: &Sdk, role: &str) -> Vec<String> {
    let answer = sdk
        .call(sdk.iam.list_attached_role_policies().role_name(role).send())
        .expect("ListAttachedRolePolicies");
    let mut names: Vec<String> = answer
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The default routes of the VPC's tables: (table name, target kind).
fn default_routes(sdk: &Sdk, vpc: &str) -> Vec<(String, &'static str)> {
    let answer = sdk
        .call(
            sdk.ec2
                .describe_route_tables()
                .filters(Filter::builder().name("vpc-id").values(vpc).build())
                .send(),
        )
        .expect("DescribeRouteTables");
    let mut routes = Vec::new();
    for table in answer.route_tables() {
        let name = table
            .tags()
            .iter()
            .find(|t| t.key() == Some("Name"))
            .and_then(|t| t.value())
            .unwrap_or("main")
            .to_owned();
        for route in table.routes() {
            if route.destination_cidr_block() != Some("0.0.0.0/0") {
                continue;
            }
            let target = if route.nat_gateway_id().is_some() {
                "nat"
            } else if route.gateway_id().is_some_and(|g| g.starts_with("igw-")) {
                "internet"
            } else {
                "other"
            };
            routes.push((name.clone(), target));
        }
    }
    routes.sort();
    routes
}

fn step_outputs(t: &Test, key: &str) -> Value {
    let run = t.runs().into_iter().next().expect("a run");
    let status = t.status(run["id"].as_str().expect("run id"));
    status["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["key"] == key)
        .map(|s| s["outputs"].clone())
        .expect("the step")
}

#[test]
fn an_empty_account_gets_eksctls_network_and_roles_and_teardown_removes_them() {
    let world = AwsWorld::start();
    let sdk = Sdk::new(&world);
    let t = Test::new();
    // Preflight tells what create-cluster will make, in zones that offer the node
    // group's instance type.
    let path = format!(
        "{}/runbooks/platform-setup.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let report = world
        .env_for(t.args([
            "--output",
            "json",
            "preflight",
            "--target",
            "aws",
            "--kube-context",
            "fake",
            path.as_str(),
        ]))
        .run()
        .json();
    let subnets_check = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == "subnets"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(subnets_check["status"], "pass", "{report}");
    assert_eq!(
        subnets_check["detail"],
        "cluster eks-emr-cluster: no subnets given; create-cluster makes a VPC with subnets in us-east-2a and us-east-2b, which offer m5.2xlarge"
    );

    let out = run_bare(&world, &t, "platform-setup.yaml");
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);

    // The network, as eksctl lays it out.
    let made = vpcs(&sdk);
    assert_eq!(made.len(), 1, "one VPC for the cluster: {made:?}");
    let vpc = &made[0];
    let layout = subnets(&sdk, vpc);
    let cidrs: Vec<&str> = layout.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        cidrs,
        [
            "192.168.0.0/19",
            "192.168.32.0/19",
            "192.168.64.0/19",
            "192.168.96.0/19"
        ]
    );
    let public: Vec<bool> = layout.iter().map(|s| s.2).collect();
    assert_eq!(
        public,
        [true, true, false, false],
        "public first, then private"
    );
    let discoverable: Vec<bool> = layout.iter().map(|s| s.3).collect();
    assert_eq!(
        discoverable,
        [false, false, true, true],
        "Karpenter finds the private ones"
    );
    assert_ne!(layout[0].1, layout[1].1, "two zones");
    assert_eq!(
        layout[0].1, layout[2].1,
        "a public and a private subnet per zone"
    );
    assert_eq!(
        default_routes(&sdk, vpc),
        [
            (format!("{CLUSTER}/private-routes"), "nat"),
            (format!("{CLUSTER}/public-routes"), "internet"),
        ]
    );

    // The roles, with eksctl's managed policies, handed to EKS.
    assert_eq!(
        attached_policies(&sdk, CLUSTER_ROLE),
        ["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"]
    );
    assert_eq!(
        attached_policies(&sdk, NODE_ROLE),
        [
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "AmazonSSMManagedInstanceCore"
        ]
    );
    let cluster = sdk
        .call(sdk.eks.describe_cluster().name(CLUSTER).send())
        .expect("DescribeCluster");
    let cluster = cluster.cluster().expect("cluster");
    assert_eq!(
        cluster.role_arn(),
        Some(format!("arn:aws:iam::123456789012:role/{CLUSTER_ROLE}").as_str())
    );
    let cluster_subnets = cluster
        .resources_vpc_config()
        .map(|v| v.subnet_ids().len())
        .unwrap_or_default();
    assert_eq!(
        cluster_subnets, 4,
        "the control plane uses all four subnets"
    );
    let nodegroup = sdk
        .call(
            sdk.eks
                .describe_nodegroup()
                .cluster_name(CLUSTER)
                .nodegroup_name("eks-emr-cluster-ng")
                .send(),
        )
        .expect("DescribeNodegroup");
    let nodegroup = nodegroup.nodegroup().expect("node group");
    assert_eq!(
        nodegroup.node_role(),
        Some(format!("arn:aws:iam::123456789012:role/{NODE_ROLE}").as_str())
    );
    assert_eq!(
        nodegroup.subnets().len(),
        2,
        "nodes run in the private subnets"
    );

    // A second run adopts all of it.
    let again = Test::new();
    let out = run_bare(&world, &again, "platform-setup.yaml");
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(vpcs(&sdk), made, "no second VPC");
    assert_eq!(subnets(&sdk, vpc), layout, "no new subnets");

    // Teardown deletes what runbook made, once the cluster is gone.
    let out = run_bare(&world, &t, "teardown.yaml");
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let released = step_outputs(&t, "cluster")["released"].clone();
    assert_eq!(
        released,
        serde_json::json!([
            format!("VPC {vpc}"),
            format!("IAM role {NODE_ROLE}"),
            format!("IAM role {CLUSTER_ROLE}"),
        ]),
        "the cluster step of teardown"
    );
    assert!(vpcs(&sdk).is_empty(), "the VPC is gone");
    let roles = sdk.role_names();
    assert!(
        !roles.iter().any(|r| r == CLUSTER_ROLE || r == NODE_ROLE),
        "the roles are gone: {roles:?}"
    );
    let addresses = sdk
        .call(sdk.ec2.describe_addresses().filters(tagged(CLUSTER)).send())
        .expect("DescribeAddresses");
    assert!(
        addresses.addresses().is_empty(),
        "the NAT gateway's address is released"
    );
}
