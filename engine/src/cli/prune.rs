//! `runbook prune`: retention for the state DB, so a nightly job's history does not
//! grow forever. Incomplete runs are kept: they may still be resumed.

use runbook_backend::duration::{Humane, parse_duration};

use super::{Global, open_store};
use crate::error::Error;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Delete succeeded and failed runs that finished longer ago than this (e.g. 30d)
    // A duration beyond the bound `parse_duration` accepts is a usage error (exit 2)
    // naming the limit, like any other malformed age.
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    pub older_than: std::time::Duration,
}

pub(super) fn prune(global: &Global, args: &PruneArgs) -> Result<Exit, Error> {
    let mut store = open_store(global)?;
    let age_ms = i64::try_from(args.older_than.as_millis()).unwrap_or(i64::MAX);
    let cutoff = runbook_backend::Clock::Real.now_ms().saturating_sub(age_ms);
    let stats = store.prune_runs(cutoff)?;
    println!(
        "deleted {} run(s) finished more than {} ago, with {} step attempt(s) and {} event(s); incomplete runs are kept",
        stats.runs,
        Humane(args.older_than),
        stats.attempts,
        stats.events
    );
    Ok(Exit::Ok)
}
