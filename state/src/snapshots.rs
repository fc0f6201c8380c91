//! Simulator snapshots: the latest serialized world of each run, so that a resumed run
//! continues the same simulation (and, at its end, the named world it used).

use rusqlite::{OptionalExtension, Transaction, params};

use crate::error::StateError;
use crate::records::Snapshot;
use crate::runs::run_exists;
use crate::store::Store;
use crate::worlds;

impl Store {
    /// Stores the run's snapshot, replacing the previous one.
    pub fn save_snapshot(&mut self, run_id: &str, snapshot: &Snapshot) -> Result<(), StateError> {
        self.write("save the simulator snapshot", false, |tx| {
            if !run_exists(tx, run_id)? {
                return Err(StateError::RunNotFound(run_id.to_owned()));
            }
            upsert_snapshot(tx, run_id, snapshot)
        })
    }

    /// What a run leaves when it stops executing (it ended, was interrupted, or is
    /// being abandoned): its final snapshot, when the world changed since its last
    /// checkpoint, and, for a run on a named world, its latest snapshot as the world's
    /// state, in one transaction, so the world is never behind what its run recorded.
    pub fn save_last_snapshot(
        &mut self,
        run_id: &str,
        snapshot: Option<&Snapshot>,
        now_ms: i64,
    ) -> Result<(), StateError> {
        self.write("save the last simulator snapshot", false, |tx| {
            if !run_exists(tx, run_id)? {
                return Err(StateError::RunNotFound(run_id.to_owned()));
            }
            if let Some(snapshot) = snapshot {
                upsert_snapshot(tx, run_id, snapshot)?;
            }
            worlds::hand_back(tx, run_id, now_ms)
        })
    }

    /// The run's latest snapshot, if any.
    pub fn load_snapshot(&self, run_id: &str) -> Result<Option<Snapshot>, StateError> {
        self.conn
            .prepare_cached("SELECT at_ms, data FROM snapshots WHERE run_id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([run_id], |row| {
                    Ok(Snapshot {
                        at_ms: row.get(0)?,
                        data: row.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(StateError::sqlite("load the simulator snapshot"))
    }
}

/// Replaces the run's snapshot inside the caller's transaction.
pub(crate) fn upsert_snapshot(
    tx: &Transaction<'_>,
    run_id: &str,
    snapshot: &Snapshot,
) -> Result<(), StateError> {
    tx.prepare_cached(
        "INSERT INTO snapshots (run_id, at_ms, data) VALUES (?1, ?2, ?3) \
         ON CONFLICT (run_id) DO UPDATE SET at_ms = excluded.at_ms, data = excluded.data",
    )
    .and_then(|mut stmt| stmt.execute(params![run_id, snapshot.at_ms, snapshot.data]))
    .map_err(StateError::sqlite("save the simulator snapshot"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::new_run;

    #[test]
    fn the_latest_snapshot_replaces_the_previous_one() {
        let mut store = Store::open_in_memory().expect("open");
        store.create_run(&new_run("r1", 1_000)).expect("create");
        store.create_run(&new_run("r2", 1_000)).expect("create");
        assert_eq!(store.load_snapshot("r1").expect("load"), None);

        let first = Snapshot {
            at_ms: 10,
            data: vec![0, 1, 2, 255],
        };
        let second = Snapshot {
            at_ms: 90_000,
            data: vec![42; 100_000],
        };
        store.save_snapshot("r1", &first).expect("save");
        store.save_snapshot("r2", &first).expect("save");
        store.save_snapshot("r1", &second).expect("save");

        assert_eq!(store.load_snapshot("r1").expect("load"), Some(second));
        assert_eq!(store.load_snapshot("r2").expect("load"), Some(first));
        let rows: i64 = store
            .conn
            .query_row("SELECT COUNT(*) FROM snapshots", [], |row| row.get(0))
            .expect("count");
        assert_eq!(rows, 2, "one snapshot per run");
    }

    #[test]
    fn snapshots_need_an_existing_run() {
        let mut store = Store::open_in_memory().expect("open");
        let snapshot = Snapshot {
            at_ms: 1,
            data: vec![],
        };
        assert!(matches!(
            store.save_snapshot("nope", &snapshot),
            Err(StateError::RunNotFound(_))
        ));
    }
}
