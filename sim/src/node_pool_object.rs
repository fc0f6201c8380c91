//! A Karpenter NodePool kept in the cluster (a stored object (`crate::stored_object`)
//! of kind `NodePool`, as a client applies it to the served API) is what the world's
//! autoscaler does: writing one configures the autoscaler from its spec (the same
//! reading of a NodePool that `apply-manifest` makes, [`crate::manifest`]), and
//! deleting it stops the autoscaler and removes the nodes it launched, as Karpenter
//! drains and terminates the nodes of a deleted NodePool. A simulated cluster has one
//! autoscaler: it follows the NodePool written last, and deleting another NodePool
//! leaves it as it is.

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
    autoscaler_spec(&object).map(Some)
}

/// The autoscaler a `karpenter.sh` NodePool (or Provisioner) configures, as a cluster
/// with Karpenter reads it: the `sim` target's `enable-autoscaling` hands the
/// simulator the NodePool the `aws` target applies
/// (`runbook_backend::karpenter_node_pool`), and a served cluster reads the one a
/// client applied, both through here.
pub fn autoscaler_spec(node_pool: &Value) -> Result<AutoscalerSpec, SimError> {
    match parse_object(node_pool)? {
        Manifest::Autoscaler(spec) => Ok(spec),
        _ => Err(SimError::InvalidManifest {
            reason: format!(
                "{} is not a Karpenter NodePool",
                node_pool.pointer("/metadata/name").unwrap_or(&Value::Null)
            ),
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
    use std::collections::BTreeMap;

    use runbook_backend::AutoscalingRequest;
    use runbook_backend::karpenter_node_pool;
    use serde_json::json;

    use crate::SimError;
    use crate::node::CapacityType;
    use crate::stored_object::tests::platform;
    use crate::stored_object::{ObjectKey, ObjectWrite, StoredKind};

    /// What a client writes of the NodePool `enable-autoscaling` applies, with
    /// `capacity_types` as its capacity-type requirement (whatever they are: a client
    /// may write what `enable-autoscaling` would refuse).
    fn node_pool(capacity_types: &[&str]) -> ObjectWrite {
        let request = AutoscalingRequest {
            name: "spark".into(),
            capacity_types: vec!["spot".into()],
            instance_types: Vec::new(),
            labels: BTreeMap::from([("intent".to_string(), "emr-job".to_string())]),
            ttl_seconds_after_empty: Some(30),
            cpu_limit: None,
            node_role: None,
        };
        let mut pool = karpenter_node_pool::node_pool(&request).expect("a NodePool");
        let requirements = pool
            .pointer_mut("/spec/template/spec/requirements")
            .and_then(serde_json::Value::as_array_mut)
            .expect("requirements");
        for requirement in requirements {
            if requirement["key"] == "karpenter.sh/capacity-type" {
                requirement["values"] = json!(capacity_types);
            }
        }
        ObjectWrite::from_api(&pool)
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
    fn a_node_pool_and_its_autoscaler_survive_a_snapshot() {
        let (mut world, _, cluster) = platform();
        let key = ObjectKey::new(StoredKind::NodePool, "", "spark");
        let created = world
            .create_kube_object(&cluster, key.clone(), node_pool(&["spot"]))
            .expect("created");
        let snapshot = serde_json::to_vec(&world).expect("a snapshot");
        let restored: crate::World = serde_json::from_slice(&snapshot).expect("restored");
        assert_eq!(
            restored.kube_object(&cluster, &key).expect("the cluster"),
            Some(&created)
        );
        let autoscaler = restored
            .cluster(&cluster)
            .expect("the cluster")
            .autoscaler
            .as_ref()
            .map(|a| a.spec.name.clone());
        assert_eq!(autoscaler.as_deref(), Some("spark"));
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
