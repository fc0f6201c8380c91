//! AWS IAM through aws-sdk-iam: the job execution roles.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::AwsConfig;
use super::error::{code_of, service_error};
use runbook_backend::ActionError;
use runbook_backend::RoleInfo;
use runbook_backend::{Iam, TargetResult};

pub(super) struct AwsIam {
    iam: aws_sdk_iam::Client,
}

impl AwsIam {
    pub(super) fn new(config: &AwsConfig) -> AwsIam {
        AwsIam {
            iam: aws_sdk_iam::Client::from_conf(
                crate::call_recording::sdk_config!(aws_sdk_iam, config).build(),
            ),
        }
    }

    #[cfg(test)]
    pub(super) fn from_client(iam: aws_sdk_iam::Client) -> AwsIam {
        AwsIam { iam }
    }

    /// Everything that keeps IAM from deleting a role: inline policies, attached
    /// managed policies and instance profiles.
    async fn detach_everything(&self, name: &str) -> TargetResult<()> {
        let inline = self
            .iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| service_error("IAM", "ListRolePolicies", name, e))?;
        for policy in inline.policy_names() {
            self.iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map_err(|e| {
                    service_error("IAM", "DeleteRolePolicy", format!("{name}/{policy}"), e)
                })?;
        }
        let attached = self
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| service_error("IAM", "ListAttachedRolePolicies", name, e))?;
        for policy in attached.attached_policies() {
            let arn = policy.policy_arn().unwrap_or_default();
            self.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| {
                    service_error("IAM", "DetachRolePolicy", format!("{name} {arn}"), e)
                })?;
        }
        let profiles = self
            .iam
            .list_instance_profiles_for_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| service_error("IAM", "ListInstanceProfilesForRole", name, e))?;
        for profile in profiles.instance_profiles() {
            let profile = profile.instance_profile_name();
            self.iam
                .remove_role_from_instance_profile()
                .role_name(name)
                .instance_profile_name(profile)
                .send()
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
        match self.iam.get_role().role_name(name).send().await {
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
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ActionError::Bug(format!("IAM tag: {e}")))?;
        let out = self
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_policy.to_string())
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
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
        self.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(trust_policy.to_string())
            .send()
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
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(|e| {
                service_error("IAM", "PutRolePolicy", format!("{role}/{policy_name}"), e)
            })?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> TargetResult<bool> {
        match self.detach_everything(name).await {
            Ok(()) => {}
            Err(ActionError::Service { code, .. }) if code == "NoSuchEntity" => return Ok(false),
            Err(e) => return Err(e),
        }
        match self.iam.delete_role().role_name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(false),
            Err(e) => Err(service_error("IAM", "DeleteRole", name, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
