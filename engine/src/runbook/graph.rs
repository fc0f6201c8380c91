//! The step graph of one phase: which steps each step waits for, and whether one step
//! always finishes before another (so a template may read its outputs).
//!
//! A step without `needs` waits for every earlier step. Listing all of them would make
//! the graph quadratic (a 10,000-step runbook would hold 50 million edges), so such a
//! step waits for the *sinks* of the graph so far: the earlier steps nothing else
//! waits for. Everything earlier is then an ancestor, which is the same ordering.

use std::collections::BTreeSet;

/// Dependencies: `explicit[i]` is `Some(needs)` when step `i` lists `needs` (indices),
/// `None` when it waits for every earlier step.
pub(super) fn build_deps(explicit: &[Option<Vec<usize>>]) -> Vec<Vec<usize>> {
    let mut sinks: BTreeSet<usize> = BTreeSet::new();
    let mut deps = Vec::with_capacity(explicit.len());
    for (i, needs) in explicit.iter().enumerate() {
        let list: Vec<usize> = match needs {
            Some(list) => list.clone(),
            None => sinks.iter().copied().collect(),
        };
        for d in &list {
            sinks.remove(d);
        }
        // A step needing a later step cannot make it a non-sink yet; it stays a sink
        // until a step after it waits for it.
        sinks.insert(i);
        deps.push(list);
    }
    deps
}

/// Whether `ancestor` always finishes before `step` starts.
pub(super) fn is_ancestor(deps: &[Vec<usize>], ancestor: usize, step: usize) -> bool {
    let mut seen = vec![false; deps.len()];
    let mut stack: Vec<usize> = deps.get(step).cloned().unwrap_or_default();
    while let Some(s) = stack.pop() {
        if s == ancestor {
            return true;
        }
        if s < seen.len() && !seen[s] {
            seen[s] = true;
            stack.extend(deps[s].iter().copied());
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_order_is_a_chain_and_everything_earlier_is_an_ancestor() {
        let deps = build_deps(&[None, None, None]);
        assert_eq!(deps, vec![vec![], vec![0], vec![1]]);
        assert!(is_ancestor(&deps, 0, 2));
        assert!(!is_ancestor(&deps, 2, 0));
    }

    #[test]
    fn a_step_without_needs_waits_for_every_branch() {
        // 0; 1 needs nothing (parallel with 0); 2 waits for everything earlier.
        let deps = build_deps(&[None, Some(vec![]), None]);
        assert_eq!(deps[2], vec![0, 1]);
        assert!(is_ancestor(&deps, 0, 2) && is_ancestor(&deps, 1, 2));
        assert!(!is_ancestor(&deps, 0, 1), "1 runs alongside 0");
    }
}
