//! Which cluster a step means when it names none: the only one there is. Both
//! backends answer `default_cluster` so, from the cluster names they list.

use crate::error::ActionError;

/// The one cluster among `names` (what a step that names none means), or an error
/// that says there is none yet or which ones there are. Both targets answer so.
pub fn only_cluster<S: AsRef<str>>(names: &[S]) -> Result<String, ActionError> {
    match names {
        [one] => Ok(one.as_ref().to_string()),
        [] => Err(ActionError::Failed(
            "there is no EKS cluster yet; create one with `create-cluster` first".into(),
        )),
        many => Err(ActionError::InvalidInput(format!(
            "there are {} clusters ({}); say which with `cluster:`",
            many.len(),
            many.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
