//! The `sim` target: every service call acts on the simulated world
//! ([`runbook_sim::World`]), whose time is the run's virtual clock.
//!
//! The clock drives the world (every jump of virtual time advances the world first),
//! and every command a step makes wakes the steps that wait for the world, so waits
//! see each change at the virtual instant it happens.

mod capacity;
pub use capacity::SIMULATED_VCPU_QUOTA;
mod eks;
mod emr;
mod emr_access;
pub use emr::{job_info, vc_info};
mod iam;
mod kube;
mod logs;
mod s3;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use runbook_sim::{SimError, SimParams, World};

use runbook_backend::ActionError;
use runbook_backend::{
    Clock, EventListener, ObservedEvent, Observer, Participant, Target, TargetKind, VirtualClock,
    WaitOutcome, Wake, WorldDriver,
};

/// The simulated account and region unless the runbook's target says otherwise.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
pub const DEFAULT_REGION: &str = "us-east-2";

/// A stored snapshot of the simulated world that does not load (damaged, or written
/// by a runbook build whose world had another shape).
#[derive(Debug, thiserror::Error)]
#[error("failed to restore the simulated world: {0}")]
pub struct RestoreError(serde_json::Error);

/// What exists in the world a snapshot holds (for `runbook worlds`).
pub fn inventory(snapshot: &[u8]) -> Result<runbook_sim::Inventory, RestoreError> {
    let world: World = serde_json::from_slice(snapshot).map_err(RestoreError)?;
    Ok(world.inventory())
}

/// The simulated world of one run, shared by the services of the `sim` target.
pub struct SimTarget {
    world: Mutex<World>,
    clock: Arc<VirtualClock>,
    /// How many world events have been handed to the engine to store.
    drained: Mutex<u64>,
    /// Whether a command or time changed the world since the last snapshot.
    dirty: Mutex<bool>,
    /// Who is told of each world event as it is recorded, and how many it was told.
    listener: Mutex<Option<Told>>,
}

/// A listener of the world's events, and how far into the world's log it was told.
struct Told {
    listener: Arc<dyn EventListener>,
    up_to: u64,
}

/// The IAM user the simulated account's calls are made as.
pub const SIMULATED_CALLER: &str = "presenter";

impl SimTarget {
    /// A new world for a new run.
    pub fn new(seed: u64, clock: Arc<VirtualClock>) -> Arc<SimTarget> {
        Self::in_account(seed, clock, DEFAULT_ACCOUNT, DEFAULT_REGION)
    }

    /// A new, empty world in an account and region of the caller's (a served
    /// simulator that an AWS account's IAM and S3 surround: its ARNs must be that
    /// account's).
    pub fn in_account(
        seed: u64,
        clock: Arc<VirtualClock>,
        account_id: &str,
        region: &str,
    ) -> Arc<SimTarget> {
        let params = SimParams {
            account_id: account_id.to_string(),
            region: region.to_string(),
            ..SimParams::default()
        };
        Self::with_world(World::new(seed, params), clock, 0)
    }

    /// The world of a resumed run, from its last snapshot. Its events up to the
    /// snapshot were already stored.
    pub fn restore(
        snapshot: &[u8],
        clock: Arc<VirtualClock>,
    ) -> Result<Arc<SimTarget>, RestoreError> {
        let world: World = serde_json::from_slice(snapshot).map_err(RestoreError)?;
        let drained = world.events().len() as u64;
        Ok(Self::with_world(world, clock, drained))
    }

    /// A named world's latest state, taken over by a new run (`run --world`): what
    /// exists stays and virtual time continues from the snapshot, but the run's record
    /// of events starts empty, as a new run's watches on a real cluster do.
    pub fn take_over(
        snapshot: &[u8],
        clock: Arc<VirtualClock>,
    ) -> Result<Arc<SimTarget>, RestoreError> {
        let mut world: World = serde_json::from_slice(snapshot).map_err(RestoreError)?;
        world.forget_events();
        Ok(Self::with_world(world, clock, 0))
    }

    fn with_world(world: World, clock: Arc<VirtualClock>, drained: u64) -> Arc<SimTarget> {
        let target = Arc::new(SimTarget {
            world: Mutex::new(world),
            clock: Arc::clone(&clock),
            drained: Mutex::new(drained),
            dirty: Mutex::new(false),
            listener: Mutex::new(None),
        });
        clock.attach_world(Arc::clone(&target) as Arc<dyn WorldDriver>);
        target
    }

    /// The virtual time the world has reached (where a resumed clock starts).
    pub fn now_ms(&self) -> u64 {
        self.world().now()
    }

    /// The world's pace against the wall clock, when it is paced (`--sim-speed`).
    pub fn pace(&self) -> Option<runbook_backend::Pace> {
        self.clock.pace()
    }

    /// The target whose services act on this world.
    pub fn target(self: &Arc<Self>) -> Target {
        let (account_id, region) = {
            let world = self.world();
            (
                world.params().account_id.clone(),
                world.params().region.clone(),
            )
        };
        Target {
            kind: TargetKind::Sim,
            caller_arn: format!("arn:aws:iam::{account_id}:user/{SIMULATED_CALLER}"),
            account_id,
            region,
            eks: self.clone(),
            kube: self.clone(),
            emr: self.clone(),
            iam: self.clone(),
            logs: self.clone(),
            s3: self.clone(),
            capacity: self.clone(),
            observer: self.clone(),
        }
    }

    /// Reads the world.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a command on the world, then wakes the steps waiting for it. Errors are
    /// reported as the AWS or Kubernetes error the real service would give. Public for
    /// the served APIs, whose writes change the world as a step's call does.
    pub fn act<T>(
        &self,
        service: &'static str,
        operation: &'static str,
        resource: &str,
        command: impl FnOnce(&mut World) -> Result<T, SimError>,
    ) -> Result<T, ActionError> {
        let result = {
            let mut world = self.world();
            command(&mut world)
        };
        self.mark_dirty();
        self.tell_listener();
        self.clock.world_changed();
        result.map_err(|e| service_error(service, operation, resource, &e))
    }

    /// Reads the world, mapping errors like [`SimTarget::act`].
    pub(crate) fn read<T>(
        &self,
        service: &'static str,
        operation: &'static str,
        resource: &str,
        query: impl FnOnce(&World) -> Result<T, SimError>,
    ) -> Result<T, ActionError> {
        let world = self.world();
        query(&world).map_err(|e| service_error(service, operation, resource, &e))
    }

    fn mark_dirty(&self) {
        *self.dirty.lock().unwrap_or_else(PoisonError::into_inner) = true;
    }

    /// Tells the listener what the world recorded since it was last told, right
    /// where the world changed: a command, or time reaching an instant. The listener's
    /// lock is held while it is told, so two changes are never told out of order.
    fn tell_listener(&self) {
        let mut told = self.listener.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(told) = told.as_mut() else {
            return;
        };
        let new: Vec<ObservedEvent> = {
            let world = self.world();
            world
                .events_since(told.up_to)
                .iter()
                .map(to_observed)
                .collect()
        };
        if new.is_empty() {
            return;
        }
        told.up_to += new.len() as u64;
        told.listener.observed(&new);
    }
}

/// A simulator error as the service would report it (its AWS error code).
pub(crate) fn service_error(
    service: &'static str,
    operation: &'static str,
    resource: &str,
    e: &SimError,
) -> ActionError {
    ActionError::Service {
        service,
        operation,
        resource: resource.to_string(),
        code: e.aws_code().to_string(),
        message: e.to_string(),
    }
}

impl WorldDriver for SimTarget {
    fn advance_to(&self, t_ms: u64) {
        let advanced = {
            let mut world = self.world();
            // Events due at `t_ms` itself (scheduled by a command at this instant) are
            // processed too, not only those of a later time.
            if t_ms < world.now()
                || world.next_event_time().is_none_or(|next| next > t_ms) && t_ms == world.now()
            {
                false
            } else {
                // Time only moves forward here, so the world cannot refuse.
                let _ = world.advance_to(t_ms);
                true
            }
        };
        if advanced {
            self.mark_dirty();
            self.tell_listener();
        }
    }

    fn next_event_time(&self) -> Option<u64> {
        self.world().next_event_time()
    }
}

#[async_trait]
impl Observer for SimTarget {
    async fn wait_for_change(
        &self,
        clock: &Clock,
        participant: &Participant,
        timeout: Option<Duration>,
    ) -> WaitOutcome {
        let Clock::Virtual(virtual_clock) = clock else {
            return WaitOutcome::Idle;
        };
        let now = virtual_clock.now_ms();
        // What is due now happens before anyone waits for what comes next; otherwise a
        // wait until "now" would return at once, forever.
        WorldDriver::advance_to(self, now);
        let deadline =
            timeout.map(|t| now.saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)));
        let next_event = self.world().next_event_time().filter(|&t| t > now);
        let until = match (next_event, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wake = virtual_clock.wait_world(participant.id(), until).await;
        if deadline.is_some_and(|d| virtual_clock.now_ms() >= d) {
            return WaitOutcome::TimedOut;
        }
        match wake {
            Wake::Idle => WaitOutcome::Idle,
            Wake::Time | Wake::WorldChanged => WaitOutcome::Changed,
        }
    }

    fn events(&self) -> Vec<ObservedEvent> {
        self.world().events().iter().map(to_observed).collect()
    }

    fn drain_events(&self) -> Vec<ObservedEvent> {
        let world = self.world();
        let mut drained = self.drained.lock().unwrap_or_else(PoisonError::into_inner);
        let events: Vec<ObservedEvent> = world
            .events_since(*drained)
            .iter()
            .map(to_observed)
            .collect();
        *drained += events.len() as u64;
        events
    }

    fn subscribe(&self, listener: Arc<dyn EventListener>) {
        let mut told = self.listener.lock().unwrap_or_else(PoisonError::into_inner);
        let up_to = {
            let world = self.world();
            let earlier: Vec<ObservedEvent> = world.events().iter().map(to_observed).collect();
            listener.earlier(&earlier);
            world.events().len() as u64
        };
        *told = Some(Told { listener, up_to });
    }

    fn snapshot(&self) -> Option<Vec<u8>> {
        let mut dirty = self.dirty.lock().unwrap_or_else(PoisonError::into_inner);
        if !*dirty {
            return None;
        }
        let bytes = serde_json::to_vec(&*self.world()).ok()?;
        *dirty = false;
        Some(bytes)
    }
}

/// A world event as the target hands it over: the world's clock is the run's virtual
/// clock, so its time is the event's.
fn to_observed(event: &runbook_sim::Event) -> ObservedEvent {
    ObservedEvent {
        at_ms: i64::try_from(event.time_ms).unwrap_or(i64::MAX),
        kind: event.kind.clone(),
    }
}
