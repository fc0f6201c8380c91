//! The `needs` graph as Parallel states: steps the engine would run side by side (each
//! starts once the steps it needs have succeeded, as the executor's scheduler starts
//! them) become the branches of a Parallel state, joined before the first step that
//! needs them.
//!
//! Only a series-parallel graph is written so, because only there do Parallel states
//! say exactly what `needs` says: a chain of parts where each part is either one step
//! or independent parts side by side. A part is cut at a step every other step of it
//! is before or after (it runs alone, in series), and split where its steps fall into
//! groups with no ordering between them (side by side). A graph neither cut nor split
//! (a "N" shape: `c` needs `a`, `d` needs `a` and `b`) has no such layout: the caller
//! keeps one chain in an order `needs` allows and says so.
//!
//! A Parallel state's result is the array of its branches' outputs. Each branch starts
//! from the whole state and adds its steps' outputs under `$.steps.<id>` (and their
//! caught errors under `$.scratch`), so the join merges those objects back, one level
//! deep, which is all they differ by: `States.JsonMerge` (shallow, the only mode Step
//! Functions has) nested once per further branch.

use serde_json::{Map, Value, json};

use super::states::{self, NEXT_STEP, State};

/// How the exported steps run: one step, parts one after another, or side by side.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    Step(usize),
    Series(Vec<Layout>),
    Side(Vec<Layout>),
}

/// Which exported step runs before which: `before[u][v]` when step `v` (an index into
/// the exported steps, in run order) needs `u`, directly or through other steps (those
/// not exported included). `covers[u]` are the runbook steps exported step `u` is (a
/// submit-job and the wait-for-job its `.sync` task waits for are one); `deps` and
/// `order` are the runbook's steps' `needs` and an order that respects them.
pub(crate) fn ordering(
    deps: &[Vec<usize>],
    order: &[usize],
    covers: &[Vec<usize>],
) -> Vec<Vec<bool>> {
    let words = deps.len().div_ceil(64);
    let mut ancestors = vec![vec![0u64; words]; deps.len()];
    for &step in order {
        let mut set = vec![0u64; words];
        for &d in deps.get(step).into_iter().flatten() {
            if let Some(of_dep) = ancestors.get(d) {
                for (word, bits) in set.iter_mut().zip(of_dep) {
                    *word |= bits;
                }
                set[d / 64] |= 1 << (d % 64);
            }
        }
        ancestors[step] = set;
    }
    let is_ancestor = |a: usize, b: usize| {
        ancestors
            .get(b)
            .and_then(|set| set.get(a / 64))
            .is_some_and(|word| word & (1 << (a % 64)) != 0)
    };
    covers
        .iter()
        .enumerate()
        .map(|(i, u)| {
            covers
                .iter()
                .enumerate()
                .map(|(j, v)| i != j && u.iter().any(|&a| v.iter().any(|&b| is_ancestor(a, b))))
                .collect()
        })
        .collect()
}

/// The series-parallel layout of the exported steps `0..before.len()` (in run order),
/// or `None` when the graph has none.
pub(crate) fn layout(before: &[Vec<bool>]) -> Option<Layout> {
    if before.is_empty() {
        return Some(Layout::Series(Vec::new()));
    }
    let all: Vec<usize> = (0..before.len()).collect();
    part(before, &all)
}

fn part(before: &[Vec<bool>], steps: &[usize]) -> Option<Layout> {
    let ordered = |a: usize, b: usize| before[a][b] || before[b][a];
    if let [one] = steps {
        return Some(Layout::Step(*one));
    }
    let groups = groups(steps, ordered);
    if groups.len() > 1 {
        let branches = groups
            .iter()
            .map(|group| part(before, group))
            .collect::<Option<Vec<_>>>()?;
        return Some(Layout::Side(branches));
    }
    let cut = |&s: &usize| steps.iter().all(|&o| o == s || ordered(s, o));
    let mut parts = Vec::new();
    let mut between = Vec::new();
    for &s in steps {
        if cut(&s) {
            if !between.is_empty() {
                parts.push(part(before, &std::mem::take(&mut between))?);
            }
            parts.push(Layout::Step(s));
        } else {
            between.push(s);
        }
    }
    if parts.is_empty() {
        return None;
    }
    if !between.is_empty() {
        parts.push(part(before, &between)?);
    }
    let mut flat = Vec::new();
    for p in parts {
        match p {
            Layout::Series(inner) => flat.extend(inner),
            other => flat.push(other),
        }
    }
    Some(Layout::Series(flat))
}

/// The groups of `steps` with no ordering between one group and another, each in the
/// order given.
fn groups(steps: &[usize], ordered: impl Fn(usize, usize) -> bool) -> Vec<Vec<usize>> {
    let mut group: Vec<usize> = (0..steps.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for i in 0..steps.len() {
        for j in i + 1..steps.len() {
            if ordered(steps[i], steps[j]) {
                let (a, b) = (root(&mut group, i), root(&mut group, j));
                group[a.max(b)] = a.min(b);
            }
        }
    }
    let mut out: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, &s) in steps.iter().enumerate() {
        let r = root(&mut group, i);
        match out.iter_mut().find(|(root, _)| *root == r) {
            Some((_, members)) => members.push(s),
            None => out.push((r, vec![s])),
        }
    }
    out.into_iter().map(|(_, members)| members).collect()
}

/// How many Parallel states `layout` makes.
pub(crate) fn parallel_count(layout: &Layout) -> usize {
    match layout {
        Layout::Step(_) => 0,
        Layout::Series(parts) => parts.iter().map(parallel_count).sum(),
        Layout::Side(parts) => 1 + parts.iter().map(parallel_count).sum::<usize>(),
    }
}

/// The states of `layout`, each step's states taken from `steps`; `keys` are the
/// execution state's top-level fields (`steps`, `scratch`, ...), which each join keeps.
/// A `Catch` or `Default` to the next step at the end is left for the caller.
pub(crate) fn states(
    layout: Layout,
    steps: &mut [Vec<State>],
    keys: &[String],
    count: &mut usize,
) -> Vec<State> {
    match layout {
        Layout::Step(i) => std::mem::take(&mut steps[i]),
        Layout::Series(parts) => {
            let mut chains: Vec<Vec<State>> = parts
                .into_iter()
                .map(|p| states(p, steps, keys, count))
                .collect();
            for i in 1..chains.len() {
                let next = chains[i]
                    .first()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                states::resolve_next_step(&mut chains[i - 1], &next);
            }
            chains.into_iter().flatten().collect()
        }
        Layout::Side(parts) => {
            *count += 1;
            let name = format!("Side by side {count}");
            let mut branches = Vec::new();
            let width = parts.len();
            for (b, p) in parts.into_iter().enumerate() {
                let mut chain = states(p, steps, keys, count);
                if goes_to_next_step(&chain) {
                    // The branch's own last state: a step it skips to on an error goes
                    // on past it, which in a branch is the branch's end.
                    let end = format!("{name} branch {} end", b + 1);
                    states::resolve_next_step(&mut chain, &end);
                    let mut body = Map::new();
                    body.insert("Type".into(), json!("Pass"));
                    chain.push(State { name: end, body });
                }
                let (start, map) = states::chain(chain, None);
                branches.push(json!({"StartAt": start, "States": map}));
            }
            let mut selector = Map::new();
            for key in keys {
                let joined = if key == "steps" || key == "scratch" {
                    (1..width).fold(format!("$[0].{key}"), |acc, i| {
                        format!("States.JsonMerge({acc}, $[{i}].{key}, false)")
                    })
                } else {
                    format!("$[0].{key}")
                };
                selector.insert(format!("{key}.$"), json!(joined));
            }
            let mut body = Map::new();
            body.insert("Type".into(), json!("Parallel"));
            body.insert("Branches".into(), Value::Array(branches));
            body.insert("ResultSelector".into(), Value::Object(selector));
            vec![State { name, body }]
        }
    }
}

fn goes_to_next_step(chain: &[State]) -> bool {
    chain.iter().any(|s| {
        s.body.get("Default") == Some(&json!(NEXT_STEP))
            || s.body
                .get("Catch")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c["Next"] == NEXT_STEP))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Layout::{Series, Side, Step};

    /// The layout of runbook steps with these `needs`, each step exported alone.
    fn of(deps: &[&[usize]]) -> Option<Layout> {
        let deps: Vec<Vec<usize>> = deps.iter().map(|d| d.to_vec()).collect();
        let order: Vec<usize> = (0..deps.len()).collect();
        let covers: Vec<Vec<usize>> = order.iter().map(|&i| vec![i]).collect();
        layout(&ordering(&deps, &order, &covers))
    }

    #[test]
    fn a_chain_stays_a_chain() {
        assert_eq!(
            of(&[&[], &[0], &[1]]),
            Some(Series(vec![Step(0), Step(1), Step(2)]))
        );
    }

    #[test]
    fn two_independent_chains_joined_by_a_third_step_are_two_branches() {
        // a, b <- a, c, d <- c, e <- [b, d]
        assert_eq!(
            of(&[&[], &[0], &[], &[2], &[1, 3]]),
            Some(Series(vec![
                Side(vec![
                    Series(vec![Step(0), Step(1)]),
                    Series(vec![Step(2), Step(3)])
                ]),
                Step(4),
            ]))
        );
    }

    #[test]
    fn a_fan_out_and_in_is_one_parallel_between_its_ends() {
        // cluster, then three steps needing it, then one needing all three
        assert_eq!(
            of(&[&[], &[0], &[0], &[0], &[1, 2, 3]]),
            Some(Series(vec![
                Step(0),
                Side(vec![Step(1), Step(2), Step(3)]),
                Step(4),
            ]))
        );
    }

    #[test]
    fn an_n_shape_has_no_series_parallel_layout() {
        // a, b, c <- a, d <- [a, b]
        assert_eq!(of(&[&[], &[], &[0], &[0, 1]]), None);
    }

    #[test]
    fn a_step_left_out_still_orders_the_steps_around_it() {
        // a, b <- a (not exported), c <- b: c still follows a.
        let deps = vec![vec![], vec![0], vec![1]];
        let order = vec![0, 1, 2];
        let before = ordering(&deps, &order, &[vec![0], vec![2]]);
        assert_eq!(layout(&before), Some(Series(vec![Step(0), Step(1)])));
    }

    #[test]
    fn a_join_merges_the_branches_outputs_and_keeps_the_rest() {
        let pass = |name: &str| State::pass(name.into(), json!({}));
        let mut steps = vec![vec![pass("a")], vec![pass("b")], vec![pass("c")]];
        let keys = ["steps".to_string(), "for_each".to_string()];
        let mut count = 0;
        let out = states(
            Side(vec![Step(0), Step(1), Step(2)]),
            &mut steps,
            &keys,
            &mut count,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].body["Branches"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            out[0].body["ResultSelector"],
            json!({
                "steps.$": "States.JsonMerge(States.JsonMerge($[0].steps, $[1].steps, false), $[2].steps, false)",
                "for_each.$": "$[0].for_each",
            })
        );
    }
}
