//! Faults between the binary and moto, set through the fault proxy
//! (`tests/aws/fault_proxy.py`, started by [`AwsWorldBuilder::fault_proxy`]): a call
//! that reaches moto and whose answer comes too late, a 5xx before or after moto acted,
//! throttling, and a connection lost in the middle of the answer. Each rule applies a
//! given number of times and then stops, and counts its hits, so a test can check
//! that the fault it staged really happened.
//!
//! [`AwsWorldBuilder::fault_proxy`]: crate::aws_harness::AwsWorldBuilder::fault_proxy

use std::time::Duration;

use serde_json::{Value, json};

use crate::aws_harness::AwsWorld;

/// An AWS operation, as the fault proxy recognizes it on the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    /// The SigV4 signing name of the service.
    service: &'static str,
    /// How the request is told apart from the service's other operations.
    shape: OpShape,
}

#[derive(Clone, Copy, Debug)]
enum OpShape {
    /// RPC-style protocols (query, JSON-RPC): the operation's name.
    Named(&'static str),
    /// REST protocols: the method and a regex of the whole path.
    Rest(&'static str, &'static str),
}

impl Op {
    /// EMR on EKS StartJobRun: `POST /virtualclusters/{id}/jobruns`.
    pub(crate) const START_JOB_RUN: Op = Op {
        service: "emr-containers",
        shape: OpShape::Rest("POST", "/virtualclusters/[^/]+/jobruns"),
    };
    /// EMR on EKS DescribeJobRun: `GET /virtualclusters/{id}/jobruns/{job id}`.
    pub(crate) const DESCRIBE_JOB_RUN: Op = Op {
        service: "emr-containers",
        shape: OpShape::Rest("GET", "/virtualclusters/[^/]+/jobruns/[^/]+"),
    };
    /// S3 CreateBucket with path-style addressing: `PUT /{bucket}/` (the SDK ends the
    /// path with a slash; an object has a key after the bucket, so PutObject does not
    /// match).
    pub(crate) const CREATE_BUCKET: Op = Op {
        service: "s3",
        shape: OpShape::Rest("PUT", "/[^/]+/?"),
    };
    /// IAM DeleteRole (query protocol, `Action=DeleteRole`).
    pub(crate) const DELETE_ROLE: Op = Op {
        service: "iam",
        shape: OpShape::Named("DeleteRole"),
    };

    fn to_json(self) -> Value {
        match self.shape {
            OpShape::Named(operation) => json!({ "service": self.service, "operation": operation }),
            OpShape::Rest(method, path) => {
                json!({ "service": self.service, "method": method, "path": path })
            }
        }
    }
}

/// What happens to a matching call.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fault {
    /// The call reaches moto, which acts; its answer is held this long (longer than
    /// the step's timeout), so the client gives up without knowing what happened.
    LateAnswer(Duration),
    /// The call reaches moto, which acts; the client gets a 500 instead of its answer.
    ServerErrorAfter,
    /// A 500 without the call reaching moto.
    ServerErrorBefore,
    /// The service's throttling error, without the call reaching moto.
    Throttled,
    /// The call reaches moto, which acts; the client gets the status line, the
    /// headers and half the body of its answer, and then the connection closes.
    ConnectionLost,
}

impl Fault {
    fn to_json(self) -> Value {
        match self {
            Fault::LateAnswer(hold) => json!({ "kind": "delay", "seconds": hold.as_secs_f64() }),
            Fault::ServerErrorAfter => json!({ "kind": "error", "status": 500, "forward": true }),
            Fault::ServerErrorBefore => {
                json!({ "kind": "error", "status": 500, "forward": false })
            }
            Fault::Throttled => json!({ "kind": "throttle" }),
            Fault::ConnectionLost => json!({ "kind": "drop" }),
        }
    }
}

/// A rule set in the fault proxy, by its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RuleId(u64);

impl AwsWorld {
    /// Makes the next `times` calls of `op` meet `fault`.
    pub(crate) fn inject(&self, op: Op, fault: Fault, times: u32) -> RuleId {
        let body = json!({ "match": op.to_json(), "fault": fault.to_json(), "times": times });
        let rule = self
            .proxy()
            .expect_ok("POST", "/_faults/rules", Some(&body.to_string()));
        RuleId(
            rule["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("the fault proxy answered a rule without an id: {rule}")),
        )
    }

    /// Every request the proxy passed on or answered, as "METHOD PATH service operation
    /// -> status [rule N]" lines, for the message of a failed check.
    pub(crate) fn proxied_requests(&self) -> String {
        let state = self.proxy().expect_ok("GET", "/_faults", None);
        let mut lines = String::new();
        for r in state["requests"].as_array().into_iter().flatten() {
            let text = |field: &str| r[field].as_str().unwrap_or("-").to_owned();
            lines.push_str(&format!(
                "{} {} {} {} -> {}{}\n",
                text("method"),
                text("path"),
                text("service"),
                text("operation"),
                r["status"],
                r["rule"]
                    .as_u64()
                    .map_or_else(String::new, |id| format!(" [rule {id}]"))
            ));
        }
        lines
    }

    /// How many calls a rule has applied to so far.
    pub(crate) fn fault_hits(&self, rule: RuleId) -> u64 {
        let state = self.proxy().expect_ok("GET", "/_faults", None);
        state["rules"]
            .as_array()
            .and_then(|rules| rules.iter().find(|r| r["id"] == rule.0))
            .and_then(|r| r["hits"].as_u64())
            .unwrap_or_else(|| panic!("no rule {} in the fault proxy: {state}", rule.0))
    }
}
