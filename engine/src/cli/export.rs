//! `runbook export --to step-functions FILE`: the runbook as an AWS CloudFormation
//! template deploying a Step Functions state machine and the role it runs as (README,
//! "Running on Step Functions"). The runbook is loaded and its params resolved as `plan`
//! does; what cannot be exported is refused as validation errors are (exit 2).

use std::path::PathBuf;

use super::param_args::ParamArgs;
use super::vars::compute_vars;
use crate::error::Error;
use crate::exit::Exit;
use crate::export;
use crate::runbook::load_file;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The runbook file
    pub file: PathBuf,
    /// What to export to
    #[arg(long = "to", value_enum)]
    pub to: ExportTarget,
    #[command(flatten)]
    pub params: ParamArgs,
    /// The template's format
    #[arg(long, value_enum, default_value_t = TemplateFormat::Json)]
    pub format: TemplateFormat,
    /// Write the template to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print a summary (states, each step's mapping, the role's actions, what was
    /// refused) instead of the template
    #[arg(long)]
    pub dry_run: bool,
    /// Leave this step out (repeatable; `platform/summary` names a step of the runbook
    /// step `platform` includes), with a warning, instead of refusing the export for it
    #[arg(long, value_name = "STEP")]
    pub allow_partial: Vec<String>,
    /// Start the state machine once per time of this EventBridge Scheduler schedule:
    /// `cron(15 2 * * ? *)`, `rate(1 day)`, `at(2026-12-09T02:15:00)`
    #[arg(long, value_name = "EXPRESSION")]
    pub schedule: Option<String>,
    /// The time zone the schedule's times are in
    #[arg(
        long,
        value_name = "ZONE",
        default_value = "UTC",
        requires = "schedule"
    )]
    pub schedule_timezone: String,
    /// How the state machine waits for a cluster or a job run: `optimized` (the `.sync`
    /// integrations) or `sdk` (request-response calls, then polls; what runs on a local
    /// Step Functions such as moto's)
    #[arg(long, value_enum, default_value_t = export::IntegrationStyle::Optimized)]
    pub integration_style: export::IntegrationStyle,
    /// How long a polling wait sleeps between two looks (a wait-for-job of a job started
    /// earlier, or every wait with `--integration-style sdk`), e.g. `30s`, `2m`
    #[arg(long, value_name = "DURATION", value_parser = parse_poll_interval, default_value = "30s")]
    pub poll_interval: std::time::Duration,
}

/// A poll interval: a duration of whole seconds, at least one (a Wait state's
/// `Seconds`).
fn parse_poll_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = runbook_backend::duration::parse_duration(text)?;
    if interval.as_secs() == 0 || interval.subsec_nanos() != 0 {
        return Err(format!(
            "{text} is not a whole number of seconds of at least 1 (a Wait state waits whole seconds)"
        ));
    }
    Ok(interval)
}

/// Where a runbook can be exported to.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportTarget {
    /// An AWS Step Functions state machine, in a CloudFormation template
    StepFunctions,
}

/// The template's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TemplateFormat {
    Json,
    Yaml,
}

pub(super) fn export(args: &ExportArgs) -> Result<Exit, Error> {
    let ExportTarget::StepFunctions = args.to;
    let schedule = args
        .schedule
        .as_deref()
        .map(|expression| export::Schedule::new(expression, &args.schedule_timezone))
        .transpose()
        .map_err(|bad| Error::BadArgument(bad.to_string()))?;
    let loaded = load_file(&args.file)?;
    // A step of an included runbook is named under the step including it
    // (`platform/summary`).
    let known = |id: &String| loaded.runbook.step_at(id).is_some();
    if let Some(unknown) = args.allow_partial.iter().find(|id| !known(id)) {
        return Err(Error::BadArgument(format!(
            "--allow-partial {unknown}: {} has no step `{unknown}`",
            loaded.display_path
        )));
    }
    let params = args.params.resolve(&loaded.runbook.params)?;
    let vars = compute_vars(&loaded, &params, &export::run_scope())?;
    let exported = export::export(
        &loaded,
        &params,
        &vars,
        &args.allow_partial,
        schedule.as_ref(),
        export::Waiting {
            style: args.integration_style,
            poll_interval: args.poll_interval,
        },
    );
    for (id, action, why) in &exported.summary.skipped {
        eprintln!("warning: step {id} ({action}) is not exported: {why}");
    }
    if args.dry_run {
        print!("{}", exported.summary);
    }
    if !exported.refusals.is_empty() {
        return Err(Error::Runbook(export::as_load_error(
            &loaded,
            &exported.refusals,
        )));
    }
    if args.dry_run {
        return Ok(Exit::Ok);
    }
    let template = exported.template.unwrap_or_default();
    let text = match args.format {
        TemplateFormat::Json => serde_json::to_string_pretty(&template).unwrap_or_default() + "\n",
        TemplateFormat::Yaml => export::to_yaml(&template),
    };
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Error::BadArgument(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(Exit::Ok)
}
