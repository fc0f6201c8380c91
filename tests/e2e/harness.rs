//! A small builder for running the real `runbook` binary, in the manner of just's
//! `tests/test.rs`: every [`Test`] owns a temporary directory that is the working
//! directory of every command and holds the runbooks, the files their `exec` steps
//! write, and the state DB (`--state <tmp>/state.db`).
//!
//! Nothing here sleeps for a fixed time to let something happen: background runs are
//! observed by polling for files their steps write, with a bounded wait that panics
//! with the process's output so far.

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

/// How long anything may take before a test gives up. Generous, because CI machines
/// have two cores and run the tests in parallel; a passing test never waits this long.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// One test's world: a temporary directory with its own state DB.
pub(crate) struct Test {
    dir: TempDir,
}

impl Test {
    pub(crate) fn new() -> Test {
        let dir = tempfile::Builder::new()
            .prefix("runbook-e2e-")
            .tempdir()
            .expect("failed to create a temporary directory");
        std::fs::write(dir.path().join(ALIVE), "").expect("failed to create .alive");
        Test { dir }
    }

    /// Writes a runbook (or any file) into the test directory.
    pub(crate) fn runbook(self, name: &str, yaml: &str) -> Test {
        self.write(name, yaml);
        self
    }

    /// Writes (or overwrites) a file in the test directory.
    pub(crate) fn write(&self, name: &str, contents: &str) {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("failed to create a directory");
        }
        fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("failed to write {}: {e}", path.display()));
    }

    /// Creates an empty file, e.g. to open a gate a step is waiting on.
    pub(crate) fn touch(&self, name: &str) {
        self.write(name, "");
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn state_db(&self) -> PathBuf {
        self.path("state.db")
    }

    /// The contents of a file in the test directory ("" if it does not exist yet).
    pub(crate) fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// The lines of a file in the test directory (none if it does not exist yet).
    pub(crate) fn lines(&self, name: &str) -> Vec<String> {
        self.read(name).lines().map(str::to_owned).collect()
    }

    /// A command of the binary, run in the test directory against its state DB.
    pub(crate) fn args<I, S>(&self, args: I) -> Cmd<'_>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Cmd {
            test: self,
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            state_flag: true,
            closed_stdout: false,
            stdin: Stdin::Null,
        }
    }

    /// `runbook runs --json`.
    pub(crate) fn runs(&self) -> Vec<Value> {
        let out = self.args(["runs", "--json"]).run().success();
        match out.json() {
            Value::Array(runs) => runs,
            other => panic!("`runs --json` printed {other}, not a list"),
        }
    }

    /// `runbook runs --status STATUS --json`.
    pub(crate) fn runs_with_status(&self, status: &str) -> Vec<Value> {
        let out = self
            .args(["runs", "--status", status, "--json"])
            .run()
            .success();
        match out.json() {
            Value::Array(runs) => runs,
            other => panic!("`runs --json` printed {other}, not a list"),
        }
    }

    /// The only run in the state DB (panics if there are none or several).
    pub(crate) fn only_run(&self) -> Value {
        let runs = self.runs();
        assert_eq!(runs.len(), 1, "expected exactly one run, found {runs:#?}");
        runs.into_iter().next().expect("one run")
    }

    /// `runbook status RUN --json`.
    pub(crate) fn status(&self, run_id: &str) -> Value {
        self.args(["status", run_id, "--json"])
            .run()
            .success()
            .json()
    }

    /// Every attempt record of a run, read from the state DB with the `state` crate.
    ///
    /// Only for what the binary does not show: `status --json` has no idempotency key,
    /// and the key is what makes a replayed cloud call safe. Call it only while no
    /// `runbook` process of this test is running.
    pub(crate) fn attempt_records(&self, run_id: &str) -> Vec<runbook_state::StepRecord> {
        self.store()
            .attempts(run_id)
            .unwrap_or_else(|e| panic!("failed to read the attempts of {run_id}: {e}"))
    }

    /// Every event of a run, read from the state DB with the `state` crate (what the
    /// report and the assertions read). Call it only while no `runbook` process of this
    /// test is running.
    pub(crate) fn event_records(&self, run_id: &str) -> Vec<runbook_state::EventRecord> {
        self.store()
            .events(run_id)
            .unwrap_or_else(|e| panic!("failed to read the events of {run_id}: {e}"))
    }

    fn store(&self) -> runbook_state::Store {
        runbook_state::Store::open(&self.state_db())
            .unwrap_or_else(|e| panic!("failed to open the state DB: {e}"))
    }

    /// Waits until `done` holds, polling; panics with `what` after [`PATIENCE`].
    pub(crate) fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        wait_until(what, None, &mut done);
    }
}

/// Polls `done` every few milliseconds; while waiting on a background run, panics early
/// (with its output) if that run exits.
fn wait_until(what: &str, mut bg: Option<&mut Background>, done: &mut dyn FnMut() -> bool) {
    let start = Instant::now();
    loop {
        if done() {
            return;
        }
        if let Some(bg) = bg.as_deref_mut() {
            if let Some(status) = bg.child.try_wait().expect("failed to poll a child") {
                // It may have done the thing just before exiting.
                if done() {
                    return;
                }
                panic!(
                    "the background run exited ({status}) before {what}\nstdout:\n{}\nstderr:\n{}",
                    bg.stdout_so_far(),
                    bg.stderr_so_far()
                );
            }
        }
        if start.elapsed() > PATIENCE {
            let output = bg
                .map(|bg| {
                    format!(
                        "\nstdout:\n{}\nstderr:\n{}",
                        bg.stdout_so_far(),
                        bg.stderr_so_far()
                    )
                })
                .unwrap_or_default();
            panic!("gave up after {PATIENCE:?} waiting until {what}{output}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One invocation of the binary, being built.
pub(crate) struct Cmd<'t> {
    test: &'t Test,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    state_flag: bool,
    closed_stdout: bool,
    stdin: Stdin,
}

/// What a command's stdin is.
enum Stdin {
    /// `/dev/null`: at its end at once.
    Null,
    /// A file with this text.
    Text(String),
    /// A pipe the test writes to ([`Background::write_stdin`]).
    Pipe,
}

impl Cmd<'_> {
    pub(crate) fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Do not pass `--state` (the test gives the state DB another way).
    pub(crate) fn without_state_flag(mut self) -> Self {
        self.state_flag = false;
        self
    }

    /// Makes stdout a pipe whose reading end is already closed, as with `| head -1`
    /// once `head` has exited: every write to stdout fails with EPIPE (SIGPIPE).
    pub(crate) fn closed_stdout(mut self) -> Self {
        self.closed_stdout = true;
        self
    }

    /// Gives it `text` on stdin (then its end), as `< file` does.
    pub(crate) fn stdin(mut self, text: &str) -> Self {
        self.stdin = Stdin::Text(text.to_owned());
        self
    }

    /// Makes stdin a pipe that stays open until the test writes to it or the process
    /// ends, as a terminal nobody has typed into yet.
    pub(crate) fn stdin_pipe(mut self) -> Self {
        self.stdin = Stdin::Pipe;
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_runbook"));
        if self.state_flag {
            cmd.arg("--state").arg(self.test.state_db());
        }
        cmd.args(&self.args)
            .current_dir(self.test.dir())
            // Nothing from the developer's environment leaks in, and nothing leaks out
            // to their real state DB.
            .env_remove("RUNBOOK_STATE")
            .env_remove("RUNBOOK_TARGET")
            .env_remove("RUNBOOK_WORLD")
            .env("HOME", self.test.dir())
            .env("XDG_STATE_HOME", self.test.path("xdg-state"))
            .env("NO_COLOR", "1")
            // The host recorded with runs and locks, the same on every machine.
            .env("RUNBOOK_HOST", "testhost")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs it to the end (bounded by [`PATIENCE`]).
    pub(crate) fn run(self) -> Output {
        self.spawn().wait()
    }

    /// Starts it in the background, in a process group of its own, so a test can
    /// SIGKILL it together with the programs its `exec` steps started.
    pub(crate) fn spawn(self) -> Background {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stdout_path = self.test.path(&format!(".out/{n}.stdout"));
        let stderr_path = self.test.path(&format!(".out/{n}.stderr"));
        fs::create_dir_all(self.test.path(".out")).expect("failed to create .out");
        // Files, not pipes: a killed run's orphans cannot hold a pipe open, and nothing
        // blocks on a full pipe.
        let stdout = if self.closed_stdout {
            let (reader, writer) = nix::unistd::pipe().expect("failed to create a pipe");
            drop(reader);
            Stdio::from(writer)
        } else {
            Stdio::from(fs::File::create(&stdout_path).expect("failed to create a stdout file"))
        };
        let stderr = fs::File::create(&stderr_path).expect("failed to create a stderr file");
        let description = format!("runbook {}", shown_args(&self.args));
        let mut command = self.command();
        match &self.stdin {
            Stdin::Null => {}
            Stdin::Text(text) => {
                let path = self.test.path(&format!(".out/{n}.stdin"));
                fs::write(&path, text).expect("failed to write a stdin file");
                command.stdin(fs::File::open(&path).expect("failed to open a stdin file"));
            }
            Stdin::Pipe => {
                command.stdin(Stdio::piped());
            }
        }
        let mut child = command
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start `{description}`: {e}"));
        let stdin = child.stdin.take();
        Background {
            child,
            stdin,
            description,
            stdout_path,
            stderr_path,
            reaped: None,
        }
    }
}

fn shown_args(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `runbook` process running in the background.
pub(crate) struct Background {
    child: Child,
    /// Its stdin, when it is a pipe ([`Cmd::stdin_pipe`]).
    stdin: Option<std::process::ChildStdin>,
    description: String,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    reaped: Option<ExitStatus>,
}

impl Background {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn raw_pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits i32"))
    }

    /// Writes `text` to its stdin (a [`Cmd::stdin_pipe`]), as typing does.
    pub(crate) fn write_stdin(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self
            .stdin
            .as_mut()
            .expect("stdin is not a pipe: use Cmd::stdin_pipe");
        stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .expect("failed to write to stdin");
    }

    pub(crate) fn stdout_so_far(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub(crate) fn stderr_so_far(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits until `done` holds; panics if the process exits first or after
    /// [`PATIENCE`].
    pub(crate) fn wait_until(&mut self, what: &str, mut done: impl FnMut() -> bool) {
        wait_until(what, Some(self), &mut done);
    }

    /// Waits until its stdout contains `text` (as [`Background::wait_until`]).
    pub(crate) fn wait_for_stdout(&mut self, text: &str) {
        let path = self.stdout_path.clone();
        self.wait_for_text_in(path, "output", text);
    }

    /// Waits until its stderr contains `text` (as [`Background::wait_until`]).
    pub(crate) fn wait_for_stderr(&mut self, text: &str) {
        let path = self.stderr_path.clone();
        self.wait_for_text_in(path, "stderr", text);
    }

    fn wait_for_text_in(&mut self, path: PathBuf, stream: &str, text: &str) {
        self.wait_until(&format!("its {stream} says {text:?}"), || {
            fs::read_to_string(&path).is_ok_and(|out| out.contains(text))
        });
    }

    /// Whether it has exited (without reaping it: [`Background::wait`] still works).
    pub(crate) fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Sends `signal` to the `runbook` process only (as `kill -INT PID` does).
    pub(crate) fn signal(&self, signal: Signal) {
        kill(self.raw_pid(), signal).expect("failed to signal the background run");
    }

    /// Sends `signal` to its whole process group (as a terminal's Ctrl-C does).
    pub(crate) fn signal_group(&self, signal: Signal) {
        killpg(self.raw_pid(), signal).expect("failed to signal the background group");
    }

    /// `kill -9` of its process group (the run, and any program still in that group;
    /// `exec` starts its programs in groups of their own, so they live on as orphans,
    /// as after an OOM kill); then the process is reaped (a zombie would still look
    /// alive to the lock's pid check).
    pub(crate) fn kill9(mut self) -> Output {
        let _ = killpg(self.raw_pid(), Signal::SIGKILL);
        let status = self.child.wait().expect("failed to reap the killed run");
        self.reaped = Some(status);
        assert_eq!(
            status.signal(),
            Some(Signal::SIGKILL as i32),
            "`{}` was expected to die of SIGKILL, but ended with {status}\nstderr:\n{}",
            self.description,
            self.stderr_so_far()
        );
        self.output(status)
    }

    /// `kill -9` as [`Background::kill9`], unless it already exited; says whether it
    /// was killed.
    pub(crate) fn kill9_or_exit(mut self) -> bool {
        let _ = killpg(self.raw_pid(), Signal::SIGKILL);
        let status = self.child.wait().expect("failed to reap the killed run");
        self.reaped = Some(status);
        status.signal() == Some(Signal::SIGKILL as i32)
    }

    /// Waits for it to exit (bounded by [`PATIENCE`]; a hung process is killed).
    pub(crate) fn wait(self) -> Output {
        self.wait_within(PATIENCE)
    }

    /// Waits for it to exit, for at most `patience` (a hung process is killed): for a
    /// run paced against the wall clock, which takes its time by design.
    pub(crate) fn wait_within(mut self, patience: Duration) -> Output {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("failed to poll a child") {
                break status;
            }
            if start.elapsed() > patience {
                let _ = killpg(self.raw_pid(), Signal::SIGKILL);
                let _ = self.child.wait();
                panic!(
                    "`{}` did not finish within {patience:?}\nstdout:\n{}\nstderr:\n{}",
                    self.description,
                    self.stdout_so_far(),
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        self.reaped = Some(status);
        self.output(status)
    }

    fn output(&self, status: ExitStatus) -> Output {
        Output {
            description: self.description.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout: self.stdout_so_far(),
            stderr: self.stderr_so_far(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A test that panicked mid-way leaves no process behind.
        if self.reaped.is_none() {
            let _ = killpg(self.raw_pid(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// What a finished invocation did.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) description: String,
    /// The exit code, or `None` if a signal ended it.
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// Asserts the exit code.
    #[track_caller]
    pub(crate) fn code(self, expected: i32) -> Output {
        assert_eq!(
            self.code,
            Some(expected),
            "`{}` exited with {:?} (signal {:?}), expected {expected}\nstdout:\n{}\nstderr:\n{}",
            self.description,
            self.code,
            self.signal,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn success(self) -> Output {
        self.code(0)
    }

    /// Asserts stderr exactly.
    #[track_caller]
    pub(crate) fn stderr(self, expected: &str) -> Output {
        assert_eq!(
            self.stderr, expected,
            "stderr of `{}` differs",
            self.description
        );
        self
    }

    /// stdout parsed as one JSON document.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of `{}` is not JSON ({e}):\n{}",
                self.description, self.stdout
            )
        })
    }

    /// stdout parsed as JSON lines (`--output json`).
    #[track_caller]
    pub(crate) fn events(&self) -> Vec<Value> {
        json_lines(&self.stdout)
    }
}

/// Parses JSON lines, each of which must be an object with an `event` field.
#[track_caller]
pub(crate) fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(
                v.get("event").and_then(Value::as_str).is_some(),
                "JSON line without an `event` string: {line}"
            );
            v
        })
        .collect()
}

/// The run id announced by the `run_started` event of JSON-lines output.
#[track_caller]
pub(crate) fn run_id_of(events: &[Value]) -> String {
    events
        .iter()
        .find(|e| e["event"] == "run_started")
        .and_then(|e| e["run"].as_str())
        .unwrap_or_else(|| panic!("no run_started event in {events:#?}"))
        .to_owned()
}

/// The `step_started` events, as (step key, attempt, resumed).
pub(crate) fn started_steps(events: &[Value]) -> Vec<(String, u64, bool)> {
    events
        .iter()
        .filter(|e| e["event"] == "step_started")
        .map(|e| {
            (
                e["step"].as_str().unwrap_or_default().to_owned(),
                e["attempt"].as_u64().unwrap_or_default(),
                e["resumed"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

/// The `status --json` entry of one step key.
#[track_caller]
pub(crate) fn step<'v>(status: &'v Value, key: &str) -> &'v Value {
    status["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["key"] == key))
        .unwrap_or_else(|| panic!("no step `{key}` in {status:#}"))
}

/// (key, status, attempts) of every step in `status --json`, in its order.
pub(crate) fn step_summary(status: &Value) -> Vec<(String, String, u64)> {
    status["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| {
                    (
                        s["key"].as_str().unwrap_or_default().to_owned(),
                        s["status"].as_str().unwrap_or_default().to_owned(),
                        s["attempts"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether every step in `status --json` succeeded at its first attempt.
pub(crate) fn all_succeeded_once(status: &Value) -> bool {
    step_summary(status)
        .iter()
        .all(|(_, s, attempts)| s == "succeeded" && *attempts == 1)
}

/// A shell snippet that waits until `file` exists in the working directory, for steps
/// a test holds open and then releases. It also ends when the test's directory is gone
/// (so a program orphaned by `kill -9` does not outlive its test) and after about 10 s.
pub(crate) fn gate(file: &str) -> String {
    format!(
        "i=0; while [ ! -e {file} ] && [ -e {ALIVE} ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done"
    )
}

/// Exists as long as the test's directory does (see [`gate`]).
const ALIVE: &str = ".alive";

/// How many lines of `lines` are exactly `line`.
pub(crate) fn count(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|l| *l == line).count()
}

/// Replaces every timestamp (`2026-11-25 17:41:07`, `2026-11-25T17:41:07.123Z`) with
/// `[time]`, for comparing messages exactly.
pub(crate) fn redact_times(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = timestamp_at(&bytes[i..]) {
            out.push_str("[time]");
            i += len;
        } else {
            let ch = text[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The length of a timestamp at the start of `b`, if there is one.
fn timestamp_at(b: &[u8]) -> Option<usize> {
    // "dddd-dd-dd?dd:dd:dd" then optionally ".ddd" and "Z".
    const SHAPE: &[u8] = b"0000-00-00?00:00:00";
    if b.len() < SHAPE.len() {
        return None;
    }
    for (c, s) in b.iter().zip(SHAPE) {
        let ok = match s {
            b'0' => c.is_ascii_digit(),
            b'?' => *c == b' ' || *c == b'T',
            other => c == other,
        };
        if !ok {
            return None;
        }
    }
    let mut len = SHAPE.len();
    if b.len() >= len + 4 && b[len] == b'.' && b[len + 1..len + 4].iter().all(u8::is_ascii_digit) {
        len += 4;
    }
    if b.get(len) == Some(&b'Z') {
        len += 1;
    }
    Some(len)
}

#[test]
fn redact_times_finds_both_shapes() {
    assert_eq!(
        redact_times("started 2026-11-25 17:41:07 UTC, at 2026-11-25T17:41:07.123Z."),
        "started [time] UTC, at [time]."
    );
    assert_eq!(redact_times("no 2026-11-25 here"), "no 2026-11-25 here");
}
