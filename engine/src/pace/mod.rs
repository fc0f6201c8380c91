//! A presenter's pace: the setup at full speed and the story at `--sim-speed`
//! (`--fast-until STEP`), and a pause before the steps worth talking about
//! (`--pause-before STEP`), with virtual time standing still meanwhile.
//!
//! Neither changes the story: virtual time moves only when every participant waits,
//! and a pause is a participant that does not, so every event happens at the same
//! virtual instant as in a run without them; only the wall time it takes to watch
//! differs.

mod go_on;
mod step_names;

pub use go_on::{GoOn, Said};
pub use step_names::{StepNameError, check_step_name, step_path};

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use runbook_actions::CancelSignal;
use runbook_backend::{Clock, Participant};
use tokio::sync::watch;

use crate::progress::Reporter;

/// What the pace did, for the reporters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PaceEvent<'a> {
    /// `--fast-until STEP` reached: from now on virtual time runs at `speed`.
    Slowed { step: &'a str, speed: f64 },
    /// Paused before `step`; `how` says how to go on.
    Paused { step: &'a str, how: &'a str },
    /// Going on with `step` after a pause of `paused_for` (wall time).
    GoingOn { step: &'a str, paused_for: Duration },
    /// Not paused before `step`: nobody can say to go on (stdin has ended).
    NotPaused { step: &'a str },
}

impl PaceEvent<'_> {
    /// The event in words, for a line of its own.
    pub fn text(&self) -> String {
        match self {
            PaceEvent::Slowed { step, speed } => format!(
                "{step} starts: from now on {speed} virtual seconds pass per wall second (--fast-until)"
            ),
            PaceEvent::Paused { step, how } => {
                format!("paused before {step}, virtual time stands still: {how}")
            }
            PaceEvent::GoingOn { step, paused_for } => format!(
                "going on with {step} after a pause of {}",
                crate::progress::elapsed(*paused_for)
            ),
            PaceEvent::NotPaused { step } => {
                format!("not pausing before {step}: stdin has ended, nothing can say to go on")
            }
        }
    }
}

/// The run was interrupted (SIGINT/SIGTERM) during a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterruptedWhilePaused;

/// The pace of one invocation (`run` or `resume`); not stored with the run.
pub struct Pace {
    /// The step (as [`step_path`] names it) whose start sets the clock to the speed.
    fast_until: Option<(String, f64)>,
    slowed: AtomicBool,
    pauses: Mutex<Pauses>,
    /// Bumped when a pause ends, for the other instances of its step.
    pause_ended: watch::Sender<u64>,
    go_on: GoOn,
}

/// The `--pause-before` steps, by [`step_path`].
#[derive(Default)]
struct Pauses {
    /// Not paused before yet (each is paused before once).
    ahead: BTreeSet<String>,
    /// Paused before now: the other instances of a `for_each` step (`parallel`) wait
    /// with the first, so that none of the step starts during its pause.
    now: BTreeSet<String>,
}

/// What a step about to start does about the pauses.
enum AtPause {
    Go,
    Pause,
    /// Wait for the pause of another instance of the same step.
    Wait,
}

impl Pace {
    /// No pacing: the clock keeps the speed it was made with, and nothing pauses.
    pub fn none() -> Pace {
        Pace::new(None, Vec::new(), GoOn::external())
    }

    /// `fast_until` (a step and the speed to set when it starts) and the steps to
    /// pause before, which end as `go_on` says. The names are checked already
    /// ([`check_step_name`]).
    pub fn new(fast_until: Option<(String, f64)>, pause_before: Vec<String>, go_on: GoOn) -> Pace {
        let ahead: BTreeSet<String> = pause_before.into_iter().collect();
        if !ahead.is_empty() {
            go_on.listen();
        }
        Pace {
            fast_until,
            slowed: AtomicBool::new(false),
            pauses: Mutex::new(Pauses {
                ahead,
                now: BTreeSet::new(),
            }),
            pause_ended: watch::Sender::new(0),
            go_on,
        }
    }

    /// Whether the run starts at full speed (`--fast-until`), whatever its speed.
    pub fn starts_fast(&self) -> bool {
        self.fast_until.is_some()
    }

    /// The presenter's side of the pauses (a board says "go on" through it).
    pub fn go_on(&self) -> &GoOn {
        &self.go_on
    }

    /// Holds virtual time where it is until the returned participant is dropped: a
    /// participant that does not wait. A board's pause key is this.
    pub fn hold(clock: &Clock) -> Participant {
        clock.enter()
    }

    /// Called as step `key` is about to start its first attempt: slows the clock if
    /// this is the `--fast-until` step, and pauses if it is a `--pause-before` step
    /// (at the first instance of a `for_each` step to start; the others wait with
    /// it), until the presenter goes on or the run is interrupted.
    pub async fn before_step(
        &self,
        key: &str,
        clock: &Clock,
        reporter: &dyn Reporter,
        cancel: &CancelSignal,
    ) -> Result<(), InterruptedWhilePaused> {
        let path = step_path(key);
        if let Some((step, speed)) = &self.fast_until
            && *step == path
            && !self.slowed.swap(true, Ordering::Relaxed)
        {
            clock.set_speed(Some(*speed));
            reporter.pace(&PaceEvent::Slowed {
                step: key,
                speed: *speed,
            });
        }
        let mut ended = self.pause_ended.subscribe();
        let at_pause = {
            let mut pauses = self.pauses();
            if pauses.ahead.remove(&path) {
                pauses.now.insert(path.clone());
                AtPause::Pause
            } else if pauses.now.contains(&path) {
                AtPause::Wait
            } else {
                AtPause::Go
            }
        };
        match at_pause {
            AtPause::Go => Ok(()),
            AtPause::Wait => loop {
                tokio::select! {
                    _ = ended.changed() => {}
                    () = cancel.cancelled() => return Err(InterruptedWhilePaused),
                }
                if !self.pauses().now.contains(&path) {
                    return Ok(());
                }
            },
            AtPause::Pause => {
                let went_on = self.pause(key, clock, reporter, cancel).await;
                self.pauses().now.remove(&path);
                self.pause_ended.send_modify(|n| *n += 1);
                went_on
            }
        }
    }

    /// Pauses before `key`, holding virtual time, until the presenter goes on.
    async fn pause(
        &self,
        key: &str,
        clock: &Clock,
        reporter: &dyn Reporter,
        cancel: &CancelSignal,
    ) -> Result<(), InterruptedWhilePaused> {
        let _hold = Pace::hold(clock);
        reporter.pace(&PaceEvent::Paused {
            step: key,
            how: self.go_on.how(),
        });
        let started = Instant::now();
        tokio::select! {
            said = self.go_on.wait() => {
                let event = match said {
                    Said::GoOn => PaceEvent::GoingOn { step: key, paused_for: started.elapsed() },
                    Said::NoInput => PaceEvent::NotPaused { step: key },
                };
                reporter.pace(&event);
                Ok(())
            }
            () = cancel.cancelled() => Err(InterruptedWhilePaused),
        }
    }

    fn pauses(&self) -> std::sync::MutexGuard<'_, Pauses> {
        self.pauses.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use runbook_backend::VirtualClock;

    use super::*;

    /// Records the pace's events.
    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl Reporter for Seen {
        fn run_started(&self, _: &str, _: &str, _: &str, _: bool) {}
        fn step_started(&self, _: &str, _: &str, _: u32, _: bool) {}
        fn step_message(&self, _: &str, _: &str) {}
        fn step_retrying(&self, _: &str, _: u32, _: Duration, _: &str) {}
        fn step_finished(&self, _: &str, _: crate::progress::Shown, _: Duration, _: Option<&str>) {}
        fn run_finished(&self, _: &str, _: &str, _: Duration, _: Option<&str>) {}
        fn notice(&self, _: &str) {}
        fn pace(&self, event: &PaceEvent) {
            let text = match event {
                PaceEvent::GoingOn { step, .. } => format!("going on with {step}"),
                other => other.text(),
            };
            self.0.lock().expect("lock").push(text);
        }
    }

    #[tokio::test]
    async fn a_pause_holds_virtual_time_until_the_presenter_goes_on() {
        let virtual_clock = VirtualClock::new(0, None);
        let clock = Clock::Virtual(Arc::clone(&virtual_clock));
        let pace = Arc::new(Pace::new(
            None,
            vec!["platform/cluster".into()],
            GoOn::external(),
        ));
        let seen = Arc::new(Seen::default());
        // As in a run, the paused step is in the clock (busy) before its task starts;
        // another step sleeps meanwhile.
        let paused_step = clock.enter();
        let sleeper = clock.enter();
        let sleeping = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(&sleeper, Duration::from_secs(60)).await })
        };
        let pausing = {
            let (pace, clock, seen) = (Arc::clone(&pace), clock.clone(), Arc::clone(&seen));
            tokio::spawn(async move {
                let went_on = pace
                    .before_step("platform/cluster", &clock, &*seen, &CancelSignal::never())
                    .await;
                drop(paused_step);
                went_on
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(virtual_clock.now_ms(), 0, "paused: time stands still");
        pace.go_on().go_on();
        assert_eq!(pausing.await.expect("task"), Ok(()));
        sleeping.await.expect("task");
        assert_eq!(virtual_clock.now_ms(), 60_000);
        // A step paused before pauses once.
        pace.before_step("platform/cluster", &clock, &*seen, &CancelSignal::never())
            .await
            .expect("not paused");
        assert_eq!(
            *seen.0.lock().expect("lock"),
            [
                "paused before platform/cluster, virtual time stands still: waiting for the presenter",
                "going on with platform/cluster",
            ]
        );
    }

    #[tokio::test]
    async fn the_other_instances_of_a_step_wait_with_the_first_through_its_pause() {
        let clock = Clock::Virtual(VirtualClock::new(0, None));
        let pace = Arc::new(Pace::new(None, vec!["roles".into()], GoOn::external()));
        let seen = Arc::new(Seen::default());
        let instance = |key: &'static str| {
            let (pace, clock, seen) = (Arc::clone(&pace), clock.clone(), Arc::clone(&seen));
            tokio::spawn(async move {
                let went_on = pace
                    .before_step(key, &clock, &*seen, &CancelSignal::never())
                    .await;
                seen.0.lock().expect("lock").push(format!("{key} starts"));
                went_on
            })
        };
        let first = instance("roles[0]");
        let second = instance("roles[1]");
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            *seen.0.lock().expect("lock"),
            ["paused before roles[0], virtual time stands still: waiting for the presenter"],
            "no instance starts during the pause"
        );
        pace.go_on().go_on();
        assert_eq!(first.await.expect("task"), Ok(()));
        assert_eq!(second.await.expect("task"), Ok(()));
        let seen = seen.0.lock().expect("lock");
        assert_eq!(seen[1], "going on with roles[0]");
        assert_eq!(seen.len(), 4, "{seen:?}");
    }

    #[tokio::test]
    async fn fast_until_sets_the_speed_when_its_step_starts() {
        let virtual_clock = VirtualClock::new(0, None);
        let clock = Clock::Virtual(Arc::clone(&virtual_clock));
        let pace = Pace::new(
            Some(("high_job".into(), 30.0)),
            Vec::new(),
            GoOn::external(),
        );
        let seen = Seen::default();
        pace.before_step("low_job", &clock, &seen, &CancelSignal::never())
            .await
            .expect("no pause");
        assert_eq!(virtual_clock.speed(), None);
        pace.before_step("high_job", &clock, &seen, &CancelSignal::never())
            .await
            .expect("no pause");
        assert_eq!(virtual_clock.speed(), Some(30.0));
        assert_eq!(
            *seen.0.lock().expect("lock"),
            ["high_job starts: from now on 30 virtual seconds pass per wall second (--fast-until)"]
        );
    }
}
