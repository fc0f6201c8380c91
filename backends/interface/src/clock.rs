//! The clock a run's steps share: the wall clock, or the simulator's virtual clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::virtual_clock::VirtualClock;

/// The time source of a run.
#[derive(Clone, Debug)]
pub enum Clock {
    /// Wall-clock time (the `aws` target, and `sim` actions that talk to the host).
    Real,
    /// Virtual time owned by the simulator driver.
    Virtual(Arc<VirtualClock>),
}

impl Clock {
    /// Milliseconds: since the Unix epoch for `Real`, since the world began for `Virtual`.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::Real => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Clock::Virtual(v) => i64::try_from(v.now_ms()).unwrap_or(i64::MAX),
        }
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }

    /// Sets the virtual clock's speed (see [`VirtualClock::set_speed`]); the wall
    /// clock keeps its own.
    pub fn set_speed(&self, speed: Option<f64>) {
        if let Clock::Virtual(v) = self {
            v.set_speed(speed);
        }
    }

    /// Registers a new participant in the clock's time (a step, or the scheduler).
    pub fn enter(&self) -> Participant {
        match self {
            Clock::Real => Participant::new(None, 0),
            Clock::Virtual(v) => Participant::new(Some(Arc::clone(v)), v.register()),
        }
    }

    /// Sleeps for `duration`. On the virtual clock this participant counts as waiting.
    pub async fn sleep(&self, participant: &Participant, duration: Duration) {
        match (self, &participant.clock) {
            (Clock::Virtual(v), Some(_)) => v.sleep(participant.id, duration, true).await,
            _ => tokio::time::sleep(duration).await,
        }
    }

    /// Completes after `duration` without counting as a wait: a deadline (such as a
    /// step's `timeout`) raced against work that is still going on. It is registered
    /// when this is called, so create it before starting the work it bounds. On the
    /// virtual clock it fires when either virtual or wall time reaches it.
    pub fn deadline(
        &self,
        participant: &Participant,
        duration: Duration,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        match (self, &participant.clock) {
            // Virtual time stands still while a step works on the host (an `exec` of
            // a real program), so a deadline on `sim` also fires after the same wall
            // time: whichever clock reaches it first.
            (Clock::Virtual(v), Some(_)) => {
                match v.register_waiter(participant.id, duration, false) {
                    Some(wait) => Box::pin(async move {
                        tokio::select! {
                            _ = wait.finish() => {}
                            () = tokio::time::sleep(duration) => {}
                        }
                    }),
                    None => Box::pin(std::future::ready(())),
                }
            }
            _ => Box::pin(tokio::time::sleep(duration)),
        }
    }

    /// Awaits `future` while counting this participant as waiting (the scheduler
    /// waiting for running steps to report back).
    pub async fn wait_for<F: std::future::Future>(
        &self,
        participant: &Participant,
        future: F,
    ) -> F::Output {
        match (self, &participant.clock) {
            (Clock::Virtual(v), Some(_)) => {
                let _idle = v.mark_idle(participant.id);
                future.await
            }
            _ => future.await,
        }
    }
}

/// A participant in a run's time. Dropping it leaves the clock.
#[derive(Debug)]
pub struct Participant {
    clock: Option<Arc<VirtualClock>>,
    id: u64,
    /// How many polls in a row found nothing new (the wall-clock poll interval doubles
    /// with each), so one step polling an AWS API that has no watch backs off on its
    /// own, without slowing down the other steps.
    polls_without_change: AtomicU32,
    /// The last change generation of the target's observer this participant saw, so
    /// a change that happened between two waits is not missed.
    seen_generation: AtomicU64,
}

impl Participant {
    fn new(clock: Option<Arc<VirtualClock>>, id: u64) -> Participant {
        Participant {
            clock,
            id,
            polls_without_change: AtomicU32::new(0),
            seen_generation: AtomicU64::new(0),
        }
    }

    /// The interval of this participant's next poll: `base`, doubled for each poll in
    /// a row that saw no change, at most `cap`. Counts this poll.
    pub fn next_poll_interval(&self, base: Duration, cap: Duration) -> Duration {
        let doublings = self.polls_without_change.fetch_add(1, Ordering::Relaxed);
        let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
        base.saturating_mul(factor).min(cap.max(base))
    }

    /// A change was seen: the next poll comes after the base interval again.
    pub fn reset_poll_interval(&self) {
        self.polls_without_change.store(0, Ordering::Relaxed);
    }

    /// Records that this participant saw the observer's change `generation`; `true`
    /// if it is newer than the last one it saw.
    pub fn see_generation(&self, generation: u64) -> bool {
        self.seen_generation.swap(generation, Ordering::Relaxed) != generation
    }

    /// Its id on the virtual clock (0 on the wall clock).
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Participant {
    fn drop(&mut self) {
        if let Some(clock) = &self.clock {
            clock.unregister(self.id);
        }
    }
}
