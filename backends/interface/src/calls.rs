//! The calls a run makes to AWS and to the cluster's Kubernetes API, in one vocabulary
//! shared by what `runbook plan --target aws` says a step will call and what a run on
//! `aws` records it called (`--record-calls FILE`).
//!
//! The recording is done where the calls leave the process: an interceptor on every
//! AWS SDK client and a layer under the kube client (in `runbook-backend-aws`), so it
//! shows what was sent, not what the code meant to send. The step a call belongs to
//! is the step whose action was running when the call was made ([`in_step`]); calls
//! of the target's own watches and of connecting belong to no step.
//!
//! Each call is declared where it is made: the code that sends a request wraps it in
//! [`declared`] with the call's [`PlannedCall`], built by the same function that the
//! target's plan of the operation uses. The recorders take the declaration as the
//! record (so a run's record says, in the plan's words, why each call was made), and a
//! debug build refuses a call made without one: no call can leave the process that the
//! plan does not know.

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The service a call goes to, spelled as the AWS documentation spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Service {
    #[serde(rename = "EKS")]
    Eks,
    #[serde(rename = "EMR on EKS")]
    EmrOnEks,
    #[serde(rename = "IAM")]
    Iam,
    #[serde(rename = "S3")]
    S3,
    #[serde(rename = "CloudWatch Logs")]
    Logs,
    /// AWS STS: the credentials check when a run connects.
    #[serde(rename = "STS")]
    Sts,
    /// Amazon EC2: subnets and instance offerings (`preflight`).
    #[serde(rename = "EC2")]
    Ec2,
    /// Service Quotas: the account's vCPU quotas (`preflight`).
    #[serde(rename = "Service Quotas")]
    ServiceQuotas,
    /// The cluster's Kubernetes API server.
    #[serde(rename = "Kubernetes")]
    Kubernetes,
    /// Nothing leaves the machine: a local program, or the run's own record of what it
    /// observed.
    #[serde(rename = "local")]
    Local,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Eks => "EKS",
            Service::EmrOnEks => "EMR on EKS",
            Service::Iam => "IAM",
            Service::S3 => "S3",
            Service::Logs => "CloudWatch Logs",
            Service::Sts => "STS",
            Service::Ec2 => "EC2",
            Service::ServiceQuotas => "Service Quotas",
            Service::Kubernetes => "Kubernetes",
            Service::Local => "local",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The AWS account of the credentials, which the `aws` target asks for when the run
/// starts; unknown to a plan, which calls nothing.
pub const ACCOUNT_PLACEHOLDER: &str = "<account id>";
/// The ARN partition of the account (`aws`, `aws-cn`, ...), from the caller's ARN.
pub const PARTITION_PLACEHOLDER: &str = "<partition>";
/// The region of the AWS configuration the run would use.
pub const REGION_PLACEHOLDER: &str = "<region>";

/// One operation a step would call on the `aws` target, in the order it would call it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedCall {
    pub service: Service,
    /// The API operation (`CreateCluster`), or for Kubernetes the verb and kind
    /// (`create Namespace`, `server-side apply NodePool`).
    pub operation: String,
    /// The parameters that matter, named as the API names them, rendered from the
    /// step's input (placeholders where a value is only known at run time).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
    /// The condition under which the call is made (`if the cluster does not exist`);
    /// absent for calls that are always made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// How the call is repeated or what it is for (`repeated until ACTIVE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Made at most once by a run's process, by whichever step needs it first
    /// (reaching a cluster: connecting, starting its watches): a step's plan lists it
    /// once, however many of its operations would need it ([`PlannedCalls::listed_once`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once: bool,
}

impl PlannedCall {
    pub fn new(service: Service, operation: impl Into<String>, detail: Value) -> Self {
        PlannedCall {
            service,
            operation: operation.into(),
            detail,
            when: None,
            note: None,
            once: false,
        }
    }

    /// Marks the call as made at most once by a run ([`PlannedCall::once`]).
    #[must_use]
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// Marks the call as conditional.
    #[must_use]
    pub fn when(mut self, condition: impl Into<String>) -> Self {
        self.when = Some(condition.into());
        self
    }

    /// Makes the call conditional on `condition` as well: an action's condition put
    /// before the condition the target's operation gives it.
    #[must_use]
    pub fn under(mut self, condition: impl Into<String>) -> Self {
        let condition = condition.into();
        self.when = Some(match self.when.take() {
            Some(inner) => match inner.strip_prefix("if ") {
                Some(rest) => format!("{condition} and {rest}"),
                None => format!("{condition}, {inner}"),
            },
            None => condition,
        });
        self
    }

    /// Says how the call is repeated or why it is made.
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// The calls of an operation's plan, as an action (or an operation made of others)
/// puts them in its own: each with its condition or remark as well.
pub trait PlannedCalls {
    /// Every call also conditional on `condition` ([`PlannedCall::under`]).
    #[must_use]
    fn under(self, condition: &str) -> Self;
    /// Every call with `note` ([`PlannedCall::note`]), but those made once (reaching a
    /// cluster), which an operation that repeats its own calls does not repeat.
    #[must_use]
    fn note(self, note: &str) -> Self;
    /// Without the repeats of a call made at most once ([`PlannedCall::once`]): an
    /// action whose operations each reach the cluster reaches it with the first.
    #[must_use]
    fn listed_once(self) -> Self;
}

impl PlannedCalls for Vec<PlannedCall> {
    fn under(self, condition: &str) -> Self {
        self.into_iter().map(|call| call.under(condition)).collect()
    }

    fn note(self, note: &str) -> Self {
        self.into_iter()
            .map(|call| if call.once { call } else { call.note(note) })
            .collect()
    }

    fn listed_once(self) -> Self {
        let mut listed: Vec<PlannedCall> = Vec::with_capacity(self.len());
        for call in self {
            if !(call.once && listed.contains(&call)) {
                listed.push(call);
            }
        }
        listed
    }
}

/// One line for people: `EKS CreateCluster name=eks-emr-cluster version=1.35 ...
/// [if the cluster does not exist]`. Nested parameters are compact JSON.
impl fmt::Display for PlannedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.service, self.operation)?;
        match &self.detail {
            Value::Object(map) => {
                for (key, value) in map {
                    write!(f, " {key}={}", inline(value))?;
                }
            }
            Value::Null => {}
            other => write!(f, " {}", inline(other))?,
        }
        let remarks: Vec<&str> = [self.when.as_deref(), self.note.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !remarks.is_empty() {
            write!(f, " [{}]", remarks.join("; "))?;
        }
        Ok(())
    }
}

/// A parameter value on one line: plain text unless it needs quotes to stay one word.
fn inline(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() || s.chars().any(char::is_whitespace) => format!("{s:?}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One call a run made, as recorded when it was sent: its declaration (or, for a
/// call made without one, its service and operation alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedCall {
    /// The step instance (`virtual_clusters[2]`) whose action made the call; absent for
    /// the target's own calls (connecting, watching the cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(flatten)]
    pub call: PlannedCall,
}

/// A call made without its declaration, under another one, or one its step's plan does
/// not list: a bug of the target's code or of its plan, which a debug build refuses
/// to send.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("runbook bug: {service} {operation} was sent {why}")]
pub struct Undeclared {
    pub service: Service,
    pub operation: String,
    /// What is wrong with it, in words.
    pub why: String,
}

tokio::task_local! {
    /// The step instance whose action the current task is running.
    static STEP: String;
    /// The call the current task is about to make ([`declared`]), or the calls one of
    /// which it makes ([`declared_any`]).
    static DECLARED: Arc<[PlannedCall]>;
    /// What the plan of the current task's step lists, if it was made ([`in_planned_step`]).
    static STEP_PLAN: Option<Arc<Vec<PlannedCall>>>;
}

/// [`in_step`], with the calls the step's plan lists: each call the step declares must
/// be one of them, with the same parameters where the plan knows them all, or the
/// record says why not (which a debug build refuses). This puts every run in the tests
/// next to its plan, whatever path it takes.
pub async fn in_planned_step<F: Future>(
    step_key: String,
    plan: Option<Vec<PlannedCall>>,
    action: F,
) -> F::Output {
    STEP.scope(step_key, STEP_PLAN.scope(plan.map(Arc::new), action))
        .await
}

/// Why `call` does not fit its step's plan, if it does not ([`misfit`]).
fn outside_plan(call: &PlannedCall) -> Option<String> {
    let plan = STEP_PLAN.try_with(Clone::clone).ok().flatten()?;
    misfit(&plan, call)
}

/// Why `call`, as declared when it was sent, does not fit `plan` (its step's planned
/// calls), if it does not: the plan lists no call of its service and operation, or
/// lists them all with known parameters (no `<...>` placeholder) that differ. What
/// both a debug build's run and the plan-vs-run test check.
pub fn misfit(plan: &[PlannedCall], call: &PlannedCall) -> Option<String> {
    let same: Vec<&PlannedCall> = plan
        .iter()
        .filter(|p| p.service == call.service && p.operation == call.operation)
        .collect();
    if same.is_empty() {
        return Some("but its step's plan does not list it".to_string());
    }
    let all_known = same.iter().all(|p| !p.detail.to_string().contains('<'));
    if all_known && !same.iter().any(|p| p.detail == call.detail) {
        return Some(format!(
            "with {} but its step's plan shows {}",
            call.detail,
            same.iter()
                .map(|p| p.detail.to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    None
}

/// Sends a request (`send`, the SDK's or kube's future) as the call `call` declares:
/// the recorders take `call` as its record. Every request the `aws` target sends goes
/// through here, with the declaration its plan lists.
pub async fn declared<F: Future>(call: PlannedCall, send: F) -> F::Output {
    DECLARED.scope(Arc::new([call]), send).await
}

/// [`declared`], for a future that sends one of `calls`, which it alone decides: a
/// poll of a watch stream, which lists, or watches from where its list ended.
pub async fn declared_any<F: Future>(calls: &Arc<[PlannedCall]>, send: F) -> F::Output {
    DECLARED.scope(Arc::clone(calls), send).await
}

/// Runs `action` as the step instance `step_key`: the calls it makes are recorded as
/// that step's.
pub async fn in_step<F: Future>(step_key: String, action: F) -> F::Output {
    STEP.scope(step_key, action).await
}

/// The step instance the current task runs for, if any.
pub fn current_step() -> Option<String> {
    STEP.try_with(Clone::clone).ok()
}

/// Where a run's calls are recorded: one JSON object per line, written (and flushed)
/// as each call is sent, so a run that is killed still leaves the calls it made.
#[derive(Clone)]
pub struct CallLog {
    /// `None`: the calls are checked against their declarations, not kept.
    sink: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
}

impl fmt::Debug for CallLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallLog")
    }
}

impl CallLog {
    pub fn new(sink: impl Write + Send + 'static) -> Self {
        CallLog {
            sink: Some(Arc::new(Mutex::new(Box::new(sink)))),
        }
    }

    /// A log that keeps nothing: what a debug build's targets record into when the
    /// run records no calls, so every call is still checked against its declaration.
    pub fn checking_only() -> Self {
        CallLog { sink: None }
    }

    /// Records a call of the current step (see [`in_step`]), `service` and `operation`
    /// as the request that leaves names them, with the call's declaration
    /// ([`declared`]). A call without a matching declaration is recorded bare and
    /// returned as [`Undeclared`]. A failure to write is reported on stderr and does
    /// not fail the call: the record is a witness of the run, not part of it.
    pub fn record(&self, service: Service, operation: &str) -> Result<(), Undeclared> {
        let declared = DECLARED.try_with(Clone::clone).ok();
        let refusal = |why: String| Undeclared {
            service,
            operation: operation.to_string(),
            why,
        };
        let sent = declared.as_deref().and_then(|calls| {
            calls
                .iter()
                .find(|call| call.service == service && call.operation == operation)
        });
        let (call, checked) = match sent {
            Some(call) => {
                let checked = match outside_plan(call) {
                    Some(why) => Err(refusal(why)),
                    None => Ok(()),
                };
                (call.clone(), checked)
            }
            None => {
                let why = match declared.as_deref().and_then(<[PlannedCall]>::first) {
                    Some(call) => format!(
                        "without its plan entry (the code declared {} {})",
                        call.service, call.operation
                    ),
                    None => "without its plan entry (the code declared none)".to_string(),
                };
                (
                    PlannedCall::new(service, operation, Value::Null),
                    Err(refusal(why)),
                )
            }
        };
        if let Some(sink) = &self.sink {
            write_line(
                sink,
                &RecordedCall {
                    step: current_step(),
                    call,
                },
            );
        }
        checked
    }
}

/// Writes one record and flushes it (a killed run keeps what it called).
fn write_line(sink: &Mutex<Box<dyn Write + Send>>, record: &RecordedCall) {
    let Ok(line) = serde_json::to_string(record) else {
        return;
    };
    let mut sink = sink
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Err(e) = writeln!(sink, "{line}").and_then(|()| sink.flush()) {
        eprintln!(
            "runbook: could not record the call {} {}: {e}",
            record.call.service, record.call.operation
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A shared buffer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buffer: &Buffer) -> Vec<RecordedCall> {
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("one call per line"))
            .collect()
    }

    #[tokio::test]
    async fn calls_are_recorded_as_the_step_that_made_them() {
        let buffer = Buffer::default();
        let log = CallLog::new(buffer.clone());
        let bare = log.record(Service::Sts, "GetCallerIdentity");
        assert!(bare.is_err(), "no declaration: {bare:?}");
        let first = {
            let log = log.clone();
            in_step("cluster".into(), async move {
                tokio::task::yield_now().await;
                let create = PlannedCall::new(Service::Eks, "CreateCluster", json!({"name": "c"}))
                    .when("if the cluster does not exist");
                declared(create, async { log.record(Service::Eks, "CreateCluster") })
                    .await
                    .expect("declared");
            })
        };
        let second = {
            let log = log.clone();
            in_step("virtual_clusters[1]".into(), async move {
                let create = PlannedCall::new(Service::Kubernetes, "create Namespace", json!({}));
                declared(create, async {
                    log.record(Service::Kubernetes, "create Namespace")
                })
                .await
                .expect("declared");
            })
        };
        tokio::join!(first, second);
        let calls = lines(&buffer);
        let step_of = |operation: &str| {
            calls
                .iter()
                .find(|c| c.call.operation == operation)
                .and_then(|c| c.step.clone())
        };
        assert_eq!(calls.len(), 3);
        assert_eq!(step_of("GetCallerIdentity"), None);
        assert_eq!(step_of("CreateCluster").as_deref(), Some("cluster"));
        assert_eq!(
            step_of("create Namespace").as_deref(),
            Some("virtual_clusters[1]")
        );
        let create = calls.iter().find(|c| c.call.operation == "CreateCluster");
        assert_eq!(
            create.map(|c| (&c.call.detail, c.call.when.as_deref())),
            Some((&json!({"name": "c"}), Some("if the cluster does not exist"))),
            "the record is the declaration"
        );
    }

    #[tokio::test]
    async fn a_call_its_steps_plan_does_not_list_is_refused() {
        let log = CallLog::checking_only();
        let plan = vec![
            PlannedCall::new(
                Service::Logs,
                "CreateLogGroup",
                json!({"logGroupName": "/a"}),
            ),
            PlannedCall::new(
                Service::Logs,
                "DescribeLogGroups",
                json!({"logGroupNamePrefix": "<x>"}),
            ),
        ];
        let send = |call: PlannedCall| {
            let log = log.clone();
            let operation = call.operation.clone();
            async move { declared(call, async { log.record(Service::Logs, &operation) }).await }
        };
        in_planned_step("logs".into(), Some(plan), async {
            send(PlannedCall::new(Service::Logs, "CreateLogGroup", json!({"logGroupName": "/a"})))
                .await
                .expect("as planned");
            send(PlannedCall::new(Service::Logs, "DescribeLogGroups", json!({"logGroupNamePrefix": "/a"})))
                .await
                .expect("a placeholder stands for any value");
            let other = send(PlannedCall::new(Service::Logs, "CreateLogGroup", json!({"logGroupName": "/b"})))
                .await
                .expect_err("another log group than planned");
            assert_eq!(
                other.to_string(),
                r#"runbook bug: CloudWatch Logs CreateLogGroup was sent with {"logGroupName":"/b"} but its step's plan shows {"logGroupName":"/a"}"#
            );
            let unlisted = send(PlannedCall::new(Service::Logs, "DeleteLogGroup", json!({})))
                .await
                .expect_err("not planned");
            assert!(unlisted.to_string().ends_with("but its step's plan does not list it"), "{unlisted}");
        })
        .await;
    }

    /// Reaching a cluster is made once by a run: an action whose operations each list
    /// it keeps the first, and a note an operation puts on its own (repeated) calls
    /// does not go on it.
    #[test]
    fn a_call_made_once_is_listed_once_with_its_own_note() {
        let reach = PlannedCall::new(Service::Eks, "DescribeCluster", json!({"name": "demo"}))
            .note("to connect")
            .once();
        let list = PlannedCall::new(Service::Kubernetes, "list Node", json!({}));
        let calls = vec![reach.clone(), list.clone()].note("repeated until Ready");
        assert_eq!(calls[0].note.as_deref(), Some("to connect"));
        assert_eq!(calls[1].note.as_deref(), Some("repeated until Ready"));
        let apply = PlannedCall::new(
            Service::Kubernetes,
            "server-side apply ConfigMap",
            json!({"name": "cm"}),
        );
        let listed = vec![reach.clone(), apply.clone(), reach.clone(), apply.clone()].listed_once();
        assert_eq!(
            listed,
            [reach, apply.clone(), apply],
            "a call not made once is listed as often as it is made"
        );
    }

    #[test]
    fn an_actions_condition_goes_before_the_operations() {
        let call = PlannedCall::new(Service::Iam, "CreateRole", json!({}))
            .when("if the role does not exist yet")
            .under("if `role_arn` is not given")
            .under("if the cluster does not exist");
        assert_eq!(
            call.when.as_deref(),
            Some(
                "if the cluster does not exist and `role_arn` is not given and the role does not exist yet"
            )
        );
        let each = PlannedCall::new(Service::Iam, "DeleteRolePolicy", json!({}))
            .when("for each inline policy")
            .under("if runbook made the role");
        assert_eq!(
            each.when.as_deref(),
            Some("if runbook made the role, for each inline policy")
        );
    }

    #[tokio::test]
    async fn a_call_under_another_declaration_is_refused() {
        let log = CallLog::checking_only();
        let describe = PlannedCall::new(Service::Eks, "DescribeCluster", json!({"name": "c"}));
        let refused = declared(describe, async {
            log.record(Service::Eks, "DeleteCluster")
        })
        .await;
        let refused = refused.expect_err("DeleteCluster was declared as DescribeCluster");
        assert_eq!(refused.operation, "DeleteCluster");
        assert_eq!(
            refused.to_string(),
            "runbook bug: EKS DeleteCluster was sent without its plan entry (the code declared EKS DescribeCluster)"
        );
    }

    #[test]
    fn a_line_names_the_service_as_aws_does() {
        let call = RecordedCall {
            step: None,
            call: PlannedCall::new(Service::EmrOnEks, "StartJobRun", Value::Null),
        };
        assert_eq!(
            serde_json::to_string(&call).expect("json"),
            r#"{"service":"EMR on EKS","operation":"StartJobRun"}"#
        );
    }

    #[test]
    fn a_call_reads_as_one_line() {
        let call = PlannedCall::new(
            Service::Eks,
            "CreateCluster",
            json!({"name": "c", "version": "1.30", "subnetIds": ["a", "b"], "note": "two words"}),
        )
        .when("if the cluster does not exist")
        .note("returns at once");
        assert_eq!(
            call.to_string(),
            r#"EKS CreateCluster name=c version=1.30 subnetIds=["a","b"] note="two words" [if the cluster does not exist; returns at once]"#
        );
        let bare = PlannedCall::new(Service::Kubernetes, "list Node", Value::Null);
        assert_eq!(bare.to_string(), "Kubernetes list Node");
    }

    #[test]
    fn the_json_names_the_service_as_aws_does() {
        let call = PlannedCall::new(Service::EmrOnEks, "StartJobRun", json!({}));
        assert_eq!(
            serde_json::to_value(&call).expect("json"),
            json!({"service": "EMR on EKS", "operation": "StartJobRun", "detail": {}})
        );
    }
}
