//! EMR on EKS's access to a namespace, on the simulated cluster: what the `aws`
//! target has eksctl's way (the Role and RoleBinding `emr-containers` in the
//! namespace, EMR's service-linked role mapped to the user `emr-containers` in
//! ConfigMap `kube-system/aws-auth`), from the same definitions
//! ([`runbook_emr_rbac`]). The simulated EMR checks no permissions, but the objects
//! are there for clients of the served API to read, and a later grant adopts them.

use runbook_backend::arn::partition_of_region;
use runbook_backend::{ActionError, TargetResult};
use runbook_emr_rbac::{
    AWS_AUTH, AWS_AUTH_NAMESPACE, EMR_NAME, MAP_ROLES, add_emr_mapping, emr_role, emr_role_binding,
    emr_service_role_arn,
};
use runbook_sim::{ObjectKey, ObjectWrite, StoredKind, StoredObject, World};
use serde_json::{Value, json};

use super::SimTarget;

/// Grants EMR access to `namespace` of `cluster` for `account_id`'s EMR: replaces an
/// older Role or RoleBinding, and adds the mapping to aws-auth (created if the
/// cluster has none) unless it is there, keeping every other entry. The namespace
/// must exist, as on AWS.
pub(crate) fn grant(
    target: &SimTarget,
    cluster: &str,
    namespace: &str,
    account_id: &str,
) -> TargetResult<()> {
    let resource = format!("{namespace}/{EMR_NAME}");
    let exists = target.read("Kubernetes", "get namespace", namespace, |w| {
        w.cluster(cluster).map(|c| c.namespaces.contains(namespace))
    })?;
    if !exists {
        return Err(ActionError::Service {
            service: "Kubernetes",
            operation: "create role",
            resource,
            code: "NotFound".into(),
            message: format!("namespaces \"{namespace}\" not found"),
        });
    }
    let role =
        ObjectWrite::from_api(&serde_json::to_value(emr_role(namespace)).unwrap_or_default());
    let binding = ObjectWrite::from_api(
        &serde_json::to_value(emr_role_binding(namespace)).unwrap_or_default(),
    );
    target.act("Kubernetes", "create role", &resource, |w| {
        w.apply_kube_object(
            cluster,
            ObjectKey::new(StoredKind::Role, namespace, EMR_NAME),
            role,
        )?;
        w.apply_kube_object(
            cluster,
            ObjectKey::new(StoredKind::RoleBinding, namespace, EMR_NAME),
            binding,
        )
        .map(drop)
    })?;
    let aws_auth = format!("{AWS_AUTH_NAMESPACE}/{AWS_AUTH}");
    target
        .act("Kubernetes", "replace configmap", &aws_auth, |w| {
            map_emr_role(w, cluster, account_id)
        })?
        .map_err(ActionError::Failed)
}

/// Adds EMR's mapping to aws-auth in `world`; the outer error is the world's, the
/// inner one aws-auth's `mapRoles` that is no YAML list.
fn map_emr_role(
    world: &mut World,
    cluster: &str,
    account_id: &str,
) -> Result<Result<(), String>, runbook_sim::SimError> {
    let region = world.cluster(cluster)?.region.clone();
    let arn = emr_service_role_arn(partition_of_region(&region), account_id);
    let key = ObjectKey::new(StoredKind::ConfigMap, AWS_AUTH_NAMESPACE, AWS_AUTH);
    let mut write = world
        .kube_object(cluster, &key)?
        .map(StoredObject::as_write)
        .unwrap_or_default();
    let map_roles = write
        .content
        .get("data")
        .and_then(|d| d.get(MAP_ROLES))
        .and_then(Value::as_str);
    let merged = match add_emr_mapping(map_roles, &arn) {
        Ok(Some(merged)) => merged,
        Ok(None) => return Ok(Ok(())),
        Err(e) => return Ok(Err(e)),
    };
    let data = write.content.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    data[MAP_ROLES] = json!(merged);
    world.apply_kube_object(cluster, key, write)?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use runbook_backend::VirtualClock;
    use runbook_sim::demo::{self, DemoOptions};

    use super::*;

    const NAMESPACE: &str = "monthly-batch";

    fn platform() -> (std::sync::Arc<SimTarget>, String, String) {
        let target = SimTarget::new(7, VirtualClock::new(0, None));
        demo::setup(&mut target.world(), &DemoOptions::default()).expect("the demo's platform");
        let world = target.world();
        let cluster = world.clusters().next().expect("a cluster").name.clone();
        let account = world.params().account_id.clone();
        drop(world);
        (target, cluster, account)
    }

    fn stored(target: &SimTarget, cluster: &str, key: &ObjectKey) -> Option<StoredObject> {
        target
            .world()
            .kube_object(cluster, key)
            .expect("the cluster")
            .cloned()
    }

    #[test]
    fn a_grant_stores_what_eksctl_makes_and_a_second_adopts_it() {
        let (target, cluster, account) = platform();
        let events = target.world().events().len();
        grant(&target, &cluster, NAMESPACE, &account).expect("granted");
        let role_key = ObjectKey::new(StoredKind::Role, NAMESPACE, EMR_NAME);
        let role = stored(&target, &cluster, &role_key).expect("the role");
        assert_eq!(
            role.content["rules"],
            serde_json::to_value(emr_role(NAMESPACE).rules).expect("rules")
        );
        let binding_key = ObjectKey::new(StoredKind::RoleBinding, NAMESPACE, EMR_NAME);
        let binding = stored(&target, &cluster, &binding_key).expect("the binding");
        assert_eq!(binding.content["roleRef"]["name"], EMR_NAME);
        let aws_auth_key = ObjectKey::new(StoredKind::ConfigMap, AWS_AUTH_NAMESPACE, AWS_AUTH);
        let aws_auth = stored(&target, &cluster, &aws_auth_key).expect("aws-auth");
        assert_eq!(
            aws_auth.content["data"][MAP_ROLES],
            format!(
                "- rolearn: arn:aws:iam::{account}:role/AWSServiceRoleForAmazonEMRContainers\n  username: emr-containers\n"
            )
        );
        // No world events: the story a run tells is the same with or without them.
        assert_eq!(target.world().events().len(), events);

        grant(&target, &cluster, "intra-day-batch", &account).expect("granted");
        grant(&target, &cluster, NAMESPACE, &account).expect("granted again");
        assert_eq!(stored(&target, &cluster, &role_key), Some(role));
        assert_eq!(stored(&target, &cluster, &binding_key), Some(binding));
        assert_eq!(
            stored(&target, &cluster, &aws_auth_key),
            Some(aws_auth),
            "one mapping serves every namespace"
        );
    }

    #[test]
    fn a_missing_namespace_or_an_unreadable_aws_auth_is_refused() {
        let (target, cluster, account) = platform();
        match grant(&target, &cluster, "nope", &account) {
            Err(ActionError::Service { code, message, .. }) => {
                assert_eq!(
                    (code.as_str(), message.as_str()),
                    ("NotFound", "namespaces \"nope\" not found")
                );
            }
            other => panic!("{other:?}"),
        }
        let mut write = ObjectWrite::default();
        write
            .content
            .insert("data".into(), json!({MAP_ROLES: "rolearn: not a list"}));
        target
            .world()
            .create_kube_object(
                &cluster,
                ObjectKey::new(StoredKind::ConfigMap, AWS_AUTH_NAMESPACE, AWS_AUTH),
                write,
            )
            .expect("aws-auth");
        let refused = grant(&target, &cluster, NAMESPACE, &account);
        assert!(
            matches!(&refused, Err(ActionError::Failed(m)) if m.contains("not a YAML list")),
            "{refused:?}"
        );
    }
}
