//! Schema migrations: an append-only list of SQL scripts, tracked by `PRAGMA user_version`.
//!
//! Migration `i` (0-based) moves the schema from version `i` to `i + 1`. Never edit or
//! reorder a released script: add a new one at the end. All pending scripts run in one
//! exclusive transaction, so a database is either at its old version or at the latest
//! (the approach of cargo's `src/cargo/util/sqlite.rs`).

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StateError;

/// The migrations, oldest first.
const MIGRATIONS: &[&str] = &[
    // 1: runs, step attempts, events, simulator snapshots, run locks.
    r#"
    CREATE TABLE runs (
        id              TEXT    NOT NULL PRIMARY KEY,
        runbook_name    TEXT    NOT NULL,
        runbook_path    TEXT    NOT NULL,
        content_hash    TEXT    NOT NULL,
        params          TEXT    NOT NULL,  -- JSON
        lock_key        TEXT    NOT NULL,
        target          TEXT    NOT NULL,
        status          TEXT    NOT NULL
            CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
        started_at_ms   INTEGER NOT NULL,
        finished_at_ms  INTEGER,
        resumed_at_ms   INTEGER,           -- the latest resume, if any
        pid             INTEGER NOT NULL,
        resume_count    INTEGER NOT NULL DEFAULT 0,
        error           TEXT
    ) STRICT;
    CREATE INDEX runs_by_started_at ON runs (started_at_ms);
    CREATE INDEX runs_by_lock_key ON runs (lock_key, started_at_ms);

    -- One row per (run, step instance, attempt). `id` is the insertion order, so the
    -- order in which steps first started survives ties and jumps of the clock.
    CREATE TABLE step_attempts (
        id              INTEGER PRIMARY KEY,
        run_id          TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step_key        TEXT    NOT NULL,
        attempt         INTEGER NOT NULL,
        step_id         TEXT    NOT NULL,
        item_index      INTEGER,
        is_finally      INTEGER NOT NULL CHECK (is_finally IN (0, 1)),
        idempotency_key TEXT    NOT NULL,
        input           TEXT    NOT NULL,  -- JSON
        status          TEXT    NOT NULL
            CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
        outputs         TEXT,              -- JSON
        error           TEXT,
        started_at_ms   INTEGER NOT NULL,
        finished_at_ms  INTEGER,
        UNIQUE (run_id, step_key, attempt)
    ) STRICT;

    -- `seq` counts from 1 within each run. WITHOUT ROWID: rows are small and always
    -- read by (run_id, seq), so one b-tree (one page written per commit) instead of two.
    CREATE TABLE events (
        run_id          TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq             INTEGER NOT NULL,
        at_ms           INTEGER NOT NULL,
        kind            TEXT    NOT NULL CHECK (kind <> ''),
        step_key        TEXT,
        subject         TEXT,
        data            TEXT    NOT NULL,  -- JSON
        PRIMARY KEY (run_id, seq)
    ) STRICT, WITHOUT ROWID;

    -- Only the latest snapshot of each run is kept.
    CREATE TABLE snapshots (
        run_id          TEXT    NOT NULL PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        at_ms           INTEGER NOT NULL,
        data            BLOB    NOT NULL
    ) STRICT;

    -- No foreign key to runs: the lock is taken before the run row is created, so a
    -- refused `runbook run` leaves nothing behind.
    CREATE TABLE run_locks (
        lock_key        TEXT    NOT NULL PRIMARY KEY,
        run_id          TEXT    NOT NULL,
        pid             INTEGER NOT NULL,
        since_ms        INTEGER NOT NULL
    ) STRICT;
    "#,
    // 2: the run lifecycle for unattended operation. Runs can be `abandoned` (retired by
    // a person, never resumed), remember the target settings they were started with and
    // the host of their process; attempts remember how they failed (so a retry knows
    // whether its cloud call may have taken effect) and when they started on the run's
    // own clock (virtual on sim), so a resumed wait keeps its original deadline; locks
    // name the holder's host. SQLite cannot change a CHECK constraint in place, so
    // `runs` is rebuilt (the documented 12-step way: foreign keys are off meanwhile,
    // see `migrate_to`).
    r#"
    CREATE TABLE runs_v2 (
        id              TEXT    NOT NULL PRIMARY KEY,
        runbook_name    TEXT    NOT NULL,
        runbook_path    TEXT    NOT NULL,
        content_hash    TEXT    NOT NULL,
        params          TEXT    NOT NULL,  -- JSON
        lock_key        TEXT    NOT NULL,
        target          TEXT    NOT NULL,
        status          TEXT    NOT NULL
            CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'abandoned')),
        started_at_ms   INTEGER NOT NULL,
        finished_at_ms  INTEGER,
        resumed_at_ms   INTEGER,
        pid             INTEGER NOT NULL,
        resume_count    INTEGER NOT NULL DEFAULT 0,
        error           TEXT,
        settings        TEXT    NOT NULL DEFAULT '{}',  -- JSON: target settings
        host            TEXT    NOT NULL DEFAULT ''
    ) STRICT;
    INSERT INTO runs_v2 (id, runbook_name, runbook_path, content_hash, params, lock_key,
        target, status, started_at_ms, finished_at_ms, resumed_at_ms, pid, resume_count,
        error, settings)
    SELECT id, runbook_name, runbook_path, content_hash, params, lock_key, target, status,
        started_at_ms, finished_at_ms, resumed_at_ms, pid, resume_count, error,
        json_object('target', target)
    FROM runs ORDER BY rowid;
    DROP TABLE runs;
    ALTER TABLE runs_v2 RENAME TO runs;
    CREATE INDEX runs_by_started_at ON runs (started_at_ms);
    CREATE INDEX runs_by_lock_key ON runs (lock_key, started_at_ms);

    -- 'rejected': the service said no (a retry takes a new key); 'uncertain': the call
    -- may have taken effect (timeout, lost connection, 5xx, throttling: a retry keeps
    -- the key); 'permanent': retrying cannot help (invalid input, unsupported).
    ALTER TABLE step_attempts ADD COLUMN failure TEXT
        CHECK (failure IN ('rejected', 'uncertain', 'permanent'));
    ALTER TABLE step_attempts ADD COLUMN clock_started_at_ms INTEGER;

    ALTER TABLE run_locks ADD COLUMN host TEXT NOT NULL DEFAULT '';
    "#,
    // 3: named simulated worlds (`run --world NAME`), shared by the runs that name them:
    // each world's latest state and the run that last used it (which holds the world
    // while it can still be continued), and the world each run used (NULL: a fresh
    // world of its own). A world's state is a simulator snapshot, as in `snapshots`;
    // it is NULL until a run on it ends. Pruning the last run keeps the world.
    r#"
    ALTER TABLE runs ADD COLUMN world TEXT;

    CREATE TABLE worlds (
        name            TEXT    NOT NULL PRIMARY KEY CHECK (name <> ''),
        at_ms           INTEGER,           -- the snapshot's virtual time
        data            BLOB,
        run_id          TEXT    REFERENCES runs (id) ON DELETE SET NULL,
        updated_at_ms   INTEGER NOT NULL,
        CHECK ((at_ms IS NULL) = (data IS NULL))
    ) STRICT;
    "#,
    // 4: a run's target is kept once, in `runs.target`. Its settings held a copy, and a
    // resume on another `--target` changed only the copy, so `history` showed the
    // target the run started on. The copy, where it differs, is the later word.
    r#"
    UPDATE runs SET
        target = coalesce(json_extract(settings, '$.target'), target),
        settings = json_remove(settings, '$.target');
    "#,
];

/// The schema version this binary creates and understands: the number of migrations.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Reads `PRAGMA user_version`.
pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Refuses a database written by a newer binary, without writing anything to it.
pub(crate) fn refuse_newer(conn: &Connection, path: &str) -> Result<(), StateError> {
    let found = user_version(conn).map_err(|source| StateError::Open {
        path: path.to_owned(),
        op: "read the schema version",
        source,
    })?;
    check_not_newer(found, path)
}

fn check_not_newer(found: u32, path: &str) -> Result<(), StateError> {
    if found > SCHEMA_VERSION {
        return Err(StateError::NewerSchema {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`]. An up-to-date database is only read.
pub(crate) fn migrate(conn: &mut Connection, path: &str) -> Result<(), StateError> {
    migrate_to(conn, path, MIGRATIONS)
}

fn migrate_to(conn: &mut Connection, path: &str, migrations: &[&str]) -> Result<(), StateError> {
    let open_err = |op| {
        move |source| StateError::Open {
            path: path.to_owned(),
            op,
            source,
        }
    };
    let target = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    if user_version(conn).map_err(open_err("read the schema version"))? == target {
        return Ok(());
    }
    // A script may rebuild a table that others reference (SQLite's way to change a
    // constraint): with foreign keys on, dropping the old table would cascade-delete
    // every row that refers to it. The pragma cannot change inside a transaction, so
    // it is switched off around it, and the references are checked before committing.
    let foreign_keys: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .map_err(open_err("read the foreign key setting"))?;
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(open_err("pause foreign keys for the migration"))?;
    let migrated = apply_pending(conn, path, migrations, target);
    conn.pragma_update(None, "foreign_keys", foreign_keys)
        .map_err(open_err("restore foreign keys after the migration"))?;
    migrated
}

fn apply_pending(
    conn: &mut Connection,
    path: &str,
    migrations: &[&str],
    target: u32,
) -> Result<(), StateError> {
    let open_err = |op| {
        move |source| StateError::Open {
            path: path.to_owned(),
            op,
            source,
        }
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(open_err("lock the database for migration"))?;
    // Another process may have migrated (or a newer binary may have) while we waited.
    let found = user_version(&tx).map_err(open_err("read the schema version"))?;
    check_not_newer(found, path)?;
    if found == target {
        return Ok(());
    }
    for (index, script) in migrations.iter().enumerate().skip(found as usize) {
        let version = u32::try_from(index + 1).unwrap_or(u32::MAX);
        tx.execute_batch(script)
            .map_err(|source| StateError::Migration {
                path: path.to_owned(),
                version,
                source,
            })?;
    }
    let dangling: i64 = tx
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .map_err(open_err("check references after the migration"))?;
    if dangling > 0 {
        return Err(StateError::Open {
            path: path.to_owned(),
            op: "migrate: rows would refer to missing runs",
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("{dangling} dangling reference(s)")),
            ),
        });
    }
    tx.pragma_update(None, "user_version", target)
        .map_err(open_err("record the schema version"))?;
    tx.commit().map_err(open_err("commit the migration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_names(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .expect("prepare");
        stmt.query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn version_1_databases_keep_every_row_when_runs_is_rebuilt() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "foreign_keys", true)
            .expect("foreign keys on, as Store::open sets them");
        migrate_to(&mut conn, ":memory:", &MIGRATIONS[..1]).expect("v1");
        conn.execute_batch(
            "INSERT INTO runs (id, runbook_name, runbook_path, content_hash, params, lock_key, \
               target, status, started_at_ms, pid) \
             VALUES ('r1', 'demo', 'demo.yaml', 'h', '{}', 'k', 'aws', 'failed', 1, 7); \
             INSERT INTO step_attempts (run_id, step_key, attempt, step_id, is_finally, \
               idempotency_key, input, status, started_at_ms) \
             VALUES ('r1', 'a', 1, 'a', 0, 'key', '{}', 'failed', 1); \
             INSERT INTO events (run_id, seq, at_ms, kind, data) VALUES ('r1', 1, 1, 'e', '{}'); \
             INSERT INTO snapshots (run_id, at_ms, data) VALUES ('r1', 1, x'01'); \
             INSERT INTO run_locks (lock_key, run_id, pid, since_ms) VALUES ('k', 'r1', 7, 1);",
        )
        .expect("v1 rows");
        migrate(&mut conn, ":memory:").expect("to the latest");
        for table in ["runs", "step_attempts", "events", "snapshots", "run_locks"] {
            let rows: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .expect("count");
            assert_eq!(rows, 1, "{table} lost its row");
        }
        let (status, target, settings): (String, String, String) = conn
            .query_row("SELECT status, target, settings FROM runs", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("run");
        assert_eq!(status, "failed");
        assert_eq!((target.as_str(), settings.as_str()), ("aws", "{}"));
        conn.execute("UPDATE runs SET status = 'abandoned'", [])
            .expect("the new status is allowed");
        let on: bool = conn
            .pragma_query_value(None, "foreign_keys", |row| row.get(0))
            .expect("pragma");
        assert!(on, "foreign keys are back on after the migration");
        // The references still work: deleting the run cascades to its rows.
        conn.execute("DELETE FROM runs", []).expect("delete");
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM step_attempts", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0);
    }

    #[test]
    fn version_2_runs_used_no_named_world() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "foreign_keys", true)
            .expect("foreign keys on, as Store::open sets them");
        migrate_to(&mut conn, ":memory:", &MIGRATIONS[..2]).expect("v2");
        conn.execute_batch(
            "INSERT INTO runs (id, runbook_name, runbook_path, content_hash, params, lock_key, \
               target, status, started_at_ms, pid) \
             VALUES ('r1', 'demo', 'demo.yaml', 'h', '{}', 'k', 'sim', 'interrupted', 1, 7); \
             INSERT INTO snapshots (run_id, at_ms, data) VALUES ('r1', 1, x'01');",
        )
        .expect("v2 rows");
        migrate(&mut conn, ":memory:").expect("to the latest");
        let world: Option<String> = conn
            .query_row("SELECT world FROM runs WHERE id = 'r1'", [], |r| r.get(0))
            .expect("run");
        assert_eq!(
            world, None,
            "a run from before worlds had a world of its own"
        );
        let worlds: i64 = conn
            .query_row("SELECT COUNT(*) FROM worlds", [], |r| r.get(0))
            .expect("count");
        assert_eq!(worlds, 0);
        conn.execute(
            "INSERT INTO worlds (name, at_ms, data, updated_at_ms) VALUES ('w', 5, NULL, 1)",
            [],
        )
        .expect_err("a world's time and state come together");
    }

    #[test]
    fn version_3_runs_keep_their_target_once_the_latest_said() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate_to(&mut conn, ":memory:", &MIGRATIONS[..3]).expect("v3");
        conn.execute_batch(
            "INSERT INTO runs (id, runbook_name, runbook_path, content_hash, params, lock_key, \
               target, status, started_at_ms, pid, settings) VALUES \
             ('resumed', 'demo', 'demo.yaml', 'h', '{}', 'k', 'sim', 'failed', 1, 7, \
               '{\"target\":\"aws\",\"region\":\"eu-west-1\"}'), \
             ('plain', 'demo', 'demo.yaml', 'h', '{}', 'k', 'sim', 'failed', 2, 7, \
               '{\"sim_speed\":10.0}'), \
             ('bare', 'demo', 'demo.yaml', 'h', '{}', 'k', 'aws', 'failed', 3, 7, '{}');",
        )
        .expect("v3 rows");
        migrate(&mut conn, ":memory:").expect("to the latest");
        let mut stmt = conn
            .prepare("SELECT id, target, settings FROM runs ORDER BY started_at_ms")
            .expect("prepare");
        let runs: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let expected = [
            ("resumed", "aws", r#"{"region":"eu-west-1"}"#),
            ("plain", "sim", r#"{"sim_speed":10.0}"#),
            ("bare", "aws", "{}"),
        ];
        let runs: Vec<(&str, &str, &str)> = runs
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        assert_eq!(runs, expected);
    }

    #[test]
    fn fresh_database_reaches_the_latest_version() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn, ":memory:").expect("migrate");
        assert_eq!(user_version(&conn).expect("version"), SCHEMA_VERSION);
        assert_eq!(
            table_names(&conn),
            [
                "events",
                "run_locks",
                "runs",
                "snapshots",
                "step_attempts",
                "worlds"
            ]
        );
    }

    #[test]
    fn pending_migrations_apply_in_order_from_the_current_version() {
        let scripts = [
            "CREATE TABLE a (x INTEGER) STRICT;",
            "ALTER TABLE a ADD COLUMN y INTEGER;",
        ];
        let mut conn = Connection::open_in_memory().expect("open");
        migrate_to(&mut conn, ":memory:", &scripts[..1]).expect("first");
        assert_eq!(user_version(&conn).expect("version"), 1);
        // Scripts are not idempotent: re-running the first one would fail.
        migrate_to(&mut conn, ":memory:", &scripts).expect("second");
        assert_eq!(user_version(&conn).expect("version"), 2);
        conn.execute("INSERT INTO a (x, y) VALUES (1, 2)", [])
            .expect("both columns exist");
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        let scripts = [
            "CREATE TABLE a (x INTEGER) STRICT;",
            "CREATE TABLE b (x INTEGER) STRICT; THIS IS NOT SQL;",
        ];
        let mut conn = Connection::open_in_memory().expect("open");
        let err = migrate_to(&mut conn, ":memory:", &scripts).expect_err("bad script");
        assert!(
            matches!(err, StateError::Migration { version: 2, .. }),
            "{err:?}"
        );
        assert_eq!(user_version(&conn).expect("version"), 0);
        assert!(table_names(&conn).is_empty(), "{:?}", table_names(&conn));
    }

    #[test]
    fn newer_version_is_refused() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("set version");
        let err = migrate(&mut conn, "state.db").expect_err("newer");
        assert!(
            matches!(err, StateError::NewerSchema { found, supported, .. }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
            "{err:?}"
        );
        assert!(table_names(&conn).is_empty());
    }
}
