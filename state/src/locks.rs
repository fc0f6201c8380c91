//! Run locks: at most one live process runs a given (runbook, params) per database.
//!
//! The lock is an exclusive `flock` on a file beside the database
//! (`state.db.locks/<lock key>`), held by the process for as long as it runs the
//! run and released by the kernel when the process ends, however it ends. So a dead
//! holder can never keep a lock (a reused pid, a `kill -9`), and liveness is never
//! guessed from a pid. The holder (run, pid, host, since) is written into the lock file
//! and into the `run_locks` table, so a refused run can name it, and a run that takes
//! a lock over knows whose it was.
//!
//! On a network file system `flock` reaches other hosts where the file system supports
//! it (NFSv4 and most others do); the host is recorded so that a holder on another
//! host is named as such rather than as a bare pid.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StateError;
use crate::records::LockHolder;
use crate::store::Store;

/// Who asks for a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest<'a> {
    /// The (runbook, params, target) key.
    pub lock_key: &'a str,
    /// The run that will hold it.
    pub run_id: &'a str,
    /// This process.
    pub pid: u32,
    /// This host.
    pub host: &'a str,
    /// Now, ms since the Unix epoch.
    pub now_ms: i64,
}

/// The result of [`Store::acquire_lock`].
#[derive(Debug)]
pub enum LockOutcome {
    /// The caller now holds the lock.
    Acquired {
        /// The lock, held while this value lives.
        lock: RunLock,
        /// The previous holder, when one was recorded and its process is gone.
        taken_over_from: Option<LockHolder>,
    },
    /// Another live process holds it.
    Held(LockHolder),
}

/// A held run lock. The lock lasts as long as this value (and at most as long as the
/// process): drop it, or pass it to [`Store::release_lock`], to release it.
#[derive(Debug)]
pub struct RunLock {
    lock_key: String,
    run_id: String,
    /// `None` for an in-memory database, which no other process can see.
    _file: Option<Flock<File>>,
}

impl RunLock {
    /// The run that holds it.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl Store {
    /// Tries to take the lock of `request.lock_key` for `request.run_id`.
    ///
    /// [`LockOutcome::Held`] when another open file (another process, or another
    /// store in this one) holds it, with the holder it recorded. Otherwise
    /// [`LockOutcome::Acquired`], with the previous holder in `taken_over_from` when
    /// one was recorded and is gone (its process ended without releasing the lock).
    pub fn acquire_lock(&mut self, request: &LockRequest<'_>) -> Result<LockOutcome, StateError> {
        const OP: &str = "acquire the run lock";
        let file = match self.path() {
            Some(db) => match lock_file(db, request.lock_key)? {
                Acquire::Locked(file) => Some(file),
                Acquire::Busy(recorded) => {
                    let holder = match recorded {
                        Some(holder) => holder,
                        None => self.recorded_holder(request.lock_key)?,
                    };
                    return Ok(LockOutcome::Held(holder));
                }
            },
            None => None,
        };
        let me = LockHolder {
            run_id: request.run_id.to_owned(),
            pid: request.pid,
            host: request.host.to_owned(),
            since_ms: request.now_ms,
        };
        let previous = self.write(OP, false, |tx| {
            let previous = lock_holder(tx, request.lock_key).map_err(StateError::sqlite(OP))?;
            // In memory there is no lock file: a row of another run is a live holder.
            if file.is_none()
                && let Some(holder) = previous.as_ref().filter(|h| h.run_id != me.run_id)
            {
                return Ok(Err(holder.clone()));
            }
            tx.prepare_cached(
                "INSERT INTO run_locks (lock_key, run_id, pid, host, since_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (lock_key) DO UPDATE SET run_id = excluded.run_id, \
                 pid = excluded.pid, host = excluded.host, since_ms = excluded.since_ms",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    request.lock_key,
                    me.run_id,
                    me.pid,
                    me.host,
                    me.since_ms
                ])
            })
            .map_err(StateError::sqlite(OP))?;
            Ok(Ok(previous))
        })?;
        let previous = match previous {
            Ok(previous) => previous,
            Err(holder) => return Ok(LockOutcome::Held(holder)),
        };
        let file = match file {
            Some(file) => Some(record_holder(file, &me, request.lock_key)?),
            None => None,
        };
        Ok(LockOutcome::Acquired {
            lock: RunLock {
                lock_key: request.lock_key.to_owned(),
                run_id: request.run_id.to_owned(),
                _file: file,
            },
            taken_over_from: previous.filter(|h| h.run_id != me.run_id || h.pid != me.pid),
        })
    }

    /// Releases a held lock: its row goes, then the `flock` with the file handle.
    pub fn release_lock(&mut self, lock: RunLock) -> Result<(), StateError> {
        const OP: &str = "release the run lock";
        self.write(OP, false, |tx| {
            tx.prepare_cached("DELETE FROM run_locks WHERE lock_key = ?1 AND run_id = ?2")
                .and_then(|mut stmt| stmt.execute([&lock.lock_key, &lock.run_id]))
                .map_err(StateError::sqlite(OP))?;
            Ok(())
        })
    }

    /// The recorded holder of `lock_key`, live or not (for `status` and diagnostics).
    pub fn lock_holder(&self, lock_key: &str) -> Result<Option<LockHolder>, StateError> {
        lock_holder(&self.conn, lock_key).map_err(StateError::sqlite("read the run lock"))
    }

    /// The holder to name when the lock file is busy but says nothing yet (its holder
    /// is between taking the lock and writing its name).
    fn recorded_holder(&self, lock_key: &str) -> Result<LockHolder, StateError> {
        Ok(self.lock_holder(lock_key)?.unwrap_or(LockHolder {
            run_id: "(a run that is starting)".to_owned(),
            pid: 0,
            host: String::new(),
            since_ms: 0,
        }))
    }
}

/// The outcome of trying the lock file.
enum Acquire {
    Locked(Flock<File>),
    /// Another open file holds it; the holder it recorded, if readable yet.
    Busy(Option<LockHolder>),
}

/// The lock file of `lock_key` beside the database at `db`.
fn lock_path(db: &Path, lock_key: &str) -> PathBuf {
    let mut dir = db.as_os_str().to_owned();
    dir.push(".locks");
    PathBuf::from(dir).join(lock_key)
}

fn lock_file(db: &Path, lock_key: &str) -> Result<Acquire, StateError> {
    let path = lock_path(db, lock_key);
    let io_err = |op: &'static str| {
        let path = path.display().to_string();
        move |source| StateError::LockFile { path, op, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err("create the lock directory"))?;
    }
    // Not truncated on open: a busy lock's file names its holder. Opened close-on-exec
    // (std's default), so programs run by `exec` do not inherit the lock.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err("open the lock file"))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => Ok(Acquire::Locked(locked)),
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| serde_json::from_str::<LockHolder>(&text).ok());
            Ok(Acquire::Busy(holder))
        }
        Err((_, errno)) => Err(io_err("lock the lock file")(std::io::Error::from(errno))),
    }
}

/// Writes the new holder into the locked file, replacing the previous one.
fn record_holder(
    mut file: Flock<File>,
    holder: &LockHolder,
    lock_key: &str,
) -> Result<Flock<File>, StateError> {
    let text = serde_json::to_string(holder).map_err(|source| StateError::Json {
        op: "record the lock holder",
        column: "run_locks",
        source,
    })?;
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(text.as_bytes()));
    written.map_err(|source| StateError::LockFile {
        path: lock_key.to_owned(),
        op: "record the holder in the lock file",
        source,
    })?;
    Ok(file)
}

/// Reads the holder row; a `Transaction` derefs to its `Connection`.
fn lock_holder(conn: &Connection, lock_key: &str) -> rusqlite::Result<Option<LockHolder>> {
    conn.prepare_cached("SELECT run_id, pid, host, since_ms FROM run_locks WHERE lock_key = ?1")?
        .query_row([lock_key], |row| {
            Ok(LockHolder {
                run_id: row.get(0)?,
                pid: row.get(1)?,
                host: row.get(2)?,
                since_ms: row.get(3)?,
            })
        })
        .optional()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::test_support::temp_db;

    fn request<'a>(run_id: &'a str, pid: u32, now_ms: i64) -> LockRequest<'a> {
        LockRequest {
            lock_key: "k",
            run_id,
            pid,
            host: "alpha",
            now_ms,
        }
    }

    fn acquired(outcome: LockOutcome) -> (RunLock, Option<LockHolder>) {
        match outcome {
            LockOutcome::Acquired {
                lock,
                taken_over_from,
            } => (lock, taken_over_from),
            LockOutcome::Held(holder) => panic!("held by {holder:?}"),
        }
    }

    fn held(outcome: LockOutcome) -> LockHolder {
        match outcome {
            LockOutcome::Held(holder) => holder,
            LockOutcome::Acquired { .. } => panic!("acquired"),
        }
    }

    #[test]
    fn a_held_lock_names_its_holder_and_a_released_one_is_free() {
        let (_dir, path) = temp_db();
        let mut first = Store::open(&path).expect("open");
        let mut second = Store::open(&path).expect("open");
        let (lock, previous) = acquired(first.acquire_lock(&request("r1", 100, 1_000)).expect("a"));
        assert_eq!(previous, None);
        let holder = held(second.acquire_lock(&request("r2", 200, 2_000)).expect("b"));
        assert_eq!(
            holder,
            LockHolder {
                run_id: "r1".into(),
                pid: 100,
                host: "alpha".into(),
                since_ms: 1_000
            }
        );
        // Other keys are independent.
        let other = LockRequest {
            lock_key: "k2",
            ..request("r2", 200, 2_000)
        };
        acquired(second.acquire_lock(&other).expect("other key"));
        first.release_lock(lock).expect("release");
        assert_eq!(first.lock_holder("k").expect("row"), None);
        let (_lock, previous) =
            acquired(second.acquire_lock(&request("r2", 200, 3_000)).expect("c"));
        assert_eq!(previous, None, "a released lock leaves no holder behind");
    }

    #[test]
    fn a_lock_whose_holder_is_gone_is_taken_over_whatever_its_pid() {
        let (_dir, path) = temp_db();
        let mut first = Store::open(&path).expect("open");
        let (lock, _) = acquired(first.acquire_lock(&request("r1", 100, 1_000)).expect("a"));
        // The process ends without releasing: the kernel drops the flock, the row stays.
        drop(lock);
        let mut second = Store::open(&path).expect("open");
        // The same pid as the dead holder (pid reuse) does not matter.
        let (_lock, previous) =
            acquired(second.acquire_lock(&request("r2", 100, 2_000)).expect("b"));
        assert_eq!(previous.map(|h| h.run_id), Some("r1".to_owned()));
        assert_eq!(
            second.lock_holder("k").expect("row").map(|h| h.run_id),
            Some("r2".to_owned())
        );
    }

    #[test]
    fn a_holder_on_another_host_is_named_with_its_host() {
        let (_dir, path) = temp_db();
        let mut first = Store::open(&path).expect("open");
        let beta = LockRequest {
            host: "beta",
            ..request("r1", 100, 1_000)
        };
        let (_lock, _) = acquired(first.acquire_lock(&beta).expect("a"));
        let mut second = Store::open(&path).expect("open");
        let holder = held(second.acquire_lock(&request("r2", 100, 2_000)).expect("b"));
        assert_eq!((holder.host.as_str(), holder.pid), ("beta", 100));
    }

    #[test]
    fn in_memory_rows_of_other_runs_hold() {
        let mut store = Store::open_in_memory().expect("open");
        let (_lock, _) = acquired(store.acquire_lock(&request("r1", 100, 1_000)).expect("a"));
        assert_eq!(
            held(store.acquire_lock(&request("r2", 200, 2_000)).expect("b")).run_id,
            "r1"
        );
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
                    let run = format!("r{i}");
                    let outcome = store
                        .acquire_lock(&request(&run, 1_000 + i, 1_000))
                        .expect("acquire");
                    let won = matches!(outcome, LockOutcome::Acquired { .. });
                    // Hold until every contender has tried.
                    barrier.wait();
                    won
                })
            })
            .collect();
        let winners = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .filter(|won| *won)
            .count();
        assert_eq!(winners, 1);
    }
}
