//! `create-job-role`: an IAM job execution role for EMR on EKS (walkthrough row 3).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{
    ACCOUNT_PLACEHOLDER, PARTITION_PLACEHOLDER, PlanContext, PlannedCall, PlannedCalls,
    REGION_PLACEHOLDER, is_placeholder,
};
use runbook_backend::ActionError;

/// The action; [`CreateJobRoleInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct CreateJobRole;

/// Creates the IAM role a job's driver and executors run as, trusting EMR and, through
/// the cluster's OIDC provider, the service accounts EMR on EKS creates for jobs in one
/// namespace: exactly the statement `aws emr-containers update-role-trust-policy`
/// adds. An existing role of that name is adopted: the statement is added to its trust
/// policy if missing and the inline policy is put again (both are idempotent).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateJobRoleInput {
    /// Role name (walkthrough: `NAMESPACE-JobExecutionRole`): 1-64 letters, digits and
    /// `+=,.@_-`. EMR names the jobs' service accounts after it.
    name: String,
    /// EKS cluster whose OIDC provider the role trusts (default: the only cluster there
    /// is).
    #[serde(default)]
    cluster: Option<String>,
    /// Namespace of the virtual cluster whose jobs may assume the role.
    namespace: String,
    /// The inline permissions policy, as a JSON document (an object, or JSON text).
    /// Default: the walkthrough's `s3:PutObject/GetObject/ListBucket` on `*` and
    /// `logs:PutLogEvents/CreateLogStream/DescribeLogGroups/DescribeLogStreams` on
    /// `arn:aws:logs:*:*:*`.
    #[serde(default)]
    policy: Option<Value>,
    /// Name of the inline policy.
    #[serde(default = "default_policy_name")]
    policy_name: String,
}

fn default_policy_name() -> String {
    "EMR-Containers-Job-Execution".into()
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreateJobRoleOutput {
    /// Role ARN, for `submit-job`'s execution role.
    role_arn: String,
    /// Role name.
    name: String,
    /// Whether the role already existed and was adopted rather than created.
    adopted: bool,
}

impl Action for CreateJobRole {
    type Input = CreateJobRoleInput;
    type Output = CreateJobRoleOutput;
    const NAME: &'static str = "create-job-role";
    const SUMMARY: &'static str = "Create (or adopt) an EMR on EKS job execution role trusted by a namespace's job service accounts.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: CreateJobRoleInput,
        ctx: &StepContext,
    ) -> Result<CreateJobRoleOutput, ActionError> {
        check_role_name(&input.name)?;
        let policy = permissions_policy(input.policy)?;
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let info = ctx.target.eks.describe_cluster(&cluster).await?.ok_or_else(|| {
            ActionError::Failed(format!(
                "cluster `{cluster}` does not exist; the role's trust policy names its OIDC provider, so create the cluster first"
            ))
        })?;
        let irsa = irsa_statement(&info.arn, &info.oidc_issuer, &input.namespace, &input.name)?;

        let iam = &ctx.target.iam;
        let existing = match iam.get_role(&input.name).await? {
            Some(role) => Some(role),
            None => {
                let trust = new_trust_policy(&irsa);
                match iam.create_role(&input.name, &trust, &BTreeMap::new()).await {
                    Ok(_) => None,
                    // Created by somebody else since we looked: adopt it.
                    Err(ActionError::Service { code, .. }) if code == "EntityAlreadyExists" => {
                        Some(iam.get_role(&input.name).await?.ok_or_else(|| {
                            ActionError::Failed(format!(
                                "role `{}` was reported to exist but cannot be read",
                                input.name
                            ))
                        })?)
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let adopted = existing.is_some();
        if let Some(role) = &existing {
            if let Some(merged) = with_statement(&role.trust_policy, &irsa) {
                iam.update_trust_policy(&input.name, &merged).await?;
            }
        }
        iam.put_role_policy(&input.name, &input.policy_name, &policy)
            .await?;
        let role = iam.get_role(&input.name).await?.ok_or_else(|| {
            ActionError::Failed(format!(
                "role `{}` disappeared while it was being set up",
                input.name
            ))
        })?;
        Ok(CreateJobRoleOutput {
            role_arn: role.arn,
            name: role.name,
            adopted,
        })
    }

    fn planned_calls(
        input: &CreateJobRoleInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        if !is_placeholder(&input.name) {
            check_role_name(&input.name)?;
        }
        let policy = permissions_policy(input.policy.clone())?;
        let (cluster, mut calls) =
            crate::cluster_lookup::planned(&plan.target, input.cluster.as_deref());
        // The cluster's ARN and OIDC issuer come from DescribeCluster at run time; these
        // stand-ins have their shape, so the statement is built by the same function.
        let cluster_arn = format!(
            "arn:{PARTITION_PLACEHOLDER}:eks:{REGION_PLACEHOLDER}:{ACCOUNT_PLACEHOLDER}:cluster/{cluster}"
        );
        let issuer = format!("https://<OIDC provider of cluster {cluster}>");
        let irsa = irsa_statement(&cluster_arn, &issuer, &input.namespace, &input.name)?;
        let role = input.name.as_str();
        calls.extend(
            plan.target
                .eks
                .planned_describe_cluster(&cluster)
                .note("for its account and OIDC issuer, which the trust statement names"),
        );
        let iam = &plan.target.iam;
        calls.extend(iam.planned_get_role(role));
        calls.extend(
            iam.planned_create_role(role, &new_trust_policy(&irsa), &BTreeMap::new())
                .under("if the role does not exist"),
        );
        // The trust policy a role already has is only known at run time.
        let existing = json!({"Version": "2012-10-17", "Statement": ["<the role's statements>"]});
        if let Some(merged) = with_statement(&existing, &irsa) {
            calls.extend(
                iam.planned_update_trust_policy(role, &merged)
                    .under("if the role exists and its trust policy lacks this statement"),
            );
        }
        calls.extend(iam.planned_put_role_policy(role, &input.policy_name, &policy));
        calls.extend(iam.planned_get_role(role).note("for the role's ARN"));
        Ok(calls)
    }
}

/// The trust policy of a role this action creates: EMR may assume it, and so may the
/// job service accounts of `irsa`.
fn new_trust_policy(irsa: &Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [emr_service_statement(), irsa.clone()],
    })
}

/// The statement `iam create-role` is given in the walkthrough: EMR may assume the role.
fn emr_service_statement() -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Service": "elasticmapreduce.amazonaws.com"},
        "Action": "sts:AssumeRole",
    })
}

/// The statement `aws emr-containers update-role-trust-policy` appends (aws-k8s-facts
/// section 2): the cluster's OIDC provider may assume the role for the service accounts
/// EMR on EKS creates for jobs in `namespace`, whose names end in the account and the
/// base36 of the role name.
fn irsa_statement(
    cluster_arn: &str,
    oidc_issuer: &str,
    namespace: &str,
    role: &str,
) -> Result<Value, ActionError> {
    let fields: Vec<&str> = cluster_arn.split(':').collect();
    let (Some(partition), Some(account)) = (fields.get(1), fields.get(4)) else {
        return Err(ActionError::Bug(format!(
            "cluster ARN `{cluster_arn}` has no partition and account"
        )));
    };
    let provider = oidc_issuer.strip_prefix("https://").unwrap_or(oidc_issuer);
    // A plan may not know the role's name yet; its encoding is then shown, not computed.
    let encoded = if is_placeholder(role) {
        format!("<base36 of {role}>")
    } else {
        base36_role_name(role)
    };
    Ok(json!({
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:{partition}:iam::{account}:oidc-provider/{provider}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {
            format!("{provider}:sub"):
                format!("system:serviceaccount:{namespace}:emr-containers-sa-*-*-{account}-{encoded}"),
        }},
    }))
}

/// The role name in base 36 as the AWS CLI writes it into service-account names
/// (`awscli/customizations/emrcontainers/base36.py`): the characters' code points as
/// the digits of one base-256 number, written in `0-9a-z`, most significant first;
/// `"0"` for an empty name.
fn base36_role_name(name: &str) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // The number as base-256 digits, most significant first.
    let mut number: Vec<u32> = Vec::new();
    for ch in name.chars() {
        // number = number * 256 + ch
        number.push(0);
        let mut carry = u32::from(ch);
        for digit in number.iter_mut().rev() {
            let value = *digit + carry;
            *digit = value % 256;
            carry = value / 256;
        }
        while carry > 0 {
            number.insert(0, carry % 256);
            carry /= 256;
        }
    }
    let mut encoded = Vec::new();
    while number.iter().any(|&d| d != 0) {
        let mut remainder = 0;
        for digit in &mut number {
            let value = remainder * 256 + *digit;
            *digit = value / 36;
            remainder = value % 36;
        }
        encoded.push(ALPHABET[remainder as usize]);
    }
    if encoded.is_empty() {
        return "0".into();
    }
    encoded.iter().rev().map(|&b| char::from(b)).collect()
}

/// The trust policy with `statement` appended, or `None` if an identical statement is
/// already there (the CLI compares whole statements, `check_if_dict_matches`).
fn with_statement(policy: &Value, statement: &Value) -> Option<Value> {
    let mut policy = match policy {
        Value::Object(_) => policy.clone(),
        _ => json!({"Version": "2012-10-17"}),
    };
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    if statements.contains(statement) {
        return None;
    }
    let mut statements = statements;
    statements.push(statement.clone());
    policy["Statement"] = Value::Array(statements);
    Some(policy)
}

/// The inline policy: the one given (an object, or JSON text), or the walkthrough's.
fn permissions_policy(policy: Option<Value>) -> Result<Value, ActionError> {
    let policy = match policy {
        None => {
            return Ok(json!({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
                        "Resource": "*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": [
                            "logs:PutLogEvents",
                            "logs:CreateLogStream",
                            "logs:DescribeLogGroups",
                            "logs:DescribeLogStreams",
                        ],
                        "Resource": ["arn:aws:logs:*:*:*"],
                    },
                ],
            }));
        }
        Some(Value::String(text)) => serde_json::from_str(&text).map_err(|e| {
            ActionError::InvalidInput(format!("`policy` is not a JSON document: {e}"))
        })?,
        Some(other) => other,
    };
    if !policy
        .get("Statement")
        .is_some_and(|s| s.is_array() || s.is_object())
    {
        return Err(ActionError::InvalidInput(
            "`policy` must be an IAM policy document with a `Statement`".into(),
        ));
    }
    Ok(policy)
}

/// IAM role names: 1-64 characters of `[\w+=,.@-]`.
fn check_role_name(name: &str) -> Result<(), ActionError> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '=' | ',' | '.' | '@' | '_' | '-'));
    if name.is_empty() || name.len() > 64 || !chars_ok {
        return Err(ActionError::InvalidInput(format!(
            "role name `{name}` is not valid: use 1-64 letters, digits and `+=,.@_-`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{base36_role_name, irsa_statement, with_statement};
    use crate::test_support::SimWorld;

    #[test]
    fn base36_matches_the_aws_cli() {
        assert_eq!(
            base36_role_name("ts-eks-emr-eks-emr-cli"),
            "j3uv6jk0kk3sogu231qj91fmo3mvwfl561"
        );
        assert_eq!(base36_role_name(""), "0");
        assert_eq!(base36_role_name("a"), "2p");
    }

    #[test]
    fn the_statement_is_the_clis() {
        let statement = irsa_statement(
            "arn:aws:eks:us-east-2:123456789012:cluster/eks-emr-cluster",
            "https://oidc.eks.us-east-2.amazonaws.com/id/ABC",
            "monthly-batch",
            "ts-eks-emr-eks-emr-cli",
        )
        .expect("statement");
        assert_eq!(
            statement,
            json!({
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/ABC"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringLike": {
                    "oidc.eks.us-east-2.amazonaws.com/id/ABC:sub":
                        "system:serviceaccount:monthly-batch:emr-containers-sa-*-*-123456789012-j3uv6jk0kk3sogu231qj91fmo3mvwfl561"
                }}
            })
        );
    }

    #[test]
    fn merging_adds_the_statement_once() {
        let statement = json!({"Effect": "Allow", "Action": "x"});
        let single =
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "y"}});
        let merged = with_statement(&single, &statement).expect("added");
        assert_eq!(merged["Statement"].as_array().map(Vec::len), Some(2));
        assert_eq!(with_statement(&merged, &statement), None);
        let fresh = with_statement(&Value::Null, &statement).expect("added");
        assert_eq!(fresh["Statement"], json!([statement]));
    }

    fn trust_of(world: &SimWorld, role: &str) -> Value {
        let w = world.sim.world();
        let text = w
            .role(role)
            .expect("role")
            .assume_role_policy
            .clone()
            .expect("trust policy");
        serde_json::from_str(&text).expect("JSON")
    }

    #[tokio::test]
    async fn creates_then_adopts_with_one_irsa_statement() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "eks-emr-cluster"}))
            .await
            .expect("cluster");
        let input = json!({"name": "monthly-batch-JobExecutionRole", "namespace": "monthly-batch"});
        let first = world
            .run("create-job-role", input.clone())
            .await
            .expect("created");
        assert_eq!(
            first,
            json!({
                "role_arn": "arn:aws:iam::123456789012:role/monthly-batch-JobExecutionRole",
                "name": "monthly-batch-JobExecutionRole",
                "adopted": false,
            })
        );
        let trust = trust_of(&world, "monthly-batch-JobExecutionRole");
        let statements = trust["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 2);
        assert_eq!(
            statements[0]["Principal"]["Service"],
            "elasticmapreduce.amazonaws.com"
        );
        assert_eq!(statements[1]["Action"], "sts:AssumeRoleWithWebIdentity");
        {
            let w = world.sim.world();
            let role = w.role("monthly-batch-JobExecutionRole").expect("role");
            let policy: Value =
                serde_json::from_str(&role.policies["EMR-Containers-Job-Execution"])
                    .expect("policy JSON");
            assert_eq!(
                policy["Statement"][1]["Resource"],
                json!(["arn:aws:logs:*:*:*"])
            );
        }

        let second = world.run("create-job-role", input).await.expect("adopted");
        assert_eq!(second["adopted"], true);
        assert_eq!(second["role_arn"], first["role_arn"]);
        assert_eq!(
            trust_of(&world, "monthly-batch-JobExecutionRole"),
            trust,
            "no second statement"
        );
        assert_eq!(world.sim.world().roles().count(), 1);
    }

    #[tokio::test]
    async fn adopting_a_role_of_another_namespace_adds_its_statement() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        world
            .run(
                "create-job-role",
                json!({"name": "shared", "namespace": "a"}),
            )
            .await
            .expect("created");
        let out = world
            .run(
                "create-job-role",
                json!({"name": "shared", "namespace": "b", "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}),
            )
            .await
            .expect("adopted");
        assert_eq!(out["adopted"], true);
        let trust = trust_of(&world, "shared");
        let subjects: Vec<String> = trust["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .filter_map(|s| s.pointer("/Condition/StringLike"))
            .flat_map(|c| {
                c.as_object()
                    .expect("map")
                    .values()
                    .filter_map(|v| v.as_str().map(str::to_string))
            })
            .collect();
        assert_eq!(subjects.len(), 2, "{subjects:?}");
        assert!(subjects[0].starts_with("system:serviceaccount:a:"));
        assert!(subjects[1].starts_with("system:serviceaccount:b:"));
        let w = world.sim.world();
        assert_eq!(
            w.role("shared").expect("role").policies["EMR-Containers-Job-Execution"],
            r#"{"Version":"2012-10-17","Statement":[]}"#
        );
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run(
                "create-job-role",
                json!({"name": "r", "cluster": "nope", "namespace": "a"}),
            )
            .await
            .expect_err("no cluster");
        assert!(
            err.to_string().contains("cluster `nope` does not exist"),
            "{err}"
        );
        let err = world
            .run(
                "create-job-role",
                json!({"name": "bad name", "cluster": "c", "namespace": "a"}),
            )
            .await
            .expect_err("bad name");
        assert!(
            err.to_string()
                .contains("role name `bad name` is not valid"),
            "{err}"
        );
        let err = world
            .run(
                "create-job-role",
                json!({"name": "r", "cluster": "c", "namespace": "a", "policy": "{"}),
            )
            .await
            .expect_err("bad policy");
        assert!(
            err.to_string().contains("`policy` is not a JSON document"),
            "{err}"
        );
        let err = world
            .run(
                "create-job-role",
                json!({"name": "r", "namespace": "a", "role_name": "r"}),
            )
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `role_name`"),
            "{err}"
        );
    }
}
