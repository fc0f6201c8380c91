//! `runbook status` and `runbook runs`: what happened, from the state DB.

use runbook_state::{RunFilter, RunRecord, RunStatus, StepRecord, StepStatus};
use serde_json::{Value, json};

use super::{Global, open_store};
use crate::error::Error;
use crate::exit::Exit;
use crate::run_settings::RunSettings;
use crate::timefmt;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The run [default: the latest run]
    pub run: Option<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Only runs of this runbook (its `name`)
    #[arg(long)]
    pub runbook: Option<String>,
    /// Only runs with this status (running, succeeded, failed, interrupted, abandoned)
    #[arg(long)]
    pub status: Option<RunStatus>,
    /// How many runs to show, newest first
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

pub(super) fn status(global: &Global, args: &StatusArgs) -> Result<Exit, Error> {
    let store = open_store(global)?;
    let found = match &args.run {
        Some(id) => store.run(id),
        None => store
            .runs(&RunFilter {
                limit: Some(1),
                ..RunFilter::default()
            })
            .map(|mut v| v.pop()),
    };
    let run = found?.ok_or(Error::NoRunToShow)?;
    let attempts = store.attempts(&run.id)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status_json(&run, &attempts)).unwrap_or_default()
        );
    } else {
        print!("{}", status_text(&run, &attempts));
    }
    Ok(Exit::Ok)
}

/// The steps of a run: the latest attempt of each, with its attempt count.
fn steps_of(attempts: &[StepRecord]) -> Vec<(&StepRecord, u32)> {
    let mut out: Vec<(&StepRecord, u32)> = Vec::new();
    for a in attempts {
        match out.iter_mut().find(|(r, _)| r.step_key == a.step_key) {
            Some(entry) => {
                if a.attempt >= entry.0.attempt {
                    entry.0 = a;
                }
                entry.1 += 1;
            }
            None => out.push((a, 1)),
        }
    }
    out
}

fn duration_ms(r: &StepRecord) -> Option<i64> {
    r.finished_at_ms.map(|f| f - r.started_at_ms)
}

pub(crate) fn status_json(run: &RunRecord, attempts: &[StepRecord]) -> Value {
    let steps: Vec<Value> = steps_of(attempts)
        .into_iter()
        .map(|(r, count)| {
            json!({
                "key": r.step_key,
                "action": r.input.get("action"),
                "status": r.status.as_str(),
                "attempts": count,
                "idempotency_key": r.idempotency_key,
                "duration_ms": duration_ms(r),
                "outputs": r.outputs,
                "error": r.error,
                "finally": r.is_finally,
            })
        })
        .collect();
    json!({
        "id": run.id,
        "runbook": run.runbook_name,
        "path": run.runbook_path,
        "target": run.target,
        "world": run.world,
        "status": run.status.as_str(),
        "params": run.params,
        "started_at": timefmt::rfc3339_ms(run.started_at_ms),
        "finished_at": run.finished_at_ms.map(timefmt::rfc3339_ms),
        "resumes": run.resume_count,
        "error": run.error,
        "host": run.host,
        "settings": RunSettings::of_run(run).shown(),
        "steps": steps,
    })
}

fn status_text(run: &RunRecord, attempts: &[StepRecord]) -> String {
    let mut out = String::new();
    out.push_str(&format!("run      {}\n", run.id));
    out.push_str(&format!(
        "runbook  {} ({})\n",
        run.runbook_name, run.runbook_path
    ));
    out.push_str(&format!("target   {}\n", run.target));
    if let Some(world) = &run.world {
        out.push_str(&format!(
            "world    {world} (shared with the runs that name it)\n"
        ));
    }
    out.push_str(&format!("status   {}\n", run.status));
    out.push_str(&format!(
        "started  {} UTC",
        timefmt::short(run.started_at_ms)
    ));
    if let Some(f) = run.finished_at_ms {
        out.push_str(&format!(
            ", took {}",
            crate::progress::elapsed(ms(f - run.started_at_ms))
        ));
    }
    out.push('\n');
    if run.resume_count > 0 {
        out.push_str(&format!("resumed  {} time(s)\n", run.resume_count));
    }
    if run.params.as_object().is_some_and(|p| !p.is_empty()) {
        out.push_str(&format!("params   {}\n", run.params));
    }
    out.push('\n');
    let steps = steps_of(attempts);
    let width = steps
        .iter()
        .map(|(r, _)| r.step_key.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let action_of = |r: &StepRecord| {
        r.input
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let action_width = steps
        .iter()
        .map(|(r, _)| action_of(r).len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!(
        "{:<width$}  {:<action_width$} {:<10} {:>8} {:>9}  outputs\n",
        "STEP", "ACTION", "STATUS", "ATTEMPTS", "DURATION"
    ));
    for (r, count) in &steps {
        let action = action_of(r);
        let took = duration_ms(r)
            .map(|d| crate::progress::elapsed(ms(d)))
            .unwrap_or_else(|| "-".into());
        let outputs = r
            .outputs
            .as_ref()
            .map(|o| truncate(&o.to_string(), 60))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<width$}  {:<action_width$} {:<10} {:>8} {:>9}  {outputs}\n",
            r.step_key,
            action,
            r.status.as_str(),
            count,
            took
        ));
        if let Some(e) = &r.error {
            if r.status == StepStatus::Failed {
                out.push_str(&format!("{:<width$}  error: {e}\n", ""));
            }
        }
    }
    match run.status {
        RunStatus::Failed | RunStatus::Interrupted => {
            if let Some(e) = &run.error {
                out.push_str(&format!("\n{e}\n"));
            }
            out.push_str(&format!("\nresume with: runbook resume {}\n", run.id));
        }
        RunStatus::Running => out.push_str(&format!(
            "\nthe run is in progress, or its process was killed; if killed: runbook resume {}\n",
            run.id
        )),
        RunStatus::Abandoned => {
            if let Some(e) = &run.error {
                out.push_str(&format!("\n{e}\n"));
            }
            out.push_str("\nthe run is abandoned: it will not be resumed\n");
        }
        RunStatus::Succeeded => {}
    }
    out
}

fn ms(v: i64) -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{cut}…")
}

pub(super) fn runs(global: &Global, args: &RunsArgs) -> Result<Exit, Error> {
    let store = open_store(global)?;
    let filter = RunFilter {
        runbook: args.runbook.clone(),
        status: args.status,
        limit: Some(args.limit),
    };
    let runs = store.runs(&filter)?;
    let failed_step = |run: &RunRecord| -> Option<String> {
        if run.status != RunStatus::Failed {
            return None;
        }
        let failed: Vec<_> = store
            .latest_attempts(&run.id)
            .ok()?
            .into_iter()
            .filter(|a| a.status == StepStatus::Failed)
            .collect();
        crate::step_key::innermost(&failed, |a| &a.step_key).map(|a| a.step_key.clone())
    };
    if args.json {
        let list: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "runbook": r.runbook_name,
                    "target": r.target,
                    "world": r.world,
                    "status": r.status.as_str(),
                    "started_at": timefmt::rfc3339_ms(r.started_at_ms),
                    "duration_ms": r.finished_at_ms.map(|f| f - r.started_at_ms),
                    "failed_step": failed_step(r),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Ok(Exit::Ok);
    }
    if runs.is_empty() {
        println!("no runs yet");
        return Ok(Exit::Ok);
    }
    // The world column appears once a run used a named world.
    let world_width = runs
        .iter()
        .filter_map(|r| r.world.as_deref())
        .map(|w| w.len().min(20))
        .max()
        .map(|w| w.max(5));
    let world_cell = |r: &RunRecord| match world_width {
        Some(width) => format!(
            "{:<width$} ",
            truncate(r.world.as_deref().unwrap_or("-"), 20)
        ),
        None => String::new(),
    };
    println!(
        "{:<22} {:<20} {:<6} {}{:<12} {:<20} {:>9}  FAILED STEP",
        "RUN",
        "RUNBOOK",
        "TARGET",
        world_width.map_or(String::new(), |width| format!("{:<width$} ", "WORLD")),
        "STATUS",
        "STARTED (UTC)",
        "DURATION"
    );
    for r in &runs {
        let took = r
            .finished_at_ms
            .map(|f| crate::progress::elapsed(ms(f - r.started_at_ms)))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<22} {:<20} {:<6} {}{:<12} {:<20} {:>9}  {}",
            r.id,
            truncate(&r.runbook_name, 20),
            r.target,
            world_cell(r),
            r.status.as_str(),
            timefmt::short(r.started_at_ms),
            took,
            failed_step(r).unwrap_or_default()
        );
    }
    Ok(Exit::Ok)
}
