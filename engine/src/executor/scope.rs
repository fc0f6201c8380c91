//! The variables templates see: `params`, `vars`, `steps.<id>.{outputs,status}`,
//! `env`, `run`, and `item`/`index` inside `for_each`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value, json};

/// What later steps see of a step.
#[derive(Debug, Clone)]
pub struct StepView {
    /// `pending`, `running`, `succeeded`, `failed` or `skipped`.
    pub status: &'static str,
    /// The outputs; a list of each instance's outputs for a `for_each` step.
    pub outputs: Value,
}

/// The shared, growing template scope of one run.
#[derive(Clone)]
pub struct RunScope {
    base: Arc<Map<String, Value>>,
    steps: Arc<Mutex<BTreeMap<String, StepView>>>,
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
        let env: Map<String, Value> = std::env::vars()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let mut base = Map::new();
        base.insert("params".into(), Value::Object(params.clone()));
        base.insert("vars".into(), Value::Object(vars));
        base.insert("env".into(), Value::Object(env));
        base.insert("run".into(), run);
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
            base: Arc::new(base),
            steps: Arc::new(Mutex::new(steps)),
        }
    }

    pub fn set_step(&self, id: &str, view: StepView) {
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string(), view);
    }

    pub fn step(&self, id: &str) -> Option<StepView> {
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// The template context now, optionally inside a `for_each` instance.
    pub fn context(&self, item: Option<(&Value, usize)>) -> minijinja::Value {
        let mut map = (*self.base).clone();
        let steps: Map<String, Value> = self
            .steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, view)| {
                (
                    id.clone(),
                    json!({"status": view.status, "outputs": view.outputs}),
                )
            })
            .collect();
        map.insert("steps".into(), Value::Object(steps));
        if let Some((value, index)) = item {
            map.insert("item".into(), value.clone());
            map.insert("index".into(), Value::from(index));
        }
        minijinja::Value::from_serialize(Value::Object(map))
    }
}
