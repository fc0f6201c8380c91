//! `runbook prune`: retention for the state DB, so a nightly job's history does not
//! grow forever. Incomplete runs are kept: they may still be resumed.

use runbook_backend::duration::{Humane, parse_duration};

use super::{Global, open_store};
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Delete succeeded and failed runs that finished longer ago than this (e.g. 30d)
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: std::time::Duration,
}

/// A duration beyond the bound `parse_duration` accepts is a usage error (exit 2)
/// naming the limit, like any other malformed age.
fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    parse_duration(text)
}

pub(super) fn prune(global: &Global, args: &PruneArgs) -> Exit {
    let mut store = match open_store(global) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    let age_ms = i64::try_from(args.older_than.as_millis()).unwrap_or(i64::MAX);
    let cutoff = runbook_backend::Clock::Real.now_ms().saturating_sub(age_ms);
    match store.prune_runs(cutoff) {
        Ok(stats) => {
            println!(
                "deleted {} run(s) finished more than {} ago, with {} step attempt(s) and {} event(s); incomplete runs are kept",
                stats.runs,
                Humane(args.older_than),
                stats.attempts,
                stats.events
            );
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}
