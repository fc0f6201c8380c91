//! `exec`: runs a local program, for glue such as `helm` or `kubectl`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::action::{Action, Effects};
use crate::context::StepContext;
use crate::planned_call::{PlanContext, PlannedCall, Service};
use crate::process_group::ProcessGroup;
use runbook_backend::ActionError;
use runbook_backend::TargetKind;
use runbook_backend::duration::{Humane, HumaneDuration};

/// Captured output beyond this many bytes per stream is cut (the state DB keeps outputs).
const MAX_CAPTURE: usize = 64 * 1024;

/// The action; [`ExecInput`] documents what it does (its doc comment is the
/// action's help text).
pub(crate) struct Exec;

/// Runs a local program with arguments (no shell), captures its output, and fails the
/// step on a non-zero exit code. On `sim` it is refused unless `allow_on_sim: true`,
/// because a local program would act on the real world while the rest of the run is
/// simulated. The program runs in a process group of its own that ends with the step:
/// on `timeout`, the step's `timeout` or an interruption the whole group gets SIGTERM,
/// then SIGKILL 2 s later, and what the program leaves running when it exits is ended
/// the same way (use `setsid` for a program that must outlive the step).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExecInput {
    /// The program and its arguments, e.g. `[helm, uninstall, karpenter]`. No shell is
    /// involved; use `[sh, -c, "..."]` for one.
    argv: Vec<String>,
    /// Extra environment variables for the program (the runbook's environment is
    /// inherited).
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Working directory (default: the current directory).
    #[serde(default)]
    dir: Option<PathBuf>,
    /// Kill the program and everything it started if it runs longer than this
    /// (wall-clock time, on every target).
    #[serde(default)]
    timeout: Option<HumaneDuration>,
    /// Text written to the program's standard input.
    #[serde(default)]
    stdin: Option<String>,
    /// Exit codes that count as success (default: `[0]`).
    #[serde(default)]
    ok_exit_codes: Option<Vec<i32>>,
    /// Run even on the `sim` target (for programs that do not touch AWS, such as
    /// rendering a file).
    #[serde(default)]
    allow_on_sim: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ExecOutput {
    /// The program's exit code.
    exit_code: i32,
    /// Standard output (cut after 64 KiB).
    stdout: String,
    /// Standard error (cut after 64 KiB).
    stderr: String,
    /// Wall-clock milliseconds the program ran.
    duration_ms: u64,
}

impl Action for Exec {
    type Input = ExecInput;
    type Output = ExecOutput;
    const NAME: &'static str = "exec";
    const SUMMARY: &'static str =
        "Run a local program (argv, env, dir, timeout) and capture its output.";
    const EFFECTS: Effects = Effects::Mutates;

    async fn run(&self, input: ExecInput, ctx: &StepContext) -> Result<ExecOutput, ActionError> {
        if ctx.target.kind == TargetKind::Sim && !input.allow_on_sim {
            return Err(ActionError::Unsupported {
                action: "exec",
                target: "sim",
                reason: "a local program acts on the real world while the run is simulated; set `allow_on_sim: true` if it is safe".into(),
            });
        }
        let Some((program, args)) = input.argv.split_first() else {
            return Err(ActionError::InvalidInput(
                "`argv` must name a program".into(),
            ));
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .envs(&input.env)
            .stdin(if input.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, which the step owns and ends as a whole (see
            // `process_group`). It also keeps a terminal's Ctrl-C away from the
            // program: runbook interrupts the run and stops the program itself,
            // instead of the program dying first and the step being recorded as failed.
            .process_group(0);
        if let Some(dir) = &input.dir {
            command.current_dir(dir);
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| ActionError::Failed(format!("failed to start `{program}`: {e}")))?;
        let Some(mut group) = child.id().and_then(ProcessGroup::adopt) else {
            return Err(ActionError::Bug(format!(
                "`{program}` started but has no process id"
            )));
        };
        // Readers and the writer are tasks of their own: the pipes are drained while
        // the program runs (a full pipe would stall it), and after the program exits
        // they end once its group is gone.
        let stdout = tokio::spawn(read_capped(child.stdout.take()));
        let stderr = tokio::spawn(read_capped(child.stderr.take()));
        let stdin = match (input.stdin, child.stdin.take()) {
            (Some(text), Some(mut pipe)) => Some(tokio::spawn(async move {
                match pipe.write_all(text.as_bytes()).await {
                    // The program closed its standard input without reading it all:
                    // its choice, and its exit code says how that went.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    other => other,
                }
            })),
            _ => None,
        };
        let timeout = input.timeout;
        let limit = async {
            match timeout {
                Some(limit) => tokio::time::sleep(limit.0).await,
                None => std::future::pending().await,
            }
        };
        let status = tokio::select! {
            status = child.wait() => status,
            () = limit => {
                group.end(reap(&mut child)).await;
                let limit = timeout.map(|t| t.0).unwrap_or_default();
                return Err(ActionError::Failed(format!(
                    "`{program}` timed out after {} and was killed",
                    Humane(limit)
                )));
            }
            () = ctx.cancel.cancelled() => {
                group.end(reap(&mut child)).await;
                return Err(ActionError::Interrupted);
            }
        }
        .map_err(|e| ActionError::Failed(format!("failed to wait for `{program}`: {e}")))?;
        // The step ends when its program does: what the program left running in its
        // group (`sh -c 'server &'`) is ended too. A program meant to outlive the step
        // must leave the group itself (`setsid`).
        group.end(async {}).await;
        if let Some(Ok(Err(e))) = match stdin {
            Some(task) => Some(task.await),
            None => None,
        } {
            return Err(ActionError::Failed(format!(
                "failed to write stdin of `{program}`: {e}"
            )));
        }
        let exit_code = status.code().unwrap_or(-1);
        let stdout = capture(&stdout.await.unwrap_or_default());
        let stderr = capture(&stderr.await.unwrap_or_default());
        let ok_codes = input.ok_exit_codes.unwrap_or_else(|| vec![0]);
        if !ok_codes.contains(&exit_code) {
            let how = match status.code() {
                Some(code) => format!("exited with code {code}"),
                None => "was killed by a signal".to_string(),
            };
            let tail: String = stderr
                .trim_end()
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            let detail = if tail.is_empty() {
                String::new()
            } else {
                format!(": {tail}")
            };
            return Err(ActionError::Failed(format!("`{program}` {how}{detail}")));
        }
        Ok(ExecOutput {
            exit_code,
            stdout,
            stderr,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    fn planned_calls(
        input: &ExecInput,
        _plan: &PlanContext,
    ) -> Result<Vec<PlannedCall>, ActionError> {
        if input.argv.is_empty() {
            return Err(ActionError::InvalidInput(
                "`argv` must name a program".into(),
            ));
        }
        let mut detail = serde_json::json!({"argv": input.argv});
        if let Some(dir) = &input.dir {
            detail["dir"] = serde_json::json!(dir.display().to_string());
        }
        if !input.env.is_empty() {
            detail["env"] = serde_json::json!(input.env);
        }
        // What the program itself calls (helm, kubectl, aws) is not the plan's to know.
        let unknown = "the program's own calls are not listed";
        let note = match &input.timeout {
            Some(limit) => format!("killed after {}; {unknown}", Humane(limit.0)),
            None => unknown.to_string(),
        };
        Ok(vec![
            PlannedCall::new(Service::Local, "run", detail).note(note),
        ])
    }
}

/// Waits for the leader of the group to exit and reaps it.
async fn reap(child: &mut tokio::process::Child) {
    let _ = child.wait().await;
}

/// Reads a pipe to its end, keeping the first [`MAX_CAPTURE`] bytes; says whether
/// there was more.
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> (Vec<u8>, bool) {
    let Some(mut pipe) = pipe else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut cut = false;
    let mut buf = [0_u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return (kept, cut),
            Ok(n) => {
                let room = MAX_CAPTURE - kept.len();
                kept.extend_from_slice(&buf[..n.min(room)]);
                cut |= n > room;
            }
        }
    }
}

/// The output as text. Output beyond [`MAX_CAPTURE`] is cut after the last whole line
/// kept: a cut in the middle of a line could keep the start of a secret, which the
/// engine's masker cannot recognize any more.
fn capture((bytes, cut): &(Vec<u8>, bool)) -> String {
    let mut kept = &bytes[..];
    if *cut && let Some(end) = kept.iter().rposition(|&b| b == b'\n') {
        kept = &kept[..=end];
    }
    let mut text = String::from_utf8_lossy(kept).into_owned();
    if *cut {
        text.push_str("\n[output cut at 64 KiB]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_is_cut_after_a_whole_line() {
        let mut output = vec![b'x'; MAX_CAPTURE - 10];
        output.extend_from_slice(b"\ntoken=hunter2");
        // What read_capped keeps of `...\ntoken=hunter2-s3cr3t\nmore\n`.
        let text = capture(&(output, true));
        assert!(!text.contains("hunter2"), "{}", &text[text.len() - 40..]);
        assert!(text.ends_with("xxx\n\n[output cut at 64 KiB]"));
        assert_eq!(capture(&(b"short\n".to_vec(), false)), "short\n");
    }
}
