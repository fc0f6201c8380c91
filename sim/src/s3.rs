//! S3 buckets and objects. Pod templates are read from here when a job names them by
//! `s3://bucket/key`, as EMR on EKS does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// An S3 bucket and its objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Bucket name.
    pub name: String,
    /// Region the bucket lives in.
    pub region: String,
    /// Objects by key (in snapshots, text bodies are strings: see `object_content`).
    #[serde(with = "crate::object_content")]
    pub objects: BTreeMap<String, Vec<u8>>,
    /// Creation time.
    pub created_at_ms: u64,
}

/// Splits `s3://bucket/key` into bucket and key.
pub fn parse_s3_uri(uri: &str) -> Result<(&str, &str), SimError> {
    let invalid = || SimError::InvalidS3Uri {
        uri: uri.to_string(),
    };
    let rest = uri.strip_prefix("s3://").ok_or_else(invalid)?;
    let (bucket, key) = rest.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    Ok((bucket, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_s3_uri("s3://b/templates/driver.yml").ok(),
            Some(("b", "templates/driver.yml"))
        );
        assert!(parse_s3_uri("s3://b").is_err());
        assert!(parse_s3_uri("https://b/k").is_err());
        assert!(parse_s3_uri("s3:///k").is_err());
    }
}
