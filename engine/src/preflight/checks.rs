//! The checks themselves: each reads what it needs from the target and judges it.
//! None creates or changes anything.

use std::collections::BTreeSet;

use runbook_backend::{AccessVerdict, ActionError, BucketOwner, Target, TargetResult};

use super::Check;
use super::needs::Needs;

/// Who the calls are made as, where: what connecting to the target established.
pub(super) fn credentials(target: &Target) -> Check {
    Check::pass(
        "credentials",
        format!(
            "calls are made as {} in account {}, region {}",
            target.caller_arn, target.account_id, target.region
        ),
    )
}

/// Whether IAM lets the caller call every action the runbook's calls need.
pub(super) async fn permissions(target: &Target, needs: &Needs) -> Check {
    const CHECK: &str = "permissions";
    if needs.actions.is_empty() {
        return Check::pass(CHECK, "the runbook calls no AWS API");
    }
    let actions: Vec<String> = needs.actions.keys().cloned().collect();
    let verdicts = match target
        .iam
        .simulate_principal_policy(&target.caller_arn, &actions)
        .await
    {
        Ok(verdicts) => verdicts,
        Err(e) => {
            let refused = matches!(&e, ActionError::Service { code, .. } if code == "AccessDenied");
            let check = Check::cannot(
                CHECK,
                format!("IAM could not simulate the caller's policies: {e}"),
            );
            return if refused {
                check.with_fix(
                    "allow the caller iam:SimulatePrincipalPolicy on itself to have its permissions checked before a run",
                )
            } else {
                check
            };
        }
    };
    let denied: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.allowed)
        .map(|v| {
            let steps = needs
                .actions
                .get(&v.action)
                .map(|s| s.iter().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            format!("{} ({}; needed by {steps})", v.action, v.decision)
        })
        .collect();
    if denied.is_empty() {
        return Check::pass(
            CHECK,
            format!(
                "IAM allows all {} actions the runbook's calls need",
                actions.len()
            ),
        );
    }
    Check::fail(
        CHECK,
        format!(
            "IAM denies {} of the {} actions the runbook's calls need: {}",
            denied.len(),
            actions.len(),
            denied.join("; ")
        ),
        format!(
            "grant them to {} (an identity policy), or run as an identity that has them",
            target.caller_arn
        ),
    )
}

/// Whether EKS offers the Kubernetes version each created cluster asks for.
pub(super) async fn kubernetes_versions(target: &Target, needs: &Needs) -> Vec<Check> {
    const CHECK: &str = "kubernetes-version";
    if needs.clusters.is_empty() {
        return Vec::new();
    }
    let offered = match target.eks.offered_versions().await {
        Ok(offered) => offered,
        Err(e) => {
            return vec![Check::cannot(
                CHECK,
                format!("EKS did not say which versions it offers: {e}"),
            )];
        }
    };
    let list = offered
        .iter()
        .map(|v| v.version.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let default = offered.iter().find(|v| v.default);
    let mut seen = BTreeSet::new();
    let mut results = Vec::new();
    for cluster in needs
        .clusters
        .iter()
        .filter(|c| seen.insert(c.name.clone()))
    {
        let asked = cluster
            .version
            .as_deref()
            .or(default.map(|v| v.version.as_str()));
        let Some(asked) = asked else {
            results.push(Check::cannot(
                CHECK,
                format!(
                    "step {} names no version and EKS names no default",
                    cluster.step
                ),
            ));
            continue;
        };
        let found = offered.iter().find(|v| v.version == asked);
        results.push(match found {
            Some(v) if v.status == "EXTENDED_SUPPORT" => Check::pass(
                CHECK,
                format!(
                    "cluster {}: EKS offers Kubernetes {asked} in extended support, which costs extra per cluster hour (standard support: {})",
                    cluster.name,
                    standard(&offered)
                ),
            ),
            Some(_) => Check::pass(
                CHECK,
                format!(
                    "cluster {}: EKS offers Kubernetes {asked} in standard support",
                    cluster.name
                ),
            ),
            None => Check::fail(
                CHECK,
                format!(
                    "cluster {} (step {}): EKS in {} does not offer Kubernetes {asked}; it offers {list}",
                    cluster.name, cluster.step, target.region
                ),
                format!(
                    "ask for a version EKS offers (the canned runbooks' `kubernetes_version` parameter), e.g. --set kubernetes_version={}",
                    default.map_or("", |v| v.version.as_str())
                ),
            ),
        });
    }
    results
}

/// The versions in standard support, for messages.
fn standard(offered: &[runbook_backend::OfferedVersion]) -> String {
    offered
        .iter()
        .filter(|v| v.status == "STANDARD_SUPPORT")
        .map(|v| v.version.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether each bucket name is free or already the caller's: S3 names are global, and
/// a name another account owns makes `create-bucket` fail.
pub(super) async fn buckets(target: &Target, needs: &Needs) -> Vec<Check> {
    const CHECK: &str = "buckets";
    if needs.buckets.is_empty() {
        return Vec::new();
    }
    let names: BTreeSet<&str> = needs.buckets.iter().map(|(_, n)| n.as_str()).collect();
    let owners =
        futures::future::join_all(names.iter().map(|name| target.s3.bucket_owner(name))).await;
    let (mut free, mut yours, mut taken, mut unknown) = (vec![], vec![], vec![], vec![]);
    for (name, owner) in names.iter().zip(owners) {
        match owner {
            Ok(BucketOwner::Nobody) => free.push(*name),
            Ok(BucketOwner::Caller) => yours.push(*name),
            Ok(BucketOwner::Other) => taken.push(*name),
            Err(e) => unknown.push(format!("{name}: {e}")),
        }
    }
    let mut found = Vec::new();
    if !free.is_empty() {
        found.push(format!("free (created): {}", free.join(", ")));
    }
    if !yours.is_empty() {
        found.push(format!("already yours (adopted): {}", yours.join(", ")));
    }
    let mut results = Vec::new();
    if !taken.is_empty() {
        results.push(Check::fail(
            CHECK,
            format!(
                "owned by another account: {} (CreateBucket would fail with BucketAlreadyExists); {}",
                taken.join(", "),
                found.join("; ")
            ),
            "choose names of your own (S3 bucket names are global; the canned runbooks add the account id and region)",
        ));
    } else if !found.is_empty() {
        results.push(Check::pass(CHECK, found.join("; ")));
    }
    if !unknown.is_empty() {
        results.push(Check::cannot(CHECK, unknown.join("; ")));
    }
    results
}

/// What already exists and the run will adopt instead of creating, so a presenter
/// knows what is reused; a cluster being deleted cannot be adopted.
pub(super) async fn existing(target: &Target, needs: &Needs) -> Option<Check> {
    const CHECK: &str = "existing";
    if needs.clusters.is_empty() && needs.virtual_clusters.is_empty() && needs.roles.is_empty() {
        return None;
    }
    let mut reused = Vec::new();
    let mut problems = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for cluster in needs
        .clusters
        .iter()
        .filter(|c| seen.insert(c.name.clone()))
    {
        match target.eks.describe_cluster(&cluster.name).await {
            Ok(Some(info)) if info.status == "DELETING" => problems.push(format!(
                "cluster {} is being deleted: create-cluster cannot adopt it",
                cluster.name
            )),
            Ok(Some(info)) => {
                let groups = target
                    .eks
                    .node_groups(&cluster.name)
                    .await
                    .map(|g| format!(", node groups: {}", g.join(", ")))
                    .unwrap_or_default();
                reused.push(format!(
                    "cluster {} ({}, Kubernetes {}{groups})",
                    info.name, info.status, info.version
                ));
            }
            Ok(None) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !needs.virtual_clusters.is_empty() {
        match target.emr.list_virtual_clusters().await {
            Ok(running) => {
                for need in &needs.virtual_clusters {
                    let adopted = running.iter().find(|vc| {
                        vc.state == "RUNNING"
                            && vc.name == need.name
                            && vc.namespace == need.namespace
                            && need.cluster.as_ref().is_none_or(|c| *c == vc.cluster)
                    });
                    if let Some(vc) = adopted {
                        reused.push(format!(
                            "virtual cluster {} ({}, on {}/{})",
                            vc.name, vc.id, vc.cluster, vc.namespace
                        ));
                    }
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut seen = BTreeSet::new();
    for (_, role) in needs.roles.iter().filter(|(_, r)| seen.insert(r.clone())) {
        match target.iam.get_role(role).await {
            Ok(Some(info)) => reused.push(format!("role {} ({})", info.name, info.arn)),
            Ok(None) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut seen = BTreeSet::new();
    for (_, group) in needs
        .log_groups
        .iter()
        .filter(|(_, g)| seen.insert(g.clone()))
    {
        match target.logs.describe_log_group(group).await {
            Ok(Some(info)) => reused.push(format!("log group {}", info.name)),
            Ok(None) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    Some(if !problems.is_empty() {
        Check::fail(
            CHECK,
            problems.join("; "),
            "wait until the deletion has finished (DescribeCluster answers ResourceNotFoundException), then run",
        )
    } else if !errors.is_empty() {
        Check::cannot(CHECK, errors.join("; "))
    } else if reused.is_empty() {
        Check::pass(CHECK, "nothing exists yet: the run creates everything")
    } else {
        Check::pass(CHECK, format!("the run reuses {}", reused.join("; ")))
    })
}

/// The cluster a step means: the one it names, else the one the runbook creates, else
/// the account's only cluster.
async fn cluster_meant(
    target: &Target,
    needs: &Needs,
    named: Option<&String>,
) -> TargetResult<String> {
    match (named, needs.clusters.as_slice()) {
        (Some(name), _) => Ok(name.clone()),
        (None, [only]) => Ok(only.name.clone()),
        (None, _) => target.kube.default_cluster().await,
    }
}

/// Whether the cluster a runbook autoscales runs Karpenter: `enable-autoscaling`
/// applies a NodePool, which needs Karpenter's API and controller on the cluster
/// (`create-cluster` does not install it).
pub(super) async fn autoscaler(target: &Target, needs: &Needs) -> Vec<Check> {
    const CHECK: &str = "autoscaler";
    let Some(need) = needs.autoscaling.first() else {
        return Vec::new();
    };
    let step = &need.step;
    let cluster = match cluster_meant(target, needs, need.cluster.as_ref()).await {
        Ok(name) => name,
        Err(e) => return vec![Check::cannot(CHECK, format!("step {step}: {e}"))],
    };
    match target.eks.describe_cluster(&cluster).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return vec![
                Check::cannot(
                    CHECK,
                    format!(
                        "cluster {cluster} does not exist yet, so whether it runs Karpenter cannot be checked"
                    ),
                )
                .with_fix(format!(
                    "on aws, step {step} (enable-autoscaling) needs Karpenter installed on the cluster, which create-cluster does not do: create the cluster, install Karpenter (README: \"Karpenter on the aws target\"), then preflight again"
                )),
            ];
        }
        Err(e) => return vec![Check::cannot(CHECK, e.to_string())],
    }
    vec![match target.kube.autoscaler(&cluster).await {
        Ok(status) if !status.node_pool_api => Check::fail(
            CHECK,
            format!(
                "cluster {cluster} does not serve Karpenter's NodePool API (karpenter.sh/v1), which step {step} applies"
            ),
            "install Karpenter on the cluster (README: \"Karpenter on the aws target\", the commands from https://karpenter.sh/docs/getting-started/)",
        ),
        Ok(status) if status.controller_pods.is_empty() => Check::fail(
            CHECK,
            format!(
                "cluster {cluster} serves the NodePool API but no Karpenter controller pod is Running"
            ),
            "check Karpenter's deployment: kubectl get pods -A -l app.kubernetes.io/name=karpenter",
        ),
        Ok(status) => Check::pass(
            CHECK,
            format!(
                "cluster {cluster} serves Karpenter's NodePool API and runs its controller ({})",
                status.controller_pods.join(", ")
            ),
        ),
        Err(e) => Check::cannot(CHECK, e.to_string()),
    }]
}

/// Whether these credentials may do in each existing cluster what the run's
/// Kubernetes calls do there (a SelfSubjectAccessReview each, as `kubectl auth can-i`):
/// an EKS access entry with less than cluster-admin fails here, naming the
/// permissions and the steps that need them. A cluster the run creates makes its
/// creator its admin (EKS's bootstrap access entry).
pub(super) async fn kubernetes_permissions(target: &Target, needs: &Needs) -> Vec<Check> {
    const CHECK: &str = "kubernetes-permissions";
    let mut found = Vec::new();
    for (named, needed) in &needs.kube_access {
        let cluster = match cluster_meant(target, needs, named.as_ref()).await {
            Ok(name) => name,
            Err(e) => {
                found.push(Check::cannot(CHECK, e.to_string()));
                continue;
            }
        };
        let created = needs.clusters.iter().any(|c| c.name == cluster);
        match target.eks.describe_cluster(&cluster).await {
            Ok(Some(_)) => {}
            Ok(None) if created => {
                found.push(Check::pass(
                    CHECK,
                    format!(
                        "cluster {cluster} does not exist yet: the run creates it, and EKS makes its creator (these credentials) its admin"
                    ),
                ));
                continue;
            }
            Ok(None) => {
                found.push(Check::cannot(
                    CHECK,
                    format!("cluster {cluster} does not exist, so what may be done in it cannot be checked"),
                ));
                continue;
            }
            Err(e) => {
                found.push(Check::cannot(CHECK, e.to_string()));
                continue;
            }
        }
        let asked: Vec<runbook_backend::KubeAccess> = needed.keys().cloned().collect();
        let verdicts = match target.kube.access(&cluster, &asked).await {
            Ok(verdicts) => verdicts,
            Err(e) => {
                found.push(Check::cannot(CHECK, e.to_string()));
                continue;
            }
        };
        let mut denied = Vec::new();
        let mut unknown = Vec::new();
        for ((access, steps), verdict) in needed.iter().zip(&verdicts) {
            let steps = steps.iter().cloned().collect::<Vec<_>>().join(", ");
            match verdict {
                AccessVerdict::Allowed => {}
                AccessVerdict::Denied(reason) if reason.is_empty() => {
                    denied.push(format!("{access} (steps {steps})"));
                }
                AccessVerdict::Denied(reason) => {
                    denied.push(format!("{access} (steps {steps}): {reason}"));
                }
                AccessVerdict::Unknown(why) => {
                    unknown.push(format!("{access}: {why}"));
                }
            }
        }
        let unknown = if unknown.is_empty() {
            String::new()
        } else {
            format!("; cannot be asked yet: {}", unknown.join("; "))
        };
        found.push(if denied.is_empty() {
            Check::pass(
                CHECK,
                format!(
                    "in cluster {cluster}, these credentials may do the {} things the run does there{unknown}",
                    needed.len()
                ),
            )
        } else {
            Check::fail(
                CHECK,
                format!(
                    "in cluster {cluster}, these credentials may not {}{unknown}",
                    denied.join("; ")
                ),
                format!(
                    "grant them in the cluster: `runbook plan --target aws --rbac FILE` prints the ClusterRole and its binding to group {group}, for an access entry naming that group (aws eks create-access-entry --cluster-name {cluster} --principal-arn <caller> --kubernetes-groups {group}); or give the caller AmazonEKSClusterAdminPolicy (aws eks associate-access-policy --cluster-name {cluster} --principal-arn <caller> --policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy --access-scope type=cluster); `kubectl auth can-i` asks the same",
                    group = crate::rbac_role::GROUP
                ),
            )
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use async_trait::async_trait;
    use runbook_backend::{
        ActionVerdict, BucketOwner, ClusterInfo, Eks, Iam, S3, Target, TargetKind, TargetResult,
    };

    use super::*;
    use crate::preflight::Status;
    use crate::preflight::needs::ClusterNeed;

    /// An account whose IAM denies `eks:CreateCluster`, whose bucket `taken` is
    /// another account's, and whose cluster `going` is being deleted.
    struct Account;

    #[async_trait]
    impl Iam for Account {
        async fn simulate_principal_policy(
            &self,
            _principal_arn: &str,
            actions: &[String],
        ) -> TargetResult<Vec<ActionVerdict>> {
            Ok(actions
                .iter()
                .map(|a| ActionVerdict {
                    action: a.clone(),
                    allowed: a != "eks:CreateCluster",
                    decision: if a == "eks:CreateCluster" {
                        "implicitDeny"
                    } else {
                        "allowed"
                    }
                    .to_string(),
                })
                .collect())
        }
    }

    #[async_trait]
    impl S3 for Account {
        async fn bucket_owner(&self, name: &str) -> TargetResult<BucketOwner> {
            Ok(if name == "taken" {
                BucketOwner::Other
            } else {
                BucketOwner::Nobody
            })
        }
    }

    #[async_trait]
    impl Eks for Account {
        async fn describe_cluster(&self, name: &str) -> TargetResult<Option<ClusterInfo>> {
            Ok((name == "going").then(|| ClusterInfo {
                name: name.to_string(),
                arn: String::new(),
                endpoint: String::new(),
                oidc_issuer: String::new(),
                status: "DELETING".to_string(),
                version: "1.35".to_string(),
            }))
        }
    }

    fn target() -> Target {
        let account = Arc::new(Account);
        Target {
            caller_arn: "arn:aws:iam::111122223333:user/presenter".into(),
            iam: account.clone(),
            s3: account.clone(),
            eks: account,
            ..Target::without_cloud(TargetKind::Aws)
        }
    }

    #[tokio::test]
    async fn a_denied_action_fails_naming_the_steps_that_need_it() {
        let needs = Needs {
            actions: BTreeMap::from([
                (
                    "eks:CreateCluster".to_string(),
                    BTreeSet::from(["cluster".to_string()]),
                ),
                (
                    "s3:CreateBucket".to_string(),
                    BTreeSet::from(["logs[0]".to_string(), "logs[1]".to_string()]),
                ),
            ]),
            ..Needs::default()
        };
        let check = permissions(&target(), &needs).await;
        assert_eq!(check.status, Status::Fail);
        assert_eq!(
            check.detail,
            "IAM denies 1 of the 2 actions the runbook's calls need: eks:CreateCluster (implicitDeny; needed by cluster)"
        );
        assert_eq!(
            check.fix.as_deref(),
            Some(
                "grant them to arn:aws:iam::111122223333:user/presenter (an identity policy), or run as an identity that has them"
            )
        );
    }

    #[tokio::test]
    async fn a_bucket_name_of_another_account_fails() {
        let needs = Needs {
            buckets: vec![
                ("logs".to_string(), "taken".to_string()),
                ("jobs".to_string(), "free-name".to_string()),
            ],
            ..Needs::default()
        };
        let checks = buckets(&target(), &needs).await;
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status, Status::Fail);
        assert_eq!(
            checks[0].detail,
            "owned by another account: taken (CreateBucket would fail with BucketAlreadyExists); free (created): free-name"
        );
    }

    #[tokio::test]
    async fn a_cluster_being_deleted_cannot_be_adopted() {
        let needs = Needs {
            clusters: vec![ClusterNeed {
                step: "cluster".into(),
                name: "going".into(),
                version: None,
            }],
            ..Needs::default()
        };
        let check = existing(&target(), &needs).await.expect("a check");
        assert_eq!(check.status, Status::Fail);
        assert_eq!(
            check.detail,
            "cluster going is being deleted: create-cluster cannot adopt it"
        );
    }
}
