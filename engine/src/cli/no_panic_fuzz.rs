//! A property test: no runbook text and no template text makes `validate` (the loader
//! and its diagnostics), `plan` (every step rendered, on `sim` and with the calls on
//! `aws`) or the template engine panic.
//!
//! Random bytes rarely get past the YAML parser, so the cases are the canned runbooks
//! with a few edits each: YAML and Jinja tokens inserted, text deleted or replaced,
//! values swapped for huge numbers, durations and random `{{ ... }}` expressions. About
//! one case in seven still loads and is planned; the others go through the loader's
//! checks of every key and reference, and the rendering of its diagnostics.
//!
//! `RUNBOOK_FUZZ_CASES` sets the number of cases (default 10,000: about 50 s in the
//! debug test profile on two cores).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use runbook_backend::TargetKind;

use super::plan::plan_steps;
use crate::runbook::{
    LoadError, LoadedRunbook, PARAM_KEYS, ParamType, RETRY_KEYS, RUNBOOK_KEYS, STEP_KEYS, load_str,
};
use crate::template;

/// The canned runbooks, and two small ones whose every line matters.
fn bases() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let mut texts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("failed to list {}: {e}", dir.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|x| x == "yaml"))
        .map(|path| {
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()))
        })
        .collect();
    texts.sort();
    texts.push(
        r#"name: small
params:
  n: { type: integer, default: 2 }
  d: { default: 10s }
vars:
  v: "{{ params.n * 2 }}"
steps:
  - id: a
    action: sleep
    timeout: 1m
    retry: { attempts: 3, delay: 1s, backoff: 2, max_delay: 1m }
    with: { duration: "{{ params.d }}" }
  - id: b
    action: log
    needs: [a]
    for_each: "{{ range(params.n) | list }}"
    parallel: 2
    when: "{{ steps.a.status == 'succeeded' }}"
    with: { message: "{{ item }} of {{ vars.v }} {{ steps.a.outputs.slept_ms }}" }
finally:
  - id: c
    action: exec
    with: { argv: [echo, "{{ run.id }}"], timeout: 5s, allow_on_sim: true }
"#
        .to_owned(),
    );
    texts.push(
        r#"name: tiny
steps:
  - id: a
    action: assert
    with: { that: "{{ 1 < 2 }}", message: "x" }
"#
        .to_owned(),
    );
    texts
}

/// Tokens that mean something to YAML or to Jinja (the loader's keys and the action
/// names are added in [`words`]).
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\n",
    "\n  ",
    "\n    - ",
    "  ",
    "\t",
    "#",
    "'",
    "\"",
    "\\",
    "|",
    ">",
    "|-",
    "? ",
    "&a ",
    "*a",
    "!!str ",
    "!!int ",
    "!!binary ",
    "---",
    "...",
    "~",
    "null",
    "true",
    "no",
    "\u{feff}",
    "é",
    "🦀",
    "\r\n",
    "%YAML 1.2\n",
    "<<: *a",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{ }}",
    "{{-",
    "-}}",
    "{% endfor %}",
    "{% if %}",
    "{{ params }}",
    "{{ vars }}",
    "{{ steps }}",
    "{{ item }}",
    "{{ index }}",
    "{{ env }}",
    "{{ run }}",
    "{{ steps.x.outputs }}",
];

/// Numbers at the edges of every integer and float type.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "255",
    "256",
    "65536",
    "4294967295",
    "4294967296",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999",
    "340282366920938463463374607431768211456",
    "1e308",
    "1e309",
    "-1e309",
    "1e-400",
    ".inf",
    "-.inf",
    ".nan",
    "NaN",
    "inf",
    "0x7fffffffffffffff",
    "0o777",
    "1_000",
    "3.14",
    "-3.5",
    "00012",
];

/// Durations, well-formed and not.
const DURATIONS: &[&str] = &[
    "0s",
    "1ms",
    "90s",
    "1h30m",
    "36500d",
    "36501d",
    "99999999999999999999d",
    "99999999999999999999",
    "1.5s",
    ".5s",
    "1..5s",
    "5",
    "-5s",
    "1e3s",
    "10x",
    "ms",
    "1h 30m",
    "999999999999999999999999999999999999999ms",
    "0.0000000001ms",
];

/// A random template expression, nested a few levels.
fn expression() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        prop::sample::select(vec![
            "params.n",
            "params.who",
            "params.executors",
            "params.timeout",
            "vars.v",
            "vars.greeting",
            "steps.a.outputs",
            "steps.a.status",
            "steps.job.outputs.job_id",
            "item",
            "index",
            "run.id",
            "run.target",
            "env.HOME",
            "undefined_thing",
            "none",
            "true",
            "[]",
            "{}",
            "[1, 2, 3]",
            "{'a': 1}",
            "'text'",
            "''",
            "range(5)",
            "range(100000)",
            "loop",
            "self",
            "namespace()",
        ])
        .prop_map(str::to_owned),
        prop::sample::select(NUMBERS.to_vec()).prop_map(|n| n.trim_start_matches('.').to_owned()),
        prop::sample::select(DURATIONS.to_vec()).prop_map(|d| format!("'{d}'")),
    ];
    atom.prop_recursive(4, 24, 3, |inner| {
        let filter = prop::sample::select(vec![
            "int",
            "float",
            "length",
            "upper",
            "lower",
            "title",
            "trim",
            "string",
            "list",
            "first",
            "last",
            "sort",
            "reverse",
            "unique",
            "abs",
            "round",
            "round(3)",
            "tojson",
            "items",
            "dictsort",
            "default(0)",
            "default('x')",
            "join(',')",
            "join",
            "replace('a', 'b')",
            "batch(0)",
            "batch(3)",
            "slice(0)",
            "slice(2)",
            "indent(99999)",
            "center(5)",
            "format(1)",
            "min",
            "max",
            "sum",
            "map('upper')",
            "select('odd')",
            "reject",
            "attr('x')",
            "safe",
            "escape",
            "urlencode",
            "pprint",
            "split",
            "split(',')",
            "lines",
            "bool",
            "capitalize",
            "wordcount",
            "int(base=99)",
        ]);
        let op = prop::sample::select(vec![
            "+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">=", "and", "or", "in",
            "not in", "is", "is not",
        ]);
        prop_oneof![
            (inner.clone(), filter).prop_map(|(e, f)| format!("{e} | {f}")),
            (inner.clone(), op, inner.clone()).prop_map(|(a, o, b)| format!("({a}) {o} ({b})")),
            inner.clone().prop_map(|e| format!("not {e}")),
            inner.clone().prop_map(|e| format!("-{e}")),
            inner.clone().prop_map(|e| format!("[{e}, {e}]")),
            inner.clone().prop_map(|e| format!("{e}[0]")),
            inner.clone().prop_map(|e| format!("{e}['a']")),
            inner.clone().prop_map(|e| format!("{e}.x")),
            inner.clone().prop_map(|e| format!("{e}[1:-1]")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| format!("{a} if {b} else {c}")),
        ]
    })
}

/// A random template: a lone expression (which keeps its type), text around one, or
/// a statement.
fn template_text() -> impl Strategy<Value = String> {
    (expression(), 0..6_u8).prop_map(|(e, shape)| match shape {
        0 | 1 => format!("{{{{ {e} }}}}"),
        2 => format!("x-{{{{ {e} }}}}-y"),
        3 => format!("{{% if {e} %}}a{{% else %}}b{{% endif %}}"),
        4 => format!("{{% for i in {e} %}}{{{{ i }}}},{{% endfor %}}"),
        _ => format!("{{{{ {e} }}}}{{{{ {e} }}}}"),
    })
}

/// [`TOKENS`], every key and parameter type the loader knows, and every action name.
fn words() -> Vec<&'static str> {
    let keys = [&RUNBOOK_KEYS, &PARAM_KEYS, &STEP_KEYS, &RETRY_KEYS]
        .into_iter()
        .flat_map(|keys| keys.iter().map(String::as_str));
    let actions = crate::runbook::all_actions().iter().map(|a| a.name());
    TOKENS
        .iter()
        .copied()
        .chain(keys)
        .chain(ParamType::names())
        .chain(actions)
        .collect()
}

/// Something to put into a runbook.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(words()).prop_map(str::to_owned),
        2 => prop::sample::select(NUMBERS.to_vec()).prop_map(str::to_owned),
        2 => prop::sample::select(DURATIONS.to_vec()).prop_map(str::to_owned),
        3 => template_text().prop_map(|t| format!("\"{}\"", t.replace('"', "'"))),
        1 => template_text(),
        1 => "[ -~]{0,12}",
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, String),
    Delete(Index, usize),
    Replace(Index, usize, String),
    /// Replaces the value of a random `key: value` line, keeping the YAML valid.
    Value(Index, String),
    /// Replaces the value of a random line that holds a template already (a `with:`
    /// field, `when`, `for_each`, a var), so the runbook mostly still loads and the
    /// new template is rendered by `plan`.
    TemplateValue(Index, String),
    DuplicateLine(Index),
    SwapLines(Index, Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => (any::<Index>(), token()).prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => (any::<Index>(), 1..40_usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => (any::<Index>(), 1..12_usize, token()).prop_map(|(i, n, t)| Edit::Replace(i, n, t)),
        4 => (any::<Index>(), token()).prop_map(|(i, t)| Edit::Value(i, t)),
        6 => (any::<Index>(), template_text())
            .prop_map(|(i, t)| Edit::TemplateValue(i, format!("\"{}\"", t.replace('"', "'")))),
        1 => any::<Index>().prop_map(Edit::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

/// The largest char boundary at or before `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, edit: &Edit) {
    match edit {
        Edit::Insert(i, t) => {
            let at = boundary(text, i.index(text.len() + 1));
            text.insert_str(at, t);
        }
        Edit::Delete(i, n) => {
            let from = boundary(text, i.index(text.len() + 1));
            let to = boundary(text, from + n);
            text.replace_range(from..to, "");
        }
        Edit::Replace(i, n, t) => {
            let from = boundary(text, i.index(text.len() + 1));
            let to = boundary(text, from + n);
            text.replace_range(from..to, t);
        }
        Edit::Value(i, t) | Edit::TemplateValue(i, t) => {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let marker = if matches!(edit, Edit::Value(..)) {
                ": "
            } else {
                ": \"{{"
            };
            let with_value: Vec<usize> = (0..lines.len())
                .filter(|&n| lines[n].contains(marker))
                .collect();
            if with_value.is_empty() {
                return;
            }
            let n = with_value[i.index(with_value.len())];
            if let Some(at) = lines[n].find(marker) {
                lines[n].truncate(at + 2);
                lines[n].push_str(t);
            }
            *text = lines.join("\n");
        }
        Edit::DuplicateLine(i) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let n = i.index(lines.len());
                lines.insert(n, lines[n]);
            }
            *text = lines.join("\n");
        }
        Edit::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
            }
            *text = lines.join("\n");
        }
    }
}

/// Validates the text as `runbook validate` does (rendering its diagnostics), and if
/// it loads, plans it as `runbook plan` does, on `sim` and on `aws`.
fn validate_and_plan(text: &str, sets: &[String]) {
    match load_str(text) {
        Err(diagnostics) => {
            let error = LoadError {
                file: "case.yaml".into(),
                source_text: text.to_owned(),
                diagnostics,
                included: Vec::new(),
            };
            let _ = error.to_string();
        }
        Ok(runbook) => {
            let loaded = LoadedRunbook {
                display_path: "case.yaml".into(),
                path: PathBuf::from("case.yaml"),
                source: text.to_owned(),
                content_hash: String::new(),
                runbook,
            };
            for target in [TargetKind::Sim, TargetKind::Aws] {
                if let Ok((params, steps)) = plan_steps(
                    &loaded,
                    &super::param_args::ParamArgs::sets(sets),
                    target,
                    None,
                    None,
                ) {
                    let _ = params.masked();
                    for step in &steps {
                        let _ = step.to_json();
                    }
                }
            }
        }
    }
}

/// The template engine on its own: listing variables and rendering.
fn render_template(text: &str) {
    let env = template::environment();
    let _ = template::lone_expression(text);
    let _ = template::referenced_variables(env, text);
    let ctx = minijinja::Value::from_serialize(serde_json::json!({
        "params": {"n": 3, "who": "x", "executors": 2, "timeout": "2h"},
        "vars": {"v": 6, "greeting": "hi"},
        "steps": {"a": {"status": "succeeded", "outputs": {"slept_ms": 5}}},
        "run": {"id": "r", "target": "sim"},
        "env": {"HOME": "/root"},
        "item": [1, 2],
        "index": 0,
    }));
    let _ = template::render_str(env, text, &ctx);
}

/// The seed of the case generator: fixed, so a CI run is reproducible (a failure
/// names an input that fails again); `RUNBOOK_FUZZ_SEED` explores others.
fn seed() -> u64 {
    std::env::var("RUNBOOK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_204)
}

/// How long one case may take before it counts as a hang (a debug build on a busy
/// 2-core machine takes milliseconds per case).
const HANG_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs one case on its own thread: a case that does not finish within
/// [`HANG_LIMIT`] is reported with its input and ends the test process (a hung
/// thread cannot be stopped, and a hang must fail the run, not stall it). A panic is
/// passed on to proptest, which reports and shrinks it.
fn within_limit(what: String, case: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        case();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(HANG_LIMIT) {
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            eprintln!(
                "no_panic_fuzz: a case ran longer than {HANG_LIMIT:?} (seed {}):\n{what}",
                seed()
            );
            std::process::exit(101);
        }
    }
}

fn cases() -> u32 {
    std::env::var("RUNBOOK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Every case is checked for a panic only: shrinking keeps the smallest text.
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed()),
        ..ProptestConfig::with_cases(cases())
    })]

    #[test]
    fn no_runbook_or_template_text_panics(
        base in prop::sample::select(bases()),
        edits in prop::collection::vec(edit(), 1..3),
        sets in prop::collection::vec(
            (prop::sample::select(vec!["n", "who", "executors", "timeout", "d", "subnet_ids"]),
             prop_oneof![token(), prop::sample::select(NUMBERS.to_vec()).prop_map(str::to_owned)])
                .prop_map(|(k, v)| format!("{k}={v}")),
            0..2,
        ).prop_map(|sets| if sets.len() > 1 { Vec::new() } else { sets }),
        template in template_text(),
    ) {
        let mut text = base;
        for e in &edits {
            apply(&mut text, e);
        }
        let what = format!("runbook:\n{text}\n--set: {sets:?}\ntemplate: {template}");
        within_limit(what, move || {
            validate_and_plan(&text, &sets);
            render_template(&template);
        });
    }
}
