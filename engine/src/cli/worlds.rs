//! `runbook worlds`: the named simulated worlds of the state DB (`run --world NAME`),
//! each with its virtual time, the run that last used it and what exists in it; and
//! `runbook worlds --delete NAME` to forget one.

use runbook_state::{RunStatus, StateError, WorldRecord};
use serde_json::{Value, json};

use super::{Global, open_store};
use crate::error::Error;
use crate::exit::Exit;
use crate::timefmt;

#[derive(Debug, clap::Args)]
pub struct WorldsArgs {
    /// Forget this world and what exists in it (refused while a run holds it); the
    /// next run that names it starts a new, empty world
    #[arg(long, value_name = "NAME")]
    pub delete: Option<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// One world as `worlds` shows it.
struct Shown {
    record: WorldRecord,
    /// The status of the run that last used it, if that run is still stored.
    last_status: Option<RunStatus>,
    /// What exists in it, or why its state cannot be read.
    contents: Result<runbook_sim::Inventory, String>,
}

impl Shown {
    fn virtual_time_ms(&self) -> i64 {
        self.record.snapshot.as_ref().map_or(0, |s| s.at_ms)
    }

    /// Whether its last run may still continue it (no other run may start on it).
    fn held(&self) -> bool {
        self.last_status
            .is_some_and(|s| !matches!(s, RunStatus::Succeeded | RunStatus::Abandoned))
    }
}

pub(super) fn worlds(global: &Global, args: &WorldsArgs) -> Result<Exit, Error> {
    if let Some(name) = &args.delete {
        return delete(global, name);
    }
    let store = open_store(global)?;
    let mut shown = Vec::new();
    for record in store.worlds()? {
        let last_status = match &record.last_run {
            Some(id) => store.run(id)?.map(|run| run.status),
            None => None,
        };
        let contents = match &record.snapshot {
            Some(snapshot) => {
                runbook_backend_sim::inventory(&snapshot.data).map_err(|e| e.to_string())
            }
            None => Ok(runbook_sim::Inventory::default()),
        };
        shown.push(Shown {
            record,
            last_status,
            contents,
        });
    }
    if args.json {
        let list: Vec<Value> = shown.iter().map(world_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Ok(Exit::Ok);
    }
    if shown.is_empty() {
        println!("no worlds yet (`runbook run FILE --world NAME` makes one)");
        return Ok(Exit::Ok);
    }
    print!("{}", worlds_text(&shown));
    Ok(Exit::Ok)
}

fn world_json(world: &Shown) -> Value {
    json!({
        "name": world.record.name,
        "virtual_time_ms": world.virtual_time_ms(),
        "last_run": world.record.last_run,
        "last_run_status": world.last_status.map(RunStatus::as_str),
        "held": world.held(),
        "updated_at": timefmt::rfc3339_ms(world.record.updated_at_ms),
        "contents": world.contents.as_ref().ok(),
        "error": world.contents.as_ref().err(),
    })
}

fn worlds_text(shown: &[Shown]) -> String {
    let width = shown
        .iter()
        .map(|w| w.record.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{:<width$}  {:>12}  {:<22} {:<12} {:<20} CONTENTS\n",
        "WORLD", "VIRTUAL TIME", "LAST RUN", "STATUS", "UPDATED (UTC)"
    );
    for world in shown {
        let at =
            std::time::Duration::from_millis(u64::try_from(world.virtual_time_ms()).unwrap_or(0));
        let status = match world.last_status {
            Some(status) if world.held() => format!("{status} (holds it)"),
            Some(status) => status.to_string(),
            None => "-".to_string(),
        };
        let contents = match &world.contents {
            Ok(inventory) => inventory.summary(),
            Err(e) => format!("cannot be read: {e}"),
        };
        out.push_str(&format!(
            "{:<width$}  {:>12}  {:<22} {:<12} {:<20} {contents}\n",
            world.record.name,
            crate::progress::elapsed(at),
            world.record.last_run.as_deref().unwrap_or("-"),
            status,
            timefmt::short(world.record.updated_at_ms),
        ));
    }
    out
}

fn delete(global: &Global, name: &str) -> Result<Exit, Error> {
    let mut store = open_store(global)?;
    match store.delete_world(name) {
        Ok(true) => {
            println!(
                "world `{name}` deleted: the next run that names it starts a new, empty world"
            );
            Ok(Exit::Ok)
        }
        Ok(false) => Err(Error::NoSuchWorld(name.to_string())),
        Err(StateError::WorldInUse {
            world,
            run_id,
            runbook,
            status,
        }) => Err(Error::WorldNotDeleted {
            world,
            holder: run_id,
            runbook,
            status,
        }),
        Err(other) => Err(other.into()),
    }
}
