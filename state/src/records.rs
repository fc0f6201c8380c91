//! The persisted record types: what goes into the database and what comes out.
//!
//! These are deliberately separate from the engine's runtime types, so the on-disk
//! format changes only through a migration, never as a side effect of an engine refactor.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ParseStatusError;

/// A run to be created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// Unique run id, chosen by the engine.
    pub id: String,
    /// The runbook's `name`.
    pub runbook_name: String,
    /// The runbook file, as given on the command line (used by `resume`).
    pub runbook_path: String,
    /// Hash of the runbook file, to refuse resuming a changed runbook.
    pub content_hash: String,
    /// Resolved params, with secrets already masked by the engine.
    pub params: Value,
    /// Hash of (runbook, params): one run per key at a time (see [`Store::acquire_lock`]).
    ///
    /// [`Store::acquire_lock`]: crate::Store::acquire_lock
    pub lock_key: String,
    /// `sim` or `aws`.
    pub target: String,
    /// Wall-clock start, milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// The process executing the run.
    pub pid: u32,
    /// The host the process runs on (named when another host's run holds the lock).
    pub host: String,
    /// The target settings the run was started with (`--target`, `--profile`,
    /// `--region`, `--kube-context`, `--sim-speed`), reused by `resume` unless given
    /// again. The engine's encoding; opaque to this crate.
    pub settings: Value,
    /// The named simulated world the run uses (`run --world NAME`), shared with the
    /// runs before and after it; `None` for a world of its own. Creating the run
    /// claims the world (see [`Store::create_run`]).
    ///
    /// [`Store::create_run`]: crate::Store::create_run
    pub world: Option<String>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Unique run id.
    pub id: String,
    /// The runbook's `name`.
    pub runbook_name: String,
    /// The runbook file.
    pub runbook_path: String,
    /// Hash of the runbook file when the run started.
    pub content_hash: String,
    /// Resolved params (secrets masked).
    pub params: Value,
    /// Hash of (runbook, params).
    pub lock_key: String,
    /// `sim` or `aws`.
    pub target: String,
    /// Current status.
    pub status: RunStatus,
    /// Wall-clock start, ms since the Unix epoch.
    pub started_at_ms: i64,
    /// When the run last finished (cleared when it is resumed).
    pub finished_at_ms: Option<i64>,
    /// The process that last executed the run.
    pub pid: u32,
    /// How many times the run was resumed.
    pub resume_count: u32,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// The host of the process that last executed the run.
    pub host: String,
    /// The target settings the run was started with (see [`NewRun::settings`]).
    pub settings: Value,
    /// The named world the run used (see [`NewRun::world`]).
    pub world: Option<String>,
}

/// The status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Executing, or killed without a chance to say so (the process is gone).
    Running,
    /// Every step succeeded; nothing left to do.
    Succeeded,
    /// A step failed; a resume retries from the failed step.
    Failed,
    /// Stopped by SIGINT/SIGTERM; resumable.
    Interrupted,
    /// Retired by a person (`runbook abandon`): never resumed again.
    Abandoned,
}

impl RunStatus {
    /// All statuses, in declaration order.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Interrupted,
        RunStatus::Abandoned,
    ];

    /// The stored (and displayed) name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Abandoned => "abandoned",
        }
    }

    /// True when there is nothing left to do: only a succeeded run. A failed run is
    /// incomplete (a person can resume it).
    pub fn is_complete(self) -> bool {
        self == RunStatus::Succeeded
    }

    /// True when the run reached an end state (succeeded, failed or abandoned): what
    /// [`Store::prune_runs`](crate::Store::prune_runs) may delete.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Abandoned
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError {
                kind: "run",
                value: s.to_owned(),
                expected: "running, succeeded, failed, interrupted, abandoned",
            })
    }
}

/// Which runs [`Store::runs`](crate::Store::runs) returns. `Default` is all runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFilter {
    /// Only runs of the runbook with this `name`.
    pub runbook: Option<String>,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// At most this many (the newest).
    pub limit: Option<usize>,
}

/// The start of one attempt of one step instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStart {
    /// The step instance: the step id, or `id[index]` for a `for_each` item.
    pub step_key: String,
    /// The step's `id` in the runbook.
    pub step_id: String,
    /// The `for_each` index, if any.
    pub item_index: Option<u32>,
    /// True for a step of the `finally` section.
    pub is_finally: bool,
    /// 1 for the first attempt, then 2, 3, ... for retries.
    pub attempt: u32,
    /// Passed to the cloud call so a replay cannot act twice.
    pub idempotency_key: String,
    /// The rendered input (secrets masked).
    pub input: Value,
    /// Wall-clock start, ms.
    pub started_at_ms: i64,
    /// The start on the run's own clock (virtual on `sim`), ms: kept when the attempt
    /// is re-entered, so waits resume to their original deadline.
    pub clock_started_at_ms: Option<i64>,
    /// Fsync the record before returning: for steps with cloud side effects, whose
    /// idempotency key must survive even a power loss.
    pub durable: bool,
}

/// The end of one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFinish {
    /// How it ended.
    pub status: StepStatus,
    /// The action's typed outputs, as JSON.
    pub outputs: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// How it failed, which decides the key of the next attempt.
    pub failure: Option<FailureClass>,
    /// When it ended, ms.
    pub finished_at_ms: i64,
}

/// How a failed attempt failed, as far as the next attempt is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureClass {
    /// The service (or the action) answered no: the call did not take effect, and a
    /// retry is a new request with a new idempotency key.
    Rejected,
    /// The call may have taken effect (a timeout, a lost connection, a 5xx, throttling):
    /// a retry repeats it under the same idempotency key, so it cannot act twice.
    Uncertain,
    /// Retrying cannot help (invalid input, unsupported on this target).
    Permanent,
}

impl FailureClass {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Rejected => "rejected",
            FailureClass::Uncertain => "uncertain",
            FailureClass::Permanent => "permanent",
        }
    }
}

impl FromStr for FailureClass {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            FailureClass::Rejected,
            FailureClass::Uncertain,
            FailureClass::Permanent,
        ]
        .into_iter()
        .find(|class| class.as_str() == s)
        .ok_or_else(|| ParseStatusError {
            kind: "failure",
            value: s.to_owned(),
            expected: "rejected, uncertain, permanent",
        })
    }
}

/// The status of a step attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Begun and not (yet) finished: after a crash, the step to re-enter.
    Running,
    /// Finished successfully; its outputs are reused on resume.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Not executed (`when` was false, or a dependency failed).
    Skipped,
}

impl StepStatus {
    /// All statuses, in declaration order.
    pub const ALL: [StepStatus; 4] = [
        StepStatus::Running,
        StepStatus::Succeeded,
        StepStatus::Failed,
        StepStatus::Skipped,
    ];

    /// The stored (and displayed) name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StepStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StepStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError {
                kind: "step",
                value: s.to_owned(),
                expected: "running, succeeded, failed, skipped",
            })
    }
}

/// One attempt of one step instance, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The run.
    pub run_id: String,
    /// The step instance (`id` or `id[index]`).
    pub step_key: String,
    /// The step's `id`.
    pub step_id: String,
    /// The `for_each` index, if any.
    pub item_index: Option<u32>,
    /// True for a `finally` step.
    pub is_finally: bool,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The key of the first `begin_attempt` of this attempt; kept on re-entry.
    pub idempotency_key: String,
    /// The rendered input of the first `begin_attempt` of this attempt.
    pub input: Value,
    /// Current status.
    pub status: StepStatus,
    /// Outputs, once succeeded.
    pub outputs: Option<Value>,
    /// Error, once failed.
    pub error: Option<String>,
    /// How it failed, once failed (`None` in databases from before this was recorded).
    pub failure: Option<FailureClass>,
    /// The latest (re-)entry, ms.
    pub started_at_ms: i64,
    /// The first entry on the run's own clock (virtual on `sim`), ms.
    pub clock_started_at_ms: Option<i64>,
    /// When it finished, ms.
    pub finished_at_ms: Option<i64>,
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// When it happened (virtual time on `sim`), ms.
    pub at_ms: i64,
    /// What happened, e.g. `step.started`, `pod.preempted`. Must not be empty.
    pub kind: String,
    /// The step instance it belongs to, if any.
    pub step_key: Option<String>,
    /// What it is about, e.g. a pod or node name.
    pub subject: Option<String>,
    /// Details.
    pub data: Value,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Position within the run: 1, 2, 3, ... in append order, never reused.
    pub seq: i64,
    /// The run.
    pub run_id: String,
    /// When it happened, ms.
    pub at_ms: i64,
    /// What happened.
    pub kind: String,
    /// The step instance it belongs to, if any.
    pub step_key: Option<String>,
    /// What it is about.
    pub subject: Option<String>,
    /// Details.
    pub data: Value,
}

/// A serialized simulator world, so a resumed run continues the same world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The virtual time of the snapshot, ms.
    pub at_ms: i64,
    /// The simulator's own encoding; opaque to this crate.
    pub data: Vec<u8>,
}

/// A named simulated world, shared by the runs that name it (`run --world NAME`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldRecord {
    /// Its name.
    pub name: String,
    /// Its state as the last run that ended on it left it; `None` until one has (a
    /// world nobody finished a run on is still empty).
    pub snapshot: Option<Snapshot>,
    /// The run that last used it: while that run is neither succeeded nor abandoned,
    /// it holds the world and no other run may start on it. `None` once that run was
    /// pruned.
    pub last_run: Option<String>,
    /// Wall-clock time of the last change (a run claimed it or handed it back), ms.
    pub updated_at_ms: i64,
}

/// Who holds a run lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The run holding it.
    pub run_id: String,
    /// The process holding it.
    pub pid: u32,
    /// The host of that process (a pid means nothing on another host).
    pub host: String,
    /// Since when, ms.
    pub since_ms: i64,
}

/// What [`Store::prune_runs`](crate::Store::prune_runs) deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneStats {
    /// Runs deleted.
    pub runs: u64,
    /// Step attempts deleted.
    pub attempts: u64,
    /// Events deleted.
    pub events: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_status_round_trips_through_strings_and_serde() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
            let json = serde_json::to_value(status).expect("serialize");
            assert_eq!(json, Value::String(status.as_str().to_owned()));
        }
        let err = "done".parse::<RunStatus>().expect_err("unknown status");
        assert_eq!(
            err.to_string(),
            "failed to parse run status \"done\": expected one of running, succeeded, failed, interrupted, abandoned"
        );
    }

    #[test]
    fn step_status_round_trips_through_strings() {
        for status in StepStatus::ALL {
            assert_eq!(status.as_str().parse::<StepStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert!("Running".parse::<StepStatus>().is_err());
    }

    #[test]
    fn only_succeeded_is_complete_and_failed_is_finished() {
        let complete: Vec<_> = RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_complete())
            .collect();
        assert_eq!(complete, [RunStatus::Succeeded]);
        let finished: Vec<_> = RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_finished())
            .collect();
        assert_eq!(
            finished,
            [
                RunStatus::Succeeded,
                RunStatus::Failed,
                RunStatus::Abandoned
            ]
        );
    }
}
