//! `runbook validate`: load and check runbooks, run nothing, write nothing.

use std::path::PathBuf;

use crate::exit::Exit;
use crate::runbook::load_file;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Runbook files to check
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub(super) fn validate(args: &ValidateArgs) -> Exit {
    let mut failed = 0;
    for file in &args.files {
        match load_file(file) {
            Ok(loaded) => println!(
                "{}: ok ({} steps, {} finally)",
                loaded.display_path,
                loaded.runbook.steps.len(),
                loaded.runbook.finally.len()
            ),
            Err(e) => {
                failed += 1;
                eprint!("{e}");
                let count = e.diagnostics.len();
                eprintln!(
                    "{}: {count} error{}\n",
                    e.file,
                    if count == 1 { "" } else { "s" }
                );
            }
        }
    }
    if failed == 0 { Exit::Ok } else { Exit::Usage }
}
