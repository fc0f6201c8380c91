//! Secret params: the real value reaches the actions, but it is never printed, never
//! in `status`, never in the state DB's bytes (main file, WAL or shared memory), and a
//! resume needs it given again. Secret-looking environment variables are hidden alike.

use std::collections::BTreeSet;

use nix::sys::signal::Signal;

use crate::harness::{Test, gate, step};
use crate::secret_scan::{db_places, file_holds, raw_db_files};

const SECRET: &str = "hunter2-s3cr3t";

/// `say` logs the secret, `use` gives it to a program that echoes it to stdout and
/// stderr and writes it to `got`, `hold` waits on a gate (to look at the DB files while
/// the run is in flight), and `check` fails (with the secret in its stderr) until `ok`
/// exists.
fn runbook() -> String {
    format!(
        r#"name: secretive
params:
  token: {{ type: string, secret: true }}
  who: {{ default: me }}
steps:
  - id: say
    action: log
    with: {{ message: "token is {{{{ params.token }}}} for {{{{ params.who }}}}" }}
  - id: use
    action: exec
    with:
      argv: [sh, -c, "echo got $TOKEN; echo $TOKEN > got; echo err $TOKEN >&2"]
      env: {{ TOKEN: "{{{{ params.token }}}}" }}
      allow_on_sim: true
  - id: hold
    action: exec
    with: {{ argv: [sh, -c, "touch holding; {}"], allow_on_sim: true }}
  - id: check
    action: exec
    with:
      argv: [sh, -c, "[ -e ok ] || {{ echo rejected $TOKEN >&2; exit 1; }}; echo $TOKEN >> used"]
      env: {{ TOKEN: "{{{{ params.token }}}}" }}
      allow_on_sim: true
"#,
        gate("go")
    )
}

fn assert_not_in_db(t: &Test, when: &str) {
    let (files, holding) = raw_db_files(t.dir(), SECRET);
    assert!(
        files.contains(&"state.db".to_owned()),
        "no state DB: {files:?}"
    );
    assert!(holding.is_empty(), "the secret is in {holding:?} {when}");
}

#[test]
fn secret_is_masked_in_status_and_absent_from_the_state_db() {
    let t = Test::new().runbook("secretive.yaml", &runbook());
    let set = format!("token={SECRET}");
    let mut bg = t
        .args(["run", "secretive.yaml", "--set", set.as_str()])
        .spawn();
    bg.wait_until("`hold` holds", || t.path("holding").exists());
    // In flight, with the WAL in use.
    let (names, _) = raw_db_files(t.dir(), SECRET);
    assert!(
        names.contains(&"state.db-wal".to_owned()),
        "expected a WAL while the run is in flight: {names:?}"
    );
    assert_not_in_db(&t, "while the run is in flight");
    t.touch("go");
    let out = bg.wait().code(1);
    assert_not_in_db(&t, "after the run");

    // The program got the real value.
    assert_eq!(t.read("got").trim(), SECRET);

    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    let status = t.status(&run_id);
    let text = status.to_string();
    assert!(
        !text.contains(SECRET),
        "the secret is in status --json: {status:#}"
    );
    assert_eq!(status["params"]["token"], "***");
    assert_eq!(status["params"]["who"], "me");
    // Outputs and errors that contained it show `***` instead.
    assert_eq!(
        step(&status, "use")["outputs"]["stdout"],
        "got ***\n",
        "{status:#}"
    );
    assert_eq!(step(&status, "use")["outputs"]["stderr"], "err ***\n");
    assert_eq!(
        step(&status, "check")["error"],
        "`sh` exited with code 1: rejected ***"
    );
    assert_eq!(
        status["error"],
        "step check (exec) failed: `sh` exited with code 1: rejected ***"
    );
    assert!(!out.stderr.contains(SECRET), "stderr: {}", out.stderr);
    let table = t.args(["status", run_id.as_str()]).run().success().stdout;
    assert!(!table.contains(SECRET), "{table}");
    let runs = t.args(["runs"]).run().success().stdout;
    assert!(!runs.contains(SECRET), "{runs}");
}

/// Resuming without the secret is refused (exit 2, nothing run); with it, the run
/// finishes and the action gets the real value, not `***`.
#[test]
fn resume_needs_the_secret_again() {
    let t = Test::new().runbook("secretive.yaml", &runbook());
    t.touch("go");
    let set = format!("token={SECRET}");
    t.args(["run", "secretive.yaml", "--set", set.as_str()])
        .run()
        .code(1);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();

    t.touch("ok");
    t.args(["resume", run_id.as_str()])
        .run()
        .code(2)
        .stderr(
            "error: parameter `token` is secret and was not stored with the run; pass it again with --set token=...\n",
        );
    assert_eq!(t.read("used"), "", "a refused resume ran `check`");
    assert_eq!(t.status(&run_id)["status"], "failed");

    let out = t
        .args(["resume", run_id.as_str(), "--set", set.as_str()])
        .run()
        .success();
    assert!(!out.stdout.contains(SECRET), "{}", out.stdout);
    assert_eq!(t.read("used").trim(), SECRET);
    assert_eq!(t.status(&run_id)["status"], "succeeded");
    assert_not_in_db(&t, "after the resume");
}

/// What the run prints, in either output mode, never shows the secret.
#[test]
fn secret_never_printed() {
    let t = Test::new().runbook("secretive.yaml", &runbook());
    t.touch("go");
    t.touch("ok");
    let set = format!("token={SECRET}");
    for output in ["plain", "json"] {
        let out = t
            .args([
                "--output",
                output,
                "run",
                "secretive.yaml",
                "--set",
                set.as_str(),
            ])
            .run()
            .success();
        assert!(
            !out.stdout.contains(SECRET),
            "--output {output} printed the secret:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("token is *** for me"),
            "--output {output}:\n{}",
            out.stdout
        );
        assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
    }
    let plan = t
        .args(["plan", "secretive.yaml", "--set", set.as_str()])
        .run()
        .success();
    assert!(!plan.stdout.contains(SECRET), "{}", plan.stdout);
}

/// Where the secret of [`leaky_runbook`] comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The param `token`, declared `secret: true` or not.
    Param { secret: bool },
    /// An environment variable read through the `env` scope.
    Env { name: &'static str },
}

impl Source {
    fn expression(self) -> String {
        match self {
            Source::Param { .. } => "params.token".to_owned(),
            Source::Env { name } => format!("env.{name}"),
        }
    }
}

/// The secret flows through a `log` message, an `exec` program's output (plain and as
/// JSON), a `put-object` body (so the simulator's snapshot), a cluster's name (so the
/// simulator's events), a step's outputs and a failing step's error. `hold` waits on a
/// gate, so the run can be interrupted in the middle.
fn leaky_runbook(source: Source) -> String {
    let params = match source {
        Source::Param { secret } => {
            format!("params:\n  token: {{ type: string, secret: {secret} }}\n")
        }
        Source::Env { .. } => String::new(),
    };
    let expr = source.expression();
    format!(
        r#"name: leaky
{params}steps:
  - id: say
    action: log
    with: {{ message: "token is {{{{ {expr} }}}}" }}
  - id: use
    action: exec
    with:
      argv: [sh, -c, 'echo "got $TOKEN"; printf "{{\"t\": \"%s\"}}\n" "$TOKEN"; echo "$TOKEN" > got']
      env: {{ TOKEN: "{{{{ {expr} }}}}" }}
      allow_on_sim: true
  - id: bucket
    action: create-bucket
    with: {{ name: jobs }}
  - id: put
    action: put-object
    with: {{ bucket: jobs, key: app.properties, content: "token={{{{ {expr} }}}}\n" }}
  - id: cluster
    action: create-cluster
    with: {{ name: "c-{{{{ {expr} }}}}" }}
  - id: hold
    action: exec
    with: {{ argv: [sh, -c, "touch holding; {gate}"], allow_on_sim: true }}
  - id: check
    action: exec
    with:
      argv: [sh, -c, "echo rejected $TOKEN >&2; exit 1"]
      env: {{ TOKEN: "{{{{ {expr} }}}}" }}
      allow_on_sim: true
"#,
        gate = gate("go")
    )
}

/// Where a run of [`leaky_runbook`] left the secret.
#[derive(Debug, Default)]
struct Leaks {
    /// `table.column` of the state DB, decoded.
    db: BTreeSet<String>,
    /// DB files holding it as raw bytes while the run was in flight (WAL in use).
    raw_in_flight: Vec<String>,
    /// DB files holding it as raw bytes at the end.
    raw_after: Vec<String>,
    log_file: bool,
    report: bool,
}

/// Runs [`leaky_runbook`] with `--log-file`, interrupts it (SIGINT) while `hold`
/// holds, resumes it to its failure at `check`, writes the report, and looks for the
/// secret everywhere.
fn run_and_scan(source: Source) -> Leaks {
    let t = Test::new().runbook("leaky.yaml", &leaky_runbook(source));
    let set = format!("token={SECRET}");
    let command = |verb: &str, what: &str| {
        let mut args = vec!["--log-file", "run.log", verb, what];
        if let Source::Param { .. } = source {
            args.extend(["--set", set.as_str()]);
        }
        let cmd = t.args(args);
        match source {
            Source::Env { name } => cmd.env(name, SECRET),
            Source::Param { .. } => cmd,
        }
    };
    let mut bg = command("run", "leaky.yaml").spawn();
    bg.wait_until("`hold` holds", || t.path("holding").exists());
    let (files, raw_in_flight) = raw_db_files(t.dir(), SECRET);
    assert!(
        files.contains(&"state.db-wal".to_owned()),
        "expected a WAL while the run is in flight: {files:?}"
    );
    bg.signal(Signal::SIGINT);
    bg.wait().code(130);
    let run_id = t.only_run()["id"].as_str().expect("id").to_owned();
    t.touch("go");
    command("resume", &run_id).run().code(1);
    let status = t.status(&run_id);
    assert_eq!(status["status"], "failed", "{status:#}");
    assert_eq!(status["resumes"], 1, "{status:#}");
    // The program got the real value, whatever was stored.
    assert_eq!(t.read("got").trim(), SECRET);
    // The object and the cluster are in the kept snapshot (and cluster events).
    assert_eq!(step(&status, "put")["status"], "succeeded", "{status:#}");
    assert_eq!(
        step(&status, "cluster")["status"],
        "succeeded",
        "{status:#}"
    );
    t.args(["report", run_id.as_str(), "-o", "report.html"])
        .run()
        .success();
    let (_, raw_after) = raw_db_files(t.dir(), SECRET);
    Leaks {
        db: db_places(&t.state_db(), SECRET),
        raw_in_flight,
        raw_after,
        log_file: file_holds(&t.path("run.log"), SECRET),
        report: file_holds(&t.path("report.html"), SECRET),
    }
}

/// The places a run without masking must leave the secret, so that finding nothing
/// with masking means something.
fn assert_found_everywhere(leaks: &Leaks, source: Source) {
    for place in [
        "step_attempts.input",
        "step_attempts.outputs",
        "step_attempts.error",
        "events.data",
        "snapshots.data",
        "runs.error",
    ] {
        assert!(
            leaks.db.contains(place),
            "{source:?}: the scan did not find the unmasked secret in {place}: {leaks:#?}"
        );
    }
    assert!(!leaks.raw_in_flight.is_empty(), "{source:?}: {leaks:#?}");
    assert!(!leaks.raw_after.is_empty(), "{source:?}: {leaks:#?}");
    assert!(leaks.log_file, "{source:?}: {leaks:#?}");
    assert!(leaks.report, "{source:?}: {leaks:#?}");
}

fn assert_found_nowhere(leaks: &Leaks, source: Source) {
    assert!(leaks.db.is_empty(), "{source:?} leaked: {leaks:#?}");
    assert!(
        leaks.raw_in_flight.is_empty(),
        "{source:?} leaked: {leaks:#?}"
    );
    assert!(leaks.raw_after.is_empty(), "{source:?} leaked: {leaks:#?}");
    assert!(!leaks.log_file, "{source:?} leaked into the log file");
    assert!(!leaks.report, "{source:?} leaked into the report");
}

/// A secret param that reaches a log message, a program's output, an S3 object, a
/// cluster's name (the simulator's events and snapshot) and an error is stored nowhere:
/// not in any column of the state DB (decoded), its files, the log file or the report.
/// The same run with the param not secret finds it in each of those places.
#[test]
fn secret_param_is_in_no_table_snapshot_log_file_or_report() {
    let masked = Source::Param { secret: true };
    assert_found_nowhere(&run_and_scan(masked), masked);
    let plain = Source::Param { secret: false };
    assert_found_everywhere(&run_and_scan(plain), plain);
}

/// The same for an environment variable whose name looks secret; one whose name does
/// not is stored as it is.
#[test]
fn secret_looking_environment_variable_is_masked() {
    let masked = Source::Env {
        name: "RB_E2E_API_TOKEN",
    };
    assert_found_nowhere(&run_and_scan(masked), masked);
    let plain = Source::Env {
        name: "RB_E2E_API_VALUE",
    };
    assert_found_everywhere(&run_and_scan(plain), plain);
}
