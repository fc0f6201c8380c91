//! The calls a run makes to AWS and to the cluster's Kubernetes API, in one vocabulary
//! shared by what `runbook plan --target aws` says a step will call and what a run on
//! `aws` records it called (`--record-calls FILE`).
//!
//! The recording is done where the calls leave the process: an interceptor on every
//! AWS SDK client and a layer under the kube client (in `runbook-backend-aws`), so it
//! shows what was sent, not what the code meant to send. The step a call belongs to
//! is the step whose action was running when the call was made ([`in_step`]); calls
//! of the target's own watches and of connecting belong to no step.

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

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

/// One call a run made, as recorded when it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCall {
    /// The step instance (`virtual_clusters[2]`) whose action made the call; absent for
    /// the target's own calls (connecting, watching the cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub service: Service,
    /// The API operation (`CreateCluster`), or for Kubernetes the verb and kind
    /// (`create Namespace`, `list Node`), as `plan` names them.
    pub operation: String,
}

tokio::task_local! {
    /// The step instance whose action the current task is running.
    static STEP: String;
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
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl fmt::Debug for CallLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallLog")
    }
}

impl CallLog {
    pub fn new(sink: impl Write + Send + 'static) -> Self {
        CallLog {
            sink: Arc::new(Mutex::new(Box::new(sink))),
        }
    }

    /// Records a call of the current step (see [`in_step`]). A failure to write is
    /// reported once on stderr and does not fail the call: the record is a witness of
    /// the run, not part of it.
    pub fn record(&self, service: Service, operation: impl Into<String>) {
        let call = RecordedCall {
            step: current_step(),
            service,
            operation: operation.into(),
        };
        let Ok(line) = serde_json::to_string(&call) else {
            return;
        };
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = writeln!(sink, "{line}").and_then(|()| sink.flush()) {
            eprintln!(
                "runbook: could not record the call {service} {}: {e}",
                call.operation
            );
        }
    }
}

#[cfg(test)]
mod tests {
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
        log.record(Service::Sts, "GetCallerIdentity");
        let first = {
            let log = log.clone();
            in_step("cluster".into(), async move {
                tokio::task::yield_now().await;
                log.record(Service::Eks, "CreateCluster");
            })
        };
        let second = {
            let log = log.clone();
            in_step("virtual_clusters[1]".into(), async move {
                log.record(Service::Kubernetes, "create Namespace");
            })
        };
        tokio::join!(first, second);
        let calls = lines(&buffer);
        let step_of = |operation: &str| {
            calls
                .iter()
                .find(|c| c.operation == operation)
                .and_then(|c| c.step.clone())
        };
        assert_eq!(calls.len(), 3);
        assert_eq!(step_of("GetCallerIdentity"), None);
        assert_eq!(step_of("CreateCluster").as_deref(), Some("cluster"));
        assert_eq!(
            step_of("create Namespace").as_deref(),
            Some("virtual_clusters[1]")
        );
    }

    #[test]
    fn a_line_names_the_service_as_aws_does() {
        let call = RecordedCall {
            step: None,
            service: Service::EmrOnEks,
            operation: "StartJobRun".into(),
        };
        assert_eq!(
            serde_json::to_string(&call).expect("json"),
            r#"{"service":"EMR on EKS","operation":"StartJobRun"}"#
        );
    }
}
