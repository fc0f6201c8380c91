//! How a node's EC2 instance is bought, and the one place its spellings are read.

use serde::{Deserialize, Deserializer, Serialize};

/// EC2 purchase option of a node. Serialized as `OnDemand` / `Spot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CapacityType {
    /// On-demand instance.
    OnDemand,
    /// Spot instance.
    Spot,
}

impl CapacityType {
    /// Reads every spelling a capacity type comes in: this enum's `OnDemand`/`Spot`
    /// (the simulator's events), EKS's node group label `ON_DEMAND`/`SPOT` (the `aws`
    /// observer's events before they were typed) and Karpenter's label
    /// `on-demand`/`spot`; `None` for anything else.
    pub fn from_label(text: &str) -> Option<CapacityType> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "on-demand" | "ondemand" => Some(CapacityType::OnDemand),
            "spot" => Some(CapacityType::Spot),
            _ => None,
        }
    }

    /// The value of the EKS managed node group label (`ON_DEMAND` / `SPOT`).
    pub fn eks_label(self) -> &'static str {
        match self {
            CapacityType::OnDemand => "ON_DEMAND",
            CapacityType::Spot => "SPOT",
        }
    }

    /// The value of Karpenter's label (`on-demand` / `spot`).
    pub fn karpenter_label(self) -> &'static str {
        match self {
            CapacityType::OnDemand => "on-demand",
            CapacityType::Spot => "spot",
        }
    }
}

impl<'de> Deserialize<'de> for CapacityType {
    /// Any spelling [`CapacityType::from_label`] reads. Anything else (an empty
    /// string, Karpenter's newer `reserved`) is read as on-demand: that is what such
    /// capacity is billed at and EKS's default, and a stored event must not become
    /// unreadable over it (the report used to price unknown spellings the same way).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(CapacityType::from_label(&text).unwrap_or(CapacityType::OnDemand))
    }
}

impl std::fmt::Display for CapacityType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.karpenter_label())
    }
}

#[cfg(test)]
mod tests {
    use super::CapacityType;

    #[test]
    fn capacity_spellings_of_both_targets() {
        for spot in ["Spot", "SPOT", "spot"] {
            assert_eq!(CapacityType::from_label(spot), Some(CapacityType::Spot));
        }
        for od in ["OnDemand", "ON_DEMAND", "on-demand", "on_demand"] {
            assert_eq!(CapacityType::from_label(od), Some(CapacityType::OnDemand));
        }
        assert_eq!(CapacityType::from_label("reserved"), None);
        assert_eq!(CapacityType::from_label(""), None);
    }

    #[test]
    fn stored_spellings_deserialize_and_serialize_as_the_simulator_writes() {
        let read = |text: &str| -> CapacityType {
            serde_json::from_value(serde_json::Value::from(text)).expect("readable")
        };
        assert_eq!(read("SPOT"), CapacityType::Spot);
        assert_eq!(read("spot"), CapacityType::Spot);
        assert_eq!(read("Spot"), CapacityType::Spot);
        assert_eq!(read("ON_DEMAND"), CapacityType::OnDemand);
        assert_eq!(read("on-demand"), CapacityType::OnDemand);
        assert_eq!(read(""), CapacityType::OnDemand, "priced as on-demand");
        assert_eq!(
            read("RESERVED"),
            CapacityType::OnDemand,
            "priced as on-demand"
        );
        assert_eq!(
            serde_json::to_value(CapacityType::OnDemand).expect("serializes"),
            "OnDemand"
        );
        assert_eq!(
            serde_json::to_value(CapacityType::Spot).expect("serializes"),
            "Spot"
        );
    }
}
