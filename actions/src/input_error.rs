//! Why a rendered `with:` does not fit an action's input struct, and in which field:
//! serde alone says "invalid value: integer `-1`, expected u32" and nothing about
//! where, so the path is tracked while deserializing.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// One step of the way from `with:` to the field that does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A key of a mapping (a field of the input, or of a map inside it).
    Key(String),
    /// An item of a list.
    Index(usize),
}

/// A step's input that does not deserialize into its action's input struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// Where in `with:`, outermost first; empty when the problem is the input as a
    /// whole (a missing or unknown field).
    pub path: Vec<PathSegment>,
    /// serde's own words, e.g. ``invalid value: integer `-1`, expected u32``.
    pub message: String,
}

impl InputError {
    /// The path as a runbook author writes it: `nodes`, `tags.team`, `argv[0]`.
    pub fn dotted_path(&self) -> String {
        let mut text = String::new();
        for segment in &self.path {
            match segment {
                PathSegment::Key(key) => {
                    if !text.is_empty() {
                        text.push('.');
                    }
                    text.push_str(key);
                }
                PathSegment::Index(index) => text.push_str(&format!("[{index}]")),
            }
        }
        text
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "input `{}`: {}", self.dotted_path(), self.message)
        }
    }
}

impl std::error::Error for InputError {}

/// Deserializes a rendered input (a `serde_json::Value`, owned or borrowed), naming
/// the field that does not fit.
pub fn deserialize_input<'de, D, T>(input: D) -> Result<T, InputError>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    serde_path_to_error::deserialize(input).map_err(|e| {
        let path = e
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(PathSegment::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        InputError {
            path,
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only deserialized")]
    struct Input {
        nodes: u32,
        #[serde(default)]
        groups: Vec<Group>,
    }

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "only deserialized")]
    struct Group {
        size: u8,
    }

    #[test]
    fn names_the_field_that_does_not_fit() {
        let err = deserialize_input::<_, Input>(json!({"nodes": -1})).expect_err("negative");
        assert_eq!(err.path, [PathSegment::Key("nodes".into())]);
        assert_eq!(
            err.to_string(),
            "input `nodes`: invalid value: integer `-1`, expected u32"
        );
        let err = deserialize_input::<_, Input>(
            json!({"nodes": 1, "groups": [{"size": 1}, {"size": 300}]}),
        )
        .expect_err("too big");
        assert_eq!(err.dotted_path(), "groups[1].size");
    }

    #[test]
    fn a_missing_field_has_no_path_and_an_unknown_one_is_its_own_path() {
        let err = deserialize_input::<_, Input>(json!({})).expect_err("missing");
        assert_eq!(err.to_string(), "missing field `nodes`");
        let err =
            deserialize_input::<_, Input>(json!({"nodes": 1, "nodez": 2})).expect_err("unknown");
        assert_eq!(err.path, [PathSegment::Key("nodez".into())]);
        assert!(err.message.starts_with("unknown field `nodez`"), "{err}");
    }
}
