//! Named simulated worlds (`run --world NAME`): one simulated account shared by the
//! runs that name it, so that a set-up, a scenario and a tear-down run one after
//! another on the same clusters, as they would on `aws`.
//!
//! A world has one writer at a time. Creating a run on it claims it (the run becomes
//! its last user); the run works on a snapshot of its own, as every `sim` run does, and
//! when it stops executing it hands its latest snapshot back to the world
//! ([`Store::save_last_snapshot`]). Until that run succeeds or is abandoned it may
//! still continue (resume) from its own snapshot, so it keeps holding the world and a
//! second run on it is refused with [`StateError::WorldInUse`]: two writers would fork
//! the world, and the one that ended last would silently undo the other.

use rusqlite::{OptionalExtension, Row, Transaction, params};

use crate::error::StateError;
use crate::records::{RunStatus, Snapshot, WorldRecord};
use crate::store::Store;

const WORLD_COLUMNS: &str = "name, at_ms, data, run_id, updated_at_ms";

/// Runs in these statuses hold the world they last used: they can still continue.
const HOLDING: &str = "r.status NOT IN ('succeeded', 'abandoned')";

impl Store {
    /// The world of this name, if a run ever claimed it.
    pub fn world(&self, name: &str) -> Result<Option<WorldRecord>, StateError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {WORLD_COLUMNS} FROM worlds WHERE name = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row([name], world_from_row).optional())
            .map_err(StateError::sqlite("load the world"))
    }

    /// Every world, by name.
    pub fn worlds(&self) -> Result<Vec<WorldRecord>, StateError> {
        self.conn
            .prepare_cached(&format!("SELECT {WORLD_COLUMNS} FROM worlds ORDER BY name"))
            .and_then(|mut stmt| {
                stmt.query_map([], world_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(StateError::sqlite("list the worlds"))
    }

    /// Forgets a world and its state (the runs that used it keep its name). Refused
    /// with [`StateError::WorldInUse`] while a run holds it. Returns whether it existed.
    pub fn delete_world(&mut self, name: &str) -> Result<bool, StateError> {
        const OP: &str = "delete the world";
        self.write(OP, false, |tx| {
            refuse_if_held(tx, name, None)?;
            let deleted = tx
                .prepare_cached("DELETE FROM worlds WHERE name = ?1")
                .and_then(|mut stmt| stmt.execute([name]))
                .map_err(StateError::sqlite(OP))?;
            Ok(deleted > 0)
        })
    }
}

/// Makes `run_id` (already inserted in `tx`) the user of `world`, creating the world
/// if it is new; refused with [`StateError::WorldInUse`] while another run holds it.
pub(crate) fn claim(
    tx: &Transaction<'_>,
    world: &str,
    run_id: &str,
    now_ms: i64,
) -> Result<(), StateError> {
    const OP: &str = "claim the world";
    refuse_if_held(tx, world, Some(run_id))?;
    tx.prepare_cached(
        "INSERT INTO worlds (name, run_id, updated_at_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (name) DO UPDATE SET run_id = excluded.run_id, \
             updated_at_ms = excluded.updated_at_ms",
    )
    .and_then(|mut stmt| stmt.execute(params![world, run_id, now_ms]))
    .map_err(StateError::sqlite(OP))?;
    Ok(())
}

/// Copies the latest snapshot of `run_id` to the world it holds, if it holds one and
/// has a snapshot (a run that changed nothing leaves the world as it found it).
pub(crate) fn hand_back(tx: &Transaction<'_>, run_id: &str, now_ms: i64) -> Result<(), StateError> {
    tx.prepare_cached(
        "UPDATE worlds SET at_ms = s.at_ms, data = s.data, updated_at_ms = ?2 \
         FROM snapshots AS s WHERE s.run_id = ?1 AND worlds.run_id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![run_id, now_ms]))
    .map_err(StateError::sqlite("hand the world back"))?;
    Ok(())
}

/// Fails with [`StateError::WorldInUse`] when a run other than `except` holds `world`.
fn refuse_if_held(
    tx: &Transaction<'_>,
    world: &str,
    except: Option<&str>,
) -> Result<(), StateError> {
    const OP: &str = "look up the run holding the world";
    let holder: Option<(String, String, String)> = tx
        .prepare_cached(&format!(
            "SELECT r.id, r.runbook_name, r.status FROM worlds AS w \
             JOIN runs AS r ON r.id = w.run_id \
             WHERE w.name = ?1 AND {HOLDING} AND r.id IS NOT ?2"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(params![world, except], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .map_err(StateError::sqlite(OP))?;
    let Some((run_id, runbook, status)) = holder else {
        return Ok(());
    };
    let status: RunStatus = status.parse().map_err(|source| StateError::InvalidValue {
        op: OP,
        column: "status",
        source,
    })?;
    Err(StateError::WorldInUse {
        world: world.to_owned(),
        run_id,
        runbook,
        status,
    })
}

fn world_from_row(row: &Row<'_>) -> rusqlite::Result<WorldRecord> {
    let at_ms: Option<i64> = row.get(1)?;
    let data: Option<Vec<u8>> = row.get(2)?;
    Ok(WorldRecord {
        name: row.get(0)?,
        snapshot: at_ms
            .zip(data)
            .map(|(at_ms, data)| Snapshot { at_ms, data }),
        last_run: row.get(3)?,
        updated_at_ms: row.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::new_run;

    fn run_on(store: &mut Store, id: &str, world: &str, at: i64) -> Result<(), StateError> {
        let mut run = new_run(id, at);
        run.world = Some(world.to_owned());
        store.create_run(&run)
    }

    fn snapshot(at_ms: i64, byte: u8) -> Snapshot {
        Snapshot {
            at_ms,
            data: vec![byte; 3],
        }
    }

    /// A run on `world` that left `left` at its end and ended `status` at `at + 1000`.
    fn ended_run_on(
        store: &mut Store,
        id: &str,
        world: &str,
        at: i64,
        left: Snapshot,
        status: RunStatus,
    ) {
        run_on(store, id, world, at).expect("create");
        store
            .save_last_snapshot(id, Some(&left), at + 1_000)
            .expect("end");
        store
            .set_run_status(id, status, Some(at + 1_000), None)
            .expect("status");
    }

    /// The state of `world`.
    fn state_of(store: &Store, world: &str) -> Option<Snapshot> {
        store.world(world).expect("load").expect("world").snapshot
    }

    #[test]
    fn a_new_world_is_claimed_by_its_first_run_and_starts_empty() {
        let mut store = Store::open_in_memory().expect("open");
        assert_eq!(store.world("w").expect("load"), None);
        run_on(&mut store, "r1", "w", 1_000).expect("create");
        assert_eq!(
            store.world("w").expect("load"),
            Some(WorldRecord {
                name: "w".into(),
                snapshot: None,
                last_run: Some("r1".into()),
                updated_at_ms: 1_000,
            })
        );
        let run = store.run("r1").expect("load").expect("exists");
        assert_eq!(run.world.as_deref(), Some("w"));
        store.create_run(&new_run("own", 1_500)).expect("create");
        assert_eq!(store.run("own").expect("load").expect("exists").world, None);
        assert_eq!(
            store.worlds().expect("list").len(),
            1,
            "a run without a world claims none"
        );
    }

    #[test]
    fn a_run_hands_its_latest_snapshot_back_to_its_world() {
        let mut store = Store::open_in_memory().expect("open");
        run_on(&mut store, "r1", "w", 1_000).expect("create");
        // A step's checkpoint stores the run's snapshot; the world waits for the end.
        store.save_snapshot("r1", &snapshot(50, 1)).expect("save");
        assert_eq!(state_of(&store, "w"), None);
        // The end stores nothing new (the world did not change since): the latest
        // checkpointed snapshot is handed back.
        store.save_last_snapshot("r1", None, 2_000).expect("end");
        let world = store.world("w").expect("load").expect("world");
        assert_eq!(world.snapshot, Some(snapshot(50, 1)));
        assert_eq!(world.updated_at_ms, 2_000);

        // A resumed run's end hands back its newer state, together with it.
        store
            .save_last_snapshot("r1", Some(&snapshot(90, 2)), 3_000)
            .expect("end");
        assert_eq!(
            store.load_snapshot("r1").expect("load"),
            Some(snapshot(90, 2))
        );
        let world = store.world("w").expect("load").expect("world");
        assert_eq!(world.snapshot, Some(snapshot(90, 2)));
        assert_eq!(world.last_run.as_deref(), Some("r1"));

        // Its success drops the run's own snapshot, never the world's.
        store
            .set_run_status("r1", RunStatus::Succeeded, Some(3_100), None)
            .expect("succeed");
        assert_eq!(store.load_snapshot("r1").expect("load"), None);
        assert_eq!(state_of(&store, "w"), Some(snapshot(90, 2)));
    }

    #[test]
    fn a_run_that_changed_nothing_leaves_the_world_as_it_was() {
        let mut store = Store::open_in_memory().expect("open");
        ended_run_on(
            &mut store,
            "r1",
            "w",
            1_000,
            snapshot(50, 1),
            RunStatus::Succeeded,
        );
        run_on(&mut store, "r2", "w", 3_000).expect("create");
        store.save_last_snapshot("r2", None, 4_000).expect("end");
        let world = store.world("w").expect("load").expect("world");
        assert_eq!(world.snapshot, Some(snapshot(50, 1)));
        assert_eq!(world.last_run.as_deref(), Some("r2"));
        assert_eq!(world.updated_at_ms, 3_000, "claimed, never handed back");
    }

    #[test]
    fn an_incomplete_run_holds_its_world_until_it_succeeds_or_is_abandoned() {
        let mut store = Store::open_in_memory().expect("open");
        run_on(&mut store, "r1", "w", 1_000).expect("create");
        // Running, interrupted and failed runs can all still continue the world.
        for status in [
            RunStatus::Running,
            RunStatus::Interrupted,
            RunStatus::Failed,
        ] {
            store
                .set_run_status("r1", status, None, None)
                .expect("status");
            let err = run_on(&mut store, "r2", "w", 2_000).expect_err("held");
            assert!(
                matches!(&err, StateError::WorldInUse { world, run_id, runbook, status: s }
                    if world == "w" && run_id == "r1" && runbook == "priority-demo" && *s == status),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!("failed to use world `w`: run r1 (priority-demo, {status}) still holds it")
            );
            assert_eq!(store.run("r2").expect("load"), None, "nothing was created");
            assert!(matches!(
                store.delete_world("w"),
                Err(StateError::WorldInUse { .. })
            ));
        }
        // Other worlds, and runs without one, are not affected.
        run_on(&mut store, "elsewhere", "v", 2_000).expect("another world");
        store
            .create_run(&new_run("own", 2_000))
            .expect("a world of its own");

        store
            .set_run_status("r1", RunStatus::Abandoned, Some(3_000), Some("by hand"))
            .expect("abandon");
        run_on(&mut store, "r2", "w", 4_000).expect("released by the abandon");
        store
            .set_run_status("r2", RunStatus::Succeeded, Some(5_000), None)
            .expect("succeed");
        run_on(&mut store, "r3", "w", 6_000).expect("released by the success");
        assert_eq!(
            store
                .world("w")
                .expect("load")
                .expect("world")
                .last_run
                .as_deref(),
            Some("r3")
        );
    }

    #[test]
    fn an_abandoned_holder_that_never_handed_back_leaves_the_world_unchanged_until_it_does() {
        let mut store = Store::open_in_memory().expect("open");
        ended_run_on(
            &mut store,
            "r1",
            "w",
            1_000,
            snapshot(50, 1),
            RunStatus::Succeeded,
        );
        // r2 is killed after a checkpoint: the world still has r1's state.
        run_on(&mut store, "r2", "w", 3_000).expect("create");
        store
            .save_snapshot("r2", &snapshot(70, 2))
            .expect("checkpoint");
        assert_eq!(state_of(&store, "w"), Some(snapshot(50, 1)));
        // `abandon` hands back what r2 checkpointed: what it made exists.
        store
            .save_last_snapshot("r2", None, 4_000)
            .expect("hand back");
        store
            .set_run_status("r2", RunStatus::Abandoned, Some(4_000), None)
            .expect("abandon");
        assert_eq!(state_of(&store, "w"), Some(snapshot(70, 2)));
    }

    #[test]
    fn only_the_run_holding_a_world_hands_back_to_it() {
        let mut store = Store::open_in_memory().expect("open");
        ended_run_on(
            &mut store,
            "r1",
            "w",
            1_000,
            snapshot(50, 1),
            RunStatus::Abandoned,
        );
        run_on(&mut store, "r2", "w", 3_000).expect("create");
        // r1 is no longer the world's user: its late snapshot goes to itself only.
        store
            .save_last_snapshot("r1", Some(&snapshot(99, 9)), 4_000)
            .expect("save");
        assert_eq!(state_of(&store, "w"), Some(snapshot(50, 1)));
    }

    #[test]
    fn worlds_are_listed_by_name_and_deleted_when_free() {
        let mut store = Store::open_in_memory().expect("open");
        run_on(&mut store, "r1", "zeta", 1_000).expect("create");
        run_on(&mut store, "r2", "alpha", 1_000).expect("create");
        let names: Vec<String> = store
            .worlds()
            .expect("list")
            .into_iter()
            .map(|w| w.name)
            .collect();
        assert_eq!(names, ["alpha", "zeta"]);
        store
            .set_run_status("r2", RunStatus::Succeeded, Some(2_000), None)
            .expect("succeed");
        assert!(store.delete_world("alpha").expect("delete"));
        assert!(!store.delete_world("alpha").expect("delete again"));
        assert_eq!(store.world("alpha").expect("load"), None);
        assert_eq!(
            store
                .run("r2")
                .expect("load")
                .expect("exists")
                .world
                .as_deref(),
            Some("alpha"),
            "the run still says which world it used"
        );
        // A new run on the name starts a new, empty world.
        run_on(&mut store, "r3", "alpha", 3_000).expect("create");
        assert_eq!(
            store.world("alpha").expect("load").expect("world").snapshot,
            None
        );
    }

    #[test]
    fn pruning_the_last_run_of_a_world_keeps_the_world() {
        let mut store = Store::open_in_memory().expect("open");
        ended_run_on(
            &mut store,
            "r1",
            "w",
            1_000,
            snapshot(50, 1),
            RunStatus::Succeeded,
        );
        let pruned = store.prune_runs(10_000).expect("prune");
        assert_eq!(pruned.runs, 1);
        let world = store.world("w").expect("load").expect("world");
        assert_eq!(world.last_run, None);
        assert_eq!(world.snapshot, Some(snapshot(50, 1)));
        run_on(&mut store, "r2", "w", 11_000).expect("a world without a holder is free");
    }
}
