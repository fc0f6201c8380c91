//! The Kubernetes versions EKS accepts for a new cluster, so that a runbook asking for
//! one EKS no longer offers fails on `sim` in seconds instead of after minutes on
//! `aws`.
//!
//! A minor version gets 14 months of standard support after its EKS release and 12 of
//! extended support after that; EKS creates clusters of any version in either
//! (<https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html>, the
//! "Amazon EKS Kubernetes release calendar"). The table is dated rather than computed
//! from today's date, so that the simulator stays deterministic: update it (and
//! [`AS_OF`]) when the calendar moves.

/// The date the table below describes.
pub const AS_OF: &str = "2026-12-04";

/// Whether a version is in standard support (no extra charge) or extended support.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// The first 14 months.
    Standard,
    /// The 12 months after standard support, at an extra hourly charge per cluster.
    Extended,
}

/// A Kubernetes minor version EKS offers, with its support dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EksVersion {
    /// `major.minor`, as `CreateCluster` takes it.
    pub version: &'static str,
    /// Support on [`AS_OF`].
    pub support: Support,
    /// Last day of standard support.
    pub standard_until: &'static str,
    /// Last day of extended support; no new clusters after it.
    pub extended_until: &'static str,
}

/// The versions EKS offers on [`AS_OF`], newest first (1.31's extended support ended
/// on 2026-11-26, 1.34's standard support on 2026-12-02).
pub const OFFERED: [EksVersion; 4] = [
    EksVersion {
        version: "1.35",
        support: Support::Standard,
        standard_until: "2027-03-27",
        extended_until: "2028-03-27",
    },
    EksVersion {
        version: "1.34",
        support: Support::Extended,
        standard_until: "2026-12-02",
        extended_until: "2027-12-02",
    },
    EksVersion {
        version: "1.33",
        support: Support::Extended,
        standard_until: "2026-07-29",
        extended_until: "2027-07-29",
    },
    EksVersion {
        version: "1.32",
        support: Support::Extended,
        standard_until: "2026-03-23",
        extended_until: "2027-03-23",
    },
];

/// The version EKS uses when `CreateCluster` names none: the newest in standard
/// support.
pub const DEFAULT: &str = "1.35";

/// The offered version `version` names, if EKS offers it.
pub fn offered(version: &str) -> Option<&'static EksVersion> {
    OFFERED.iter().find(|v| v.version == version)
}

/// The versions EKS offers, for messages (`1.35, 1.34, 1.33, 1.32`).
pub fn offered_list() -> String {
    OFFERED
        .iter()
        .map(|v| v.version)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_offered_in_standard_support() {
        assert_eq!(offered(DEFAULT).map(|v| v.support), Some(Support::Standard));
    }

    #[test]
    fn the_walkthrough_version_and_unknown_spellings_are_not_offered() {
        for version in ["1.22", "1.31", "1.36", "1.35.0", "v1.35", ""] {
            assert!(offered(version).is_none(), "{version}");
        }
        assert_eq!(offered_list(), "1.35, 1.34, 1.33, 1.32");
    }

    #[test]
    fn dates_are_ordered_and_standard_support_matches_the_table_date() {
        for v in OFFERED {
            assert!(v.standard_until < v.extended_until, "{}", v.version);
            assert!(
                AS_OF <= v.extended_until,
                "{} is no longer offered",
                v.version
            );
            let standard = AS_OF <= v.standard_until;
            assert_eq!(standard, v.support == Support::Standard, "{}", v.version);
        }
    }
}
