//! The checks of what the account can run: the node groups' subnets span two
//! Availability Zones that offer their instance type, and the EC2 vCPU quotas cover
//! the node groups' and the autoscaler's maximum.

use std::collections::BTreeSet;

use runbook_backend::{Target, TargetKind};

use super::Check;
use super::needs::{Needs, NodeGroupNeed};

/// The quota of On-Demand instances of the standard families (A, C, D, H, I, M, R, T,
/// Z), in vCPUs: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances".
const ON_DEMAND_STANDARD: &str = "L-1216C47A";
/// "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", in vCPUs.
const SPOT_STANDARD: &str = "L-34B43A08";

/// Whether an instance type (`m5.2xlarge`) is of a standard family, which the two
/// quotas above cover; other families (G, P, X, Inf, ...) have quotas of their own.
fn standard_family(instance_type: &str) -> bool {
    let family: String = instance_type
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    matches!(
        family.as_str(),
        "a" | "c" | "d" | "h" | "i" | "m" | "r" | "t" | "z"
    )
}

/// EKS needs a cluster's subnets in two or more Availability Zones, and a node group
/// can only launch its instance type in zones that offer it.
pub(super) async fn subnets(target: &Target, needs: &Needs) -> Vec<Check> {
    let mut results = Vec::new();
    for group in &needs.node_groups {
        results.push(node_group_subnets(target, group).await);
    }
    results
}

async fn node_group_subnets(target: &Target, group: &NodeGroupNeed) -> Check {
    const CHECK: &str = "subnets";
    if group.subnets.is_empty() && target.kind == TargetKind::Aws {
        return network_to_make(target, group).await;
    }
    let subnets = match target.capacity.subnets(&group.subnets).await {
        Ok(subnets) => subnets,
        Err(e) => {
            return Check::fail(
                CHECK,
                format!("cluster {} (step {}): {e}", group.cluster, group.step),
                "give subnet_ids of the VPC the cluster is to run in (aws ec2 describe-subnets)",
            );
        }
    };
    let zones: BTreeSet<&str> = subnets.iter().map(|s| s.zone.as_str()).collect();
    if zones.len() < 2 {
        let given = if group.subnets.is_empty() {
            "no subnets are given".to_string()
        } else {
            format!(
                "subnets {} are in {}",
                group.subnets.join(", "),
                zones.iter().copied().collect::<Vec<_>>().join(", ")
            )
        };
        return Check::fail(
            CHECK,
            format!(
                "cluster {} (step {}): EKS needs subnets in at least two Availability Zones; {given}",
                group.cluster, group.step
            ),
            "give subnet_ids in two or more Availability Zones (the canned runbooks' `subnet_ids` parameter)",
        );
    }
    let offered = match target
        .capacity
        .instance_type_zones(&group.instance_type)
        .await
    {
        Ok(zones) => zones,
        Err(e) => {
            return Check::cannot(
                CHECK,
                format!("where {} is offered: {e}", group.instance_type),
            );
        }
    };
    let missing: Vec<&str> = zones
        .iter()
        .copied()
        .filter(|z| !offered.iter().any(|o| o == z))
        .collect();
    let zone_list = zones.iter().copied().collect::<Vec<_>>().join(", ");
    if !missing.is_empty() {
        return Check::fail(
            CHECK,
            format!(
                "cluster {} (step {}): {} is not offered in {} (the node group's subnets are in {zone_list})",
                group.cluster,
                group.step,
                group.instance_type,
                missing.join(", ")
            ),
            "choose subnets in zones that offer the instance type, or another instance type (aws ec2 describe-instance-type-offerings --location-type availability-zone)",
        );
    }
    Check::pass(
        CHECK,
        format!(
            "cluster {}: subnets in {zone_list}, all offering {}",
            group.cluster, group.instance_type
        ),
    )
}

/// Without `subnet_ids`, create-cluster makes a VPC (as eksctl does) in the first two
/// zones that offer the node group's instance type: there must be two.
async fn network_to_make(target: &Target, group: &NodeGroupNeed) -> Check {
    const CHECK: &str = "subnets";
    match target
        .capacity
        .instance_type_zones(&group.instance_type)
        .await
    {
        Ok(zones) if zones.len() >= 2 => Check::pass(
            CHECK,
            format!(
                "cluster {}: no subnets given; create-cluster makes a VPC with subnets in {} and {}, which offer {}",
                group.cluster, zones[0], zones[1], group.instance_type
            ),
        ),
        Ok(zones) => Check::fail(
            CHECK,
            format!(
                "cluster {} (step {}): no subnets given, and only {} zone(s) of the region offer {} ({}); EKS needs two",
                group.cluster,
                group.step,
                zones.len(),
                group.instance_type,
                zones.join(", ")
            ),
            "choose an instance type offered in two zones, or give subnet_ids",
        ),
        Err(e) => Check::cannot(
            CHECK,
            format!("where {} is offered: {e}", group.instance_type),
        ),
    }
}

/// What one quota must hold: the parts that add up to the vCPUs asked for.
#[derive(Default)]
struct Demand {
    vcpus: u64,
    parts: Vec<String>,
    /// Steps of autoscalers without a cpu_limit: bounded by the quota alone.
    unbounded: Vec<String>,
    /// Instance types of other families, which this quota does not cover.
    other_families: Vec<String>,
}

/// Whether the On-Demand (and, where the runbook uses Spot, the Spot) vCPU quota covers
/// the most the node groups and the autoscaler may run at once. Instances already
/// running in the account count against the quota too and are not included.
pub(super) async fn vcpu_quotas(target: &Target, needs: &Needs) -> Vec<Check> {
    const CHECK: &str = "vcpu-quota";
    if needs.node_groups.is_empty() && needs.autoscaling.is_empty() {
        return Vec::new();
    }
    let mut on_demand = Demand::default();
    let mut spot = Demand::default();
    let mut results = Vec::new();
    for group in &needs.node_groups {
        let demand = if group.spot {
            &mut spot
        } else {
            &mut on_demand
        };
        if !standard_family(&group.instance_type) {
            demand.other_families.push(group.instance_type.clone());
            continue;
        }
        match target.capacity.instance_vcpus(&group.instance_type).await {
            Ok(vcpus) => {
                let total = group.max_size * u64::from(vcpus);
                demand.vcpus += total;
                demand.parts.push(format!(
                    "node group of {} up to {} × {} ({vcpus} vCPUs) = {total}",
                    group.cluster, group.max_size, group.instance_type
                ));
            }
            Err(e) => results.push(Check::cannot(CHECK, e.to_string())),
        }
    }
    for pool in &needs.autoscaling {
        let Some(limit) = pool.cpu_limit else {
            for (allowed, demand) in [(pool.on_demand, &mut on_demand), (pool.spot, &mut spot)] {
                if allowed {
                    demand.unbounded.push(pool.step.clone());
                }
            }
            continue;
        };
        for (allowed, demand) in [(pool.on_demand, &mut on_demand), (pool.spot, &mut spot)] {
            if allowed {
                demand.vcpus += limit;
                demand.parts.push(format!(
                    "the autoscaler's cpu_limit (step {}) {limit}",
                    pool.step
                ));
            }
        }
    }
    for (code, kind, demand) in [
        (ON_DEMAND_STANDARD, "On-Demand", on_demand),
        (SPOT_STANDARD, "Spot", spot),
    ] {
        if !demand.other_families.is_empty() {
            results.push(Check::cannot(
                CHECK,
                format!(
                    "{} are not of the standard families, whose {kind} quota is the only one checked",
                    demand.other_families.join(", ")
                ),
            ));
        }
        if demand.parts.is_empty() && demand.unbounded.is_empty() {
            continue;
        }
        results.push(match target.capacity.vcpu_quota(code).await {
            Err(e) => Check::cannot(CHECK, format!("the {kind} vCPU quota {code}: {e}")),
            Ok(quota) => {
                let source = if quota.default { "AWS's default" } else { "applied" };
                let mut detail = format!(
                    "{kind} standard vCPUs, quota {code} {} ({source})",
                    quota.value
                );
                if !demand.parts.is_empty() {
                    let sum = if demand.parts.len() > 1 {
                        format!(" = {}", demand.vcpus)
                    } else {
                        String::new()
                    };
                    detail.push_str(&format!(": {}{sum} at most", demand.parts.join(" + ")));
                }
                if !demand.unbounded.is_empty() {
                    detail.push_str(&format!(
                        "; the autoscaler (step {}) has no cpu_limit and may launch until the quota stops it",
                        demand.unbounded.join(", ")
                    ));
                }
                if (demand.vcpus as f64) <= quota.value {
                    Check::pass(CHECK, format!("{detail}; instances already running count too"))
                } else {
                    Check::fail(
                        CHECK,
                        detail,
                        format!(
                            "request an increase of {code} to at least {} vCPUs (Service Quotas console, or aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {code} --desired-value {}), or lower the node group's max_size or the autoscaler's cpu_limit",
                            demand.vcpus, demand.vcpus
                        ),
                    )
                }
            }
        });
    }
    results
}

#[cfg(test)]
mod tests {
    use super::standard_family;

    #[test]
    fn the_standard_quota_covers_the_standard_families_only() {
        for covered in [
            "m5.2xlarge",
            "c5n.large",
            "r6gd.xlarge",
            "t3a.micro",
            "i4i.large",
            "z1d.large",
        ] {
            assert!(standard_family(covered), "{covered}");
        }
        for other in [
            "g5.xlarge",
            "p4d.24xlarge",
            "x2idn.16xlarge",
            "inf2.xlarge",
            "trn1.2xlarge",
            "dl1.24xlarge",
        ] {
            assert!(!standard_family(other), "{other}");
        }
    }
}
