//! The Kubernetes RBAC a run on `aws` needs in its clusters (`runbook plan --target
//! aws --rbac`), from the calls its plan lists (the same permissions `preflight` asks
//! each cluster about): a ClusterRole with every verb on every resource the run's
//! Kubernetes calls use, its watches included, and a ClusterRoleBinding of it to a
//! group an EKS access entry can give the run's IAM principal. For clusters where the
//! run's credentials are not cluster-admin (the cluster's creator is).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use runbook_backend::kube_kinds;

use crate::preflight::Needs;

/// The Kubernetes group the binding names, for `aws eks create-access-entry
/// --kubernetes-groups`.
pub const GROUP: &str = "runbook-operators";

/// The ClusterRole and its binding for `runbook` (its name), as a YAML stream with a
/// header that says how to grant it.
pub fn manifests(runbook: &str, needs: &Needs) -> String {
    let mut rules: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut unknown = BTreeSet::new();
    for access in needs.kube_access.values().flat_map(BTreeMap::keys) {
        let group = access
            .api_version
            .split_once('/')
            .map_or("", |(group, _)| group)
            .to_string();
        let Some((_, plural)) = kube_kinds::of_kind(&access.kind) else {
            unknown.insert(format!("{} ({})", access.kind, access.api_version));
            continue;
        };
        let verbs = rules.entry((group, plural.to_string())).or_default();
        verbs.insert(access.verb.clone());
        // RBAC's escalation check: a Role may only be written by whom holds what it
        // grants, or may `escalate`; a RoleBinding only by whom may `bind` its Role
        // (register-vc writes EMR's Role and its binding).
        match (access.kind.as_str(), access.verb.as_str()) {
            ("Role", "create" | "update" | "patch") => {
                verbs.insert("escalate".into());
            }
            ("RoleBinding", "create" | "update" | "patch") => {
                rules
                    .entry(("rbac.authorization.k8s.io".into(), "roles".into()))
                    .or_default()
                    .insert("bind".into());
            }
            _ => {}
        }
    }
    let name = format!("runbook-{runbook}");
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|((group, resource), verbs)| {
            json!({"apiGroups": [group], "resources": [resource], "verbs": verbs})
        })
        .collect();
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": GROUP}],
    });
    let mut text = format!(
        "# The Kubernetes permissions a run of {runbook} needs in its clusters, from the calls\n\
         # `runbook plan --target aws` lists. Grant them to the run's IAM principal:\n\
         #   kubectl apply -f THIS_FILE\n\
         #   aws eks create-access-entry --cluster-name CLUSTER --principal-arn ARN --kubernetes-groups {GROUP}\n\
         # A cluster's creator is its admin already (EKS's bootstrap access entry).\n"
    );
    if !unknown.is_empty() {
        text.push_str(&format!(
            "# Not included: {}, whose resource names only the API server's discovery knows: add a rule for each.\n",
            unknown.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    for document in [role, binding] {
        text.push_str("---\n");
        text.push_str(&serde_yaml_ng::to_string(&document).unwrap_or_default());
    }
    text
}
