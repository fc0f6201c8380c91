//! The Kubernetes kinds runbook's actions (and its own reads) touch, with their API
//! version and resource name: one table for naming a request by its kind (the call
//! recorder reads the plural off the path) and for the permissions a kind needs (RBAC
//! and access reviews name the plural). A manifest's own kinds are not here: only the
//! API server's discovery knows their resource names.

/// (kind, API version, resource).
const KINDS: &[(&str, &str, &str)] = &[
    ("Namespace", "v1", "namespaces"),
    ("Pod", "v1", "pods"),
    ("Node", "v1", "nodes"),
    ("Event", "v1", "events"),
    ("ConfigMap", "v1", "configmaps"),
    ("ServiceAccount", "v1", "serviceaccounts"),
    ("PodTemplate", "v1", "podtemplates"),
    ("Role", "rbac.authorization.k8s.io/v1", "roles"),
    (
        "RoleBinding",
        "rbac.authorization.k8s.io/v1",
        "rolebindings",
    ),
    (
        "ClusterRole",
        "rbac.authorization.k8s.io/v1",
        "clusterroles",
    ),
    (
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
        "clusterrolebindings",
    ),
    ("PriorityClass", "scheduling.k8s.io/v1", "priorityclasses"),
    ("NodePool", "karpenter.sh/v1", "nodepools"),
    ("EC2NodeClass", "karpenter.k8s.aws/v1", "ec2nodeclasses"),
    (
        "SelfSubjectAccessReview",
        "authorization.k8s.io/v1",
        "selfsubjectaccessreviews",
    ),
];

/// The API version and resource of `kind`, if it is one of the table's.
pub fn of_kind(kind: &str) -> Option<(&'static str, &'static str)> {
    KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, api_version, plural)| (*api_version, *plural))
}

/// The kind of resource `plural`, if it is one of the table's.
pub fn of_resource(plural: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .find(|(_, _, p)| *p == plural)
        .map(|(kind, _, _)| *kind)
}
