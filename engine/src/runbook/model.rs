//! The runbook format v1, after loading and validation.
//!
//! Template-bearing parts (`vars`, `with`, `when`, `for_each`) stay YAML nodes with
//! their positions, so that a template error at run time still points at the line that
//! caused it.

use std::sync::Arc;
use std::time::Duration;

use runbook_actions::ErasedAction;

use super::loader::LoadedRunbook;
use crate::yaml::{Node, Pos};

/// A validated runbook.
pub struct Runbook {
    pub name: String,
    pub description: Option<String>,
    pub params: Vec<ParamDef>,
    pub vars: Vec<VarDef>,
    pub steps: Vec<StepDef>,
    pub finally: Vec<StepDef>,
}

/// The type of a parameter, which `--set` values are converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
    List,
    Map,
}

impl ParamType {
    /// Every type, in the order messages and the schema list them.
    pub const ALL: [ParamType; 6] = [
        ParamType::String,
        ParamType::Integer,
        ParamType::Number,
        ParamType::Boolean,
        ParamType::List,
        ParamType::Map,
    ];

    /// The name a runbook writes (`type: integer`): the only place the names are spelled,
    /// so `parse`, the loader's messages and the JSON Schema's `enum` cannot disagree.
    pub const fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::List => "list",
            ParamType::Map => "map",
        }
    }

    /// Every type's name, in the order of [`ParamType::ALL`].
    pub fn names() -> impl Iterator<Item = &'static str> {
        ParamType::ALL.into_iter().map(ParamType::as_str)
    }

    pub fn parse(name: &str) -> Option<ParamType> {
        ParamType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether a JSON value is of this type.
    pub fn accepts(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match self {
            ParamType::String => value.is_string(),
            ParamType::Integer => value.is_i64() || value.is_u64(),
            ParamType::Number => value.is_number(),
            ParamType::Boolean => value.is_boolean(),
            ParamType::List => matches!(value, Value::Array(_)),
            ParamType::Map => matches!(value, Value::Object(_)),
        }
    }
}

/// A declared parameter (`params:`), overridable with `--set`.
#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<serde_json::Value>,
    pub required: bool,
    /// Masked as `***` in output and never stored in the state DB.
    pub secret: bool,
    pub description: Option<String>,
    pub pos: Pos,
}

/// A computed variable (`vars:`), rendered once, in order, from params.
#[derive(Debug, Clone)]
pub struct VarDef {
    pub name: String,
    pub value: Node,
    pub pos: Pos,
}

/// How a failed step is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, including the first.
    pub attempts: u32,
    pub delay: Duration,
    pub backoff: f64,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 1,
            delay: Duration::from_secs(1),
            backoff: 2.0,
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `next` (2, 3, ...): exponential, capped, before jitter.
    pub fn base_delay(&self, next: u32) -> Duration {
        let exponent = i32::try_from(next.saturating_sub(2)).unwrap_or(i32::MAX);
        let secs = self.delay.as_secs_f64() * self.backoff.powi(exponent);
        Duration::from_secs_f64(secs.min(self.max_delay.as_secs_f64()).max(0.0))
    }
}

/// One step of `steps:` or `finally:`.
pub struct StepDef {
    pub id: String,
    pub action: &'static dyn ErasedAction,
    /// The `with:` mapping (an empty mapping when absent).
    pub with: Node,
    pub when: Option<Node>,
    pub for_each: Option<Node>,
    /// Indices (in the same phase) of the steps this one waits for.
    pub deps: Vec<usize>,
    pub retry: RetryPolicy,
    pub timeout: Option<Duration>,
    pub continue_on_error: bool,
    /// How many `for_each` instances run at once (1: one after the other, in order).
    /// Independent cloud calls (five namespaces' roles, buckets, ...) go faster side
    /// by side; the bound keeps AWS from throttling them.
    pub parallel: usize,
    pub is_finally: bool,
    /// The runbook an `action: runbook` step runs, loaded and validated with this one.
    pub include: Option<Arc<LoadedRunbook>>,
    pub pos: Pos,
}

impl StepDef {
    /// The step `key` names inside this one's included runbook (`cluster` or
    /// `roles[2]/...` of `platform/cluster`), if it includes one.
    fn nested(&self, rest: &str) -> Option<&StepDef> {
        self.include.as_ref()?.runbook.step_at(rest)
    }
}

impl Runbook {
    /// The step a step key names: `roles[2]` is an instance of `roles`, and
    /// `platform/cluster` is step `cluster` of the runbook step `platform` includes.
    pub fn step_at(&self, key: &str) -> Option<&StepDef> {
        let (head, rest) = match key.split_once('/') {
            Some((head, rest)) => (head, Some(rest)),
            None => (key, None),
        };
        let id = head.split('[').next().unwrap_or(head);
        let step = self
            .steps
            .iter()
            .chain(&self.finally)
            .find(|s| s.id == id)?;
        match rest {
            None => Some(step),
            Some(rest) => step.nested(rest),
        }
    }
}

impl Runbook {
    /// A step key (relative to this runbook) with its action, for messages:
    /// `roles[2] (create-job-role)`, `platform/cluster (create-cluster)`.
    pub fn labelled(&self, key: &str) -> String {
        match self.step_at(key) {
            Some(step) => format!("{key} ({})", step.action.name()),
            None => key.to_string(),
        }
    }
}

impl std::fmt::Debug for StepDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepDef")
            .field("id", &self.id)
            .field("action", &self.action.name())
            .field("deps", &self.deps)
            .finish_non_exhaustive()
    }
}
