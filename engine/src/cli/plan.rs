//! `runbook plan`: every step's rendered input, without running anything. Values that
//! only exist at run time (step outputs) are shown as `<steps.low_job.outputs.job_id>`.
//! With `--target aws` each step also lists the AWS and Kubernetes operations its action
//! would call (`Action::planned_calls`), still calling nothing: no credentials, no
//! network.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr};
use runbook_actions::{PlanContext, PlannedCall};
use runbook_backend::{Target, TargetKind};
use serde_json::{Value, json};

use super::Global;
use super::param_args::ParamArgs;
use super::vars::compute_vars;
use crate::error::Error;
use crate::exit::Exit;
use crate::params;
use crate::progress::OutputMode;
use crate::runbook::{LoadedRunbook, StepDef, load_file};
use crate::template;

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The runbook file
    pub file: PathBuf,
    #[command(flatten)]
    pub params: ParamArgs,
    /// Print instead the least-privilege IAM policy (JSON) a run on aws needs, from the
    /// calls the plan lists
    #[arg(long)]
    pub iam_policy: bool,
    /// Print instead the Kubernetes ClusterRole and ClusterRoleBinding (YAML) a run on
    /// aws needs in its clusters, from the calls the plan lists
    #[arg(long, conflicts_with = "iam_policy")]
    pub rbac: bool,
}

/// A value known only at run time; renders as `<path>` and grows with attribute access.
#[derive(Debug)]
struct Placeholder(String);

impl Object for Placeholder {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        Some(minijinja::Value::from_object(Placeholder(format!(
            "{}.{key}",
            self.0
        ))))
    }
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

pub(super) fn plan(global: &Global, args: &PlanArgs) -> Result<Exit, Error> {
    let loaded = load_file(&args.file)?;
    if args.iam_policy {
        let steps = aws_plan(&loaded, &args.params, global.region.as_deref(), None)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&crate::iam_policy::policy(&steps)).unwrap_or_default()
        );
        return Ok(Exit::Ok);
    }
    if args.rbac {
        let steps = aws_plan(&loaded, &args.params, global.region.as_deref(), None)?;
        let needs = crate::preflight::Needs::from_plan(&steps);
        print!(
            "{}",
            crate::rbac_role::manifests(&loaded.runbook.name, &needs)
        );
        return Ok(Exit::Ok);
    }
    let target = global.target_or_sim();
    let (params, planned) = plan_steps(
        &loaded,
        &args.params,
        target,
        global.region.as_deref(),
        None,
    )?;
    // A step input that cannot render whatever the run does fails the run there.
    let exit = if planned.iter().any(|s| s.broken) {
        Exit::Usage
    } else {
        Exit::Ok
    };
    if global.output == OutputMode::Json {
        let steps: Vec<Value> = planned.iter().map(PlannedStep::to_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(steps)).unwrap_or_default()
        );
        return Ok(exit);
    }
    println!(
        "plan of {} ({}) on target {}; nothing is run",
        loaded.runbook.name, loaded.display_path, target
    );
    println!("params: {}", params.masked());
    for (n, step) in planned.iter().enumerate() {
        println!();
        print_step(n + 1, step);
    }
    if exit != Exit::Ok {
        eprintln!(
            "error: a step's input cannot render, whatever the run does (shown as <error: ...> above)"
        );
    }
    Ok(exit)
}

/// Every step's rendered input and, on `aws`, the calls of each instance: what `plan`
/// shows, without printing it. `Err` is a usage error (bad `--set`, `vars` that do
/// not render). `region` is `--region`, if given. `place` is the account and region
/// of a target already connected (preflight), which then need no placeholders.
pub(super) fn plan_steps(
    loaded: &LoadedRunbook,
    given: &ParamArgs,
    target: TargetKind,
    region: Option<&str>,
    place: Option<(String, String)>,
) -> Result<(params::ResolvedParams, Vec<PlannedStep>), Error> {
    let params = given.resolve(&loaded.runbook.params)?;
    // The account and region a run would get from its target: the simulated account
    // on sim; on aws the account is only known at run time (STS), and the region is
    // picked as the aws target picks it: --region, AWS_REGION, else the runbook's
    // `region` parameter (a profile's region is only read at run time).
    let (account_id, region) = match (place, target) {
        (Some(place), _) => place,
        (None, TargetKind::Sim) => (
            runbook_backend_sim::DEFAULT_ACCOUNT.to_string(),
            runbook_backend_sim::DEFAULT_REGION.to_string(),
        ),
        (None, TargetKind::Aws) => (
            runbook_actions::planned_call::ACCOUNT_PLACEHOLDER.to_string(),
            region
                .map(str::to_string)
                .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
                .or_else(|| {
                    params
                        .values
                        .get("region")
                        .and_then(|r| r.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "<region>".to_string()),
        ),
    };
    let run = json!({
        "id": "<run.id>",
        "started_at": "<run.started_at>",
        "target": target.as_str(),
        "account_id": account_id,
        "region": region,
    });
    let vars = compute_vars(loaded, &params, &run)?;
    let masker = params.masker();
    let mut planned = Vec::new();
    let place = RunbookPlace {
        params: &params.values,
        vars: &vars,
        run: &run,
        prefix: "",
    };
    let calls_target = (target == TargetKind::Aws)
        .then(|| Arc::new(runbook_backend_aws::planning_target(Some(&region))));
    plan_runbook(loaded, &place, calls_target.as_ref(), &masker, &mut planned)?;
    Ok((params, planned))
}

/// A runbook's place in the plan: its params and vars, the run, and what its step
/// keys start with (`platform/` inside the runbook step `platform` includes).
struct RunbookPlace<'a> {
    params: &'a serde_json::Map<String, Value>,
    vars: &'a serde_json::Map<String, Value>,
    run: &'a Value,
    prefix: &'a str,
}

/// Plans every step of a runbook into `planned`; a `runbook` step is followed by the
/// steps of the runbook it includes, under its key. With `calls_target` (planning
/// for `aws`), each step lists the calls it would make there.
fn plan_runbook(
    loaded: &LoadedRunbook,
    place: &RunbookPlace<'_>,
    calls_target: Option<&Arc<Target>>,
    masker: &crate::masker::Masker,
    planned: &mut Vec<PlannedStep>,
) -> Result<(), Error> {
    let env = template::environment();
    let environment = template::process_env();
    let steps: std::collections::BTreeMap<String, minijinja::Value> = loaded
        .runbook
        .steps
        .iter()
        .chain(&loaded.runbook.finally)
        .map(|s| {
            (
                s.id.clone(),
                minijinja::Value::from_object(Placeholder(format!("steps.{}", s.id))),
            )
        })
        .collect();
    let context = |item: Option<(minijinja::Value, minijinja::Value)>| {
        let mut ctx = minijinja::context! {
            params => minijinja::Value::from_serialize(place.params),
            vars => minijinja::Value::from_serialize(place.vars),
            env => minijinja::Value::from_serialize(&environment),
            run => minijinja::Value::from_serialize(place.run),
            steps => minijinja::Value::from_serialize(&steps),
        };
        if let Some((item, index)) = item {
            ctx = minijinja::context! { item => item, index => index, ..ctx };
        }
        ctx
    };
    for def in loaded.runbook.steps.iter().chain(&loaded.runbook.finally) {
        let key = format!("{}{}", place.prefix, def.id);
        let mut step = plan_step(def, env, &context, masker);
        step.json["id"] = json!(key);
        if let Some(calls_target) = calls_target {
            add_calls(def, &key, calls_target, &mut step);
        }
        let inputs: Vec<(String, Value)> =
            match step.json.get("instances").and_then(Value::as_array) {
                Some(instances) => instances
                    .iter()
                    .enumerate()
                    .map(|(i, with)| (format!("{key}[{i}]"), with.clone()))
                    .collect(),
                None => vec![(key.clone(), step.json["with"].clone())],
            };
        planned.push(step);
        let Some(included) = &def.include else {
            continue;
        };
        for (key, with) in inputs {
            let given = match with.get("params") {
                Some(Value::Object(map)) => map.clone(),
                _ => serde_json::Map::new(),
            };
            let params = planned_params(&included.runbook.params, &given, &key);
            let vars = compute_vars(included, &params, place.run)?;
            let prefix = format!("{key}/");
            let inner = RunbookPlace {
                params: &params.values,
                vars: &vars,
                run: place.run,
                prefix: &prefix,
            };
            plan_runbook(
                included,
                &inner,
                calls_target,
                &masker.extended(params.masker()),
                planned,
            )?;
        }
    }
    Ok(())
}

/// The params of a runbook a step includes, as far as the plan knows them: as the run
/// would resolve them, or, where a value is known only at run time (a placeholder
/// where a number belongs), the given text or else the default.
fn planned_params(
    defs: &[crate::runbook::ParamDef],
    given: &serde_json::Map<String, Value>,
    step: &str,
) -> params::ResolvedParams {
    params::resolve_included(defs, given, step).unwrap_or_else(|_| {
        let mut resolved = params::ResolvedParams::default();
        for def in defs {
            if def.secret {
                resolved.secret_names.push(def.name.clone());
            }
            let value = given
                .get(&def.name)
                .or(def.default.as_ref())
                .cloned()
                .unwrap_or(Value::Null);
            resolved.values.insert(def.name.clone(), value);
        }
        resolved
    })
}

/// The plan's steps on `aws` as `plan --target aws --output json` prints them, calls
/// included: what `--iam-policy` and `preflight` read the runbook's needs from.
pub(super) fn aws_plan(
    loaded: &LoadedRunbook,
    given: &ParamArgs,
    region: Option<&str>,
    place: Option<(String, String)>,
) -> Result<Vec<Value>, Error> {
    let (_, planned) = plan_steps(loaded, given, TargetKind::Aws, region, place)?;
    Ok(planned.iter().map(PlannedStep::to_json).collect())
}

type ContextFn<'a> = dyn Fn(Option<(minijinja::Value, minijinja::Value)>) -> minijinja::Value + 'a;

/// A step of the plan: its rendered input (the JSON `plan` has always printed) and, on
/// `aws`, the calls of each instance.
pub(super) struct PlannedStep {
    json: Value,
    /// An input failed to render though it reads nothing known only at run time: the
    /// run would fail at this step whatever happens before it.
    broken: bool,
    /// One entry per instance (one for a step without `for_each`).
    calls: Vec<InstanceCalls>,
}

/// An instance's index (`None` without `for_each`) and its calls, or why they cannot be
/// listed.
type InstanceCalls = (Option<usize>, Result<Vec<PlannedCall>, Unlisted>);

/// Why the calls of an instance cannot be listed (shown in its place in the plan; the
/// plan itself still succeeds).
#[derive(Debug, thiserror::Error)]
pub(super) enum Unlisted {
    /// The step's input does not render before run time (it reads a step's outputs).
    #[error("cannot be listed before the input renders")]
    InputNotRendered,
    /// The action says why: a placeholder where a number belongs, or how the step
    /// would fail first. Its reason is text until actions give it a type.
    #[error("{0}")]
    Action(String),
}

impl PlannedStep {
    /// The step's JSON with `calls` (each call of a `for_each` instance carries its
    /// `instance` index) and `call_errors` when some could not be listed.
    pub(super) fn to_json(&self) -> Value {
        let mut json = self.json.clone();
        if self.calls.is_empty() {
            return json;
        }
        let mut calls = Vec::new();
        let mut errors = Vec::new();
        for (instance, result) in &self.calls {
            match result {
                Ok(list) => calls.extend(list.iter().map(|call| {
                    let mut value = serde_json::to_value(call).unwrap_or_default();
                    if let (Some(i), Value::Object(map)) = (instance, &mut value) {
                        map.insert("instance".into(), json!(i));
                    }
                    value
                })),
                Err(why) => {
                    let mut error = json!({"error": why.to_string()});
                    if let Some(i) = instance {
                        error["instance"] = json!(i);
                    }
                    errors.push(error);
                }
            }
        }
        json["calls"] = Value::Array(calls);
        if !errors.is_empty() {
            json["call_errors"] = Value::Array(errors);
        }
        json
    }

    fn calls_of(&self, instance: Option<usize>) -> Option<&Result<Vec<PlannedCall>, Unlisted>> {
        self.calls
            .iter()
            .find(|(i, _)| *i == instance)
            .map(|(_, calls)| calls)
    }
}

/// The run-time values (`steps.<id>.outputs...`) the templates under `node` read:
/// an input that reads them renders only in the run.
fn run_time_reads(env: &minijinja::Environment<'_>, node: &crate::yaml::Node) -> Vec<String> {
    let mut reads = std::collections::BTreeSet::new();
    let mut pending = vec![node];
    while let Some(node) = pending.pop() {
        match &node.kind {
            crate::yaml::NodeKind::Str { value, .. } => {
                if let Ok(paths) = template::referenced_variables(env, value) {
                    reads.extend(paths.into_iter().filter(|p| p.starts_with("steps.")));
                }
            }
            crate::yaml::NodeKind::Seq(items) => pending.extend(items),
            crate::yaml::NodeKind::Map(entries) => pending.extend(entries.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    reads.into_iter().collect()
}

/// The calls of each instance of the step on the `aws` target, from its rendered input.
fn add_calls(def: &StepDef, key: &str, target: &Arc<Target>, step: &mut PlannedStep) {
    let plan = |key: String, with: &Value| {
        if with.is_object() {
            def.action
                .planned_calls(with, &PlanContext::new(key, Arc::clone(target)))
                .map_err(Unlisted::Action)
        } else {
            // `plan_step` put the reason it could not render the input there.
            Err(Unlisted::InputNotRendered)
        }
    };
    step.calls = match step.json.get("instances").and_then(Value::as_array) {
        Some(instances) => instances
            .iter()
            .enumerate()
            .map(|(i, with)| (Some(i), plan(format!("{key}[{i}]"), with)))
            .collect(),
        None if def.for_each.is_some() => {
            vec![(None, plan(format!("{key}[<index>]"), &step.json["with"]))]
        }
        None => vec![(None, plan(key.to_string(), &step.json["with"]))],
    };
}

fn plan_step(
    def: &StepDef,
    env: &minijinja::Environment<'_>,
    context: &ContextFn<'_>,
    masker: &crate::masker::Masker,
) -> PlannedStep {
    let broken = std::cell::Cell::new(false);
    let render = |ctx: &minijinja::Value| match template::render_node(env, &def.with, ctx) {
        Ok(v) => masker.json(&v),
        Err(e) => {
            let reads = run_time_reads(env, &def.with);
            if reads.is_empty() {
                // Nothing in the input waits for a run: this render fails as it is.
                broken.set(true);
                json!(format!("<error: {} (at line {})>", e.error, e.pos.line))
            } else {
                json!(format!("<known at run time: reads {}>", reads.join(", ")))
            }
        }
    };
    let mut step = json!({
        "id": def.id,
        "action": def.action.name(),
        "phase": if def.is_finally { "finally" } else { "steps" },
    });
    if let Some(when) = &def.when {
        step["when"] = when.to_json();
    }
    if let Some(t) = def.timeout {
        step["timeout"] = json!(runbook_backend::duration::Humane(t).to_string());
    }
    if def.retry.attempts > 1 {
        step["retry_attempts"] = json!(def.retry.attempts);
    }
    match &def.for_each {
        None => step["with"] = render(&context(None)),
        Some(items_node) => match template::render_node(env, items_node, &context(None)) {
            Ok(Value::Array(items)) => {
                let instances: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        render(&context(Some((
                            minijinja::Value::from_serialize(item),
                            minijinja::Value::from(i),
                        ))))
                    })
                    .collect();
                step["for_each"] = Value::Array(items);
                step["instances"] = Value::Array(instances);
            }
            other => {
                step["for_each"] = match other {
                    Ok(v) => v,
                    Err(_) => items_node.to_json(),
                };
                let item = minijinja::Value::from_object(Placeholder("item".into()));
                let index = minijinja::Value::from_object(Placeholder("index".into()));
                step["with"] = render(&context(Some((item, index))));
            }
        },
    }
    PlannedStep {
        json: step,
        broken: broken.get(),
        calls: Vec::new(),
    }
}

fn print_step(n: usize, planned: &PlannedStep) {
    let step = &planned.json;
    let id = step["id"].as_str().unwrap_or("?");
    let action = step["action"].as_str().unwrap_or("?");
    let phase = if step["phase"] == "finally" {
        " (finally)"
    } else {
        ""
    };
    println!("{n:>3}. {id}: {action}{phase}");
    if let Some(when) = step.get("when") {
        println!("     when: {}", scalar(when));
    }
    if let Some(t) = step.get("timeout") {
        println!("     timeout: {}", scalar(t));
    }
    if let Some(instances) = step.get("instances").and_then(Value::as_array) {
        println!("     for each of {}:", step["for_each"]);
        for (i, with) in instances.iter().enumerate() {
            println!("     [{i}] with:");
            print_yaml(with, 9);
            if let Some(calls) = planned.calls_of(Some(i)) {
                print_calls(&format!("[{i}] calls"), calls, 9);
            }
        }
    } else {
        if let Some(items) = step.get("for_each") {
            println!("     for each of {}:", scalar(items));
        }
        println!("     with:");
        print_yaml(&step["with"], 7);
        if let Some(calls) = planned.calls_of(None) {
            print_calls("calls", calls, 7);
        }
    }
}

/// `calls:` and one line per call, or why they cannot be listed.
fn print_calls(title: &str, calls: &Result<Vec<PlannedCall>, Unlisted>, indent: usize) {
    let pad = " ".repeat(indent);
    match calls {
        Ok(list) if list.is_empty() => println!("     {title}: none"),
        Ok(list) => {
            println!("     {title}:");
            for call in list {
                println!("{pad}{call}");
            }
        }
        Err(why) => println!("     {title}: {why}"),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints JSON as indented YAML-like lines, the way the runbook author wrote it.
fn print_yaml(value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if map.is_empty() => println!("{pad}{{}}"),
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        println!("{pad}{k}:");
                        print_yaml(v, indent + 2);
                    }
                    Value::Array(a) if !a.is_empty() && a.iter().any(|x| x.is_object()) => {
                        println!("{pad}{k}:");
                        print_yaml(v, indent + 2);
                    }
                    other => println!("{pad}{k}: {}", inline(other)),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                println!("{pad}- {}", inline(item));
            }
        }
        other => println!("{pad}{}", inline(other)),
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::String(s) if s.contains('\n') => format!("{s:?}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
