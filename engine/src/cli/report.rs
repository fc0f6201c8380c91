//! `runbook report [RUN] [-o FILE]`: writes the run's HTML report and prints its path.

use std::path::PathBuf;

use runbook_state::RunFilter;

use super::{Global, open_store};
use crate::error::Error;
use crate::exit::Exit;
use crate::report::{self, Liveness};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run [default: the latest run]
    pub run: Option<String>,
    /// Where to write the HTML file [default: runbook-report-RUN.html in the current
    /// directory]
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub(super) fn report(global: &Global, args: &ReportArgs) -> Result<Exit, Error> {
    let store = open_store(global)?;
    let run_id = match &args.run {
        Some(id) => id.clone(),
        None => {
            let latest = store.runs(&RunFilter {
                limit: Some(1),
                ..RunFilter::default()
            })?;
            latest.into_iter().next().ok_or(Error::NoRuns)?.id
        }
    };
    let model = report::load(&store, &run_id, liveness)?;
    let html = report::render(&model, runbook_backend::Clock::Real.now_ms());
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runbook-report-{run_id}.html")));
    if let Err(source) = std::fs::write(&path, html) {
        return Err(Error::ReportNotWritten { path, source });
    }
    // The absolute path, so it can be opened from anywhere (or clicked in a terminal).
    let shown = std::path::absolute(&path).unwrap_or(path);
    println!("{}", shown.display());
    Ok(Exit::Ok)
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
