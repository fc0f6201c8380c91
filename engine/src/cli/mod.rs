//! The command line (clap). Each command turns its arguments into a call of a library
//! function and returns its exit code or an [`Error`], which `main` alone prints and
//! maps to an exit code; nothing else in the crate knows about clap.

mod abandon;
mod broken_pipe;
mod docs;
mod export;
mod history;
#[cfg(test)]
mod no_panic_fuzz;
mod param_args;
mod plan;
mod preflight;
mod presenter_args;
mod prune;
mod report;
mod run;
mod run_lock;
pub mod schema;
mod serve;
mod sim_serve;
mod sim_sizes;
mod sim_speed;
mod sim_world;
mod validate;
mod vars;
mod worlds;

pub(crate) use run_lock::LockError;
pub(crate) use vars::{VarError, compute_vars};

use std::path::PathBuf;
use std::str::FromStr;

use clap::{Parser, Subcommand};
use runbook_backend::TargetKind;

use crate::error::{self, Error};
use crate::exit::Exit;
use crate::progress::OutputMode;

#[derive(Debug, Parser)]
#[command(
    name = "runbook",
    version,
    about = "Run templated YAML runbooks that stand up and exercise Amazon EMR on EKS, with checkpoints and resume",
    after_help = "Exit codes: 0 ok, 1 a step failed, 2 invalid runbook or usage, 3 an interrupted run's runbook changed (not resumed), 4 an earlier run's job may still be running (not started), 5 the --world is held by an unfinished run (not started), 75 locked by another run, 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The state database (runs, checkpoints, events) [default: the platform state dir,
    /// e.g. ~/.local/state/runbook/state.db]
    #[arg(long, global = true, env = "RUNBOOK_STATE", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Progress spinners on a terminal and plain lines otherwise (auto), timestamped
    /// lines (plain), or JSON lines (json)
    #[arg(long, global = true, value_enum, default_value_t = OutputMode::Auto)]
    pub output: OutputMode,
    /// Also append plain, timestamped progress lines to this file (for cron)
    #[arg(long, global = true, env = "RUNBOOK_LOG_FILE", value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Where actions take effect: the simulator (sim) or real AWS (aws) [default: sim;
    /// `resume`: the run's own]
    #[arg(long, global = true, env = "RUNBOOK_TARGET", value_parser = TargetKind::from_str)]
    pub target: Option<TargetKind>,
    /// AWS profile for the aws target (default: AWS_PROFILE, else `default`)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region for the aws target [default: AWS_REGION, the profile's region, or
    /// the runbook's `region` parameter]
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Reach the clusters' Kubernetes API through this kubeconfig context (KUBECONFIG
    /// or ~/.kube/config) instead of the EKS endpoint with a token from STS
    #[arg(
        long,
        global = true,
        env = "RUNBOOK_KUBE_CONTEXT",
        value_name = "CONTEXT"
    )]
    pub kube_context: Option<String>,
    /// On aws: append every AWS and Kubernetes call the run makes to this file, one
    /// JSON object per line (step, service, operation), as it is sent
    #[arg(long, global = true, env = "RUNBOOK_RECORD_CALLS", value_name = "PATH")]
    pub record_calls: Option<PathBuf>,
}

impl Global {
    /// The target of commands that start nothing (`plan`): as given, else `sim`.
    pub fn target_or_sim(&self) -> TargetKind {
        self.target.unwrap_or(TargetKind::Sim)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a runbook (validating it first)
    Run(run::RunArgs),
    /// Continue an interrupted or failed run where it stopped
    Resume(run::ResumeArgs),
    /// Retire an incomplete run for good (never resumed again), optionally cancelling
    /// the jobs it left running
    Abandon(abandon::AbandonArgs),
    /// Show a run's steps, attempts, outputs and errors
    Status(history::StatusArgs),
    /// List recent runs
    Runs(history::RunsArgs),
    /// List the named simulated worlds (`run --world NAME`) and what exists in each,
    /// or delete one
    Worlds(worlds::WorldsArgs),
    /// Check runbooks without running anything (exit 2 on any error)
    Validate(validate::ValidateArgs),
    /// Print every step's rendered input without running anything
    Plan(plan::PlanArgs),
    /// Export a runbook as an AWS CloudFormation template deploying a Step Functions
    /// state machine and its role (exit 2 naming what cannot be exported)
    Export(export::ExportArgs),
    /// Check, without changing anything, whether a runbook can succeed in the target's
    /// account (credentials, permissions, versions, bucket names, what exists)
    Preflight(preflight::PreflightArgs),
    /// List the actions, or document one
    Actions(docs::ActionsArgs),
    /// Print the JSON Schema of the runbook format (for editors)
    Schema,
    /// Write a run's HTML report (timeline, cluster, steps, cost) and print its path
    Report(report::ReportArgs),
    /// Delete finished runs older than a given age, with their steps and events
    Prune(prune::PruneArgs),
    /// The simulator's numbers an author sizes a scenario with
    #[command(subcommand)]
    Sim(SimCommand),
    /// Print shell completions
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// `runbook sim ...`.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Node allocatable per instance type, and the requests of Spark's driver and
    /// executor pods for given job settings: what decides whether anything is preempted
    Sizes(sim_sizes::SizesArgs),
    /// Serve a stored simulated world over the Kubernetes, EKS and EMR on EKS APIs (for
    /// kubectl and the AWS CLI): the latest run's, a given run's, or a named world's
    /// (--world), as it was stored; or, with --for-aws, an empty one for `run --target aws`
    Serve(sim_serve::ServeArgs),
}

/// Parses the command line and runs the command.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    broken_pipe::quiet_exit_on_closed_stdout(&cli.command);
    let result = match cli.command {
        Command::Run(args) => run::run(&cli.global, args),
        Command::Resume(args) => run::resume(&cli.global, args),
        Command::Abandon(args) => abandon::abandon(&cli.global, &args),
        Command::Status(args) => history::status(&cli.global, &args),
        Command::Runs(args) => history::runs(&cli.global, &args),
        Command::Worlds(args) => worlds::worlds(&cli.global, &args),
        Command::Validate(args) => validate::validate(&cli.global, &args),
        Command::Plan(args) => plan::plan(&cli.global, &args),
        Command::Export(args) => export::export(&args),
        Command::Preflight(args) => preflight::preflight(&cli.global, &args),
        Command::Actions(args) => docs::actions(&args),
        Command::Schema => Ok(schema::print_schema()),
        Command::Report(args) => report::report(&cli.global, &args),
        Command::Prune(args) => prune::prune(&cli.global, &args),
        Command::Sim(SimCommand::Sizes(args)) => sim_sizes::sizes(&args),
        Command::Sim(SimCommand::Serve(args)) => sim_serve::serve_stored(&cli.global, &args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "runbook", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
    };
    let exit = result.unwrap_or_else(|e| error::report(&e));
    // Programs of `exec` steps whose step stopped waiting for them (a step `timeout`
    // drops the action) get the rest of their grace period, then SIGKILL: nothing a
    // run started outlives it.
    runbook_actions::process_group::end_all(true);
    exit.into()
}

/// The state DB path: `--state`, `RUNBOOK_STATE`, or the platform's state directory.
pub fn state_path(global: &Global) -> PathBuf {
    if let Some(p) = &global.state {
        return p.clone();
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("runbook")
        .join("state.db")
}

/// Opens the state DB.
pub(crate) fn open_store(global: &Global) -> Result<runbook_state::Store, Error> {
    Ok(runbook_state::Store::open(&state_path(global))?)
}
