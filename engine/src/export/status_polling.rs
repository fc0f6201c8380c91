//! Waiting by polling, where no optimised integration waits (or where it cannot run, as
//! with `--integration-style sdk`): describe the resource, a Choice on its status, a
//! Wait, a count of polls, and again, until a status ends the wait or the count, which
//! bounds the wait by a timeout, runs out. A wait-for-job polls a job run this way;
//! create-cluster polls its cluster and node group this way in the sdk style.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::action_mapping::Builder;
use super::refusal::Unexportable;
use super::states::State;

/// What a status seen ends the wait with.
pub(super) enum Ending {
    /// The wait is over: go on at the state the [`Poll`] names.
    Done,
    /// The execution fails with this error (the cause names the status).
    Fail { error: &'static str, cause: String },
}

/// One polling loop of a step.
pub(super) struct Poll<'p> {
    /// Sets the loop's states apart from the step's others (and from a second loop of
    /// the same step): their names and scratch paths start with it; empty for a step's
    /// only loop.
    pub label: &'p str,
    /// The name of the Choice on the status (`ended?`, `active?`).
    pub question: &'p str,
    /// The describing call: its operation (the Task state's name), integration and
    /// parameters, and the IAM call it needs.
    pub operation: &'p str,
    pub integration: &'p str,
    pub parameters: Value,
    pub iam: (&'p str, &'p str),
    /// Where the status is in the describe response (`$.JobRun.State`).
    pub status: &'p str,
    /// The statuses that end the wait, and how.
    pub ends: Vec<(&'p str, Ending)>,
    /// Where the execution goes on when the wait is [`Ending::Done`].
    pub then: String,
    pub timeout: Duration,
    pub interval: Duration,
    /// The Fail state's error and cause when the polls run out.
    pub timeout_error: &'static str,
    pub timeout_cause: &'p str,
}

impl Poll<'_> {
    fn part(&self, what: &str) -> String {
        if self.label.is_empty() {
            what.to_string()
        } else {
            format!("{} {what}", self.label)
        }
    }

    /// How many looks fit in the timeout (at least one).
    fn polls(&self) -> u64 {
        let interval = self.interval.as_secs().max(1);
        self.timeout.as_secs().div_ceil(interval).max(1)
    }
}

/// Adds `poll`'s loop to the step; returns the scratch path whose `.status` holds the
/// last status seen.
pub(super) fn poll(b: &mut Builder<'_>, poll: Poll<'_>) -> Result<String, Unexportable> {
    let key = poll.label.replace(' ', "_");
    let scratch = |what: &str| {
        if key.is_empty() {
            b.scratch(what)
        } else {
            b.scratch(&format!("{key}_{what}"))
        }
    };
    let count = scratch("polls");
    let described = scratch("status");
    let name = |what: &str| b.name(&poll.part(what));
    let describe = name(poll.operation);
    let (start, question, wait, count_up, timed_out) = (
        name("start"),
        name(poll.question),
        name("wait"),
        name("count"),
        name("timed out"),
    );
    let ended = |status: &str| name(&format!("ended {status}"));
    let polls = poll.polls();
    let interval = poll.interval.as_secs().max(1);
    let mut choices: Vec<Value> = poll
        .ends
        .iter()
        .map(|(status, ending)| {
            let next = match ending {
                Ending::Done => poll.then.clone(),
                Ending::Fail { .. } => ended(status),
            };
            json!({"Variable": format!("{described}.status"), "StringEquals": status, "Next": next})
        })
        .collect();
    choices.push(json!({"Variable": format!("{count}.polls"), "NumericGreaterThanEquals": polls, "Next": timed_out}));
    let mut fails: Vec<State> = poll
        .ends
        .iter()
        .filter_map(|(status, ending)| match ending {
            Ending::Fail { error, cause } => Some(fail(ended(status), error, cause)),
            Ending::Done => None,
        })
        .collect();
    fails.push(fail(
        timed_out,
        poll.timeout_error,
        &format!("{} ({polls} polls {interval} s apart)", poll.timeout_cause),
    ));

    b.mapping
        .states
        .push(State::pass(start, json!({"polls": 0})).set("ResultPath", json!(count)));
    b.task(
        &poll.part(poll.operation),
        poll.integration,
        poll.parameters,
        &[(poll.iam.0, poll.iam.1, json!({}))],
    )?
    .body
    .extend([
        ("ResultSelector".into(), json!({"status.$": poll.status})),
        ("ResultPath".into(), json!(described)),
    ]);
    let states = &mut b.mapping.states;
    states.push(State {
        name: question,
        body: Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            ("Choices".to_string(), Value::Array(choices)),
            ("Default".to_string(), json!(wait)),
        ]),
    });
    states.push(State {
        name: wait,
        body: Map::from_iter([
            ("Type".to_string(), json!("Wait")),
            ("Seconds".to_string(), json!(interval)),
        ]),
    });
    states.push(
        State::pass(
            count_up,
            json!({"polls.$": format!("States.MathAdd({count}.polls, 1)")}),
        )
        .set("ResultPath", json!(count))
        .set("Next", json!(describe)),
    );
    states.extend(fails);
    let statuses: Vec<&str> = poll.ends.iter().map(|(status, _)| *status).collect();
    b.mapping.integrations.push(format!(
        "Wait {interval} s + Choice until {}",
        statuses.join("/")
    ));
    Ok(described)
}

/// A Fail state ending the execution with `error` and `cause`.
pub(super) fn fail(name: String, error: &str, cause: &str) -> State {
    State {
        name,
        body: Map::from_iter([
            ("Type".to_string(), json!("Fail")),
            ("Error".to_string(), json!(error)),
            ("Cause".to_string(), json!(cause)),
        ]),
    }
}
