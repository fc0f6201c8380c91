//! The process group of a program that `exec` started: `exec` owns it, so ending the
//! step ends the program *and everything it started* (`sh -c 'a & b & wait'`), not
//! only the direct child.
//!
//! Every group is ended the same way: SIGTERM to the whole group, a short grace period
//! for the programs to clean up, then SIGKILL to whatever is left. The groups still
//! alive are also kept in a process-wide list, so that the process can end them before
//! it exits even when the step that owned them is gone ([`end_all`]): a future dropped
//! by a step `timeout` cannot wait out its grace period, and a second Ctrl-C exits at
//! once.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How long a group has between SIGTERM and SIGKILL: enough for `helm` or `kubectl`
/// to exit cleanly, short enough that Ctrl-C and a step `timeout` stay prompt.
pub const GRACE: Duration = Duration::from_secs(2);

/// How often a group is checked for being empty during its grace period.
const POLL: Duration = Duration::from_millis(10);

/// The groups not yet known to be gone, by id, with when they were sent SIGTERM.
static LIVE: Mutex<BTreeMap<i32, Option<Instant>>> = Mutex::new(BTreeMap::new());

fn live() -> MutexGuard<'static, BTreeMap<i32, Option<Instant>>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A process group that `exec` started and must end. Dropping it without
/// [`ProcessGroup::end`] (the step's future was dropped) sends SIGTERM at once and
/// SIGKILL after [`GRACE`] from a helper thread.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    pgid: i32,
    ended: bool,
}

impl ProcessGroup {
    /// Takes ownership of the group led by `leader`, a child started with
    /// `process_group(0)` (so its pid is the group's id).
    pub(crate) fn adopt(leader: u32) -> Option<ProcessGroup> {
        let pgid = i32::try_from(leader).ok()?;
        live().insert(pgid, None);
        Some(ProcessGroup { pgid, ended: false })
    }

    /// Whether any process of the group is still there (an unreaped leader counts).
    fn exists(&self) -> bool {
        exists(self.pgid)
    }

    /// Ends the group and returns once it is empty: SIGTERM, up to [`GRACE`] for it to
    /// go, then SIGKILL. `reap` is polled meanwhile so the leader (our child) does not
    /// stay a zombie that keeps the group "alive"; it is awaited at the end.
    pub(crate) async fn end<F>(&mut self, reap: F)
    where
        F: std::future::Future<Output = ()>,
    {
        let mut reap = std::pin::pin!(reap);
        let mut reaped = false;
        if self.exists() {
            terminate(self.pgid);
            let deadline = tokio::time::Instant::now() + GRACE;
            while self.exists() && tokio::time::Instant::now() < deadline {
                tokio::select! {
                    () = &mut reap, if !reaped => reaped = true,
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            if self.exists() {
                let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
            }
        }
        if !reaped {
            reap.await;
        }
        self.ended = true;
        live().remove(&self.pgid);
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let pgid = self.pgid;
        terminate(pgid);
        // Nothing can be awaited in `drop`: a thread waits out the grace period. If the
        // process exits first, `end_all` finishes the job.
        let spawned = std::thread::Builder::new()
            .name(format!("end-group-{pgid}"))
            .spawn(move || {
                let deadline = Instant::now() + GRACE;
                while exists(pgid) && Instant::now() < deadline {
                    std::thread::sleep(POLL);
                }
                kill_and_forget(pgid);
            });
        if spawned.is_err() {
            kill_and_forget(pgid);
        }
    }
}

/// Ends every group still alive before the process exits. With `grace`, each group
/// gets what is left of its grace period after SIGTERM (those not yet sent SIGTERM
/// get it now); without, SIGKILL at once (a second Ctrl-C: "exit now").
pub fn end_all(grace: bool) {
    let groups: Vec<(i32, Option<Instant>)> =
        live().iter().map(|(pgid, sent)| (*pgid, *sent)).collect();
    if grace {
        let mut deadlines = Vec::new();
        for (pgid, sent) in groups {
            let sent = sent.unwrap_or_else(|| {
                terminate(pgid);
                Instant::now()
            });
            deadlines.push((pgid, sent + GRACE));
        }
        for (pgid, deadline) in deadlines {
            while exists(pgid) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
            kill_and_forget(pgid);
        }
    } else {
        for (pgid, _) in groups {
            kill_and_forget(pgid);
        }
    }
}

/// Sends SIGTERM to the group and notes when, unless it was sent already.
fn terminate(pgid: i32) {
    let mut live = live();
    let sent = live.entry(pgid).or_insert(None);
    if sent.is_none() {
        *sent = Some(Instant::now());
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
    }
}

/// SIGKILL to whatever is left of the group, which is then no longer ours.
fn kill_and_forget(pgid: i32) {
    if exists(pgid) {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    live().remove(&pgid);
}

/// Signal 0 checks that the group has a member without sending anything.
fn exists(pgid: i32) -> bool {
    !matches!(killpg(Pid::from_raw(pgid), None), Err(Errno::ESRCH))
}
