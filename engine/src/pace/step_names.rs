//! The steps a pace flag names: `high_job`, or `platform/cluster` for step `cluster`
//! of the runbook that step `platform` includes; every instance of a `for_each` step
//! is the step (`priority_classes`, not `priority_classes[2]`).

use crate::diagnostic::did_you_mean;
use crate::runbook::Runbook;

/// A pace flag that names no step of the runbook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} `{name}`: {file} has no such step{}", help.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
pub struct StepNameError {
    flag: &'static str,
    name: String,
    file: String,
    help: Option<String>,
}

/// The step a step key is an attempt of: `platform/roles` of `platform[1]/roles[2]`.
pub fn step_path(key: &str) -> String {
    key.split('/')
        .map(|segment| segment.split('[').next().unwrap_or(segment))
        .collect::<Vec<_>>()
        .join("/")
}

/// Checks that `name`, given to `flag`, names a step of `runbook` (in file `file`).
pub fn check_step_name(
    flag: &'static str,
    name: &str,
    runbook: &Runbook,
    file: &str,
) -> Result<(), StepNameError> {
    let mut paths = Vec::new();
    collect_paths(runbook, "", &mut paths);
    if paths.iter().any(|p| p == name) {
        return Ok(());
    }
    let help = did_you_mean(name, paths.iter().map(String::as_str)).or_else(|| {
        let top: Vec<&str> = runbook
            .steps
            .iter()
            .chain(&runbook.finally)
            .map(|s| s.id.as_str())
            .collect();
        Some(format!(
            "its steps are {} (a step of an included runbook is named `step/inner`)",
            top.join(", ")
        ))
    });
    Err(StepNameError {
        flag,
        name: name.to_string(),
        file: file.to_string(),
        help,
    })
}

fn collect_paths(runbook: &Runbook, prefix: &str, paths: &mut Vec<String>) {
    for step in runbook.steps.iter().chain(&runbook.finally) {
        let path = format!("{prefix}{}", step.id);
        if let Some(included) = &step.include {
            collect_paths(&included.runbook, &format!("{path}/"), paths);
        }
        paths.push(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_key_is_an_attempt_of_its_step_path() {
        assert_eq!(step_path("high_job"), "high_job");
        assert_eq!(step_path("roles[2]"), "roles");
        assert_eq!(step_path("platform[1]/roles[2]"), "platform/roles");
        assert_eq!(step_path("platform/cluster"), "platform/cluster");
    }

    #[test]
    fn names_are_checked_with_a_suggestion() {
        let runbook = crate::runbook::load_str(
            "name: t\nsteps:\n  - { id: low_job, action: log, with: { message: a } }\n  - { id: high_job, action: log, with: { message: b } }\n",
        )
        .expect("valid");
        assert_eq!(
            check_step_name("--pause-before", "high_job", &runbook, "t.yaml"),
            Ok(())
        );
        assert_eq!(
            check_step_name("--pause-before", "hihg_job", &runbook, "t.yaml")
                .expect_err("unknown")
                .to_string(),
            "--pause-before `hihg_job`: t.yaml has no such step; did you mean `high_job`?"
        );
        assert_eq!(
            check_step_name("--fast-until", "zzz", &runbook, "t.yaml")
                .expect_err("unknown")
                .to_string(),
            "--fast-until `zzz`: t.yaml has no such step; its steps are low_job, high_job (a step of an included runbook is named `step/inner`)"
        );
    }
}
