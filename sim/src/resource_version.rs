//! Resource versions: the world's history as one count, for the Kubernetes API's
//! `resourceVersion` (what a list is at, what a watch resumes from, what a
//! conditional update expects).
//!
//! The history has two append-only logs: the event log (pods, nodes, jobs: the story
//! a run tells) and the log of writes of stored objects (ConfigMaps, Roles,
//! RoleBindings: see [`stored_object`](crate::stored_object)), each write recorded
//! with how many events preceded it. Merged in that order they are one sequence, and a
//! resource version is a position in it: the world is at the length of both logs, the
//! event at index `i` has version `i + 1` plus the writes before it, and a write has
//! the version it was given. Without writes of stored objects, an event's version is
//! its position in the event log, as it always was.

use crate::event::Event;
use crate::stored_object::{ObjectChange, ObjectChangeKind};
use crate::world::World;

impl World {
    /// The world's resource version: how many events and writes of stored objects it
    /// has recorded.
    pub fn resource_version(&self) -> u64 {
        (self.events.len() + self.object_log.len()) as u64
    }

    /// The resource version of the event at `index` of the event log.
    pub fn event_version(&self, index: u64) -> u64 {
        let writes_before = self.object_log.partition_point(|w| w.after_event <= index);
        index + 1 + writes_before as u64
    }

    /// The events recorded after resource version `version`.
    pub fn events_after(&self, version: u64) -> &[Event] {
        let writes = self.writes_up_to(version);
        let events = version.saturating_sub(writes as u64);
        self.events_since(events)
    }

    /// The writes of stored objects after resource version `version`, each with the
    /// object at the write's version.
    pub fn object_changes_after(&self, version: u64) -> &[ObjectChange] {
        &self.object_log[self.writes_up_to(version)..]
    }

    /// How many writes of stored objects have a version of at most `version`.
    fn writes_up_to(&self, version: u64) -> usize {
        self.object_log
            .partition_point(|w| w.object.resource_version <= version)
    }

    /// Starts the log of writes anew with the event log (see
    /// [`World::forget_events`]): each object that exists is recorded as added, in
    /// order, so versions count from the beginning again and every object's version
    /// is one the world has reached.
    pub(crate) fn restart_object_log(&mut self) {
        self.object_log.clear();
        for c in 0..self.clusters.len() {
            let keys: Vec<_> = self.clusters[c].objects.keys().cloned().collect();
            for key in keys {
                let version = self.resource_version() + 1;
                let cluster = self.clusters[c].name.clone();
                let Some(object) = self.clusters[c].objects.get_mut(&key) else {
                    continue;
                };
                object.resource_version = version;
                let object = object.clone();
                self.object_log.push(ObjectChange {
                    cluster,
                    change: ObjectChangeKind::Added,
                    after_event: 0,
                    object,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::demo;
    use crate::stored_object::ObjectWrite;
    use crate::stored_object::tests::{config_map, platform};

    #[test]
    fn events_and_writes_share_one_sequence_of_versions() {
        let (mut world, setup, cluster) = platform();
        let before = world.resource_version();
        assert_eq!(before, world.events().len() as u64);
        let last_event = world.events().len() as u64 - 1;
        assert_eq!(world.event_version(last_event), before);

        let written = world
            .create_kube_object(&cluster, config_map("a"), ObjectWrite::default())
            .expect("created");
        assert_eq!(written.resource_version, before + 1);
        assert_eq!(world.resource_version(), before + 1);
        // An event after the write comes after it in the sequence.
        let account = world.params().account_id.clone();
        world
            .submit_job_run(setup.low_priority_job(&account))
            .expect("a job");
        world.advance_by(demo::HIGH_JOB_DELAY_MS);
        let events = world.events().len() as u64;
        assert!(events > last_event + 1, "the world moved on");
        assert_eq!(world.event_version(last_event + 1), before + 2);
        assert_eq!(world.event_version(events - 1), world.resource_version());
        // From a version, each log gives exactly what came after it.
        assert_eq!(world.events_after(before).len() as u64, events - before);
        assert_eq!(world.object_changes_after(before).len(), 1);
        assert!(world.object_changes_after(before + 1).is_empty());
        assert_eq!(
            world.events_after(before + 1).len() as u64,
            events - last_event - 1
        );

        let mut changed = ObjectWrite::default();
        changed
            .content
            .insert("data".into(), serde_json::json!({"k": "v"}));
        let stale = written.resource_version;
        let replaced = world
            .replace_kube_object(&cluster, &config_map("a"), changed.clone(), Some(stale))
            .expect("replaced");
        assert_eq!(replaced.resource_version, world.resource_version());
        assert!(replaced.resource_version > stale);
        let refused = world.replace_kube_object(&cluster, &config_map("a"), changed, Some(stale));
        assert!(matches!(
            refused,
            Err(crate::SimError::ObjectConflict { .. })
        ));
    }

    #[test]
    fn forgetting_events_numbers_objects_from_the_start() {
        let (mut world, _, cluster) = platform();
        for name in ["a", "b"] {
            world
                .create_kube_object(&cluster, config_map(name), ObjectWrite::default())
                .expect("created");
        }
        world.forget_events();
        assert_eq!(world.resource_version(), 2);
        let versions: Vec<u64> = world
            .kube_objects(&cluster)
            .expect("the cluster")
            .map(|o| o.resource_version)
            .collect();
        assert_eq!(versions, [1, 2]);
    }
}
