//! Runs: create, load, list, and status transitions.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use crate::error::StateError;
use crate::records::{NewRun, RunFilter, RunRecord, RunStatus};
use crate::store::Store;
use crate::worlds;

const RUN_COLUMNS: &str = "id, runbook_name, runbook_path, content_hash, params, lock_key, \
     target, status, started_at_ms, finished_at_ms, pid, resume_count, error, host, settings, world";

impl Store {
    /// Records a new run in status `running`. Fails with [`StateError::RunExists`] if
    /// the id is taken. A run on a named world claims it in the same transaction (see
    /// `worlds.rs`), or fails with [`StateError::WorldInUse`] and records nothing.
    pub fn create_run(&mut self, run: &NewRun) -> Result<(), StateError> {
        const OP: &str = "create run";
        let params_json =
            serde_json::to_string(&run.params).map_err(|source| StateError::Json {
                op: OP,
                column: "params",
                source,
            })?;
        let settings_json =
            serde_json::to_string(&run.settings).map_err(|source| StateError::Json {
                op: OP,
                column: "settings",
                source,
            })?;
        self.write(OP, false, |tx| {
            if run_exists(tx, &run.id)? {
                return Err(StateError::RunExists(run.id.clone()));
            }
            tx.prepare_cached(
                "INSERT INTO runs (id, runbook_name, runbook_path, content_hash, params, \
                 lock_key, target, status, started_at_ms, pid, host, settings, world) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run.id,
                    run.runbook_name,
                    run.runbook_path,
                    run.content_hash,
                    params_json,
                    run.lock_key,
                    run.target,
                    RunStatus::Running.as_str(),
                    run.started_at_ms,
                    run.pid,
                    run.host,
                    settings_json,
                    run.world,
                ])
            })
            .map_err(StateError::sqlite(OP))?;
            if let Some(world) = &run.world {
                worlds::claim(tx, world, &run.id, run.started_at_ms)?;
            }
            Ok(())
        })
    }

    /// The run with this id, if any.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError> {
        const OP: &str = "load run";
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
            .and_then(|mut stmt| stmt.query_row([id], RawRun::from_row).optional())
            .map_err(StateError::sqlite(OP))?;
        raw.map(|raw| raw.into_record(OP)).transpose()
    }

    /// Runs matching `filter`, newest first (by start time, then creation order).
    pub fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StateError> {
        const OP: &str = "list runs";
        // SQLite treats a negative LIMIT as "no limit".
        let limit = filter
            .limit
            .map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let raws = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs \
                 WHERE (?1 IS NULL OR runbook_name = ?1) AND (?2 IS NULL OR status = ?2) \
                 ORDER BY started_at_ms DESC, rowid DESC LIMIT ?3"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![filter.runbook, filter.status.map(RunStatus::as_str), limit],
                    RawRun::from_row,
                )?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(StateError::sqlite(OP))?;
        raws.into_iter().map(|raw| raw.into_record(OP)).collect()
    }

    /// The newest run that is neither `succeeded` nor `abandoned` (running, failed or
    /// interrupted), of the given lock key (runbook + params), or of any runbook with
    /// `None`: what `runbook resume` without a run id continues.
    pub fn latest_incomplete_run(
        &self,
        lock_key: Option<&str>,
    ) -> Result<Option<RunRecord>, StateError> {
        const OP: &str = "find the latest incomplete run";
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs \
                 WHERE status NOT IN ('succeeded', 'abandoned') \
                   AND (?1 IS NULL OR lock_key = ?1) \
                 ORDER BY started_at_ms DESC, rowid DESC LIMIT 1"
            ))
            .and_then(|mut stmt| stmt.query_row([lock_key], RawRun::from_row).optional())
            .map_err(StateError::sqlite(OP))?;
        raw.map(|raw| raw.into_record(OP)).transpose()
    }

    /// The runs of `lock_key` started after its newest succeeded run (all of them if it
    /// never succeeded), newest first: the history that decides what an unattended
    /// `run --resume-incomplete` does. Runs before the last success are superseded by
    /// it and never resumed automatically.
    pub fn runs_since_last_success(&self, lock_key: &str) -> Result<Vec<RunRecord>, StateError> {
        const OP: &str = "list the runs since the last success";
        let raws = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs AS r \
                 WHERE lock_key = ?1 AND status <> 'succeeded' \
                   AND rowid > COALESCE((SELECT MAX(rowid) FROM runs \
                       WHERE lock_key = ?1 AND status = 'succeeded'), 0) \
                 ORDER BY started_at_ms DESC, rowid DESC"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([lock_key], RawRun::from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(StateError::sqlite(OP))?;
        raws.into_iter().map(|raw| raw.into_record(OP)).collect()
    }

    /// Sets a run's status, finish time and error (all three are overwritten).
    pub fn set_run_status(
        &mut self,
        id: &str,
        status: RunStatus,
        finished_at_ms: Option<i64>,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        const OP: &str = "update run status";
        self.write(OP, false, |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE runs SET status = ?2, finished_at_ms = ?3, error = ?4 WHERE id = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![id, status.as_str(), finished_at_ms, error])
                })
                .map_err(StateError::sqlite(OP))?;
            if changed == 0 {
                return Err(StateError::RunNotFound(id.to_owned()));
            }
            // A succeeded run cannot be resumed, so its simulator snapshot (most of a
            // simulated run's bytes) is of no more use.
            if status == RunStatus::Succeeded {
                tx.prepare_cached("DELETE FROM snapshots WHERE run_id = ?1")
                    .and_then(|mut stmt| stmt.execute([id]))
                    .map_err(StateError::sqlite(OP))?;
            }
            Ok(())
        })
    }

    /// Marks a run as taken up again by process `pid` on `host`: status `running`, no
    /// finish time or error, one more resume, and the `target` and its `settings` it
    /// now runs with (a resume may name another target).
    pub fn mark_run_resumed(
        &mut self,
        id: &str,
        pid: u32,
        host: &str,
        target: &str,
        settings: &serde_json::Value,
        at_ms: i64,
    ) -> Result<(), StateError> {
        const OP: &str = "mark run resumed";
        let settings = serde_json::to_string(settings).map_err(|source| StateError::Json {
            op: OP,
            column: "settings",
            source,
        })?;
        self.write(OP, false, |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE runs SET status = 'running', pid = ?2, resumed_at_ms = ?3, \
                     finished_at_ms = NULL, error = NULL, resume_count = resume_count + 1, \
                     host = ?4, settings = ?5, target = ?6 \
                     WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![id, pid, at_ms, host, settings, target]))
                .map_err(StateError::sqlite(OP))?;
            if changed == 0 {
                return Err(StateError::RunNotFound(id.to_owned()));
            }
            Ok(())
        })
    }
}

/// Whether the run exists, inside a write transaction.
pub(crate) fn run_exists(tx: &Transaction<'_>, id: &str) -> Result<bool, StateError> {
    tx.prepare_cached("SELECT 1 FROM runs WHERE id = ?1")
        .and_then(|mut stmt| stmt.exists([id]))
        .map_err(StateError::sqlite("look up run"))
}

/// A row as SQLite hands it over; JSON and status are decoded in `into_record`, so
/// their errors carry the column name.
struct RawRun {
    id: String,
    runbook_name: String,
    runbook_path: String,
    content_hash: String,
    params: String,
    lock_key: String,
    target: String,
    status: String,
    started_at_ms: i64,
    finished_at_ms: Option<i64>,
    pid: u32,
    resume_count: u32,
    error: Option<String>,
    host: String,
    settings: String,
    world: Option<String>,
}

impl RawRun {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawRun> {
        Ok(RawRun {
            id: row.get(0)?,
            runbook_name: row.get(1)?,
            runbook_path: row.get(2)?,
            content_hash: row.get(3)?,
            params: row.get(4)?,
            lock_key: row.get(5)?,
            target: row.get(6)?,
            status: row.get(7)?,
            started_at_ms: row.get(8)?,
            finished_at_ms: row.get(9)?,
            pid: row.get(10)?,
            resume_count: row.get(11)?,
            error: row.get(12)?,
            host: row.get(13)?,
            settings: row.get(14)?,
            world: row.get(15)?,
        })
    }

    fn into_record(self, op: &'static str) -> Result<RunRecord, StateError> {
        Ok(RunRecord {
            params: serde_json::from_str(&self.params).map_err(|source| StateError::Json {
                op,
                column: "params",
                source,
            })?,
            settings: serde_json::from_str(&self.settings).map_err(|source| StateError::Json {
                op,
                column: "settings",
                source,
            })?,
            status: self
                .status
                .parse()
                .map_err(|source| StateError::InvalidValue {
                    op,
                    column: "status",
                    source,
                })?,
            id: self.id,
            runbook_name: self.runbook_name,
            runbook_path: self.runbook_path,
            content_hash: self.content_hash,
            lock_key: self.lock_key,
            target: self.target,
            started_at_ms: self.started_at_ms,
            finished_at_ms: self.finished_at_ms,
            pid: self.pid,
            resume_count: self.resume_count,
            error: self.error,
            host: self.host,
            world: self.world,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::new_run;

    fn ids(runs: &[RunRecord]) -> Vec<&str> {
        runs.iter().map(|run| run.id.as_str()).collect()
    }

    #[test]
    fn a_succeeded_run_drops_its_snapshot_a_failed_one_keeps_it() {
        let mut store = Store::open_in_memory().expect("open");
        for id in ["ok", "bad"] {
            store.create_run(&new_run(id, 1_000)).expect("create");
            let snapshot = crate::records::Snapshot {
                at_ms: 5,
                data: vec![1, 2, 3],
            };
            store.save_snapshot(id, &snapshot).expect("snapshot");
        }
        store
            .set_run_status("ok", RunStatus::Succeeded, Some(2_000), None)
            .expect("succeed");
        store
            .set_run_status("bad", RunStatus::Failed, Some(2_000), Some("x"))
            .expect("fail");
        assert_eq!(store.load_snapshot("ok").expect("load"), None);
        assert!(
            store.load_snapshot("bad").expect("load").is_some(),
            "a failed run can be resumed"
        );
    }

    #[test]
    fn run_lifecycle_create_fail_resume_succeed() {
        let mut store = Store::open_in_memory().expect("open");
        let mut new = new_run("r1", 1_000);
        new.params = json!({"executors": 2, "token": "***"});
        store.create_run(&new).expect("create");

        let run = store.run("r1").expect("load").expect("exists");
        assert_eq!(
            run,
            RunRecord {
                id: "r1".into(),
                runbook_name: new.runbook_name.clone(),
                runbook_path: new.runbook_path.clone(),
                content_hash: new.content_hash.clone(),
                params: json!({"executors": 2, "token": "***"}),
                lock_key: new.lock_key.clone(),
                target: "sim".into(),
                status: RunStatus::Running,
                started_at_ms: 1_000,
                finished_at_ms: None,
                pid: 4242,
                resume_count: 0,
                error: None,
                host: "testhost".into(),
                settings: json!({"target": "sim"}),
                world: None,
            }
        );

        store
            .set_run_status("r1", RunStatus::Failed, Some(2_000), Some("step x failed"))
            .expect("fail");
        let run = store.run("r1").expect("load").expect("exists");
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.finished_at_ms, Some(2_000));
        assert_eq!(run.error.as_deref(), Some("step x failed"));

        store
            .mark_run_resumed(
                "r1",
                777,
                "h",
                "aws",
                &json!({"region": "eu-west-1"}),
                3_000,
            )
            .expect("resume");
        let run = store.run("r1").expect("load").expect("exists");
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(run.target, "aws", "the target it is resumed on");
        assert_eq!(run.settings, json!({"region": "eu-west-1"}));
        assert_eq!(run.pid, 777);
        assert_eq!(run.resume_count, 1);
        assert_eq!(run.finished_at_ms, None);
        assert_eq!(run.error, None);
        assert_eq!(run.started_at_ms, 1_000, "the original start is kept");

        store
            .mark_run_resumed("r1", 778, "h", "sim", &json!({}), 3_500)
            .expect("resume again");
        store
            .set_run_status("r1", RunStatus::Succeeded, Some(4_000), None)
            .expect("succeed");
        let run = store.run("r1").expect("load").expect("exists");
        assert_eq!(run.status, RunStatus::Succeeded);
        assert_eq!(run.resume_count, 2);
        assert!(run.status.is_complete());
    }

    #[test]
    fn unknown_runs_are_reported() {
        let mut store = Store::open_in_memory().expect("open");
        assert_eq!(store.run("nope").expect("load"), None);
        assert!(matches!(
            store.set_run_status("nope", RunStatus::Failed, None, None),
            Err(StateError::RunNotFound(id)) if id == "nope"
        ));
        assert!(matches!(
            store.mark_run_resumed("nope", 1, "h", "sim", &json!({}), 1),
            Err(StateError::RunNotFound(id)) if id == "nope"
        ));
    }

    #[test]
    fn duplicate_run_id_is_refused() {
        let mut store = Store::open_in_memory().expect("open");
        store.create_run(&new_run("r1", 1_000)).expect("create");
        let err = store
            .create_run(&new_run("r1", 2_000))
            .expect_err("duplicate");
        assert!(
            matches!(&err, StateError::RunExists(id) if id == "r1"),
            "{err:?}"
        );
        assert_eq!(
            store
                .run("r1")
                .expect("load")
                .expect("exists")
                .started_at_ms,
            1_000
        );
    }

    #[test]
    fn runs_are_listed_newest_first_and_filtered() {
        let mut store = Store::open_in_memory().expect("open");
        let mut a = new_run("a", 1_000);
        a.runbook_name = "demo".into();
        let mut b = new_run("b", 3_000);
        b.runbook_name = "nightly".into();
        let mut c = new_run("c", 2_000);
        c.runbook_name = "demo".into();
        // Same start time as `c`: creation order breaks the tie.
        let mut d = new_run("d", 2_000);
        d.runbook_name = "demo".into();
        for run in [&a, &b, &c, &d] {
            store.create_run(run).expect("create");
        }
        store
            .set_run_status("c", RunStatus::Succeeded, Some(2_500), None)
            .expect("status");

        let all = store.runs(&RunFilter::default()).expect("list");
        assert_eq!(ids(&all), ["b", "d", "c", "a"]);

        let demo = RunFilter {
            runbook: Some("demo".into()),
            ..RunFilter::default()
        };
        assert_eq!(ids(&store.runs(&demo).expect("list")), ["d", "c", "a"]);

        let running_demo = RunFilter {
            status: Some(RunStatus::Running),
            ..demo.clone()
        };
        assert_eq!(ids(&store.runs(&running_demo).expect("list")), ["d", "a"]);

        let newest_two = RunFilter {
            limit: Some(2),
            ..RunFilter::default()
        };
        assert_eq!(ids(&store.runs(&newest_two).expect("list")), ["b", "d"]);
        let none = RunFilter {
            limit: Some(0),
            ..RunFilter::default()
        };
        assert!(store.runs(&none).expect("list").is_empty());
    }

    #[test]
    fn latest_incomplete_run_skips_succeeded_and_other_lock_keys() {
        let mut store = Store::open_in_memory().expect("open");
        assert_eq!(store.latest_incomplete_run(None).expect("query"), None);
        let mut old = new_run("old", 1_000);
        old.lock_key = "k1".into();
        let mut failed = new_run("failed", 2_000);
        failed.lock_key = "k1".into();
        let mut done = new_run("done", 3_000);
        done.lock_key = "k1".into();
        let mut other = new_run("other", 4_000);
        other.lock_key = "k2".into();
        for run in [&old, &failed, &done, &other] {
            store.create_run(run).expect("create");
        }
        store
            .set_run_status("failed", RunStatus::Failed, Some(2_100), Some("boom"))
            .expect("status");
        store
            .set_run_status("done", RunStatus::Succeeded, Some(3_100), None)
            .expect("status");

        fn latest(store: &Store, key: Option<&str>) -> Option<String> {
            store
                .latest_incomplete_run(key)
                .expect("query")
                .map(|run| run.id)
        }
        assert_eq!(latest(&store, Some("k1")).as_deref(), Some("failed"));
        assert_eq!(latest(&store, Some("k2")).as_deref(), Some("other"));
        assert_eq!(latest(&store, None).as_deref(), Some("other"));
        assert_eq!(latest(&store, Some("k3")), None);

        store
            .set_run_status("failed", RunStatus::Interrupted, Some(2_200), None)
            .expect("status");
        assert_eq!(latest(&store, Some("k1")).as_deref(), Some("failed"));
        store
            .set_run_status("failed", RunStatus::Succeeded, Some(2_300), None)
            .expect("status");
        assert_eq!(latest(&store, Some("k1")).as_deref(), Some("old"));
    }

    #[test]
    fn runs_since_last_success_are_those_after_the_newest_success_of_the_key() {
        let mut store = Store::open_in_memory().expect("open");
        let names = [
            "old_failed",
            "ok",
            "interrupted",
            "failed",
            "abandoned",
            "other",
        ];
        for (i, id) in names.iter().enumerate() {
            let mut run = new_run(id, 1_000 + i as i64);
            run.lock_key = if *id == "other" { "k2" } else { "k1" }.into();
            store.create_run(&run).expect("create");
        }
        for (id, status) in [
            ("old_failed", RunStatus::Failed),
            ("ok", RunStatus::Succeeded),
            ("interrupted", RunStatus::Interrupted),
            ("failed", RunStatus::Failed),
            ("abandoned", RunStatus::Abandoned),
        ] {
            store
                .set_run_status(id, status, None, None)
                .expect("status");
        }
        let since = store.runs_since_last_success("k1").expect("query");
        assert_eq!(ids(&since), ["abandoned", "failed", "interrupted"]);
        assert_eq!(
            ids(&store.runs_since_last_success("k2").expect("q")),
            ["other"]
        );
        // `resume` without an id never picks an abandoned run.
        assert_eq!(
            store
                .latest_incomplete_run(Some("k1"))
                .expect("q")
                .map(|r| r.id),
            Some("failed".to_owned())
        );
        store
            .set_run_status("failed", RunStatus::Succeeded, None, None)
            .expect("status");
        assert_eq!(
            ids(&store.runs_since_last_success("k1").expect("q")),
            ["abandoned"]
        );
    }

    #[test]
    fn corrupt_json_is_reported_with_its_column() {
        let mut store = Store::open_in_memory().expect("open");
        store.create_run(&new_run("r1", 1_000)).expect("create");
        store
            .conn
            .execute("UPDATE runs SET params = '{not json' WHERE id = 'r1'", [])
            .expect("corrupt");
        let err = store.run("r1").expect_err("bad json");
        assert!(
            matches!(
                err,
                StateError::Json {
                    column: "params",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "failed to load run: the params column does not hold valid JSON"
        );
    }
}
