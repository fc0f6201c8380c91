//! The variables templates see: `params`, `vars`, `steps.<id>.{outputs,status}`,
//! `env`, `run`, and `item`/`index` inside `for_each`.
//!
//! `steps` is a live object looked up on access rather than a map rebuilt for every
//! render: rebuilding it would make a runbook of n steps cost n² (100 million entries
//! for 10,000 steps).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::{Map, Value};

/// What later steps see of a step.
#[derive(Debug, Clone)]
pub struct StepView {
    /// `pending`, `running`, `succeeded`, `failed` or `skipped`.
    pub status: &'static str,
    /// The outputs; a list of each instance's outputs for a `for_each` step.
    pub outputs: Value,
}

type Views = Arc<Mutex<BTreeMap<String, StepView>>>;

/// The shared, growing template scope of one run.
#[derive(Clone)]
pub struct RunScope {
    params: minijinja::Value,
    vars: minijinja::Value,
    env: minijinja::Value,
    run: minijinja::Value,
    steps: Views,
}

impl RunScope {
    /// `params`, `vars`, `env` and `run` are fixed for the run; every step id starts
    /// `pending`.
    pub fn new(
        params: &Map<String, Value>,
        vars: Map<String, Value>,
        run: Value,
        step_ids: &[&str],
    ) -> Self {
        let env = crate::template::process_env();
        let steps = step_ids
            .iter()
            .map(|id| {
                (
                    (*id).to_string(),
                    StepView {
                        status: "pending",
                        outputs: Value::Null,
                    },
                )
            })
            .collect();
        RunScope {
            params: minijinja::Value::from_serialize(params),
            vars: minijinja::Value::from_serialize(&vars),
            env: minijinja::Value::from_serialize(&env),
            run: minijinja::Value::from_serialize(&run),
            steps: Arc::new(Mutex::new(steps)),
        }
    }

    /// The scope of a runbook a step of this run includes: its own params, vars and
    /// steps; the same `env` and `run`.
    pub fn nested(
        &self,
        params: &Map<String, Value>,
        vars: Map<String, Value>,
        step_ids: &[&str],
    ) -> Self {
        let mut scope = RunScope::new(params, vars, Value::Null, step_ids);
        scope.env = self.env.clone();
        scope.run = self.run.clone();
        scope
    }

    /// Each step's outputs by id, as later steps read them.
    pub fn step_outputs(&self) -> Map<String, Value> {
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, view)| (id.clone(), view.outputs.clone()))
            .collect()
    }

    /// `run` as templates read it, as JSON.
    pub fn run_json(&self) -> Value {
        serde_json::to_value(&self.run).unwrap_or(Value::Null)
    }

    pub fn set_step(&self, id: &str, view: StepView) {
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string(), view);
    }

    /// The template context now, optionally inside a `for_each` instance.
    pub fn context(&self, item: Option<(&Value, usize)>) -> minijinja::Value {
        let steps = minijinja::Value::from_object(StepsObject(Arc::clone(&self.steps)));
        let base = minijinja::context! {
            params => self.params.clone(),
            vars => self.vars.clone(),
            env => self.env.clone(),
            run => self.run.clone(),
            steps => steps,
        };
        match item {
            Some((value, index)) => minijinja::context! {
                item => minijinja::Value::from_serialize(value),
                index => index,
                ..base
            },
            None => base,
        }
    }
}

/// `steps` in templates: each step's status and outputs, read when accessed.
#[derive(Debug)]
struct StepsObject(Views);

impl Object for StepsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let views = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let view = views.get(key.as_str()?)?;
        Some(minijinja::context! {
            status => view.status,
            outputs => minijinja::Value::from_serialize(&view.outputs),
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys: Vec<minijinja::Value> = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .map(|k| minijinja::Value::from(k.as_str()))
            .collect();
        Enumerator::Values(keys)
    }
}
