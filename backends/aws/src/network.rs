//! The VPC `eksctl create cluster` makes when it is given none, made by `create-cluster`
//! on `aws` when the runbook gives no `subnet_ids`, and removed by `delete-cluster`
//! once the cluster is gone.
//!
//! As eksctl lays it out: a `192.168.0.0/16` VPC with DNS support and hostnames; in
//! each of two Availability Zones that offer the node group's instance type, a public
//! `/19` subnet (public IPs on launch, tagged `kubernetes.io/role/elb`) and a private
//! `/19` subnet (tagged `kubernetes.io/role/internal-elb` and `karpenter.sh/discovery`,
//! so Karpenter finds it); an internet gateway and a route to it for the public
//! subnets; one NAT gateway in the first public subnet and a route to it for the
//! private ones, where the nodes run. Everything carries the tag
//! `runbook.io/cluster: <cluster>`, which is how a later step (or a resumed one) finds
//! it again: each part is looked up before it is created, so an interrupted create
//! continues where it stopped and a repeated one changes nothing.

use std::time::Duration;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, LocationType, NatGatewayState, ResourceType, Tag,
    TagSpecification,
};
use runbook_backend::calls::{PlannedCall, PlannedCalls, Service, declared};
use runbook_backend::{ActionError, TargetResult};
use serde_json::{Value, json};

use crate::error::code_of;
use crate::service_error;

/// The tag on everything runbook makes for a cluster: its name.
pub(crate) const CLUSTER_TAG: &str = "runbook.io/cluster";
/// The subnet tag Karpenter's EC2NodeClass selects subnets and security groups by.
pub(crate) const DISCOVERY_TAG: &str = "karpenter.sh/discovery";

/// eksctl's default VPC range and its four `/19` subnets: public ones first.
const VPC_CIDR: &str = "192.168.0.0/16";
const PUBLIC_CIDRS: [&str; 2] = ["192.168.0.0/19", "192.168.32.0/19"];
const PRIVATE_CIDRS: [&str; 2] = ["192.168.64.0/19", "192.168.96.0/19"];

/// How long a NAT gateway may take to become available, or to go (minutes on AWS).
const NAT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The subnets of a cluster's network: the cluster's control plane uses all of them,
/// its nodes the private ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterNetwork {
    pub(crate) vpc_id: String,
    pub(crate) public_subnets: Vec<String>,
    pub(crate) private_subnets: Vec<String>,
}

impl ClusterNetwork {
    pub(crate) fn all_subnets(&self) -> Vec<String> {
        self.public_subnets
            .iter()
            .chain(&self.private_subnets)
            .cloned()
            .collect()
    }
}

/// One subnet of the layout.
struct SubnetPlan {
    name: String,
    cidr: &'static str,
    zone: String,
    public: bool,
}

/// Makes (or finds) the cluster's network; `instance_type` picks zones that offer it.
pub(crate) async fn ensure_network(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
    instance_type: &str,
) -> TargetResult<ClusterNetwork> {
    let vpc_id = match find_vpc(ec2, cluster).await? {
        Some(id) => id,
        None => create_vpc(ec2, cluster).await?,
    };
    let zones = zones_for(ec2, instance_type).await?;
    let mut public_subnets = Vec::new();
    let mut private_subnets = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        for public in [true, false] {
            let plan = SubnetPlan {
                name: format!(
                    "{cluster}/{}-{zone}",
                    if public { "public" } else { "private" }
                ),
                cidr: if public {
                    PUBLIC_CIDRS[i]
                } else {
                    PRIVATE_CIDRS[i]
                },
                zone: zone.clone(),
                public,
            };
            let id = ensure_subnet(ec2, cluster, &vpc_id, &plan).await?;
            if public {
                public_subnets.push(id);
            } else {
                private_subnets.push(id);
            }
        }
    }
    let gateway = ensure_internet_gateway(ec2, cluster, &vpc_id).await?;
    let nat = ensure_nat_gateway(ec2, cluster, &vpc_id, &public_subnets[0]).await?;
    let public_table = ensure_route_table(ec2, cluster, &vpc_id, "public").await?;
    add_default_route(ec2, &public_table, Route::Internet(&gateway)).await?;
    associate(ec2, &public_table, &public_subnets).await?;
    let private_table = ensure_route_table(ec2, cluster, &vpc_id, "private").await?;
    add_default_route(ec2, &private_table, Route::Nat(&nat)).await?;
    associate(ec2, &private_table, &private_subnets).await?;
    Ok(ClusterNetwork {
        vpc_id,
        public_subnets,
        private_subnets,
    })
}

/// The cluster's network as runbook made it, if it did.
pub(crate) async fn find_network(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
) -> TargetResult<Option<ClusterNetwork>> {
    let Some(vpc_id) = find_vpc(ec2, cluster).await? else {
        return Ok(None);
    };
    let subnets = declared(
        subnets_in_call(&vpc_id).note("the node group goes in the private ones"),
        ec2.describe_subnets()
            .filters(filter("vpc-id", &vpc_id))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeSubnets", &vpc_id, e))?;
    let mut network = ClusterNetwork {
        vpc_id,
        public_subnets: Vec::new(),
        private_subnets: Vec::new(),
    };
    let mut subnets: Vec<_> = subnets.subnets().iter().collect();
    subnets.sort_by_key(|s| s.cidr_block().unwrap_or_default().to_string());
    for subnet in subnets {
        let Some(id) = subnet.subnet_id() else {
            continue;
        };
        if subnet.map_public_ip_on_launch() == Some(true) {
            network.public_subnets.push(id.to_string());
        } else {
            network.private_subnets.push(id.to_string());
        }
    }
    Ok(Some(network))
}

/// Deletes the cluster's network (once the cluster is gone): the NAT gateway and its
/// address, the internet gateway, the subnets, the route tables and the VPC. Returns
/// the VPC's id, or `None` if runbook made none for this cluster.
pub(crate) async fn delete_network(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
) -> TargetResult<Option<String>> {
    let Some(vpc_id) = find_vpc(ec2, cluster).await? else {
        return Ok(None);
    };
    delete_nat_gateways(ec2, &vpc_id).await?;
    release_addresses(ec2, cluster).await?;
    let gateways = declared(
        gateways_call(&vpc_id),
        ec2.describe_internet_gateways()
            .filters(filter("attachment.vpc-id", &vpc_id))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeInternetGateways", &vpc_id, e))?;
    for gateway in gateways.internet_gateways() {
        let Some(id) = gateway.internet_gateway_id() else {
            continue;
        };
        declared(
            ec2_call(
                "DetachInternetGateway",
                json!({"internetGatewayId": id, "vpcId": vpc_id}),
            ),
            ec2.detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(&vpc_id)
                .send(),
        )
        .await
        .map_err(|e| service_error("EC2", "DetachInternetGateway", id, e))?;
        declared(
            ec2_call("DeleteInternetGateway", json!({"internetGatewayId": id})),
            ec2.delete_internet_gateway().internet_gateway_id(id).send(),
        )
        .await
        .map_err(|e| service_error("EC2", "DeleteInternetGateway", id, e))?;
    }
    let tables = declared(
        ec2_call("DescribeRouteTables", json!({"vpc-id": vpc_id})),
        ec2.describe_route_tables()
            .filters(filter("vpc-id", &vpc_id))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeRouteTables", &vpc_id, e))?;
    for table in tables.route_tables() {
        let main = table.associations().iter().any(|a| a.main() == Some(true));
        let Some(id) = table.route_table_id().filter(|_| !main) else {
            continue;
        };
        // A table still associated with a subnet cannot be deleted.
        for association in table
            .associations()
            .iter()
            .filter_map(|a| a.route_table_association_id())
        {
            declared(
                ec2_call(
                    "DisassociateRouteTable",
                    json!({"associationId": association}),
                ),
                ec2.disassociate_route_table()
                    .association_id(association)
                    .send(),
            )
            .await
            .map_err(|e| service_error("EC2", "DisassociateRouteTable", association, e))?;
        }
        declared(
            ec2_call("DeleteRouteTable", json!({"routeTableId": id})),
            ec2.delete_route_table().route_table_id(id).send(),
        )
        .await
        .map_err(|e| service_error("EC2", "DeleteRouteTable", id, e))?;
    }
    let subnets = declared(
        subnets_in_call(&vpc_id),
        ec2.describe_subnets()
            .filters(filter("vpc-id", &vpc_id))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeSubnets", &vpc_id, e))?;
    for id in subnets.subnets().iter().filter_map(|s| s.subnet_id()) {
        declared(
            ec2_call("DeleteSubnet", json!({"subnetId": id})),
            ec2.delete_subnet().subnet_id(id).send(),
        )
        .await
        .map_err(|e| dependency_hint(service_error("EC2", "DeleteSubnet", id, e)))?;
    }
    declared(
        ec2_call("DeleteVpc", json!({"vpcId": vpc_id})),
        ec2.delete_vpc().vpc_id(&vpc_id).send(),
    )
    .await
    .map_err(|e| dependency_hint(service_error("EC2", "DeleteVpc", &vpc_id, e)))?;
    Ok(Some(vpc_id))
}

/// A `DependencyViolation` says what is left in the VPC: something made outside
/// runbook (a load balancer, an instance, an interface) that must go first.
fn dependency_hint(error: ActionError) -> ActionError {
    match &error {
        ActionError::Service { code, .. } if code == "DependencyViolation" => error.with_note(
            "something not made by runbook is still in the VPC, e.g. a load balancer or network interface; delete it and run the step again",
        ),
        _ => error,
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn tag_filter(cluster: &str) -> Filter {
    filter(&format!("tag:{CLUSTER_TAG}"), cluster)
}

/// The tags of a part of the network: its name and cluster, and `extra`.
fn tags(
    resource: ResourceType,
    cluster: &str,
    name: &str,
    extra: &[(&str, &str)],
) -> TagSpecification {
    let mut spec = TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key("Name").value(name).build())
        .tags(Tag::builder().key(CLUSTER_TAG).value(cluster).build());
    for (key, value) in extra {
        spec = spec.tags(Tag::builder().key(*key).value(*value).build());
    }
    spec.build()
}

fn yes() -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(true).build()
}

async fn find_vpc(ec2: &aws_sdk_ec2::Client, cluster: &str) -> TargetResult<Option<String>> {
    let answer = declared(
        vpcs_call(cluster),
        ec2.describe_vpcs().filters(tag_filter(cluster)).send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeVpcs", cluster, e))?;
    Ok(answer
        .vpcs()
        .iter()
        .find_map(|v| v.vpc_id())
        .map(str::to_string))
}

async fn create_vpc(ec2: &aws_sdk_ec2::Client, cluster: &str) -> TargetResult<String> {
    let name = format!("{cluster}/VPC");
    let created = declared(
        create_vpc_call(),
        ec2.create_vpc()
            .cidr_block(VPC_CIDR)
            .tag_specifications(tags(ResourceType::Vpc, cluster, &name, &[]))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "CreateVpc", &name, e))?;
    let id = created
        .vpc()
        .and_then(|v| v.vpc_id())
        .ok_or_else(|| ActionError::Failed(format!("EC2 CreateVpc of `{name}` returned no VPC")))?
        .to_string();
    // Nodes register with the API server by their private DNS names.
    for attribute in ["enableDnsSupport", "enableDnsHostnames"] {
        let request = ec2.modify_vpc_attribute().vpc_id(&id);
        let request = if attribute == "enableDnsSupport" {
            request.enable_dns_support(yes())
        } else {
            request.enable_dns_hostnames(yes())
        };
        declared(dns_call(&id, attribute), request.send())
            .await
            .map_err(|e| service_error("EC2", "ModifyVpcAttribute", &id, e))?;
    }
    Ok(id)
}

/// The first two zones of the region (in name order) that offer `instance_type`: the
/// node group needs its type in the zones of its subnets, and EKS two zones.
async fn zones_for(ec2: &aws_sdk_ec2::Client, instance_type: &str) -> TargetResult<Vec<String>> {
    let offered = declared(
        offerings_call(instance_type),
        ec2.describe_instance_type_offerings()
            .location_type(LocationType::AvailabilityZone)
            .filters(filter("instance-type", instance_type))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeInstanceTypeOfferings", instance_type, e))?;
    let mut zones: Vec<String> = offered
        .instance_type_offerings()
        .iter()
        .filter_map(|o| o.location())
        .map(str::to_string)
        .collect();
    zones.sort();
    zones.dedup();
    if zones.len() < 2 {
        return Err(ActionError::Failed(format!(
            "EKS needs subnets in two Availability Zones, but only {} of this region's zones offer {instance_type} ({}); pick another instance type or give `subnet_ids`",
            zones.len(),
            zones.join(", ")
        )));
    }
    zones.truncate(2);
    Ok(zones)
}

async fn ensure_subnet(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
    vpc_id: &str,
    plan: &SubnetPlan,
) -> TargetResult<String> {
    let existing = declared(
        subnet_call(vpc_id, plan.cidr),
        ec2.describe_subnets()
            .filters(filter("vpc-id", vpc_id))
            .filters(filter("cidr-block", plan.cidr))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeSubnets", &plan.name, e))?;
    if let Some(id) = existing.subnets().iter().find_map(|s| s.subnet_id()) {
        return Ok(id.to_string());
    }
    let extra: &[(&str, &str)] = if plan.public {
        &[("kubernetes.io/role/elb", "1")]
    } else {
        &[
            ("kubernetes.io/role/internal-elb", "1"),
            (DISCOVERY_TAG, cluster),
        ]
    };
    let created = declared(
        create_subnet_call(vpc_id, plan.cidr, &plan.zone),
        ec2.create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(plan.cidr)
            .availability_zone(&plan.zone)
            .tag_specifications(tags(ResourceType::Subnet, cluster, &plan.name, extra))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "CreateSubnet", &plan.name, e))?;
    let id = created
        .subnet()
        .and_then(|s| s.subnet_id())
        .ok_or_else(|| {
            ActionError::Failed(format!(
                "EC2 CreateSubnet of `{}` returned no subnet",
                plan.name
            ))
        })?
        .to_string();
    if plan.public {
        declared(
            public_ip_call(&id),
            ec2.modify_subnet_attribute()
                .subnet_id(&id)
                .map_public_ip_on_launch(yes())
                .send(),
        )
        .await
        .map_err(|e| service_error("EC2", "ModifySubnetAttribute", &id, e))?;
    }
    Ok(id)
}

async fn ensure_internet_gateway(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
    vpc_id: &str,
) -> TargetResult<String> {
    let attached = declared(
        gateways_call(vpc_id),
        ec2.describe_internet_gateways()
            .filters(filter("attachment.vpc-id", vpc_id))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeInternetGateways", vpc_id, e))?;
    if let Some(id) = attached
        .internet_gateways()
        .iter()
        .find_map(|g| g.internet_gateway_id())
    {
        return Ok(id.to_string());
    }
    let name = format!("{cluster}/InternetGateway");
    let created = declared(
        create_gateway_call(),
        ec2.create_internet_gateway()
            .tag_specifications(tags(ResourceType::InternetGateway, cluster, &name, &[]))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "CreateInternetGateway", &name, e))?;
    let id = created
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .ok_or_else(|| {
            ActionError::Failed(format!(
                "EC2 CreateInternetGateway of `{name}` returned no gateway"
            ))
        })?
        .to_string();
    declared(
        attach_gateway_call(&id, vpc_id),
        ec2.attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(vpc_id)
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "AttachInternetGateway", &id, e))?;
    Ok(id)
}

/// The NAT gateway of the VPC (pending or available), else a new one in `subnet` with a
/// new (or an earlier, unassociated) Elastic IP; waits until it is available, since
/// nodes in the private subnets cannot join the cluster without it.
async fn ensure_nat_gateway(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
    vpc_id: &str,
    subnet: &str,
) -> TargetResult<String> {
    let name = format!("{cluster}/NATGateway");
    let id = match live_nat_gateways(ec2, vpc_id).await?.into_iter().next() {
        Some(id) => id,
        None => {
            let allocation = ensure_address(ec2, cluster).await?;
            let created = declared(
                create_nat_call(subnet, &allocation),
                ec2.create_nat_gateway()
                    .subnet_id(subnet)
                    .allocation_id(&allocation)
                    .tag_specifications(tags(ResourceType::Natgateway, cluster, &name, &[]))
                    .send(),
            )
            .await
            .map_err(|e| service_error("EC2", "CreateNatGateway", &name, e))?;
            created
                .nat_gateway()
                .and_then(|g| g.nat_gateway_id())
                .ok_or_else(|| {
                    ActionError::Failed(format!(
                        "EC2 CreateNatGateway of `{name}` returned no gateway"
                    ))
                })?
                .to_string()
        }
    };
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_secs(2);
    loop {
        match nat_state(ec2, &id, "repeated until the NAT gateway is available").await? {
            Some(NatGatewayState::Available) => return Ok(id),
            Some(NatGatewayState::Pending) => {}
            other => {
                return Err(ActionError::Failed(format!(
                    "NAT gateway {id} of cluster `{cluster}` is {}, not available",
                    other.map_or_else(|| "gone".to_string(), |s| s.as_str().to_string())
                )));
            }
        }
        if started.elapsed() > NAT_TIMEOUT {
            return Err(ActionError::Failed(format!(
                "NAT gateway {id} of cluster `{cluster}` was still pending after 10 minutes"
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(15));
    }
}

async fn live_nat_gateways(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> TargetResult<Vec<String>> {
    let answer = declared(
        live_nats_call(vpc_id),
        ec2.describe_nat_gateways()
            .filter(filter("vpc-id", vpc_id))
            .filter(
                Filter::builder()
                    .name("state")
                    .values("pending")
                    .values("available")
                    .build(),
            )
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeNatGateways", vpc_id, e))?;
    Ok(answer
        .nat_gateways()
        .iter()
        .filter_map(|g| g.nat_gateway_id())
        .map(str::to_string)
        .collect())
}

/// The state of NAT gateway `id`, asked while waiting `until` it has one.
async fn nat_state(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    until: &str,
) -> TargetResult<Option<NatGatewayState>> {
    let answer = declared(
        nat_state_call(id, until),
        ec2.describe_nat_gateways().nat_gateway_ids(id).send(),
    )
    .await;
    match answer {
        Ok(answer) => Ok(answer
            .nat_gateways()
            .first()
            .and_then(|g| g.state())
            .cloned()),
        Err(e) if code_of(&e) == Some("NatGatewayNotFound") => Ok(None),
        Err(e) => Err(service_error("EC2", "DescribeNatGateways", id, e)),
    }
}

/// The cluster's Elastic IP that no NAT gateway uses (left by an interrupted create),
/// else a new one.
async fn ensure_address(ec2: &aws_sdk_ec2::Client, cluster: &str) -> TargetResult<String> {
    let existing = declared(
        addresses_call(cluster),
        ec2.describe_addresses().filters(tag_filter(cluster)).send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeAddresses", cluster, e))?;
    if let Some(id) = existing
        .addresses()
        .iter()
        .filter(|a| a.association_id().is_none())
        .find_map(|a| a.allocation_id())
    {
        return Ok(id.to_string());
    }
    let name = format!("{cluster}/NATIP");
    let allocated = declared(
        allocate_call(),
        ec2.allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tags(ResourceType::ElasticIp, cluster, &name, &[]))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "AllocateAddress", &name, e))?;
    allocated
        .allocation_id()
        .map(str::to_string)
        .ok_or_else(|| {
            ActionError::Failed(format!(
                "EC2 AllocateAddress of `{name}` returned no allocation"
            ))
        })
}

async fn ensure_route_table(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
    vpc_id: &str,
    tier: &str,
) -> TargetResult<String> {
    let name = format!("{cluster}/{tier}-routes");
    let existing = declared(
        named_table_call(vpc_id, &name),
        ec2.describe_route_tables()
            .filters(filter("vpc-id", vpc_id))
            .filters(filter("tag:Name", &name))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeRouteTables", &name, e))?;
    if let Some(id) = existing
        .route_tables()
        .iter()
        .find_map(|t| t.route_table_id())
    {
        return Ok(id.to_string());
    }
    let created = declared(
        create_table_call(vpc_id),
        ec2.create_route_table()
            .vpc_id(vpc_id)
            .tag_specifications(tags(ResourceType::RouteTable, cluster, &name, &[]))
            .send(),
    )
    .await
    .map_err(|e| service_error("EC2", "CreateRouteTable", &name, e))?;
    created
        .route_table()
        .and_then(|t| t.route_table_id())
        .map(str::to_string)
        .ok_or_else(|| {
            ActionError::Failed(format!(
                "EC2 CreateRouteTable of `{name}` returned no table"
            ))
        })
}

/// Where a route table's default route goes.
enum Route<'a> {
    Internet(&'a str),
    Nat(&'a str),
}

/// The table's `0.0.0.0/0` route; one that exists already is left as it is.
async fn add_default_route(
    ec2: &aws_sdk_ec2::Client,
    table: &str,
    route: Route<'_>,
) -> TargetResult<()> {
    let request = ec2
        .create_route()
        .route_table_id(table)
        .destination_cidr_block("0.0.0.0/0");
    let call = route_call(table, &route);
    let request = match route {
        Route::Internet(gateway) => request.gateway_id(gateway),
        Route::Nat(nat) => request.nat_gateway_id(nat),
    };
    match declared(call, request.send()).await {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("RouteAlreadyExists") => Ok(()),
        Err(e) => Err(service_error("EC2", "CreateRoute", table, e)),
    }
}

/// Associates `subnets` with `table`, skipping those it already has.
async fn associate(ec2: &aws_sdk_ec2::Client, table: &str, subnets: &[String]) -> TargetResult<()> {
    let current = declared(
        table_call(table),
        ec2.describe_route_tables().route_table_ids(table).send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeRouteTables", table, e))?;
    let associated: Vec<&str> = current
        .route_tables()
        .iter()
        .flat_map(|t| t.associations())
        .filter_map(|a| a.subnet_id())
        .collect();
    for subnet in subnets.iter().filter(|s| !associated.contains(&s.as_str())) {
        declared(
            associate_call(table, subnet),
            ec2.associate_route_table()
                .route_table_id(table)
                .subnet_id(subnet)
                .send(),
        )
        .await
        .map_err(|e| service_error("EC2", "AssociateRouteTable", subnet, e))?;
    }
    Ok(())
}

/// Deletes the VPC's NAT gateways and waits until they are gone (their addresses and
/// interfaces are released only then).
async fn delete_nat_gateways(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> TargetResult<()> {
    let gateways = live_nat_gateways(ec2, vpc_id).await?;
    for id in &gateways {
        declared(
            ec2_call("DeleteNatGateway", json!({"natGatewayId": id})),
            ec2.delete_nat_gateway().nat_gateway_id(id).send(),
        )
        .await
        .map_err(|e| service_error("EC2", "DeleteNatGateway", id, e))?;
    }
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_secs(2);
    for id in &gateways {
        while matches!(
            nat_state(ec2, id, "repeated until the NAT gateway is gone").await?,
            Some(NatGatewayState::Deleting | NatGatewayState::Available | NatGatewayState::Pending)
        ) {
            if started.elapsed() > NAT_TIMEOUT {
                return Err(ActionError::Failed(format!(
                    "NAT gateway {id} was still being deleted after 10 minutes"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(15));
        }
    }
    Ok(())
}

async fn release_addresses(ec2: &aws_sdk_ec2::Client, cluster: &str) -> TargetResult<()> {
    let addresses = declared(
        addresses_call(cluster),
        ec2.describe_addresses().filters(tag_filter(cluster)).send(),
    )
    .await
    .map_err(|e| service_error("EC2", "DescribeAddresses", cluster, e))?;
    for id in addresses
        .addresses()
        .iter()
        .filter_map(|a| a.allocation_id())
    {
        match declared(
            release_call(id),
            ec2.release_address().allocation_id(id).send(),
        )
        .await
        {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("InvalidAllocationID.NotFound") => {}
            Err(e) => return Err(service_error("EC2", "ReleaseAddress", id, e)),
        }
    }
    Ok(())
}

/// The calls [`ensure_network`] makes, as a plan shows them: each part is looked up
/// by its tag (or place) and made only if it is missing.
pub(crate) fn planned_ensure_network(cluster: &str, instance_type: &str) -> Vec<PlannedCall> {
    let vpc = "<the VPC>";
    vec![
        vpcs_call(cluster),
        create_vpc_call(),
        dns_call(vpc, "enableDnsSupport"),
        dns_call(vpc, "enableDnsHostnames"),
        offerings_call(instance_type),
        subnet_call(vpc, "<each of the four /19s>"),
        create_subnet_call(
            vpc,
            "<public and private /19 in each zone>",
            "<each of the two zones>",
        ),
        public_ip_call("<each public subnet>"),
        gateways_call(vpc),
        create_gateway_call(),
        attach_gateway_call("<the internet gateway>", vpc),
        live_nats_call(vpc),
        addresses_call(cluster).when("if the NAT gateway does not exist yet"),
        allocate_call(),
        create_nat_call("<the first public subnet>", "<the address>"),
        nat_state_call(
            "<the NAT gateway>",
            "repeated until the NAT gateway is available",
        ),
        named_table_call(vpc, &format!("{cluster}/public-routes")),
        create_table_call(vpc),
        route_call(
            "<the public table>",
            &Route::Internet("<the internet gateway>"),
        ),
        table_call("<the public table>"),
        associate_call("<the public table>", "<each public subnet>"),
        named_table_call(vpc, &format!("{cluster}/private-routes")),
        create_table_call(vpc),
        route_call("<the private table>", &Route::Nat("<the NAT gateway>")),
        table_call("<the private table>"),
        associate_call("<the private table>", "<each private subnet>"),
    ]
}

/// The calls [`find_network`] makes.
pub(crate) fn planned_find_network(cluster: &str) -> Vec<PlannedCall> {
    vec![
        vpcs_call(cluster),
        subnets_in_call("<the VPC>")
            .note("the node group goes in the private ones")
            .when("if runbook made the VPC for this cluster"),
    ]
}

/// The calls [`delete_network`] makes.
pub(crate) fn planned_delete_network(cluster: &str) -> Vec<PlannedCall> {
    let vpc = "<the VPC>";
    let made = "if runbook made the VPC for this cluster";
    let mut calls = vec![vpcs_call(cluster)];
    calls.extend(
        vec![
            live_nats_call(vpc),
            ec2_call(
                "DeleteNatGateway",
                json!({"natGatewayId": "<each NAT gateway>"}),
            ),
            nat_state_call(
                "<each NAT gateway>",
                "repeated until the NAT gateway is gone",
            ),
            addresses_call(cluster),
            release_call("<each address>"),
            gateways_call(vpc),
            ec2_call(
                "DetachInternetGateway",
                json!({"internetGatewayId": "<the internet gateway>", "vpcId": vpc}),
            ),
            ec2_call(
                "DeleteInternetGateway",
                json!({"internetGatewayId": "<the internet gateway>"}),
            ),
            ec2_call("DescribeRouteTables", json!({"vpc-id": vpc})),
            ec2_call(
                "DisassociateRouteTable",
                json!({"associationId": "<each subnet association>"}),
            ),
            ec2_call(
                "DeleteRouteTable",
                json!({"routeTableId": "<each table but the main one>"}),
            ),
            subnets_in_call(vpc),
            ec2_call("DeleteSubnet", json!({"subnetId": "<each subnet>"})),
            ec2_call("DeleteVpc", json!({"vpcId": vpc})),
        ]
        .under(made),
    );
    calls
}

// The calls, each declared as the run sends it and as the plans above list it.

fn ec2_call(operation: &str, detail: Value) -> PlannedCall {
    PlannedCall::new(Service::Ec2, operation, detail)
}

fn vpcs_call(cluster: &str) -> PlannedCall {
    ec2_call(
        "DescribeVpcs",
        json!({format!("tag:{CLUSTER_TAG}"): cluster}),
    )
}

fn create_vpc_call() -> PlannedCall {
    ec2_call("CreateVpc", json!({"cidrBlock": VPC_CIDR})).when("if the VPC does not exist yet")
}

fn dns_call(vpc_id: &str, attribute: &str) -> PlannedCall {
    ec2_call(
        "ModifyVpcAttribute",
        json!({"vpcId": vpc_id, attribute: true}),
    )
    .when("if the VPC does not exist yet")
}

fn offerings_call(instance_type: &str) -> PlannedCall {
    ec2_call(
        "DescribeInstanceTypeOfferings",
        json!({"locationType": "availability-zone", "instance-type": instance_type}),
    )
    .note("the first two zones that offer it")
}

fn subnet_call(vpc_id: &str, cidr: &str) -> PlannedCall {
    ec2_call(
        "DescribeSubnets",
        json!({"vpc-id": vpc_id, "cidr-block": cidr}),
    )
}

fn subnets_in_call(vpc_id: &str) -> PlannedCall {
    ec2_call("DescribeSubnets", json!({"vpc-id": vpc_id}))
}

fn create_subnet_call(vpc_id: &str, cidr: &str, zone: &str) -> PlannedCall {
    ec2_call(
        "CreateSubnet",
        json!({"vpcId": vpc_id, "cidrBlock": cidr, "availabilityZone": zone}),
    )
    .when("if the subnet does not exist yet")
}

fn public_ip_call(subnet_id: &str) -> PlannedCall {
    ec2_call(
        "ModifySubnetAttribute",
        json!({"subnetId": subnet_id, "mapPublicIpOnLaunch": true}),
    )
    .when("if the public subnet does not exist yet")
}

fn gateways_call(vpc_id: &str) -> PlannedCall {
    ec2_call(
        "DescribeInternetGateways",
        json!({"attachment.vpc-id": vpc_id}),
    )
}

fn create_gateway_call() -> PlannedCall {
    ec2_call("CreateInternetGateway", json!({})).when("if the internet gateway does not exist yet")
}

fn attach_gateway_call(gateway_id: &str, vpc_id: &str) -> PlannedCall {
    ec2_call(
        "AttachInternetGateway",
        json!({"internetGatewayId": gateway_id, "vpcId": vpc_id}),
    )
    .when("if the internet gateway does not exist yet")
}

fn live_nats_call(vpc_id: &str) -> PlannedCall {
    ec2_call(
        "DescribeNatGateways",
        json!({"vpc-id": vpc_id, "state": ["pending", "available"]}),
    )
}

fn nat_state_call(id: &str, until: &str) -> PlannedCall {
    ec2_call("DescribeNatGateways", json!({"natGatewayIds": [id]})).note(until)
}

fn addresses_call(cluster: &str) -> PlannedCall {
    ec2_call(
        "DescribeAddresses",
        json!({format!("tag:{CLUSTER_TAG}"): cluster}),
    )
}

fn allocate_call() -> PlannedCall {
    ec2_call("AllocateAddress", json!({"domain": "vpc"}))
        .when("if the NAT gateway's address does not exist yet")
}

fn release_call(allocation_id: &str) -> PlannedCall {
    ec2_call("ReleaseAddress", json!({"allocationId": allocation_id}))
        .note("InvalidAllocationID.NotFound: already released, which is success")
}

fn create_nat_call(subnet_id: &str, allocation_id: &str) -> PlannedCall {
    ec2_call(
        "CreateNatGateway",
        json!({"subnetId": subnet_id, "allocationId": allocation_id}),
    )
    .when("if the NAT gateway does not exist yet")
}

fn named_table_call(vpc_id: &str, name: &str) -> PlannedCall {
    ec2_call(
        "DescribeRouteTables",
        json!({"vpc-id": vpc_id, "tag:Name": name}),
    )
}

fn create_table_call(vpc_id: &str) -> PlannedCall {
    ec2_call("CreateRouteTable", json!({"vpcId": vpc_id}))
        .when("if the route table does not exist yet")
}

fn route_call(table: &str, route: &Route<'_>) -> PlannedCall {
    let mut detail = json!({"routeTableId": table, "destinationCidrBlock": "0.0.0.0/0"});
    match route {
        Route::Internet(gateway) => detail["gatewayId"] = json!(gateway),
        Route::Nat(nat) => detail["natGatewayId"] = json!(nat),
    }
    ec2_call("CreateRoute", detail).note("RouteAlreadyExists is success")
}

fn table_call(table: &str) -> PlannedCall {
    ec2_call("DescribeRouteTables", json!({"routeTableIds": [table]}))
        .note("which subnets it is associated with")
}

fn associate_call(table: &str, subnet_id: &str) -> PlannedCall {
    ec2_call(
        "AssociateRouteTable",
        json!({"routeTableId": table, "subnetId": subnet_id}),
    )
    .when("if the subnet is not associated with its table yet")
}
