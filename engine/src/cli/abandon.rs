//! `runbook abandon RUN [--cancel-jobs]`: a person retires an incomplete run. It is
//! never resumed again (not by `resume`, not by `run --resume-incomplete`), and the
//! next scheduled run starts fresh without waiting for it.

use runbook_backend::Clock;
use runbook_state::RunStatus;

use super::Global;
use super::run::{aws_settings, build_target, current_thread_runtime, host_name};
use super::run_lock::take_lock;
use super::sim_world::SimWorld;
use crate::error::{BackendError, Error};
use crate::executor::target_record;
use crate::exit::Exit;
use crate::inflight_jobs::{self, SubmittedJob};
use crate::params::ResolvedParams;
use crate::run_settings::RunSettings;

#[derive(Debug, clap::Args)]
pub struct AbandonArgs {
    /// The run to retire
    pub run: String,
    /// Also cancel the EMR job runs it submitted that are still running (on sim: in
    /// its simulated world, whose report then shows the cancellation)
    #[arg(long)]
    pub cancel_jobs: bool,
    /// Why, recorded with the run (shown by `status`)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub(super) fn abandon(global: &Global, args: &AbandonArgs) -> Result<Exit, Error> {
    // Opened before the lock is taken: a path that cannot be written stops here.
    let calls = super::run::call_log(global)?;
    let mut store = super::open_store(global)?;
    store.quick_check()?;
    let Some(run) = store.run(&args.run)? else {
        return Err(Error::NoSuchRun(args.run.clone()));
    };
    match run.status {
        RunStatus::Succeeded => return Err(Error::AbandonSucceeded(run.id)),
        RunStatus::Abandoned => {
            println!("run {} is already abandoned", run.id);
            return Ok(Exit::Ok);
        }
        RunStatus::Running | RunStatus::Failed | RunStatus::Interrupted => {}
    }
    // Holding its lock, nobody resumes it while it is being retired; a live process
    // running it keeps the lock, and is told apart from a dead one by the OS.
    let lock =
        take_lock(&mut store, &run.lock_key, &run.id).map_err(Error::LockedAgainstAbandon)?;
    let mut cancelled = Vec::new();
    let mut last_snapshot = None;
    if args.cancel_jobs {
        let settings = RunSettings::of_run(&run);
        let attempts = store.latest_attempts(&run.id)?;
        let jobs = inflight_jobs::submitted_jobs(&run.id, &attempts);
        let world = SimWorld::of_run(&store, &run)?;
        let last_event_at = store.last_event_at(&run.id).ok().flatten().unwrap_or(0);
        // Only the `region` parameter matters here (the aws target's fallback region).
        let params = ResolvedParams {
            values: run.params.as_object().cloned().unwrap_or_default(),
            secret_names: Vec::new(),
            origins: std::collections::BTreeMap::new(),
        };
        let runtime = current_thread_runtime()?;
        let aws = aws_settings(&settings, &params, calls.clone());
        let outcome = runtime.block_on(async {
            let super::run::Built { clock, target, .. } =
                build_target(settings.target, &world, last_event_at, None, &aws).await?;
            let done = cancel_live(&target, jobs).await;
            // Secret values are never stored, so `abandon` has none to mask with.
            let (events, snapshot) = target_record(&target, &clock, &params.masker());
            Ok::<_, BackendError>((done, events, snapshot))
        });
        match outcome {
            Ok((done, events, snapshot)) => {
                if let Err(e) = store.append_events(&run.id, &events) {
                    eprintln!("warning: the cancellations were made but not recorded: {e}");
                }
                cancelled = done;
                last_snapshot = snapshot;
            }
            Err(source) => {
                let _ = store.release_lock(lock);
                return Err(Error::NotAbandoned {
                    run_id: run.id,
                    source,
                });
            }
        }
    }
    let mut reason = format!("abandoned on {}", host_name());
    if let Some(why) = &args.reason {
        reason.push_str(&format!(": {why}"));
    }
    if let Some(previous) = &run.error {
        reason.push_str(&format!(" (it had stopped with: {previous})"));
    }
    let now = Clock::Real.now_ms();
    // A run on a named world hands it back as it last recorded it (even if it was
    // killed before its end): what the abandoned run made exists, as on aws. Only then
    // does the abandon release the world.
    if let Err(e) = store.save_last_snapshot(&run.id, last_snapshot.as_ref(), now) {
        let _ = store.release_lock(lock);
        return Err(e.into());
    }
    let marked = store.set_run_status(&run.id, RunStatus::Abandoned, Some(now), Some(&reason));
    let _ = store.release_lock(lock);
    marked?;
    for line in &cancelled {
        println!("{line}");
    }
    println!(
        "run {} abandoned: it will not be resumed, and the next `run --resume-incomplete` starts fresh",
        run.id
    );
    Ok(Exit::Ok)
}

/// Cancels the jobs of `jobs` that have not ended; says what happened to each.
async fn cancel_live(target: &runbook_backend::Target, jobs: Vec<SubmittedJob>) -> Vec<String> {
    let mut said = Vec::new();
    for live in inflight_jobs::live_jobs(target, jobs).await {
        let submitted = &live.submitted;
        let Some(job) = &submitted.job else {
            said.push(format!(
                "not cancelled: {live} (find it by that tag and cancel it by hand if it exists)"
            ));
            continue;
        };
        match target
            .emr
            .cancel_job_run(&job.virtual_cluster_id, &job.job_id)
            .await
        {
            Ok(()) => said.push(format!(
                "cancelled job run {} of step {} (it was {})",
                job.job_id, submitted.step_key, live.state
            )),
            Err(e) => said.push(format!(
                "failed to cancel job run {} of step {}: {e}",
                job.job_id, submitted.step_key
            )),
        }
    }
    said
}
