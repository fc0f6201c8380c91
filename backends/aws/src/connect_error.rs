//! Why the `aws` target could not be set up: each way gets one message that says
//! what to do, before any step runs.

use runbook_backend::ActionError;

/// The `aws` target could not be reached with the settings and credentials given.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Neither the command line, the environment, the profile nor the runbook names a
    /// region.
    #[error(
        "no AWS region: pass --region, set AWS_REGION, or set `region` in the profile (~/.aws/config)"
    )]
    NoRegion,
    /// The SDK's credential chain found no source at all.
    #[error(
        "no AWS credentials provider could be set up: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or configure SSO"
    )]
    NoCredentialsProvider,
    /// A source was found but gave no credentials (an expired SSO session, a profile
    /// that does not exist, a failing `credential_process`).
    #[error(
        "no usable AWS credentials{}: {cause}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run `aws sso login`",
        profile.as_ref().map(|p| format!(" for profile `{p}`")).unwrap_or_default()
    )]
    UnusableCredentials {
        profile: Option<String>,
        /// The credential provider's error chain.
        cause: String,
    },
    /// STS GetCallerIdentity (which needs no permission) refused the credentials
    /// (boxed: the service error is large, and this is the rare way).
    #[error("the AWS credentials do not work: {0}")]
    CredentialsRejected(Box<ActionError>),
    /// STS answered without an account.
    #[error("STS GetCallerIdentity returned no account")]
    NoAccount,
}
