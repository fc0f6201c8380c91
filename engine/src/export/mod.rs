//! `runbook export --to step-functions`: a runbook as an AWS Step Functions state
//! machine in a CloudFormation template, for teams that move a nightly batch off one
//! machine's cron onto a managed engine (README, "Running on Step Functions").
//!
//! The runbook is loaded and its params resolved as `plan` does; each step becomes the
//! Task states of its action's calls ([`action_mapping`]), in an order its `needs`
//! allow; `for_each` becomes a Map state. What cannot be written exactly in the States
//! language is refused where it is written ([`refusal`]), never dropped.

mod action_mapping;
mod assert_mapping;
mod cancel_mapping;
mod cfn_template;
mod composition;
mod cron_fields;
mod delete_mapping;
mod finally_path;
mod integration_style;
mod job_polling;
mod kube_mapping;
mod refusal;
mod request;
mod runtime_value;
mod schedule;
mod side_by_side;
mod states;
mod status_polling;
mod step_input;
mod summary;
mod sync_fusion;
mod unrolled_for_each;
mod wait_mapping;
mod when_choice;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::diagnostic::Diagnostic;
use crate::params::ResolvedParams;
use crate::runbook::{LoadedRunbook, StepDef};
use crate::yaml::Node;
use action_mapping::{Mapping, StepToMap, map_step};
pub(crate) use cfn_template::to_yaml;
pub(crate) use integration_style::IntegrationStyle;
pub(crate) use integration_style::Waiting;
use refusal::Unexportable;
pub(crate) use refusal::{Refusal, as_load_error};
use runtime_value::{ACCOUNT_ID, REGION, marker};
pub(crate) use schedule::Schedule;
use states::{NEXT_STEP, State};
use step_input::{KeptOutputs, Scope};
pub(crate) use summary::{StepSummary, Summary};

/// wait-for-job's own default `timeout` (its input's documentation): the `.sync`
/// task's, or the polling's, when the step gives none.
pub(crate) const WAIT_FOR_JOB_DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// What an export produced: the template (when nothing was refused), what it holds,
/// and what was refused or skipped.
pub(crate) struct Exported {
    pub template: Option<Value>,
    pub summary: Summary,
    pub refusals: Vec<Refusal>,
    /// The calls the states make (the role's policy is derived from them): what a
    /// runbook including this one adds to its own.
    pub calls: Vec<Value>,
}

/// Exports `loaded` with `params`; `allow_partial` names steps to leave out (each is
/// reported in the summary's `skipped`); `schedule` adds a schedule that starts it;
/// `waiting` says how waits are written.
pub(crate) fn export(
    loaded: &LoadedRunbook,
    params: &ResolvedParams,
    vars: &Map<String, Value>,
    allow_partial: &[String],
    schedule: Option<&Schedule>,
    waiting: Waiting,
) -> Exported {
    let runbook = &loaded.runbook;
    let context = minijinja::Value::from_serialize(json!({
        "params": params.values,
        "vars": vars,
        "env": crate::template::process_env(),
        "run": run_scope(),
    }));
    let mut exporter = Exporter {
        source: loaded.source.clone(),
        masker: params.masker(),
        context,
        waiting,
        allow_partial: allow_partial.to_vec(),
        exported: BTreeMap::new(),
        steps: Vec::new(),
        covers: Vec::new(),
        calls: Vec::new(),
        for_each: Map::new(),
        summary: Summary {
            runbook: runbook.name.clone(),
            file: loaded.display_path.clone(),
            ..Summary::default()
        },
        refusals: Vec::new(),
    };
    let order = run_order(&runbook.steps);
    let mut fused_wait: Option<usize> = None;
    for (position, &index) in order.iter().enumerate() {
        let def = &runbook.steps[index];
        if fused_wait == Some(index) {
            continue;
        }
        if allow_partial.contains(&def.id) {
            exporter.skip(def, "left out with --allow-partial");
            continue;
        }
        let next = order.get(position + 1).map(|&i| &runbook.steps[i]);
        let waited_by = next.filter(|wait| {
            waiting.sync()
                && sync_fusion::waits_for(wait, def)
                && !allow_partial.contains(&wait.id)
                && !sync_fusion::read_apart(runbook, def, wait, allow_partial)
        });
        let had = exporter.steps.len();
        match exporter.step(def, waited_by) {
            Ok(()) => {
                if exporter.steps.len() > had {
                    exporter.covers.push(vec![index]);
                }
                if let Some(wait) = waited_by {
                    let wait_index = runbook
                        .steps
                        .iter()
                        .position(|s| s.id == wait.id)
                        .unwrap_or(usize::MAX);
                    fused_wait = Some(wait_index);
                    if let Some(covers) = exporter.covers.last_mut() {
                        covers.push(wait_index);
                    }
                    exporter.exported.insert(
                        wait.id.clone(),
                        KeptOutputs {
                            names: Vec::new(),
                            list: false,
                        },
                    );
                    exporter.summary.steps.push(StepSummary {
                        id: wait.id.clone(),
                        action: wait.action.name().to_string(),
                        mapping: format!("waited by {}'s emr-containers:startJobRun.sync", def.id),
                    });
                }
            }
            Err(diagnostic) => exporter.refuse(def, diagnostic),
        }
    }
    // The finally steps run one after another, in an order their `needs` allow, after
    // the main steps whatever their outcome ([`finally_path`]).
    for index in run_order(&runbook.finally) {
        let def = &runbook.finally[index];
        if allow_partial.contains(&def.id) {
            exporter.skip(def, "left out with --allow-partial");
        } else if let Err(diagnostic) = exporter.step(def, None) {
            exporter.refuse(def, diagnostic);
        }
    }
    let deps: Vec<Vec<usize>> = runbook.steps.iter().map(|s| s.deps.clone()).collect();
    let before = side_by_side::ordering(&deps, &order, &exporter.covers);
    exporter.finish(
        &runbook.name,
        runbook.description.as_deref(),
        schedule,
        side_by_side::layout(&before),
    )
}

/// The plan context of step instance `key`: the `aws` target's operations list the
/// calls the state machine's tasks make. The account and region are the execution's,
/// so they stay placeholders (which [`request`] turns into intrinsics).
pub(crate) fn plan_context(key: String) -> runbook_actions::PlanContext {
    static TARGET: std::sync::LazyLock<std::sync::Arc<runbook_backend::Target>> =
        std::sync::LazyLock::new(|| {
            std::sync::Arc::new(runbook_backend_aws::planning_target(None))
        });
    runbook_actions::PlanContext::new(key, std::sync::Arc::clone(&TARGET))
}

/// `run` as the export's templates (and `vars`) see it: the execution's account and
/// region; its id and start time as the plan's placeholders, which nothing translates.
pub(crate) fn run_scope() -> Value {
    json!({
        "target": "aws",
        "account_id": marker(ACCOUNT_ID),
        "region": marker(REGION),
        "id": "<run.id>",
        "started_at": "<run.started_at>",
    })
}

/// The steps in an order their `needs` allow: file order, each step after the steps it
/// needs. Steps that run side by side are laid out from it ([`side_by_side`]); a graph
/// with no such layout runs in this order.
fn run_order(steps: &[StepDef]) -> Vec<usize> {
    let mut placed = vec![false; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    while order.len() < steps.len() {
        let Some(next) = (0..steps.len()).find(|&i| {
            !placed[i]
                && steps[i]
                    .deps
                    .iter()
                    .all(|&d| placed.get(d).copied().unwrap_or(true))
        }) else {
            // The loader refuses cycles; keep whatever is left in file order.
            order.extend((0..steps.len()).filter(|&i| !placed[i]));
            break;
        };
        placed[next] = true;
        order.push(next);
    }
    order
}

struct Exporter {
    /// The runbook's text, to point at what is refused.
    source: String,
    /// The secrets (`secret: true` params, secret-looking environment variables): a
    /// template must not carry one in clear.
    masker: crate::masker::Masker,
    context: minijinja::Value,
    waiting: Waiting,
    /// `--allow-partial`: the steps to leave out, those of included runbooks as
    /// `<step>/<included step>`.
    allow_partial: Vec<String>,
    exported: BTreeMap<String, KeptOutputs>,
    /// Each exported step's states, in order.
    steps: Vec<Vec<State>>,
    /// The runbook steps (indices) each of `steps` is: the step, and the wait-for-job
    /// fused into it.
    covers: Vec<Vec<usize>>,
    calls: Vec<Value>,
    /// The literal lists of the `for_each` steps (and values computed per instance),
    /// set by the first state: Map states read their items there.
    for_each: Map<String, Value>,
    summary: Summary,
    refusals: Vec<Refusal>,
}

impl Exporter {
    fn skip(&mut self, def: &StepDef, why: &str) {
        self.summary.skipped.push((
            def.id.clone(),
            def.action.name().to_string(),
            why.to_string(),
        ));
    }

    fn refuse(&mut self, def: &StepDef, diagnostic: Diagnostic) {
        self.summary.refused.push(def.id.clone());
        let help = diagnostic.help.clone().or_else(|| {
            Some(format!(
                "`--allow-partial {}` leaves the step out, with a warning",
                def.id
            ))
        });
        self.refusals.push(Refusal {
            diagnostic: diagnostic.with_help(help),
        });
    }

    /// Where the step's `action:` value is written (the step's own position when it
    /// cannot be found), and its width.
    fn action_position(&self, def: &StepDef) -> (crate::yaml::Pos, usize) {
        let name = def.action.name();
        let found = self
            .source
            .lines()
            .enumerate()
            .skip(def.pos.line.saturating_sub(1))
            .find_map(|(i, line)| {
                let at = line.find("action:")?;
                let value = line[at..].find(name)? + at;
                Some(crate::yaml::Pos {
                    line: i + 1,
                    col: line[..value].chars().count() + 1,
                })
            });
        found.map_or((def.pos, def.id.len() + 4), |pos| (pos, name.len()))
    }

    fn scope(&self, in_for_each: bool) -> Scope<'_> {
        Scope {
            context: self.context.clone(),
            in_for_each,
            item_known: false,
            exported: &self.exported,
        }
    }

    /// The virtual cluster of the job `with.job` names, when that is the `job_id` output
    /// of an exported step that keeps its `virtual_cluster_id` beside it (a submit-job
    /// not waited for with `.sync`).
    fn job_virtual_cluster(&self, with: &Value) -> Option<String> {
        let path = runtime_value::lone_expression(with.get("job")?.as_str()?)?;
        let id = path.strip_prefix("$.steps.")?.strip_suffix(".job_id")?;
        let kept = self.exported.get(id)?;
        (!kept.list && kept.names.contains(&"virtual_cluster_id"))
            .then(|| marker(&format!("$.steps.{id}.virtual_cluster_id")))
    }

    /// The field of `def`'s input whose rendering holds a secret, to point at.
    fn secret_holder<'d>(&self, def: &'d StepDef, in_map: bool) -> Option<(String, &'d Node)> {
        def.with.as_map()?.iter().find_map(|(key, node)| {
            let rendered = step_input::render(node, &self.scope(in_map)).ok()?;
            (self.masker.json(&rendered) != rendered)
                .then(|| (key.as_str().unwrap_or_default().to_string(), node))
        })
    }

    /// Exports one step (and the wait-for-job its `.sync` task waits for).
    fn step(&mut self, def: &StepDef, waited_by: Option<&StepDef>) -> Result<(), Diagnostic> {
        let at_step = |message: String| Diagnostic::new(message, def.pos, def.id.len() + 4);
        let includes = def.action.name() == crate::runbook::include::RUNBOOK_ACTION;
        let asserts = def.action.name() == "assert";
        let not_yet =
            (!includes && !asserts && !action_mapping::MAPPED.contains(&def.action.name()))
                .then_some("it has no mapping to a Step Functions integration yet");
        if let Some(reason) = refusal::not_exportable(def.action.name()).or(not_yet) {
            let (pos, width) = self.action_position(def);
            return Err(Diagnostic::new(
                format!("{} cannot be exported: {reason}", def.action.name()),
                pos,
                width,
            ));
        }
        let run_time_when = def
            .when
            .as_ref()
            .filter(|when| when.as_str().is_some_and(step_input::reads_run_time_values));
        if let Some(when) = def.when.as_ref().filter(|_| run_time_when.is_none()) {
            match step_input::render(when, &self.scope(false)) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    self.skip(def, "its `when` is false for these params");
                    return Ok(());
                }
                Ok(_) => {
                    return Err(Diagnostic::new(
                        "a `when` that reads values known only when the state machine runs is not exported yet (a Choice state is to come)",
                        when.pos,
                        when.width(),
                    ));
                }
                Err(diagnostic) => return Err(diagnostic),
            }
        }
        if def.retry.attempts > 1
            && (def.retry.delay.subsec_nanos() != 0 || def.retry.delay.as_secs() == 0)
        {
            return Err(at_step(format!(
                "retry delay {:?} is not a whole number of seconds; Step Functions retries after whole seconds (IntervalSeconds)",
                def.retry.delay
            )));
        }
        let in_map = def.for_each.is_some();
        if let Some(items_node) = &def.for_each {
            let items = match step_input::render(items_node, &self.scope(false))? {
                Value::Array(items) => items,
                other => {
                    return Err(Diagnostic::new(
                        format!(
                            "`for_each` must render to a list at export time, not {} (a Map state iterates over a list written into the definition: give a YAML list, or a param of `type: list`)",
                            crate::template::json_type_name(&other)
                        ),
                        items_node.pos,
                        items_node.width(),
                    ));
                }
            };
            self.for_each.insert(def.id.clone(), Value::Array(items));
        }
        if asserts && in_map {
            return Err(at_step(
                "an assert with `for_each` is not exported yet".to_string(),
            ));
        }
        // An assert's conditions are read as conditions, not rendered as an input.
        let with = if asserts {
            Value::Null
        } else {
            step_input::render(&def.with, &self.scope(in_map))?
        };
        let items = self.for_each.get(&def.id).cloned().unwrap_or(Value::Null);
        if self.masker.json(&with) != with || self.masker.json(&items) != items {
            let holder = self.secret_holder(def, in_map);
            let (field, node) = holder.map_or((String::new(), &def.with), |(key, node)| {
                (format!(" (its `{key}`)"), node)
            });
            return Err(Diagnostic::new(
                format!(
                    "the input of step {}{field} holds a secret (a `secret: true` param or a secret-looking environment variable), which the template would carry in clear; secrets are not exported yet",
                    def.id
                ),
                node.pos,
                node.width(),
            ));
        }
        let per_instance_suffix = in_map
            && def.action.name() == "create-job-role"
            && with["name"].as_str().is_some_and(runtime_value::is_dynamic);
        let to_map = StepToMap {
            id: &def.id,
            action: def.action,
            with: &with,
            in_map,
            waited: waited_by.is_some(),
            waiting: self.waiting,
            job_virtual_cluster: self.job_virtual_cluster(&with),
        };
        let at_with = |why: Unexportable| {
            // An input that is missing is pointed at through the action it belongs to.
            let missing = matches!(
                why,
                Unexportable::MadeAsEksctlDoes { .. } | Unexportable::OnlyClusterLookedUp { .. }
            );
            let (pos, width) = if missing {
                self.action_position(def)
            } else {
                def.with
                    .as_map()
                    .map_or((def.pos, def.id.len() + 4), |_| (def.with.pos, 1))
            };
            Diagnostic::new(
                format!("{} cannot be exported: {why}", def.action.name()),
                pos,
                width,
            )
        };
        let mut included_steps = Vec::new();
        // A `for_each` exported instance by instance (see `unrolled_for_each`).
        let mut unrolled = false;
        let mut included_skipped = Vec::new();
        let mut mapping = if includes {
            let included = composition::include(def, &with, self.waiting, &self.allow_partial)
                .map_err(|why| {
                    let (pos, width) = self.action_position(def);
                    Diagnostic::new(
                        format!("the `runbook` step {} cannot be exported: {why}", def.id),
                        pos,
                        width,
                    )
                    .with_help(composition::leave_out_help(&def.id, &why))
                })?;
            included_steps = included.steps;
            included_skipped = included.skipped;
            Mapping {
                states: vec![included.state],
                calls: included.calls,
                output_names: vec!["steps"],
                integrations: vec![format!(
                    "a Parallel state whose one branch is the runbook it includes ({} step{})",
                    included_steps.len(),
                    if included_steps.len() == 1 { "" } else { "s" }
                )],
            }
        } else if asserts {
            assert_mapping::assert_states(def, &self.scope(false))?
        } else {
            match map_step(&to_map) {
                Ok(mapping) => mapping,
                // A typed field taking the item's value cannot be written once for
                // every iteration: each instance on its own, if the list allows.
                Err(why @ Unexportable::DoesNotPlan(_)) if in_map => {
                    match items.as_array().filter(|items| !items.is_empty()) {
                        Some(items) => {
                            unrolled = true;
                            unrolled_for_each::unrolled(
                                def,
                                items,
                                &self.context,
                                &self.exported,
                                self.waiting,
                            )?
                        }
                        None => return Err(at_with(why)),
                    }
                }
                Err(why) => return Err(at_with(why)),
            }
        };
        if per_instance_suffix {
            let suffixes = self.role_suffixes(def, &with).map_err(at_with)?;
            self.for_each
                .insert(format!("{}_role_suffix", def.id), Value::Array(suffixes));
        }
        let timeout = match waited_by {
            Some(wait) => Some(wait_timeout(wait, &self.scope(false))?),
            None => def.timeout,
        };
        // A step that polls (a Wait state) is bounded by its own count of polls.
        let polls = mapping
            .states
            .iter()
            .any(|s| s.body.get("Type") == Some(&json!("Wait")));
        if let Some(timeout) = timeout {
            let tasks: Vec<&mut State> =
                mapping.states.iter_mut().filter(|s| s.is_task()).collect();
            match tasks.as_slice() {
                [_] if !polls => {
                    let seconds = timeout.as_secs().max(1);
                    for task in tasks {
                        task.body.insert("TimeoutSeconds".into(), json!(seconds));
                    }
                }
                _ => {
                    return Err(at_step(format!(
                        "a step `timeout` over the {} calls of {} is not exported yet (TimeoutSeconds bounds one Task)",
                        mapping.states.iter().filter(|s| s.is_task()).count(),
                        def.action.name()
                    )));
                }
            }
        }
        for state in mapping.states.iter_mut().filter(|s| s.is_task()) {
            if def.retry.attempts > 1 {
                state.retry(&def.retry);
            }
        }
        let error_path = format!("$.scratch.{}_error", def.id);
        let mut states = if in_map {
            let mut inner = std::mem::take(&mut mapping.states);
            // An unrolled iteration's instances each end with their own OutputPath.
            if let Some(last) = inner.last_mut().filter(|_| !unrolled) {
                last.body
                    .insert("OutputPath".into(), json!(format!("$.steps.{}", def.id)));
            }
            let mut extra = Vec::new();
            if per_instance_suffix {
                extra.push((
                    "role_suffix.$".to_string(),
                    format!(
                        "States.ArrayGetItem($.for_each.{}_role_suffix, $$.Map.Item.Index)",
                        def.id
                    ),
                ));
            }
            vec![states::map(
                def.id.clone(),
                &format!("$.for_each.{}", def.id),
                def.parallel,
                inner,
                &format!("$.steps.{}", def.id),
                &extra,
            )]
        } else {
            std::mem::take(&mut mapping.states)
        };
        if let Some(when) = run_time_when {
            let then = states.first().map(|s| s.name.clone()).unwrap_or_default();
            let choice =
                when_choice::choice(when, &self.scope(false), format!("{} when", def.id), &then)?;
            states.insert(0, choice);
        }
        if def.continue_on_error {
            for state in states.iter_mut().filter(|s| {
                s.is_task()
                    || matches!(
                        s.body.get("Type").and_then(Value::as_str),
                        Some("Map" | "Parallel")
                    )
            }) {
                state.catch(&["States.ALL"], &error_path, NEXT_STEP);
            }
        }
        self.calls.append(&mut mapping.calls);
        self.summary.steps.push(StepSummary {
            id: def.id.clone(),
            action: def.action.name().to_string(),
            mapping: format!(
                "{}{}",
                if run_time_when.is_some() {
                    "Choice on its `when`, then "
                } else {
                    ""
                },
                describe(&mapping, in_map, def.parallel)
            ),
        });
        self.summary.steps.extend(included_steps);
        self.summary.skipped.extend(included_skipped);
        self.exported.insert(
            def.id.clone(),
            KeptOutputs {
                names: mapping.output_names.clone(),
                list: in_map,
            },
        );
        self.steps.push(states);
        Ok(())
    }

    /// The base36 suffix of each instance's role name, as its trust policy names it.
    fn role_suffixes(&self, def: &StepDef, with: &Value) -> Result<Vec<Value>, Unexportable> {
        let items = self
            .for_each
            .get(&def.id)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let item_text = match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let instance: Value = serde_json::from_str(
                    &with
                        .to_string()
                        .replace(
                            &marker("$.item").replace('\u{1}', "\\u0001"),
                            &item_text.replace('"', "\\\""),
                        )
                        .replace(
                            &marker("$.index").replace('\u{1}', "\\u0001"),
                            &index.to_string(),
                        ),
                )
                .map_err(|error| Unexportable::ItemDoesNotReadBack { index, error })?;
                let calls = def
                    .action
                    .planned_calls(&instance, &plan_context(format!("{}[{index}]", def.id)))
                    .map_err(|e| Unexportable::ItemDoesNotPlan {
                        index,
                        error: e.to_string(),
                    })?;
                let document = calls
                    .iter()
                    .find(|c| c.operation == "CreateRole")
                    .map(|c| c.detail["assumeRolePolicyDocument"].to_string())
                    .unwrap_or_default();
                let suffix = document
                    .split(":sub\":\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .and_then(|value| value.rsplit('-').next())
                    .ok_or(Unexportable::NoServiceAccount { index })?;
                Ok(json!(suffix))
            })
            .collect()
    }

    fn finish(
        mut self,
        name: &str,
        description: Option<&str>,
        schedule: Option<&Schedule>,
        layout: Option<side_by_side::Layout>,
    ) -> Exported {
        let mut start_parameters = json!({"steps": {}, "scratch": {}});
        if !self.for_each.is_empty() {
            match runtime_value::parameters(
                &json!({ "for_each": Value::Object(self.for_each.clone()) }),
            ) {
                Ok(Value::Object(lists)) => {
                    for (key, value) in lists {
                        start_parameters[key] = value;
                    }
                }
                Ok(_) => {}
                Err(e) => self.refusals.push(Refusal {
                    diagnostic: Diagnostic::new(
                        format!("the `for_each` lists cannot be built: {e}"),
                        crate::yaml::Pos { line: 1, col: 1 },
                        1,
                    ),
                }),
            }
        }
        // Every exported step before `covers.len()` is a main step; the rest are finally.
        let finally = self.steps.split_off(self.covers.len());
        if !finally.is_empty() {
            start_parameters["failure"] = Value::Null;
        }
        let keys: Vec<String> = start_parameters
            .as_object()
            .map(|fields| fields.keys().cloned().collect())
            .unwrap_or_default();
        let count = self.steps.len();
        let layout = match layout {
            Some(layout) => layout,
            None => {
                self.summary.side_by_side = Some(
                    "the `needs` graph is not series-parallel (no Parallel states say it exactly); the steps run one after another in an order their `needs` allow".into(),
                );
                side_by_side::Layout::Series((0..count).map(side_by_side::Layout::Step).collect())
            }
        };
        let parallels = side_by_side::parallel_count(&layout);
        if parallels > 0 {
            self.summary.side_by_side = Some(format!(
                "{parallels} Parallel state{}, their branches the steps `needs` lets run side by side, joined before the first step that needs them",
                if parallels == 1 { "" } else { "s" }
            ));
        }
        let mut body = side_by_side::states(layout, &mut self.steps, &keys, &mut 0);
        if finally.is_empty() {
            states::resolve_next_step(&mut body, "Succeeded");
        } else {
            body = finally_path::states(body, finally, &keys);
        }
        let mut all = match schedule {
            Some(_) => schedule::night_states("Start"),
            None => Vec::new(),
        };
        all.push(State::pass("Start".into(), start_parameters));
        all.extend(body);
        self.summary.states = count_states(&all) + 1;
        if !self.refusals.is_empty() {
            return Exported {
                template: None,
                summary: self.summary,
                refusals: self.refusals,
                calls: self.calls,
            };
        }
        let comment = format!("runbook {name}, exported by `runbook export --to step-functions`");
        let definition = states::definition(&comment, all);
        let description = description.map_or_else(
            || format!("runbook {name} as a Step Functions state machine"),
            |d| {
                format!(
                    "runbook {name} as a Step Functions state machine: {}",
                    d.trim()
                )
            },
        );
        let calls = self.calls.clone();
        let mut template = cfn_template::template(&description, definition, self.calls);
        self.summary.role_actions = cfn_template::role_actions(&template);
        if let Some(schedule) = schedule {
            schedule::add_resources(&mut template, schedule, name);
            self.summary
                .role_actions
                .push("states:StartExecution".into());
            self.summary.schedule = Some(schedule.describe());
        }
        Exported {
            template: Some(template),
            summary: self.summary,
            refusals: Vec::new(),
            calls,
        }
    }
}

/// wait-for-job's `timeout`, rendered now: the `.sync` task's TimeoutSeconds.
fn wait_timeout(wait: &StepDef, scope: &Scope<'_>) -> Result<Duration, Diagnostic> {
    let Some(node) = wait.with.get("timeout") else {
        return Ok(wait.timeout.map_or(WAIT_FOR_JOB_DEFAULT_TIMEOUT, |t| {
            t.min(WAIT_FOR_JOB_DEFAULT_TIMEOUT)
        }));
    };
    let rendered = step_input::render(node, scope)?;
    let text = match &rendered {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let waited = runbook_backend::duration::parse_duration(&text).map_err(|e| {
        Diagnostic::new(
            format!("wait-for-job's timeout: {e}"),
            node.pos,
            node.width(),
        )
    })?;
    Ok(wait.timeout.map_or(waited, |t| t.min(waited)))
}

/// Every state, those inside Map states included.
fn count_states(states: &[State]) -> usize {
    fn nested(value: &Value) -> usize {
        let of = |states: &Value| {
            states.as_object().map_or(0, |states| {
                states.len() + states.values().map(nested).sum::<usize>()
            })
        };
        let branches = value
            .get("Branches")
            .and_then(Value::as_array)
            .map_or(0, |branches| {
                branches.iter().map(|b| of(&b["States"])).sum()
            });
        value.pointer("/ItemProcessor/States").map_or(0, of) + branches
    }
    states
        .iter()
        .map(|s| 1 + nested(&Value::Object(s.body.clone())))
        .sum()
}

/// A step's mapping in one line, for the summary.
fn describe(mapping: &Mapping, in_map: bool, parallel: usize) -> String {
    let mut integrations = mapping.integrations.clone();
    // Alternatives of one call (S3's CreateBucket in and outside us-east-1) read once.
    integrations.dedup();
    let calls = integrations.join(", ");
    if in_map {
        format!("Map (MaxConcurrency {parallel}) of: {calls}")
    } else {
        calls
    }
}
