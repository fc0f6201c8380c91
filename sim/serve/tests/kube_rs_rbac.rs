//! kube-rs against a served world's ConfigMaps, Roles and RoleBindings, with the
//! `aws` target's own `grant_emr_access` calls (eksctl's create-or-replace of the
//! Role and RoleBinding `emr-containers`, then a read-modify-write of ConfigMap
//! `kube-system/aws-auth` conditional on the version read, retried on `409
//! Conflict`), twice: the second time everything is adopted.

mod common;
mod kube_client;

use std::collections::BTreeMap;

use common::{ServedDemo, served_demo};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Resource;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams, WatchEvent, WatchParams};
use kube_client::client;
use runbook_backend_aws::kube::grant_emr_access_through;
use runbook_emr_rbac::{EMR_NAME, emr_role, emr_role_binding, emr_service_role_arn};
use runbook_sim::{ObjectKey, StoredKind, StoredObject};

const NAMESPACE: &str = "monthly-batch";
const NODE_MAPPING: &str = "- rolearn: arn:aws:iam::123456789012:role/eks-nodes\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n";

fn reason(error: &kube::Error) -> Option<(u16, &str)> {
    match error {
        kube::Error::Api(status) => Some((status.code, status.reason.as_str())),
        _ => None,
    }
}

/// aws-auth as the world keeps it.
fn stored_aws_auth(target: &runbook_backend_sim::SimTarget, cluster: &str) -> StoredObject {
    target
        .world()
        .kube_object(
            cluster,
            &ObjectKey::new(StoredKind::ConfigMap, "kube-system", "aws-auth"),
        )
        .expect("the cluster")
        .cloned()
        .expect("aws-auth in the world")
}

fn version<K: Resource>(object: &K) -> u64 {
    object
        .meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("a numeric resource version")
}

#[tokio::test]
async fn the_aws_targets_grant_works_and_a_second_one_adopts() {
    let ServedDemo {
        target,
        served,
        setup,
    } = served_demo(false).await;
    assert!(setup.virtual_clusters.contains_key(NAMESPACE));
    let client = client(&served);
    let (cluster, account) = {
        let world = target.world();
        let cluster = world.clusters().next().expect("a cluster").name.clone();
        (cluster, world.params().account_id.clone())
    };
    let arn = emr_service_role_arn("aws", &account);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    // aws-auth as EKS has it, with the nodes' mapping: the grant replaces it.
    let node_only = ConfigMap {
        metadata: ObjectMeta {
            name: Some("aws-auth".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "mapRoles".to_string(),
            NODE_MAPPING.to_string(),
        )])),
        ..ConfigMap::default()
    };
    let created = config_maps
        .create(&PostParams::default(), &node_only)
        .await
        .expect("aws-auth created");

    grant_emr_access_through(&client, NAMESPACE, &arn)
        .await
        .expect("granted");
    let aws_auth = config_maps.get("aws-auth").await.expect("aws-auth");
    assert!(version(&aws_auth) > version(&created), "{aws_auth:?}");
    let map_roles = aws_auth.data.clone().unwrap_or_default()["mapRoles"].clone();
    assert_eq!(
        map_roles,
        format!("{NODE_MAPPING}- rolearn: {arn}\n  username: emr-containers\n")
    );
    let roles: Api<Role> = Api::namespaced(client.clone(), NAMESPACE);
    let role = roles.get(EMR_NAME).await.expect("the role");
    assert_eq!(role.rules, emr_role(NAMESPACE).rules);
    let bindings: Api<RoleBinding> = Api::all(client.clone());
    let listed = bindings.list(&ListParams::default()).await.expect("a list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        listed.items[0].role_ref,
        emr_role_binding(NAMESPACE).role_ref
    );
    assert_eq!(
        listed.items[0].subjects,
        emr_role_binding(NAMESPACE).subjects
    );

    // Adopted: the Role and RoleBinding exist (AlreadyExists) and are replaced with
    // what they are, aws-auth has the mapping: nothing is written.
    let before = target.world().resource_version();
    grant_emr_access_through(&client, NAMESPACE, &arn)
        .await
        .expect("granted again");
    assert!(target.world().object_changes_after(before).is_empty());
    assert_eq!(
        version(&roles.get(EMR_NAME).await.expect("the role")),
        version(&role)
    );

    // The run's world holds what the API shows.
    assert_eq!(
        stored_aws_auth(&target, &cluster).resource_version,
        version(&aws_auth)
    );
}

/// A replace of aws-auth carrying the version read before another writer's change is
/// refused (`409 Conflict`, on which the grant reads again), so that change is not
/// lost: the grant keeps it.
#[tokio::test]
async fn a_grant_keeps_a_concurrent_change_to_aws_auth() {
    let ServedDemo { target, served, .. } = served_demo(false).await;
    let client = client(&served);
    let cluster = target
        .world()
        .clusters()
        .next()
        .expect("a cluster")
        .name
        .clone();
    let arn = emr_service_role_arn("aws", "123456789012");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let mut aws_auth = ConfigMap {
        metadata: ObjectMeta {
            name: Some("aws-auth".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("mapRoles".to_string(), String::new())])),
        ..ConfigMap::default()
    };
    aws_auth = config_maps
        .create(&PostParams::default(), &aws_auth)
        .await
        .expect("aws-auth created");
    // Another writer adds the nodes' mapping after the version was read.
    let stale = aws_auth.clone();
    aws_auth
        .data
        .get_or_insert_with(BTreeMap::new)
        .insert("mapRoles".into(), NODE_MAPPING.into());
    config_maps
        .replace("aws-auth", &PostParams::default(), &aws_auth)
        .await
        .expect("the other writer's change");
    let conflict = config_maps
        .replace("aws-auth", &PostParams::default(), &stale)
        .await
        .expect_err("a stale version");
    assert_eq!(reason(&conflict), Some((409, "Conflict")), "{conflict:?}");

    grant_emr_access_through(&client, NAMESPACE, &arn)
        .await
        .expect("granted");
    let stored = stored_aws_auth(&target, &cluster);
    let map_roles = stored.content["data"]["mapRoles"]
        .as_str()
        .unwrap_or_default();
    assert!(map_roles.starts_with(NODE_MAPPING), "{map_roles}");
    assert!(map_roles.contains(&arn), "{map_roles}");
}

#[tokio::test]
async fn a_replace_is_conditional_on_the_version_it_carries() {
    let ServedDemo { served, .. } = served_demo(false).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client(&served), "default");
    // ConfigMap `settings` with `mode` (at `version`, if given).
    let settings = |mode: &str, version: Option<&ConfigMap>| ConfigMap {
        metadata: ObjectMeta {
            name: Some("settings".into()),
            resource_version: version.and_then(|v| v.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("mode".to_string(), mode.to_string())])),
        ..ConfigMap::default()
    };
    let first = config_maps
        .create(&PostParams::default(), &settings("a", None))
        .await
        .expect("created");
    let listed = config_maps
        .list(&ListParams::default())
        .await
        .expect("a list");
    let list_version = listed.metadata.resource_version.clone().expect("a version");

    let second = config_maps
        .replace(
            "settings",
            &PostParams::default(),
            &settings("b", Some(&first)),
        )
        .await
        .expect("replaced at the version read");
    assert!(version(&second) > version(&first));

    // The version read is stale now.
    let conflict = config_maps
        .replace(
            "settings",
            &PostParams::default(),
            &settings("c", Some(&first)),
        )
        .await
        .expect_err("a stale version");
    assert_eq!(reason(&conflict), Some((409, "Conflict")), "{conflict:?}");
    let kube::Error::Api(status) = &conflict else {
        unreachable!("checked above");
    };
    assert_eq!(
        status.message,
        "Operation cannot be fulfilled on configmaps \"settings\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // Without a version, a replace is unconditional.
    let third = config_maps
        .replace("settings", &PostParams::default(), &settings("c", None))
        .await
        .expect("replaced");
    assert_eq!(
        third
            .data
            .as_ref()
            .and_then(|d| d.get("mode"))
            .map(String::as_str),
        Some("c")
    );

    // A watch from the list's version sees both replaces, at their versions.
    let events: Vec<WatchEvent<ConfigMap>> = config_maps
        .watch(&WatchParams::default().timeout(1), &list_version)
        .await
        .expect("a watch")
        .try_collect()
        .await
        .expect("its events");
    let modified: Vec<u64> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Modified(cm) => version(cm),
            other => panic!("an unexpected event: {other:?}"),
        })
        .collect();
    assert_eq!(modified, [version(&second), version(&third)]);

    let duplicate = config_maps
        .create(&PostParams::default(), &settings("d", None))
        .await
        .expect_err("a duplicate");
    assert_eq!(reason(&duplicate), Some((409, "AlreadyExists")));
    config_maps
        .delete("settings", &DeleteParams::default())
        .await
        .expect("deleted");
    assert_eq!(config_maps.get_opt("settings").await.expect("a read"), None);
}

#[tokio::test]
async fn objects_need_their_namespace_and_go_with_it() {
    let ServedDemo { target, served, .. } = served_demo(false).await;
    let client = client(&served);
    let missing = Api::<Role>::namespaced(client.clone(), "nope")
        .create(&PostParams::default(), &emr_role("nope"))
        .await
        .expect_err("no namespace");
    let kube::Error::Api(status) = &missing else {
        panic!("{missing:?}");
    };
    assert_eq!(
        (status.code, status.reason.as_str(), status.message.as_str()),
        (404, "NotFound", "namespaces \"nope\" not found")
    );

    let roles: Api<Role> = Api::namespaced(client.clone(), NAMESPACE);
    roles
        .create(&PostParams::default(), &emr_role(NAMESPACE))
        .await
        .expect("created");
    {
        let mut world = target.world();
        let cluster = world.clusters().next().expect("a cluster").name.clone();
        world
            .delete_namespace(&cluster, NAMESPACE)
            .expect("deleted");
    }
    assert_eq!(roles.get_opt(EMR_NAME).await.expect("a read"), None);
}
