//! How a command is given a runbook's parameters: `--set KEY=VALUE` and a
//! `--params-file`, for `run`, `plan` and `preflight` alike.

use std::path::PathBuf;

use crate::params::{self, ParamError, ParamsFile, ResolvedParams};
use crate::runbook::ParamDef;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ParamArgs {
    /// Set a parameter (typed as the runbook declares it), e.g. --set executors=3; wins
    /// over --params-file
    #[arg(long = "set", short = 's', value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Read parameters from a YAML or JSON file: a mapping of names to values, typed as
    /// in a runbook (`namespaces: [a, b]`)
    #[arg(long, value_name = "FILE")]
    pub params_file: Option<PathBuf>,
}

impl ParamArgs {
    /// `--set` values only, as `resume` and the tests give them.
    pub fn sets(sets: &[String]) -> ParamArgs {
        ParamArgs {
            sets: sets.to_vec(),
            params_file: None,
        }
    }

    /// Every declared parameter: `--set`, else the params file, else the default.
    pub fn resolve(&self, defs: &[ParamDef]) -> Result<ResolvedParams, ParamError> {
        let sets = params::parse_sets(&self.sets)?;
        let file = self
            .params_file
            .as_deref()
            .map(ParamsFile::read)
            .transpose()?;
        params::resolve_with_file(defs, &sets, file.as_ref(), None)
    }
}
