//! `runbook validate`: load and check runbooks, run nothing, write nothing.

use std::path::PathBuf;

use crate::error::Error;
use crate::exit::Exit;
use crate::runbook::load_file;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Runbook files to check
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Checks every file (an invalid one does not stop the others) and says which are
/// valid on stdout; the invalid ones are the error, with all their diagnostics.
pub(super) fn validate(args: &ValidateArgs) -> Result<Exit, Error> {
    let mut invalid = Vec::new();
    for file in &args.files {
        match load_file(file) {
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
