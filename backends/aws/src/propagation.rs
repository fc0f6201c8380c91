//! IAM is eventually consistent: a role or OIDC provider created a moment ago (by this
//! run's previous step, or by a person just before it) can be unknown for a few seconds
//! to the service that is handed it. EKS then refuses CreateCluster or CreateNodegroup
//! ("Role with arn ... could not be assumed because it does not exist or the trusted
//! entity is not correct", "Error in role params"), and IAM refuses a trust policy
//! whose federated principal is a brand-new OIDC provider ("Invalid principal in
//! policy"). Those refusals are retried for a bounded time, as Terraform's AWS
//! provider does for the same messages; any other answer is returned at once.

use std::future::Future;
use std::time::Duration;

use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};

/// How long refusals that name IAM propagation are retried (IAM's changes usually
/// reach the other services within seconds; rarely, a minute).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);
/// The first pause between tries; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(2);
const MAX_PAUSE: Duration = Duration::from_secs(20);

/// The refusals that mean "not propagated yet": an error code and a fragment of the
/// message the services give with it.
const NOT_YET_PROPAGATED: &[(&str, &str)] = &[
    ("InvalidParameterException", "could not be assumed"),
    ("InvalidParameterException", "Error in role params"),
    ("InvalidParameterException", "does not exist"),
    ("MalformedPolicyDocument", "Invalid principal in policy"),
];

/// `call` (which sends one request), sent again while its answer is a refusal that IAM
/// propagation explains, for at most [`PROPAGATION_TIMEOUT`] on the wall clock.
pub(crate) async fn retry_while_propagating<T, E, R, Fut>(
    mut call: impl FnMut() -> Fut,
) -> Result<T, SdkError<E, R>>
where
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata,
{
    let started = tokio::time::Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        match call().await {
            Err(e)
                if not_yet_propagated(&e) && started.elapsed() + pause <= PROPAGATION_TIMEOUT =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            answer => return answer,
        }
    }
}

fn not_yet_propagated<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    let SdkError::ServiceError(context) = error else {
        return false;
    };
    let (code, message) = (context.err().code(), context.err().message());
    NOT_YET_PROPAGATED.iter().any(|(wanted, fragment)| {
        code == Some(*wanted) && message.is_some_and(|m| m.contains(fragment))
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_eks::operation::create_nodegroup::CreateNodegroupOutput;
    use aws_smithy_mocks::mock;

    use super::retry_while_propagating;
    use crate::sdk_mock::mocked;

    const NOT_ASSUMABLE: &str = r#"{"__type":"InvalidParameterException","message":"Role with arn: arn:aws:iam::123456789012:role/eks-node-role, could not be assumed because it does not exist or the trusted entity is not correct"}"#;
    const BAD_SIZE: &str = r#"{"__type":"InvalidParameterException","message":"desiredSize can't be greater than maxSize"}"#;

    async fn create(client: &aws_sdk_eks::Client) -> Result<(), String> {
        retry_while_propagating(|| {
            client
                .create_nodegroup()
                .cluster_name("demo")
                .nodegroup_name("demo-ng")
                .send()
        })
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
    }

    /// A role EKS cannot assume yet, twice, then accepted: three calls, success.
    #[tokio::test(start_paused = true)]
    async fn a_role_not_yet_propagated_is_retried_until_eks_accepts_it() {
        let rule = mock!(aws_sdk_eks::Client::create_nodegroup)
            .sequence()
            .http_status(400, Some(NOT_ASSUMABLE.to_string()))
            .times(2)
            .output(|| CreateNodegroupOutput::builder().build())
            .build();
        let client = mocked!(aws_sdk_eks, &rule);
        create(&client).await.expect("accepted once propagated");
        assert_eq!(rule.num_calls(), 3);
    }

    /// A role that never becomes assumable (a typo in its ARN) is refused after the
    /// bounded time, with EKS's own answer.
    #[tokio::test(start_paused = true)]
    async fn a_role_that_never_propagates_is_refused_after_two_minutes() {
        let rule = mock!(aws_sdk_eks::Client::create_nodegroup)
            .sequence()
            .http_status(400, Some(NOT_ASSUMABLE.to_string()))
            .times(100)
            .build();
        let client = mocked!(aws_sdk_eks, &rule);
        let started = tokio::time::Instant::now();
        let err = create(&client).await.expect_err("never assumable");
        assert!(err.contains("could not be assumed"), "{err}");
        assert!(started.elapsed() <= std::time::Duration::from_secs(120));
        assert!(rule.num_calls() > 3, "retried: {}", rule.num_calls());
    }

    /// Any other refusal is returned at once: it cannot go away by waiting.
    #[tokio::test(start_paused = true)]
    async fn other_refusals_are_not_retried() {
        let rule = mock!(aws_sdk_eks::Client::create_nodegroup)
            .sequence()
            .http_status(400, Some(BAD_SIZE.to_string()))
            .build();
        let client = mocked!(aws_sdk_eks, &rule);
        let err = create(&client).await.expect_err("invalid");
        assert!(err.contains("desiredSize"), "{err}");
        assert_eq!(rule.num_calls(), 1);
    }
}
