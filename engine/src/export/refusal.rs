//! What cannot be exported, said where it is written: each refusal is a diagnostic with
//! `file:line:col`, the source line and the reason, printed and exited with as a
//! validation error is (exit 2), never dropped silently.

use crate::diagnostic::Diagnostic;
use crate::runbook::{LoadError, LoadedRunbook};

use super::request::Unmapped;
use super::runtime_value::Untranslatable;

/// Why an action cannot be exported whatever its input: what it observes or where it
/// runs is outside what any integration can reach, an integration would not send what
/// it sends (put-object's bytes), or what it does around its calls (delete-cluster's)
/// is more than the integrations can say exactly.
pub(crate) fn not_exportable(action: &str) -> Option<&'static str> {
    Some(match action {
        "exec" => {
            "it runs a program on the machine that runs runbook; a state machine has no machine of its own to run it on"
        }
        "assert-eviction" => {
            "it follows the job's pods and the scheduler's preemptions while the jobs run; no Step Functions integration observes pod events"
        }
        "wait-for-pods" => {
            "it watches pods until they reach a state; `eks:call` reads once and no integration waits on pods"
        }
        "assert-autoscaling" => {
            "it follows nodes as the autoscaler adds and removes them; no Step Functions integration observes nodes over time"
        }
        "put-object" => {
            "`aws-sdk:s3:putObject` sends a Body written in the States language as JSON, so a text becomes a quoted JSON string (`\"print(1)\\n\"`), not the bytes the run uploads (a `file` is moreover on the machine that runs runbook)"
        }
        "delete-cluster" => {
            "before the cluster it removes the Karpenter NodePools and EC2NodeClasses runbook applied and waits for their nodes (Kubernetes discovery, lists and deletes), deletes the cluster's OIDC provider, and once the cluster is gone releases the VPC and IAM roles create-cluster made for it (found by their tags); the node group and cluster deletes alone would leave those behind"
        }
        "apply-manifest" => {
            "it applies any Kubernetes objects from YAML by server-side apply, resolving their kinds (custom resources among them) through the cluster's API discovery when it runs; this export does not write that yet"
        }
        "enable-autoscaling" => {
            "it installs Karpenter's NodePool and EC2NodeClass and waits until the controller takes them, which this export does not write yet"
        }
        _ => return None,
    })
}

/// Why one step's input cannot be exported, as a sentence that completes
/// "<action> cannot be exported: ...": each kind carries what its sentence names, so
/// the mapping says what is wrong and the diagnostic alone says it in words.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unexportable {
    #[error("`{action}` has no mapping to a Step Functions integration yet")]
    NoMapping { action: String },
    /// The action's own plan refuses the input (markers read as the paths they stand
    /// for).
    #[error("its input does not plan: {0}")]
    DoesNotPlan(String),
    #[error("its plan lists no {operation} call")]
    NoPlannedCall { operation: String },
    #[error(transparent)]
    Unmapped(#[from] Unmapped),
    #[error(transparent)]
    Untranslatable(#[from] Untranslatable),
    /// create-cluster without an input it would otherwise make as eksctl does.
    #[error(
        "without {inputs}, it makes {what} as eksctl does, which is not exported; give {inputs}"
    )]
    MadeAsEksctlDoes {
        /// The missing inputs, as a list in words (`` `role_arn` and `subnet_ids` ``).
        inputs: String,
        /// What it would make for them, in words.
        what: String,
    },
    #[error(
        "without `cluster`, {action} looks for the account's only cluster, which is not exported; give `cluster`"
    )]
    OnlyClusterLookedUp { action: &'static str },
    #[error(
        "without `virtual_cluster_id`, {action} looks for the job in every virtual cluster, which is not exported; give `virtual_cluster_id` (a submit-job step's output)"
    )]
    EveryVirtualClusterSearched { action: &'static str },
    /// cancel-job's `if_running` decides which states are written.
    #[error("its `if_running` must be true or false, known at export time")]
    IfRunningAtRunTime,
    #[error(
        "`virtual_cluster` must be the `virtual_cluster_id` output of a register-vc step: a name is looked up at run time, which is not exported"
    )]
    VirtualClusterByName,
    #[error(
        "`role` must be an ARN or the `role_arn` output of a create-job-role step: a role name is looked up at run time, which is not exported"
    )]
    RoleByName,
    #[error("`expect` must be a list of job states known at export time")]
    ExpectedStatesAtRunTime,
    #[error("`expect` must be a list of job states")]
    ExpectedStatesNotAList,
    /// The duration parser's own words.
    #[error("its timeout: {0}")]
    TimeoutUnreadable(String),
    #[error("its `timeout` must be known at export time")]
    TimeoutAtRunTime,
    /// create-cluster's `wait_timeout`, which bounds the polls of `--integration-style sdk`.
    #[error("its wait_timeout: {0}")]
    WaitTimeoutUnreadable(String),
    #[error("its `wait_timeout` must be known at export time")]
    WaitTimeoutAtRunTime,
    #[error(
        "its `duration` must be known at export time: a Wait state's Seconds are written in the template"
    )]
    SleepAtRunTime,
    #[error(
        "its duration {0:?} is not a whole number of seconds; a Wait state waits whole seconds"
    )]
    SleepNotWholeSeconds(std::time::Duration),
    /// One `for_each` instance's input, its item substituted, is no longer JSON.
    #[error("its input for item {index} does not read back: {error}")]
    ItemDoesNotReadBack {
        index: usize,
        error: serde_json::Error,
    },
    #[error("its input for item {index} does not plan: {error}")]
    ItemDoesNotPlan { index: usize, error: String },
    #[error("the trust policy of item {index} names no service account")]
    NoServiceAccount { index: usize },
    /// A `runbook` step (composition) whose included runbook cannot be exported as it is
    /// given.
    #[error("a `for_each` over an included runbook is not exported yet")]
    IncludedForEach,
    #[error(
        "`retry` and `timeout` on an included runbook are not exported (they bound Task states, and its steps carry their own)"
    )]
    IncludedRetryOrTimeout,
    #[error(
        "its param `{0}` is known only when the state machine runs (an output of an earlier step); an included runbook's params are rendered into its states at export time"
    )]
    IncludedParamAtRunTime(String),
    #[error(transparent)]
    IncludedParam(#[from] crate::params::IncludedParamError),
    #[error(transparent)]
    IncludedVars(#[from] crate::cli::VarError),
    /// What the included runbook refuses, each as `file:line:col: reason`, and the ids
    /// of its steps refused.
    #[error(
        "the runbook it includes is refused ({}; `runbook export` of that file shows each with its line)",
        .each.join("; ")
    )]
    IncludedRefused {
        each: Vec<String>,
        steps: Vec<String>,
    },
    #[error(
        "its state `{name}` would be longer than the {max} characters Step Functions allows a state name; a shorter step id makes room"
    )]
    StateNameTooLong { name: String, max: usize },
}

/// One refusal: what cannot be exported, where in the file.
impl Unexportable {
    /// The action's own plan refused the input: its words, with each run-time value
    /// read as the path it stands for (markers, raw or as serde's Debug writes them).
    pub(crate) fn does_not_plan(error: impl std::fmt::Display) -> Unexportable {
        Unexportable::DoesNotPlan(error.to_string().replace("\\u{1}", "").replace('\u{1}', ""))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub diagnostic: Diagnostic,
}

/// The refusals as the loader's error for `loaded`: printed with source lines and a
/// caret, exit 2.
pub(crate) fn as_load_error(loaded: &LoadedRunbook, refusals: &[Refusal]) -> LoadError {
    LoadError {
        file: loaded.display_path.clone(),
        source_text: loaded.source.clone(),
        diagnostics: refusals.iter().map(|r| r.diagnostic.clone()).collect(),
        included: Vec::new(),
    }
}
