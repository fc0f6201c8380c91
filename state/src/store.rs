//! [`Store`]: opening the database, its settings, and the transaction helper that every
//! write goes through. The operations live in `runs.rs`, `steps.rs`, `events.rs`,
//! `snapshots.rs`, `worlds.rs`, `locks.rs` and `retention.rs`, each an `impl Store` block.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::StateError;
use crate::migrations;

/// How long a statement waits for another process's write lock before failing: two
/// cron invocations may touch the same database at once.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The state database: runs, step attempts, events, run locks, simulator snapshots and
/// named worlds.
///
/// Every method is one SQLite transaction. Write transactions start with
/// `BEGIN IMMEDIATE`, so a concurrent writer waits (up to 5 s) for the write lock
/// instead of failing halfway through with `SQLITE_BUSY`.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    path: Option<PathBuf>,
    /// The `synchronous` level the connection is currently set to.
    synchronous: Synchronous,
}

/// `PRAGMA synchronous` levels we use (in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Synchronous {
    /// Commits are not fsynced; a power loss may lose the latest ones, never corrupt.
    Normal,
    /// Every commit fsyncs the WAL before returning.
    Full,
}

impl Synchronous {
    fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

impl Store {
    /// Opens (creating it and its parent directories if needed) and migrates the
    /// database at `path`. A database from a newer `runbook` is refused untouched.
    pub fn open(path: &Path) -> Result<Store, StateError> {
        create_parent_dirs(path)?;
        let shown = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StateError::Open {
            path: shown.clone(),
            op: "open the file",
            source,
        })?;
        Store::init(conn, Some(path.to_path_buf()), &shown).map_err(|e| e.named_damaged(&shown))
    }

    /// SQLite's `quick_check` of the whole file: `Ok` when it finds nothing wrong, else
    /// [`StateError::Damaged`] with SQLite's first findings. Run before a run or resume
    /// writes anything, so nothing runs on a damaged database.
    pub fn quick_check(&self) -> Result<(), StateError> {
        quick_check(&self.conn, self.shown_path())
    }

    /// The database file as messages name it.
    fn shown_path(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string())
    }

    /// `error`, met while reading this database, named as [`StateError::Damaged`] when
    /// the file is damaged: a read that trips over a damaged page says only "failed to
    /// load run", so the whole file is checked to say what is wrong with it.
    pub fn diagnosed(&self, error: StateError) -> StateError {
        match self.quick_check() {
            Err(damaged @ StateError::Damaged { .. }) => damaged,
            _ => error.named_damaged(&self.shown_path()),
        }
    }

    /// [`Store::quick_check`] of the database file at `path` on a connection of its
    /// own, so it can run on another thread while a store reads (it takes tens of
    /// milliseconds on a large file, as long as `resume` takes to read its checkpoints).
    pub fn quick_check_file(path: &Path) -> Result<(), StateError> {
        let shown = path.display().to_string();
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| StateError::Open {
                path: shown.clone(),
                op: "open the file to check it",
                source,
            })
            .map_err(|e| e.named_damaged(&shown))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(StateError::sqlite("set the busy timeout"))?;
        quick_check(&conn, shown)
    }

    /// Opens a private, migrated in-memory database (for tests and `plan`).
    pub fn open_in_memory() -> Result<Store, StateError> {
        let shown = ":memory:";
        let conn = Connection::open_in_memory().map_err(|source| StateError::Open {
            path: shown.to_owned(),
            op: "open the file",
            source,
        })?;
        Store::init(conn, None, shown)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>, shown: &str) -> Result<Store, StateError> {
        let open_err = |op| {
            move |source| StateError::Open {
                path: shown.to_owned(),
                op,
                source,
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(open_err("set the busy timeout"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err("enable foreign keys"))?;
        // Before anything that could write to the file (switching to WAL writes the
        // header), so that a newer database stays exactly as it was.
        migrations::refuse_newer(&conn, shown)?;
        if path.is_some() {
            // Switching a new file to WAL does not wait for the busy handler: when two
            // processes open a new database at once, one of them gets SQLITE_BUSY (or
            // still sees the old mode) at once. Retry within the busy timeout.
            let started = std::time::Instant::now();
            loop {
                let result: rusqlite::Result<String> =
                    conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0));
                let retry = match &result {
                    Ok(mode) => !mode.eq_ignore_ascii_case("wal"),
                    Err(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ),
                    Err(_) => false,
                };
                if retry && started.elapsed() < BUSY_TIMEOUT {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
                let mode = result.map_err(open_err("switch to WAL mode"))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(StateError::NotWal {
                        path: shown.to_owned(),
                        mode,
                    });
                }
                break;
            }
        }
        let synchronous = Synchronous::Normal;
        conn.pragma_update(None, "synchronous", synchronous.as_str())
            .map_err(open_err("set synchronous mode"))?;
        migrations::migrate(&mut conn, shown)?;
        Ok(Store {
            conn,
            path,
            synchronous,
        })
    }

    /// The schema version of the open database (its `PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32, StateError> {
        migrations::user_version(&self.conn).map_err(StateError::sqlite("read the schema version"))
    }

    /// The database file, or `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it; any error rolls
    /// everything back.
    ///
    /// With `durable`, the commit is fsynced before this returns (`synchronous=FULL`;
    /// in WAL mode that also makes every earlier commit durable). Otherwise it is not
    /// (`synchronous=NORMAL`): a power loss may lose the latest commits, never corrupt
    /// the database. The level only changes between transactions (SQLite refuses inside
    /// one) and only when it differs, so runs of durable writes pay no extra pragma.
    pub(crate) fn write<T>(
        &mut self,
        op: &'static str,
        durable: bool,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        // In memory there is nothing to fsync.
        let wanted = if durable && self.path.is_some() {
            Synchronous::Full
        } else {
            Synchronous::Normal
        };
        if wanted != self.synchronous {
            self.conn
                .pragma_update(None, "synchronous", wanted.as_str())
                .map_err(StateError::sqlite("set synchronous mode"))?;
            self.synchronous = wanted;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StateError::sqlite(op))?;
        let value = f(&tx)?;
        tx.commit().map_err(StateError::sqlite(op))?;
        Ok(value)
    }

    /// The connection's current `PRAGMA synchronous` (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA),
    /// read from SQLite itself.
    #[cfg(test)]
    pub(crate) fn synchronous_level(&self) -> i64 {
        self.conn
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .expect("read synchronous")
    }
}

/// `PRAGMA quick_check` on `conn`, as [`Store::quick_check`] reports it.
fn quick_check(conn: &Connection, shown: String) -> Result<(), StateError> {
    const OP: &str = "check the database";
    let findings: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(StateError::sqlite(OP))
        .map_err(|e| e.named_damaged(&shown))?;
    if findings.len() == 1 && findings[0] == "ok" {
        return Ok(());
    }
    Err(StateError::Damaged {
        path: shown,
        detail: findings.join("; "),
    })
}

/// Creates the missing ancestors of `path` and fsyncs each new directory's parent, so
/// the directory entries survive a power loss together with the first durable commit
/// (SQLite itself syncs the database's own directory when it creates the WAL).
fn create_parent_dirs(path: &Path) -> Result<(), StateError> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let missing: Vec<&Path> = parent
        .ancestors()
        .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let dir_err = |dir: &Path| {
        let path = dir.display().to_string();
        move |source| StateError::CreateDir { path, source }
    };
    std::fs::create_dir_all(parent).map_err(dir_err(parent))?;
    for dir in missing {
        if let Some(up) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(up).map_err(dir_err(up))?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    // Directories cannot be opened as files elsewhere; NTFS journals metadata anyway.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::SCHEMA_VERSION;
    use crate::test_support::{new_run, temp_db};

    #[test]
    fn in_memory_store_is_migrated_to_the_latest_version() {
        let store = Store::open_in_memory().expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        const { assert!(SCHEMA_VERSION >= 1) };
        assert_eq!(store.path(), None);
    }

    #[test]
    fn file_store_is_wal_with_foreign_keys_and_busy_timeout() {
        let (_dir, path) = temp_db();
        let store = Store::open(&path).expect("open");
        assert_eq!(store.path(), Some(path.as_path()));
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "wal");
        assert_eq!(store.synchronous_level(), 1, "NORMAL by default");
        let fk: i64 = store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .expect("foreign_keys");
        assert_eq!(fk, 1);
        let timeout: i64 = store
            .conn
            .pragma_query_value(None, "busy_timeout", |r| r.get(0))
            .expect("busy_timeout");
        assert_eq!(timeout, 5000);
    }

    #[test]
    fn open_creates_parent_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/c/state.db");
        let store = Store::open(&path).expect("open");
        assert!(path.exists());
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    }

    #[test]
    fn reopening_a_file_database_is_a_no_op() {
        let (_dir, path) = temp_db();
        {
            let mut store = Store::open(&path).expect("open");
            store.create_run(&new_run("r1", 1_000)).expect("create");
        }
        // Closing the last connection checkpoints the WAL into the main file.
        let before = std::fs::read(&path).expect("read db");
        {
            let store = Store::open(&path).expect("reopen");
            assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
            assert!(store.run("r1").expect("load").is_some());
        }
        let after = std::fs::read(&path).expect("read db");
        assert!(before == after, "reopening rewrote the database file");
    }

    #[test]
    fn concurrent_first_opens_of_a_new_file_all_succeed() {
        let (_dir, path) = temp_db();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let path = path.clone();
                let barrier = std::sync::Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut store = Store::open(&path).expect("open");
                    store
                        .create_run(&new_run(&format!("r{i}"), i))
                        .expect("create");
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        let store = Store::open(&path).expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        let runs = store.runs(&crate::RunFilter::default()).expect("runs");
        assert_eq!(runs.len(), 6);
    }

    #[test]
    fn newer_schema_is_refused_and_left_untouched() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch("CREATE TABLE future (x INTEGER);")
                .expect("create");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 7)
                .expect("set version");
        }
        let before = std::fs::read(&path).expect("read db");
        let err = Store::open(&path).expect_err("newer schema");
        match &err {
            StateError::NewerSchema {
                path: shown,
                found,
                supported,
            } => {
                assert_eq!(shown, &path.display().to_string());
                assert_eq!(*found, SCHEMA_VERSION + 7);
                assert_eq!(*supported, SCHEMA_VERSION);
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("written by a newer runbook"), "{message}");
        assert!(message.contains("upgrade runbook"), "{message}");
        assert_eq!(std::fs::read(&path).expect("read db"), before);
        let conn = Connection::open(&path).expect("open");
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "delete", "the journal mode was not switched");
    }

    #[test]
    fn durable_writes_switch_to_full_and_others_back_to_normal() {
        use crate::test_support::step_start;
        let (_dir, path) = temp_db();
        let mut store = Store::open(&path).expect("open");
        store.create_run(&new_run("r1", 1_000)).expect("create");
        let mut start = step_start("a", 1, "key-a");
        start.durable = true;
        store.begin_attempt("r1", &start).expect("begin");
        assert_eq!(store.synchronous_level(), 2, "FULL after a durable write");
        start.step_key = "b".to_owned();
        start.durable = false;
        store.begin_attempt("r1", &start).expect("begin");
        assert_eq!(store.synchronous_level(), 1, "NORMAL after a plain write");
    }
}
