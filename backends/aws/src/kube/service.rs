//! [`Kube`] on real clusters: the same adoption semantics as the simulator (a
//! namespace or PriorityClass that exists is adopted, not an error), with the API
//! server's Status reasons as error codes.

use std::collections::{BTreeMap, HashMap};

use ::kube::Resource;
use ::kube::api::ObjectMeta;
use ::kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use ::kube::discovery::{self, Scope};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AwsKube;
use super::autoscaler::autoscaler_status;
use super::karpenter;
use super::node_events::capacity_type;
use super::status::{is, kube_error};
use runbook_backend::ActionError;
use runbook_backend::calls::{PlannedCall, Service, declared};
use runbook_backend::{
    AccessVerdict, AppliedObject, AutoscalerStatus, AutoscalingRequest, NodeInfo, ObjectReadiness,
    PodInfo, PriorityClassRequest,
};
use runbook_backend::{Kube, KubeAccess, TargetResult};
use runbook_emr_rbac::{
    EMR_NAME, add_emr_mapping, emr_role, emr_role_binding, emr_service_role_arn,
};

/// The field manager of everything runbook applies, so a later apply by runbook
/// takes over its own fields and `kubectl` shows who set them.
pub(super) const FIELD_MANAGER: &str = "runbook";

/// How often a read-modify-write of aws-auth is retried when another writer got in
/// between (`Conflict`).
const AWS_AUTH_ATTEMPTS: usize = 3;

/// How long `create_namespace` waits for a namespace being deleted to be gone: its
/// pods get their grace period (30 s by default) and its finalizers run first.
const NAMESPACE_TERMINATION_WAIT: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// The first and the longest pause between looks at a namespace being deleted.
const NAMESPACE_POLL_FIRST: std::time::Duration = std::time::Duration::from_millis(250);
const NAMESPACE_POLL_MAX: std::time::Duration = std::time::Duration::from_secs(5);

#[async_trait]
impl Kube for AwsKube {
    /// A namespace being deleted also answers AlreadyExists, and nothing can be
    /// created in it (the Role next would be Forbidden): it is waited for until it is
    /// gone, then made anew. One that exists otherwise is adopted.
    async fn create_namespace(&self, cluster: &str, name: &str) -> TargetResult<bool> {
        let api: Api<Namespace> = Api::all(self.client(cluster).await?);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let started = tokio::time::Instant::now();
        let mut pause = NAMESPACE_POLL_FIRST;
        loop {
            match declared(
                create_namespace_call(name),
                api.create(&PostParams::default(), &namespace),
            )
            .await
            {
                Ok(_) => return Ok(true),
                Err(e) if is(&e, "AlreadyExists") => {}
                Err(e) => return Err(kube_error("create namespace", name, &e)),
            }
            let current = declared(get_namespace_call(name), api.get_opt(name))
                .await
                .map_err(|e| kube_error("get namespace", name, &e))?;
            let phase = current
                .as_ref()
                .and_then(|n| n.status.as_ref())
                .and_then(|s| s.phase.as_deref());
            match (current.is_some(), phase) {
                (true, Some("Terminating")) => {}
                (true, _) => return Ok(false),
                // Gone between the two calls: create it now.
                (false, _) => continue,
            }
            if started.elapsed() > NAMESPACE_TERMINATION_WAIT {
                return Err(ActionError::Failed(format!(
                    "namespace `{name}` is still Terminating after {} minutes (its contents or finalizers keep it); kubectl get namespace {name} -o yaml shows what it waits for",
                    NAMESPACE_TERMINATION_WAIT.as_secs() / 60
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(NAMESPACE_POLL_MAX);
        }
    }

    async fn grant_emr_access(
        &self,
        cluster: &str,
        namespace: &str,
        account_id: &str,
    ) -> TargetResult<()> {
        let client = self.client(cluster).await?;
        let arn = emr_service_role_arn(&self.partition, account_id);
        grant_emr_access_through(&client, namespace, &arn).await
    }

    /// Returns once the API server accepted the deletion; the namespace is
    /// terminating until its contents are gone.
    async fn delete_namespace(&self, cluster: &str, name: &str) -> TargetResult<bool> {
        let api: Api<Namespace> = Api::all(self.client(cluster).await?);
        match declared(
            delete_call("Namespace", name),
            api.delete(name, &DeleteParams::default()),
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if is(&e, "NotFound") => Ok(false),
            Err(e) => Err(kube_error("delete namespace", name, &e)),
        }
    }

    async fn create_priority_class(
        &self,
        cluster: &str,
        request: &PriorityClassRequest,
    ) -> TargetResult<bool> {
        let api: Api<PriorityClass> = Api::all(self.client(cluster).await?);
        let class = PriorityClass {
            metadata: ObjectMeta {
                name: Some(request.name.clone()),
                ..ObjectMeta::default()
            },
            value: request.value,
            global_default: Some(request.global_default),
            description: request.description.clone(),
            preemption_policy: Some(request.preemption_policy.clone()),
        };
        let error = match declared(
            create_priority_class_call(request),
            api.create(&PostParams::default(), &class),
        )
        .await
        {
            Ok(_) => return Ok(true),
            Err(e) if is(&e, "AlreadyExists") => e,
            Err(e) => return Err(kube_error("create priorityclass", &request.name, &e)),
        };
        let existing = declared(
            get_priority_class_call(&request.name),
            api.get(&request.name),
        )
        .await
        .map_err(|e| kube_error("get priorityclass", &request.name, &e))?;
        let global_default = existing.global_default.unwrap_or(false);
        // The API server fills in Kubernetes' default policy.
        let policy = existing
            .preemption_policy
            .as_deref()
            .unwrap_or("PreemptLowerPriority");
        if existing.value == request.value
            && global_default == request.global_default
            && policy == request.preemption_policy
        {
            return Ok(false);
        }
        let mut failure = kube_error("create priorityclass", &request.name, &error);
        if let ActionError::Service { message, .. } = &mut failure {
            *message = format!(
                "priorityclasses.scheduling.k8s.io \"{}\" already exists with value {} and globalDefault {global_default}; the value of a PriorityClass cannot be changed, delete it first",
                request.name, existing.value
            );
        }
        Err(failure)
    }

    async fn delete_priority_class(&self, cluster: &str, name: &str) -> TargetResult<bool> {
        let api: Api<PriorityClass> = Api::all(self.client(cluster).await?);
        match declared(
            delete_call("PriorityClass", name),
            api.delete(name, &DeleteParams::default()),
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if is(&e, "NotFound") => Ok(false),
            Err(e) => Err(kube_error("delete priorityclass", name, &e)),
        }
    }

    /// Server-side apply of each document, forced: runbook owns what it applies.
    /// Discovery finds each kind's resource and scope, so any installed CRD works.
    async fn apply_manifest(
        &self,
        cluster: &str,
        documents: &[serde_json::Value],
    ) -> TargetResult<Vec<AppliedObject>> {
        let client = self.client(cluster).await?;
        let mut resolved: HashMap<String, (ApiResource, bool)> = HashMap::new();
        let mut applied = Vec::new();
        for doc in documents {
            let field = |pointer: &str| doc.pointer(pointer).and_then(|v| v.as_str());
            let api_version = field("/apiVersion").unwrap_or_default().to_string();
            let kind = field("/kind").unwrap_or_default().to_string();
            let name = field("/metadata/name").unwrap_or_default().to_string();
            if api_version.is_empty() || kind.is_empty() || name.is_empty() {
                return Err(ActionError::InvalidInput(format!(
                    "a manifest document needs `apiVersion`, `kind` and `metadata.name` (got apiVersion `{api_version}`, kind `{kind}`, name `{name}`)"
                )));
            }
            let key = format!("{api_version}/{kind}");
            let (resource, namespaced) = match resolved.get(&key) {
                Some(found) => found.clone(),
                None => {
                    let (group, version) =
                        api_version.split_once('/').unwrap_or(("", &api_version));
                    let gvk = GroupVersionKind::gvk(group, version, &kind);
                    let (resource, capabilities) = declared(
                        discover_call(&api_version, &kind),
                        discovery::pinned_kind(&client, &gvk),
                    )
                    .await
                    .map_err(|e| kube_error("discover", &key, &e))?;
                    let found = (resource, capabilities.scope == Scope::Namespaced);
                    resolved.insert(key, found.clone());
                    found
                }
            };
            let namespace = namespaced.then(|| {
                field("/metadata/namespace")
                    .unwrap_or("default")
                    .to_string()
            });
            let api: Api<DynamicObject> = match &namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            let params = PatchParams::apply(FIELD_MANAGER).force();
            declared(
                apply_call(doc),
                api.patch(&name, &params, &Patch::Apply(doc)),
            )
            .await
            .map_err(|e| kube_error("apply", &format!("{kind}/{name}"), &e))?;
            applied.push(AppliedObject {
                api_version,
                kind,
                name,
                namespace,
            });
        }
        Ok(applied)
    }

    async fn enable_autoscaling(
        &self,
        cluster: &str,
        request: &AutoscalingRequest,
    ) -> TargetResult<()> {
        karpenter::apply(self, cluster, request).await
    }

    async fn autoscaling_readiness(
        &self,
        cluster: &str,
        name: &str,
    ) -> TargetResult<Vec<ObjectReadiness>> {
        karpenter::readiness(self, cluster, name).await
    }

    async fn remove_node_pools(&self, cluster: &str) -> TargetResult<Vec<String>> {
        karpenter::remove(self, cluster).await
    }

    async fn node_pool_nodes(&self, cluster: &str, pools: &[String]) -> TargetResult<Vec<String>> {
        karpenter::nodes_of(self, cluster, pools).await
    }

    async fn default_cluster(&self) -> TargetResult<String> {
        self.only_cluster().await
    }

    async fn nodes(&self, cluster: &str) -> TargetResult<Vec<NodeInfo>> {
        let api: Api<Node> = Api::all(self.client(cluster).await?);
        let nodes = declared(list_nodes_call(), api.list(&ListParams::default()))
            .await
            .map_err(|e| kube_error("list nodes", cluster, &e))?;
        Ok(nodes.items.iter().map(node_info).collect())
    }

    async fn pods(
        &self,
        cluster: &str,
        namespace: Option<&str>,
        selector: &BTreeMap<String, String>,
    ) -> TargetResult<Vec<PodInfo>> {
        let client = self.client(cluster).await?;
        let api: Api<Pod> = match namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        };
        let labels = label_selector(selector);
        let mut params = ListParams::default();
        if !labels.is_empty() {
            params = params.labels(&labels);
        }
        let pods = declared(list_pods_call(namespace, &labels), api.list(&params))
            .await
            .map_err(|e| kube_error("list pods", namespace.unwrap_or(cluster), &e))?;
        Ok(pods.items.iter().map(pod_info).collect())
    }

    async fn autoscaler(&self, cluster: &str) -> TargetResult<AutoscalerStatus> {
        autoscaler_status(self, cluster).await
    }

    async fn access(
        &self,
        cluster: &str,
        asked: &[KubeAccess],
    ) -> TargetResult<Vec<AccessVerdict>> {
        super::access::access(self, cluster, asked).await
    }

    fn planned_create_namespace(&self, cluster: &str, name: &str) -> Vec<PlannedCall> {
        self.on_cluster(
            cluster,
            vec![create_namespace_call(name), get_namespace_call(name)],
        )
    }

    fn planned_grant_emr_access(
        &self,
        cluster: &str,
        namespace: &str,
        account_id: &str,
    ) -> Vec<PlannedCall> {
        let (create_role, replace_role) = rbac_calls(&emr_role(namespace));
        let (create_binding, replace_binding) = rbac_calls(&emr_role_binding(namespace));
        let arn = emr_service_role_arn(&self.partition, account_id);
        self.on_cluster(
            cluster,
            vec![
                create_role,
                replace_role,
                create_binding,
                replace_binding,
                get_aws_auth_call(),
                write_aws_auth_call("replace", &arn),
                write_aws_auth_call("create", &arn),
            ],
        )
    }

    fn planned_delete_namespace(&self, cluster: &str, name: &str) -> Vec<PlannedCall> {
        self.on_cluster(cluster, vec![delete_call("Namespace", name)])
    }

    fn planned_create_priority_class(
        &self,
        cluster: &str,
        request: &PriorityClassRequest,
    ) -> Vec<PlannedCall> {
        self.on_cluster(
            cluster,
            vec![
                create_priority_class_call(request),
                get_priority_class_call(&request.name),
            ],
        )
    }

    fn planned_delete_priority_class(&self, cluster: &str, name: &str) -> Vec<PlannedCall> {
        self.on_cluster(cluster, vec![delete_call("PriorityClass", name)])
    }

    fn planned_apply_manifest(&self, cluster: &str, documents: &[Value]) -> Vec<PlannedCall> {
        let mut discovered = std::collections::BTreeSet::new();
        let mut calls = self.planned_client(cluster);
        for doc in documents {
            let api_version = doc["apiVersion"].as_str().unwrap_or_default();
            let kind = doc["kind"].as_str().unwrap_or_default();
            if discovered.insert((api_version, kind)) {
                calls.push(discover_call(api_version, kind));
            }
            calls.push(apply_call(doc));
        }
        calls
    }

    fn planned_enable_autoscaling(
        &self,
        cluster: &str,
        request: &AutoscalingRequest,
    ) -> Vec<PlannedCall> {
        self.on_cluster(cluster, karpenter::planned_apply(cluster, request))
    }

    fn planned_autoscaling_readiness(&self, cluster: &str, name: &str) -> Vec<PlannedCall> {
        self.on_cluster(cluster, karpenter::planned_readiness(name))
    }

    fn planned_remove_node_pools(&self, cluster: &str) -> Vec<PlannedCall> {
        self.on_cluster(cluster, karpenter::planned_remove())
    }

    fn planned_node_pool_nodes(&self, cluster: &str, pools: &[String]) -> Vec<PlannedCall> {
        self.on_cluster(cluster, karpenter::planned_nodes_of(pools))
    }

    fn planned_autoscaler(&self, cluster: &str) -> Vec<PlannedCall> {
        self.on_cluster(cluster, super::autoscaler::planned_autoscaler_status())
    }

    fn planned_default_cluster(&self) -> Vec<PlannedCall> {
        self.planned_only_cluster()
    }

    fn planned_nodes(&self, cluster: &str) -> Vec<PlannedCall> {
        self.on_cluster(cluster, vec![list_nodes_call()])
    }

    fn planned_pods(
        &self,
        cluster: &str,
        namespace: Option<&str>,
        selector: &BTreeMap<String, String>,
    ) -> Vec<PlannedCall> {
        self.on_cluster(
            cluster,
            vec![list_pods_call(namespace, &label_selector(selector))],
        )
    }
}

impl AwsKube {
    /// `calls`, an operation's on `cluster`, after those of reaching the cluster the
    /// first time ([`AwsKube::planned_client`]).
    fn on_cluster(&self, cluster: &str, calls: Vec<PlannedCall>) -> Vec<PlannedCall> {
        let mut all = self.planned_client(cluster);
        all.extend(calls);
        all
    }
}

/// What `grant_emr_access` does through `client`, for EMR's service-linked role
/// `emr_role_arn`: eksctl's Role and RoleBinding `emr-containers` in `namespace`
/// (created, or replaced), and the role's mapping in aws-auth. Public so that the
/// served simulator's tests run these very calls against the simulated cluster.
pub async fn grant_emr_access_through(
    client: &::kube::Client,
    namespace: &str,
    emr_role_arn: &str,
) -> TargetResult<()> {
    let resource = format!("{namespace}/{EMR_NAME}");
    create_or_replace(
        &Api::<Role>::namespaced(client.clone(), namespace),
        &emr_role(namespace),
        ("create role", "replace role"),
        &resource,
    )
    .await?;
    create_or_replace(
        &Api::<RoleBinding>::namespaced(client.clone(), namespace),
        &emr_role_binding(namespace),
        ("create rolebinding", "replace rolebinding"),
        &resource,
    )
    .await?;
    map_emr_role(
        &Api::namespaced(client.clone(), "kube-system"),
        emr_role_arn,
    )
    .await
}

/// Creates `object`, or replaces the one of the same name (eksctl's create-or-replace:
/// an older Role with fewer rules is brought up to date).
async fn create_or_replace<K>(
    api: &Api<K>,
    object: &K,
    operations: (&'static str, &'static str),
    resource: &str,
) -> TargetResult<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let (create, replace) = rbac_calls(object);
    match declared(create, api.create(&PostParams::default(), object)).await {
        Ok(_) => Ok(()),
        Err(e) if is(&e, "AlreadyExists") => {
            declared(replace, api.replace(&name, &PostParams::default(), object))
                .await
                .map(|_| ())
                .map_err(|e| kube_error(operations.1, resource, &e))
        }
        Err(e) => Err(kube_error(operations.0, resource, &e)),
    }
}

/// Adds the mapping of EMR's service-linked role to the user `emr-containers` to
/// ConfigMap `kube-system/aws-auth` (creating it if the cluster has none), keeping
/// every other entry. The update carries the resourceVersion it read, so a
/// concurrent writer's change is never lost: on `Conflict` it reads again.
async fn map_emr_role(api: &Api<ConfigMap>, role_arn: &str) -> TargetResult<()> {
    const RESOURCE: &str = "kube-system/aws-auth";
    for _ in 0..AWS_AUTH_ATTEMPTS {
        let existing = declared(get_aws_auth_call(), api.get_opt("aws-auth"))
            .await
            .map_err(|e| kube_error("get configmap", RESOURCE, &e))?;
        let map_roles = existing
            .as_ref()
            .and_then(|c| c.data.as_ref())
            .and_then(|d| d.get("mapRoles"))
            .map(String::as_str);
        let Some(merged) = add_emr_mapping(map_roles, role_arn).map_err(ActionError::Failed)?
        else {
            return Ok(());
        };
        let result = match existing {
            Some(mut config_map) => {
                config_map
                    .data
                    .get_or_insert_with(BTreeMap::new)
                    .insert("mapRoles".into(), merged);
                declared(
                    write_aws_auth_call("replace", role_arn),
                    api.replace("aws-auth", &PostParams::default(), &config_map),
                )
                .await
                .map_err(|e| ("replace configmap", e))
            }
            None => {
                let config_map = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some("aws-auth".into()),
                        namespace: Some("kube-system".into()),
                        ..ObjectMeta::default()
                    },
                    data: Some(BTreeMap::from([("mapRoles".to_string(), merged)])),
                    ..ConfigMap::default()
                };
                declared(
                    write_aws_auth_call("create", role_arn),
                    api.create(&PostParams::default(), &config_map),
                )
                .await
                .map_err(|e| ("create configmap", e))
            }
        };
        match result {
            Ok(_) => return Ok(()),
            Err((_, e)) if is(&e, "Conflict") || is(&e, "AlreadyExists") => {}
            Err((operation, e)) => return Err(kube_error(operation, RESOURCE, &e)),
        }
    }
    Err(ActionError::Service {
        service: "Kubernetes",
        operation: "replace configmap",
        resource: RESOURCE.into(),
        code: "Conflict".into(),
        message: format!(
            "aws-auth kept changing while the EMR mapping was added ({AWS_AUTH_ATTEMPTS} attempts)"
        ),
    })
}

/// A node as the actions see it. The capacity type comes from the managed node
/// group's label, or from Karpenter's for nodes it launched.
fn node_info(node: &Node) -> NodeInfo {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let capacity_type = capacity_type(&labels).eks_label().to_string();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    NodeInfo {
        name: node.metadata.name.clone().unwrap_or_default(),
        instance_type: labels
            .get("node.kubernetes.io/instance-type")
            .cloned()
            .unwrap_or_default(),
        capacity_type,
        ready,
    }
}

/// A pod as waits and assertions see it.
fn pod_info(pod: &Pod) -> PodInfo {
    let status = pod.status.as_ref();
    PodInfo {
        name: pod.metadata.name.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".to_string()),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        terminating: pod.metadata.deletion_timestamp.is_some(),
        conditions: status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.status == "True")
            .map(|c| (c.type_.clone(), c.reason.clone().unwrap_or_default()))
            .collect(),
    }
}

/// `k=v,k2=v2`: the label selector of a set of labels.
pub(super) fn label_selector(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

// The calls, each declared as the run sends it and as the plans above list it.

fn kube_call(operation: impl Into<String>, detail: Value) -> PlannedCall {
    PlannedCall::new(Service::Kubernetes, operation, detail)
}

fn create_namespace_call(name: &str) -> PlannedCall {
    kube_call("create Namespace", json!({"name": name}))
        .note("AlreadyExists: an existing namespace is adopted")
}

fn get_namespace_call(name: &str) -> PlannedCall {
    kube_call("get Namespace", json!({"name": name}))
        .when("if it exists")
        .note("one still Terminating is waited for, then created anew")
}

fn delete_call(kind: &str, name: &str) -> PlannedCall {
    kube_call(format!("delete {kind}"), json!({"name": name}))
        .note("NotFound: already gone, which is success")
}

fn create_priority_class_call(request: &PriorityClassRequest) -> PlannedCall {
    kube_call(
        "create PriorityClass",
        json!({
            "name": request.name,
            "value": request.value,
            "globalDefault": request.global_default,
            "description": request.description,
            "preemptionPolicy": request.preemption_policy,
        }),
    )
    .note("AlreadyExists: adopted if identical, an error if not")
}

fn get_priority_class_call(name: &str) -> PlannedCall {
    kube_call("get PriorityClass", json!({"name": name}))
        .when("if it exists (AlreadyExists)")
        .note("its value, default flag and policy, which must be the same")
}

/// eksctl's create-or-replace of a Role or RoleBinding: the create, and the replace
/// of one that exists. The detail is the object without its metadata.
fn rbac_calls<K: Resource<DynamicType = ()> + Serialize>(object: &K) -> (PlannedCall, PlannedCall) {
    let kind = K::kind(&());
    let meta = object.meta();
    let mut detail = json!({
        "namespace": meta.namespace.clone().unwrap_or_default(),
        "name": meta.name.clone().unwrap_or_default(),
    });
    if let (Value::Object(detail), Ok(Value::Object(body))) =
        (&mut detail, serde_json::to_value(object))
    {
        detail.extend(
            body.into_iter()
                .filter(|(key, _)| !matches!(key.as_str(), "metadata" | "apiVersion" | "kind")),
        );
    }
    let replace = kube_call(format!("replace {kind}"), detail.clone())
        .when("if it exists (AlreadyExists): it is set to this");
    (kube_call(format!("create {kind}"), detail), replace)
}

fn get_aws_auth_call() -> PlannedCall {
    kube_call(
        "get ConfigMap",
        json!({"namespace": "kube-system", "name": "aws-auth"}),
    )
}

/// The write of aws-auth that adds EMR's mapping: `replace` of the ConfigMap there
/// is, or `create` of one where the cluster has none.
fn write_aws_auth_call(verb: &str, role_arn: &str) -> PlannedCall {
    let call = kube_call(
        format!("{verb} ConfigMap"),
        json!({
            "namespace": "kube-system",
            "name": "aws-auth",
            "mapRoles+": {"rolearn": role_arn, "username": EMR_NAME},
        }),
    );
    if verb == "create" {
        call.when("if the cluster has no aws-auth ConfigMap")
    } else {
        call.when("if the mapping is not there yet (read again and retried on Conflict)")
    }
}

pub(super) fn discover_call(api_version: &str, kind: &str) -> PlannedCall {
    kube_call(format!("discover {api_version}"), Value::Null)
        .note(format!("which resource {kind} is"))
}

fn apply_call(doc: &Value) -> PlannedCall {
    let text = |pointer: &str| doc.pointer(pointer).cloned().unwrap_or_default();
    let mut detail = json!({
        "apiVersion": text("/apiVersion"),
        "kind": text("/kind"),
        "name": text("/metadata/name"),
    });
    if let Some(namespace) = doc.pointer("/metadata/namespace") {
        detail["namespace"] = namespace.clone();
    }
    kube_call(
        format!(
            "server-side apply {}",
            doc["kind"].as_str().unwrap_or_default()
        ),
        detail,
    )
}

fn list_nodes_call() -> PlannedCall {
    kube_call("list Node", json!({}))
}

pub(super) fn list_pods_call(namespace: Option<&str>, labels: &str) -> PlannedCall {
    kube_call(
        "list Pod",
        json!({
            "namespace": namespace.unwrap_or("<all namespaces>"),
            "labelSelector": labels,
        }),
    )
}
