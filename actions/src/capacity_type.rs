//! How a runbook names a capacity type (how EC2 instances are bought).
//!
//! One spelling is documented, Karpenter's and the outputs': `on-demand` and `spot`.
//! EKS's API and eksctl spell them `ON_DEMAND` and `SPOT`, and authors coming from
//! there write that, so both spellings are accepted wherever a capacity type is an
//! input (`create-cluster`'s node group, `enable-autoscaling`); nothing else is.

use std::borrow::Cow;

use runbook_backend::events::CapacityType;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

/// Every spelling an input accepts: the documented ones first.
const SPELLINGS: [(&str, CapacityType); 4] = [
    ("on-demand", CapacityType::OnDemand),
    ("spot", CapacityType::Spot),
    ("ON_DEMAND", CapacityType::OnDemand),
    ("SPOT", CapacityType::Spot),
];

/// A capacity type as a step's input gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CapacityTypeInput(pub CapacityType);

impl Default for CapacityTypeInput {
    /// On-demand: EKS's default, and what the walkthrough's drivers are pinned to.
    fn default() -> Self {
        CapacityTypeInput(CapacityType::OnDemand)
    }
}

impl<'de> Deserialize<'de> for CapacityTypeInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SPELLINGS
            .iter()
            .find(|(spelling, _)| *spelling == text)
            .map(|(_, t)| CapacityTypeInput(*t))
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown capacity type `{text}`: use `on-demand` or `spot` (EKS's `ON_DEMAND` and `SPOT` are accepted too)"
                ))
            })
    }
}

impl JsonSchema for CapacityTypeInput {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "CapacityType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = SPELLINGS.iter().map(|(s, _)| *s).collect();
        json_schema!({
            "type": "string",
            "enum": names,
            "description": "`on-demand` or `spot` (EKS's spelling, `ON_DEMAND` or `SPOT`, is accepted too)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_are_read_and_nothing_else() {
        let read = |text: &str| serde_json::from_value::<CapacityTypeInput>(text.into());
        for (text, expected) in SPELLINGS {
            assert_eq!(read(text).expect(text).0, expected);
        }
        let err = read("Spot").expect_err("not a spelling");
        assert_eq!(
            err.to_string(),
            "unknown capacity type `Spot`: use `on-demand` or `spot` (EKS's `ON_DEMAND` and `SPOT` are accepted too)"
        );
    }

    #[test]
    fn the_schema_lists_every_accepted_spelling_documented_ones_first() {
        let schema = schemars::schema_for!(CapacityTypeInput).to_value();
        assert_eq!(
            schema["enum"],
            serde_json::json!(["on-demand", "spot", "ON_DEMAND", "SPOT"])
        );
    }
}
