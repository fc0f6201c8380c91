//! Recording the calls a run makes where they leave the process (`--record-calls`):
//! an interceptor every AWS SDK client of the target carries, and a tower layer under
//! each kube client. Both name a call as `runbook plan --target aws` does, so the
//! record of a run can be laid next to its plan.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use runbook_backend::calls::{CallLog, Service};

/// The SDK's half: records each operation once, when the SDK starts it (its retries
/// are one call).
#[derive(Debug)]
pub(crate) struct RecordSdkCalls(pub(crate) CallLog);

impl Intercept for RecordSdkCalls {
    fn name(&self) -> &'static str {
        "RecordSdkCalls"
    }

    /// The first hook that sees the operation's own configuration (its name); called
    /// once per operation, before the first attempt.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg.load::<Metadata>();
        if let Some((service, operation)) =
            metadata.and_then(|m| Some((service_of(m.service())?, m.name())))
            && let Err(undeclared) = self.0.record(service, operation)
            && refused(&undeclared)
        {
            return Err(undeclared.into());
        }
        Ok(())
    }
}

/// Whether a call made without its declaration (or, in a step, outside its step's
/// plan) is refused: in a debug build (every test), always. Every call the target
/// sends is declared where it is made, its own included (the credentials check, its
/// watches of a cluster), so one the code cannot name fails the tests instead of
/// drifting from the plan and the record. A release build only records.
fn refused(_undeclared: &runbook_backend::calls::Undeclared) -> bool {
    cfg!(debug_assertions)
}

/// The log a target's clients record into: the run's (`--record-calls`), else, in a
/// debug build, one that keeps nothing and only checks each call's declaration.
pub(crate) fn recording_log(calls: Option<&CallLog>) -> Option<CallLog> {
    calls
        .cloned()
        .or_else(|| cfg!(debug_assertions).then(CallLog::checking_only))
}

/// The service as `plan` names it, from the SDK's own name for it; `None` for a
/// service the target has no client of (a new client needs its line here, which the
/// test below checks).
fn service_of(sdk_service: &str) -> Option<Service> {
    Some(match sdk_service {
        "EKS" => Service::Eks,
        "EMR containers" => Service::EmrOnEks,
        "IAM" => Service::Iam,
        "S3" => Service::S3,
        "CloudWatch Logs" => Service::Logs,
        "STS" => Service::Sts,
        "EC2" => Service::Ec2,
        "Service Quotas" => Service::ServiceQuotas,
        _ => return None,
    })
}

/// The SDK configuration builder of `$sdk` from the target's configuration, with the
/// call recorder when the run records its calls.
macro_rules! sdk_config {
    ($sdk:ident, $config:expr) => {{
        let config: &$crate::AwsConfig = $config;
        let builder = $sdk::config::Builder::from(&config.sdk);
        match $crate::call_recording::recording_log(config.calls.as_ref()) {
            Some(log) => builder.interceptor($crate::call_recording::RecordSdkCalls(log)),
            None => builder,
        }
    }};
}
pub(crate) use sdk_config;

/// The kube half: a layer under the kube client's buffer. The buffer hands the
/// response future back to the caller, so the record (made when that future is first
/// polled) belongs to the step whose task sent the request. Without a log (a run
/// that records nothing) it passes requests through.
#[derive(Clone)]
pub(crate) struct RecordKubeCalls(pub(crate) Option<CallLog>);

impl<S> tower::Layer<S> for RecordKubeCalls {
    type Service = KubeCallRecorder<S>;

    fn layer(&self, inner: S) -> KubeCallRecorder<S> {
        KubeCallRecorder {
            inner,
            log: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct KubeCallRecorder<S> {
    inner: S,
    log: Option<CallLog>,
}

impl<S, B> tower::Service<http::Request<B>> for KubeCallRecorder<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(log) = self.log.clone() else {
            return Box::pin(self.inner.call(request));
        };
        let operation = kube_operation(
            request.method(),
            request.uri(),
            request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let response = self.inner.call(request);
        Box::pin(async move {
            if let Err(undeclared) = log.record(Service::Kubernetes, &operation)
                && refused(&undeclared)
            {
                // The kube client's error type is its own; a debug build's refusal is
                // a bug report, so it stops the step loudly.
                panic!("{undeclared}");
            }
            response.await
        })
    }
}

/// `create Namespace`, `list Node`, `server-side apply NodePool`, `get ConfigMap`:
/// the verb kubectl would name and the kind of the resource the path addresses.
pub(crate) fn kube_operation(
    method: &http::Method,
    uri: &http::Uri,
    content_type: Option<&str>,
) -> String {
    let path: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    // Discovery: the resources of one API version (`discover v1`,
    // `discover karpenter.sh/v1`), or the API versions there are.
    match path.as_slice() {
        ["api", version] => return format!("discover {version}"),
        ["apis", group, version] => return format!("discover {group}/{version}"),
        ["api"] | ["apis"] => return "discover API versions".to_string(),
        _ => {}
    }
    // `/api/v1/...` (the core group) or `/apis/GROUP/VERSION/...`.
    let rest = match path.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return format!("{method} {}", uri.path()),
    };
    // `namespaces/NS/PLURAL[/NAME[/SUB]]` addresses an object in a namespace;
    // `namespaces[/NAME]` the namespaces themselves.
    let (plural, name, subresource) = match rest {
        ["namespaces", _ns, plural, tail @ ..] => (*plural, tail.first(), tail.get(1)),
        [plural, tail @ ..] => (*plural, tail.first(), tail.get(1)),
        [] => return format!("{method} {}", uri.path()),
    };
    let watch = uri.query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    });
    let verb = match (method.as_str(), name.is_some()) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "replace",
        ("PATCH", _) if content_type.is_some_and(|t| t.starts_with("application/apply-patch")) => {
            "server-side apply"
        }
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "delete collection",
        (other, _) => other,
    };
    // The kinds runbook's actions touch by name; any other resource by its plural
    // (`widgets`), as the API names it.
    let kind = runbook_backend::kube_kinds::of_resource(plural).unwrap_or(plural);
    match subresource {
        Some(sub) => format!("{verb} {kind}/{sub}"),
        None => format!("{verb} {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupOutput;
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
    use http::Method;
    use runbook_backend::calls::{PlannedCall, declared, in_step};
    use serde_json::json;

    use super::*;

    /// A CloudWatch Logs client that answers DeleteLogGroup, with the checking recorder
    /// a debug build's target carries.
    fn checked_logs() -> aws_sdk_cloudwatchlogs::Client {
        let answer = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group)
            .then_output(|| DeleteLogGroupOutput::builder().build());
        aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::Config::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .credentials_provider(aws_credential_types::Credentials::for_tests())
                .region(aws_config::Region::new("us-east-2"))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(
                    MockResponseInterceptor::new()
                        .rule_mode(RuleMode::MatchAny)
                        .with_rule(&answer),
                )
                .interceptor(RecordSdkCalls(
                    recording_log(None).expect("a debug build checks every call"),
                ))
                .build(),
        )
    }

    /// What keeps the plan the run's own description: a step cannot send a request
    /// without the declaration its plan lists (in the debug builds every test runs).
    #[tokio::test]
    async fn a_steps_call_is_sent_only_as_declared() {
        let logs = checked_logs();
        let undeclared = in_step(
            "logs".into(),
            logs.delete_log_group().log_group_name("/a").send(),
        )
        .await
        .expect_err("refused");
        let chain = crate::error::chain(&undeclared);
        assert!(
            chain.contains(
                "runbook bug: CloudWatch Logs DeleteLogGroup was sent without its plan entry"
            ),
            "{chain}"
        );
        let other = PlannedCall::new(Service::Logs, "CreateLogGroup", json!({}));
        let mismatched = in_step(
            "logs".into(),
            declared(other, logs.delete_log_group().log_group_name("/a").send()),
        )
        .await
        .expect_err("declared as another call");
        assert!(
            crate::error::chain(&mismatched)
                .contains("the code declared CloudWatch Logs CreateLogGroup"),
            "{mismatched:?}"
        );
        let delete = PlannedCall::new(
            Service::Logs,
            "DeleteLogGroup",
            json!({"logGroupName": "/a"}),
        );
        in_step(
            "logs".into(),
            declared(delete, logs.delete_log_group().log_group_name("/a").send()),
        )
        .await
        .expect("a declared call is sent");
        // Outside a step (the target's own calls), declared and in no plan.
        declared(
            PlannedCall::new(Service::Logs, "DeleteLogGroup", json!({})),
            logs.delete_log_group().log_group_name("/a").send(),
        )
        .await
        .expect("declared, outside a step");
        let undeclared = logs
            .delete_log_group()
            .log_group_name("/a")
            .send()
            .await
            .expect_err("undeclared, outside a step");
        assert!(
            crate::error::chain(&undeclared).contains("the code declared none"),
            "{undeclared:?}"
        );
    }

    fn op(method: Method, uri: &str, content_type: Option<&str>) -> String {
        kube_operation(&method, &uri.parse().expect("uri"), content_type)
    }

    #[test]
    fn kube_requests_are_named_by_verb_and_kind() {
        assert_eq!(
            op(Method::POST, "/api/v1/namespaces?", None),
            "create Namespace"
        );
        assert_eq!(
            op(Method::GET, "/api/v1/namespaces/jobs", None),
            "get Namespace"
        );
        assert_eq!(
            op(Method::DELETE, "/api/v1/namespaces/jobs", None),
            "delete Namespace"
        );
        assert_eq!(op(Method::GET, "/api/v1/nodes", None), "list Node");
        assert_eq!(
            op(
                Method::GET,
                "/api/v1/pods?watch=true&resourceVersion=5",
                None
            ),
            "watch Pod"
        );
        assert_eq!(
            op(
                Method::GET,
                "/api/v1/namespaces/kube-system/configmaps/aws-auth",
                None
            ),
            "get ConfigMap"
        );
        assert_eq!(
            op(
                Method::PUT,
                "/apis/rbac.authorization.k8s.io/v1/namespaces/jobs/roles/emr-containers",
                None
            ),
            "replace Role"
        );
        assert_eq!(
            op(
                Method::PATCH,
                "/apis/karpenter.sh/v1/nodepools/default?fieldManager=runbook",
                Some("application/apply-patch+yaml")
            ),
            "server-side apply NodePool"
        );
        assert_eq!(
            op(
                Method::PATCH,
                "/api/v1/namespaces/kube-system/configmaps/aws-auth",
                Some("application/merge-patch+json")
            ),
            "patch ConfigMap"
        );
        assert_eq!(
            op(
                Method::POST,
                "/api/v1/namespaces/jobs/pods/p-1/eviction",
                None
            ),
            "create Pod/eviction"
        );
        assert_eq!(
            op(Method::GET, "/apis/example.com/v1/widgets", None),
            "list widgets"
        );
        assert_eq!(op(Method::GET, "/api/v1", None), "discover v1");
        assert_eq!(
            op(Method::GET, "/apis/karpenter.sh/v1", None),
            "discover karpenter.sh/v1"
        );
        assert_eq!(op(Method::GET, "/apis", None), "discover API versions");
    }
}
