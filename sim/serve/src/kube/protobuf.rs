//! The Kubernetes protobuf encoding, read as far as the served writes need: kubectl's
//! typed clients (`kubectl create namespace`, `kubectl create priorityclass`) send
//! `application/vnd.kubernetes.protobuf` and do not fall back to JSON.
//!
//! A body is the magic `k8s\0` and a `runtime.Unknown` message (field 1 `typeMeta`,
//! field 2 `raw`: the object's own message). Of the object, the fields a created
//! namespace or priority class needs are read into the JSON the API would have been
//! sent: `metadata.name` (ObjectMeta field 1, in the object's field 1), and for a
//! PriorityClass `value` (2), `globalDefault` (3), `description` (4) and
//! `preemptionPolicy` (5), as k8s.io/api/scheduling/v1/generated.proto numbers them.

use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\0";

/// The object in a protobuf body of `kind`, as JSON.
pub(crate) fn decode(kind: &str, body: &[u8]) -> Result<Value, String> {
    let unknown = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the protobuf magic `k8s\\0`")?;
    let raw = fields(unknown)?
        .into_iter()
        .find_map(|(number, value)| match (number, value) {
            (2, Field::Bytes(raw)) => Some(raw),
            _ => None,
        })
        .ok_or("the protobuf envelope has no object (runtime.Unknown field 2)")?;
    let mut object = Map::new();
    for (number, value) in fields(raw)? {
        match (number, value, kind) {
            (1, Field::Bytes(meta), _) => {
                let name = fields(meta)?.into_iter().find_map(|(n, v)| match (n, v) {
                    (1, Field::Bytes(name)) => Some(String::from_utf8_lossy(name).into_owned()),
                    _ => None,
                });
                object.insert("metadata".into(), json!({"name": name}));
            }
            (2, Field::Varint(v), "PriorityClass") => {
                // int32: a negative value is sent as a ten-byte varint of its 64-bit form.
                object.insert("value".into(), json!(v as i64 as i32));
            }
            (3, Field::Varint(v), "PriorityClass") => {
                object.insert("globalDefault".into(), json!(v != 0));
            }
            (4, Field::Bytes(text), "PriorityClass") => {
                object.insert("description".into(), json!(String::from_utf8_lossy(text)));
            }
            (5, Field::Bytes(text), "PriorityClass") => {
                object.insert(
                    "preemptionPolicy".into(),
                    json!(String::from_utf8_lossy(text)),
                );
            }
            _ => {}
        }
    }
    Ok(Value::Object(object))
}

/// A field's value: a varint, or length-delimited bytes (fixed-width fields are
/// skipped: none of the fields read here has one).
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

/// The fields of one message, in order.
fn fields(mut bytes: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let (number, wire) = (key >> 3, key & 7);
        let field = match wire {
            0 => Field::Varint(varint(&mut bytes)?),
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).map_err(|e| e.to_string())?;
                let (value, rest) = bytes
                    .split_at_checked(len)
                    .ok_or("a protobuf field runs past the end of the body")?;
                bytes = rest;
                Field::Bytes(value)
            }
            1 | 5 => {
                let width = if wire == 1 { 8 } else { 4 };
                bytes = bytes
                    .get(width..)
                    .ok_or("a protobuf field runs past the end of the body")?;
                Field::Other
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
    fn a_body_without_the_magic_or_cut_short_is_refused() {
        assert!(decode("Namespace", b"{}").is_err());
        let mut cut = envelope("Namespace", &bytes_field(1, &bytes_field(1, b"x")));
        cut.truncate(cut.len() - 2);
        assert!(decode("Namespace", &cut).is_err());
    }
}
