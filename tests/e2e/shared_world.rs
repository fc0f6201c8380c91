//! Named simulated worlds (`run --world NAME`): runs that name the same world share one
//! simulated account, as runs on `aws` share the real one. Set-up, a scenario and
//! tear-down chain on one world: each adopts what the one before made, virtual time
//! continues, and the tear-down leaves nothing. One run holds a world at a time; a run
//! without `--world` still gets a new world of its own.

use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::canned_runbooks::canned;
use crate::harness::{Test, gate, run_id_of, step};

/// The virtual time (ms) of the first event of a run's JSON-lines output with this
/// `event`.
fn sim_ms(events: &[Value], event: &str) -> u64 {
    events
        .iter()
        .find(|e| e["event"] == event)
        .and_then(|e| e["sim_ms"].as_u64())
        .unwrap_or_else(|| panic!("no {event} event with sim_ms in {events:#?}"))
}

/// `runbook worlds --json`.
fn worlds(t: &Test) -> Vec<Value> {
    match t.args(["worlds", "--json"]).run().success().json() {
        Value::Array(worlds) => worlds,
        other => panic!("`worlds --json` printed {other}, not a list"),
    }
}

/// The entry of `worlds --json` for `name`.
fn world(t: &Test, name: &str) -> Value {
    worlds(t)
        .into_iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no world `{name}` in `worlds --json`"))
}

/// The inventory of an empty world, as `worlds --json` shows it.
fn nothing() -> Value {
    json!({
        "clusters": [],
        "nodes": 0,
        "virtual_clusters": [],
        "job_runs": [],
        "roles": [],
        "log_groups": [],
        "buckets": [],
    })
}

#[test]
fn platform_setup_a_scenario_and_teardown_share_one_world() {
    let t = Test::new().runbook(
        "needs-cluster.yaml",
        r#"name: needs-cluster
steps:
  - id: vc
    action: register-vc
    with: { cluster: eks-emr-cluster, namespace: monthly-batch }
"#,
    );
    // The platform with the demo's node type: on the walkthrough's m5.2xlarge both
    // jobs fit and nothing would be preempted, on sim as on aws.
    let setup = t
        .args([
            "--output",
            "json",
            "run",
            &canned("platform-setup.yaml"),
            "--world",
            "w",
            "--set",
            "node_type=c5.2xlarge",
        ])
        .run()
        .success();
    let setup_events = setup.events();
    let setup_id = run_id_of(&setup_events);
    assert_eq!(
        sim_ms(&setup_events, "run_started"),
        0,
        "a new world starts at 0"
    );
    let setup_end = sim_ms(&setup_events, "run_finished");
    assert!(setup_end > 0, "creating a cluster takes virtual time");
    let after_setup = world(&t, "w");
    assert_eq!(after_setup["virtual_time_ms"], setup_end);
    assert_eq!(after_setup["last_run"], setup_id.as_str());
    assert_eq!(after_setup["held"], false);
    let contents = &after_setup["contents"];
    assert_eq!(contents["clusters"], json!(["eks-emr-cluster"]));
    assert_eq!(contents["nodes"], 1);
    assert_eq!(
        contents["virtual_clusters"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(contents["roles"].as_array().map(Vec::len), Some(5));

    // The scenario restates the platform's steps: each adopts what exists, as its
    // preflight, run against the world, says first.
    let demo = t
        .args([
            "--output",
            "json",
            "run",
            &canned("priority-demo.yaml"),
            "--world",
            "w",
            "--preflight",
        ])
        .run()
        .success();
    assert!(
        demo.stderr
            .contains("existing                the run reuses cluster eks-emr-cluster (ACTIVE"),
        "{}",
        demo.stderr
    );
    let demo_events = demo.events();
    let demo_id = run_id_of(&demo_events);
    assert_eq!(
        sim_ms(&demo_events, "run_started"),
        setup_end,
        "virtual time continues where the set-up ended"
    );
    assert!(
        demo_events.iter().any(|e| e["event"] == "notice"
            && e["message"].as_str().is_some_and(|m| m.starts_with(
                "world `w`: what the runs before made exists; virtual time continues from"
            ))),
        "{demo_events:#?}"
    );
    let status = t.status(&demo_id);
    assert_eq!(status["world"], "w");
    // priority-demo includes platform-setup as step `platform`.
    assert_eq!(
        step(&status, "platform/cluster")["outputs"]["adopted"],
        true
    );
    for i in 0..2 {
        assert_eq!(
            step(&status, &format!("platform/virtual_clusters[{i}]"))["outputs"]["adopted"],
            true
        );
        assert_eq!(
            step(&status, &format!("platform/roles[{i}]"))["outputs"]["adopted"],
            true
        );
        assert_eq!(
            step(&status, &format!("platform/log_groups[{i}]"))["outputs"]["created"],
            false
        );
        assert_eq!(
            step(&status, &format!("platform/log_buckets[{i}]"))["outputs"]["created"],
            false
        );
    }
    assert_eq!(
        step(&status, "templates_bucket")["outputs"]["created"],
        true,
        "what the platform lacks is made"
    );
    // The demo's story is the walkthrough's on the adopted node.
    assert!(
        step(&status, "eviction")["status"] == "succeeded",
        "{status:#}"
    );
    // Its events are its own: the set-up's cluster and node were found, not told.
    let kinds: Vec<String> = t
        .event_records(&demo_id)
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        !kinds
            .iter()
            .any(|k| k == "ClusterCreating" || k == "NodeLaunched"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "PodPreempted"), "{kinds:?}");

    let teardown = t
        .args([
            "--output",
            "json",
            "run",
            &canned("teardown.yaml"),
            "--world",
            "w",
        ])
        .run()
        .success();
    let teardown_events = teardown.events();
    let teardown_id = run_id_of(&teardown_events);
    assert!(sim_ms(&teardown_events, "run_started") >= sim_ms(&demo_events, "run_finished"));
    let status = t.status(&teardown_id);
    assert_eq!(step(&status, "cluster")["outputs"]["deleted"], true);
    let after_teardown = world(&t, "w");
    assert_eq!(after_teardown["contents"], nothing(), "{after_teardown:#}");
    assert_eq!(after_teardown["last_run"], teardown_id.as_str());

    // The next run on the world finds no cluster.
    let out = t
        .args(["run", "needs-cluster.yaml", "--world", "w"])
        .run()
        .code(1);
    assert!(
        out.stdout
            .contains("ResourceNotFoundException: failed to find EKS cluster `eks-emr-cluster`"),
        "{}",
        out.stdout
    );

    // `runs` and `status` say which world each run used.
    let runs = t.runs();
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r["world"] == "w"), "{runs:#?}");
    let table = t.args(["runs"]).run().success().stdout;
    let header = table.lines().next().unwrap_or_default();
    assert!(header.contains(" WORLD "), "{table}");
    assert!(
        table
            .lines()
            .filter(|l| l.contains("platform-setup"))
            .all(|l| l.split_whitespace().any(|cell| cell == "w")),
        "{table}"
    );
    let text = t.args(["status", &setup_id]).run().success().stdout;
    assert!(
        text.contains("\nworld    w (shared with the runs that name it)\n"),
        "{text}"
    );
    let listed = t.args(["worlds"]).run().success().stdout;
    assert!(listed.starts_with("WORLD  "), "{listed}");
    assert!(
        listed.lines().nth(1).is_some_and(|l| l.starts_with("w ")),
        "{listed}"
    );
}

#[test]
fn a_run_without_a_world_starts_empty_at_virtual_time_zero() {
    let t = Test::new();
    t.args(["run", &canned("platform-setup.yaml"), "--world", "w"])
        .run()
        .success();
    let own = t
        .args(["--output", "json", "run", &canned("platform-setup.yaml")])
        .run()
        .success();
    let events = own.events();
    assert_eq!(sim_ms(&events, "run_started"), 0);
    assert!(
        !events.iter().any(|e| e["event"] == "notice"),
        "a world of its own is not announced: {events:#?}"
    );
    let id = run_id_of(&events);
    let status = t.status(&id);
    assert_eq!(status["world"], Value::Null);
    assert_eq!(step(&status, "cluster")["outputs"]["adopted"], false);
    let run = t
        .runs()
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .expect("listed");
    assert_eq!(run["world"], Value::Null);
    let text = t.args(["status", &id]).run().success().stdout;
    assert!(!text.contains("\nworld "), "{text}");
    // The named world is as its own run left it.
    let listed = worlds(&t);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_ne!(listed[0]["last_run"], id.as_str());
}

/// Creates a log group, then holds until `go` exists.
const HOLDER: &str = r#"name: holder
steps:
  - id: logs
    action: create-log-group
    with: { name: /held/world }
  - id: hold
    action: exec
    with: { argv: [sh, -c, "touch started; GATE"], allow_on_sim: true }
"#;

/// Creates (or adopts) the holder's log group.
const NEXT: &str = r#"name: next
steps:
  - id: logs
    action: create-log-group
    with: { name: /held/world }
"#;

/// Runs `next.yaml` on `world`; says whether its step found the holder's log group
/// and adopted it (`created: false`) rather than creating one.
fn next_run_adopts_the_log_group(t: &Test, world: &str) -> bool {
    let out = t
        .args(["--output", "json", "run", "next.yaml", "--world", world])
        .run()
        .success();
    let status = t.status(&run_id_of(&out.events()));
    let created = &step(&status, "logs")["outputs"]["created"];
    !created
        .as_bool()
        .unwrap_or_else(|| panic!("`created` is {created}"))
}

/// A test with the holder started on world `w` and stopped in its `hold` step, by
/// SIGINT (it records the interruption) or `kill -9` (it records nothing more);
/// returns its run id.
fn stopped_holder(kill: bool) -> (Test, String) {
    let t = Test::new()
        .runbook("holder.yaml", &HOLDER.replace("GATE", &gate("go")))
        .runbook("next.yaml", NEXT);
    let mut bg = t
        .args(["--output", "json", "run", "holder.yaml", "--world", "w"])
        .spawn();
    bg.wait_until("`hold` has started", || t.path("started").exists());
    let out = if kill {
        bg.kill9()
    } else {
        bg.signal(Signal::SIGINT);
        bg.wait().code(130)
    };
    let id = run_id_of(&out.events());
    (t, id)
}

#[test]
fn an_interrupted_run_holds_its_world_until_it_is_abandoned() {
    let (t, holder) = stopped_holder(false);
    let refused = t.args(["run", "next.yaml", "--world", "w"]).run().code(5);
    assert_eq!(
        refused.stderr,
        format!(
            "error: world `w` is held by run {holder} (holder: interrupted), which may still continue it; a second run would fork the world, so no new run was started (exit 5).\n  = help: continue it with `runbook resume {holder}`, or retire it with `runbook abandon {holder}` (the world keeps what it made); then run again\n"
        )
    );
    assert_eq!(t.runs().len(), 1, "the refused run left nothing");
    let listed = world(&t, "w");
    assert_eq!(listed["held"], true);
    assert_eq!(listed["last_run_status"], "interrupted");
    let table = t.args(["worlds"]).run().success().stdout;
    assert!(table.contains("interrupted (holds it)"), "{table}");
    let not_deleted = t.args(["worlds", "--delete", "w"]).run().code(5);
    assert!(
        not_deleted
            .stderr
            .starts_with(&format!("error: world `w` is held by run {holder}")),
        "{}",
        not_deleted.stderr
    );
    // Other worlds, and runs of worlds of their own, are free.
    t.args(["run", "next.yaml", "--world", "other"])
        .run()
        .success();
    t.args(["run", "next.yaml"]).run().success();

    t.args(["abandon", &holder]).run().success();
    // The world keeps what the abandoned run made.
    assert_eq!(
        world(&t, "w")["contents"]["log_groups"],
        json!(["/held/world"])
    );
    assert!(
        next_run_adopts_the_log_group(&t, "w"),
        "what the holder made exists"
    );

    // A world nobody holds can be forgotten; its name then starts afresh.
    t.args(["worlds", "--delete", "w"]).run().success();
    t.args(["worlds", "--delete", "w"]).run().code(2);
    assert!(!next_run_adopts_the_log_group(&t, "w"), "a new world");
}

/// A run killed without a chance to hand its world back still holds it; its abandon
/// hands over what it checkpointed.
#[test]
fn a_killed_run_holds_its_world_and_its_abandon_hands_over_what_it_made() {
    let (t, holder) = stopped_holder(true);
    assert_eq!(
        world(&t, "w")["contents"]["log_groups"],
        json!([]),
        "the world has not been handed back"
    );
    t.args(["run", "next.yaml", "--world", "w"])
        .run()
        .code(5)
        .stderr(&format!(
            "error: world `w` is held by run {holder} (holder: running, or its process was killed), which may still continue it; a second run would fork the world, so no new run was started (exit 5).\n  = help: if it is still running, wait for it to end; otherwise continue it with `runbook resume {holder}`, or retire it with `runbook abandon {holder}` (the world keeps what it made); then run again\n"
        ));
    t.args(["abandon", &holder]).run().success();
    let listed = world(&t, "w");
    assert_eq!(listed["held"], false);
    assert_eq!(listed["contents"]["log_groups"], json!(["/held/world"]));
    assert!(
        next_run_adopts_the_log_group(&t, "w"),
        "what the holder made exists"
    );
}

#[test]
fn a_resumed_run_hands_its_world_back_at_its_end() {
    let (t, holder) = stopped_holder(false);
    t.touch("go");
    t.args(["resume", &holder]).run().success();
    let listed = world(&t, "w");
    assert_eq!(listed["held"], false);
    assert_eq!(listed["last_run"], holder.as_str());
    assert!(
        next_run_adopts_the_log_group(&t, "w"),
        "what the holder made exists"
    );
}

#[test]
fn a_world_is_named_on_sim_only_and_plainly() {
    let t = Test::new().runbook("next.yaml", NEXT);
    t.args(["run", "next.yaml", "--target", "aws", "--world", "w"])
        .run()
        .code(2)
        .stderr(
            "error: --world w names a simulated world, which only the sim target has (on aws, runs share the account itself); drop --world (or RUNBOOK_WORLD) or use --target sim\n",
        );
    let bad = t.args(["run", "next.yaml", "--world", "a b"]).run().code(2);
    assert!(
        bad.stderr.contains("`a b` is not a world name"),
        "{}",
        bad.stderr
    );
    assert!(t.runs().is_empty());
    // RUNBOOK_WORLD names it too.
    t.args(["run", "next.yaml"])
        .env("RUNBOOK_WORLD", "from-env")
        .run()
        .success();
    assert_eq!(t.only_run()["world"], "from-env");
}
