//! EKS CreateNodegroup and DeleteNodegroup on a cluster that already runs: what a
//! client of the EKS API does after CreateCluster (eksctl's ClusterConfig makes the
//! cluster and its node groups in one command, `create_cluster`).

use crate::cluster::{NodeGroup, NodeGroupSpec};
use crate::commands::validate_node_group;
use crate::error::SimError;
use crate::event::TerminationReason;
use crate::world::World;

impl World {
    /// EKS CreateNodegroup: only on an ACTIVE cluster (EKS refuses it while the
    /// control plane is created); its instances launch now and register after
    /// `node_launch_ms`. A group of that name already there is
    /// `ResourceInUseException`.
    pub fn create_node_group(
        &mut self,
        cluster: &str,
        spec: NodeGroupSpec,
    ) -> Result<(), SimError> {
        let c = self.active_cluster(cluster)?;
        validate_node_group(&spec)?;
        if self.clusters[c as usize]
            .nodegroups
            .contains_key(&spec.name)
        {
            return Err(SimError::NodeGroupAlreadyExists {
                cluster: cluster.to_string(),
                name: spec.name,
            });
        }
        self.clusters[c as usize].nodegroups.insert(
            spec.name.clone(),
            NodeGroup {
                spec: spec.clone(),
                active: spec.desired_size == 0,
            },
        );
        self.launch_node_group(c, &spec);
        Ok(())
    }

    /// EKS DeleteNodegroup: its nodes go at once, with their pods (which the scheduler
    /// places elsewhere if it can), and the group with them.
    pub fn delete_node_group(&mut self, cluster: &str, name: &str) -> Result<(), SimError> {
        let c = self.cluster_index(cluster)?;
        if self.clusters[c as usize].nodegroups.remove(name).is_none() {
            return Err(SimError::NodeGroupNotFound {
                cluster: cluster.to_string(),
                name: name.to_string(),
            });
        }
        let nodes: Vec<u32> = self.clusters[c as usize]
            .nodes
            .iter()
            .copied()
            .filter(|&n| self.nodes[n as usize].nodegroup.as_deref() == Some(name))
            .collect();
        for n in nodes {
            self.remove_node(
                n,
                format!("node group {name} deleted"),
                TerminationReason::NodeRemoved,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::cluster::{ClusterSpec, NodeGroupSpec};
    use crate::error::SimError;
    use crate::params::SimParams;
    use crate::world::World;

    fn world_with_bare_cluster() -> World {
        let mut world = World::new(7, SimParams::default());
        world
            .create_cluster(ClusterSpec {
                nodegroups: Vec::new(),
                ..ClusterSpec::new(
                    "demo",
                    "1.35",
                    NodeGroupSpec::new("unused", "c5.2xlarge", 1),
                )
            })
            .expect("cluster");
        world
    }

    #[test]
    fn a_node_group_needs_an_active_cluster_and_then_brings_ready_nodes() {
        let mut world = world_with_bare_cluster();
        let group = NodeGroupSpec::new("ng", "c5.2xlarge", 2);
        let refused = world
            .create_node_group("demo", group.clone())
            .expect_err("still CREATING");
        assert_eq!(refused.aws_code(), "ResourceInUseException");
        world.run_until_idle();
        assert!(world.nodes("demo").expect("nodes").is_empty());
        world
            .create_node_group("demo", group.clone())
            .expect("created");
        let again = world.create_node_group("demo", group).expect_err("twice");
        assert!(matches!(again, SimError::NodeGroupAlreadyExists { .. }));
        world.run_until_idle();
        let nodes = world.nodes("demo").expect("nodes");
        assert_eq!(nodes.len(), 2);
        assert!(nodes.iter().all(|n| n.ready));
        assert!(world.cluster("demo").expect("cluster").nodegroups["ng"].active);
    }

    #[test]
    fn deleting_a_node_group_removes_its_nodes() {
        let mut world = world_with_bare_cluster();
        world.run_until_idle();
        world
            .create_node_group("demo", NodeGroupSpec::new("ng", "c5.2xlarge", 1))
            .expect("created");
        world.run_until_idle();
        world.delete_node_group("demo", "ng").expect("deleted");
        world.run_until_idle();
        assert!(world.nodes("demo").expect("nodes").is_empty());
        assert!(
            world
                .cluster("demo")
                .expect("cluster")
                .nodegroups
                .is_empty()
        );
        let gone = world.delete_node_group("demo", "ng").expect_err("gone");
        assert_eq!(gone.aws_code(), "ResourceNotFoundException");
    }
}
