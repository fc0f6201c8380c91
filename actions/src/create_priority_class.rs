//! `create-priority-class`: a Kubernetes PriorityClass (walkthrough row 7).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, is_placeholder};
use runbook_backend::ActionError;
use runbook_backend::PriorityClassRequest;

/// The highest value a user-defined PriorityClass may have; larger values are reserved
/// for the `system-` classes, and the API server rejects them.
const MAX_USER_PRIORITY: i32 = 1_000_000_000;

/// The action; [`CreatePriorityClassInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct CreatePriorityClass;

/// Creates a PriorityClass, or adopts one of that name with the same value and default
/// flag. A different one of the same name is an error: Kubernetes does not let a
/// PriorityClass's value change, and silently keeping the old value would make the
/// priority story a lie.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePriorityClassInput {
    /// EKS cluster (default: the only cluster there is).
    #[serde(default)]
    cluster: Option<String>,
    /// PriorityClass name, e.g. `critical-priority`, as pod templates name it in
    /// `priorityClassName`.
    name: String,
    /// The priority; pods of a higher value may preempt pods of a lower one (walkthrough:
    /// 400, 300, 200, 100). At most 1000000000.
    value: i32,
    /// Whether pods that name no class get this one (walkthrough: `critical-priority`).
    /// At most one class of a cluster may be the global default.
    #[serde(default)]
    global_default: bool,
    /// What the class is for, shown by `kubectl describe priorityclass`.
    #[serde(default)]
    description: Option<String>,
    /// Whether its pods may evict lower-priority pods to make room.
    #[serde(default)]
    preemption_policy: PreemptionPolicy,
}

/// Kubernetes' `preemptionPolicy` of a PriorityClass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub(crate) enum PreemptionPolicy {
    /// The scheduler may evict lower-priority pods to make room (Kubernetes' default).
    #[default]
    PreemptLowerPriority,
    /// Pods wait ahead of lower-priority pods in the queue but never evict anything.
    Never,
}

impl PreemptionPolicy {
    fn as_str(self) -> &'static str {
        match self {
            PreemptionPolicy::PreemptLowerPriority => "PreemptLowerPriority",
            PreemptionPolicy::Never => "Never",
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreatePriorityClassOutput {
    /// PriorityClass name.
    name: String,
    /// Its value.
    value: i32,
    /// Whether it is the global default.
    global_default: bool,
    /// Whether this step created it (false: an identical one existed and was adopted).
    created: bool,
}

impl Action for CreatePriorityClass {
    type Input = CreatePriorityClassInput;
    type Output = CreatePriorityClassOutput;
    const NAME: &'static str = "create-priority-class";
    const SUMMARY: &'static str = "Create (or adopt) a Kubernetes PriorityClass.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(
        &self,
        input: CreatePriorityClassInput,
        ctx: &StepContext,
    ) -> Result<CreatePriorityClassOutput, ActionError> {
        check(&input, true)?;
        let request = request_of(&input);
        let cluster = crate::cluster_lookup::cluster(ctx, input.cluster).await?;
        let created = ctx
            .target
            .kube
            .create_priority_class(&cluster, &request)
            .await?;
        Ok(CreatePriorityClassOutput {
            name: request.name,
            value: request.value,
            global_default: request.global_default,
            created,
        })
    }

    fn planned_calls(
        input: &CreatePriorityClassInput,
        plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        check(input, !is_placeholder(&input.name))?;
        let (cluster, mut calls) =
            crate::cluster_lookup::planned(&plan.target, input.cluster.as_deref());
        calls.extend(
            plan.target
                .kube
                .planned_create_priority_class(&cluster, &request_of(input)),
        );
        Ok(calls)
    }
}

/// What the API server would reject, said first; the name is checked when it is known
/// (a plan may only have a placeholder for it).
fn check(input: &CreatePriorityClassInput, name_known: bool) -> Result<(), ActionError> {
    if name_known {
        check_name(&input.name)?;
    }
    if input.value > MAX_USER_PRIORITY {
        return Err(ActionError::InvalidInput(format!(
            "priority class `{}` has value {}, above {MAX_USER_PRIORITY}; larger values are reserved for system classes",
            input.name, input.value
        )));
    }
    Ok(())
}

/// A DNS subdomain, and not `system-...` (reserved for Kubernetes' own classes).
fn check_name(name: &str) -> Result<(), ActionError> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.len() > 253 || !chars_ok || !ends_ok {
        return Err(ActionError::InvalidInput(format!(
            "priority class name `{name}` is not valid: use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"
        )));
    }
    if name.starts_with("system-") {
        return Err(ActionError::InvalidInput(format!(
            "priority class name `{name}` is reserved: names starting with `system-` belong to Kubernetes"
        )));
    }
    Ok(())
}

/// What the target is asked to create.
fn request_of(input: &CreatePriorityClassInput) -> PriorityClassRequest {
    PriorityClassRequest {
        name: input.name.clone(),
        value: input.value,
        global_default: input.global_default,
        description: input.description.clone(),
        preemption_policy: input.preemption_policy.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::SimWorld;

    #[tokio::test]
    async fn creates_then_adopts_the_same_class_and_refuses_a_different_one() {
        let world = SimWorld::new();
        world
            .run("create-cluster", json!({"name": "c"}))
            .await
            .expect("cluster");
        let input = json!({"name": "critical-priority", "value": 400, "global_default": true});
        let first = world
            .run("create-priority-class", input.clone())
            .await
            .expect("created");
        assert_eq!(
            first,
            json!({"name": "critical-priority", "value": 400, "global_default": true, "created": true})
        );
        let second = world
            .run("create-priority-class", input)
            .await
            .expect("adopted");
        assert_eq!(second["created"], false);
        {
            let w = world.sim.world();
            let classes = w.priority_classes("c").expect("c");
            let ours: Vec<_> = classes
                .iter()
                .filter(|p| p.name == "critical-priority")
                .collect();
            assert_eq!(ours.len(), 1);
            assert_eq!(ours[0].value, 400);
            assert!(ours[0].global_default);
        }

        let err = world
            .run(
                "create-priority-class",
                json!({"name": "critical-priority", "value": 500}),
            )
            .await
            .expect_err("value differs");
        assert!(err.to_string().contains("AlreadyExists"), "{err}");
    }

    #[tokio::test]
    async fn bad_inputs_are_explained() {
        let world = SimWorld::new();
        let err = world
            .run(
                "create-priority-class",
                json!({"name": "p", "value": 2_000_000_000}),
            )
            .await
            .expect_err("reserved value");
        assert!(
            err.to_string().contains("reserved for system classes"),
            "{err}"
        );
        let err = world
            .run(
                "create-priority-class",
                json!({"name": "system-mine", "value": 1}),
            )
            .await
            .expect_err("reserved name");
        assert!(err.to_string().contains("reserved"), "{err}");
        let err = world
            .run(
                "create-priority-class",
                json!({"name": "p", "value": "high"}),
            )
            .await
            .expect_err("wrong type");
        assert!(err.to_string().contains("invalid type"), "{err}");
        let err = world
            .run(
                "create-priority-class",
                json!({"name": "p", "value": 1, "globalDefault": true}),
            )
            .await
            .expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `globalDefault`"),
            "{err}"
        );
    }
}
