//! The presenter's board on a real terminal: `runbook run --board` inside tmux (a
//! real pseudo-terminal, as a presenter's), its screen captured, the presenter's keys
//! sent (space pauses virtual time, `q` stops the run), and the terminal checked to be
//! given back afterwards (main screen, the run's last words readable, exit 130).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::canned_runbooks::canned;
use crate::harness::{PATIENCE, Test};

/// A tmux server of its own (its socket in the test's directory), so that tests do
/// not share sessions and nothing outlives the test.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn new(dir: &Path) -> Tmux {
        Tmux {
            socket: dir.join("tmux.sock"),
        }
    }

    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("tmux is needed for this test (apt-get install tmux): {e}"));
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "board"])
    }

    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "waited {PATIENCE:?} for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

#[test]
fn the_board_shows_the_cluster_pauses_on_space_and_q_stops_the_run_and_gives_the_terminal_back()
{
    let t = Test::new();
    let tmux = Tmux::new(&t.path(""));
    let state = t.path("state.db");
    let exit_file = t.path("exit-code");
    // Slow enough to watch (the cluster takes 11 virtual minutes: 7 s at 100x), and
    // the shell stays after the run so that its screen can be read.
    let command = format!(
        "{} --state {} run {} --board --sim-speed 100; echo \"exit $?\" > {}; echo run-ended; sleep 60",
        env!("CARGO_BIN_EXE_runbook"),
        state.display(),
        canned("priority-demo.yaml"),
        exit_file.display()
    );
    tmux.cmd(&[
        "new-session", "-d", "-s", "board", "-x", "140", "-y", "40", "sh", "-c", &command,
    ]);
    let on_board = tmux.wait_for("the board with the cluster's node", |s| {
        s.contains("pending (") && s.contains("c5.2xlarge")
    });
    assert!(on_board.contains("story"), "{on_board}");
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "board", "#{alternate_on}"]).trim(),
        "1",
        "the board is drawn on the alternate screen"
    );

    tmux.cmd(&["send-keys", "-t", "board", " "]);
    let paused = tmux.wait_for("PAUSED in the title", |s| s.contains("PAUSED"));
    let time_of = |screen: &str| -> String {
        screen
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("t+")))
            .unwrap_or_default()
            .to_string()
    };
    let frozen = time_of(&paused);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        time_of(&tmux.screen()),
        frozen,
        "virtual time stands still while paused"
    );
    tmux.cmd(&["send-keys", "-t", "board", " "]);
    tmux.wait_for("the pause to end", |s| !s.contains("PAUSED"));

    tmux.cmd(&["send-keys", "-t", "board", "q"]);
    let after = tmux.wait_for("the run to end", |s| s.contains("run-ended"));
    assert_eq!(
        tmux.cmd(&["display", "-p", "-t", "board", "#{alternate_on}"]).trim(),
        "0",
        "the terminal is back on its main screen:\n{after}"
    );
    assert_eq!(
        std::fs::read_to_string(&exit_file).expect("the exit code").trim(),
        "exit 130",
        "q stops the run as SIGINT does:\n{after}"
    );
    assert!(after.contains("runbook resume"), "{after}");
    let run = t.only_run();
    assert_eq!(run["status"], "interrupted", "{run:#}");
}
