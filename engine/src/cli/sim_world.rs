//! Where a `sim` run's simulated world comes from: a new one, the run's own latest
//! snapshot, or a named world (`run --world NAME`) that runs share, so that a set-up,
//! a scenario and a tear-down find what the one before them left, as on `aws`.

use runbook_state::{RunRecord, Snapshot, StateError, Store};

use crate::error::Error;

/// The world a `sim` run starts (or continues) from.
#[derive(Debug)]
pub(crate) enum SimWorld {
    /// A new, empty world at virtual time 0: a run without `--world`, or the first run
    /// on a new name.
    Fresh,
    /// The run's own latest snapshot: a resumed (or abandoned) run continues the world
    /// exactly as it left it.
    Own(Snapshot),
    /// The named world as the last run on it left it: what exists stays and virtual
    /// time continues, but the run's record of events starts empty.
    Shared(Snapshot),
}

impl SimWorld {
    /// The world of `run`: its own snapshot if it has one (it ran before), else the
    /// state of the named world it claimed (it holds the world, so nobody changed it
    /// since), else a new world.
    pub(crate) fn of_run(store: &Store, run: &RunRecord) -> Result<SimWorld, StateError> {
        if let Some(own) = store.load_snapshot(&run.id)? {
            return Ok(SimWorld::Own(own));
        }
        match &run.world {
            Some(name) => SimWorld::named(store, name),
            None => Ok(SimWorld::Fresh),
        }
    }

    /// The named world as a new run on it would start from (new if nobody ended a run
    /// on it yet).
    pub(crate) fn named(store: &Store, name: &str) -> Result<SimWorld, StateError> {
        Ok(match store.world(name)?.and_then(|w| w.snapshot) {
            Some(state) => SimWorld::Shared(state),
            None => SimWorld::Fresh,
        })
    }

    /// The virtual time the world has reached (0 for a new one).
    pub(crate) fn at_ms(&self) -> i64 {
        match self {
            SimWorld::Fresh => 0,
            SimWorld::Own(s) | SimWorld::Shared(s) => s.at_ms,
        }
    }
}

/// Parses `--world NAME`: 1 to 64 letters, digits, `.`, `_` and `-`, starting with a
/// letter or digit, so the name reads the same in every table and shell.
pub(super) fn parse_world_name(name: &str) -> Result<String, String> {
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if starts_ok && rest_ok && name.len() <= 64 {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{name}` is not a world name: use 1-64 letters, digits, `.`, `_` and `-`, starting with a letter or digit"
        ))
    }
}

/// A world is the simulator's: on `aws` the account is the one world there is.
pub(super) fn refuse_world_on_aws(world: Option<&str>) -> Result<(), Error> {
    match world {
        Some(name) => Err(Error::BadArgument(format!(
            "--world {name} names a simulated world, which only the sim target has (on aws, runs share the account itself); drop --world (or RUNBOOK_WORLD) or use --target sim"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_names_are_short_and_plain() {
        for good in ["w", "demo-1", "team_a.staging", &"x".repeat(64)] {
            assert_eq!(parse_world_name(good).as_deref(), Ok(good));
        }
        for bad in ["", "-w", ".w", "a b", "a/b", "wörld", &"x".repeat(65)] {
            assert!(parse_world_name(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
