//! aws-sdk-rust clients for unit tests, answering from aws-smithy-mocks rules instead
//! of AWS, with the SDK's own retry and error parsing still in the path (so a test sees
//! what a user would: throttling retried, error codes read from the answer).

use std::time::Duration;

use aws_smithy_types::retry::RetryConfig;

/// The SDK's standard retry (3 attempts), with a tiny backoff to keep tests fast.
pub(crate) fn quick_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
}

/// An IAM error answer (IAM speaks the AWS query protocol: XML) with `code` and
/// `message`, as a client's mistake (`Sender`).
pub(crate) fn iam_error(code: &str, message: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>1</RequestId></ErrorResponse>"#
    )
}

/// A client of `$sdk` answering from the rules (tried in order), with the SDK's
/// standard retry (3 attempts) and a tiny backoff. (aws-smithy-mocks' `mock_client!`
/// needs newer SDK crates than the MSRV allows; this is what it does.)
macro_rules! mocked {
    ($sdk:ident, $($rule:expr),+ $(,)?) => {
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .credentials_provider(aws_credential_types::Credentials::for_tests())
                .region(aws_config::Region::new("us-east-2"))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(
                    aws_smithy_mocks::MockResponseInterceptor::new()
                        .rule_mode(aws_smithy_mocks::RuleMode::Sequential)
                        $(.with_rule($rule))+,
                )
                .retry_config($crate::sdk_mock::quick_retries())
                .build(),
        )
    };
}

pub(crate) use mocked;
