//! Server-side tables (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), which
//! `kubectl get` prints as its columns: the cells are formatted here, as the API
//! server formats them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use super::object::Object;

/// A column: name, type, priority (0 always shown, 1 with `-o wide`).
type Column = (&'static str, &'static str, u8);

/// The columns of `kind`, in the order of its objects' cells.
pub(crate) fn columns(kind: &str) -> &'static [Column] {
    match kind {
        "Pod" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        "Node" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        "Namespace" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0),
        ],
        "Event" => &[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Message", "string", 0),
        ],
        "PriorityClass" => &[
            ("Name", "string", 0),
            ("Value", "integer", 0),
            ("Global-Default", "boolean", 0),
            ("Age", "string", 0),
            ("PreemptionPolicy", "string", 0),
        ],
        "ConfigMap" => &[
            ("Name", "string", 0),
            ("Data", "string", 0),
            ("Age", "string", 0),
        ],
        "Role" => &[("Name", "string", 0), ("Created At", "date", 0)],
        "RoleBinding" => &[
            ("Name", "string", 0),
            ("Role", "string", 0),
            ("Age", "string", 0),
            ("Users", "string", 1),
            ("Groups", "string", 1),
            ("ServiceAccounts", "string", 1),
        ],
        "EC2NodeClass" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
        ],
        "NodePool" => &[
            ("Name", "string", 0),
            ("NodeClass", "string", 0),
            ("Nodes", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
        ],
        _ => &[("Name", "string", 0)],
    }
}

/// What each row carries of its object (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub(crate) fn from_query(value: Option<&str>) -> Include {
        match value {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// What a table's row is made of, and a list's item (the whole object): an
/// [`Object`], or a kind's own rendering that is written out without a JSON tree.
pub(crate) trait Shows {
    /// The row's cells, one per column.
    fn cells(&self) -> impl Serialize;
    /// The object's `metadata`.
    fn metadata(&self) -> impl Serialize;
    /// The whole object.
    fn whole(&self) -> impl Serialize;
}

impl Shows for Object {
    fn cells(&self) -> impl Serialize {
        &self.cells
    }

    fn metadata(&self) -> impl Serialize {
        &self.value["metadata"]
    }

    fn whole(&self) -> impl Serialize {
        &self.value
    }
}

impl<T: Shows> Shows for &T {
    fn cells(&self) -> impl Serialize {
        (*self).cells()
    }

    fn metadata(&self) -> impl Serialize {
        (*self).metadata()
    }

    fn whole(&self) -> impl Serialize {
        (*self).whole()
    }
}

/// A table's row: its cells and, as `include` asks, nothing more, its object's
/// metadata (as a `PartialObjectMetadata`) or the whole object.
pub(crate) struct Row<T> {
    pub(crate) shown: T,
    pub(crate) include: Include,
}

impl<T: Shows> Serialize for Row<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut row = serializer.serialize_map(None)?;
        row.serialize_entry("cells", &self.shown.cells())?;
        match self.include {
            Include::None => {}
            Include::Metadata => row.serialize_entry(
                "object",
                &PartialObjectMetadata {
                    kind: "PartialObjectMetadata",
                    api_version: "meta.k8s.io/v1",
                    metadata: self.shown.metadata(),
                },
            )?,
            Include::Object => row.serialize_entry("object", &self.shown.whole())?,
        }
        row.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartialObjectMetadata<M> {
    kind: &'static str,
    api_version: &'static str,
    metadata: M,
}

/// A table (`meta.k8s.io/v1` `Table`) of `rows` of `kind`: the rows are written as
/// they come, so a list's are rendered one at a time (see `list::Each`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Table<R> {
    kind: &'static str,
    api_version: &'static str,
    metadata: ListMeta,
    column_definitions: Vec<Value>,
    rows: R,
}

impl<R: Serialize> Table<R> {
    pub(crate) fn new(kind: &str, metadata: ListMeta, rows: R) -> Table<R> {
        let column_definitions = columns(kind)
            .iter()
            .map(|(name, kind, priority)| {
                json!({
                    "name": name,
                    "type": kind,
                    "format": if *name == "Name" { "name" } else { "" },
                    "description": "",
                    "priority": priority,
                })
            })
            .collect();
        Table {
            kind: "Table",
            api_version: "meta.k8s.io/v1",
            metadata,
            column_definitions,
            rows,
        }
    }
}

/// A table of `objects` of `kind` at `resource_version`.
pub(crate) fn table(
    kind: &str,
    objects: &[Object],
    include: Include,
    resource_version: u64,
) -> Value {
    let metadata = ListMeta {
        resource_version: Some(resource_version.to_string()),
        ..ListMeta::default()
    };
    let rows: Vec<Row<&Object>> = objects.iter().map(|shown| Row { shown, include }).collect();
    serde_json::to_value(Table::new(kind, metadata, rows)).unwrap_or(Value::Null)
}
