//! A Karpenter NodePool kept in the cluster (a stored object (`crate::stored_object`)
//! of kind `NodePool`, as a client applies it to the served API) is what the world's
//! autoscaler does: writing one configures the autoscaler from its spec (the same
//! reading of a NodePool that `apply-manifest` makes, [`crate::manifest`]), and
//! deleting it stops the autoscaler and removes the nodes it launched, as Karpenter
//! drains and terminates the nodes of a deleted NodePool.

use serde_json::{Value, json};

use crate::autoscaler::AutoscalerSpec;
use crate::error::SimError;
use crate::event::TerminationReason;
use crate::manifest::{Manifest, parse_object};
use crate::stored_object::{ObjectKey, ObjectWrite, StoredKind};
use crate::world::World;

/// The autoscaler that writing `write` as `key` configures: `None` for any kind but a
/// NodePool, an error (`InvalidManifest`, the API server's 422) for a NodePool the
/// autoscaler cannot follow (an unknown capacity type, a bad duration or quantity).
pub(crate) fn autoscaler_of(
    key: &ObjectKey,
    write: &ObjectWrite,
) -> Result<Option<AutoscalerSpec>, SimError> {
    if key.kind != StoredKind::NodePool {
        return Ok(None);
    }
    let mut object = json!({
        "apiVersion": key.kind.api_version(),
        "kind": key.kind.name(),
        "metadata": {"name": key.name},
    });
    if let Value::Object(fields) = &mut object {
        fields.extend(write.content.clone());
    }
    match parse_object(&object)? {
        Manifest::Autoscaler(spec) => Ok(Some(spec)),
        _ => Err(SimError::InvalidManifest {
            reason: format!("NodePool {} is not a Karpenter NodePool", key.name),
        }),
    }
}

impl World {
    /// After NodePool `name` of `cluster` was deleted: the autoscaler it configured
    /// stops, and the nodes it launched are removed (their pods deleted, as a drain
    /// evicts them).
    pub(crate) fn node_pool_deleted(&mut self, cluster: &str, name: &str) -> Result<(), SimError> {
        let c = self.cluster_index(cluster)? as usize;
        let configured = self.clusters[c]
            .autoscaler
            .as_ref()
            .is_some_and(|a| a.spec.name == name);
        if !configured {
            return Ok(());
        }
        self.disable_autoscaling(cluster)?;
        let launched: Vec<u32> = self.clusters[c]
            .nodes
            .iter()
            .copied()
            .filter(|&n| self.nodes[n as usize].provisioner.as_deref() == Some(name))
            .collect();
        for n in launched {
            self.remove_node(
                n,
                format!("its NodePool {name} was deleted"),
                TerminationReason::NodeRemoved,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::SimError;
    use crate::node::CapacityType;
    use crate::stored_object::tests::platform;
    use crate::stored_object::{ObjectKey, ObjectWrite, StoredKind};

    fn node_pool(capacity_types: &[&str]) -> ObjectWrite {
        ObjectWrite::from_api(&json!({
            "spec": {
                "template": {
                    "metadata": {"labels": {"intent": "emr-job"}},
                    "spec": {
                        "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": capacity_types}],
                        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "spark"},
                    },
                },
                "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "30s"},
            }
        }))
    }

    #[test]
    fn a_node_pool_written_configures_the_autoscaler_and_deleted_stops_it() {
        let (mut world, _, cluster) = platform();
        let key = ObjectKey::new(StoredKind::NodePool, "", "spark");
        world
            .create_kube_object(&cluster, key.clone(), node_pool(&["spot"]))
            .expect("created");
        let spec = |world: &crate::World| {
            world
                .cluster(&cluster)
                .expect("the cluster")
                .autoscaler
                .as_ref()
                .map(|a| (a.spec.name.clone(), a.spec.capacity_types.clone()))
        };
        assert_eq!(
            spec(&world),
            Some(("spark".to_string(), vec![CapacityType::Spot]))
        );
        world
            .replace_kube_object(&cluster, &key, node_pool(&["spot", "on-demand"]), None)
            .expect("replaced");
        assert_eq!(
            spec(&world).map(|s| s.1),
            Some(vec![CapacityType::Spot, CapacityType::OnDemand])
        );
        world.delete_kube_object(&cluster, &key).expect("deleted");
        assert_eq!(spec(&world), None);
    }

    #[test]
    fn a_node_pool_the_autoscaler_cannot_follow_is_refused_and_not_kept() {
        let (mut world, _, cluster) = platform();
        let key = ObjectKey::new(StoredKind::NodePool, "", "spark");
        let refused = world.create_kube_object(&cluster, key.clone(), node_pool(&["reserved"]));
        assert!(
            matches!(&refused, Err(SimError::InvalidManifest { reason }) if reason.contains("unknown capacity type `reserved`")),
            "{refused:?}"
        );
        assert_eq!(
            world.kube_object(&cluster, &key).expect("the cluster"),
            None
        );
    }
}
