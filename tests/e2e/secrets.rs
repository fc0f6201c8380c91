//! Secret params: the real value reaches the actions, but it is never printed, never
//! in `status`, never in the state DB's bytes (main file, WAL or shared memory), and a
//! resume needs it given again.

use crate::harness::{Test, gate, step};

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

/// Every file of the state DB (`state.db`, `state.db-wal`, `state.db-shm`, ...).
fn db_files(t: &Test) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(t.dir()).expect("read the test dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        // Files only: the run locks live in the directory `state.db.locks/`.
        if name.starts_with("state.db") && entry.path().is_file() {
            files.push((name, std::fs::read(entry.path()).expect("read a DB file")));
        }
    }
    assert!(
        files.iter().any(|(n, _)| n == "state.db"),
        "no state DB in {}",
        t.dir().display()
    );
    files
}

fn assert_not_in_db(t: &Test, when: &str) {
    for (name, bytes) in db_files(t) {
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret is in {name} {when}"
        );
    }
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
    let names: Vec<String> = db_files(&t).into_iter().map(|(n, _)| n).collect();
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
