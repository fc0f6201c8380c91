//! Step keys: `cluster`, an instance `roles[2]`, and a step inside a runbook that a
//! `runbook` step includes, `platform/cluster` (or `platform[1]/roles[2]`).

/// Whether `key` is a step inside the runbook that step `outer` (or one of its
/// `for_each` instances) includes.
pub fn is_inside(key: &str, outer: &str) -> bool {
    key.strip_prefix(outer)
        .is_some_and(|rest| rest.starts_with('/') || (rest.starts_with('[') && rest.contains("]/")))
}

/// The first of `keys` with no other of them inside it: when a step fails inside an
/// included runbook, both it and the `runbook` step fail, and the one to name is the
/// step that did.
pub fn innermost<T>(items: &[T], key: impl Fn(&T) -> &str) -> Option<&T> {
    items
        .iter()
        .find(|item| !items.iter().any(|other| is_inside(key(other), key(item))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_of_an_included_runbook_is_inside_the_step_that_includes_it() {
        assert!(is_inside("platform/cluster", "platform"));
        assert!(is_inside("platform[1]/roles[2]", "platform"));
        assert!(is_inside("a/b/c", "a/b"));
        assert!(!is_inside("platform", "platform"));
        assert!(!is_inside("platform_b/x", "platform"));
        assert!(!is_inside("roles[2]", "roles"));
    }

    #[test]
    fn the_innermost_failed_step_is_named() {
        let failed = ["s1", "platform", "platform/cluster", "later"];
        assert_eq!(innermost(&failed, |k| k), Some(&"s1"));
        let failed = ["platform", "platform/inner", "platform/inner/cluster"];
        assert_eq!(innermost(&failed, |k| k), Some(&"platform/inner/cluster"));
    }
}
