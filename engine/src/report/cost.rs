//! What the nodes of a run cost, estimated: node-seconds × an hourly price per instance
//! type and capacity type.
//!
//! # The price table
//!
//! - **On-demand**: the EC2 On-Demand list prices for Linux in US East (Ohio),
//!   `us-east-2`, from <https://aws.amazon.com/ec2/pricing/on-demand/> as listed in 2025.
//!   Ohio lists the same prices as N. Virginia for these families, and they have not
//!   changed since each family launched (c5/m5 2017, r5 2018, m6i 2021); the
//!   simulator's instance table (`sim/src/instance_types.rs`) uses the same figures.
//! - **Spot**: there is no fixed spot price: it changes every few minutes per
//!   availability zone. The table uses 35 % of the on-demand price (a 65 % saving),
//!   the middle of the savings the EC2 Spot Instance Advisor shows for these families
//!   in `us-east-2`. It is an assumption, stated as one in the report; the price
//!   actually paid is in `aws ec2 describe-spot-price-history` or the bill.
//!
//! Linux instances are billed per second with a one-minute minimum, so each node is
//! charged for `max(60 s, its lifetime)`. EBS volumes, the EKS control plane
//! ($0.10/h) and EMR on EKS's own per-vCPU/GB charge are not included: the report
//! estimates what the nodes cost, which is what preemption and autoscaling change.

use runbook_backend::events::CapacityType;

/// Where the prices come from, shown in the report next to the estimate.
pub const PRICE_SOURCE: &str = "EC2 On-Demand list prices, Linux, US East (Ohio) us-east-2, \
     aws.amazon.com/ec2/pricing/on-demand (as listed in 2025); spot estimated at 35% of \
     on-demand (spot prices change per availability zone every few minutes)";

/// The region the price table is for.
pub const PRICE_REGION: &str = "us-east-2";

/// Spot price as a fraction of on-demand (see the module documentation).
pub const SPOT_FRACTION: f64 = 0.35;

/// Linux per-second billing charges at least this much per instance.
pub const MINIMUM_BILLED_MS: i64 = 60_000;

/// On-demand US dollars per hour, Linux, `us-east-2`.
pub const ON_DEMAND_USD_PER_HOUR: &[(&str, f64)] = &[
    ("c5.large", 0.085),
    ("c5.xlarge", 0.17),
    ("c5.2xlarge", 0.34),
    ("c5.4xlarge", 0.68),
    ("m5.large", 0.096),
    ("m5.xlarge", 0.192),
    ("m5.2xlarge", 0.384),
    ("m5.4xlarge", 0.768),
    ("m6i.large", 0.096),
    ("m6i.xlarge", 0.192),
    ("m6i.2xlarge", 0.384),
    ("m6i.4xlarge", 0.768),
    ("r5.large", 0.126),
    ("r5.xlarge", 0.252),
    ("r5.2xlarge", 0.504),
    ("r5.4xlarge", 1.008),
];

/// The hourly price of an instance, if the table has its type.
pub fn usd_per_hour(instance_type: &str, capacity: CapacityType) -> Option<f64> {
    let on_demand = ON_DEMAND_USD_PER_HOUR
        .iter()
        .find(|(name, _)| *name == instance_type)
        .map(|(_, price)| *price)?;
    Some(match capacity {
        CapacityType::OnDemand => on_demand,
        CapacityType::Spot => on_demand * SPOT_FRACTION,
    })
}

/// One line of the estimate: the nodes of one instance type and capacity type.
#[derive(Debug, Clone, PartialEq)]
pub struct CostLine {
    /// EC2 instance type.
    pub instance_type: String,
    /// On-demand or spot.
    pub capacity: CapacityType,
    /// How many nodes.
    pub nodes: usize,
    /// Billed node-seconds (each node at least [`MINIMUM_BILLED_MS`]).
    pub billed_seconds: f64,
    /// Hourly price, if the table has the type.
    pub usd_per_hour: Option<f64>,
    /// `billed_seconds / 3600 × usd_per_hour`, if priced.
    pub usd: Option<f64>,
}

/// The estimate for a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostEstimate {
    /// One line per (instance type, capacity type), sorted by type.
    pub lines: Vec<CostLine>,
    /// The sum of the priced lines.
    pub total_usd: f64,
    /// Instance types the table has no price for (not in the total).
    pub unpriced: Vec<String>,
}

/// A node's life, as far as billing is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct BilledNode<'a> {
    /// EC2 instance type.
    pub instance_type: &'a str,
    /// On-demand or spot.
    pub capacity: CapacityType,
    /// How long it existed, ms (launch to termination, or to the end of the record).
    pub lifetime_ms: i64,
}

/// Prices node lifetimes with the table.
pub fn estimate<'a>(nodes: impl IntoIterator<Item = BilledNode<'a>>) -> CostEstimate {
    let mut lines: Vec<CostLine> = Vec::new();
    for node in nodes {
        let billed = node.lifetime_ms.max(MINIMUM_BILLED_MS) as f64 / 1000.0;
        match lines
            .iter_mut()
            .find(|l| l.instance_type == node.instance_type && l.capacity == node.capacity)
        {
            Some(line) => {
                line.nodes += 1;
                line.billed_seconds += billed;
            }
            None => lines.push(CostLine {
                instance_type: node.instance_type.to_owned(),
                capacity: node.capacity,
                nodes: 1,
                billed_seconds: billed,
                usd_per_hour: usd_per_hour(node.instance_type, node.capacity),
                usd: None,
            }),
        }
    }
    lines.sort_by(|a, b| {
        (a.instance_type.as_str(), a.capacity).cmp(&(b.instance_type.as_str(), b.capacity))
    });
    let mut estimate = CostEstimate::default();
    for mut line in lines {
        match line.usd_per_hour {
            Some(price) => {
                let usd = line.billed_seconds / 3600.0 * price;
                line.usd = Some(usd);
                estimate.total_usd += usd;
            }
            None => {
                if !estimate.unpriced.contains(&line.instance_type) {
                    estimate.unpriced.push(line.instance_type.clone());
                }
            }
        }
        estimate.lines.push(line);
    }
    estimate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_m5_m6i_c5_r5_from_large_to_4xlarge() {
        for family in ["m5", "m6i", "c5", "r5"] {
            for size in ["large", "xlarge", "2xlarge", "4xlarge"] {
                let name = format!("{family}.{size}");
                assert!(
                    usd_per_hour(&name, CapacityType::OnDemand).is_some(),
                    "{name} has no price"
                );
            }
        }
        // Each size up doubles vCPU, memory and price.
        for family in ["m5", "m6i", "c5", "r5"] {
            let p = |size: &str| {
                usd_per_hour(&format!("{family}.{size}"), CapacityType::OnDemand).expect("priced")
            };
            assert!((p("4xlarge") - 8.0 * p("large")).abs() < 1e-9, "{family}");
        }
    }

    #[test]
    fn node_seconds_times_price_with_a_one_minute_minimum() {
        let estimate = estimate([
            // One hour of c5.2xlarge on-demand: $0.34.
            BilledNode {
                instance_type: "c5.2xlarge",
                capacity: CapacityType::OnDemand,
                lifetime_ms: 3_600_000,
            },
            // Ten seconds of spot is billed as a minute: 60/3600 × 0.085 × 0.35.
            BilledNode {
                instance_type: "c5.large",
                capacity: CapacityType::Spot,
                lifetime_ms: 10_000,
            },
            BilledNode {
                instance_type: "t2.micro",
                capacity: CapacityType::OnDemand,
                lifetime_ms: 3_600_000,
            },
        ]);
        let spot = 60.0 / 3600.0 * 0.085 * 0.35;
        assert!(
            (estimate.total_usd - (0.34 + spot)).abs() < 1e-9,
            "{estimate:?}"
        );
        assert_eq!(estimate.unpriced, ["t2.micro"]);
        let kinds: Vec<_> = estimate
            .lines
            .iter()
            .map(|l| (l.instance_type.as_str(), l.capacity, l.billed_seconds))
            .collect();
        assert_eq!(
            kinds,
            [
                ("c5.2xlarge", CapacityType::OnDemand, 3600.0),
                ("c5.large", CapacityType::Spot, 60.0),
                ("t2.micro", CapacityType::OnDemand, 3600.0)
            ]
        );
    }
}
