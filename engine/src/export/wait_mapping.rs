//! `sleep` as a Wait state: Step Functions waits the same time, and an execution
//! waiting costs nothing until it goes on.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::action_mapping::{Builder, field};
use super::refusal::Unexportable;
use super::runtime_value::{DurationNotKnown, known_duration};
use super::states::State;

/// The sleep's duration, which a Wait state's `Seconds` must say at export time, in
/// whole seconds.
pub(super) fn check_duration(with: &Value) -> Result<Duration, Unexportable> {
    let duration = match known_duration(field(with, "duration")) {
        Ok(Some(duration)) => duration,
        // The action's own plan, made first, refuses a sleep without a duration.
        Ok(None) => return Err(Unexportable::does_not_plan("`duration` is required")),
        Err(DurationNotKnown::AtRunTime) => return Err(Unexportable::SleepAtRunTime),
        Err(DurationNotKnown::Unreadable(why)) => return Err(Unexportable::does_not_plan(why)),
    };
    if duration.subsec_nanos() != 0 {
        return Err(Unexportable::SleepNotWholeSeconds(duration));
    }
    Ok(duration)
}

/// A Wait of the duration; its output `slept_ms` is the duration, as the run's.
pub(super) fn sleep(b: &mut Builder<'_>) -> Result<(), Unexportable> {
    let duration = check_duration(b.step.with)?;
    let seconds = duration.as_secs();
    b.mapping.states.push(State {
        name: b.name("wait"),
        body: Map::from_iter([
            ("Type".to_string(), json!("Wait")),
            ("Seconds".to_string(), json!(seconds)),
        ]),
    });
    b.mapping.integrations.push(format!("Wait {seconds} s"));
    let slept_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    b.outputs(&["slept_ms"], json!({"slept_ms": slept_ms}))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::action_mapping::{Mapping, map_alone};
    use super::super::refusal::Unexportable;
    use super::super::runtime_value::marker;

    fn mapped(with: &Value) -> Result<Mapping, Unexportable> {
        map_alone("step", "sleep", with)
    }

    #[test]
    fn a_sleep_is_a_wait_of_its_seconds() {
        let mapping = mapped(&json!({"duration": "1m30s"})).expect("maps");
        let wait = mapping.state("step wait");
        assert_eq!(wait["Type"], "Wait");
        assert_eq!(wait["Seconds"], 90);
        assert_eq!(
            mapping.state("step outputs")["Parameters"],
            json!({"slept_ms": 90000})
        );
        assert!(mapping.calls.is_empty());
    }

    #[test]
    fn a_sleep_of_part_seconds_or_known_at_run_time_is_refused() {
        let part = mapped(&json!({"duration": "1500ms"})).expect_err("not whole seconds");
        assert!(
            part.to_string().contains("whole number of seconds"),
            "{part}"
        );
        let later = mapped(&json!({"duration": marker("$.steps.x.wait")})).expect_err("run time");
        assert!(
            later.to_string().contains("known at export time"),
            "{later}"
        );
    }
}
