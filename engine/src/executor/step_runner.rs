//! Running one step: `when`, `for_each` instances, rendering, attempts with retry and
//! timeout, and the checkpoint of every attempt.
//!
//! The checkpoint order is the heart of resume: an action with outside effects has its
//! rendered input and idempotency key on disk (fsynced) before it runs, and its outputs
//! are written in the same transaction as its status. A step found `running` on resume
//! is re-entered with the same attempt number and key. A step that failed gets a new
//! attempt; its key is new only when the failure was a definitive answer: after a
//! failure that may have taken effect (a timeout, a lost connection, a 5xx, throttling)
//! the next attempt repeats the call under the same key, so a retry can never submit a
//! second job. Failures that retrying cannot fix (invalid input, unsupported) are not
//! retried.

use futures::stream::{FuturesUnordered, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use runbook_actions::{Effects, StepContext};
use runbook_backend::calls::in_planned_step;
use runbook_backend::duration::Humane;
use runbook_backend::{ActionError, ErrorClass, Participant};
use runbook_state::{FailureClass, NewEvent, StepFinish, StepRecord, StepStart, StepStatus};
use serde_json::{Value, json};

use super::Execution;
use super::step_error::StepError;
use crate::progress::{Shown, StepSink};
use crate::runbook::StepDef;
use crate::template;

/// How a step (or one `for_each` instance) ended.
#[derive(Debug, Clone)]
pub(super) enum StepEnd {
    Succeeded(Value),
    /// The failure as it was recorded and shown: masked text (the typed
    /// [`StepError`] may hold a secret, so it does not travel further).
    Failed(String),
    Skipped,
    /// The run is being interrupted; the attempt stays `running` for resume.
    Interrupted,
}

/// Runs a whole step: every `for_each` instance in order, or the step itself.
pub(super) async fn run_step(
    exec: &Execution,
    def: &StepDef,
    participant: &Arc<Participant>,
) -> (StepEnd, Value) {
    let Some(items_node) = &def.for_each else {
        let end = run_instance(exec, def, exec.key(&def.id), None, participant).await;
        let outputs = match &end {
            StepEnd::Succeeded(v) => v.clone(),
            _ => Value::Null,
        };
        return (end, outputs);
    };
    let items = match template::render_node(
        crate::template::environment(),
        items_node,
        &exec.scope.context(None),
    ) {
        Ok(Value::Array(items)) => items,
        Ok(other) => {
            let error = StepError::ForEachNotList(template::json_type_name(&other));
            return (
                fail_unstarted(exec, def, &exec.key(&def.id), None, &error),
                Value::Null,
            );
        }
        Err(e) => {
            let error = template_failure(exec, e);
            return (
                fail_unstarted(exec, def, &exec.key(&def.id), None, &error),
                Value::Null,
            );
        }
    };
    let ends = if def.parallel > 1 {
        run_instances_side_by_side(exec, def, &items, participant).await
    } else {
        run_instances_in_order(exec, def, &items, participant).await
    };
    let mut outputs = Vec::with_capacity(items.len());
    let mut failure = None;
    let mut interrupted = false;
    for end in ends {
        match end {
            StepEnd::Succeeded(v) => outputs.push(v),
            StepEnd::Skipped => outputs.push(Value::Null),
            StepEnd::Interrupted => interrupted = true,
            StepEnd::Failed(e) => {
                outputs.push(Value::Null);
                failure.get_or_insert(e);
            }
        }
    }
    let end = if interrupted {
        StepEnd::Interrupted
    } else {
        match failure {
            Some(e) => StepEnd::Failed(e),
            None => StepEnd::Succeeded(Value::Array(outputs.clone())),
        }
    };
    (end, Value::Array(outputs))
}

/// The instances one after the other, in item order; the first failure (without
/// `continue_on_error`) or an interruption ends the step. Returns the ends of the
/// instances that ran, in item order.
async fn run_instances_in_order(
    exec: &Execution,
    def: &StepDef,
    items: &[Value],
    participant: &Arc<Participant>,
) -> Vec<StepEnd> {
    let mut ends = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let key = exec.key(&format!("{}[{index}]", def.id));
        let end = run_instance(exec, def, key, Some((item, index)), participant).await;
        let stop = match &end {
            StepEnd::Interrupted => true,
            StepEnd::Failed(_) => !def.continue_on_error,
            _ => false,
        };
        ends.push(end);
        if stop {
            break;
        }
    }
    ends
}

/// Up to `def.parallel` instances at once, each with its own place in the target's
/// time (on `sim`, virtual time moves only when all of them wait). After a failure
/// (without `continue_on_error`) or an interruption no new instance starts; those in
/// flight finish. Returns the ends of the instances that ran, in item order.
async fn run_instances_side_by_side(
    exec: &Execution,
    def: &StepDef,
    items: &[Value],
    participant: &Arc<Participant>,
) -> Vec<StepEnd> {
    let mut ends: Vec<Option<StepEnd>> = (0..items.len()).map(|_| None).collect();
    let mut in_flight = FuturesUnordered::new();
    let mut next = 0;
    let mut stop = false;
    // Participants of finished instances leave the clock only after the next ones
    // joined it, so virtual time cannot jump past a start.
    let mut finished: Vec<Arc<Participant>> = Vec::new();
    loop {
        while !stop && next < items.len() && in_flight.len() < def.parallel {
            let index = next;
            next += 1;
            let own = Arc::new(exec.clock.enter());
            let key = exec.key(&format!("{}[{index}]", def.id));
            let item = &items[index];
            in_flight.push(async move {
                let end = run_instance(exec, def, key, Some((item, index)), &own).await;
                (index, end, own)
            });
        }
        finished.clear();
        let Some((index, end, own)) = exec.clock.wait_for(participant, in_flight.next()).await
        else {
            break;
        };
        finished.push(own);
        stop |= match &end {
            StepEnd::Interrupted => true,
            StepEnd::Failed(_) => !def.continue_on_error,
            _ => false,
        };
        ends[index] = Some(end);
    }
    ends.into_iter().flatten().collect()
}

/// A template of the step that does not render, located in the runbook.
fn template_failure(exec: &Execution, e: template::TemplateError) -> StepError {
    StepError::Template {
        error: e.error,
        file: exec.runbook.display_path.clone(),
        pos: e.pos,
    }
}

/// A random idempotency key: 32 hex digits with a prefix, within the 64 characters
/// EMR's `clientToken` allows.
fn new_idempotency_key() -> String {
    let bits: u128 = rand::rng().random();
    format!("rb-{bits:032x}")
}

/// Records and reports a failure that happened before any attempt could start
/// (a template that does not render).
fn fail_unstarted(
    exec: &Execution,
    def: &StepDef,
    key: &str,
    index: Option<usize>,
    failure: &StepError,
) -> StepEnd {
    let now = runbook_backend::Clock::Real.now_ms();
    let mut error = exec.masker.text(&failure.to_string());
    // A template that does not render, or an input that does not fit the action:
    // nothing was called, and the same input fails the same way on every attempt.
    if def.retry.attempts > 1
        && let Some(why) = failure.class().not_retried_because()
    {
        error = format!("{error} ({why})");
    }
    let attempt = exec.prior.get(key).map_or(1, |r| r.attempt + 1);
    let finish = StepFinish {
        status: StepStatus::Failed,
        outputs: None,
        error: Some(error.clone()),
        failure: Some(FailureClass::Permanent),
        finished_at_ms: now,
    };
    let data = json!({"attempt": attempt, "error": error});
    let key_for_record = new_idempotency_key();
    if let Err(e) = record_unrun(
        exec,
        def,
        key,
        index,
        attempt,
        key_for_record,
        &finish,
        "step.failed",
        data,
    ) {
        let unrecorded = StepError::FailureNotRecorded {
            failure: error,
            source: Box::new(e),
        };
        return StepEnd::Failed(unrecorded.to_string());
    }
    let shown = if def.continue_on_error {
        Shown::FailedContinuing
    } else {
        Shown::Failed
    };
    exec.reporter
        .step_finished(key, shown, Duration::ZERO, Some(&error));
    StepEnd::Failed(error)
}

/// Records an attempt that ended without its action running (skipped by `when`, or
/// failed while rendering), in one transaction with its event.
#[expect(
    clippy::too_many_arguments,
    reason = "the fields of one attempt record"
)]
fn record_unrun(
    exec: &Execution,
    def: &StepDef,
    key: &str,
    index: Option<usize>,
    attempt: u32,
    idempotency_key: String,
    finish: &StepFinish,
    event_kind: &str,
    event_data: Value,
) -> Result<(), runbook_state::StateError> {
    let input = json!({"action": def.action.name()});
    let start = step_start(
        def,
        key,
        index,
        attempt,
        idempotency_key,
        input,
        (finish.finished_at_ms, exec.clock.now_ms()),
        false,
    );
    let events = [event(exec, event_kind, key, event_data)];
    exec.store()
        .record_attempt(&exec.run_id, &start, finish, &events, None)
}

/// `started` is (wall clock, the run's clock) at the start, ms.
#[expect(clippy::too_many_arguments, reason = "a plain record constructor")]
fn step_start(
    def: &StepDef,
    key: &str,
    index: Option<usize>,
    attempt: u32,
    idempotency_key: String,
    input: Value,
    started: (i64, i64),
    durable: bool,
) -> StepStart {
    StepStart {
        step_key: key.to_string(),
        // The key without its instance index: `platform/roles` of `platform/roles[2]`.
        step_id: match key.strip_suffix(']').and_then(|k| k.rsplit_once('[')) {
            Some((id, _)) => id.to_string(),
            None => key.to_string(),
        },
        item_index: index.and_then(|i| u32::try_from(i).ok()),
        is_finally: def.is_finally,
        attempt,
        idempotency_key,
        input,
        started_at_ms: started.0,
        clock_started_at_ms: Some(started.1),
        durable,
    }
}

/// An engine event of a step; its data is masked here, so no caller can store a
/// secret through it.
fn event(exec: &Execution, kind: &str, key: &str, mut data: Value) -> NewEvent {
    exec.masker.json_in_place(&mut data);
    NewEvent {
        at_ms: exec.clock.now_ms(),
        kind: kind.to_string(),
        step_key: Some(key.to_string()),
        subject: None,
        data,
    }
}

/// Evaluates `when`; `Ok(true)` when absent.
fn should_run(exec: &Execution, def: &StepDef, ctx: &minijinja::Value) -> Result<bool, StepError> {
    let Some(when) = &def.when else {
        return Ok(true);
    };
    match template::render_node(template::environment(), when, ctx) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(StepError::WhenNotBool {
            got: template::json_type_name(&other),
            file: exec.runbook.display_path.clone(),
            pos: when.pos,
        }),
        Err(e) => Err(template_failure(exec, e)),
    }
}

/// The delay before attempt `next`: exponential backoff, capped, with jitter (a random
/// point in the upper half) so that many runs failing together do not retry together.
fn retry_delay(def: &StepDef, next: u32) -> Duration {
    let base = def.retry.base_delay(next);
    if base.is_zero() {
        return base;
    }
    let factor: f64 = rand::rng().random_range(0.5..=1.0);
    base.mul_f64(factor)
}

async fn run_instance(
    exec: &Execution,
    def: &StepDef,
    key: String,
    item: Option<(&Value, usize)>,
    participant: &Arc<Participant>,
) -> StepEnd {
    let index = item.map(|(_, i)| i);
    let prior: Option<&StepRecord> = exec.prior.get(&key);
    let mut attempt = 1;
    // The key the next attempt must use instead of a new one (re-entry, or a retry of
    // a call that may have taken effect), and the first start of a re-entered attempt
    // on the run's clock.
    let mut reentered_key = None;
    let mut reentered_start = None;
    if let Some(record) = prior.filter(|_| def.is_finally && exec.rerun_finally) {
        attempt = record.attempt + 1;
    } else if let Some(record) = prior {
        match record.status {
            // Reported once for the whole run when it resumes, not per step.
            StepStatus::Succeeded => {
                return StepEnd::Succeeded(record.outputs.clone().unwrap_or(Value::Null));
            }
            StepStatus::Skipped => {
                exec.reporter.step_finished(
                    &key,
                    Shown::Skipped,
                    Duration::ZERO,
                    Some("already skipped"),
                );
                return StepEnd::Skipped;
            }
            StepStatus::Failed if def.continue_on_error => {
                let error = record.error.clone().unwrap_or_default();
                exec.reporter.step_finished(
                    &key,
                    Shown::FailedContinuing,
                    Duration::ZERO,
                    Some(&error),
                );
                return StepEnd::Failed(error);
            }
            StepStatus::Failed => {
                attempt = record.attempt + 1;
                if record.failure == Some(FailureClass::Uncertain)
                    && def.action.effects() == Effects::Mutates
                {
                    reentered_key = Some(record.idempotency_key.clone());
                }
            }
            StepStatus::Running => {
                attempt = record.attempt;
                reentered_key = Some(record.idempotency_key.clone());
                reentered_start = record.clock_started_at_ms;
            }
        }
    }
    let env = template::environment();
    let ctx = exec.scope.context(item);
    match should_run(exec, def, &ctx) {
        Ok(true) => {}
        Ok(false) => return record_skipped(exec, def, &key, index, attempt),
        Err(error) => return fail_unstarted(exec, def, &key, index, &error),
    }
    let input = match template::render_node(env, &def.with, &ctx) {
        Ok(v) => v,
        Err(e) => return fail_unstarted(exec, def, &key, index, &template_failure(exec, e)),
    };
    let runbook = &exec.runbook;
    if let Err(error) = super::input_check::check(
        def,
        &input,
        &runbook.runbook.vars,
        &exec.param_origins,
        &runbook.display_path,
    ) {
        return fail_unstarted(exec, def, &key, index, &error.into());
    }
    // The presenter's pace: the moment to slow down (`--fast-until`) or to talk
    // (`--pause-before`) is before anything of the step is recorded, so a run
    // interrupted during a pause starts the step afresh on resume.
    if exec
        .pace
        .before_step(&key, &exec.clock, &*exec.reporter, &exec.cancel)
        .await
        .is_err()
    {
        exec.reporter.step_finished(
            &key,
            Shown::Interrupted,
            Duration::ZERO,
            Some("interrupted while paused; it starts on resume"),
        );
        return StepEnd::Interrupted;
    }
    let stored_input = json!({"action": def.action.name(), "with": exec.masker.json(&input)});
    let effects = def.action.effects();
    let raw_input = def.with.to_json();
    let mut tries_left = def.retry.attempts;
    loop {
        tries_left -= 1;
        let resumed = reentered_key.is_some();
        let idempotency_key = reentered_key.take().unwrap_or_else(new_idempotency_key);
        let now = exec.clock.now_ms();
        let first_start = reentered_start.take().unwrap_or(now);
        let start = step_start(
            def,
            &key,
            index,
            attempt,
            idempotency_key.clone(),
            stored_input.clone(),
            (runbook_backend::Clock::Real.now_ms(), first_start),
            effects == Effects::Mutates,
        );
        if effects != Effects::Pure {
            if let Err(e) = exec.store().begin_attempt(&exec.run_id, &start) {
                let error = StepError::StartNotRecorded(Box::new(e)).to_string();
                exec.reporter
                    .step_finished(&key, Shown::Failed, Duration::ZERO, Some(&error));
                return StepEnd::Failed(error);
            }
        }
        exec.reporter
            .step_started(&key, def.action.name(), attempt, resumed);
        let started = Instant::now();
        let started_event = event(
            exec,
            "step.started",
            &key,
            json!({"attempt": attempt, "action": def.action.name(), "resumed": resumed}),
        );
        let ctx = StepContext {
            run_id: exec.run_id.clone(),
            step_key: key.clone(),
            attempt,
            idempotency_key: idempotency_key.clone(),
            resumed,
            started_at_ms: first_start,
            target: Arc::clone(&exec.target),
            clock: exec.clock.clone(),
            participant: Arc::clone(participant),
            raw_input: raw_input.clone(),
            reporter: Arc::new(StepSink {
                reporter: Arc::clone(&exec.reporter),
                masker: exec.masker.clone(),
            }),
            cancel: exec.cancel.clone(),
        };
        let plan = checked_plan(exec, def, &input, &key);
        let result = match def.timeout {
            Some(limit) => {
                // On the virtual clock a re-entered attempt keeps its original deadline
                // (the simulated world stood still while the process was away); on the
                // wall clock it gets its whole `timeout` again, because the time the
                // process was down is not time the step spent.
                let left = if exec.clock.is_virtual() {
                    let deadline_ms = first_start
                        .saturating_add(i64::try_from(limit.as_millis()).unwrap_or(i64::MAX));
                    Duration::from_millis(
                        u64::try_from(deadline_ms.saturating_sub(now)).unwrap_or(0),
                    )
                } else {
                    limit
                };
                // The deadline exists before the action can make virtual time jump.
                let deadline = exec.clock.deadline(participant, left);
                tokio::select! {
                    r = in_planned_step(key.clone(), plan, perform(exec, def, &input, &ctx)) => r,
                    () = deadline => Err(ActionError::TimedOut(Humane(limit).to_string())),
                }
            }
            None => in_planned_step(key.clone(), plan, perform(exec, def, &input, &ctx)).await,
        };
        drop(ctx);
        let took = started.elapsed();
        let outcome = match result {
            Err(ActionError::Interrupted) => {
                exec.reporter.step_finished(
                    &key,
                    Shown::Interrupted,
                    took,
                    Some("will be re-entered on resume"),
                );
                return StepEnd::Interrupted;
            }
            Ok(out) => Ok(exec.masker.json(&out)),
            Err(e) => Err(StepError::Action(e)),
        };
        let status = match &outcome {
            Ok(_) => StepStatus::Succeeded,
            Err(_) => StepStatus::Failed,
        };
        // The failure becomes text where it is stored and shown, masked (a secret may
        // be part of it); the typed failure decides the retry below.
        let error = outcome
            .as_ref()
            .err()
            .map(|e| exec.masker.text(&e.to_string()));
        let finish = StepFinish {
            status,
            outputs: outcome.as_ref().ok().cloned(),
            error: error.clone(),
            failure: outcome.as_ref().err().map(|e| failure_class(e.class())),
            finished_at_ms: runbook_backend::Clock::Real.now_ms(),
        };
        let mut events = vec![
            started_event,
            event(
                exec,
                "step.finished",
                &key,
                json!({"attempt": attempt, "status": status.as_str(), "error": error}),
            ),
        ];
        // What the target observed meanwhile, and its state for resume, are stored in
        // the same transaction as the step's outcome.
        let (observed, snapshot) = super::target_record(&exec.target, &exec.clock, &exec.masker);
        events.extend(observed);
        let recorded = if effects == Effects::Pure {
            exec.store()
                .record_attempt(&exec.run_id, &start, &finish, &events, snapshot.as_ref())
        } else {
            exec.store().finish_attempt(
                &exec.run_id,
                &key,
                attempt,
                &finish,
                &events,
                snapshot.as_ref(),
            )
        };
        if let Err(source) = recorded {
            let source = Box::new(source);
            let error = StepError::CheckpointNotWritten { status, source }.to_string();
            exec.reporter
                .step_finished(&key, Shown::Failed, took, Some(&error));
            return StepEnd::Failed(error);
        }
        match (outcome, error) {
            (Ok(out), _) => {
                exec.reporter
                    .step_finished(&key, Shown::Succeeded, took, None);
                return StepEnd::Succeeded(out);
            }
            (Err(failure), error) => {
                let mut error = error.unwrap_or_default();
                let class = failure.class();
                if tries_left > 0
                    && let Some(why) = class.not_retried_because()
                {
                    error = format!("{error} ({why})");
                    tries_left = 0;
                }
                if tries_left == 0 {
                    let shown = if def.continue_on_error {
                        Shown::FailedContinuing
                    } else {
                        Shown::Failed
                    };
                    exec.reporter.step_finished(&key, shown, took, Some(&error));
                    return StepEnd::Failed(error);
                }
                let delay = retry_delay(def, attempt + 1);
                exec.reporter
                    .step_retrying(&key, attempt + 1, delay, &error);
                tokio::select! {
                    () = exec.clock.sleep(participant, delay) => {}
                    // The failed attempt is recorded (with how it failed); resume
                    // starts a new one, with the same key after an uncertain failure.
                    () = exec.cancel.cancelled() => return StepEnd::Interrupted,
                }
                if class == ErrorClass::Uncertain && effects == Effects::Mutates {
                    reentered_key = Some(idempotency_key);
                }
                attempt += 1;
            }
        }
    }
}

/// In a debug build (every test) on `aws`, what the step's plan lists, computed as
/// `plan --target aws` does (with the account and region the run has): every call the
/// step then makes is checked against it ([`in_planned_step`]), so each test's run on
/// moto is also a test of its plan, whatever path the run takes. `None` (no check) in
/// release builds, on `sim`, for a `runbook` step (its steps have their own plans) and
/// for an input the action cannot plan.
fn checked_plan(
    exec: &Execution,
    def: &StepDef,
    input: &Value,
    key: &str,
) -> Option<Vec<runbook_actions::PlannedCall>> {
    if !cfg!(debug_assertions)
        || exec.target.kind != runbook_backend::TargetKind::Aws
        || def.include.is_some()
    {
        return None;
    }
    let context = runbook_actions::PlanContext::new(key, Arc::clone(&exec.target));
    def.action.planned_calls(input, &context).ok()
}

/// What an attempt does: the step's action, or, for a `runbook` step, its included
/// runbook, run by the engine.
fn perform<'a>(
    exec: &'a Execution,
    def: &'a StepDef,
    input: &Value,
    ctx: &'a StepContext,
) -> runbook_actions::action::RunFuture<'a> {
    match &def.include {
        Some(included) => Box::pin(super::included::run_included(
            exec,
            included,
            input.clone(),
            ctx,
        )),
        None => def.action.run(input.clone(), ctx),
    }
}

/// The persisted form of an action's [`ErrorClass`].
fn failure_class(class: ErrorClass) -> FailureClass {
    match class {
        ErrorClass::Rejected => FailureClass::Rejected,
        ErrorClass::Uncertain => FailureClass::Uncertain,
        ErrorClass::Permanent => FailureClass::Permanent,
    }
}

fn record_skipped(
    exec: &Execution,
    def: &StepDef,
    key: &str,
    index: Option<usize>,
    attempt: u32,
) -> StepEnd {
    let finish = StepFinish {
        status: StepStatus::Skipped,
        outputs: None,
        error: None,
        failure: None,
        finished_at_ms: runbook_backend::Clock::Real.now_ms(),
    };
    let data = json!({"reason": "when is false"});
    if let Err(e) = record_unrun(
        exec,
        def,
        key,
        index,
        attempt,
        String::new(),
        &finish,
        "step.skipped",
        data,
    ) {
        return StepEnd::Failed(StepError::SkipNotRecorded(Box::new(e)).to_string());
    }
    exec.reporter
        .step_finished(key, Shown::Skipped, Duration::ZERO, Some("`when` is false"));
    StepEnd::Skipped
}
