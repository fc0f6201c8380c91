//! `runbook report [RUN] [-o FILE]`: writes the run's HTML report and prints its path.

use std::path::PathBuf;

use runbook_state::RunFilter;

use super::{Global, open_store};
use crate::exit::Exit;
use crate::report::{self, Liveness, ReportError};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run [default: the latest run]
    pub run: Option<String>,
    /// Where to write the HTML file [default: runbook-report-RUN.html in the current
    /// directory]
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub(super) fn report(global: &Global, args: &ReportArgs) -> Exit {
    let store = match open_store(global) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    let run_id = match &args.run {
        Some(id) => id.clone(),
        None => match store.runs(&RunFilter {
            limit: Some(1),
            ..RunFilter::default()
        }) {
            Ok(mut runs) => match runs.pop() {
                Some(run) => run.id,
                None => {
                    eprintln!("error: there are no runs in the state DB yet");
                    return Exit::Usage;
                }
            },
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failed;
            }
        },
    };
    let model = match report::load(&store, &run_id, liveness) {
        Ok(m) => m,
        Err(e @ ReportError::NoSuchRun(_)) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    let html = report::render(&model, runbook_backend::Clock::Real.now_ms());
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runbook-report-{run_id}.html")));
    if let Err(e) = std::fs::write(&path, html) {
        eprintln!(
            "error: failed to write the report to {}: {e}",
            path.display()
        );
        return Exit::Failed;
    }
    // The absolute path, so it can be opened from anywhere (or clicked in a terminal).
    let shown = std::path::absolute(&path).unwrap_or(path);
    println!("{}", shown.display());
    Exit::Ok
}

/// Whether the process of a run recorded as running still exists (signal 0 asks
/// without sending anything). A run killed with `kill -9` left no end behind, and the
/// report says so only if its process is really gone.
fn liveness(pid: u32) -> Liveness {
    let Ok(raw) = i32::try_from(pid) else {
        return Liveness::Unknown;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => Liveness::Alive,
        Err(nix::errno::Errno::EPERM) => Liveness::Alive,
        Err(nix::errno::Errno::ESRCH) => Liveness::Gone,
        Err(_) => Liveness::Unknown,
    }
}
