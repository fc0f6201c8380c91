//! Composition through the binary: a `runbook` step runs another runbook file inside
//! it. Its steps are checkpointed under the step's key, so `kill -9` inside the
//! included runbook and `resume` continue there, and each included step that
//! succeeded runs once.

use std::collections::BTreeMap;

use crate::canned_runbooks::canned;
use crate::harness::{
    Test, all_succeeded_once, count, gate, json_lines, run_id_of, started_steps, step, step_summary,
};

/// A child runbook of three `exec` steps that append their ids to `counter`; `c2`
/// then holds until `open-c2` exists (the window in which the test kills the run).
const CHILD: &str = r#"name: child
params:
  tag: { default: none }
steps:
  - id: c1
    action: exec
    with: { argv: [sh, -c, "echo c1-{{ params.tag }} >> counter"], allow_on_sim: true }
  - id: c2
    action: exec
    with: { argv: [sh, -c, "echo c2 >> counter; GATE"], allow_on_sim: true }
  - id: c3
    action: exec
    with: { argv: [sh, -c, "echo c3 >> counter"], allow_on_sim: true }
"#;

/// A parent that appends `s1`, runs the child as step `inner` (giving it a tag), and
/// appends what the child's first step printed.
const PARENT: &str = r#"name: parent
steps:
  - id: s1
    action: exec
    with: { argv: [sh, -c, "echo s1 >> counter"], allow_on_sim: true }
  - id: inner
    action: runbook
    with: { file: lib/child.yaml, params: { tag: blue } }
  - id: s4
    action: exec
    with: { argv: [sh, -c, "echo s4-{{ steps.inner.outputs.steps.c1.exit_code }} >> counter"], allow_on_sim: true }
"#;

fn composed() -> Test {
    Test::new()
        .runbook("parent.yaml", PARENT)
        .runbook("lib/child.yaml", &CHILD.replace("GATE", &gate("open-c2")))
}

#[test]
fn a_runbook_step_runs_the_included_steps_under_its_key_and_later_steps_read_its_outputs() {
    let t = composed();
    t.touch("open-c2");
    let out = t
        .args(["--output", "json", "run", "parent.yaml"])
        .run()
        .success();
    let starts: Vec<String> = started_steps(&out.events())
        .into_iter()
        .map(|(key, _, _)| key)
        .collect();
    assert_eq!(
        starts,
        ["s1", "inner", "inner/c1", "inner/c2", "inner/c3", "s4"]
    );
    // The child got the parent's param; the step after it read its outputs.
    assert_eq!(t.lines("counter"), ["s1", "c1-blue", "c2", "c3", "s4-0"]);
    let run_id = run_id_of(&out.events());
    let status = t.status(&run_id);
    assert_eq!(step(&status, "inner")["action"], "runbook", "{status:#}");
    assert_eq!(step(&status, "inner/c2")["action"], "exec", "{status:#}");
}

#[test]
fn kill_9_inside_an_included_runbook_then_resume_runs_each_included_step_once() {
    let t = composed();
    let mut bg = t.args(["--output", "json", "run", "parent.yaml"]).spawn();
    bg.wait_until("c2 has appended", || t.lines("counter").len() == 3);
    bg.kill9();
    let run = t.only_run();
    let run_id = run["id"].as_str().expect("run id").to_owned();
    assert_eq!(
        step_summary(&t.status(&run_id)),
        [
            ("s1".to_owned(), "succeeded".to_owned(), 1),
            ("inner".to_owned(), "running".to_owned(), 1),
            ("inner/c1".to_owned(), "succeeded".to_owned(), 1),
            ("inner/c2".to_owned(), "running".to_owned(), 1),
        ],
        "checkpoints at the kill"
    );

    t.touch("open-c2");
    let resumed = t
        .args(["--output", "json", "resume", run_id.as_str()])
        .run()
        .success();
    // The killed steps are re-entered (same attempt), the rest start fresh; what had
    // succeeded (s1, inner/c1) does not start again.
    assert_eq!(
        started_steps(&resumed.events()),
        [
            ("inner".to_owned(), 1, true),
            ("inner/c2".to_owned(), 1, true),
            ("inner/c3".to_owned(), 1, false),
            ("s4".to_owned(), 1, false),
        ]
    );
    let lines = t.lines("counter");
    for (id, times) in [("s1", 1), ("c1-blue", 1), ("c2", 2), ("c3", 1), ("s4-0", 1)] {
        assert_eq!(count(&lines, id), times, "`{id}` in counter: {lines:?}");
    }
    let status = t.status(&run_id);
    assert_eq!(status["status"], "succeeded", "{status:#}");
    assert!(all_succeeded_once(&status), "{status:#}");
}

#[test]
fn a_changed_included_file_is_a_changed_runbook_for_resume() {
    let t = composed();
    let mut bg = t.args(["--output", "json", "run", "parent.yaml"]).spawn();
    bg.wait_until("c2 has appended", || t.lines("counter").len() == 3);
    bg.kill9();
    let run_id = t.only_run()["id"].as_str().expect("run id").to_owned();
    t.write(
        "lib/child.yaml",
        &CHILD
            .replace("GATE", "true")
            .replace("c3 >>", "c3-changed >>"),
    );
    let out = t.args(["resume", run_id.as_str()]).run().code(2);
    assert!(
        out.stderr.contains("parent.yaml changed since run"),
        "stderr: {}",
        out.stderr
    );
    assert_eq!(
        t.lines("counter"),
        ["s1", "c1-blue", "c2"],
        "nothing ran again"
    );
}

#[test]
fn the_composed_priority_demo_killed_inside_platform_setup_resumes_with_each_step_once() {
    let t = Test::new();
    // At 100 virtual seconds per second the cluster takes a few wall seconds: the
    // window in which the run is killed inside the included platform-setup.
    let mut bg = t
        .args([
            "--output",
            "json",
            "run",
            &canned("priority-demo.yaml"),
            "--sim-speed",
            "100",
        ])
        .spawn();
    bg.wait_for_stdout(r#"{"step":"platform/cluster","action":"create-cluster""#);
    let before = json_lines(&bg.stdout_so_far());
    bg.kill9();
    let run_id = run_id_of(&before);
    let resumed = t
        .args(["--output", "json", "resume", run_id.as_str()])
        .run()
        .success();
    // Every step of the run, included ones too, started once fresh over both
    // invocations; a start after the kill is either fresh or a re-entry.
    let mut fresh: BTreeMap<String, usize> = BTreeMap::new();
    for (key, attempt, resumed) in started_steps(&before)
        .into_iter()
        .chain(started_steps(&resumed.events()))
    {
        assert_eq!(attempt, 1, "`{key}` needed a second attempt");
        if !resumed {
            *fresh.entry(key).or_default() += 1;
        }
    }
    assert!(
        fresh.keys().any(|k| k == "platform/virtual_clusters[1]"),
        "{fresh:?}"
    );
    for (key, n) in &fresh {
        assert_eq!(*n, 1, "`{key}` started {n} times");
    }
    let status = t.status(&run_id);
    assert_eq!(status["status"], "succeeded", "{status:#}");
    assert_eq!(
        step(&status, "platform/cluster")["attempts"],
        1,
        "{status:#}"
    );
}

/// `--params-file`: typed values from YAML (or JSON), `--set` winning over them, and a
/// name the runbook does not declare refused with the file's path (exit 2).
#[test]
fn a_params_file_gives_the_params_and_set_wins() {
    let t = Test::new()
        .runbook(
            "p.yaml",
            "name: p\nparams:\n  who: { default: nobody }\n  n: { type: integer, default: 0 }\n  tags: { type: list, default: [] }\nsteps:\n  - { id: say, action: log, with: { message: \"{{ params.who }} {{ params.n + 1 }} {{ params.tags | join(',') }}\" } }\n",
        )
        .runbook("params.yaml", "who: file\nn: 41\ntags: [a, b]\n")
        .runbook("params.json", "{\"who\": \"json\", \"n\": \"2\"}");
    let out = t
        .args([
            "--output",
            "json",
            "run",
            "p.yaml",
            "--params-file",
            "params.yaml",
        ])
        .run()
        .success();
    let said = messages(&out);
    assert_eq!(said, ["file 42 a,b"]);
    let out = t
        .args([
            "--output",
            "json",
            "run",
            "p.yaml",
            "--params-file",
            "params.json",
            "--set",
            "who=set",
        ])
        .run()
        .success();
    let said = messages(&out);
    assert_eq!(
        said,
        ["set 3 "],
        "--set wins, and JSON text converts as --set would"
    );
    t.write("bad.yaml", "who: x\nnn: 1\n");
    let out = t
        .args(["run", "p.yaml", "--params-file", "bad.yaml"])
        .run()
        .code(2);
    assert!(
        out.stderr
            .contains("unknown parameter `nn` in --params-file bad.yaml; did you mean `n`?"),
        "{}",
        out.stderr
    );
}

/// What the run's steps said (`step_message` events of `--output json`).
fn messages(out: &crate::harness::Output) -> Vec<String> {
    out.events()
        .iter()
        .filter(|e| e["event"] == "step_message")
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}
