//! The closed list of actions. One line per action; `runbook actions`, `runbook schema`
//! and the validator all read it from here.

use crate::action::ErasedAction;

/// Every action runbooks can use, in the order `runbook actions` lists them.
pub fn catalog() -> &'static [&'static dyn ErasedAction] {
    &[
        &crate::log::Log,
        &crate::sleep::Sleep,
        &crate::assert::Assert,
        &crate::exec::Exec,
        &crate::register_vc::RegisterVc,
        &crate::delete_vc::DeleteVc,
        &crate::submit_job::SubmitJob,
        &crate::wait_for_job::WaitForJob,
        &crate::cancel_job::CancelJob,
        &crate::wait_for_pods::WaitForPods,
        &crate::assert_eviction::AssertEviction,
        &crate::assert_autoscaling::AssertAutoscaling,
        &crate::create_cluster::CreateCluster,
        &crate::delete_cluster::DeleteCluster,
        &crate::create_namespace::CreateNamespace,
        &crate::delete_namespace::DeleteNamespace,
        &crate::create_priority_class::CreatePriorityClass,
        &crate::delete_priority_class::DeletePriorityClass,
        &crate::apply_manifest::ApplyManifest,
        &crate::enable_autoscaling::EnableAutoscaling,
        &crate::create_job_role::CreateJobRole,
        &crate::delete_job_role::DeleteJobRole,
        &crate::create_log_group::CreateLogGroup,
        &crate::delete_log_group::DeleteLogGroup,
        &crate::create_bucket::CreateBucket,
        &crate::delete_bucket::DeleteBucket,
        &crate::put_object::PutObject,
    ]
}

/// The action called `name`.
pub fn find(name: &str) -> Option<&'static dyn ErasedAction> {
    catalog().iter().copied().find(|a| a.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case() {
        let mut names: Vec<_> = catalog().iter().map(|a| a.name()).collect();
        for name in &names {
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "`{name}` is not kebab-case"
            );
        }
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "duplicate action names");
    }

    #[test]
    fn every_input_field_is_documented_and_unknown_fields_are_rejected() {
        for action in catalog() {
            let schema = action.input_schema();
            assert_eq!(
                schema.get("additionalProperties"),
                Some(&serde_json::Value::Bool(false)),
                "`{}` must deny unknown fields",
                action.name()
            );
            let props = schema
                .get("properties")
                .and_then(|p| p.as_object())
                .cloned()
                .unwrap_or_default();
            for (field, prop) in props {
                assert!(
                    prop.get("description").is_some(),
                    "field `{field}` of `{}` has no doc comment",
                    action.name()
                );
            }
        }
    }
}
