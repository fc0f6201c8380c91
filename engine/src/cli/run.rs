//! `runbook run` and `runbook resume`: load and validate, take the run lock, execute
//! with checkpoints, and turn the outcome into an exit code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use runbook_actions::CancelSignal;
use runbook_backend::calls::CallLog;
use runbook_backend::{Clock, TargetKind};
use runbook_backend_aws::AwsSettings;
use runbook_state::{NewRun, RunLock, RunRecord, RunStatus, StateError, StepRecord, Store};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Global;
use super::param_args::ParamArgs;
use super::presenter_args::PresenterArgs;
use super::run_lock::take_lock;
use super::sim_world::{SimWorld, refuse_world_on_aws};
use super::vars::compute_vars;
use crate::error::{BackendError, Error};
use crate::executor::{Execution, Outcome, RunScope, execute};
use crate::exit::Exit;
use crate::lifecycle::Refusal;
use crate::params::{self, ResolvedParams};
use crate::progress::reporter_for;
use crate::run_settings::{GivenSettings, RunSettings};
use crate::runbook::{LoadedRunbook, load_file};
use crate::story::Narrator;
use crate::{inflight_jobs, lifecycle};
use crate::{signals, timefmt};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The runbook file
    pub file: PathBuf,
    #[command(flatten)]
    pub params: ParamArgs,
    /// For cron: continue the latest run of this runbook and params if it was
    /// interrupted (killed, crashed, SIGINT/SIGTERM); a failed or abandoned run is left
    /// for a person and a new run starts
    #[arg(long)]
    pub resume_incomplete: bool,
    /// With --resume-incomplete: continue an interrupted run even though the runbook
    /// file changed since it started (otherwise exit 3)
    #[arg(long, requires = "resume_incomplete")]
    pub allow_changed: bool,
    /// On sim: run the world at N virtual seconds per wall second, to watch a demo live
    #[arg(long, value_name = "N", value_parser = super::sim_speed::parse_sim_speed)]
    pub sim_speed: Option<f64>,
    /// Run `runbook preflight`'s checks first (printed on stderr) and start nothing if
    /// one fails (exit 1)
    #[arg(long)]
    pub preflight: bool,
    /// On sim: run in the named simulated world, shared with the runs before and after
    /// that name it (what they made exists, virtual time continues), instead of a new
    /// world of its own; one run at a time per world
    #[arg(long, env = "RUNBOOK_WORLD", value_name = "NAME", value_parser = super::sim_world::parse_world_name)]
    pub world: Option<String>,
    #[command(flatten)]
    pub presenter: PresenterArgs,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The run to resume [default: the latest incomplete run]
    pub run: Option<String>,
    /// Resume even though the runbook file changed since the run started
    #[arg(long)]
    pub allow_changed: bool,
    /// Give secret parameters again (they are never stored), e.g. --set api_token=...
    #[arg(long = "set", short = 's', value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// On sim: run the world at N virtual seconds per wall second [default: the
    /// speed the run started with]
    #[arg(long, value_name = "N", value_parser = super::sim_speed::parse_sim_speed)]
    pub sim_speed: Option<f64>,
    #[command(flatten)]
    pub presenter: PresenterArgs,
}

pub(super) fn run(global: &Global, args: RunArgs) -> Result<Exit, Error> {
    if global.target == Some(TargetKind::Aws) {
        refuse_world_on_aws(args.world.as_deref())?;
    }
    let loaded = Arc::new(load_file(&args.file)?);
    args.presenter.check_steps(&loaded)?;
    let params = args.params.resolve(&loaded.runbook.params)?;
    // Opened before anything is recorded: a path that cannot be written stops the
    // command without leaving a run behind.
    let calls = call_log(global)?;
    if args.preflight {
        // On a named world the checks see what the run will find there.
        let world = match &args.world {
            Some(name) => SimWorld::named(&super::open_store(global)?, name)?,
            None => SimWorld::Fresh,
        };
        let checked = current_thread_runtime()?.block_on(super::preflight::check(
            global,
            &loaded,
            &args.params,
            calls.clone(),
            &world,
        ))?;
        checked.print(&loaded, true);
        if checked.failed() {
            eprintln!("preflight failed: the run was not started");
            return Ok(Exit::Failed);
        }
    }
    let mut store = open_checked_store(global)?;
    let given = given_settings(global, args.sim_speed);
    let settings = RunSettings::new_run(&given);
    args.presenter
        .check_target(&settings, given.sim_speed.is_some())?;
    let serve = super::serve::bind(args.presenter.serve, settings.target)?;
    let lock_key = lock_key(&loaded, &params, settings.target, args.world.as_deref());
    let history = store.runs_since_last_success(&lock_key)?;
    let ask = lifecycle::Ask {
        resume_incomplete: args.resume_incomplete,
        allow_changed: args.allow_changed,
    };
    let notes = match lifecycle::decide(&history, &loaded, ask) {
        lifecycle::Decision::Resume(record) => {
            let record = record.clone();
            let prior = store.latest_attempts(&record.id)?;
            let carry_on = Continuation {
                prior,
                given,
                calls,
                presenter: args.presenter,
            };
            return continue_run(store, &record, loaded, params, global, carry_on);
        }
        lifecycle::Decision::Refuse(refusal) => return Err(refusal.into()),
        lifecycle::Decision::Fresh { notes } => notes,
    };
    let now = Clock::Real.now_ms();
    let run_id = new_run_id(now);
    let lock = take_lock(&mut store, &lock_key, &run_id)?;
    // Under the lock, so no other process starts or resumes a run of this key meanwhile.
    if let Err(e) = refuse_if_jobs_still_run(&store, &history, &settings, &params, calls.clone()) {
        let _ = store.release_lock(lock);
        return Err(e);
    }
    let record = NewRun {
        id: run_id.clone(),
        runbook_name: loaded.runbook.name.clone(),
        runbook_path: loaded.path.display().to_string(),
        content_hash: loaded.content_hash.clone(),
        params: params.masked(),
        lock_key: lock_key.clone(),
        target: settings.target.as_str().to_string(),
        started_at_ms: now,
        pid: std::process::id(),
        host: host_name(),
        settings: settings.to_json(),
        world: args.world.clone(),
    };
    let created = store.create_run(&record).and_then(|()| store.run(&run_id));
    match created {
        Ok(Some(run)) => drive(
            store,
            &run,
            loaded,
            params,
            None,
            global,
            Launch {
                settings,
                lock,
                notes,
                calls,
                presenter: args.presenter,
                serve,
            },
        ),
        Ok(None) => Err(Error::Bug(format!(
            "run {run_id} vanished after it was created"
        ))),
        Err(e) => {
            let _ = store.release_lock(lock);
            Err(match e {
                StateError::WorldInUse {
                    world,
                    run_id,
                    runbook,
                    status,
                } => Refusal::WorldInUse {
                    world,
                    holder: run_id,
                    runbook,
                    status,
                }
                .into(),
                other => other.into(),
            })
        }
    }
}

pub(super) fn resume(global: &Global, args: ResumeArgs) -> Result<Exit, Error> {
    let calls = call_log(global)?;
    // Checked below, beside the other reads, before anything is written.
    let store = super::open_store(global)?;
    let found = match &args.run {
        Some(id) => store.run(id),
        None => store.latest_incomplete_run(None),
    }
    .map_err(|e| store.diagnosed(e))?;
    let Some(record) = found else {
        return Err(match &args.run {
            Some(id) => Error::NoSuchRunIn {
                id: id.clone(),
                state: super::state_path(global),
            },
            None => Error::NothingToResume,
        });
    };
    match record.status {
        RunStatus::Succeeded => {
            // Ignored: a closed stdout must not panic (SIGPIPE is ignored for `resume`).
            let _ = std::io::Write::write_all(
                &mut std::io::stdout(),
                format!("run {} already succeeded; nothing to resume\n", record.id).as_bytes(),
            );
            return Ok(Exit::Ok);
        }
        RunStatus::Abandoned => {
            return Err(Error::ResumeAbandoned {
                id: record.id.clone(),
                reason: record
                    .error
                    .clone()
                    .unwrap_or_else(|| "no reason given".into()),
            });
        }
        _ => {}
    }
    // Parsing a long runbook, checking the database and reading its checkpoints take
    // about as long as each other: do them at once, so a resumed run reaches its
    // remaining steps sooner.
    let (loaded, checked, prior) = std::thread::scope(|scope| {
        let path = std::path::Path::new(&record.runbook_path);
        let loading = scope.spawn(|| load_file(path));
        let db = store.path().map(std::path::Path::to_path_buf);
        let checking = scope.spawn(move || match db {
            Some(db) => Store::quick_check_file(&db),
            None => Ok(()),
        });
        let prior = store.latest_attempts(&record.id);
        let loaded = loading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let checked = checking
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (loaded, checked, prior)
    });
    checked?;
    let loaded = Arc::new(loaded?);
    args.presenter.check_steps(&loaded)?;
    let prior = prior?;
    if loaded.content_hash != record.content_hash && !args.allow_changed {
        return Err(Error::ResumeChanged {
            path: loaded.display_path.clone(),
            id: record.id.clone(),
        });
    }
    let sets = params::parse_sets(&args.sets)?;
    let params = params::resolve(&loaded.runbook.params, &sets, Some(&record.params))?;
    let carry_on = Continuation {
        prior,
        given: given_settings(global, args.sim_speed),
        calls,
        presenter: args.presenter,
    };
    continue_run(store, &record, loaded, params, global, carry_on)
}

/// What continuing a run needs besides the run: its checkpoints, the target settings
/// given on this command line, the record of its calls, and the presenter's flags.
struct Continuation {
    prior: Vec<StepRecord>,
    given: GivenSettings,
    calls: Option<CallLog>,
    presenter: PresenterArgs,
}

/// Continues an incomplete run (`resume`, or cron's `run --resume-incomplete`): takes
/// its lock, reaches the target it was started with (unless given again), and drives
/// it on from its checkpoints `prior`.
fn continue_run(
    mut store: Store,
    record: &RunRecord,
    loaded: Arc<LoadedRunbook>,
    params: ResolvedParams,
    global: &Global,
    carry_on: Continuation,
) -> Result<Exit, Error> {
    let Continuation {
        prior,
        given,
        calls,
        presenter,
    } = carry_on;
    let settings = RunSettings::resumed(&RunSettings::of_run(record), &given);
    if settings.target == TargetKind::Aws {
        refuse_world_on_aws(record.world.as_deref())?;
    }
    presenter.check_target(&settings, given.sim_speed.is_some())?;
    let serve = super::serve::bind(presenter.serve, settings.target)?;
    let lock = take_lock(&mut store, &record.lock_key, &record.id)?;
    drive(
        store,
        record,
        loaded,
        params,
        Some(prior),
        global,
        Launch {
            settings,
            lock,
            notes: Vec::new(),
            calls,
            presenter,
            serve,
        },
    )
}

/// Opens the state DB and runs SQLite's `quick_check` on it, before anything is
/// written: nothing runs on a damaged database.
fn open_checked_store(global: &Global) -> Result<Store, Error> {
    let store = super::open_store(global)?;
    store.quick_check()?;
    Ok(store)
}

/// The target settings given on this command line (flags and their environment
/// variables); `None` where nothing was given.
pub(super) fn given_settings(global: &Global, sim_speed: Option<f64>) -> GivenSettings {
    GivenSettings {
        target: global.target,
        profile: global.profile.clone(),
        region: global.region.clone(),
        kube_context: global.kube_context.clone(),
        sim_speed,
    }
}

/// This host's name, recorded with runs and locks (a pid means nothing elsewhere).
/// `RUNBOOK_HOST` overrides it (containers whose hostname changes with every start).
pub(super) fn host_name() -> String {
    if let Ok(name) = std::env::var("RUNBOOK_HOST")
        && !name.is_empty()
    {
        return name;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Before a fresh run on `aws`: refuses (exit 4) when an earlier run of the same
/// runbook and params since its last success submitted a job that may still be
/// running, because starting afresh would submit it a second time. Abandoned runs
/// are a person's decision and do not count. On `sim` every run has its own
/// simulated world, whose jobs stop with it, so nothing can run twice.
fn refuse_if_jobs_still_run(
    store: &Store,
    history: &[RunRecord],
    settings: &RunSettings,
    params: &ResolvedParams,
    calls: Option<CallLog>,
) -> Result<(), Error> {
    if settings.target != TargetKind::Aws {
        return Ok(());
    }
    let mut submitted = Vec::new();
    for earlier in history.iter().filter(|r| r.status != RunStatus::Abandoned) {
        let attempts = store.latest_attempts(&earlier.id)?;
        submitted.extend(inflight_jobs::submitted_jobs(&earlier.id, &attempts));
    }
    if submitted.is_empty() {
        return Ok(());
    }
    let runtime = current_thread_runtime()?;
    let aws = aws_settings(settings, params, calls);
    let live = runtime.block_on(async {
        let target = runbook_backend_aws::connect(&aws).await?;
        Ok::<_, BackendError>(inflight_jobs::live_jobs(&target, submitted).await)
    })?;
    if live.is_empty() {
        return Ok(());
    }
    Err(Refusal::JobsMayBeRunning { live }.into())
}

/// A runtime for the async parts of a command (cloud calls, the run itself).
pub(super) fn current_thread_runtime() -> Result<tokio::runtime::Runtime, Error> {
    // One thread: steps wait on I/O (cloud calls, child processes, virtual time), and
    // checkpoints are short SQLite transactions; a thread pool would only add wake-ups
    // between threads (a third of the cost of a 10,000-step run of `log`).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// The aws target's settings of a run.
pub(super) fn aws_settings(
    settings: &RunSettings,
    params: &ResolvedParams,
    record_calls: Option<CallLog>,
) -> AwsSettings {
    AwsSettings {
        record_calls,
        quick_retries: false,
        profile: settings.profile.clone(),
        region: settings.region.clone(),
        runbook_region: params
            .values
            .get("region")
            .and_then(|r| r.as_str())
            .map(str::to_string),
        kube_context: settings.kube_context.clone(),
    }
}

/// The file `--record-calls` names, opened for appending (several runs may add to
/// one record).
pub(super) fn call_log(global: &Global) -> Result<Option<CallLog>, Error> {
    let Some(path) = &global.record_calls else {
        return Ok(None);
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| Error::CallsFile {
            path: path.clone(),
            source,
        })?;
    Ok(Some(CallLog::new(file)))
}

/// Identifies (runbook file, params, target, named world): one run of it at a time per
/// state DB, and the runs `run --resume-incomplete` considers. A run on a named world
/// is another series than the same runbook on worlds of its own (whose key is as it
/// was before worlds existed). Secret values are not part of it, so nothing derived
/// from them is stored.
fn lock_key(
    loaded: &LoadedRunbook,
    params: &ResolvedParams,
    target: TargetKind,
    world: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(loaded.path.display().to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(params.masked().to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(target.as_str().as_bytes());
    if let Some(world) = world {
        hasher.update(b"\nworld ");
        hasher.update(world.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// `20261125-174001-3fa2c1`: sortable by start time; 24 random bits keep ids unique
/// even for hundreds of runs a second (and a collision is retried).
fn new_run_id(now_ms: i64) -> String {
    let suffix: u32 = rand::random::<u32>() & 0x00ff_ffff;
    format!("{}-{suffix:06x}", timefmt::compact(now_ms))
}

/// The seed of every new simulated world: the same runbook tells the same story.
pub(super) const SIM_SEED: u64 = 20_221_107;

/// A run's clock, the services its actions use and, on `sim`, the simulated world
/// they act on (which `--serve` serves).
pub(super) struct Built {
    pub(super) clock: Clock,
    pub(super) target: runbook_backend::Target,
    pub(super) world: Option<Arc<runbook_backend_sim::SimTarget>>,
}

/// The run's clock and the services its actions use: a simulated world on `sim`
/// (`world`: new, the run's own on resume, or a named world's), real AWS on `aws`
/// (configured and its credentials checked here, so a missing region or bad
/// credentials stop the run before any step).
pub(super) async fn build_target(
    kind: TargetKind,
    world: &SimWorld,
    last_event_at: i64,
    sim_speed: Option<f64>,
    aws: &AwsSettings,
) -> Result<Built, BackendError> {
    match kind {
        TargetKind::Sim => {
            let start = world.at_ms().max(last_event_at);
            let clock =
                runbook_backend::VirtualClock::new(u64::try_from(start).unwrap_or(0), sim_speed);
            let clock_of_world = Arc::clone(&clock);
            let world = match world {
                SimWorld::Fresh => runbook_backend_sim::SimTarget::new(SIM_SEED, clock_of_world),
                SimWorld::Own(s) => {
                    runbook_backend_sim::SimTarget::restore(&s.data, clock_of_world)?
                }
                SimWorld::Shared(s) => {
                    runbook_backend_sim::SimTarget::take_over(&s.data, clock_of_world)?
                }
            };
            Ok(Built {
                clock: Clock::Virtual(clock),
                target: world.target(),
                world: Some(world),
            })
        }
        TargetKind::Aws => {
            let target = runbook_backend_aws::connect(aws).await?;
            if let Some(wanted) = &aws.runbook_region
                && *wanted != target.region
            {
                eprintln!(
                    "warning: the runbook's `region` parameter is {wanted} but AWS calls go to {} (from --region or the AWS configuration); names built from the parameter may not match",
                    target.region
                );
            }
            Ok(Built {
                clock: Clock::Real,
                target,
                world: None,
            })
        }
    }
}

/// What the log says about the named world a run works in.
fn world_notice(name: &str, world: &SimWorld) -> String {
    let at = std::time::Duration::from_millis(u64::try_from(world.at_ms()).unwrap_or(0));
    match world {
        SimWorld::Fresh => format!("world `{name}` is new: it starts empty, at virtual time 0"),
        SimWorld::Shared(_) => format!(
            "world `{name}`: what the runs before made exists; virtual time continues from {}",
            crate::progress::elapsed(at)
        ),
        SimWorld::Own(_) => format!(
            "world `{name}`: continuing this run's own state, from virtual time {}",
            crate::progress::elapsed(at)
        ),
    }
}

/// How a run's failure is told (on its last line and in the state DB): the step with
/// its action, and the error, e.g. `step roles[2] (create-job-role) failed: ...`.
fn failure_text(loaded: &LoadedRunbook, step: &str, error: &str) -> String {
    format!("step {} failed: {error}", loaded.runbook.labelled(step))
}

/// `runbook · priority-demo`: the board's title.
fn runbook_title(loaded: &LoadedRunbook) -> String {
    format!("runbook · {}", loaded.runbook.name)
}

/// The reporter of a run shown on the board, and the board's listener to the target's
/// events: the board takes the terminal, and gives the screen back to the usual
/// reporter when the run ends.
type BoardParts = (
    Arc<dyn crate::progress::Reporter>,
    Option<Arc<dyn runbook_backend::EventListener>>,
);

fn board_reporter(
    title: &str,
    clock: &Clock,
    pace: &crate::pace::Pace,
    output: crate::progress::OutputMode,
    log_file: Option<std::fs::File>,
) -> std::io::Result<BoardParts> {
    use crate::board::live::{BoardControls, BoardListener, BoardReporter};
    let origin = clock.now_ms();
    let model = Arc::new(Mutex::new(crate::board::BoardModel::new(origin)));
    let listener = Arc::new(BoardListener(Arc::clone(&model)));
    let controls = Arc::new(BoardControls::new(clock.clone(), pace.go_on().clone()));
    let board = crate::board::Board::open(Arc::clone(&model), title.to_string(), controls)?;
    let log = log_file.map(|file| {
        Arc::new(crate::progress::PlainReporter::to_file(clock.clone(), file))
            as Arc<dyn crate::progress::Reporter>
    });
    let after = reporter_for(output, clock.clone(), None);
    Ok((
        Arc::new(BoardReporter::new(model, board, after, log)),
        Some(listener),
    ))
}

/// What a run is launched with besides its record: the target settings it runs
/// with, its lock (held until it ends), notes for the first lines of its log, the
/// record of its calls (`--record-calls`), and the presenter's flags.
struct Launch {
    settings: RunSettings,
    lock: RunLock,
    notes: Vec<String>,
    calls: Option<CallLog>,
    presenter: PresenterArgs,
    /// `--serve`: the port taken for serving the simulated world.
    serve: Option<std::net::TcpListener>,
}

/// Executes a created (or resumed) run to its end and records how it ended.
fn drive(
    mut store: Store,
    record: &RunRecord,
    loaded: Arc<LoadedRunbook>,
    params: ResolvedParams,
    prior: Option<Vec<StepRecord>>,
    global: &Global,
    launch: Launch,
) -> Result<Exit, Error> {
    let Launch {
        settings,
        lock,
        notes,
        calls,
        presenter,
        mut serve,
    } = launch;
    // `--serve`: the world being served, and the run's clock, which goes on after it.
    let mut served = None;
    let pace = Arc::new(presenter.pace(&settings));
    // `--fast-until`: instant until its step starts, which sets the run's speed.
    let start_speed = if pace.starts_fast() {
        None
    } else {
        settings.sim_speed
    };
    let resumed = prior.is_some();
    let target = settings.target;
    let pid = std::process::id();
    let runtime = current_thread_runtime()?;
    let prior: BTreeMap<String, StepRecord> = prior
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.step_key.clone(), r))
        .collect();
    let world = SimWorld::of_run(&store, record)?;
    // A real cluster's watches see only what exists now: what they observed before
    // the interruption comes back from the state DB.
    let observed_before = if resumed && target == TargetKind::Aws {
        crate::executor::observed_events(&store.events(&record.id)?)
    } else {
        Vec::new()
    };
    let virtual_start = if resumed {
        store.last_event_at(&record.id)?.unwrap_or(0)
    } else {
        0
    };
    if resumed {
        store.mark_run_resumed(
            &record.id,
            pid,
            &host_name(),
            settings.target.as_str(),
            &settings.to_json(),
            Clock::Real.now_ms(),
        )?;
    }
    let run_id = record.id.clone();
    let store = Arc::new(Mutex::new(store));
    let outcome = runtime.block_on(async {
        if global.record_calls.is_some() && target == TargetKind::Sim {
            eprintln!("note: --record-calls records the aws target's calls; the sim target makes none");
        }
        let aws = aws_settings(&settings, &params, calls);
        let Built { clock, target: services, world: simulated } =
            build_target(target, &world, virtual_start, start_speed, &aws)
                .await
                .map_err(|source| Error::RunNotStarted { run_id: run_id.clone(), source })?;
        if let (Some(listener), Some(simulated)) = (serve.take(), simulated) {
            let kubeconfig = super::serve::kubeconfig_path(global, &run_id);
            let serving = super::serve::start(listener, simulated, None, &kubeconfig)
                .await
                .map_err(|source| Error::Serve { path: kubeconfig, source })?;
            served = Some((serving, clock.clone()));
        }
        services.observer.restore_events(observed_before);
        // The account and region the target resolved (STS on aws; the simulated
        // account on sim), for templates, e.g. bucket names.
        let run_value = json!({
            "id": record.id,
            "started_at": timefmt::rfc3339_ms(record.started_at_ms),
            "target": target.as_str(),
            "account_id": services.account_id,
            "region": services.region,
        });
        if let Some(wanted) = params.values.get("account_id").and_then(|v| v.as_str())
            && !wanted.is_empty()
            && wanted != services.account_id
        {
            eprintln!(
                "warning: the runbook's `account_id` parameter is {wanted} but the {} target's account is {} (run.account_id); names built from the parameter will not match",
                target.as_str(),
                services.account_id
            );
        }
        let vars = compute_vars(&loaded, &params, &run_value)?;
        let log_file = match &global.log_file {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| Error::LogFile { path: path.clone(), source })?,
            ),
            None => None,
        };
        let (reporter, board_listener) = if presenter.shows_board() {
            board_reporter(&runbook_title(&loaded), &clock, &pace, global.output, log_file)
                .map_err(|source| Error::LogFile { path: "the terminal (--board)".into(), source })?
        } else {
            (reporter_for(global.output, clock.clone(), log_file), None)
        };
        // The story is told from here on, as the target records it (and the board, if
        // shown, follows the same events).
        let narrator: Arc<dyn runbook_backend::EventListener> = Arc::new(Narrator::new(
            Arc::clone(&reporter),
            params.masker(),
            presenter.verbose,
        ));
        services.observer.subscribe(match board_listener {
            Some(board) => Arc::new(runbook_backend::Listeners(vec![board, narrator])),
            None => narrator,
        });
        let to_record = signals::RunToRecord {
            store: Arc::clone(&store),
            run_id: run_id.clone(),
            lock_key: record.lock_key.clone(),
        };
        let cancel = match signals::install(Arc::clone(&reporter), to_record) {
            Ok(rx) => CancelSignal::new(rx),
            Err(e) => {
                eprintln!("warning: cannot catch SIGINT/SIGTERM ({e}); an interrupted run is still resumable");
                CancelSignal::never()
            }
        };
        let step_ids: Vec<&str> = loaded
            .runbook
            .steps
            .iter()
            .chain(loaded.runbook.finally.iter())
            .map(|s| s.id.as_str())
            .collect();
        let scope = RunScope::new(&params.values, vars, run_value, &step_ids);
        let exec = Arc::new(Execution {
            run_id: run_id.clone(),
            masker: params.masker(),
            param_origins: params.origins.clone(),
            runbook: Arc::clone(&loaded),
            scope,
            target: Arc::new(services),
            clock,
            store: Arc::clone(&store),
            reporter: Arc::clone(&reporter),
            cancel,
            pace,
            prior: Arc::new(prior),
            rerun_finally: resumed && record.status == RunStatus::Failed,
            key_prefix: String::new(),
            failed_inside: Default::default(),
        });
        for note in &notes {
            reporter.notice(note);
        }
        reporter.run_started(&run_id, &loaded.display_path, target.as_str(), resumed);
        if let Some(name) = &record.world {
            reporter.notice(&world_notice(name, &world));
        }
        let done: Vec<&str> = exec
            .prior
            .values()
            .filter(|r| r.status == runbook_state::StepStatus::Succeeded)
            .map(|r| r.step_key.as_str())
            .collect();
        if !done.is_empty() {
            let mut names = done.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            if done.len() > 5 {
                names.push_str(", ...");
            }
            reporter.notice(&format!(
                "{} step(s) already succeeded and will not run again: {names}",
                done.len()
            ));
        }
        let started = Instant::now();
        let outcome = execute(exec).await;
        let (status, detail) = match &outcome {
            Outcome::Succeeded => ("succeeded", None),
            Outcome::Failed { step, error } => ("failed", Some(failure_text(&loaded, step, error))),
            Outcome::Interrupted => ("interrupted", Some(format!("resume with `runbook resume {run_id}`"))),
        };
        reporter.run_finished(&run_id, status, started.elapsed(), detail.as_deref());
        Ok::<_, Error>(outcome)
    });
    let mut store = store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = Clock::Real.now_ms();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        // Nothing ran: the run is recorded as failed with the reason, so `runs` does
        // not show it running forever, and `resume` can try again once it is fixed.
        Err(error) => {
            let reason = match &error {
                // The record is the run's: its id is not repeated in the reason.
                Error::RunNotStarted { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            // A `vars` template that failed may quote a secret parameter's value.
            let reason = params.masker().text(&reason);
            if let Err(e) =
                store.set_run_status(&run_id, RunStatus::Failed, Some(now), Some(&reason))
            {
                eprintln!("error: {e}");
            }
            let _ = store.release_lock(lock);
            return Err(error);
        }
    };
    let (status, error, exit) = match &outcome {
        Outcome::Succeeded => (RunStatus::Succeeded, None, Exit::Ok),
        Outcome::Failed { step, error } => (
            RunStatus::Failed,
            Some(failure_text(&loaded, step, error)),
            Exit::Failed,
        ),
        Outcome::Interrupted => (RunStatus::Interrupted, None, Exit::Interrupted),
    };
    let finished_at = (status != RunStatus::Interrupted).then_some(now);
    if let Err(e) = store.set_run_status(&run_id, status, finished_at, error.as_deref()) {
        eprintln!("error: {e}");
    }
    if let Err(e) = store.release_lock(lock) {
        eprintln!("warning: {e}");
    }
    if exit == Exit::Failed {
        eprintln!(
            "hint: fix the cause, then `runbook resume {run_id}` retries the failed step; or `runbook abandon {run_id}` to retire the run (a scheduled `run --resume-incomplete` starts a new run either way)"
        );
    }
    // The run is recorded: what is served now is its world as it ended. An
    // interrupted run stops serving with it (the Ctrl-C was for both).
    if let Some((served, clock)) = &served
        && exit != Exit::Interrupted
    {
        runtime.block_on(super::serve::until_stopped(
            served,
            "the run has ended",
            clock,
            settings.sim_speed,
        ));
    }
    Ok(exit)
}
