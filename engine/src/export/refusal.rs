//! What cannot be exported, said where it is written: each refusal is a diagnostic with
//! `file:line:col`, the source line and the reason, printed and exited with as a
//! validation error is (exit 2), never dropped silently.

use crate::diagnostic::Diagnostic;
use crate::runbook::{LoadError, LoadedRunbook};

/// Why an action cannot be exported whatever its input: what it observes or where it
/// runs is outside what any integration can reach (or, for `sleep`, not written yet).
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
        "sleep" => {
            "a Wait state, what it would be on Step Functions, is not written by this export yet"
        }
        _ => return None,
    })
}

/// One refusal: what cannot be exported, where in the file.
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
