//! ARN partitions. An ARN's second field is its partition (`aws`, `aws-cn`,
//! `aws-us-gov`, ...), and every ARN runbook writes (OIDC providers, the EMR
//! service-linked role in aws-auth, buckets, IRSA trust statements) must carry the
//! partition of the account it acts in, or IAM and the authenticator match nothing.

/// The partition of `arn` (`arn:PARTITION:service:region:account:resource`), if it is
/// an ARN.
pub fn partition_of_arn(arn: &str) -> Option<&str> {
    let mut fields = arn.split(':');
    match (fields.next(), fields.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => Some(partition),
        _ => None,
    }
}

/// The partition of the account `caller_arn` (STS's answer) acts in, else, when that is
/// no ARN, the region's.
pub fn partition_of_caller<'a>(caller_arn: &'a str, region: &str) -> &'a str {
    partition_of_arn(caller_arn).unwrap_or_else(|| partition_of_region(region))
}

/// The partition a region belongs to, by its documented prefixes; for when no ARN of
/// the account is at hand (a region belongs to exactly one partition).
pub fn partition_of_region(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

#[cfg(test)]
mod tests {
    use super::{partition_of_arn, partition_of_region};

    #[test]
    fn an_arns_partition_is_its_second_field() {
        assert_eq!(
            partition_of_arn("arn:aws-cn:iam::123456789012:user/demo"),
            Some("aws-cn")
        );
        assert_eq!(
            partition_of_arn("arn:aws-us-gov:sts::123456789012:assumed-role/a/b"),
            Some("aws-us-gov")
        );
        assert_eq!(partition_of_arn("presenter"), None);
        assert_eq!(partition_of_arn("arn::iam::1:user/x"), None);
        assert_eq!(partition_of_arn(""), None);
    }

    #[test]
    fn regions_belong_to_their_partition() {
        assert_eq!(partition_of_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_of_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of_region("us-iso-east-1"), "aws-iso");
        assert_eq!(partition_of_region("us-isob-east-1"), "aws-iso-b");
        assert_eq!(partition_of_region("eu-west-1"), "aws");
        assert_eq!(partition_of_region("us-east-2"), "aws");
    }
}
