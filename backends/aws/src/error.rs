//! AWS errors as step errors: the service, the operation, the resource, and the
//! service's own error code (`AccessDenied`, `ThrottlingException`, ...).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use runbook_backend::ActionError;

/// An SDK error as [`ActionError::Service`]. Errors without a service code (the
/// request never got an answer) get a code that says what happened instead:
/// `DispatchFailure` (connection), `TimeoutError`, `ResponseError` (unreadable answer).
pub(crate) fn service_error<E, R>(
    service: &'static str,
    operation: &'static str,
    resource: impl Into<String>,
    err: SdkError<E, R>,
) -> ActionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let (code, message) = match &err {
        SdkError::ServiceError(context) => {
            let e = context.err();
            (
                e.code().unwrap_or("Unknown").to_string(),
                e.message().map(str::to_string).unwrap_or_else(|| chain(e)),
            )
        }
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_string(), chain(&err)),
        SdkError::TimeoutError(_) => ("TimeoutError".to_string(), chain(&err)),
        SdkError::ResponseError(_) => ("ResponseError".to_string(), chain(&err)),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_string(), chain(&err)),
        _ => ("Unknown".to_string(), chain(&err)),
    };
    ActionError::Service {
        service,
        operation,
        resource: resource.into(),
        code,
        message,
    }
}

/// The service's error code of an SDK error, if the service answered.
pub(crate) fn code_of<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(context) => context.err().code(),
        _ => None,
    }
}

/// An error and its sources, joined with `: ` (the SDK's top-level messages, such as
/// "dispatch failure", say little on their own).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    //! The SDK's retries and the error mapping, over aws-smithy-mocks: what a user sees
    //! when AWS throttles or refuses.

    use aws_smithy_mocks::mock;

    use crate::emr::AwsEmr;
    use crate::iam::AwsIam;
    use crate::sdk_mock::{iam_error, mocked};
    use runbook_backend::ActionError;
    use runbook_backend::{Emr, Iam};

    const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

    fn job_run_output() -> aws_sdk_emrcontainers::operation::describe_job_run::DescribeJobRunOutput
    {
        aws_sdk_emrcontainers::operation::describe_job_run::DescribeJobRunOutput::builder()
            .job_run(
                aws_sdk_emrcontainers::types::JobRun::builder()
                    .id("job-1")
                    .name("pi-4")
                    .virtual_cluster_id("vc-1")
                    .state(aws_sdk_emrcontainers::types::JobRunState::Running)
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn throttling_is_retried_by_the_sdk_until_it_succeeds() {
        let rule = mock!(aws_sdk_emrcontainers::Client::describe_job_run)
            .sequence()
            .http_status(429, Some(THROTTLED.to_string()))
            .times(2)
            .output(job_run_output)
            .build();
        let client = mocked!(aws_sdk_emrcontainers, &rule);
        let job = AwsEmr::from_client(client)
            .describe_job_run("vc-1", "job-1")
            .await
            .expect("the third attempt succeeds");
        assert_eq!(job.state, "RUNNING");
        assert_eq!(rule.num_calls(), 3, "two throttled attempts, then success");
    }

    #[tokio::test]
    async fn throttling_that_outlasts_the_retries_names_the_call_and_the_code() {
        let rule = mock!(aws_sdk_emrcontainers::Client::describe_job_run)
            .sequence()
            .http_status(429, Some(THROTTLED.to_string()))
            .repeatedly()
            .build();
        let client = mocked!(aws_sdk_emrcontainers, &rule);
        let err = AwsEmr::from_client(client)
            .describe_job_run("vc-1", "job-1")
            .await
            .expect_err("still throttled after 3 attempts");
        assert_eq!(rule.num_calls(), 3);
        match &err {
            ActionError::Service {
                service,
                operation,
                resource,
                code,
                message,
            } => {
                assert_eq!(
                    (*service, *operation, resource.as_str(), code.as_str()),
                    ("EMR", "DescribeJobRun", "job-1", "ThrottlingException")
                );
                assert_eq!(message, "Rate exceeded");
            }
            other => panic!("expected a service error, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "EMR DescribeJobRun of `job-1` failed: ThrottlingException: Rate exceeded"
        );
    }

    #[tokio::test]
    async fn access_denied_is_reported_at_once_with_its_code() {
        let denied = iam_error(
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/demo is not authorized to perform: iam:GetRole on resource: role monthly-batch-JobExecutionRole",
        );
        let rule = mock!(aws_sdk_iam::Client::get_role)
            .sequence()
            .http_status(403, Some(denied))
            .repeatedly()
            .build();
        let client = mocked!(aws_sdk_iam, &rule);
        let err = AwsIam::from_client(client)
            .get_role("monthly-batch-JobExecutionRole")
            .await
            .expect_err("denied");
        assert_eq!(rule.num_calls(), 1, "AccessDenied is not retried");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "IAM GetRole of `monthly-batch-JobExecutionRole` failed: AccessDenied: User: arn:aws:iam::123456789012:user/demo is not authorized"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_missing_role_is_none_not_an_error() {
        let missing = iam_error("NoSuchEntity", "The role with name x cannot be found.");
        let rule = mock!(aws_sdk_iam::Client::get_role)
            .sequence()
            .http_status(404, Some(missing))
            .build();
        let client = mocked!(aws_sdk_iam, &rule);
        let role = AwsIam::from_client(client).get_role("x").await;
        assert!(matches!(role, Ok(None)), "{role:?}");
    }
}
