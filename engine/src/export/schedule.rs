//! `runbook export --schedule`: an EventBridge Scheduler schedule that starts the
//! exported state machine, and the states that make each scheduled time run once.
//!
//! Why the state machine starts itself: a schedule's execution name cannot be chosen.
//! The templated Step Functions target lets Scheduler name the execution; the universal
//! target (`aws-sdk:sfn:startExecution`) would take a `Name`, but the only per-night
//! value Scheduler substitutes there, `<aws.scheduler.scheduled-time>`
//! (`2026-12-09T02:15:00Z`), holds `:`, which execution names refuse. So the schedule
//! uses the templated target with the scheduled time as the input, and the definition's
//! first states, seeing `scheduled_time`, start the same state machine under a name
//! built from that time with `:` made `-` (`2026-12-09T02-15-00Z`), and end. A second
//! start of the same time (Scheduler's at-least-once delivery, a retry, a start by hand
//! with the same input) asks for the same name: Step Functions answers with the running
//! execution, or `ExecutionAlreadyExists` once it ended, which ends that start too.

use serde_json::{Map, Value, json};

use super::cfn_template::trust_policy;
use super::states::State;

/// The state machine's input field that carries the scheduled time.
const SCHEDULED_TIME: &str = "scheduled_time";

/// Why a `--schedule` or `--schedule-timezone` is refused before anything is exported.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadSchedule {
    #[error("--schedule {expression:?}: {why}")]
    Expression { expression: String, why: BadShape },
    #[error("--schedule-timezone {0:?}: expected a time zone name such as UTC or Europe/Paris")]
    Timezone(String),
}

/// What is wrong with the shape of a schedule expression, in Scheduler's terms.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadShape {
    #[error(
        "expected cron(minutes hours day-of-month month day-of-week year), rate(N minutes|hours|days) or at(yyyy-mm-ddThh:mm:ss)"
    )]
    UnknownKind,
    #[error(
        "a cron expression has six fields (minutes hours day-of-month month day-of-week year), not {0}"
    )]
    CronFieldCount(usize),
    #[error("cron field {0:?} has a character cron does not use")]
    CronCharacter(String),
    #[error("exactly one of day-of-month (third field) and day-of-week (fifth) must be `?`")]
    CronDayUnset,
    #[error(transparent)]
    CronValue(#[from] super::cron_fields::BadCronValue),
    #[error("a rate is `rate(N unit)`")]
    RateForm,
    #[error("the rate's count {0:?} is not a positive whole number")]
    RateCount(String),
    /// `rate(1 days)`: the singular unit, without its `s`.
    #[error("a rate of 1 is written `1 {0}`")]
    RateOfOne(String),
    #[error("a rate of {count} is written `{count} {unit}s`")]
    RateOfMany { count: u64, unit: String },
    #[error("the rate's unit {0:?} is not minute(s), hour(s) or day(s)")]
    RateUnit(String),
    #[error("a one-time schedule is `at(yyyy-mm-ddThh:mm:ss)`, not at({0})")]
    AtForm(String),
}

/// A checked `--schedule` and its `--schedule-timezone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub expression: String,
    pub timezone: String,
}

impl Schedule {
    /// Checks the expression's shape as EventBridge Scheduler accepts it (`cron(...)`
    /// of six fields, `rate(N unit)`, `at(yyyy-mm-ddThh:mm:ss)`) and the timezone's, so a
    /// mistyped schedule is refused here rather than when the stack deploys.
    pub(crate) fn new(expression: &str, timezone: &str) -> Result<Schedule, BadSchedule> {
        let expression = expression.trim();
        let shape = if let Some(fields) = inner(expression, "cron") {
            cron(fields)
        } else if let Some(rate_text) = inner(expression, "rate") {
            rate(rate_text)
        } else if let Some(time) = inner(expression, "at") {
            at(time)
        } else {
            Err(BadShape::UnknownKind)
        };
        shape.map_err(|why| BadSchedule::Expression {
            expression: expression.to_string(),
            why,
        })?;
        let zone_ok = !timezone.is_empty()
            && timezone
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
            && known_zone(timezone);
        if !zone_ok {
            return Err(BadSchedule::Timezone(timezone.to_string()));
        }
        Ok(Schedule {
            expression: expression.to_string(),
            timezone: timezone.to_string(),
        })
    }

    /// What the dry-run summary says of the schedule.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} ({}), flexible window off; the scheduled start passes its time and the state machine starts itself once per scheduled time, named after it (2026-12-09T02:15:00Z -> 2026-12-09T02-15-00Z); the schedule's role may only states:StartExecution on it",
            self.expression, self.timezone
        )
    }
}

/// Where the system keeps the IANA time zone database (Linux, macOS).
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// Whether `zone` names a zone of the IANA database, as Scheduler's time zones do:
/// looked up in the system's copy of it, where there is one (a machine without it
/// leaves the check to CloudFormation).
fn known_zone(zone: &str) -> bool {
    let database = std::path::Path::new(ZONEINFO);
    zone == "UTC" || !database.is_dir() || database.join(zone).is_file()
}

/// What is between `name(` and `)`.
fn inner<'a>(expression: &'a str, name: &str) -> Option<&'a str> {
    expression
        .strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn cron(fields: &str) -> Result<(), BadShape> {
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let [_, _, day_of_month, _, day_of_week, _] = fields.as_slice() else {
        return Err(BadShape::CronFieldCount(fields.len()));
    };
    if let Some(bad) = fields.iter().find(|f| {
        !f.chars()
            .all(|c| c.is_ascii_alphanumeric() || ",-*/?#".contains(c))
    }) {
        return Err(BadShape::CronCharacter(bad.to_string()));
    }
    if (*day_of_month == "?") == (*day_of_week == "?") {
        return Err(BadShape::CronDayUnset);
    }
    Ok(super::cron_fields::check(&fields)?)
}

fn rate(text: &str) -> Result<(), BadShape> {
    let mut parts = text.split_whitespace();
    let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(BadShape::RateForm);
    };
    let count: u64 = count
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| BadShape::RateCount(count.to_string()))?;
    let singular = ["minute", "hour", "day"].contains(&unit);
    let plural = ["minutes", "hours", "days"].contains(&unit);
    match (count == 1, singular, plural) {
        (true, true, _) | (false, _, true) => Ok(()),
        (true, _, true) => Err(BadShape::RateOfOne(unit[..unit.len() - 1].to_string())),
        (false, true, _) => Err(BadShape::RateOfMany {
            count,
            unit: unit.to_string(),
        }),
        _ => Err(BadShape::RateUnit(unit.to_string())),
    }
}

fn at(time: &str) -> Result<(), BadShape> {
    let shape_ok = time.len() == 19
        && time.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        });
    if shape_ok {
        Ok(())
    } else {
        Err(BadShape::AtForm(time.to_string()))
    }
}

/// The states before `first` (the runbook's first state): a start carrying
/// `scheduled_time` starts the state machine under the name of that time and ends;
/// any other start goes on to `first`.
pub(crate) fn night_states(first: &str) -> Vec<State> {
    let variable = format!("$.{SCHEDULED_TIME}");
    let part = |i: usize| format!("States.ArrayGetItem(States.StringSplit({variable}, ':'), {i})");
    let name = format!(
        "States.Format('{{}}-{{}}-{{}}', {}, {}, {})",
        part(0),
        part(1),
        part(2)
    );
    let mut body = Map::new();
    body.insert("Type".into(), json!("Choice"));
    body.insert(
        "Choices".into(),
        json!([{"Variable": variable, "IsPresent": true, "Next": "start the scheduled time once"}]),
    );
    body.insert("Default".into(), json!(first));
    let choice = State {
        name: "scheduled start?".into(),
        body,
    };
    let mut start = State::task(
        "start the scheduled time once".into(),
        "arn:aws:states:::aws-sdk:sfn:startExecution",
        json!({
            "StateMachineArn.$": "$$.StateMachine.Id",
            "Name.$": name,
            "Input": "{}",
        }),
    )
    .set("ResultPath", Value::Null)
    .set("Next", json!("Succeeded"));
    start.catch(
        &["Sfn.ExecutionAlreadyExistsException"],
        "$.already_started",
        "Succeeded",
    );
    vec![choice, start]
}

/// Adds the schedule, its role, and the state machine's permission to start itself to
/// `template`.
pub(crate) fn add_resources(template: &mut Value, schedule: &Schedule, runbook: &str) {
    let state_machine = json!({"Ref": "StateMachine"});
    let start_it = |name: &str| {
        json!({
            "PolicyName": name,
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": "states:StartExecution",
                    "Resource": state_machine,
                }],
            },
        })
    };
    let Some(resources) = template["Resources"].as_object_mut() else {
        return;
    };
    // A policy of its own: in the role's `Policies` it would name the state machine,
    // which names the role (a cycle CloudFormation refuses).
    let mut self_start = start_it("start-itself-per-scheduled-time");
    self_start["Roles"] = json!([{"Ref": "StateMachineRole"}]);
    resources.insert(
        "StateMachineStartsItself".into(),
        json!({"Type": "AWS::IAM::Policy", "Properties": self_start}),
    );
    resources.insert(
        "ScheduleRole".into(),
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": trust_policy("scheduler.amazonaws.com"),
                "Policies": [start_it("start-state-machine")],
            },
        }),
    );
    resources.insert(
        "Schedule".into(),
        json!({
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "Description": format!("starts runbook {runbook}'s state machine"),
                "ScheduleExpression": schedule.expression,
                "ScheduleExpressionTimezone": schedule.timezone,
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "State": "ENABLED",
                "Target": {
                    "Arn": state_machine,
                    "RoleArn": {"Fn::GetAtt": ["ScheduleRole", "Arn"]},
                    "Input": json!({SCHEDULED_TIME: "<aws.scheduler.scheduled-time>"}).to_string(),
                },
            },
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shapes_scheduler_accepts_are_accepted() {
        for good in [
            "cron(15 2 * * ? *)",
            "cron(0 18 ? * MON-FRI *)",
            "cron(0/5 8-17 ? * 2#1 2026)",
            "rate(1 day)",
            "rate(12 hours)",
            "at(2026-12-09T02:15:00)",
        ] {
            assert!(Schedule::new(good, "UTC").is_ok(), "{good}");
        }
        assert!(Schedule::new("rate(1 day)", "Europe/Paris").is_ok());
    }

    #[test]
    fn a_bad_schedule_is_refused_saying_what_is_wrong() {
        let refused = |expression: &str| {
            Schedule::new(expression, "UTC")
                .expect_err(expression)
                .to_string()
        };
        assert_eq!(
            refused("cron(15 2 * * *)"),
            "--schedule \"cron(15 2 * * *)\": a cron expression has six fields (minutes hours day-of-month month day-of-week year), not 5"
        );
        assert!(refused("cron(15 2 * * * *)").contains("must be `?`"));
        assert!(refused("rate(1 days)").contains("`1 day`"));
        assert!(refused("rate(5 minute)").contains("`5 minutes`"));
        assert!(refused("rate(0 hours)").contains("not a positive whole number"));
        assert!(refused("at(2026-12-09 02:15)").contains("at(yyyy-mm-ddThh:mm:ss)"));
        assert!(refused("15 2 * * *").contains("expected cron("));
        assert!(
            Schedule::new("rate(1 day)", "Paris time")
                .expect_err("a time zone name has no space")
                .to_string()
                .starts_with("--schedule-timezone")
        );
    }

    #[test]
    fn a_scheduled_start_starts_the_night_by_its_time_and_ends() {
        let states = night_states("Start");
        assert_eq!(states[0].body["Default"], "Start");
        assert_eq!(states[0].body["Choices"][0]["Next"], states[1].name);
        assert_eq!(
            states[1].body["Parameters"]["Name.$"],
            "States.Format('{}-{}-{}', States.ArrayGetItem(States.StringSplit($.scheduled_time, ':'), 0), States.ArrayGetItem(States.StringSplit($.scheduled_time, ':'), 1), States.ArrayGetItem(States.StringSplit($.scheduled_time, ':'), 2))"
        );
        assert_eq!(states[1].body["Next"], "Succeeded");
        assert_eq!(states[1].body["Catch"][0]["Next"], "Succeeded");
    }

    #[test]
    fn the_schedule_starts_the_state_machine_with_its_time() {
        let mut template = json!({"Resources": {}});
        let schedule = Schedule::new("cron(15 2 * * ? *)", "UTC").expect("a nightly cron");
        add_resources(&mut template, &schedule, "nightly");
        let target = &template["Resources"]["Schedule"]["Properties"]["Target"];
        assert_eq!(target["Arn"], json!({"Ref": "StateMachine"}));
        assert_eq!(
            target["Input"],
            "{\"scheduled_time\":\"<aws.scheduler.scheduled-time>\"}"
        );
    }
}
