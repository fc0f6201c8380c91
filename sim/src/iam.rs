//! IAM roles (job execution roles), with their inline policies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An IAM role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// `arn:aws:iam::<account>:role/<name>`.
    pub arn: String,
    /// The trust policy document (JSON text), as given.
    pub assume_role_policy: Option<String>,
    /// Inline policies by name (JSON text).
    pub policies: BTreeMap<String, String>,
    /// Creation time.
    pub created_at_ms: u64,
}
