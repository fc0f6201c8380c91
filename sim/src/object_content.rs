//! How S3 object bodies are written in snapshots: text as a JSON string, other bytes as
//! an array of byte values. Text is what pod templates and job scripts are, and as a
//! string it is readable in the state DB and visible to the engine's masker, which
//! hides secrets in strings (an array of numbers hides them from a plain-text scan).
//! Both forms are read back, so snapshots written before text became strings restore.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub(crate) fn serialize<S>(
    objects: &BTreeMap<String, Vec<u8>>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
{
    serializer.collect_map(objects.iter().map(|(key, body)| (key, Body(body))))
}

pub(crate) fn deserialize<'de, D>(deserializer: D) -> Result<BTreeMap<String, Vec<u8>>, D::Error>
where
    D: Deserializer<'de>,
{
    let stored: BTreeMap<String, StoredBody> = BTreeMap::deserialize(deserializer)?;
    Ok(stored
        .into_iter()
        .map(|(key, body)| {
            let bytes = match body {
                StoredBody::Text(text) => text.into_bytes(),
                StoredBody::Bytes(bytes) => bytes,
            };
            (key, bytes)
        })
        .collect())
}

/// One body, written as text when it is UTF-8.
struct Body<'a>(&'a [u8]);

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => self.0.serialize(serializer),
        }
    }
}

/// One body as a snapshot holds it.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredBody {
    Text(String),
    Bytes(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::s3::Bucket;

    fn bucket(objects: &[(&str, &[u8])]) -> Bucket {
        Bucket {
            name: "b".into(),
            region: "us-east-2".into(),
            objects: objects
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.to_vec()))
                .collect(),
            created_at_ms: 0,
        }
    }

    #[test]
    fn text_is_a_string_and_other_bytes_an_array_both_round_trip() {
        let b = bucket(&[("t.yaml", b"kind: Pod\n"), ("bin", &[0xff, 0x00, 0x41])]);
        let written = serde_json::to_value(&b).expect("serializes");
        assert_eq!(
            written["objects"],
            json!({"bin": [255, 0, 65], "t.yaml": "kind: Pod\n"})
        );
        let read: Bucket = serde_json::from_value(written).expect("reads back");
        assert_eq!(read, b);
    }

    #[test]
    fn snapshots_with_byte_arrays_still_restore() {
        let old = json!({
            "name": "b",
            "region": "us-east-2",
            "objects": {"t.yaml": [104, 105]},
            "created_at_ms": 0,
        });
        let read: Bucket = serde_json::from_value(old).expect("reads the old form");
        assert_eq!(read, bucket(&[("t.yaml", b"hi")]));
    }
}
