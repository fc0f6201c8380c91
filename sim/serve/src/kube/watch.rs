//! Watches (`?watch=true`): a stream of `{"type": ..., "object": ...}` lines that
//! follows the world's event log from a resource version.
//!
//! The world's log is append-only and a resource version is a position in it, so a
//! watch resumed from the version of the last event it delivered continues with the
//! next one: nothing is lost and nothing repeats. A watch without a version (or `0`)
//! first delivers what exists as `ADDED`, as the API server does.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use runbook_backend_sim::SimTarget;
use serde_json::json;

use super::catalog::{self, Change};
use super::object::Object;
use super::resources::Resource;
use super::selector::Selector;
use super::stored_objects;
use super::table::{self, Include};
use crate::body::{self, Body};
use crate::time::Instants;

/// How often a watch looks for new events in the world's log.
const POLL: Duration = Duration::from_millis(50);

/// What a watch delivers.
pub(crate) struct Watch {
    pub(crate) resource: &'static Resource,
    pub(crate) cluster: String,
    pub(crate) namespace: Option<String>,
    pub(crate) labels: Selector,
    pub(crate) fields: Selector,
    /// Deliver objects as one-row tables (kubectl `get -w`).
    pub(crate) table: Option<Include>,
    /// Where to start; `None` delivers what exists first.
    pub(crate) from: Option<u64>,
    /// When the server ends the watch (`timeoutSeconds`); `None` keeps it open.
    pub(crate) timeout: Option<Duration>,
}

impl Watch {
    fn wants(&self, object: &Object) -> bool {
        (self.namespace.is_none() || object.namespace == self.namespace)
            && self.labels.matches(&object.labels)
            && self.fields.matches(&object.fields)
    }

    fn line(&self, change: Change, object: &Object) -> Bytes {
        let shown = match self.table {
            Some(include) => {
                let version = object.value["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                table::table(
                    self.resource.kind,
                    std::slice::from_ref(object),
                    include,
                    version,
                )
            }
            None => object.value.clone(),
        };
        let mut line = json!({"type": change.as_str(), "object": shown}).to_string();
        line.push('\n');
        Bytes::from(line)
    }

    /// The changes since `cursor` and where the log now ends; `None` once the cluster
    /// is gone from the world.
    fn poll(&self, target: &SimTarget, cursor: u64) -> Option<(Vec<(Change, Object)>, u64)> {
        let world = target.world();
        let cluster = world.cluster(&self.cluster).ok()?;
        let instants = Instants::of(target, world.now());
        let end = catalog::resource_version(&world);
        let mut changes = catalog::changes(
            self.resource,
            &world,
            cluster,
            world.events_after(cursor),
            &instants,
        );
        if let Some(kind) = stored_objects::kind_of(self.resource) {
            changes.extend(stored_objects::changes(
                kind, &world, cluster, cursor, &instants,
            ));
        }
        Some((changes, end))
    }

    fn existing(&self, target: &SimTarget) -> Option<(Vec<Object>, u64)> {
        let world = target.world();
        let cluster = world.cluster(&self.cluster).ok()?;
        let instants = Instants::of(target, world.now());
        let query = catalog::Query {
            namespace: self.namespace.as_deref(),
            labels: &self.labels,
            fields: &self.fields,
            whole: true,
            from: 0,
            limit: None,
        };
        let page = catalog::page(self.resource, &world, cluster, &instants, &query);
        Some((page.objects, catalog::resource_version(&world)))
    }
}

/// Starts `watch` on `target`'s world: the response streams until the client goes,
/// the timeout passes or the cluster is deleted.
pub(crate) fn start(target: Arc<SimTarget>, watch: Watch) -> Response<Body> {
    let (tx, response) = body::streamed("application/json");
    tokio::spawn(async move {
        let deadline = watch.timeout.map(|t| tokio::time::Instant::now() + t);
        let end = catalog::resource_version(&target.world());
        let mut cursor = match watch.from {
            // A version past the log's end was given by another world's server (a
            // named world taken over by a new run starts a new log): the client must
            // list again, as after an API server's compaction.
            Some(from) if from > end => {
                let expired = json!({"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": format!("too old resource version: {from} ({end})"),
                    "reason": "Expired", "code": 410,
                }});
                let _ = tx.send(Bytes::from(format!("{expired}\n"))).await;
                return;
            }
            Some(from) if from > 0 => from,
            _ => {
                let Some((objects, end)) = watch.existing(&target) else {
                    return;
                };
                for object in objects.iter().filter(|o| watch.wants(o)) {
                    if tx.send(watch.line(Change::Added, object)).await.is_err() {
                        return;
                    }
                }
                end
            }
        };
        loop {
            let Some((changes, end)) = watch.poll(&target, cursor) else {
                return;
            };
            for (change, object) in changes.iter().filter(|(_, o)| watch.wants(o)) {
                if tx.send(watch.line(*change, object)).await.is_err() {
                    return;
                }
            }
            cursor = end;
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) || tx.is_closed() {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    response
}
