//! `runbook preflight FILE`: the read-only checks of [`crate::preflight`] against the
//! target's account, printed as pass / fail / cannot-check with the reason and the
//! fix; exit 0 unless one fails. `run --preflight` runs them before a run.

use std::path::PathBuf;

use runbook_backend::TargetKind;
use runbook_backend::calls::CallLog;
use serde_json::{Value, json};

use super::Global;
use super::param_args::ParamArgs;
use super::plan::{aws_plan, plan_steps};
use super::run::{aws_settings, build_target, call_log, current_thread_runtime, given_settings};
use super::sim_world::SimWorld;
use crate::error::Error;
use crate::exit::Exit;
use crate::preflight::{self, Check, Needs, Status};
use crate::progress::OutputMode;
use crate::run_settings::RunSettings;
use crate::runbook::{LoadedRunbook, load_file};

#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// The runbook file
    pub file: PathBuf,
    #[command(flatten)]
    pub params: ParamArgs,
}

/// The checks of one runbook on one target.
pub(super) struct Preflight {
    target: TargetKind,
    /// The account and region, when the target could be reached.
    place: Option<(String, String)>,
    checks: Vec<Check>,
}

impl Preflight {
    pub(super) fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} cannot be checked",
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::CannotCheck)
        )
    }

    fn to_json(&self, loaded: &LoadedRunbook) -> Value {
        json!({
            "runbook": loaded.runbook.name,
            "file": loaded.display_path,
            "target": self.target.as_str(),
            "account_id": self.place.as_ref().map(|p| &p.0),
            "region": self.place.as_ref().map(|p| &p.1),
            "ok": !self.failed(),
            "checks": self.checks,
        })
    }

    /// The checks for people: one line each, the fix under it.
    pub(super) fn print(&self, loaded: &LoadedRunbook, to_stderr: bool) {
        let mut text = format!(
            "preflight of {} ({}) on target {}",
            loaded.runbook.name, loaded.display_path, self.target
        );
        if let Some((account, region)) = &self.place {
            text.push_str(&format!(": account {account}, region {region}"));
        }
        text.push('\n');
        for check in &self.checks {
            text.push_str(&format!(
                "  {:<12}  {:<22}  {}\n",
                check.status.as_str(),
                check.check,
                check.detail
            ));
            if let Some(fix) = &check.fix {
                text.push_str(&format!("  {:<12}  {:<22}  fix: {fix}\n", "", ""));
            }
        }
        text.push_str(&self.summary());
        if to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

pub(super) fn preflight(global: &Global, args: &PreflightArgs) -> Result<Exit, Error> {
    let loaded = load_file(&args.file)?;
    let result = current_thread_runtime()?.block_on(check(
        global,
        &loaded,
        &args.params,
        call_log(global)?,
        &SimWorld::Fresh,
    ))?;
    if global.output == OutputMode::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result.to_json(&loaded)).unwrap_or_default()
        );
    } else {
        result.print(&loaded, false);
    }
    Ok(if result.failed() {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// Connects to the target as a run would (on `sim`, the simulated world it would start
/// from: `world`), reads what the runbook needs from its plan with the target's
/// account and region, and checks it. `Err` is a usage error (bad `--set`, `vars` that
/// do not render).
pub(super) async fn check(
    global: &Global,
    loaded: &LoadedRunbook,
    given: &ParamArgs,
    calls: Option<CallLog>,
    world: &SimWorld,
) -> Result<Preflight, Error> {
    let kind = global.target_or_sim();
    // Parameters are checked before anything is reached.
    let (params, _) = plan_steps(loaded, given, kind, global.region.as_deref(), None)?;
    let settings = RunSettings::new_run(&given_settings(global, None));
    let aws = runbook_backend_aws::AwsSettings {
        quick_retries: true,
        ..aws_settings(&settings, &params, calls)
    };
    let target = match build_target(kind, world, 0, None, &aws).await {
        Ok(built) => built.target,
        Err(e) => {
            return Ok(Preflight {
                target: kind,
                place: None,
                checks: preflight::unreachable(
                    &e.to_string(),
                    "configure credentials and a region as for `run` (AWS_PROFILE / --profile, AWS_REGION / --region)",
                ),
            });
        }
    };
    let place = (target.account_id.clone(), target.region.clone());
    // The calls are those of the aws target whatever the target: the same source as
    // `plan --target aws`.
    let steps = aws_plan(loaded, given, global.region.as_deref(), Some(place.clone()))?;
    let needs = Needs::from_plan(&steps);
    Ok(Preflight {
        target: kind,
        place: Some(place),
        checks: preflight::run_checks(&target, &needs).await,
    })
}
