//! The target settings a run is started with, stored with it so that `resume` (and
//! `abandon --cancel-jobs`) reach the same place: the same target, AWS profile, region
//! and Kubernetes context, and on `sim` the same speed.

use runbook_backend::TargetKind;
use serde::{Deserialize, Serialize};

/// What `--target`, `--profile`, `--region`, `--kube-context` and `--sim-speed` said
/// when the run started (after their environment variables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// `sim` or `aws`: stored on its own (`runs.target`), not in the settings' JSON.
    #[serde(skip, default = "sim")]
    pub target: TargetKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim_speed: Option<f64>,
}

/// The same settings as given on one command line: `None` where nothing was given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GivenSettings {
    pub target: Option<TargetKind>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub kube_context: Option<String>,
    pub sim_speed: Option<f64>,
}

impl RunSettings {
    /// The settings of a new run: what was given, `sim` by default.
    pub fn new_run(given: &GivenSettings) -> RunSettings {
        RunSettings {
            target: given.target.unwrap_or(TargetKind::Sim),
            profile: given.profile.clone(),
            region: given.region.clone(),
            kube_context: given.kube_context.clone(),
            sim_speed: given.sim_speed,
        }
    }

    /// The settings a run stored, with whatever was given again replacing them.
    pub fn resumed(stored: &RunSettings, given: &GivenSettings) -> RunSettings {
        RunSettings {
            target: given.target.unwrap_or(stored.target),
            profile: given.profile.clone().or_else(|| stored.profile.clone()),
            region: given.region.clone().or_else(|| stored.region.clone()),
            kube_context: given
                .kube_context
                .clone()
                .or_else(|| stored.kube_context.clone()),
            sim_speed: given.sim_speed.or(stored.sim_speed),
        }
    }

    /// The stored form of all but the target (the state DB's `runs.settings`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }

    /// All of the settings, target included, as `status --json` shows them.
    pub fn shown(&self) -> serde_json::Value {
        let mut shown = self.to_json();
        if let Some(fields) = shown.as_object_mut() {
            fields.insert("target".into(), self.target.as_str().into());
        }
        shown
    }

    /// The settings `run` was started (or last resumed) with: its target
    /// (`runs.target`) and its stored settings. The one reader of a stored run's
    /// settings (resume, `run --resume-incomplete`, `abandon --cancel-jobs`).
    pub fn of_run(run: &runbook_state::RunRecord) -> RunSettings {
        let target = run.target.parse().unwrap_or(TargetKind::Sim);
        RunSettings::from_stored(&run.settings, target)
    }

    /// Reads the stored form, for a run on `target`. Runs from before settings were
    /// stored have none: only their target.
    pub fn from_stored(value: &serde_json::Value, target: TargetKind) -> RunSettings {
        let stored = serde_json::from_value(value.clone()).unwrap_or(RunSettings {
            target,
            profile: None,
            region: None,
            kube_context: None,
            sim_speed: None,
        });
        RunSettings { target, ..stored }
    }
}

/// What the target is before [`RunSettings::from_stored`] gives the run's own.
fn sim() -> TargetKind {
    TargetKind::Sim
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_reuses_what_the_run_started_with_unless_given_again() {
        let stored = RunSettings::new_run(&GivenSettings {
            target: Some(TargetKind::Aws),
            kube_context: Some("demo".into()),
            region: Some("eu-west-1".into()),
            ..GivenSettings::default()
        });
        assert_eq!(
            stored.to_json(),
            serde_json::json!({"region": "eu-west-1", "kube_context": "demo"}),
            "the target is stored on its own"
        );
        assert_eq!(
            stored.shown(),
            serde_json::json!({"target": "aws", "region": "eu-west-1", "kube_context": "demo"}),
        );
        let round_trip = RunSettings::from_stored(&stored.to_json(), TargetKind::Aws);
        assert_eq!(round_trip, stored);
        let resumed = RunSettings::resumed(&round_trip, &GivenSettings::default());
        assert_eq!(resumed, stored);
        let overridden = RunSettings::resumed(
            &round_trip,
            &GivenSettings {
                region: Some("us-east-2".into()),
                ..GivenSettings::default()
            },
        );
        assert_eq!(overridden.region.as_deref(), Some("us-east-2"));
        assert_eq!(overridden.kube_context.as_deref(), Some("demo"));
        assert_eq!(overridden.target, TargetKind::Aws);
    }

    #[test]
    fn runs_from_before_settings_were_stored_keep_their_target() {
        let none = serde_json::json!({});
        assert_eq!(
            RunSettings::from_stored(&none, TargetKind::Aws).target,
            TargetKind::Aws
        );
    }
}
