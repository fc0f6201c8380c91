//! The `aws` target's observer: kube-rs watches on every pod, every node and the
//! `Preempted` events of each cluster the run talks to, turned into the run's pod and
//! node events; and waits that
//! return as soon as a watch delivers something, or after a poll interval for the
//! things no watch covers (EKS and EMR states are polled through their APIs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::kube::runtime::{WatchStreamExt, watcher};
use ::kube::{Api, Client};
use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::node_events::NodeTracker;
use super::pod_events::PodTracker;
use super::status::error_chain;
use runbook_backend::calls::{PlannedCall, Service, declared_any};
use runbook_backend::{Clock, EventListener, ObservedEvent, Observer, Participant, WaitOutcome};

/// The first poll interval when `RUNBOOK_AWS_POLL_MS` does not set one.
const DEFAULT_POLL: Duration = Duration::from_secs(1);
/// Polls back off to this: AWS control-plane changes (a cluster becoming ACTIVE)
/// take minutes, and the API rate limits are per account.
const MAX_POLL: Duration = Duration::from_secs(15);
/// [`Observer::settle`]: the record counts as caught up once every watch has listed
/// its cluster and nothing new arrived for this long...
const SETTLE_QUIET: Duration = Duration::from_millis(300);
/// ... or, on a cluster that never stops changing, after this long.
const SETTLE_MAX: Duration = Duration::from_secs(5);

/// Watches the clusters of a run and records what happened to their pods.
pub struct AwsObserver {
    shared: Arc<Shared>,
    poll_base: Duration,
    /// The watch tasks of each cluster (stopped when the observer is dropped).
    watches: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
}

/// What a watch of a cluster follows (how its errors are named).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Watched {
    Pods,
    Events,
    Nodes,
}

impl std::fmt::Display for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Watched::Pods => "pods",
            Watched::Events => "events",
            Watched::Nodes => "nodes",
        })
    }
}

/// What the watch tasks update.
struct Shared {
    state: Mutex<State>,
    /// Bumped whenever a watch delivers something; waits subscribe to it.
    changes: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    trackers: HashMap<String, PodTracker>,
    node_trackers: HashMap<String, NodeTracker>,
    events: Vec<ObservedEvent>,
    drained: usize,
    /// The last error of each watch, by cluster and what it watches (kept for
    /// `Observer::watch_errors`). Only the watch that failed clears its error: nodes
    /// that keep changing must not hide a pod watch that is refused.
    errors: HashMap<(String, Watched), String>,
    /// `cluster/pods` and `cluster/events` once that watch has listed its cluster.
    listed: std::collections::HashSet<String>,
    /// Who is told of each event as a watch delivers it (the live narration).
    listener: Option<Arc<dyn EventListener>>,
}

impl State {
    /// Records `new` and tells the listener, under the state's lock, so that events
    /// of two watches are told in the order they were recorded.
    fn record(&mut self, new: Vec<ObservedEvent>) {
        if new.is_empty() {
            return;
        }
        if let Some(listener) = &self.listener {
            listener.observed(&new);
        }
        self.events.extend(new);
    }
}

impl Default for AwsObserver {
    fn default() -> Self {
        AwsObserver::new()
    }
}

impl AwsObserver {
    /// An observer that polls first after 1 s, or after `RUNBOOK_AWS_POLL_MS`
    /// milliseconds (tests against a local moto server use about 100).
    pub fn new() -> AwsObserver {
        let base = std::env::var("RUNBOOK_AWS_POLL_MS")
            .ok()
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map_or(DEFAULT_POLL, Duration::from_millis);
        AwsObserver::with_poll_interval(base)
    }

    /// An observer whose first poll interval is `base` (doubling up to 15 s).
    pub fn with_poll_interval(base: Duration) -> AwsObserver {
        AwsObserver {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changes: watch::Sender::new(0),
            }),
            poll_base: base,
            watches: Mutex::new(HashMap::new()),
        }
    }

    /// Starts watching `cluster` through `client`, unless it is watched already.
    /// The watches re-list and resume by themselves after errors, with backoff.
    pub fn watch(&self, cluster: &str, client: &Client) {
        let mut watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        if watches.contains_key(cluster) {
            return;
        }
        {
            let mut state = self.shared.lock();
            state
                .trackers
                .insert(cluster.to_string(), PodTracker::new(cluster));
            state
                .node_trackers
                .insert(cluster.to_string(), NodeTracker::new(cluster));
        }
        let pods = tokio::spawn(watch_pods(
            Arc::clone(&self.shared),
            cluster.to_string(),
            Api::all(client.clone()),
        ));
        let events = tokio::spawn(watch_events(
            Arc::clone(&self.shared),
            cluster.to_string(),
            Api::all(client.clone()),
        ));
        let nodes = tokio::spawn(watch_nodes(
            Arc::clone(&self.shared),
            cluster.to_string(),
            Api::all(client.clone()),
        ));
        watches.insert(cluster.to_string(), vec![pods, events, nodes]);
    }
}

impl Drop for AwsObserver {
    fn drop(&mut self) {
        let watches = self
            .watches
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for task in watches.values().flatten() {
            task.abort();
        }
    }
}

impl Shared {
    /// Notes that a watch of `cluster` has listed it (and wakes [`Observer::settle`]).
    fn listed(&self, cluster: &str, what: &str) {
        self.lock().listed.insert(format!("{cluster}/{what}"));
        self.changes.send_modify(|g| *g += 1);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the cluster's tracker, records what it reports and wakes waits.
    fn update(
        &self,
        cluster: &str,
        watched: Watched,
        f: impl FnOnce(&mut PodTracker, i64) -> Vec<ObservedEvent>,
    ) {
        {
            let mut state = self.lock();
            state.errors.remove(&(cluster.to_string(), watched));
            let Some(tracker) = state.trackers.get_mut(cluster) else {
                return;
            };
            let new = f(tracker, now_ms());
            state.record(new);
        }
        self.changes.send_modify(|g| *g += 1);
    }

    /// Like [`Shared::update`], for the cluster's nodes.
    fn update_nodes(
        &self,
        cluster: &str,
        f: impl FnOnce(&mut NodeTracker, i64) -> Vec<ObservedEvent>,
    ) {
        {
            let mut state = self.lock();
            state.errors.remove(&(cluster.to_string(), Watched::Nodes));
            let Some(tracker) = state.node_trackers.get_mut(cluster) else {
                return;
            };
            let new = f(tracker, now_ms());
            state.record(new);
        }
        self.changes.send_modify(|g| *g += 1);
    }

    fn failed(&self, cluster: &str, watched: Watched, error: &watcher::Error) {
        self.lock()
            .errors
            .insert((cluster.to_string(), watched), error_chain(error));
    }

    /// Reports preemptions that waited too long for their other half (a change
    /// like any other: waits wake for it).
    fn flush_stale(&self) {
        let flushed = {
            let mut state = self.lock();
            let now = now_ms();
            let stale: Vec<ObservedEvent> = state
                .trackers
                .values_mut()
                .flat_map(|t| t.flush_stale(now))
                .collect();
            let flushed = !stale.is_empty();
            state.record(stale);
            flushed
        };
        if flushed {
            self.changes.send_modify(|g| *g += 1);
        }
    }
}

/// The requests the watches of a cluster make ([`AwsObserver::watch`]): each lists its
/// kind in every namespace, then watches from the list's resourceVersion (and lists
/// again after an error). They run in the run's own tasks, belong to no step, and
/// need `list` and `watch` on pods, events and nodes.
pub(super) fn planned_watches() -> Vec<PlannedCall> {
    [Watched::Pods, Watched::Events, Watched::Nodes]
        .iter()
        .flat_map(|watched| watched.calls().to_vec())
        .collect()
}

/// Only the events that say who preempted whom.
const PREEMPTED: &str = "reason=Preempted";

impl Watched {
    /// The calls of this watch, either of which a poll of its stream may send: its
    /// list, and its watch from where the list ended.
    fn calls(self) -> Arc<[PlannedCall]> {
        let every = "<all namespaces>";
        let (kind, detail, why) = match self {
            Watched::Pods => (
                "Pod",
                json!({"namespace": every}),
                "every pod: the run's pod events",
            ),
            Watched::Events => (
                "Event",
                json!({"namespace": every, "fieldSelector": PREEMPTED}),
                "preemptions: who evicted whom",
            ),
            Watched::Nodes => ("Node", json!({}), "every node: the run's node events"),
        };
        ["list", "watch"]
            .map(|verb| {
                PlannedCall::new(
                    Service::Kubernetes,
                    format!("{verb} {kind}"),
                    detail.clone(),
                )
                .note(format!("in the background, {why}"))
            })
            .into()
    }
}

async fn watch_pods(shared: Arc<Shared>, cluster: String, api: Api<Pod>) {
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let calls = Watched::Pods.calls();
    while let Some(item) = declared_any(&calls, stream.next()).await {
        match item {
            Ok(watcher::Event::Init) => shared.update(&cluster, Watched::Pods, |t, _| {
                t.relist_started();
                Vec::new()
            }),
            Ok(watcher::Event::InitApply(pod) | watcher::Event::Apply(pod)) => {
                shared.update(&cluster, Watched::Pods, |t, now| t.apply_pod(&pod, now));
            }
            Ok(watcher::Event::Delete(pod)) => {
                shared.update(&cluster, Watched::Pods, |t, now| t.delete_pod(&pod, now));
            }
            Ok(watcher::Event::InitDone) => {
                shared.update(&cluster, Watched::Pods, PodTracker::relist_done);
                shared.listed(&cluster, "pods");
            }
            Err(e) => shared.failed(&cluster, Watched::Pods, &e),
        }
    }
}

async fn watch_events(shared: Arc<Shared>, cluster: String, api: Api<Event>) {
    let config = watcher::Config::default().fields(PREEMPTED);
    let mut stream = watcher(api, config).default_backoff().boxed();
    let calls = Watched::Events.calls();
    while let Some(item) = declared_any(&calls, stream.next()).await {
        match item {
            Ok(watcher::Event::InitApply(event) | watcher::Event::Apply(event)) => {
                shared.update(&cluster, Watched::Events, |t, now| {
                    t.apply_event(&event, now)
                });
            }
            Ok(watcher::Event::InitDone) => shared.listed(&cluster, "events"),
            Ok(watcher::Event::Init | watcher::Event::Delete(_)) => {}
            Err(e) => shared.failed(&cluster, Watched::Events, &e),
        }
    }
}

async fn watch_nodes(shared: Arc<Shared>, cluster: String, api: Api<Node>) {
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let calls = Watched::Nodes.calls();
    while let Some(item) = declared_any(&calls, stream.next()).await {
        match item {
            Ok(watcher::Event::Init) => shared.update_nodes(&cluster, |t, _| {
                t.relist_started();
                Vec::new()
            }),
            Ok(watcher::Event::InitApply(node) | watcher::Event::Apply(node)) => {
                shared.update_nodes(&cluster, |t, now| t.apply_node(&node, now));
            }
            Ok(watcher::Event::Delete(node)) => {
                shared.update_nodes(&cluster, |t, now| t.delete_node(&node, now));
            }
            Ok(watcher::Event::InitDone) => {
                shared.update_nodes(&cluster, NodeTracker::relist_done);
            }
            Err(e) => shared.failed(&cluster, Watched::Nodes, &e),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[async_trait]
impl Observer for AwsObserver {
    /// The last error of each cluster's watches since they last delivered anything
    /// (such as `Forbidden` when the caller may not list pods): the watches keep
    /// retrying, and this says why they see nothing.
    fn watch_errors(&self) -> Vec<String> {
        let state = self.shared.lock();
        let mut failing: Vec<String> = state
            .errors
            .iter()
            .map(|((cluster, watched), error)| format!("{cluster}: {watched} watch: {error}"))
            .collect();
        failing.sort();
        failing
    }

    /// Returns `Changed` at once if a watch delivered something since this
    /// participant last looked, as soon as one does, or after the participant's poll
    /// interval; `TimedOut` when `timeout` comes first.
    async fn wait_for_change(
        &self,
        _clock: &Clock,
        participant: &Participant,
        timeout: Option<Duration>,
    ) -> WaitOutcome {
        self.shared.flush_stale();
        let mut changes = self.shared.changes.subscribe();
        let generation = *changes.borrow_and_update();
        if participant.see_generation(generation) {
            participant.reset_poll_interval();
            return WaitOutcome::Changed;
        }
        let interval = participant.next_poll_interval(self.poll_base, MAX_POLL);
        let (sleep_for, times_out) = match timeout {
            Some(t) if t <= interval => (t, true),
            _ => (interval, false),
        };
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_ok() {
                    participant.see_generation(*changes.borrow_and_update());
                    participant.reset_poll_interval();
                }
                WaitOutcome::Changed
            }
            () = tokio::time::sleep(sleep_for) => {
                if times_out { WaitOutcome::TimedOut } else { WaitOutcome::Changed }
            }
        }
    }

    /// Waits until the pod and event watches of every watched cluster have listed it
    /// and then nothing arrived for [`SETTLE_QUIET`], or [`SETTLE_MAX`] passed.
    async fn settle(&self) {
        let clusters: Vec<String> = self
            .watches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        let deadline = tokio::time::Instant::now() + SETTLE_MAX;
        let mut changes = self.shared.changes.subscribe();
        loop {
            let listed = {
                let state = self.shared.lock();
                clusters.iter().all(|c| {
                    state.listed.contains(&format!("{c}/pods"))
                        && state.listed.contains(&format!("{c}/events"))
                })
            };
            changes.borrow_and_update();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            let wait = if listed { SETTLE_QUIET.min(left) } else { left };
            match tokio::time::timeout(wait, changes.changed()).await {
                // Quiet (or out of time) after everything was listed: caught up.
                Err(_) if listed => return,
                Err(_) | Ok(Err(_)) => return,
                Ok(Ok(())) => {}
            }
        }
    }

    fn events(&self) -> Vec<ObservedEvent> {
        self.shared.flush_stale();
        self.shared.lock().events.clone()
    }

    /// The earlier events go first, counted as drained (they are stored already).
    fn restore_events(&self, earlier: Vec<ObservedEvent>) {
        let mut state = self.shared.lock();
        let restored = earlier.len();
        let since = std::mem::replace(&mut state.events, earlier);
        state.events.extend(since);
        state.drained += restored;
    }

    fn drain_events(&self) -> Vec<ObservedEvent> {
        self.shared.flush_stale();
        let mut state = self.shared.lock();
        let from = state.drained.min(state.events.len());
        let drained = state.events[from..].to_vec();
        state.drained = state.events.len();
        drained
    }

    /// A real cluster is not restored from a snapshot: a resumed run watches it anew.
    fn snapshot(&self) -> Option<Vec<u8>> {
        None
    }

    fn subscribe(&self, listener: Arc<dyn EventListener>) {
        let mut state = self.shared.lock();
        listener.earlier(&state.events);
        state.listener = Some(listener);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use kube::runtime::watcher;

    use super::{AwsObserver, NodeTracker, Watched};
    use runbook_backend::{Clock, Observer, WaitOutcome};

    /// A refused pod watch stays reported while the node watch delivers, until the
    /// pod watch itself delivers again; the report names the watch.
    #[test]
    fn a_watch_error_is_cleared_only_by_that_watch() {
        let observer = AwsObserver::with_poll_interval(Duration::from_secs(30));
        let shared = &observer.shared;
        {
            let mut state = shared.lock();
            state
                .trackers
                .insert("demo".into(), super::PodTracker::new("demo"));
            state
                .node_trackers
                .insert("demo".into(), NodeTracker::new("demo"));
        }
        let refused = watcher::Error::WatchError(kube::core::ErrorResponse {
            status: "Failure".into(),
            message: "pods is forbidden".into(),
            reason: "Forbidden".into(),
            code: 403,
        });
        shared.failed("demo", Watched::Pods, &refused);
        shared.update_nodes("demo", |_, _| Vec::new());
        shared.update("demo", Watched::Events, |_, _| Vec::new());
        assert_eq!(
            observer.watch_errors(),
            [
                "demo: pods watch: error returned by apiserver during watch: pods is forbidden: Forbidden"
            ]
        );
        shared.update("demo", Watched::Pods, |_, _| Vec::new());
        assert!(observer.watch_errors().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn polls_back_off_per_participant_until_a_change_and_time_out() {
        let observer = AwsObserver::with_poll_interval(Duration::from_millis(20));
        let clock = Clock::Real;
        let participant = clock.enter();
        let mut intervals = Vec::new();
        for _ in 0..12 {
            let started = Instant::now();
            assert_eq!(
                observer.wait_for_change(&clock, &participant, None).await,
                WaitOutcome::Changed
            );
            intervals.push(started.elapsed().as_millis());
        }
        assert_eq!(
            intervals,
            [
                20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 15000, 15000
            ]
        );

        // Another participant polls at its own pace.
        let other = clock.enter();
        let started = Instant::now();
        observer.wait_for_change(&clock, &other, None).await;
        assert_eq!(started.elapsed().as_millis(), 20);

        // A change wakes the slow poller at once and resets its interval.
        let started = Instant::now();
        let (outcome, ()) = tokio::join!(
            observer.wait_for_change(&clock, &participant, None),
            async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                observer.shared.changes.send_modify(|g| *g += 1);
            }
        );
        assert_eq!(outcome, WaitOutcome::Changed);
        assert_eq!(started.elapsed().as_millis(), 5);
        let started = Instant::now();
        observer.wait_for_change(&clock, &participant, None).await;
        assert_eq!(started.elapsed().as_millis(), 20);

        // The other participant has not seen that change yet: it looks again at once.
        let started = Instant::now();
        observer.wait_for_change(&clock, &other, None).await;
        assert_eq!(started.elapsed().as_millis(), 0);

        // A timeout shorter than the poll interval ends the wait.
        assert_eq!(
            observer
                .wait_for_change(&clock, &participant, Some(Duration::from_millis(10)))
                .await,
            WaitOutcome::TimedOut
        );
    }
}
