//! A list's answer (a `PodList`, or the `Table` kubectl asks for), written straight to
//! bytes: its items are serialised one after another as they are rendered, so a list
//! of a hundred thousand pods never exists as a JSON tree (building and freeing one
//! cost seconds). A list of pods is written on a thread of its own and sent in chunks
//! as it is written.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::Arc;

use http::{Response, StatusCode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use runbook_backend_sim::SimTarget;
use serde::Serialize;
use serde::ser::{Error as _, Serializer};

use super::annotations::Annotations;
use super::catalog::{self, Items, Listed, Query};
use super::resources::Resource;
use super::selector::Selector;
use super::status;
use super::table::{Include, Row, Shows, Table};
use crate::body::{self, Body};
use crate::time::Instants;

/// The answer to a list of `resource` in the cluster named `cluster_name`: what
/// `query` wants of it now, as a table if one was asked for (`table`).
pub(crate) fn respond(
    target: &Arc<SimTarget>,
    kept: &Annotations,
    cluster_name: &str,
    resource: &'static Resource,
    query: &Query<'_>,
    table: Option<Include>,
) -> Response<Body> {
    let world = target.world();
    let Ok(cluster) = world.cluster(cluster_name) else {
        return status::no_such_path();
    };
    if catalog::renders_as_written(resource) {
        drop(world);
        return written(Arc::clone(target), cluster_name, resource, query, table);
    }
    let instants = Instants::of(target, world.now());
    let version = catalog::resource_version(&world);
    let mut listed = catalog::list(resource, &world, cluster, &instants, query);
    if let Items::Objects(objects) = &mut listed.items {
        kept.show(cluster_name, resource.kind, objects);
    }
    let mut out = Vec::new();
    match answer(resource, listed, table, version, &mut out) {
        Ok(()) => body::with_type(StatusCode::OK, "application/json", out),
        Err(e) => status::failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("failed to write the list: {e}"),
        ),
    }
}

/// The answer, written on a blocking thread under one look at the world (as any
/// answer is) and sent in chunks as it is written: the client reads the first rows
/// while the last are rendered, and the server never holds the whole answer.
fn written(
    target: Arc<SimTarget>,
    cluster_name: &str,
    resource: &'static Resource,
    query: &Query<'_>,
    table: Option<Include>,
) -> Response<Body> {
    let (mut chunks, response) = body::written("application/json");
    let cluster_name = cluster_name.to_string();
    let asked = Asked::of(query);
    tokio::task::spawn_blocking(move || {
        let world = target.world();
        let query = asked.query();
        let instants = Instants::of(&target, world.now());
        let version = catalog::resource_version(&world);
        // Deleted since the request came: nothing is left of it to list.
        let listed = match world.cluster(&cluster_name) {
            Ok(cluster) => catalog::list(resource, &world, cluster, &instants, &query),
            Err(_) => Listed {
                items: Items::Objects(Vec::new()),
                next: None,
            },
        };
        // An error here is the client gone: there is no one to tell.
        let _ = answer(resource, listed, table, version, &mut chunks);
    });
    response
}

/// A query, owned by the thread that answers it.
struct Asked {
    namespace: Option<String>,
    labels: Selector,
    fields: Selector,
    whole: bool,
    from: usize,
    limit: Option<usize>,
}

impl Asked {
    fn of(query: &Query<'_>) -> Asked {
        Asked {
            namespace: query.namespace.map(str::to_string),
            labels: query.labels.clone(),
            fields: query.fields.clone(),
            whole: query.whole,
            from: query.from,
            limit: query.limit,
        }
    }

    fn query(&self) -> Query<'_> {
        Query {
            namespace: self.namespace.as_deref(),
            labels: &self.labels,
            fields: &self.fields,
            whole: self.whole,
            from: self.from,
            limit: self.limit,
        }
    }
}

/// Writes the answer to a list of `resource` to `out`: `listed` at
/// `resource_version`, as a table if one was asked for.
pub(crate) fn answer(
    resource: &Resource,
    listed: Listed<'_>,
    table: Option<Include>,
    resource_version: u64,
    out: &mut impl Write,
) -> io::Result<()> {
    let metadata = ListMeta {
        resource_version: Some(resource_version.to_string()),
        continue_: listed.next.map(|next| next.to_string()),
        ..ListMeta::default()
    };
    match listed.items {
        Items::Pods(pods) => write(resource, pods.shown(), table, metadata, &mut *out)?,
        Items::Objects(objects) => write(resource, objects.iter(), table, metadata, &mut *out)?,
    }
    out.flush()
}

fn write<T: Shows>(
    resource: &Resource,
    items: impl Iterator<Item = T>,
    table: Option<Include>,
    metadata: ListMeta,
    out: impl Write,
) -> serde_json::Result<()> {
    match table {
        Some(include) => {
            let rows = Each::new(items.map(|shown| Row { shown, include }));
            serde_json::to_writer(out, &Table::new(resource.kind, metadata, rows))
        }
        None => {
            let list = List {
                kind: format!("{}List", resource.kind),
                api_version: resource.group_version(),
                metadata,
                items: Each::new(items.map(Whole)),
            };
            serde_json::to_writer(out, &list)
        }
    }
}

/// A list of whole objects (`PodList`, `NodeList`, ...).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct List<I> {
    kind: String,
    api_version: String,
    metadata: ListMeta,
    items: I,
}

/// An item of a list: the whole object.
struct Whole<T>(T);

impl<T: Shows> Serialize for Whole<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.whole().serialize(serializer)
    }
}

/// A sequence serialised as its iterator gives it, one item at a time (once: the
/// iterator is spent).
struct Each<I>(RefCell<Option<I>>);

impl<I> Each<I> {
    fn new(items: I) -> Each<I> {
        Each(RefCell::new(Some(items)))
    }
}

impl<I> Serialize for Each<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let items = self
            .0
            .borrow_mut()
            .take()
            .ok_or_else(|| S::Error::custom("a list's items are written once"))?;
        serializer.collect_seq(items)
    }
}

#[cfg(test)]
mod tests {
    use runbook_sim::World;
    use runbook_sim::demo::{self, DemoOptions};
    use runbook_sim::params::SimParams;
    use serde_json::{Value, json};

    use super::*;
    use crate::kube::catalog::{self, Query};
    use crate::kube::karpenter_controller::{self, Controller};
    use crate::kube::object::Object;
    use crate::kube::selector::Selector;
    use crate::kube::{pods, resources, table};
    use crate::time::Instants;

    /// The demo in the middle of its preemption: pods running, pending, nominated,
    /// terminating and finished.
    fn preempting() -> World {
        let mut world = World::new(7, SimParams::default());
        let setup = demo::setup(&mut world, &DemoOptions::default()).expect("the demo");
        let account = world.params().account_id.clone();
        world
            .submit_job_run(setup.low_priority_job(&account))
            .expect("the low job");
        world.advance_by(demo::HIGH_JOB_DELAY_MS);
        world
            .submit_job_run(setup.high_priority_job(&account))
            .expect("the high job");
        world.advance_by(27_000);
        world
    }

    /// The answer as it was made before pods were written one by one: every pod
    /// rendered as an [`Object`], the query's filter applied to the objects, and the
    /// list built as one JSON tree.
    fn by_objects(
        world: &World,
        instants: &Instants,
        query: &Query<'_>,
        table: Option<Include>,
    ) -> Value {
        let cluster = world.cluster(demo::CLUSTER_NAME).expect("the cluster");
        let version = catalog::resource_version(world);
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut wanted = world
            .all_pods()
            .iter()
            .enumerate()
            .skip(query.from)
            .filter(|(_, p)| p.cluster.as_ref() == cluster.name && !p.is_deleted())
            .map(|(i, p)| (i, pods::pod(p, world.now(), instants, query.whole)))
            .chain(std::iter::once((
                karpenter_controller::POSITION,
                controller_object(world, instants, query.whole),
            )))
            .filter(|(_, o)| {
                (query.namespace.is_none() || o.namespace.as_deref() == query.namespace)
                    && query.labels.matches(&o.labels)
                    && query.fields.matches(&o.fields)
            });
        let objects: Vec<Object> = wanted
            .by_ref()
            .take(limit)
            .map(|(_, o)| o.at_version(version))
            .collect();
        let mut value = match table {
            Some(include) => table::table("Pod", &objects, include, version),
            None => json!({
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": version.to_string()},
                "items": objects.into_iter().map(|o| o.value).collect::<Vec<_>>(),
            }),
        };
        if let Some((next, _)) = wanted.next() {
            value["metadata"]["continue"] = json!(next.to_string());
        }
        value
    }

    /// The cluster's Karpenter controller pod as an [`Object`], whole or only its
    /// metadata (as a table's rows carry it by default).
    fn controller_object(world: &World, instants: &Instants, whole: bool) -> Object {
        let cluster = world.cluster(demo::CLUSTER_NAME).expect("the cluster");
        let controller = Controller::of(world, cluster);
        let mut object = controller.object(instants);
        if !whole {
            let metadata = object.value["metadata"].clone();
            object.value = json!({"metadata": metadata});
        }
        object
    }

    #[test]
    fn pods_written_one_by_one_are_the_objects_list() {
        let world = preempting();
        let cluster = world.cluster(demo::CLUSTER_NAME).expect("the cluster");
        let resource = resources::find("", "v1", "pods").expect("pods");
        let instants = Instants::at(world.now());
        let version = catalog::resource_version(&world);
        let statuses: Vec<String> = world
            .all_pods()
            .iter()
            .map(|p| {
                pods::shown(p, world.now(), &instants, false)
                    .cells
                    .2
                    .to_string()
            })
            .collect();
        for shown in ["Running", "Pending", "Terminating"] {
            assert!(statuses.iter().any(|s| s == shown), "{shown}: {statuses:?}");
        }
        let none = Selector::default();
        let executors = Selector::labels("spark-role=executor").expect("a selector");
        let unbound = Selector::fields("spec.nodeName=").expect("a selector");
        let queries = [
            (None, &none, &none, 0, None),
            (None, &none, &none, 0, Some(3)),
            (None, &none, &none, 4, Some(3)),
            (Some(demo::LOW_NAMESPACE), &executors, &none, 0, None),
            (None, &none, &unbound, 1, Some(2)),
        ];
        let answers = [
            None,
            Some(Include::None),
            Some(Include::Metadata),
            Some(Include::Object),
        ];
        for (namespace, labels, fields, from, limit) in queries {
            for table in answers {
                let query = Query {
                    namespace,
                    labels,
                    fields,
                    whole: table.is_none_or(|include| include == Include::Object),
                    from,
                    limit,
                };
                let listed = catalog::list(resource, &world, cluster, &instants, &query);
                let mut written = Vec::new();
                answer(resource, listed, table, version, &mut written).expect("written");
                let written: Value = serde_json::from_slice(&written).expect("JSON");
                let expected = by_objects(&world, &instants, &query, table);
                assert_eq!(
                    written, expected,
                    "{namespace:?} {from} {limit:?} {table:?}"
                );
                let items = if table.is_some() { "rows" } else { "items" };
                assert!(
                    written[items].as_array().is_some_and(|i| !i.is_empty()),
                    "{written}"
                );
            }
        }
    }
}
