//! `runbook validate`: load and check runbooks, run nothing, write nothing.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::cli::Global;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::exit::Exit;
use crate::progress::OutputMode;
use crate::runbook::{LoadError, load_file};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Runbook files to check
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Checks every file (an invalid one does not stop the others) and says which are
/// valid on stdout; the invalid ones are the error, with all their diagnostics. With
/// `--output json`, one JSON document on stdout tells both (for editors and CI), and
/// the exit code is the same.
pub(super) fn validate(global: &Global, args: &ValidateArgs) -> Result<Exit, Error> {
    let results: Vec<_> = args.files.iter().map(|file| load_file(file)).collect();
    if global.output == OutputMode::Json {
        let files: Vec<Value> = results.iter().map(file_json).collect();
        let ok = results.iter().all(Result::is_ok);
        println!("{}", json!({ "ok": ok, "files": files }));
        return Ok(if ok { Exit::Ok } else { Exit::Usage });
    }
    let mut invalid = Vec::new();
    for result in results {
        match result {
            Ok(loaded) => println!(
                "{}: ok ({} steps, {} finally)",
                loaded.display_path,
                loaded.runbook.steps.len(),
                loaded.runbook.finally.len()
            ),
            Err(e) => invalid.push(e),
        }
    }
    if invalid.is_empty() {
        Ok(Exit::Ok)
    } else {
        Err(Error::InvalidRunbooks(invalid))
    }
}

/// One file's verdict as JSON: its step counts, or its diagnostics.
fn file_json(result: &Result<crate::runbook::LoadedRunbook, LoadError>) -> Value {
    match result {
        Ok(loaded) => json!({
            "file": loaded.display_path,
            "ok": true,
            "steps": loaded.runbook.steps.len(),
            "finally": loaded.runbook.finally.len(),
        }),
        Err(e) => json!({
            "file": e.file,
            "ok": false,
            "diagnostics": e.all().into_iter().map(|(file, source, d)| diagnostic_json(file, d, source)).collect::<Vec<_>>(),
        }),
    }
}

/// A diagnostic as editors read one: the file it is in (the runbook, or a runbook it
/// includes), 1-based line and column, the width to underline, the message, the hint,
/// and the source line it is on.
fn diagnostic_json(file: &str, d: &Diagnostic, source: &str) -> Value {
    json!({
        "severity": "error",
        "file": file,
        "line": d.pos.line,
        "column": d.pos.col,
        "width": d.width,
        "message": d.message,
        "help": d.help,
        "source_line": source.lines().nth(d.pos.line.saturating_sub(1)),
    })
}
