//! Step attempts: the checkpoint of each step instance, one row per
//! (run, step key, attempt).

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde_json::Value;

use crate::error::StateError;
use crate::events::insert_events;
use crate::records::{
    FailureClass, NewEvent, Snapshot, StepFinish, StepRecord, StepStart, StepStatus,
};
use crate::runs::run_exists;
use crate::snapshots::upsert_snapshot;
use crate::store::Store;

const STEP_COLUMNS: &str = "run_id, step_key, step_id, item_index, is_finally, attempt, \
     idempotency_key, input, status, outputs, error, started_at_ms, finished_at_ms, failure, \
     clock_started_at_ms";

impl Store {
    /// Records that an attempt starts, before the step does anything. With
    /// `start.durable` the record is fsynced before this returns.
    ///
    /// Re-entering the same (step key, attempt), e.g. on resume after a crash, sets it
    /// back to `running` with the new start time but keeps the idempotency key and input
    /// of the first entry: the cloud call made under that key must be found again, not
    /// repeated. A retry after a failure is a new attempt number, hence a new key.
    pub fn begin_attempt(&mut self, run_id: &str, start: &StepStart) -> Result<(), StateError> {
        const OP: &str = "record the start of a step";
        let input = encode(OP, "input", &start.input)?;
        self.write(OP, start.durable, |tx| {
            ensure_run(tx, run_id)?;
            tx.prepare_cached(
                "INSERT INTO step_attempts (run_id, step_key, attempt, step_id, item_index, \
                 is_finally, idempotency_key, input, status, started_at_ms, \
                 clock_started_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', ?9, ?10) \
                 ON CONFLICT (run_id, step_key, attempt) DO UPDATE SET \
                 status = 'running', started_at_ms = excluded.started_at_ms, \
                 outputs = NULL, error = NULL, failure = NULL, finished_at_ms = NULL, \
                 clock_started_at_ms = \
                   COALESCE(step_attempts.clock_started_at_ms, excluded.clock_started_at_ms)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run_id,
                    start.step_key,
                    start.attempt,
                    start.step_id,
                    start.item_index,
                    start.is_finally,
                    start.idempotency_key,
                    input,
                    start.started_at_ms,
                    start.clock_started_at_ms,
                ])
            })
            .map_err(StateError::sqlite(OP))?;
            Ok(())
        })
    }

    /// Records how an attempt ended, together with `events` and the simulator
    /// `snapshot`, all in one transaction: either all of it is stored or none.
    ///
    /// Fails with [`StateError::AttemptNotBegun`] if `begin_attempt` was not called for
    /// this attempt (or [`StateError::RunNotFound`] if the run does not exist).
    pub fn finish_attempt(
        &mut self,
        run_id: &str,
        step_key: &str,
        attempt: u32,
        finish: &StepFinish,
        events: &[NewEvent],
        snapshot: Option<&Snapshot>,
    ) -> Result<(), StateError> {
        const OP: &str = "record the end of a step";
        let outputs = encode_opt(OP, "outputs", finish.outputs.as_ref())?;
        self.write(OP, false, |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE step_attempts SET status = ?4, outputs = ?5, error = ?6, \
                     finished_at_ms = ?7, failure = ?8 \
                     WHERE run_id = ?1 AND step_key = ?2 AND attempt = ?3",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        run_id,
                        step_key,
                        attempt,
                        finish.status.as_str(),
                        outputs,
                        finish.error,
                        finish.finished_at_ms,
                        finish.failure.map(FailureClass::as_str),
                    ])
                })
                .map_err(StateError::sqlite(OP))?;
            if changed == 0 {
                ensure_run(tx, run_id)?;
                return Err(StateError::AttemptNotBegun {
                    run_id: run_id.to_owned(),
                    step_key: step_key.to_owned(),
                    attempt,
                });
            }
            insert_events(tx, run_id, events)?;
            if let Some(snapshot) = snapshot {
                upsert_snapshot(tx, run_id, snapshot)?;
            }
            Ok(())
        })
    }

    /// `begin_attempt` and `finish_attempt` in one transaction (one commit), for steps
    /// that are instantaneous and have no side effects (`log`, `assert`) and for skipped
    /// steps. Like `begin_attempt`, an existing row keeps its idempotency key and input.
    pub fn record_attempt(
        &mut self,
        run_id: &str,
        start: &StepStart,
        finish: &StepFinish,
        events: &[NewEvent],
        snapshot: Option<&Snapshot>,
    ) -> Result<(), StateError> {
        const OP: &str = "record a step";
        let input = encode(OP, "input", &start.input)?;
        let outputs = encode_opt(OP, "outputs", finish.outputs.as_ref())?;
        self.write(OP, start.durable, |tx| {
            ensure_run(tx, run_id)?;
            tx.prepare_cached(
                "INSERT INTO step_attempts (run_id, step_key, attempt, step_id, item_index, \
                 is_finally, idempotency_key, input, status, outputs, error, started_at_ms, \
                 finished_at_ms, failure, clock_started_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                 ON CONFLICT (run_id, step_key, attempt) DO UPDATE SET \
                 status = excluded.status, outputs = excluded.outputs, error = excluded.error, \
                 started_at_ms = excluded.started_at_ms, finished_at_ms = excluded.finished_at_ms, \
                 failure = excluded.failure",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run_id,
                    start.step_key,
                    start.attempt,
                    start.step_id,
                    start.item_index,
                    start.is_finally,
                    start.idempotency_key,
                    input,
                    finish.status.as_str(),
                    outputs,
                    finish.error,
                    start.started_at_ms,
                    finish.finished_at_ms,
                    finish.failure.map(FailureClass::as_str),
                    start.clock_started_at_ms,
                ])
            })
            .map_err(StateError::sqlite(OP))?;
            insert_events(tx, run_id, events)?;
            if let Some(snapshot) = snapshot {
                upsert_snapshot(tx, run_id, snapshot)?;
            }
            Ok(())
        })
    }

    /// One attempt, if it was begun.
    pub fn attempt(
        &self,
        run_id: &str,
        step_key: &str,
        attempt: u32,
    ) -> Result<Option<StepRecord>, StateError> {
        const OP: &str = "load a step attempt";
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {STEP_COLUMNS} FROM step_attempts \
                 WHERE run_id = ?1 AND step_key = ?2 AND attempt = ?3"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![run_id, step_key, attempt], RawStep::from_row)
                    .optional()
            })
            .map_err(StateError::sqlite(OP))?;
        raw.map(|raw| raw.into_record(OP)).transpose()
    }

    /// Every attempt of the run, grouped by step instance in the order the instances
    /// first began (the order of the first `begin_attempt`/`record_attempt` calls, which
    /// survives equal or non-monotonic timestamps), then by attempt number.
    pub fn attempts(&self, run_id: &str) -> Result<Vec<StepRecord>, StateError> {
        self.query_steps(
            "load the steps of a run",
            &format!(
                "SELECT {STEP_COLUMNS} FROM ( \
                   SELECT *, MIN(id) OVER (PARTITION BY step_key) AS first_id \
                   FROM step_attempts WHERE run_id = ?1) \
                 ORDER BY first_id, attempt"
            ),
            run_id,
        )
    }

    /// The highest attempt of each step instance, in the order the instances first
    /// began: what `resume` needs to decide what to skip, reuse or re-enter.
    pub fn latest_attempts(&self, run_id: &str) -> Result<Vec<StepRecord>, StateError> {
        self.query_steps(
            "load the latest attempts of a run",
            &format!(
                "SELECT {STEP_COLUMNS} FROM ( \
                   SELECT *, MIN(id) OVER w AS first_id, MAX(attempt) OVER w AS last_attempt \
                   FROM step_attempts WHERE run_id = ?1 \
                   WINDOW w AS (PARTITION BY step_key)) \
                 WHERE attempt = last_attempt \
                 ORDER BY first_id"
            ),
            run_id,
        )
    }

    fn query_steps(
        &self,
        op: &'static str,
        sql: &str,
        run_id: &str,
    ) -> Result<Vec<StepRecord>, StateError> {
        let raws = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_map([run_id], RawStep::from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(StateError::sqlite(op))?;
        raws.into_iter().map(|raw| raw.into_record(op)).collect()
    }
}

fn ensure_run(tx: &Transaction<'_>, run_id: &str) -> Result<(), StateError> {
    if run_exists(tx, run_id)? {
        Ok(())
    } else {
        Err(StateError::RunNotFound(run_id.to_owned()))
    }
}

fn encode(op: &'static str, column: &'static str, value: &Value) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|source| StateError::Json { op, column, source })
}

fn encode_opt(
    op: &'static str,
    column: &'static str,
    value: Option<&Value>,
) -> Result<Option<String>, StateError> {
    value.map(|value| encode(op, column, value)).transpose()
}

struct RawStep {
    run_id: String,
    step_key: String,
    step_id: String,
    item_index: Option<u32>,
    is_finally: bool,
    attempt: u32,
    idempotency_key: String,
    input: String,
    status: String,
    outputs: Option<String>,
    error: Option<String>,
    started_at_ms: i64,
    finished_at_ms: Option<i64>,
    failure: Option<String>,
    clock_started_at_ms: Option<i64>,
}

impl RawStep {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawStep> {
        Ok(RawStep {
            run_id: row.get(0)?,
            step_key: row.get(1)?,
            step_id: row.get(2)?,
            item_index: row.get(3)?,
            is_finally: row.get(4)?,
            attempt: row.get(5)?,
            idempotency_key: row.get(6)?,
            input: row.get(7)?,
            status: row.get(8)?,
            outputs: row.get(9)?,
            error: row.get(10)?,
            started_at_ms: row.get(11)?,
            finished_at_ms: row.get(12)?,
            failure: row.get(13)?,
            clock_started_at_ms: row.get(14)?,
        })
    }

    fn into_record(self, op: &'static str) -> Result<StepRecord, StateError> {
        let json = |column| move |source| StateError::Json { op, column, source };
        Ok(StepRecord {
            input: serde_json::from_str(&self.input).map_err(json("input"))?,
            outputs: self
                .outputs
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(json("outputs"))?,
            status: self.status.parse::<StepStatus>().map_err(|source| {
                StateError::InvalidValue {
                    op,
                    column: "status",
                    source,
                }
            })?,
            failure: self
                .failure
                .map(|text| text.parse::<FailureClass>())
                .transpose()
                .map_err(|source| StateError::InvalidValue {
                    op,
                    column: "failure",
                    source,
                })?,
            clock_started_at_ms: self.clock_started_at_ms,
            run_id: self.run_id,
            step_key: self.step_key,
            step_id: self.step_id,
            item_index: self.item_index,
            is_finally: self.is_finally,
            attempt: self.attempt,
            idempotency_key: self.idempotency_key,
            error: self.error,
            started_at_ms: self.started_at_ms,
            finished_at_ms: self.finished_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::{event, finish, new_run, step_start};

    fn store_with_run() -> Store {
        let mut store = Store::open_in_memory().expect("open");
        store.create_run(&new_run("r1", 1_000)).expect("create");
        store
    }

    fn keys(steps: &[StepRecord]) -> Vec<(String, u32)> {
        steps
            .iter()
            .map(|step| (step.step_key.clone(), step.attempt))
            .collect()
    }

    #[test]
    fn begin_then_finish_stores_the_whole_record() {
        let mut store = store_with_run();
        let mut start = step_start("buckets[2]", 1, "key-1");
        start.step_id = "buckets".into();
        start.item_index = Some(2);
        start.input = json!({"name": "logs-2"});
        store.begin_attempt("r1", &start).expect("begin");

        let running = store
            .attempt("r1", "buckets[2]", 1)
            .expect("load")
            .expect("begun");
        assert_eq!(running.status, StepStatus::Running);
        assert_eq!(running.finished_at_ms, None);

        store
            .finish_attempt(
                "r1",
                "buckets[2]",
                1,
                &finish(
                    StepStatus::Succeeded,
                    Some(json!({"arn": "arn:aws:s3:::logs-2"})),
                ),
                &[],
                None,
            )
            .expect("finish");
        let done = store.attempts("r1").expect("load");
        assert_eq!(
            done,
            [StepRecord {
                run_id: "r1".into(),
                step_key: "buckets[2]".into(),
                step_id: "buckets".into(),
                item_index: Some(2),
                is_finally: false,
                attempt: 1,
                idempotency_key: "key-1".into(),
                input: json!({"name": "logs-2"}),
                status: StepStatus::Succeeded,
                outputs: Some(json!({"arn": "arn:aws:s3:::logs-2"})),
                error: None,
                failure: None,
                started_at_ms: start.started_at_ms,
                clock_started_at_ms: Some(80),
                finished_at_ms: Some(9_000),
            }]
        );
    }

    #[test]
    fn re_entering_an_attempt_keeps_its_idempotency_key() {
        let mut store = store_with_run();
        let mut start = step_start("submit", 1, "key-first");
        start.input = json!({"executors": 2});
        start.durable = true;
        store.begin_attempt("r1", &start).expect("begin");

        // The process died; on resume the engine re-enters the same attempt.
        let mut again = step_start("submit", 1, "key-second");
        again.input = json!({"executors": 3});
        again.started_at_ms = 5_000;
        store.begin_attempt("r1", &again).expect("re-enter");

        let attempts = store.attempts("r1").expect("load");
        assert_eq!(attempts.len(), 1, "still one row: {attempts:?}");
        let step = &attempts[0];
        assert_eq!(step.idempotency_key, "key-first");
        assert_eq!(step.input, json!({"executors": 2}));
        assert_eq!(step.started_at_ms, 5_000);
        assert_eq!(step.status, StepStatus::Running);
    }

    #[test]
    fn re_entering_a_finished_attempt_clears_its_result() {
        let mut store = store_with_run();
        store
            .begin_attempt("r1", &step_start("s", 1, "k"))
            .expect("begin");
        store
            .finish_attempt("r1", "s", 1, &finish(StepStatus::Failed, None), &[], None)
            .expect("finish");
        store
            .begin_attempt("r1", &step_start("s", 1, "other"))
            .expect("re-enter");
        let step = store.attempt("r1", "s", 1).expect("load").expect("begun");
        assert_eq!(step.status, StepStatus::Running);
        assert_eq!((step.error, step.finished_at_ms), (None, None));
        assert_eq!(step.idempotency_key, "k");
    }

    #[test]
    fn finish_without_begin_is_an_error() {
        let mut store = store_with_run();
        let err = store
            .finish_attempt(
                "r1",
                "s",
                1,
                &finish(StepStatus::Succeeded, None),
                &[],
                None,
            )
            .expect_err("not begun");
        assert!(
            matches!(&err, StateError::AttemptNotBegun { run_id, step_key, attempt: 1 }
                if run_id == "r1" && step_key == "s"),
            "{err:?}"
        );
        // Attempt 1 begun does not make attempt 2 finishable.
        store
            .begin_attempt("r1", &step_start("s", 1, "k"))
            .expect("begin");
        assert!(matches!(
            store.finish_attempt(
                "r1",
                "s",
                2,
                &finish(StepStatus::Succeeded, None),
                &[],
                None
            ),
            Err(StateError::AttemptNotBegun { attempt: 2, .. })
        ));
    }

    #[test]
    fn attempts_need_an_existing_run() {
        let mut store = store_with_run();
        assert!(matches!(
            store.begin_attempt("nope", &step_start("s", 1, "k")),
            Err(StateError::RunNotFound(id)) if id == "nope"
        ));
        assert!(matches!(
            store.record_attempt(
                "nope",
                &step_start("s", 1, "k"),
                &finish(StepStatus::Succeeded, None),
                &[],
                None
            ),
            Err(StateError::RunNotFound(_))
        ));
        assert!(matches!(
            store.finish_attempt(
                "nope",
                "s",
                1,
                &finish(StepStatus::Succeeded, None),
                &[],
                None
            ),
            Err(StateError::RunNotFound(_))
        ));
    }

    #[test]
    fn finish_attempt_is_all_or_nothing() {
        let mut store = store_with_run();
        store
            .begin_attempt("r1", &step_start("s", 1, "k"))
            .expect("begin");
        store
            .append_events("r1", &[event("step.started", 1_000)])
            .expect("events");
        let snapshot = Snapshot {
            at_ms: 2_000,
            data: vec![1, 2, 3],
        };
        // The second event is invalid (empty kind): its insert fails after the attempt's
        // update and the first event's insert succeeded.
        let err = store
            .finish_attempt(
                "r1",
                "s",
                1,
                &finish(StepStatus::Succeeded, Some(json!({"ok": true}))),
                &[event("step.finished", 2_000), event("", 2_000)],
                Some(&snapshot),
            )
            .expect_err("bad event");
        assert!(matches!(err, StateError::Sqlite { .. }), "{err:?}");

        let step = store.attempt("r1", "s", 1).expect("load").expect("begun");
        assert_eq!(step.status, StepStatus::Running);
        assert_eq!((step.outputs, step.finished_at_ms), (None, None));
        let kinds: Vec<_> = store
            .events("r1")
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["step.started"]);
        assert_eq!(store.load_snapshot("r1").expect("snapshot"), None);

        // The same call with valid events then stores everything.
        store
            .finish_attempt(
                "r1",
                "s",
                1,
                &finish(StepStatus::Succeeded, Some(json!({"ok": true}))),
                &[event("step.finished", 2_000)],
                Some(&snapshot),
            )
            .expect("finish");
        let step = store.attempt("r1", "s", 1).expect("load").expect("begun");
        assert_eq!(step.status, StepStatus::Succeeded);
        assert_eq!(store.events("r1").expect("events").len(), 2);
        assert_eq!(store.load_snapshot("r1").expect("snapshot"), Some(snapshot));
    }

    #[test]
    fn record_attempt_writes_everything_at_once_or_nothing() {
        let mut store = store_with_run();
        let err = store
            .record_attempt(
                "r1",
                &step_start("log", 1, "k"),
                &finish(StepStatus::Succeeded, Some(json!({}))),
                &[event("", 1_000)],
                None,
            )
            .expect_err("bad event");
        assert!(matches!(err, StateError::Sqlite { .. }), "{err:?}");
        assert!(store.attempts("r1").expect("load").is_empty());

        let snapshot = Snapshot {
            at_ms: 7,
            data: b"world".to_vec(),
        };
        store
            .record_attempt(
                "r1",
                &step_start("log", 1, "k"),
                &finish(StepStatus::Skipped, None),
                &[event("step.skipped", 1_000)],
                Some(&snapshot),
            )
            .expect("record");
        let step = store
            .attempt("r1", "log", 1)
            .expect("load")
            .expect("recorded");
        assert_eq!(step.status, StepStatus::Skipped);
        assert_eq!(step.finished_at_ms, Some(9_000));
        assert_eq!(store.events("r1").expect("events")[0].kind, "step.skipped");
        assert_eq!(store.load_snapshot("r1").expect("snapshot"), Some(snapshot));
    }

    #[test]
    fn attempts_are_ordered_by_first_start_then_attempt() {
        let mut store = store_with_run();
        // All at the same timestamp, so only the call order can order them.
        let begin = |store: &mut Store, key: &str, attempt: u32| {
            let mut start = step_start(key, attempt, &format!("{key}-{attempt}"));
            start.started_at_ms = 1_000;
            store.begin_attempt("r1", &start).expect("begin");
        };
        begin(&mut store, "b", 1);
        begin(&mut store, "a", 1);
        begin(&mut store, "b", 2);
        begin(&mut store, "c", 1);
        begin(&mut store, "a", 2);
        begin(&mut store, "b", 3);
        // Re-entering b#1 does not move b.
        begin(&mut store, "b", 1);

        let all = store.attempts("r1").expect("load");
        assert_eq!(
            keys(&all),
            [
                ("b".into(), 1),
                ("b".into(), 2),
                ("b".into(), 3),
                ("a".into(), 1),
                ("a".into(), 2),
                ("c".into(), 1),
            ]
        );
        let latest = store.latest_attempts("r1").expect("load");
        assert_eq!(
            keys(&latest),
            [("b".into(), 3), ("a".into(), 2), ("c".into(), 1)]
        );
        assert_eq!(latest[0].idempotency_key, "b-3");
    }

    #[test]
    fn attempts_of_other_runs_are_not_mixed_in() {
        let mut store = store_with_run();
        store.create_run(&new_run("r2", 2_000)).expect("create");
        store
            .begin_attempt("r2", &step_start("x", 1, "k"))
            .expect("begin");
        store
            .begin_attempt("r1", &step_start("y", 1, "k"))
            .expect("begin");
        assert_eq!(
            keys(&store.attempts("r1").expect("load")),
            [("y".into(), 1)]
        );
        assert_eq!(
            keys(&store.latest_attempts("r2").expect("load")),
            [("x".into(), 1)]
        );
        assert!(store.attempts("none").expect("load").is_empty());
    }
}
