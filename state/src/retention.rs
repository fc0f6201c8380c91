//! Retention: deleting old finished runs (`runbook prune`).

use crate::error::StateError;
use crate::records::PruneStats;
use crate::store::Store;

/// The runs `prune_runs` deletes. A run finished without a recorded finish time counts
/// from its start, so it does not stay forever.
const PRUNABLE_RUNS: &str = "SELECT id FROM runs WHERE status IN ('succeeded', 'failed', 'abandoned') \
     AND COALESCE(finished_at_ms, started_at_ms) < ?1";

impl Store {
    /// Deletes the runs that finished (succeeded or failed) before `finished_before_ms`,
    /// with their attempts, events, snapshot and any lock row they left behind, in one
    /// transaction. Running and interrupted runs are never deleted: they can still be
    /// resumed. The file does not shrink until a `VACUUM`; freed pages are reused.
    pub fn prune_runs(&mut self, finished_before_ms: i64) -> Result<PruneStats, StateError> {
        const OP: &str = "prune old runs";
        self.write(OP, false, |tx| {
            let delete = |table: &str, column: &str| -> Result<u64, StateError> {
                let sql = format!("DELETE FROM {table} WHERE {column} IN ({PRUNABLE_RUNS})");
                let deleted = tx
                    .execute(&sql, [finished_before_ms])
                    .map_err(StateError::sqlite(OP))?;
                Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
            };
            // Children first, so the counts are exact (the foreign keys would cascade).
            let events = delete("events", "run_id")?;
            let attempts = delete("step_attempts", "run_id")?;
            delete("snapshots", "run_id")?;
            delete("run_locks", "run_id")?;
            let runs = delete("runs", "id")?;
            Ok(PruneStats {
                runs,
                attempts,
                events,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::{LockOutcome, LockRequest};
    use crate::records::{RunStatus, Snapshot, StepStatus};
    use crate::test_support::{event, finish, new_run, step_start};

    fn populate(store: &mut Store, id: &str, steps: usize, events: usize) {
        store.create_run(&new_run(id, 1_000)).expect("create");
        for i in 0..steps {
            store
                .record_attempt(
                    id,
                    &step_start(&format!("s{i}"), 1, "k"),
                    &finish(StepStatus::Succeeded, None),
                    &[],
                    None,
                )
                .expect("record");
        }
        let events: Vec<_> = (0..events).map(|i| event("e", i as i64)).collect();
        store.append_events(id, &events).expect("events");
        store
            .save_snapshot(
                id,
                &Snapshot {
                    at_ms: 1,
                    data: vec![1],
                },
            )
            .expect("snapshot");
    }

    fn count(store: &Store, table: &str, run_id: &str) -> i64 {
        store
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE run_id = ?1"),
                [run_id],
                |row| row.get(0),
            )
            .expect("count")
    }

    #[test]
    fn prune_deletes_old_finished_runs_and_keeps_the_rest() {
        let mut store = Store::open_in_memory().expect("open");
        populate(&mut store, "old_ok", 2, 3);
        populate(&mut store, "old_failed", 1, 1);
        populate(&mut store, "new_ok", 1, 1);
        populate(&mut store, "running", 1, 1);
        populate(&mut store, "interrupted", 1, 1);
        let set = |store: &mut Store, id, status, at| {
            store.set_run_status(id, status, at, None).expect("status")
        };
        set(&mut store, "old_ok", RunStatus::Succeeded, Some(5_000));
        set(&mut store, "old_failed", RunStatus::Failed, Some(6_000));
        set(&mut store, "new_ok", RunStatus::Succeeded, Some(20_000));
        set(
            &mut store,
            "interrupted",
            RunStatus::Interrupted,
            Some(5_000),
        );
        // A lock left behind by a finished run that crashed before releasing it.
        let lock = |run_id| LockRequest {
            lock_key: "k",
            run_id,
            pid: 9,
            host: "h",
            now_ms: 1_000,
        };
        let left = store.acquire_lock(&lock("old_ok")).expect("lock");
        drop(left);

        let stats = store.prune_runs(10_000).expect("prune");
        assert_eq!(
            stats,
            PruneStats {
                runs: 2,
                attempts: 3,
                events: 4
            }
        );
        for gone in ["old_ok", "old_failed"] {
            assert_eq!(store.run(gone).expect("load"), None);
            for table in ["step_attempts", "events", "snapshots"] {
                assert_eq!(count(&store, table, gone), 0, "{table} of {gone}");
            }
        }
        for kept in ["new_ok", "running", "interrupted"] {
            assert!(store.run(kept).expect("load").is_some(), "{kept}");
            assert_eq!(store.attempts(kept).expect("attempts").len(), 1);
            assert_eq!(store.events(kept).expect("events").len(), 1);
            // A succeeded run drops its snapshot (it cannot be resumed); the others
            // keep theirs.
            let has_snapshot = store.load_snapshot(kept).expect("snapshot").is_some();
            assert_eq!(has_snapshot, kept != "new_ok", "{kept}");
        }
        assert_eq!(store.lock_holder("k").expect("lock"), None);
        assert!(matches!(
            store.acquire_lock(&lock("x")).expect("lock"),
            LockOutcome::Acquired {
                taken_over_from: None,
                ..
            }
        ));

        assert_eq!(
            store.prune_runs(10_000).expect("again"),
            PruneStats::default()
        );
    }
}
