//! What exists in a world, kind by kind: what `runbook worlds` shows of a named world
//! that runs share, so a person sees what a set-up left for the next run, or that a
//! tear-down left nothing behind.

use serde::Serialize;

use crate::virtual_cluster::VirtualClusterState;
use crate::world::World;

/// The resources of a world that exist now (deleted and finished ones are left out),
/// each kind in the world's own order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// EKS clusters that are not deleted.
    pub clusters: Vec<String>,
    /// The nodes of those clusters.
    pub nodes: usize,
    /// EMR virtual clusters that are not terminated.
    pub virtual_clusters: Vec<String>,
    /// EMR job runs that have not ended (their ids).
    pub job_runs: Vec<String>,
    /// IAM roles.
    pub roles: Vec<String>,
    /// CloudWatch log groups.
    pub log_groups: Vec<String>,
    /// S3 buckets.
    pub buckets: Vec<String>,
}

impl Inventory {
    /// Whether nothing exists: a new world, or one torn down completely.
    pub fn is_empty(&self) -> bool {
        *self == Inventory::default()
    }

    /// One line: `1 cluster (2 nodes), 5 virtual clusters, 5 roles, ...`, or `empty`.
    pub fn summary(&self) -> String {
        fn count(n: usize, one: &str, many: &str) -> Option<String> {
            match n {
                0 => None,
                1 => Some(format!("1 {one}")),
                n => Some(format!("{n} {many}")),
            }
        }
        let clusters = count(self.clusters.len(), "cluster", "clusters").map(|c| {
            match count(self.nodes, "node", "nodes") {
                Some(nodes) => format!("{c} ({nodes})"),
                None => c,
            }
        });
        let parts: Vec<String> = [
            clusters,
            count(
                self.virtual_clusters.len(),
                "virtual cluster",
                "virtual clusters",
            ),
            count(
                self.job_runs.len(),
                "job run not ended",
                "job runs not ended",
            ),
            count(self.roles.len(), "role", "roles"),
            count(self.log_groups.len(), "log group", "log groups"),
            count(self.buckets.len(), "bucket", "buckets"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "empty".to_string()
        } else {
            parts.join(", ")
        }
    }
}

impl World {
    /// What exists in this world now.
    pub fn inventory(&self) -> Inventory {
        let clusters: Vec<&str> = self.clusters().map(|c| c.name.as_str()).collect();
        let nodes = clusters
            .iter()
            .filter_map(|name| self.nodes(name).ok())
            .map(|nodes| nodes.len())
            .sum();
        Inventory {
            clusters: clusters.iter().map(|name| (*name).to_string()).collect(),
            nodes,
            virtual_clusters: self
                .virtual_clusters()
                .filter(|vc| vc.state != VirtualClusterState::Terminated)
                .map(|vc| vc.name.clone())
                .collect(),
            job_runs: self
                .job_runs()
                .filter(|job| !job.state.is_terminal())
                .map(|job| job.id.to_string())
                .collect(),
            roles: self.roles().map(|role| role.name.clone()).collect(),
            log_groups: self.log_groups().map(|group| group.name.clone()).collect(),
            buckets: self.buckets().map(|bucket| bucket.name.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{self, DemoOptions};
    use crate::params::SimParams;

    #[test]
    fn a_new_world_is_empty_and_a_set_up_one_lists_what_it_holds() {
        let mut world = World::new(1, SimParams::default());
        assert!(world.inventory().is_empty());
        assert_eq!(world.inventory().summary(), "empty");
        demo::setup(&mut world, &DemoOptions::default()).expect("setup");
        let inventory = world.inventory();
        assert!(!inventory.is_empty());
        assert_eq!(inventory.clusters.len(), 1);
        assert!(inventory.nodes >= 1);
        assert!(
            inventory.summary().starts_with("1 cluster ("),
            "{}",
            inventory.summary()
        );
    }

    #[test]
    fn the_summary_counts_each_kind() {
        let inventory = Inventory {
            clusters: vec!["c".into()],
            nodes: 2,
            virtual_clusters: vec!["a".into(), "b".into()],
            job_runs: vec!["j".into()],
            roles: vec!["r".into()],
            log_groups: Vec::new(),
            buckets: vec!["x".into(), "y".into(), "z".into()],
        };
        assert_eq!(
            inventory.summary(),
            "1 cluster (2 nodes), 2 virtual clusters, 1 job run not ended, 1 role, 3 buckets"
        );
    }
}
