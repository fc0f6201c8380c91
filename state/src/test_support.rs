//! Builders shared by the unit tests.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::records::{NewEvent, NewRun, StepFinish, StepStart, StepStatus};

/// A temporary directory (delete on drop) and a database path inside it.
pub(crate) fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    (dir, path)
}

pub(crate) fn new_run(id: &str, started_at_ms: i64) -> NewRun {
    NewRun {
        id: id.to_owned(),
        runbook_name: "priority-demo".to_owned(),
        runbook_path: "runbooks/priority-demo.yaml".to_owned(),
        content_hash: "sha256:abc".to_owned(),
        params: json!({}),
        lock_key: "lock-priority-demo".to_owned(),
        target: "sim".to_owned(),
        started_at_ms,
        pid: 4242,
        host: "testhost".to_owned(),
        settings: json!({"target": "sim"}),
        world: None,
    }
}

pub(crate) fn step_start(step_key: &str, attempt: u32, idempotency_key: &str) -> StepStart {
    StepStart {
        step_key: step_key.to_owned(),
        step_id: step_key.to_owned(),
        item_index: None,
        is_finally: false,
        attempt,
        idempotency_key: idempotency_key.to_owned(),
        input: json!({}),
        started_at_ms: 8_000,
        clock_started_at_ms: Some(80),
        durable: false,
    }
}

pub(crate) fn finish(status: StepStatus, outputs: Option<Value>) -> StepFinish {
    StepFinish {
        status,
        outputs,
        error: (status == StepStatus::Failed).then(|| "it broke".to_owned()),
        failure: (status == StepStatus::Failed).then_some(crate::records::FailureClass::Rejected),
        finished_at_ms: 9_000,
    }
}

pub(crate) fn event(kind: &str, at_ms: i64) -> NewEvent {
    NewEvent {
        at_ms,
        kind: kind.to_owned(),
        step_key: None,
        subject: None,
        data: json!({}),
    }
}
