//! AWS IAM through aws-sdk-iam: the job execution roles, and preflight's question of
//! what the caller may call.

use crate::propagation::retry_while_propagating;
use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::{EvaluationResult, PolicyEvaluationDecisionType, Tag};

use serde_json::{Value, json};

use super::AwsConfig;
use super::error::{code_of, service_error};
use runbook_backend::ActionError;
use runbook_backend::calls::{PlannedCall, Service, declared};
use runbook_backend::{ActionVerdict, RoleInfo};
use runbook_backend::{Iam, TargetResult};

pub(super) struct AwsIam {
    iam: aws_sdk_iam::Client,
}

impl AwsIam {
    pub(crate) fn new(config: &AwsConfig) -> AwsIam {
        AwsIam {
            iam: aws_sdk_iam::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_iam, config).build(),
            ),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_client(iam: aws_sdk_iam::Client) -> AwsIam {
        AwsIam { iam }
    }

    /// Everything that keeps IAM from deleting a role: inline policies, attached
    /// managed policies and instance profiles.
    async fn detach_everything(&self, name: &str) -> TargetResult<()> {
        let inline = declared(
            removal_calls::list_inline(name),
            self.iam.list_role_policies().role_name(name).send(),
        )
        .await
        .map_err(|e| service_error("IAM", "ListRolePolicies", name, e))?;
        for policy in inline.policy_names() {
            declared(
                removal_calls::delete_inline(name, policy),
                self.iam
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .send(),
            )
            .await
            .map_err(|e| service_error("IAM", "DeleteRolePolicy", format!("{name}/{policy}"), e))?;
        }
        let attached = declared(
            removal_calls::list_attached(name),
            self.iam
                .list_attached_role_policies()
                .role_name(name)
                .send(),
        )
        .await
        .map_err(|e| service_error("IAM", "ListAttachedRolePolicies", name, e))?;
        for policy in attached.attached_policies() {
            let arn = policy.policy_arn().unwrap_or_default();
            declared(
                removal_calls::detach(name, arn),
                self.iam
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send(),
            )
            .await
            .map_err(|e| service_error("IAM", "DetachRolePolicy", format!("{name} {arn}"), e))?;
        }
        let profiles = declared(
            removal_calls::list_profiles(name),
            self.iam
                .list_instance_profiles_for_role()
                .role_name(name)
                .send(),
        )
        .await
        .map_err(|e| service_error("IAM", "ListInstanceProfilesForRole", name, e))?;
        for profile in profiles.instance_profiles() {
            let profile = profile.instance_profile_name();
            declared(
                removal_calls::remove_from_profile(name, profile),
                self.iam
                    .remove_role_from_instance_profile()
                    .role_name(name)
                    .instance_profile_name(profile)
                    .send(),
            )
            .await
            .map_err(|e| {
                service_error(
                    "IAM",
                    "RemoveRoleFromInstanceProfile",
                    format!("{name} {profile}"),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// The IAM ARN of role `name`, path included: the role a session ARN names, which
    /// SimulatePrincipalPolicy accepts where it refuses the session's ARN.
    async fn role_arn(&self, name: &str) -> TargetResult<String> {
        match self.get_role(name).await? {
            Some(role) => Ok(role.arn),
            None => Err(ActionError::Service {
                service: "IAM",
                operation: "GetRole",
                resource: name.to_string(),
                code: "NoSuchEntity".into(),
                message: format!(
                    "the caller is a session of role `{name}`, which IAM does not find (deleted since the session began?); sign in again"
                ),
            }),
        }
    }
}

/// Whom SimulatePrincipalPolicy is asked about for a caller ARN from STS
/// GetCallerIdentity, which is not always one IAM accepts.
#[derive(Debug, PartialEq, Eq)]
enum Principal<'a> {
    /// The account's root user (`arn:aws:iam::123456789012:root`), which IAM refuses to
    /// simulate.
    Root,
    /// A role session (`arn:aws:sts::123456789012:assumed-role/Admin/session`, as SSO and
    /// `aws sts assume-role` give): IAM simulates the role, whose ARN has a path
    /// (`role/aws-reserved/sso.amazonaws.com/...`) the session ARN does not show, so
    /// GetRole of `role_name` tells it.
    AssumedRole { role_name: &'a str },
    /// A user or role ARN, simulated as it is.
    Arn(&'a str),
}

/// Reads a caller ARN (`arn:partition:service::account:resource`). Role names cannot
/// contain `/`, so the session's role is the segment after `assumed-role/`.
fn principal(arn: &str) -> Principal<'_> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", _, "root"] => Principal::Root,
        ["arn", _, "sts", "", _, resource] => match resource
            .strip_prefix("assumed-role/")
            .and_then(|rest| rest.split_once('/'))
        {
            Some((role_name, _session)) if !role_name.is_empty() => {
                Principal::AssumedRole { role_name }
            }
            _ => Principal::Arn(arn),
        },
        _ => Principal::Arn(arn),
    }
}

/// IAM's verdict on one action.
fn verdict(result: &EvaluationResult) -> ActionVerdict {
    let decision = result.eval_decision();
    ActionVerdict {
        action: result.eval_action_name().to_string(),
        allowed: *decision == PolicyEvaluationDecisionType::Allowed,
        decision: decision.as_str().to_string(),
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986 percent-encoding).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document as IAM returns it: URL-encoded JSON (moto's and some proxies' is
/// plain JSON; both are read). `Null` if there is none or it is not JSON.
pub fn policy_document(document: Option<&str>) -> serde_json::Value {
    let Some(document) = document else {
        return serde_json::Value::Null;
    };
    serde_json::from_str(document)
        .or_else(|_| serde_json::from_str(&percent_decode(document)))
        .unwrap_or(serde_json::Value::Null)
}

fn role_info(role: &aws_sdk_iam::types::Role) -> RoleInfo {
    RoleInfo {
        name: role.role_name().to_string(),
        arn: role.arn().to_string(),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        trust_policy: policy_document(role.assume_role_policy_document()),
    }
}

#[async_trait]
impl Iam for AwsIam {
    async fn get_role(&self, name: &str) -> TargetResult<Option<RoleInfo>> {
        match declared(
            get_role_call(name),
            self.iam.get_role().role_name(name).send(),
        )
        .await
        {
            Ok(out) => Ok(out.role().map(role_info)),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(service_error("IAM", "GetRole", name, e)),
        }
    }

    async fn create_role(
        &self,
        name: &str,
        trust_policy: &serde_json::Value,
        tags: &BTreeMap<String, String>,
    ) -> TargetResult<RoleInfo> {
        let call = create_role_call(name, trust_policy, tags);
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ActionError::Bug(format!("IAM tag: {e}")))?;
        // A trust policy naming an OIDC provider created a moment ago can be refused
        // until IAM has propagated the provider.
        let out = retry_while_propagating(|| {
            declared(
                call.clone(),
                self.iam
                    .create_role()
                    .role_name(name)
                    .assume_role_policy_document(trust_policy.to_string())
                    .set_tags((!tags.is_empty()).then(|| tags.clone()))
                    .send(),
            )
        })
        .await
        .map_err(|e| service_error("IAM", "CreateRole", name, e))?;
        out.role().map(role_info).ok_or_else(|| {
            ActionError::Failed(format!("IAM CreateRole of `{name}` returned no role"))
        })
    }

    async fn update_trust_policy(
        &self,
        name: &str,
        trust_policy: &serde_json::Value,
    ) -> TargetResult<()> {
        let call = update_trust_call(name, trust_policy);
        retry_while_propagating(|| {
            declared(
                call.clone(),
                self.iam
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(trust_policy.to_string())
                    .send(),
            )
        })
        .await
        .map_err(|e| service_error("IAM", "UpdateAssumeRolePolicy", name, e))?;
        Ok(())
    }

    async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &serde_json::Value,
    ) -> TargetResult<()> {
        declared(
            put_policy_call(role, policy_name, document),
            self.iam
                .put_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .policy_document(document.to_string())
                .send(),
        )
        .await
        .map_err(|e| service_error("IAM", "PutRolePolicy", format!("{role}/{policy_name}"), e))?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> TargetResult<bool> {
        match self.detach_everything(name).await {
            Ok(()) => {}
            Err(ActionError::Service { code, .. }) if code == "NoSuchEntity" => return Ok(false),
            Err(e) => return Err(e),
        }
        match declared(
            removal_calls::delete_role(name),
            self.iam.delete_role().role_name(name).send(),
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(false),
            Err(e) => Err(service_error("IAM", "DeleteRole", name, e)),
        }
    }

    /// One simulation of all `actions` (IAM takes many per request; its answer is
    /// paged). A role session is simulated as its role. The root user is answered
    /// here, every action `allowed`: IAM refuses to simulate it because identity
    /// policies do not apply to it, and it may call anything, bar what an
    /// organization's service control policies deny a member account, which the
    /// simulation could not show for it either.
    async fn simulate_principal_policy(
        &self,
        principal_arn: &str,
        actions: &[String],
    ) -> TargetResult<Vec<ActionVerdict>> {
        let source = match principal(principal_arn) {
            Principal::Root => {
                return Ok(actions
                    .iter()
                    .map(|action| ActionVerdict {
                        action: action.clone(),
                        allowed: true,
                        decision: PolicyEvaluationDecisionType::Allowed.as_str().to_string(),
                    })
                    .collect());
            }
            Principal::AssumedRole { role_name } => self.role_arn(role_name).await?,
            Principal::Arn(arn) => arn.to_string(),
        };
        // IAM requires at least one action; no actions have no verdicts.
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let mut verdicts = Vec::new();
        let mut pages = self
            .iam
            .simulate_principal_policy()
            .policy_source_arn(&source)
            .set_action_names(Some(actions.to_vec()))
            .into_paginator()
            .send();
        let simulate = PlannedCall::new(
            Service::Iam,
            "SimulatePrincipalPolicy",
            json!({"policySourceArn": source, "actionNames": actions}),
        )
        .note("what the caller may call (preflight)");
        while let Some(page) = declared(simulate.clone(), pages.next()).await {
            let page = page
                .map_err(|e| service_error("IAM", "SimulatePrincipalPolicy", source.as_str(), e))?;
            verdicts.extend(page.evaluation_results().iter().map(verdict));
        }
        Ok(verdicts)
    }

    fn planned_get_role(&self, name: &str) -> Vec<PlannedCall> {
        vec![get_role_call(name)]
    }

    fn planned_create_role(
        &self,
        name: &str,
        trust_policy: &Value,
        tags: &BTreeMap<String, String>,
    ) -> Vec<PlannedCall> {
        vec![create_role_call(name, trust_policy, tags)]
    }

    fn planned_update_trust_policy(&self, name: &str, trust_policy: &Value) -> Vec<PlannedCall> {
        vec![update_trust_call(name, trust_policy)]
    }

    fn planned_put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &Value,
    ) -> Vec<PlannedCall> {
        vec![put_policy_call(role, policy_name, document)]
    }

    fn planned_delete_role(&self, name: &str) -> Vec<PlannedCall> {
        vec![
            removal_calls::list_inline(name),
            removal_calls::delete_inline(name, "<each inline policy>"),
            removal_calls::list_attached(name),
            removal_calls::detach(name, "<each attached policy>"),
            removal_calls::list_profiles(name),
            removal_calls::remove_from_profile(name, "<each instance profile>"),
            removal_calls::delete_role(name),
        ]
    }
}

pub(crate) fn get_role_call(name: &str) -> PlannedCall {
    PlannedCall::new(Service::Iam, "GetRole", json!({"roleName": name}))
}

/// CreateRole; its tags, if any, as IAM's list of `key`/`value` pairs.
pub(crate) fn create_role_call(
    name: &str,
    trust_policy: &Value,
    tags: &BTreeMap<String, String>,
) -> PlannedCall {
    let mut detail = json!({"roleName": name, "assumeRolePolicyDocument": trust_policy});
    if !tags.is_empty() {
        detail["tags"] = tags
            .iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect();
    }
    PlannedCall::new(Service::Iam, "CreateRole", detail)
}

fn update_trust_call(name: &str, trust_policy: &Value) -> PlannedCall {
    PlannedCall::new(
        Service::Iam,
        "UpdateAssumeRolePolicy",
        json!({"roleName": name, "policyDocument": trust_policy}),
    )
}

fn put_policy_call(role: &str, policy_name: &str, document: &Value) -> PlannedCall {
    PlannedCall::new(
        Service::Iam,
        "PutRolePolicy",
        json!({"roleName": role, "policyName": policy_name, "policyDocument": document}),
    )
}

/// The calls that delete a role: IAM deletes none that still has policies or is in an
/// instance profile.
pub(crate) mod removal_calls {
    use super::*;

    pub(crate) fn list_inline(role: &str) -> PlannedCall {
        PlannedCall::new(Service::Iam, "ListRolePolicies", json!({"roleName": role}))
            .note("NoSuchEntity: already gone, which is success")
    }

    pub(crate) fn delete_inline(role: &str, policy: &str) -> PlannedCall {
        PlannedCall::new(
            Service::Iam,
            "DeleteRolePolicy",
            json!({"roleName": role, "policyName": policy}),
        )
        .when("for each inline policy (IAM deletes no role that has any)")
    }

    pub(crate) fn list_attached(role: &str) -> PlannedCall {
        PlannedCall::new(
            Service::Iam,
            "ListAttachedRolePolicies",
            json!({"roleName": role}),
        )
    }

    pub(crate) fn detach(role: &str, policy_arn: &str) -> PlannedCall {
        PlannedCall::new(
            Service::Iam,
            "DetachRolePolicy",
            json!({"roleName": role, "policyArn": policy_arn}),
        )
        .when("for each attached managed policy")
    }

    pub(crate) fn list_profiles(role: &str) -> PlannedCall {
        PlannedCall::new(
            Service::Iam,
            "ListInstanceProfilesForRole",
            json!({"roleName": role}),
        )
    }

    pub(crate) fn remove_from_profile(role: &str, profile: &str) -> PlannedCall {
        PlannedCall::new(
            Service::Iam,
            "RemoveRoleFromInstanceProfile",
            json!({"roleName": role, "instanceProfileName": profile}),
        )
        .when("for each instance profile it is in")
    }

    pub(crate) fn delete_role(role: &str) -> PlannedCall {
        PlannedCall::new(Service::Iam, "DeleteRole", json!({"roleName": role}))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_iam::operation::get_role::GetRoleOutput;
    use aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyOutput;
    use aws_sdk_iam::types::Role;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::sdk_mock::{iam_error, mocked};

    const USER: &str = "arn:aws:iam::123456789012:user/demo";
    const SSO_ROLE: &str = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef";

    fn actions(names: &[&str]) -> Vec<String> {
        names.iter().map(ToString::to_string).collect()
    }

    fn result(action: &str, decision: PolicyEvaluationDecisionType) -> EvaluationResult {
        EvaluationResult::builder()
            .eval_action_name(action)
            .eval_resource_name("*")
            .eval_decision(decision)
            .build()
            .expect("action and decision are set")
    }

    fn summary(verdicts: &[ActionVerdict]) -> Vec<(&str, bool, &str)> {
        verdicts
            .iter()
            .map(|v| (v.action.as_str(), v.allowed, v.decision.as_str()))
            .collect()
    }

    #[test]
    fn caller_arns_are_read_as_iam_can_simulate_them() {
        assert_eq!(principal("arn:aws:iam::123456789012:root"), Principal::Root);
        assert_eq!(
            principal(
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jane@example.com"
            ),
            Principal::AssumedRole {
                role_name: "AWSReservedSSO_Admin_0123456789abcdef"
            }
        );
        assert_eq!(
            principal("arn:aws-cn:sts::123456789012:assumed-role/Admin/botocore-session-1"),
            Principal::AssumedRole { role_name: "Admin" }
        );
        for as_is in [
            USER,
            "arn:aws:iam::123456789012:user/team/demo",
            SSO_ROLE,
            // Not a role session: IAM's answer (it cannot simulate one) is reported.
            "arn:aws:sts::123456789012:federated-user/demo",
            "arn:aws:sts::123456789012:assumed-role/no-session",
            "not an arn",
        ] {
            assert_eq!(principal(as_is), Principal::Arn(as_is), "{as_is}");
        }
    }

    #[tokio::test]
    async fn a_user_gets_iams_verdict_on_every_action_across_pages() {
        let asked = actions(&["eks:CreateCluster", "iam:CreateRole", "s3:CreateBucket"]);
        let expected = asked.clone();
        let first = mock!(aws_sdk_iam::Client::simulate_principal_policy)
            .match_requests(move |r| {
                r.policy_source_arn() == Some(USER)
                    && r.action_names() == expected.as_slice()
                    && r.marker().is_none()
            })
            .then_output(|| {
                SimulatePrincipalPolicyOutput::builder()
                    .evaluation_results(result(
                        "eks:CreateCluster",
                        PolicyEvaluationDecisionType::Allowed,
                    ))
                    .evaluation_results(result(
                        "iam:CreateRole",
                        PolicyEvaluationDecisionType::ImplicitDeny,
                    ))
                    .is_truncated(true)
                    .marker("page-2")
                    .build()
            });
        let second = mock!(aws_sdk_iam::Client::simulate_principal_policy)
            .match_requests(|r| r.policy_source_arn() == Some(USER) && r.marker() == Some("page-2"))
            .then_output(|| {
                SimulatePrincipalPolicyOutput::builder()
                    .evaluation_results(result(
                        "s3:CreateBucket",
                        PolicyEvaluationDecisionType::ExplicitDeny,
                    ))
                    .is_truncated(false)
                    .build()
            });
        let iam = AwsIam::from_client(mocked!(aws_sdk_iam, &first, &second));
        let verdicts = iam
            .simulate_principal_policy(USER, &asked)
            .await
            .expect("simulated");
        assert_eq!(
            summary(&verdicts),
            vec![
                ("eks:CreateCluster", true, "allowed"),
                ("iam:CreateRole", false, "implicitDeny"),
                ("s3:CreateBucket", false, "explicitDeny"),
            ]
        );
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_role_session_is_simulated_as_its_role_with_the_path_getrole_tells() {
        let get_role = mock!(aws_sdk_iam::Client::get_role)
            .match_requests(|r| r.role_name() == Some("AWSReservedSSO_Admin_0123456789abcdef"))
            .then_output(|| {
                let role = Role::builder()
                    .path("/aws-reserved/sso.amazonaws.com/eu-west-1/")
                    .role_name("AWSReservedSSO_Admin_0123456789abcdef")
                    .role_id("AROAEXAMPLE")
                    .arn(SSO_ROLE)
                    .create_date(aws_smithy_types::DateTime::from_secs(0))
                    .build()
                    .expect("required role fields are set");
                GetRoleOutput::builder().role(role).build()
            });
        let simulate = mock!(aws_sdk_iam::Client::simulate_principal_policy)
            .match_requests(|r| r.policy_source_arn() == Some(SSO_ROLE))
            .then_output(|| {
                SimulatePrincipalPolicyOutput::builder()
                    .evaluation_results(result(
                        "eks:CreateCluster",
                        PolicyEvaluationDecisionType::Allowed,
                    ))
                    .build()
            });
        let iam = AwsIam::from_client(mocked!(aws_sdk_iam, &get_role, &simulate));
        let verdicts = iam
            .simulate_principal_policy(
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jane@example.com",
                &actions(&["eks:CreateCluster"]),
            )
            .await
            .expect("simulated");
        assert_eq!(
            summary(&verdicts),
            vec![("eks:CreateCluster", true, "allowed")]
        );
        assert_eq!((get_role.num_calls(), simulate.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_session_of_a_deleted_role_says_so() {
        let missing = iam_error("NoSuchEntity", "The role with name Admin cannot be found.");
        let get_role = mock!(aws_sdk_iam::Client::get_role)
            .sequence()
            .http_status(404, Some(missing))
            .build();
        let iam = AwsIam::from_client(mocked!(aws_sdk_iam, &get_role));
        let err = iam
            .simulate_principal_policy(
                "arn:aws:sts::123456789012:assumed-role/Admin/session",
                &actions(&["eks:CreateCluster"]),
            )
            .await
            .expect_err("no role");
        assert_eq!(
            err.to_string(),
            "IAM GetRole of `Admin` failed: NoSuchEntity: the caller is a session of role `Admin`, which IAM does not find (deleted since the session began?); sign in again"
        );
    }

    #[tokio::test]
    async fn the_root_user_may_call_everything_without_asking_iam() {
        let simulate = mock!(aws_sdk_iam::Client::simulate_principal_policy)
            .then_output(|| SimulatePrincipalPolicyOutput::builder().build());
        let iam = AwsIam::from_client(mocked!(aws_sdk_iam, &simulate));
        let verdicts = iam
            .simulate_principal_policy(
                "arn:aws:iam::123456789012:root",
                &actions(&["eks:CreateCluster", "iam:CreateRole"]),
            )
            .await
            .expect("root");
        assert_eq!(
            summary(&verdicts),
            vec![
                ("eks:CreateCluster", true, "allowed"),
                ("iam:CreateRole", true, "allowed"),
            ]
        );
        assert_eq!(simulate.num_calls(), 0, "IAM refuses to simulate root");
    }

    #[tokio::test]
    async fn a_refused_simulation_names_the_principal_and_iams_code() {
        let denied = iam_error(
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/demo is not authorized to perform: iam:SimulatePrincipalPolicy",
        );
        let simulate = mock!(aws_sdk_iam::Client::simulate_principal_policy)
            .sequence()
            .http_status(403, Some(denied))
            .build();
        let iam = AwsIam::from_client(mocked!(aws_sdk_iam, &simulate));
        let err = iam
            .simulate_principal_policy(USER, &actions(&["eks:CreateCluster"]))
            .await
            .expect_err("denied");
        assert!(
            err.to_string().starts_with(&format!(
                "IAM SimulatePrincipalPolicy of `{USER}` failed: AccessDenied: User:"
            )),
            "{err}"
        );
    }

    #[test]
    fn trust_policies_are_read_url_encoded_or_plain() {
        let plain = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Condition":{"StringLike":{"oidc.eks/id/X:sub":"system:serviceaccount:ns:emr-containers-sa-*-*"}}}]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Condition%22%3A%7B%22StringLike%22%3A%7B%22oidc.eks%2Fid%2FX%3Asub%22%3A%22system%3Aserviceaccount%3Ans%3Aemr-containers-sa-%2A-%2A%22%7D%7D%7D%5D%7D";
        let expected: serde_json::Value = serde_json::from_str(plain).expect("valid JSON");
        assert_eq!(policy_document(Some(plain)), expected);
        assert_eq!(policy_document(Some(encoded)), expected);
        assert_eq!(policy_document(None), serde_json::Value::Null);
    }
}
