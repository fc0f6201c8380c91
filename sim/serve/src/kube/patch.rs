//! Patches of stored objects: what `kubectl apply` sends for an object that exists
//! (a strategic merge patch), `kubectl label`/`annotate`, and `kubectl patch` of
//! each `--type`.
//!
//! None of the stored kinds has a list with a merge key (a Role's `rules`, a
//! RoleBinding's `subjects` are replaced whole, as the API's patch strategy for them
//! says), so a strategic merge patch of them merges as a JSON merge patch (RFC 7386)
//! does, less its `$` directives (`$setElementOrder/...`, `$retainKeys`), which are
//! dropped. A JSON patch (RFC 6902) is a list of operations on JSON pointers.

use serde_json::{Map, Value};

/// `patch` applied to `target`: a JSON patch if it is a list of operations, else a
/// (strategic) merge patch.
pub(crate) fn apply(target: &mut Value, patch: &Value) -> Result<(), String> {
    match patch {
        Value::Array(operations) => operations.iter().try_for_each(|op| operation(target, op)),
        Value::Object(_) => {
            merge(target, patch);
            Ok(())
        }
        _ => Err("the patch is neither a JSON object nor a list of operations".into()),
    }
}

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(fields) = target else {
        return;
    };
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            fields.remove(key);
        } else {
            merge(fields.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// One RFC 6902 operation.
fn operation(target: &mut Value, op: &Value) -> Result<(), String> {
    let field = |name: &str| -> Result<&str, String> {
        op.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("a JSON patch operation without `{name}`: {op}"))
    };
    let path = field("path")?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| format!("a JSON patch operation without `value`: {op}"))
    };
    match field("op")? {
        "add" => add(target, path, value()?),
        "remove" => remove(target, path).map(drop),
        "replace" => {
            remove(target, path)?;
            add(target, path, value()?)
        }
        "move" => {
            let moved = remove(target, field("from")?)?;
            add(target, path, moved)
        }
        "copy" => {
            let copied = target
                .pointer(field("from")?)
                .cloned()
                .ok_or_else(|| format!("no value at {}", field("from").unwrap_or_default()))?;
            add(target, path, copied)
        }
        "test" if target.pointer(path) == Some(&value()?) => Ok(()),
        "test" => Err(format!("the value at {path} is not the one tested")),
        other => Err(format!("unknown JSON patch operation `{other}`")),
    }
}

/// The parent of the JSON pointer `path` and its last token (unescaped).
fn split(path: &str) -> Result<(&str, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("`{path}` is not a JSON pointer"))?;
    Ok((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split(path)?;
    match target.pointer_mut(parent) {
        Some(Value::Object(fields)) => {
            fields.insert(last, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let at = if last == "-" {
                items.len()
            } else {
                last.parse()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| format!("no index {last} in {parent}"))?
            };
            items.insert(at, value);
            Ok(())
        }
        _ => Err(format!("no object or list at {parent}")),
    }
}

fn remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split(path)?;
    let removed = match target.pointer_mut(parent) {
        Some(Value::Object(fields)) => fields.remove(&last),
        Some(Value::Array(items)) => last
            .parse()
            .ok()
            .filter(|i| *i < items.len())
            .map(|i| items.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| format!("no value at {path}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::apply;

    #[test]
    fn a_strategic_merge_patch_merges_maps_and_replaces_lists() {
        let mut role = json!({
            "metadata": {"name": "r", "annotations": {"a": "1", "b": "2"}},
            "rules": [{"verbs": ["get"]}, {"verbs": ["list"]}],
        });
        let patch = json!({
            "metadata": {"annotations": {"a": null, "c": "3"}},
            "rules": [{"verbs": ["watch"]}],
            "$setElementOrder/rules": [{}],
        });
        apply(&mut role, &patch).expect("applied");
        assert_eq!(
            role,
            json!({
                "metadata": {"name": "r", "annotations": {"b": "2", "c": "3"}},
                "rules": [{"verbs": ["watch"]}],
            })
        );
    }

    #[test]
    fn a_json_patch_adds_replaces_and_removes() {
        let mut cm = json!({"data": {"a": "1", "x/y": "2"}, "list": [1, 3]});
        let patch = json!([
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "remove", "path": "/data/x~1y"},
            {"op": "add", "path": "/list/1", "value": 2},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "test", "path": "/data/a", "value": "10"},
        ]);
        apply(&mut cm, &patch).expect("applied");
        assert_eq!(cm, json!({"data": {"a": "10"}, "list": [1, 2, 3, 4]}));
        let failed = apply(&mut cm, &json!([{"op": "remove", "path": "/data/nope"}]));
        assert!(failed.is_err());
        assert!(apply(&mut cm, &json!("x")).is_err());
    }
}
