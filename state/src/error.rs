//! The one error type of the state layer.

use thiserror::Error;

/// Everything that can go wrong while reading or writing the state database.
///
/// Messages are lowercase and start with "failed to", so the engine can prefix them
/// ("error: failed to ..."); the underlying SQLite or JSON error is the `#[source]`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// The directory that should hold the database could not be created.
    #[error("failed to create the state directory {path}")]
    CreateDir {
        /// The directory we tried to create.
        path: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },

    /// The database file could not be opened or configured.
    #[error("failed to open the state database {path}: could not {op}")]
    Open {
        /// The database file.
        path: String,
        /// What we were doing, e.g. "read the schema version".
        op: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// The file system refused WAL mode (e.g. a network file system).
    #[error(
        "failed to open the state database {path}: it must be in WAL mode, but SQLite \
         reports journal mode {mode:?} (is it on a network file system?)"
    )]
    NotWal {
        /// The database file.
        path: String,
        /// The journal mode SQLite ended up with.
        mode: String,
    },

    /// The database was migrated by a newer `runbook`; this binary does not know its
    /// schema and refuses to touch it.
    #[error(
        "failed to open the state database {path}: it has schema version {found}, but this \
         runbook supports up to version {supported}; it was written by a newer runbook, so \
         upgrade runbook to use it (the database was not modified)"
    )]
    NewerSchema {
        /// The database file (`:memory:` for an in-memory database).
        path: String,
        /// The `user_version` found in the file.
        found: u32,
        /// The latest schema version this binary knows.
        supported: u32,
    },

    /// A schema migration failed; the database was left at its previous version.
    #[error("failed to migrate the state database {path} to schema version {version}")]
    Migration {
        /// The database file.
        path: String,
        /// The version whose script failed.
        version: u32,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// The run lock's file could not be used.
    #[error("failed to {op} {path}")]
    LockFile {
        /// The lock file.
        path: String,
        /// What we were doing.
        op: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// SQLite finds the database file damaged (not a database, or failing its
    /// integrity check): nothing is run on it.
    #[error(
        "the state database {path} is damaged: {detail}; nothing was run or written. Move it \
         aside (keep it for `sqlite3 .recover`) and start again with a new one"
    )]
    Damaged {
        /// The database file.
        path: String,
        /// SQLite's own words.
        detail: String,
    },

    /// No run with this id exists.
    #[error("failed to find run {0} in the state database")]
    RunNotFound(String),

    /// `create_run` was given an id that is already taken.
    #[error("failed to create run {0}: a run with this id already exists")]
    RunExists(String),

    /// `create_run` (or `delete_world`) was given a world that an earlier run still
    /// holds: that run is neither succeeded nor abandoned, so it may still continue the
    /// world, and a second writer would fork it.
    #[error("failed to use world `{world}`: run {run_id} ({runbook}, {status}) still holds it")]
    WorldInUse {
        /// The world.
        world: String,
        /// The run that holds it.
        run_id: String,
        /// That run's runbook name.
        runbook: String,
        /// That run's status (running, failed or interrupted).
        status: crate::records::RunStatus,
    },

    /// `finish_attempt` was called for an attempt that `begin_attempt` never recorded.
    #[error(
        "failed to finish attempt {attempt} of step {step_key} in run {run_id}: the attempt \
         was never begun (this is a bug in runbook)"
    )]
    AttemptNotBegun {
        /// The run.
        run_id: String,
        /// The step instance.
        step_key: String,
        /// The attempt number.
        attempt: u32,
    },

    /// A SQLite statement failed.
    #[error("failed to {op}")]
    Sqlite {
        /// What we were doing, e.g. "create run".
        op: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// A JSON column could not be encoded or decoded.
    #[error("failed to {op}: the {column} column does not hold valid JSON")]
    Json {
        /// What we were doing, e.g. "load run".
        op: &'static str,
        /// The column, e.g. "params".
        column: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// A column holds a value this binary does not understand (e.g. an unknown status).
    #[error("failed to {op}: unexpected value in the {column} column")]
    InvalidValue {
        /// What we were doing, e.g. "load run".
        op: &'static str,
        /// The column, e.g. "status".
        column: &'static str,
        /// The parse error.
        #[source]
        source: ParseStatusError,
    },
}

impl StateError {
    /// This error as [`StateError::Damaged`] when SQLite's own answer is that the file
    /// is not a database or is corrupt (its words, kept in the detail).
    pub(crate) fn named_damaged(self, path: &str) -> StateError {
        let sqlite = match &self {
            StateError::Open { source, .. }
            | StateError::Migration { source, .. }
            | StateError::Sqlite { source, .. } => source,
            _ => return self,
        };
        match sqlite.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                StateError::Damaged {
                    path: path.to_owned(),
                    detail: sqlite.to_string(),
                }
            }
            _ => self,
        }
    }

    /// Shorthand for `map_err(StateError::sqlite("..."))`.
    pub(crate) fn sqlite(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StateError {
        move |source| StateError::Sqlite { op, source }
    }
}

/// A status string that is not one of the known values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("failed to parse {kind} status {value:?}: expected one of {expected}")]
pub struct ParseStatusError {
    /// "run" or "step".
    pub kind: &'static str,
    /// The string that did not parse.
    pub value: String,
    /// The accepted values, comma separated.
    pub expected: &'static str,
}
