//! What ends a presenter's pause: a line on stdin (Enter, on a terminal), or whoever
//! holds a [`GoOn`] (a full-screen board reads its own keys and says so).

use std::io::{BufRead, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use tokio::sync::{Mutex, mpsc};

/// What the presenter's side said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    GoOn,
    /// Nothing more will be said (stdin ended): pauses do not wait any more.
    NoMore,
}

/// How a pause ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    GoOn,
    /// Nobody can say to go on (stdin is at its end): the pause did not wait.
    NoInput,
}

/// The presenter's side of the pauses. Cloning it gives another handle to the same.
#[derive(Clone)]
pub struct GoOn {
    shared: Arc<Shared>,
}

struct Shared {
    tx: mpsc::UnboundedSender<Word>,
    rx: Mutex<mpsc::UnboundedReceiver<Word>>,
    /// Where the words come from: stdin lines, read by a thread started once.
    stdin: Option<Once>,
    /// Whether stdin is a terminal, where a line typed before a pause is a stray
    /// Enter rather than an answer to it.
    stdin_is_terminal: bool,
    ended: AtomicBool,
}

impl GoOn {
    /// Pauses end with a line on stdin (Enter on a terminal). A file or pipe is read
    /// one line per pause; at its end (`</dev/null`, cron) pauses no longer wait.
    pub fn from_stdin() -> GoOn {
        GoOn::new(Some(Once::new()), std::io::stdin().is_terminal())
    }

    /// Pauses end only when [`GoOn::go_on`] is called (a board that reads keys).
    pub fn external() -> GoOn {
        GoOn::new(None, false)
    }

    fn new(stdin: Option<Once>, stdin_is_terminal: bool) -> GoOn {
        let (tx, rx) = mpsc::unbounded_channel();
        GoOn {
            shared: Arc::new(Shared {
                tx,
                rx: Mutex::new(rx),
                stdin,
                stdin_is_terminal,
                ended: AtomicBool::new(false),
            }),
        }
    }

    /// Says to go on: ends the pause under way, or the next one.
    pub fn go_on(&self) {
        // The receiver lives as long as `shared`, which `self` holds.
        let _ = self.shared.tx.send(Word::GoOn);
    }

    /// How the presenter ends a pause, for the line that says it is paused.
    pub fn how(&self) -> &'static str {
        match (&self.shared.stdin, self.shared.stdin_is_terminal) {
            (Some(_), true) => "press Enter to go on",
            (Some(_), false) => "waiting for a line on stdin",
            (None, _) => "waiting for the presenter",
        }
    }

    /// Starts reading stdin, if that is where words come from: early, so that on a
    /// terminal what is typed before a pause can be told from its answer.
    pub fn listen(&self) {
        let Some(once) = &self.shared.stdin else {
            return;
        };
        once.call_once(|| {
            let tx = self.shared.tx.clone();
            // A plain thread, not the runtime's blocking pool: a read of a terminal
            // cannot be cancelled, and the process must be able to exit meanwhile.
            let spawned = std::thread::Builder::new()
                .name("pause-input".into())
                .spawn(move || {
                    for line in std::io::stdin().lock().lines() {
                        if line.is_err() || tx.send(Word::GoOn).is_err() {
                            break;
                        }
                    }
                    let _ = tx.send(Word::NoMore);
                });
            if spawned.is_err() {
                let _ = self.shared.tx.send(Word::NoMore);
            }
        });
    }

    /// Waits until the presenter says to go on.
    pub(super) async fn wait(&self) -> Said {
        self.listen();
        if self.shared.ended.load(Ordering::Relaxed) {
            return Said::NoInput;
        }
        let mut rx = self.shared.rx.lock().await;
        if self.shared.stdin_is_terminal {
            // Enter pressed before the pause began answers nothing.
            while let Ok(word) = rx.try_recv() {
                if word == Word::NoMore {
                    self.shared.ended.store(true, Ordering::Relaxed);
                    return Said::NoInput;
                }
            }
        }
        match rx.recv().await {
            Some(Word::GoOn) => Said::GoOn,
            Some(Word::NoMore) | None => {
                self.shared.ended.store(true, Ordering::Relaxed);
                Said::NoInput
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_word_ends_one_pause_in_order() {
        let go = GoOn::external();
        go.go_on();
        go.go_on();
        assert_eq!(go.wait().await, Said::GoOn);
        assert_eq!(go.wait().await, Said::GoOn);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), go.wait()).await;
        assert!(waiting.is_err(), "a third pause waits for a third word");
        assert_eq!(go.how(), "waiting for the presenter");
    }
}
