//! The state database of `runbook`: runs, step checkpoints, events, run locks,
//! simulator snapshots and named simulated worlds, in one SQLite file.
//!
//! This crate owns every SQL statement; the engine only calls [`Store`] methods and
//! gets the persisted record types of [`records`] back. It has no engine logic: it does
//! not decide what to resume or retry, it stores what the engine decided.
//!
//! # Guarantees
//!
//! - **One transaction per method.** [`Store::finish_attempt`] and
//!   [`Store::record_attempt`] write the attempt, its events and the simulator snapshot
//!   together or not at all.
//! - **Durability where it matters.** The database is in WAL mode with
//!   `synchronous=NORMAL`: a commit costs microseconds, and a power loss can lose the
//!   latest commits but never corrupt the file. [`Store::begin_attempt`] with
//!   [`StepStart::durable`] commits with `synchronous=FULL`, so the idempotency key of a
//!   step with cloud side effects is fsynced before the cloud call (and, since the WAL
//!   is sequential, so is everything committed before it).
//! - **Concurrent processes.** Writers take the write lock up front (`BEGIN IMMEDIATE`)
//!   and wait up to 5 s for one another; [`Store::acquire_lock`] elects one process per
//!   (runbook, params) with an OS file lock that ends with the process.
//! - **Schema versions.** Migrations are an append-only list tracked by
//!   `PRAGMA user_version`; a database written by a newer `runbook` is refused with
//!   [`StateError::NewerSchema`] and left untouched.
//!
//! # Ordering
//!
//! Step instances are listed in the order they first began and events in the order
//! they were appended (`seq`, from 1 within each run), not by timestamp: timestamps are
//! virtual on the simulator, and concurrent steps may share them.

mod error;
mod events;
mod locks;
mod migrations;
pub mod records;
mod retention;
mod runs;
mod snapshots;
mod steps;
mod store;
#[cfg(test)]
mod test_support;
mod worlds;

pub use error::{ParseStatusError, StateError};
pub use locks::{LockOutcome, LockRequest, RunLock};
pub use migrations::SCHEMA_VERSION;
pub use records::{
    EventRecord, FailureClass, LockHolder, NewEvent, NewRun, PruneStats, RunFilter, RunRecord,
    RunStatus, Snapshot, StepFinish, StepRecord, StepStart, StepStatus, WorldRecord,
};
pub use store::Store;
