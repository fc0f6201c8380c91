//! Run locks: at most one live process runs a given (runbook, params) per database.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StateError;
use crate::records::{LockHolder, LockOutcome};
use crate::store::Store;

impl Store {
    /// Tries to take the lock `lock_key` for `run_id` in process `pid`.
    ///
    /// The lock is [`LockOutcome::Held`] when another process (`pid` differs) holds it
    /// and `is_alive` says that process still runs. Otherwise it is taken:
    /// [`LockOutcome::Acquired`] with the previous holder in `taken_over_from` when there
    /// was one (a dead pid: a stale lock; or our own pid under another run id: an
    /// earlier process whose pid was reused, as happens in containers). Re-acquiring a
    /// lock we already hold (same run and pid) changes nothing and reports no takeover.
    ///
    /// The check and the takeover are one `BEGIN IMMEDIATE` transaction, so of two
    /// processes racing for a free or stale lock exactly one wins; the other then sees
    /// it held. `is_alive` is called inside that transaction and should be quick
    /// (e.g. `kill(pid, 0)`).
    pub fn acquire_lock(
        &mut self,
        lock_key: &str,
        run_id: &str,
        pid: u32,
        now_ms: i64,
        is_alive: &dyn Fn(u32) -> bool,
    ) -> Result<LockOutcome, StateError> {
        const OP: &str = "acquire the run lock";
        self.write(OP, false, |tx| {
            let holder = lock_holder(tx, lock_key).map_err(StateError::sqlite(OP))?;
            if let Some(holder) = &holder {
                if holder.pid != pid && is_alive(holder.pid) {
                    return Ok(LockOutcome::Held(holder.clone()));
                }
                if holder.pid == pid && holder.run_id == run_id {
                    return Ok(LockOutcome::Acquired {
                        taken_over_from: None,
                    });
                }
            }
            tx.prepare_cached(
                "INSERT INTO run_locks (lock_key, run_id, pid, since_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (lock_key) DO UPDATE SET \
                 run_id = excluded.run_id, pid = excluded.pid, since_ms = excluded.since_ms",
            )
            .and_then(|mut stmt| stmt.execute(params![lock_key, run_id, pid, now_ms]))
            .map_err(StateError::sqlite(OP))?;
            Ok(LockOutcome::Acquired {
                taken_over_from: holder,
            })
        })
    }

    /// Releases the lock if `run_id` holds it; does nothing otherwise (the lock may have
    /// been taken over after we were presumed dead, and is no longer ours to release).
    pub fn release_lock(&mut self, lock_key: &str, run_id: &str) -> Result<(), StateError> {
        const OP: &str = "release the run lock";
        self.write(OP, false, |tx| {
            tx.prepare_cached("DELETE FROM run_locks WHERE lock_key = ?1 AND run_id = ?2")
                .and_then(|mut stmt| stmt.execute([lock_key, run_id]))
                .map_err(StateError::sqlite(OP))?;
            Ok(())
        })
    }

    /// The current holder of `lock_key`, alive or not (for `status` and diagnostics).
    pub fn lock_holder(&self, lock_key: &str) -> Result<Option<LockHolder>, StateError> {
        lock_holder(&self.conn, lock_key).map_err(StateError::sqlite("read the run lock"))
    }
}

/// Reads the holder; a `Transaction` derefs to its `Connection`.
fn lock_holder(conn: &Connection, lock_key: &str) -> rusqlite::Result<Option<LockHolder>> {
    conn.prepare_cached("SELECT run_id, pid, since_ms FROM run_locks WHERE lock_key = ?1")?
        .query_row([lock_key], |row| {
            Ok(LockHolder {
                run_id: row.get(0)?,
                pid: row.get(1)?,
                since_ms: row.get(2)?,
            })
        })
        .optional()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::test_support::temp_db;

    const ALIVE: &dyn Fn(u32) -> bool = &|_| true;
    const DEAD: &dyn Fn(u32) -> bool = &|_| false;

    fn holder(run_id: &str, pid: u32, since_ms: i64) -> LockHolder {
        LockHolder {
            run_id: run_id.into(),
            pid,
            since_ms,
        }
    }

    #[test]
    fn a_free_lock_is_acquired_and_a_live_holder_keeps_it() {
        let mut store = Store::open_in_memory().expect("open");
        assert_eq!(
            store
                .acquire_lock("k", "r1", 100, 1_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Acquired {
                taken_over_from: None
            }
        );
        assert_eq!(
            store
                .acquire_lock("k", "r2", 200, 2_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Held(holder("r1", 100, 1_000))
        );
        // The same run asking again from another live process (a second `resume`).
        assert_eq!(
            store
                .acquire_lock("k", "r1", 300, 2_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Held(holder("r1", 100, 1_000))
        );
        // Other keys are independent.
        assert_eq!(
            store
                .acquire_lock("k2", "r2", 200, 2_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Acquired {
                taken_over_from: None
            }
        );
        assert_eq!(
            store.lock_holder("k").expect("holder"),
            Some(holder("r1", 100, 1_000))
        );
    }

    #[test]
    fn is_alive_is_asked_about_the_holder() {
        let mut store = Store::open_in_memory().expect("open");
        store
            .acquire_lock("k", "r1", 100, 1_000, ALIVE)
            .expect("acquire");
        let asked = std::cell::RefCell::new(Vec::new());
        let probe = |pid| {
            asked.borrow_mut().push(pid);
            true
        };
        store
            .acquire_lock("k", "r2", 200, 2_000, &probe)
            .expect("acquire");
        assert_eq!(asked.into_inner(), [100]);
    }

    #[test]
    fn a_dead_holder_is_taken_over() {
        let mut store = Store::open_in_memory().expect("open");
        store
            .acquire_lock("k", "r1", 100, 1_000, ALIVE)
            .expect("acquire");
        assert_eq!(
            store
                .acquire_lock("k", "r2", 200, 2_000, DEAD)
                .expect("acquire"),
            LockOutcome::Acquired {
                taken_over_from: Some(holder("r1", 100, 1_000))
            }
        );
        assert_eq!(
            store.lock_holder("k").expect("holder"),
            Some(holder("r2", 200, 2_000))
        );
    }

    #[test]
    fn a_resumed_run_takes_over_its_own_stale_lock() {
        let mut store = Store::open_in_memory().expect("open");
        store
            .acquire_lock("k", "r1", 100, 1_000, ALIVE)
            .expect("acquire");
        assert_eq!(
            store
                .acquire_lock("k", "r1", 200, 5_000, DEAD)
                .expect("acquire"),
            LockOutcome::Acquired {
                taken_over_from: Some(holder("r1", 100, 1_000))
            }
        );
        // Re-acquiring what we hold is a no-op.
        assert_eq!(
            store
                .acquire_lock("k", "r1", 200, 6_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Acquired {
                taken_over_from: None
            }
        );
        assert_eq!(
            store.lock_holder("k").expect("holder"),
            Some(holder("r1", 200, 5_000))
        );
    }

    #[test]
    fn a_reused_pid_does_not_block_the_new_process() {
        // The old process died and a new one got its pid (containers): `is_alive` says
        // yes, but it is us, so the old run's lock is stale.
        let mut store = Store::open_in_memory().expect("open");
        store
            .acquire_lock("k", "old", 1, 1_000, ALIVE)
            .expect("acquire");
        assert_eq!(
            store
                .acquire_lock("k", "new", 1, 2_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Acquired {
                taken_over_from: Some(holder("old", 1, 1_000))
            }
        );
    }

    #[test]
    fn only_the_holder_releases() {
        let mut store = Store::open_in_memory().expect("open");
        store
            .acquire_lock("k", "r1", 100, 1_000, ALIVE)
            .expect("acquire");
        store
            .release_lock("k", "r2")
            .expect("release by another run");
        assert_eq!(
            store.lock_holder("k").expect("holder"),
            Some(holder("r1", 100, 1_000))
        );
        store.release_lock("k", "r1").expect("release");
        assert_eq!(store.lock_holder("k").expect("holder"), None);
        store
            .release_lock("k", "r1")
            .expect("releasing twice is fine");
        assert_eq!(
            store
                .acquire_lock("k", "r2", 200, 3_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Acquired {
                taken_over_from: None
            }
        );
    }

    #[test]
    fn two_stores_on_one_file_see_each_others_lock() {
        let (_dir, path) = temp_db();
        let mut first = Store::open(&path).expect("open");
        let mut second = Store::open(&path).expect("open");
        assert!(matches!(
            first
                .acquire_lock("k", "r1", 100, 1_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Acquired { .. }
        ));
        assert_eq!(
            second
                .acquire_lock("k", "r2", 200, 2_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Held(holder("r1", 100, 1_000))
        );
        first.release_lock("k", "r1").expect("release");
        assert!(matches!(
            second
                .acquire_lock("k", "r2", 200, 3_000, ALIVE)
                .expect("acquire"),
            LockOutcome::Acquired {
                taken_over_from: None
            }
        ));
    }

    #[test]
    fn racing_stores_elect_exactly_one_holder() {
        const CONTENDERS: u32 = 8;
        let (_dir, path) = temp_db();
        Store::open(&path).expect("create");
        let barrier = Arc::new(Barrier::new(CONTENDERS as usize));
        let threads: Vec<_> = (0..CONTENDERS)
            .map(|i| {
                let path = path.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let mut store = Store::open(&path).expect("open");
                    barrier.wait();
                    let pid = 1_000 + i;
                    let outcome = store
                        .acquire_lock("k", &format!("r{i}"), pid, 1_000, ALIVE)
                        .expect("acquire");
                    (pid, outcome)
                })
            })
            .collect();
        let outcomes: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let winners: Vec<u32> = outcomes
            .iter()
            .filter(|(_, o)| matches!(o, LockOutcome::Acquired { .. }))
            .map(|(pid, _)| *pid)
            .collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        for (_, outcome) in &outcomes {
            if let LockOutcome::Held(h) = outcome {
                assert_eq!(h.pid, winners[0]);
            }
        }
    }
}
