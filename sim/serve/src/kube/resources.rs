//! The resources served, as discovery lists them and as request paths name them.

/// One kind of object the API serves.
#[derive(Debug)]
pub(crate) struct Resource {
    /// The plural in paths (`pods`).
    pub(crate) plural: &'static str,
    pub(crate) singular: &'static str,
    pub(crate) kind: &'static str,
    /// `""` for the core group.
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) namespaced: bool,
    pub(crate) short_names: &'static [&'static str],
    pub(crate) verbs: &'static [&'static str],
}

impl Resource {
    /// `v1` or `scheduling.k8s.io/v1`.
    pub(crate) fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const READ: &[&str] = &["get", "list", "watch"];
/// Kinds the served cluster also creates and deletes.
const READ_WRITE: &[&str] = &["create", "delete", "get", "list", "watch"];
/// Kinds the cluster stores as clients write them (see `stored_objects`).
const STORED: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// What the simulator models, by group.
pub(crate) const RESOURCES: &[Resource] = &[
    Resource {
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        group: "",
        version: "v1",
        namespaced: false,
        short_names: &["ns"],
        verbs: READ_WRITE,
    },
    Resource {
        plural: "nodes",
        singular: "node",
        kind: "Node",
        group: "",
        version: "v1",
        namespaced: false,
        short_names: &["no"],
        verbs: READ,
    },
    Resource {
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["po"],
        verbs: READ,
    },
    Resource {
        plural: "events",
        singular: "event",
        kind: "Event",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["ev"],
        verbs: READ,
    },
    Resource {
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["cm"],
        verbs: STORED,
    },
    Resource {
        plural: "priorityclasses",
        singular: "priorityclass",
        kind: "PriorityClass",
        group: "scheduling.k8s.io",
        version: "v1",
        namespaced: false,
        short_names: &["pc"],
        verbs: READ_WRITE,
    },
    Resource {
        plural: "roles",
        singular: "role",
        kind: "Role",
        group: "rbac.authorization.k8s.io",
        version: "v1",
        namespaced: true,
        short_names: &[],
        verbs: STORED,
    },
    Resource {
        plural: "rolebindings",
        singular: "rolebinding",
        kind: "RoleBinding",
        group: "rbac.authorization.k8s.io",
        version: "v1",
        namespaced: true,
        short_names: &[],
        verbs: STORED,
    },
    Resource {
        plural: "nodepools",
        singular: "nodepool",
        kind: "NodePool",
        group: "karpenter.sh",
        version: "v1",
        namespaced: false,
        short_names: &[],
        verbs: STORED,
    },
    Resource {
        plural: "ec2nodeclasses",
        singular: "ec2nodeclass",
        kind: "EC2NodeClass",
        group: "karpenter.k8s.aws",
        version: "v1",
        namespaced: false,
        short_names: &["ec2nc", "ec2ncs"],
        verbs: STORED,
    },
];

/// The groups other than the core group, each with its one version.
pub(crate) fn groups() -> Vec<(&'static str, &'static str)> {
    let mut groups: Vec<(&str, &str)> = RESOURCES
        .iter()
        .filter(|r| !r.group.is_empty())
        .map(|r| (r.group, r.version))
        .collect();
    groups.dedup();
    groups
}

/// The resource at `group`/`version` named `plural`.
pub(crate) fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}
