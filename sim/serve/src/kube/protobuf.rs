//! The Kubernetes protobuf encoding, read as far as the served writes need: kubectl's
//! typed clients (`kubectl create namespace`, `kubectl create priorityclass`,
//! `kubectl create configmap`, `kubectl create role`, `kubectl create rolebinding`,
//! `kubectl auth can-i`) send `application/vnd.kubernetes.protobuf` and do not fall
//! back to JSON.
//!
//! A body is the magic `k8s\0` and a `runtime.Unknown` message (field 1 `typeMeta`,
//! field 2 `raw`: the object's own message). The object's fields that the served
//! kinds keep are read into the JSON the API would have been sent, by the field
//! numbers of k8s.io/api's `generated.proto` files (see [`schema`]); others are
//! skipped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

/// How a field reads as JSON.
#[derive(Clone, Copy)]
enum Shape {
    Text,
    /// A repeated string.
    Texts,
    /// An int32 (a negative one is sent as a ten-byte varint of its 64-bit form).
    Int32,
    Bool,
    /// A `map<string, string>` (repeated entries: key 1, value 2).
    Map,
    /// A `map<string, bytes>`, whose values JSON has in base64.
    BinaryMap,
    Message(&'static [Field]),
    Messages(&'static [Field]),
}

/// A field of a message: its number, its JSON name and its shape.
type Field = (u64, &'static str, Shape);

/// `metadata` (`ObjectMeta`), as far as a written object gives it.
const OBJECT_META: &[Field] = &[
    (1, "name", Shape::Text),
    (2, "generateName", Shape::Text),
    (3, "namespace", Shape::Text),
    (6, "resourceVersion", Shape::Text),
    (11, "labels", Shape::Map),
    (12, "annotations", Shape::Map),
];
const METADATA: Field = (1, "metadata", Shape::Message(OBJECT_META));
/// rbac/v1 `PolicyRule` (2 was `attributeRestrictions`, long gone).
const POLICY_RULE: &[Field] = &[
    (1, "verbs", Shape::Texts),
    (3, "apiGroups", Shape::Texts),
    (4, "resources", Shape::Texts),
    (5, "resourceNames", Shape::Texts),
    (6, "nonResourceURLs", Shape::Texts),
];
const SUBJECT: &[Field] = &[
    (1, "kind", Shape::Text),
    (2, "apiGroup", Shape::Text),
    (3, "name", Shape::Text),
    (4, "namespace", Shape::Text),
];
const ROLE_REF: &[Field] = &[
    (1, "apiGroup", Shape::Text),
    (2, "kind", Shape::Text),
    (3, "name", Shape::Text),
];

/// authorization/v1 `ResourceAttributes` and `NonResourceAttributes`, what a
/// SelfSubjectAccessReview (`kubectl auth can-i`) asks about.
const RESOURCE_ATTRIBUTES: &[Field] = &[
    (1, "namespace", Shape::Text),
    (2, "verb", Shape::Text),
    (3, "group", Shape::Text),
    (4, "version", Shape::Text),
    (5, "resource", Shape::Text),
    (6, "subresource", Shape::Text),
    (7, "name", Shape::Text),
];
const NON_RESOURCE_ATTRIBUTES: &[Field] = &[(1, "path", Shape::Text), (2, "verb", Shape::Text)];
const ACCESS_REVIEW_SPEC: &[Field] = &[
    (1, "resourceAttributes", Shape::Message(RESOURCE_ATTRIBUTES)),
    (
        2,
        "nonResourceAttributes",
        Shape::Message(NON_RESOURCE_ATTRIBUTES),
    ),
];

/// The fields read of an object of `kind`.
fn schema(kind: &str) -> &'static [Field] {
    match kind {
        "PriorityClass" => &[
            METADATA,
            (2, "value", Shape::Int32),
            (3, "globalDefault", Shape::Bool),
            (4, "description", Shape::Text),
            (5, "preemptionPolicy", Shape::Text),
        ],
        "ConfigMap" => &[
            METADATA,
            (2, "data", Shape::Map),
            (3, "binaryData", Shape::BinaryMap),
            (4, "immutable", Shape::Bool),
        ],
        "Role" => &[METADATA, (2, "rules", Shape::Messages(POLICY_RULE))],
        "RoleBinding" => &[
            METADATA,
            (2, "subjects", Shape::Messages(SUBJECT)),
            (3, "roleRef", Shape::Message(ROLE_REF)),
        ],
        "SelfSubjectAccessReview" => &[METADATA, (2, "spec", Shape::Message(ACCESS_REVIEW_SPEC))],
        _ => &[METADATA],
    }
}

/// The object in a protobuf body of `kind`, as JSON.
pub(crate) fn decode(kind: &str, body: &[u8]) -> Result<Value, String> {
    let unknown = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the protobuf magic `k8s\\0`")?;
    let raw = fields(unknown)?
        .into_iter()
        .find_map(|(number, value)| match (number, value) {
            (2, Wire::Bytes(raw)) => Some(raw),
            _ => None,
        })
        .ok_or("the protobuf envelope has no object (runtime.Unknown field 2)")?;
    message(raw, schema(kind)).map(Value::Object)
}

/// A message read by its `schema` (fields not in it are skipped).
fn message(bytes: &[u8], schema: &[Field]) -> Result<Map<String, Value>, String> {
    let mut object = Map::new();
    for (number, value) in fields(bytes)? {
        let Some((_, name, shape)) = schema.iter().find(|(n, _, _)| *n == number) else {
            continue;
        };
        let text = |bytes: &[u8]| json!(String::from_utf8_lossy(bytes));
        match (*shape, value) {
            // Go writes every string field, an unset one empty; JSON leaves it out.
            (Shape::Text, Wire::Bytes([])) => {}
            (Shape::Text, Wire::Bytes(b)) => {
                object.insert((*name).into(), text(b));
            }
            (Shape::Texts, Wire::Bytes(b)) => push(object.entry(*name), text(b)),
            (Shape::Int32, Wire::Varint(v)) => {
                object.insert((*name).into(), json!(v as i64 as i32));
            }
            (Shape::Bool, Wire::Varint(v)) => {
                object.insert((*name).into(), json!(v != 0));
            }
            (Shape::Map, Wire::Bytes(b)) => {
                let (key, value) = entry(b)?;
                insert(object.entry(*name), key, text(value));
            }
            (Shape::BinaryMap, Wire::Bytes(b)) => {
                let (key, value) = entry(b)?;
                insert(object.entry(*name), key, json!(BASE64.encode(value)));
            }
            (Shape::Message(inner), Wire::Bytes(b)) => {
                object.insert((*name).into(), Value::Object(message(b, inner)?));
            }
            (Shape::Messages(inner), Wire::Bytes(b)) => {
                push(object.entry(*name), Value::Object(message(b, inner)?));
            }
            _ => {
                return Err(format!(
                    "protobuf field {number} ({name}) has the wrong wire type"
                ));
            }
        }
    }
    Ok(object)
}

/// A map field's entry: its key (field 1) and value (field 2).
fn entry(bytes: &[u8]) -> Result<(String, &[u8]), String> {
    let mut key = String::new();
    let mut value: &[u8] = &[];
    for (n, field) in fields(bytes)? {
        match (n, field) {
            (1, Wire::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
            (2, Wire::Bytes(v)) => value = v,
            _ => {}
        }
    }
    Ok((key, value))
}

/// Appends to a repeated field's list.
fn push(slot: serde_json::map::Entry<'_>, value: Value) {
    if let Value::Array(items) = slot.or_insert_with(|| json!([])) {
        items.push(value);
    }
}

/// Adds an entry to a map field's object.
fn insert(slot: serde_json::map::Entry<'_>, key: String, value: Value) {
    if let Value::Object(entries) = slot.or_insert_with(|| json!({})) {
        entries.insert(key, value);
    }
}

/// A field's value on the wire: a varint, or length-delimited bytes (fixed-width
/// fields are skipped: none of the fields read here has one).
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

/// The fields of one message, in order.
fn fields(mut bytes: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let (number, wire) = (key >> 3, key & 7);
        let field = match wire {
            0 => Wire::Varint(varint(&mut bytes)?),
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).map_err(|e| e.to_string())?;
                let (value, rest) = bytes
                    .split_at_checked(len)
                    .ok_or("a protobuf field runs past the end of the body")?;
                bytes = rest;
                Wire::Bytes(value)
            }
            1 | 5 => {
                let width = if wire == 1 { 8 } else { 4 };
                bytes = bytes
                    .get(width..)
                    .ok_or("a protobuf field runs past the end of the body")?;
                Wire::Other
            }
            other => return Err(format!("unsupported protobuf wire type {other}")),
        };
        out.push((number, field));
    }
    Ok(out)
}

fn varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes
            .split_first()
            .ok_or("a protobuf varint is cut short")?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a protobuf varint is too long".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_field(number: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2, u8::try_from(value.len()).expect("short")];
        out.extend_from_slice(value);
        out
    }

    fn envelope(kind: &str, object: &[u8]) -> Vec<u8> {
        let mut type_meta = bytes_field(1, b"v1");
        type_meta.extend(bytes_field(2, kind.as_bytes()));
        let mut body = MAGIC.to_vec();
        body.extend(bytes_field(1, &type_meta));
        body.extend(bytes_field(2, object));
        body
    }

    #[test]
    fn a_namespace_reads_its_name() {
        let object = bytes_field(1, &bytes_field(1, b"what-if"));
        let value = decode("Namespace", &envelope("Namespace", &object)).expect("decoded");
        assert_eq!(value, json!({"metadata": {"name": "what-if"}}));
    }

    #[test]
    fn a_priority_class_reads_its_fields() {
        let mut object = bytes_field(1, &bytes_field(1, b"urgent"));
        object.extend([2 << 3, 0xf4, 0x03]); // value 500
        object.extend([3 << 3, 1]); // globalDefault
        object.extend(bytes_field(5, b"Never"));
        let value = decode("PriorityClass", &envelope("PriorityClass", &object)).expect("decoded");
        assert_eq!(
            value,
            json!({"metadata": {"name": "urgent"}, "value": 500, "globalDefault": true, "preemptionPolicy": "Never"})
        );
    }

    #[test]
    fn a_config_map_reads_its_namespace_labels_and_data() {
        let mut label = bytes_field(1, b"app");
        label.extend(bytes_field(2, b"demo"));
        let mut meta = bytes_field(1, b"settings");
        meta.extend(bytes_field(3, b"default"));
        meta.extend(bytes_field(11, &label));
        let mut object = bytes_field(1, &meta);
        for (key, value) in [("a", "1"), ("b", "2")] {
            let mut entry = bytes_field(1, key.as_bytes());
            entry.extend(bytes_field(2, value.as_bytes()));
            object.extend(bytes_field(2, &entry));
        }
        let mut binary = bytes_field(1, b"bin");
        binary.extend(bytes_field(2, &[0xff, 0x00]));
        object.extend(bytes_field(3, &binary));
        object.extend([4 << 3, 1]); // immutable
        let value = decode("ConfigMap", &envelope("ConfigMap", &object)).expect("decoded");
        assert_eq!(
            value,
            json!({
                "metadata": {"name": "settings", "namespace": "default", "labels": {"app": "demo"}},
                "data": {"a": "1", "b": "2"},
                "binaryData": {"bin": "/wA="},
                "immutable": true,
            })
        );
    }

    #[test]
    fn a_role_and_a_binding_read_their_rules_subjects_and_role() {
        let mut rule = bytes_field(1, b"get");
        rule.extend(bytes_field(1, b"list"));
        rule.extend(bytes_field(3, b""));
        rule.extend(bytes_field(4, b"pods"));
        let mut role = bytes_field(1, &bytes_field(1, b"reader"));
        role.extend(bytes_field(2, &rule));
        let value = decode("Role", &envelope("Role", &role)).expect("decoded");
        assert_eq!(
            value,
            json!({"metadata": {"name": "reader"}, "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]})
        );

        let mut subject = bytes_field(1, b"User");
        subject.extend(bytes_field(2, b"rbac.authorization.k8s.io"));
        subject.extend(bytes_field(3, b"alice"));
        subject.extend(bytes_field(4, b""));
        let mut role_ref = bytes_field(1, b"rbac.authorization.k8s.io");
        role_ref.extend(bytes_field(2, b"Role"));
        role_ref.extend(bytes_field(3, b"reader"));
        let mut binding = bytes_field(1, &bytes_field(1, b"read"));
        binding.extend(bytes_field(2, &subject));
        binding.extend(bytes_field(3, &role_ref));
        let value = decode("RoleBinding", &envelope("RoleBinding", &binding)).expect("decoded");
        assert_eq!(
            value,
            json!({
                "metadata": {"name": "read"},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            })
        );
    }

    #[test]
    fn a_body_without_the_magic_or_cut_short_is_refused() {
        assert!(decode("Namespace", b"{}").is_err());
        let mut cut = envelope("Namespace", &bytes_field(1, &bytes_field(1, b"x")));
        cut.truncate(cut.len() - 2);
        assert!(decode("Namespace", &cut).is_err());
    }
}
