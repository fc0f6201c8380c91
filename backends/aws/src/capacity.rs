//! What the account can run in the region, for `preflight`: its subnets, where an
//! instance type is offered, instance vCPUs (Amazon EC2) and its vCPU quotas (Service
//! Quotas).

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, InstanceType, LocationType};
use runbook_backend::calls::{PlannedCall, Service, declared};
use runbook_backend::{ActionError, Capacity, SubnetInfo, TargetResult, VcpuQuota};
use serde_json::json;

use super::AwsConfig;
use crate::call_recording::sdk_config;
use crate::service_error;

/// The Service Quotas service code of Amazon EC2, whose quotas the vCPU ones are.
const EC2_SERVICE_CODE: &str = "ec2";

pub(super) struct AwsCapacity {
    ec2: aws_sdk_ec2::Client,
    quotas: aws_sdk_servicequotas::Client,
}

impl AwsCapacity {
    pub(super) fn new(config: &AwsConfig) -> AwsCapacity {
        AwsCapacity {
            ec2: aws_sdk_ec2::Client::from_conf(sdk_config!(aws_sdk_ec2, config).build()),
            quotas: aws_sdk_servicequotas::Client::from_conf(
                sdk_config!(aws_sdk_servicequotas, config).build(),
            ),
        }
    }

    #[cfg(test)]
    fn from_clients(ec2: aws_sdk_ec2::Client, quotas: aws_sdk_servicequotas::Client) -> Self {
        AwsCapacity { ec2, quotas }
    }

    /// AWS's default for quota `code`: what applies while the account has asked for no
    /// increase (Service Quotas then has no applied value to answer with).
    async fn default_vcpu_quota(&self, code: &str) -> TargetResult<VcpuQuota> {
        let answer = declared(
            quota_call("GetAWSDefaultServiceQuota", code),
            self.quotas
                .get_aws_default_service_quota()
                .service_code(EC2_SERVICE_CODE)
                .quota_code(code)
                .send(),
        )
        .await
        .map_err(|e| service_error("Service Quotas", "GetAWSDefaultServiceQuota", code, e))?;
        vcpu_quota(code, answer.quota(), true)
    }
}

/// A read of EC2's quota `code` (`GetServiceQuota`, `GetAWSDefaultServiceQuota`).
fn quota_call(operation: &str, code: &str) -> PlannedCall {
    PlannedCall::new(
        Service::ServiceQuotas,
        operation,
        json!({"serviceCode": EC2_SERVICE_CODE, "quotaCode": code}),
    )
}

/// The quota Service Quotas answered for `code`; an answer without a value is an error
/// rather than a quota of zero, which preflight would report as "no vCPUs allowed".
fn vcpu_quota(
    code: &str,
    quota: Option<&aws_sdk_servicequotas::types::ServiceQuota>,
    default: bool,
) -> TargetResult<VcpuQuota> {
    let value = quota.and_then(|q| q.value()).ok_or_else(|| {
        ActionError::Failed(format!(
            "Service Quotas answered no value for the EC2 quota `{code}`; check the quota code in the Service Quotas console"
        ))
    })?;
    Ok(VcpuQuota {
        code: code.to_string(),
        name: quota
            .and_then(|q| q.quota_name())
            .unwrap_or(code)
            .to_string(),
        value,
        default,
    })
}

#[async_trait]
impl Capacity for AwsCapacity {
    /// No ids means no subnets: DescribeSubnets without ids would list every subnet of
    /// the account, which is not what the runbook named.
    async fn subnets(&self, ids: &[String]) -> TargetResult<Vec<SubnetInfo>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let named = ids.join(", ");
        let answer = declared(
            PlannedCall::new(Service::Ec2, "DescribeSubnets", json!({"subnetIds": ids})),
            self.ec2
                .describe_subnets()
                .set_subnet_ids(Some(ids.to_vec()))
                .send(),
        )
        .await
        .map_err(|e| service_error("EC2", "DescribeSubnets", named.as_str(), e))?;
        answer
            .subnets()
            .iter()
            .map(|subnet| match (subnet.subnet_id(), subnet.availability_zone()) {
                (Some(id), Some(zone)) => Ok(SubnetInfo {
                    id: id.to_string(),
                    zone: zone.to_string(),
                }),
                _ => Err(ActionError::Failed(format!(
                    "EC2 DescribeSubnets of `{named}` answered a subnet without its id or Availability Zone; try again"
                ))),
            })
            .collect()
    }

    /// Every page of offerings, as a sorted set: EC2 may list a zone on more than one
    /// page, and preflight compares zone lists.
    async fn instance_type_zones(&self, instance_type: &str) -> TargetResult<Vec<String>> {
        let mut zones = BTreeSet::new();
        let mut next_token = None;
        loop {
            let offerings = PlannedCall::new(
                Service::Ec2,
                "DescribeInstanceTypeOfferings",
                json!({"locationType": "availability-zone", "instance-type": instance_type}),
            );
            let answer = declared(
                offerings,
                self.ec2
                    .describe_instance_type_offerings()
                    .location_type(LocationType::AvailabilityZone)
                    .filters(
                        Filter::builder()
                            .name("instance-type")
                            .values(instance_type)
                            .build(),
                    )
                    .set_next_token(next_token)
                    .send(),
            )
            .await
            .map_err(|e| service_error("EC2", "DescribeInstanceTypeOfferings", instance_type, e))?;
            zones.extend(
                answer
                    .instance_type_offerings()
                    .iter()
                    .filter_map(|offering| offering.location())
                    .map(str::to_string),
            );
            match answer.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => break,
            }
        }
        Ok(zones.into_iter().collect())
    }

    async fn instance_vcpus(&self, instance_type: &str) -> TargetResult<u32> {
        let answer = declared(
            PlannedCall::new(
                Service::Ec2,
                "DescribeInstanceTypes",
                json!({"instanceTypes": [instance_type]}),
            ),
            self.ec2
                .describe_instance_types()
                .instance_types(InstanceType::from(instance_type))
                .send(),
        )
        .await
        .map_err(|e| service_error("EC2", "DescribeInstanceTypes", instance_type, e))?;
        answer
            .instance_types()
            .iter()
            .find_map(|info| info.v_cpu_info().and_then(|v| v.default_v_cpus()))
            .and_then(|vcpus| u32::try_from(vcpus).ok())
            .ok_or_else(|| {
                ActionError::Failed(format!(
                    "EC2 DescribeInstanceTypes answered no vCPU count for `{instance_type}`; check the instance type name"
                ))
            })
    }

    /// The applied value when the account has one; Service Quotas answers
    /// `NoSuchResourceException` for a quota never applied to the account, whose limit
    /// is then AWS's default.
    async fn vcpu_quota(&self, code: &str) -> TargetResult<VcpuQuota> {
        let answer = declared(
            quota_call("GetServiceQuota", code),
            self.quotas
                .get_service_quota()
                .service_code(EC2_SERVICE_CODE)
                .quota_code(code)
                .send(),
        )
        .await;
        match answer {
            Ok(answer) => vcpu_quota(code, answer.quota(), false),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_resource_exception()) =>
            {
                self.default_vcpu_quota(code).await
            }
            Err(e) => Err(service_error("Service Quotas", "GetServiceQuota", code, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    //! preflight's capacity reads over aws-smithy-mocks: what EC2 and Service Quotas
    //! answer, as preflight sees it.

    use aws_sdk_ec2::operation::describe_instance_type_offerings::DescribeInstanceTypeOfferingsOutput;
    use aws_sdk_ec2::operation::describe_instance_type_offerings::builders::DescribeInstanceTypeOfferingsOutputBuilder;
    use aws_sdk_ec2::operation::describe_instance_types::DescribeInstanceTypesOutput;
    use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
    use aws_sdk_ec2::types::{InstanceTypeInfo, InstanceTypeOffering, Subnet, VCpuInfo};
    use aws_sdk_servicequotas::operation::get_aws_default_service_quota::GetAwsDefaultServiceQuotaOutput;
    use aws_sdk_servicequotas::operation::get_service_quota::GetServiceQuotaOutput;
    use aws_sdk_servicequotas::types::ServiceQuota;
    use aws_smithy_mocks::{Rule, mock};

    use super::*;
    use crate::sdk_mock::mocked;

    const STANDARD: &str = "L-1216C47A";
    const STANDARD_NAME: &str = "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances";

    /// An EC2 error answer (EC2 speaks its own query protocol: XML with `Errors`).
    fn ec2_error(code: &str, message: &str) -> String {
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>1</RequestID></Response>"
        )
    }

    /// A Service Quotas error answer (AWS JSON 1.1).
    fn quotas_error(code: &str, message: &str) -> String {
        format!(r#"{{"__type":"{code}","Message":"{message}"}}"#)
    }

    /// For tests of EC2 reads: a Service Quotas rule they must not reach.
    fn untouched_quotas() -> Rule {
        mock!(aws_sdk_servicequotas::Client::get_service_quota)
            .then_output(|| GetServiceQuotaOutput::builder().build())
    }

    /// For tests of quota reads: an EC2 rule they must not reach.
    fn untouched_ec2() -> Rule {
        mock!(aws_sdk_ec2::Client::describe_subnets)
            .then_output(|| DescribeSubnetsOutput::builder().build())
    }

    fn ec2_only(ec2: aws_sdk_ec2::Client, quotas: &Rule) -> AwsCapacity {
        AwsCapacity::from_clients(ec2, mocked!(aws_sdk_servicequotas, quotas))
    }

    fn quotas_only(quotas: aws_sdk_servicequotas::Client, ec2: &Rule) -> AwsCapacity {
        AwsCapacity::from_clients(mocked!(aws_sdk_ec2, ec2), quotas)
    }

    fn quota(value: f64) -> ServiceQuota {
        ServiceQuota::builder()
            .service_code("ec2")
            .quota_code(STANDARD)
            .quota_name(STANDARD_NAME)
            .value(value)
            .build()
    }

    /// What preflight should see of the standard On-Demand quota.
    fn standard(value: f64, default: bool) -> VcpuQuota {
        VcpuQuota {
            code: STANDARD.into(),
            name: STANDARD_NAME.into(),
            value,
            default,
        }
    }

    /// GetServiceQuota of the standard quota refused with Service Quotas' `code`.
    fn applied_refused(code: &str, message: &str) -> Rule {
        mock!(aws_sdk_servicequotas::Client::get_service_quota)
            .sequence()
            .http_status(400, Some(quotas_error(code, message)))
            .build()
    }

    /// AWS's default of the standard quota: 5 vCPUs, a new account's figure.
    fn aws_default() -> Rule {
        mock!(aws_sdk_servicequotas::Client::get_aws_default_service_quota)
            .match_requests(|r| r.service_code() == Some("ec2") && r.quota_code() == Some(STANDARD))
            .then_output(|| {
                GetAwsDefaultServiceQuotaOutput::builder()
                    .quota(quota(5.0))
                    .build()
            })
    }

    #[tokio::test]
    async fn subnets_are_mapped_to_their_zones() {
        let rule = mock!(aws_sdk_ec2::Client::describe_subnets)
            .match_requests(|r| r.subnet_ids() == ["subnet-a".to_string(), "subnet-b".into()])
            .then_output(|| {
                DescribeSubnetsOutput::builder()
                    .subnets(
                        Subnet::builder()
                            .subnet_id("subnet-a")
                            .availability_zone("us-east-2a")
                            .build(),
                    )
                    .subnets(
                        Subnet::builder()
                            .subnet_id("subnet-b")
                            .availability_zone("us-east-2c")
                            .build(),
                    )
                    .build()
            });
        let quotas = untouched_quotas();
        let capacity = ec2_only(mocked!(aws_sdk_ec2, &rule), &quotas);
        let subnets = capacity
            .subnets(&["subnet-a".into(), "subnet-b".into()])
            .await
            .expect("subnets");
        assert_eq!(
            subnets,
            vec![
                SubnetInfo {
                    id: "subnet-a".into(),
                    zone: "us-east-2a".into()
                },
                SubnetInfo {
                    id: "subnet-b".into(),
                    zone: "us-east-2c".into()
                },
            ]
        );
        assert_eq!((rule.num_calls(), quotas.num_calls()), (1, 0));
    }

    #[tokio::test]
    async fn no_subnet_ids_ask_ec2_nothing() {
        let rule = untouched_ec2();
        let quotas = untouched_quotas();
        let capacity = ec2_only(mocked!(aws_sdk_ec2, &rule), &quotas);
        let subnets = capacity.subnets(&[]).await.expect("no subnets");
        assert!(subnets.is_empty(), "{subnets:?}");
        assert_eq!(
            rule.num_calls(),
            0,
            "DescribeSubnets without ids lists every subnet of the account"
        );
    }

    #[tokio::test]
    async fn a_missing_subnet_is_ec2s_not_found_error() {
        let rule = mock!(aws_sdk_ec2::Client::describe_subnets)
            .sequence()
            .http_status(
                400,
                Some(ec2_error(
                    "InvalidSubnetID.NotFound",
                    "The subnet ID 'subnet-404' does not exist",
                )),
            )
            .build();
        let quotas = untouched_quotas();
        let capacity = ec2_only(mocked!(aws_sdk_ec2, &rule), &quotas);
        let err = capacity
            .subnets(&["subnet-a".into(), "subnet-404".into()])
            .await
            .expect_err("missing subnet");
        assert_eq!(
            err.to_string(),
            "EC2 DescribeSubnets of `subnet-a, subnet-404` failed: InvalidSubnetID.NotFound: The subnet ID 'subnet-404' does not exist"
        );
    }

    fn offerings(zones: &[&str]) -> DescribeInstanceTypeOfferingsOutputBuilder {
        zones.iter().fold(
            DescribeInstanceTypeOfferingsOutput::builder(),
            |output, zone| {
                output.instance_type_offerings(
                    InstanceTypeOffering::builder()
                        .instance_type(InstanceType::M5Xlarge)
                        .location_type(LocationType::AvailabilityZone)
                        .location(*zone)
                        .build(),
                )
            },
        )
    }

    /// Whether an offerings request asks, by zone, where `m5.xlarge` is offered.
    fn asks_zones_of_m5_xlarge(
        r: &aws_sdk_ec2::operation::describe_instance_type_offerings::DescribeInstanceTypeOfferingsInput,
    ) -> bool {
        r.location_type() == Some(&LocationType::AvailabilityZone)
            && r.filters().len() == 1
            && r.filters()[0].name() == Some("instance-type")
            && r.filters()[0].values() == ["m5.xlarge".to_string()]
    }

    #[tokio::test]
    async fn offered_zones_of_every_page_are_sorted_without_repeats() {
        let first = mock!(aws_sdk_ec2::Client::describe_instance_type_offerings)
            .match_requests(|r| asks_zones_of_m5_xlarge(r) && r.next_token().is_none())
            .then_output(|| {
                offerings(&["us-east-2c", "us-east-2a"])
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(aws_sdk_ec2::Client::describe_instance_type_offerings)
            .match_requests(|r| asks_zones_of_m5_xlarge(r) && r.next_token() == Some("page-2"))
            .then_output(|| offerings(&["us-east-2b", "us-east-2a"]).build());
        let quotas = untouched_quotas();
        let capacity = ec2_only(mocked!(aws_sdk_ec2, &first, &second), &quotas);
        let zones = capacity
            .instance_type_zones("m5.xlarge")
            .await
            .expect("zones");
        assert_eq!(zones, vec!["us-east-2a", "us-east-2b", "us-east-2c"]);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn vcpus_of_an_instance_type_are_its_default_vcpus() {
        let rule = mock!(aws_sdk_ec2::Client::describe_instance_types)
            .match_requests(|r| r.instance_types() == [InstanceType::M5Xlarge])
            .then_output(|| {
                DescribeInstanceTypesOutput::builder()
                    .instance_types(
                        InstanceTypeInfo::builder()
                            .instance_type(InstanceType::M5Xlarge)
                            .v_cpu_info(VCpuInfo::builder().default_v_cpus(4).build())
                            .build(),
                    )
                    .build()
            });
        let quotas = untouched_quotas();
        let capacity = ec2_only(mocked!(aws_sdk_ec2, &rule), &quotas);
        assert_eq!(
            capacity.instance_vcpus("m5.xlarge").await.expect("vcpus"),
            4
        );
    }

    #[tokio::test]
    async fn vcpus_of_an_unknown_instance_type_is_ec2s_error() {
        let rule = mock!(aws_sdk_ec2::Client::describe_instance_types)
            .sequence()
            .http_status(
                400,
                Some(ec2_error(
                    "InvalidInstanceType",
                    "The following supplied instance types do not exist: [m5.huge]",
                )),
            )
            .build();
        let quotas = untouched_quotas();
        let capacity = ec2_only(mocked!(aws_sdk_ec2, &rule), &quotas);
        let err = capacity
            .instance_vcpus("m5.huge")
            .await
            .expect_err("unknown type");
        assert_eq!(
            err.to_string(),
            "EC2 DescribeInstanceTypes of `m5.huge` failed: InvalidInstanceType: The following supplied instance types do not exist: [m5.huge]"
        );
    }

    #[tokio::test]
    async fn vcpus_missing_from_the_answer_name_the_type() {
        let rule = mock!(aws_sdk_ec2::Client::describe_instance_types)
            .then_output(|| DescribeInstanceTypesOutput::builder().build());
        let quotas = untouched_quotas();
        let capacity = ec2_only(mocked!(aws_sdk_ec2, &rule), &quotas);
        let err = capacity
            .instance_vcpus("m5.xlarge")
            .await
            .expect_err("no vcpu info");
        assert!(
            matches!(&err, ActionError::Failed(text) if text.contains("`m5.xlarge`")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_applied_quota_is_not_the_default() {
        let applied = mock!(aws_sdk_servicequotas::Client::get_service_quota)
            .match_requests(|r| r.service_code() == Some("ec2") && r.quota_code() == Some(STANDARD))
            .then_output(|| GetServiceQuotaOutput::builder().quota(quota(256.0)).build());
        let default = aws_default();
        let ec2 = untouched_ec2();
        let capacity = quotas_only(mocked!(aws_sdk_servicequotas, &applied, &default), &ec2);
        let quota = capacity.vcpu_quota(STANDARD).await.expect("quota");
        assert_eq!(quota, standard(256.0, false));
        assert_eq!((applied.num_calls(), default.num_calls()), (1, 0));
    }

    #[tokio::test]
    async fn a_quota_never_applied_is_awss_default() {
        let applied = applied_refused(
            "NoSuchResourceException",
            "The request failed because the specified service quota does not exist.",
        );
        let default = aws_default();
        let ec2 = untouched_ec2();
        let capacity = quotas_only(mocked!(aws_sdk_servicequotas, &applied, &default), &ec2);
        let quota = capacity.vcpu_quota(STANDARD).await.expect("default quota");
        assert_eq!(quota, standard(5.0, true));
        assert_eq!((applied.num_calls(), default.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_denied_quota_read_is_not_taken_for_the_default() {
        let applied = applied_refused(
            "AccessDeniedException",
            "User is not authorized to perform: servicequotas:GetServiceQuota",
        );
        let default = aws_default();
        let ec2 = untouched_ec2();
        let capacity = quotas_only(mocked!(aws_sdk_servicequotas, &applied, &default), &ec2);
        let err = capacity.vcpu_quota(STANDARD).await.expect_err("denied");
        assert_eq!(
            err.to_string(),
            "Service Quotas GetServiceQuota of `L-1216C47A` failed: AccessDeniedException: User is not authorized to perform: servicequotas:GetServiceQuota"
        );
        assert_eq!(default.num_calls(), 0);
    }
}
