//! Virtual time with one owner.
//!
//! Every running step and the engine's scheduler are *participants*. Time stands still
//! while any participant is busy; when all of them wait, the clock jumps to the
//! earliest wake-up time anybody asked for and wakes those waiters. With a speed
//! factor (`--sim-speed N`) each jump takes `dt / N` of wall time, so a presenter can
//! watch the story unfold: such a jump also stops at each instant something happens in
//! the world on the way, so that it is seen (and narrated) then, not at the jump's
//! end. The speed may change during a run (`--fast-until`), and a participant that
//! does not wait holds time where it is (a presenter's pause), even against a jump
//! already under way.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

/// The simulated world, as the clock drives it: when time jumps to `t`, the world is
/// advanced to `t` first, so every waiter wakes to the world as it is at `t`.
pub trait WorldDriver: Send + Sync {
    /// Processes everything that happens up to and including `t_ms`.
    fn advance_to(&self, t_ms: u64);

    /// When the world next changes by itself, if it knows: a jump at a speed factor
    /// stops there on its way.
    fn next_event_time(&self) -> Option<u64> {
        None
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The time it waited for came.
    Time,
    /// The world changed (time moved, or a step acted on it): look again.
    WorldChanged,
    /// Everybody waits and nothing is scheduled: nothing will ever change.
    Idle,
}

pub struct VirtualClock {
    inner: Mutex<Inner>,
    /// Advances with a speed factor run on the runtime that created the clock.
    runtime: Option<tokio::runtime::Handle>,
    world: Mutex<Option<Arc<dyn WorldDriver>>>,
}

impl std::fmt::Debug for VirtualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualClock")
            .field("now_ms", &self.now_ms())
            .field("speed", &self.speed())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Inner {
    now_ms: u64,
    /// Virtual seconds per wall second; `None` jumps instantly.
    speed: Option<f64>,
    /// Participant id -> how many reasons it has to count as waiting.
    participants: BTreeMap<u64, u32>,
    /// (wake-up time, sequence) -> waiter; ordered, so ties wake in arrival order.
    /// Waiters for a world change without a time use `u64::MAX`.
    waiters: BTreeMap<(u64, u64), Waiter>,
    next_id: u64,
    /// A speed-limited jump is in flight.
    advancing: bool,
    /// Since when the clock keeps its current speed.
    pace: Option<Pace>,
}

/// A clock's pace since its speed was last set: from the virtual instant `virtual_ms`,
/// reached at the wall clock's `wall_ms`, virtual time goes `speed` times as fast as
/// the wall clock (or slower, when the world had to wait for a step's work).
///
/// It gives each virtual instant one wall-clock moment that does not change while the
/// speed stays, as an API's timestamps must (a client compares a job's `finishedAt`
/// read now with another read later).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pace {
    /// Where the pace began, in virtual time.
    pub virtual_ms: u64,
    /// Where the pace began, in Unix milliseconds.
    pub wall_ms: i64,
    /// Virtual seconds per wall second.
    pub speed: f64,
}

impl Pace {
    fn starting(virtual_ms: u64, speed: f64) -> Pace {
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Pace {
            virtual_ms,
            wall_ms,
            speed,
        }
    }

    /// The wall-clock moment (Unix ms) of virtual instant `t`: at the pace from its
    /// start on; before it, as long before the start as it was in virtual time.
    pub fn wall_ms_of(&self, t: u64) -> i64 {
        let delta = |a: u64, b: u64| i64::try_from(a - b).unwrap_or(i64::MAX);
        if t >= self.virtual_ms {
            let paced = (delta(t, self.virtual_ms) as f64 / self.speed) as i64;
            self.wall_ms.saturating_add(paced)
        } else {
            self.wall_ms.saturating_sub(delta(self.virtual_ms, t))
        }
    }
}

#[derive(Debug)]
struct Waiter {
    participant: u64,
    /// Whether this waiter makes its participant count as waiting (a plain sleep) or
    /// not (a deadline raced against ongoing work).
    blocking: bool,
    /// Whether it also wakes when the world changes.
    world: bool,
    tx: oneshot::Sender<Wake>,
}

/// Waiters for a world change with no time of their own.
const NEVER: u64 = u64::MAX;

/// A speed the clock can keep: positive and finite, else instant jumps.
fn usable_speed(speed: Option<f64>) -> Option<f64> {
    speed.filter(|s| s.is_finite() && *s > 0.0)
}

impl VirtualClock {
    /// A clock at virtual time `start_ms`; `speed` is virtual seconds per wall second.
    pub fn new(start_ms: u64, speed: Option<f64>) -> Arc<Self> {
        let speed = usable_speed(speed);
        Arc::new(VirtualClock {
            inner: Mutex::new(Inner {
                now_ms: start_ms,
                speed,
                pace: speed.map(|s| Pace::starting(start_ms, s)),
                ..Inner::default()
            }),
            runtime: tokio::runtime::Handle::try_current().ok(),
            world: Mutex::new(None),
        })
    }

    /// Makes the clock drive `world`: every jump advances it first.
    pub fn attach_world(&self, world: Arc<dyn WorldDriver>) {
        *self.world.lock().unwrap_or_else(PoisonError::into_inner) = Some(world);
    }

    pub fn now_ms(&self) -> u64 {
        self.lock().now_ms
    }

    /// Virtual seconds per wall second; `None` when jumps are instant.
    pub fn speed(&self) -> Option<f64> {
        self.lock().speed
    }

    /// Changes the speed from the next jump on (a jump under way keeps its pace):
    /// `--fast-until` runs the setup instantly and the story at `--sim-speed`. Virtual
    /// times do not depend on it, only how long they take to watch.
    pub fn set_speed(&self, speed: Option<f64>) {
        let speed = usable_speed(speed);
        let mut inner = self.lock();
        if inner.speed != speed || (speed.is_some() && inner.pace.is_none()) {
            let now = inner.now_ms;
            inner.pace = speed.map(|s| Pace::starting(now, s));
        }
        inner.speed = speed;
    }

    /// Since when, and how fast, the clock has kept its speed; `None` while jumps are
    /// instant (virtual time then has no steady relation to the wall clock's).
    pub fn pace(&self) -> Option<Pace> {
        self.lock().pace
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent between statements, so a panic elsewhere while the
        // lock was held does not make it unusable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(&self) -> u64 {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.participants.insert(id, 0);
        id
    }

    pub(crate) fn unregister(self: &Arc<Self>, id: u64) {
        let mut inner = self.lock();
        inner.participants.remove(&id);
        inner.waiters.retain(|_, w| w.participant != id);
        self.maybe_advance(&mut inner);
    }

    /// Counts `id` as waiting until the returned guard is dropped.
    pub(crate) fn mark_idle(self: &Arc<Self>, id: u64) -> IdleGuard {
        let mut inner = self.lock();
        if let Some(count) = inner.participants.get_mut(&id) {
            *count += 1;
        }
        self.maybe_advance(&mut inner);
        IdleGuard {
            clock: Arc::clone(self),
            id,
        }
    }

    pub(crate) async fn sleep(self: &Arc<Self>, id: u64, duration: Duration, blocking: bool) {
        if let Some(wait) = self.register_waiter(id, duration, blocking) {
            wait.finish().await;
        }
    }

    /// Registers a waiter now (not when first polled), so a deadline created before
    /// the work it bounds is known to the clock before that work can make time jump.
    pub(crate) fn register_waiter(
        self: &Arc<Self>,
        id: u64,
        duration: Duration,
        blocking: bool,
    ) -> Option<PendingWait> {
        if duration.is_zero() {
            return None;
        }
        let mut inner = self.lock();
        let wake_at = inner
            .now_ms
            .saturating_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        Some(self.insert_waiter(&mut inner, id, wake_at.min(NEVER - 1), blocking, false))
    }

    /// Waits (as participant `id`) until virtual time `until_ms` if given, or until the
    /// world changes, whichever comes first.
    pub async fn wait_world(self: &Arc<Self>, id: u64, until_ms: Option<u64>) -> Wake {
        let wait = {
            let mut inner = self.lock();
            let at = until_ms.map_or(NEVER, |t| t.max(inner.now_ms).min(NEVER - 1));
            if at <= inner.now_ms {
                return Wake::Time;
            }
            self.insert_waiter(&mut inner, id, at, true, true)
        };
        wait.finish().await
    }

    /// Wakes every world waiter: a step changed the world, so what they wait for may
    /// have happened, or may now happen sooner.
    pub fn world_changed(&self) {
        let mut inner = self.lock();
        Self::fire_world(&mut inner, Wake::WorldChanged);
    }

    fn insert_waiter(
        self: &Arc<Self>,
        inner: &mut Inner,
        id: u64,
        at: u64,
        blocking: bool,
        world: bool,
    ) -> PendingWait {
        let (tx, rx) = oneshot::channel();
        inner.next_id += 1;
        let key = (at, inner.next_id);
        inner.waiters.insert(
            key,
            Waiter {
                participant: id,
                blocking,
                world,
                tx,
            },
        );
        if blocking {
            if let Some(count) = inner.participants.get_mut(&id) {
                *count += 1;
            }
        }
        self.maybe_advance(inner);
        PendingWait {
            rx,
            _guard: WaiterGuard {
                clock: Arc::clone(self),
                key,
            },
        }
    }

    /// Jumps to the earliest wake-up time if every participant is waiting.
    fn maybe_advance(self: &Arc<Self>, inner: &mut Inner) {
        if inner.advancing || inner.participants.is_empty() {
            return;
        }
        if inner.participants.values().any(|count| *count == 0) {
            return;
        }
        let Some(&(wake_at, _)) = inner.waiters.keys().next() else {
            return;
        };
        if wake_at == NEVER {
            // Everybody waits for the world, and nothing in it is scheduled.
            Self::fire_world(inner, Wake::Idle);
            return;
        }
        match (inner.speed, &self.runtime) {
            (Some(speed), Some(runtime)) => {
                inner.advancing = true;
                let stop = self
                    .world_next_event()
                    .filter(|&t| t > inner.now_ms)
                    .map_or(wake_at, |t| t.min(wake_at));
                // A far wake-up at a slow speed can exceed what a `Duration` holds;
                // waiting "forever" is then the right wall time, not a panic.
                let wall = Duration::try_from_secs_f64(
                    stop.saturating_sub(inner.now_ms) as f64 / 1000.0 / speed,
                )
                .unwrap_or(Duration::MAX);
                let clock = Arc::clone(self);
                runtime.spawn(async move {
                    tokio::time::sleep(wall).await;
                    let mut inner = clock.lock();
                    inner.advancing = false;
                    // Somebody got busy meanwhile (a pause holds time): the jump is
                    // not made; the next wait of everybody starts it again. Nor does
                    // it pass a wake-up asked for meanwhile.
                    if inner.participants.values().all(|count| *count > 0) {
                        let first = inner.waiters.keys().next().map_or(stop, |k| k.0);
                        clock.fire_until(&mut inner, stop.min(first));
                    }
                    clock.maybe_advance(&mut inner);
                });
            }
            _ => self.fire_until(inner, wake_at),
        }
    }

    /// When the attached world next changes by itself.
    fn world_next_event(&self) -> Option<u64> {
        let world = self
            .world
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        world.and_then(|w| w.next_event_time())
    }

    fn fire_until(&self, inner: &mut Inner, wake_at: u64) {
        let moved = wake_at > inner.now_ms;
        inner.now_ms = inner.now_ms.max(wake_at);
        let world = self
            .world
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(world) = world {
            world.advance_to(inner.now_ms);
        }
        while let Some(entry) = inner.waiters.first_entry() {
            if entry.key().0 > inner.now_ms {
                break;
            }
            let waiter = entry.remove();
            Self::release(inner, waiter, Wake::Time);
        }
        if moved {
            Self::fire_world(inner, Wake::WorldChanged);
        }
    }

    fn fire_world(inner: &mut Inner, wake: Wake) {
        let keys: Vec<(u64, u64)> = inner
            .waiters
            .iter()
            .filter(|(_, w)| w.world)
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            if let Some(waiter) = inner.waiters.remove(&key) {
                Self::release(inner, waiter, wake);
            }
        }
    }

    fn release(inner: &mut Inner, waiter: Waiter, wake: Wake) {
        if waiter.blocking {
            if let Some(count) = inner.participants.get_mut(&waiter.participant) {
                *count = count.saturating_sub(1);
            }
        }
        // The receiver may be gone (its future was dropped); nothing to do then.
        let _ = waiter.tx.send(wake);
    }
}

/// A registered wait; completes when the clock reaches its time.
pub(crate) struct PendingWait {
    rx: oneshot::Receiver<Wake>,
    _guard: WaiterGuard,
}

impl PendingWait {
    pub(crate) async fn finish(self) -> Wake {
        // An error means the waiter was removed with its participant: nothing to wait for.
        self.rx.await.unwrap_or(Wake::Idle)
    }
}

/// Removes a waiter whose future was dropped before it fired (e.g. a sleep that lost a
/// race against a deadline).
struct WaiterGuard {
    clock: Arc<VirtualClock>,
    key: (u64, u64),
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        let mut inner = self.clock.lock();
        if let Some(waiter) = inner.waiters.remove(&self.key) {
            if waiter.blocking {
                if let Some(count) = inner.participants.get_mut(&waiter.participant) {
                    *count = count.saturating_sub(1);
                }
            }
        }
    }
}

/// Keeps a participant counted as waiting (see [`VirtualClock::mark_idle`]).
pub(crate) struct IdleGuard {
    clock: Arc<VirtualClock>,
    id: u64,
}

impl Drop for IdleGuard {
    fn drop(&mut self) {
        let mut inner = self.clock.lock();
        if let Some(count) = inner.participants.get_mut(&self.id) {
            *count = count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;

    #[test]
    fn a_pace_maps_virtual_instants_to_the_wall_clock_once() {
        let pace = Pace {
            virtual_ms: 60_000,
            wall_ms: 1_000_000,
            speed: 50.0,
        };
        assert_eq!(pace.wall_ms_of(60_000), 1_000_000);
        assert_eq!(pace.wall_ms_of(160_000), 1_002_000, "100 s at 50x take 2 s");
        assert_eq!(
            pace.wall_ms_of(0),
            940_000,
            "before the pace: as far as it was"
        );
    }

    #[tokio::test]
    async fn the_pace_starts_when_the_speed_is_set_and_stays_while_it_stays() {
        let clock = VirtualClock::new(5_000, None);
        assert_eq!(clock.pace(), None, "instant jumps keep no pace");
        clock.set_speed(Some(10.0));
        let pace = clock.pace().expect("paced");
        assert_eq!((pace.virtual_ms, pace.speed), (5_000, 10.0));
        clock.set_speed(Some(10.0));
        assert_eq!(clock.pace(), Some(pace), "the same speed keeps its start");
        clock.set_speed(None);
        assert_eq!(clock.pace(), None);
    }

    #[tokio::test]
    async fn concurrent_sleeps_interleave_in_virtual_time() {
        let clock = Clock::Virtual(VirtualClock::new(0, None));
        let a = clock.enter();
        let b = clock.enter();
        let (ca, cb) = (clock.clone(), clock.clone());
        let first = tokio::spawn(async move {
            ca.sleep(&a, Duration::from_secs(90)).await;
            let seen = ca.now_ms();
            drop(a);
            seen
        });
        let second = tokio::spawn(async move {
            cb.sleep(&b, Duration::from_secs(300)).await;
            let seen = cb.now_ms();
            drop(b);
            seen
        });
        let started = std::time::Instant::now();
        assert_eq!(first.await.expect("task"), 90_000);
        assert_eq!(second.await.expect("task"), 300_000);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "virtual time must not take wall time"
        );
    }

    #[tokio::test]
    async fn time_stands_still_while_any_participant_is_busy() {
        let clock = Clock::Virtual(VirtualClock::new(0, None));
        let busy = clock.enter();
        let sleeper = clock.enter();
        let c = clock.clone();
        let task = tokio::spawn(async move {
            c.sleep(&sleeper, Duration::from_secs(10)).await;
            c.now_ms()
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(clock.now_ms(), 0, "the busy participant holds time");
        drop(busy);
        assert_eq!(task.await.expect("task"), 10_000);
    }

    #[tokio::test]
    async fn a_deadline_does_not_count_as_waiting() {
        let clock = Clock::Virtual(VirtualClock::new(0, None));
        let p = clock.enter();
        let c = clock.clone();
        // A deadline alone must not advance time: the participant is still working.
        let raced = tokio::time::timeout(
            Duration::from_millis(50),
            c.deadline(&p, Duration::from_secs(5)),
        )
        .await;
        assert!(
            raced.is_err(),
            "deadline fired although the participant was busy"
        );
        // Once the participant sleeps, the earlier deadline fires first.
        // The deadline is registered when created, before the sleep is first polled.
        let deadline = c.deadline(&p, Duration::from_secs(5));
        tokio::select! {
            () = c.sleep(&p, Duration::from_secs(60)) => panic!("the sleep must lose to the deadline"),
            () = deadline => {}
        }
        assert_eq!(clock.now_ms(), 5_000);
    }

    #[tokio::test]
    async fn the_scheduler_waiting_on_steps_lets_time_advance() {
        let clock = Clock::Virtual(VirtualClock::new(0, None));
        let scheduler = clock.enter();
        let step = clock.enter();
        let c = clock.clone();
        let task = tokio::spawn(async move {
            c.sleep(&step, Duration::from_secs(30)).await;
            (c.now_ms(), step)
        });
        let (seen, step) = clock.wait_for(&scheduler, task).await.expect("task");
        assert_eq!(seen, 30_000);
        drop(step);
    }

    #[tokio::test]
    async fn a_participant_busy_during_a_jump_under_way_holds_time() {
        let clock = Clock::Virtual(VirtualClock::new(0, Some(100.0)));
        let sleeper = clock.enter();
        let c = clock.clone();
        let sleeping =
            tokio::spawn(async move { c.sleep(&sleeper, Duration::from_secs(10)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // A presenter's pause: somebody who does not wait, 20 ms into the 100 ms jump.
        let hold = clock.enter();
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(clock.now_ms(), 0, "the jump under way was held");
        drop(hold);
        sleeping.await.expect("task");
        assert_eq!(clock.now_ms(), 10_000);
    }

    /// A world that changes by itself at 3 s and 7 s.
    struct Timed(Mutex<Vec<u64>>);

    impl WorldDriver for Timed {
        fn advance_to(&self, t_ms: u64) {
            self.0.lock().expect("lock").retain(|&t| t > t_ms);
        }
        fn next_event_time(&self) -> Option<u64> {
            self.0.lock().expect("lock").first().copied()
        }
    }

    #[tokio::test]
    async fn at_a_speed_a_jump_stops_where_the_world_changes() {
        let virtual_clock = VirtualClock::new(0, Some(1000.0));
        virtual_clock.attach_world(Arc::new(Timed(Mutex::new(vec![3_000, 7_000]))));
        let clock = Clock::Virtual(Arc::clone(&virtual_clock));
        let p = clock.enter();
        let mut seen = Vec::new();
        loop {
            let wake = virtual_clock.wait_world(p.id(), Some(10_000)).await;
            seen.push(virtual_clock.now_ms());
            if wake == Wake::Time {
                break;
            }
        }
        assert_eq!(seen, [3_000, 7_000, 10_000]);
        // Instantly, the same wait is one jump: nothing would be seen on the way.
        virtual_clock.set_speed(None);
        virtual_clock.attach_world(Arc::new(Timed(Mutex::new(vec![13_000]))));
        assert_eq!(
            virtual_clock.wait_world(p.id(), Some(20_000)).await,
            Wake::Time
        );
        assert_eq!(virtual_clock.now_ms(), 20_000);
    }

    #[tokio::test]
    async fn a_speed_factor_takes_wall_time() {
        let clock = Clock::Virtual(VirtualClock::new(0, Some(100.0)));
        let p = clock.enter();
        let started = std::time::Instant::now();
        clock.sleep(&p, Duration::from_secs(10)).await;
        let wall = started.elapsed();
        assert_eq!(clock.now_ms(), 10_000);
        assert!(
            wall >= Duration::from_millis(95),
            "10 virtual s at 100x took {wall:?}"
        );
    }
}
