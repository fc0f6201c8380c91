//! What a closed stdout (`runbook actions | head -1`) does to a command.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with `BrokenPipe`, and
//! `println!` panics on that (exit 101 with a panic message). Commands that only read
//! and print (`actions`, `plan`, `runs`, `status`, `schema`, ...) get SIGPIPE's default
//! action back instead, like `ls` or `grep`: the process ends quietly, killed by
//! SIGPIPE, which the shell shows as exit status 141 and `head` expects.
//!
//! `run` and `resume` keep SIGPIPE ignored: dying in the middle of a run would leave it
//! `running` in the state DB. Their progress output ignores write errors instead, so a
//! closed stdout neither stops the run nor keeps it from recording how it ended.

use nix::sys::signal::{SigHandler, Signal, signal};

use super::Command;

/// Restores SIGPIPE's default action for the commands that do not run anything.
pub(super) fn quiet_exit_on_closed_stdout(command: &Command) {
    if matches!(command, Command::Run(_) | Command::Resume(_)) {
        return;
    }
    restore_default_sigpipe();
}

#[expect(
    unsafe_code,
    reason = "setting a signal's action is unsafe in general; SIG_DFL installs no handler"
)]
fn restore_default_sigpipe() {
    // SAFETY: SIG_DFL runs no code of ours in signal context, so nothing async-signal-
    // unsafe can happen; it is set at startup, before any thread that writes exists.
    // Failing leaves SIGPIPE ignored: a closed pipe then ends the command with an error
    // message instead of quietly, which is acceptable.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
