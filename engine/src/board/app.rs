//! The board on the terminal: the alternate screen in raw mode, redrawn at most 30
//! times a second while the run goes on, with keys for the presenter: space pauses and
//! resumes the run's virtual time, `q` (or Ctrl-C) stops the run as SIGINT does. The
//! terminal is restored however the board ends: the run finishes, `q`, an error, or a
//! panic anywhere in the process.

use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use super::model::BoardModel;
use super::view;

/// The shortest time between two redraws: 30 a second at most.
const FRAME: Duration = Duration::from_millis(33);

/// What the presenter's keys do to the run.
pub trait Controls: Send + Sync {
    /// Space: pause virtual time, or resume it. Returns whether it is now paused.
    fn toggle_pause(&self) -> bool;
    /// `q` or Ctrl-C: stop the run cleanly (it stays resumable).
    fn stop(&self);
}

/// The board while it is on the screen; [`Board::close`] (or dropping it) restores
/// the terminal.
pub struct Board {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Whether the board can be shown: stdout and stdin are a terminal.
pub fn available() -> bool {
    io::stdout().is_terminal() && io::stdin().is_terminal()
}

impl Board {
    /// Takes over the terminal and draws `model` until closed.
    pub fn open(
        model: Arc<Mutex<BoardModel>>,
        title: String,
        controls: Arc<dyn Controls>,
    ) -> io::Result<Board> {
        let mut terminal = enter()?;
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("board".into())
            .spawn(move || {
                let result = draw_loop(&mut terminal, &model, &title, controls.as_ref(), &stop);
                leave();
                result
            })?;
        Ok(Board {
            done,
            thread: Some(thread),
        })
    }

    /// Stops drawing and gives the terminal back.
    pub fn close(mut self) -> io::Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.done.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the board's thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Raw mode and the alternate screen, with a panic hook that leaves them first, so a
/// panic's message is readable and the shell usable.
fn enter() -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave();
        previous(info);
    }));
    enable_raw_mode()?;
    if let Err(e) = execute!(io::stdout(), EnterAlternateScreen) {
        leave();
        return Err(e);
    }
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.hide_cursor()?;
    Ok(terminal)
}

/// Gives the terminal back: cooked mode, the main screen, the cursor. Safe to call
/// more than once.
fn leave() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

fn draw_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    model: &Mutex<BoardModel>,
    title: &str,
    controls: &dyn Controls,
    done: &AtomicBool,
) -> io::Result<()> {
    let mut last_draw = Instant::now() - FRAME;
    loop {
        let finished = done.load(Ordering::SeqCst);
        if last_draw.elapsed() >= FRAME || finished {
            let snapshot = model.lock().unwrap_or_else(PoisonError::into_inner).clone();
            terminal.draw(|frame| view::draw(frame, &snapshot, title))?;
            last_draw = Instant::now();
        }
        if finished {
            return Ok(());
        }
        if event::poll(FRAME.saturating_sub(last_draw.elapsed()))?
            && let Event::Key(key) = event::read()?
            && key.kind == KeyEventKind::Press
        {
            match key.code {
                KeyCode::Char(' ') => {
                    let paused = controls.toggle_pause();
                    let mut m = model.lock().unwrap_or_else(PoisonError::into_inner);
                    m.status = if paused {
                        "PAUSED (space resumes)".into()
                    } else {
                        "running".into()
                    };
                }
                KeyCode::Char('q') => controls.stop(),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    controls.stop();
                }
                _ => {}
            }
        }
    }
}
