//! Label and field selectors (`-l spark-role=executor`, `--field-selector
//! spec.nodeName=...`), as the API server parses them.

use std::collections::BTreeMap;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selector(Vec<Requirement>);

impl Selector {
    /// A label selector: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`,
    /// `!k`, separated by commas.
    pub(crate) fn labels(text: &str) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(label_requirement(part)?);
        }
        Ok(Selector(requirements))
    }

    /// A field selector: `k=v`, `k==v`, `k!=v`, separated by commas.
    pub(crate) fn fields(text: &str) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let requirement = if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                ));
            };
            requirements.push(requirement);
        }
        Ok(Selector(requirements))
    }

    /// The field names a field selector reads.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|r| match r {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::DoesNotExist(k) => k.as_str(),
        })
    }

    /// Whether the selector has no requirement (everything satisfies it).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `values` (labels, or fields) satisfy every requirement.
    pub(crate) fn matches<K: std::borrow::Borrow<str> + Ord, V: AsRef<str>>(
        &self,
        values: &BTreeMap<K, V>,
    ) -> bool {
        let value = |k: &String| values.get(k.as_str()).map(AsRef::as_ref);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => value(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => value(k) != Some(v.as_str()),
            Requirement::In(k, vs) => value(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => value(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => values.contains_key(k.as_str()),
            Requirement::DoesNotExist(k) => !values.contains_key(k.as_str()),
        })
    }
}

/// Splits on the commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn label_requirement(part: &str) -> Result<Requirement, String> {
    let bad =
        || format!("unable to parse requirement: found '{part}', expected: valid label selector");
    if let Some(key) = part.strip_prefix('!') {
        return valid_key(key.trim())
            .map(|k| Requirement::DoesNotExist(k.into()))
            .ok_or_else(bad);
    }
    for (word, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((key, rest)) = part.split_once(word) {
            let key = valid_key(key.trim()).ok_or_else(bad)?;
            let list = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(bad)?;
            let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            return Ok(if negated {
                Requirement::NotIn(key.into(), values)
            } else {
                Requirement::In(key.into(), values)
            });
        }
    }
    if let Some((k, v)) = part.split_once("!=") {
        let key = valid_key(k.trim()).ok_or_else(bad)?;
        return Ok(Requirement::NotEquals(key.into(), v.trim().into()));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        let key = valid_key(k.trim()).ok_or_else(bad)?;
        return Ok(Requirement::Equals(key.into(), v.trim().into()));
    }
    valid_key(part)
        .map(|k| Requirement::Exists(k.into()))
        .ok_or_else(bad)
}

/// A label key: an optional DNS prefix and `/`, then a name of letters, digits,
/// `-`, `_` and `.`.
fn valid_key(key: &str) -> Option<&str> {
    let name = key.rsplit('/').next()?;
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors_read_every_form() {
        let pod = labels(&[("spark-role", "executor"), ("spark-exec-id", "2")]);
        let holds = |s: &str| Selector::labels(s).expect(s).matches(&pod);
        assert!(holds("spark-role=executor"));
        assert!(holds("spark-role==executor,spark-exec-id=2"));
        assert!(!holds("spark-role=driver"));
        assert!(holds("spark-role!=driver"));
        assert!(holds("spark-exec-id in (1, 2)"));
        assert!(!holds("spark-exec-id notin (1,2)"));
        assert!(holds("spark-role"));
        assert!(holds("!emr-containers.amazonaws.com/job.id"));
        assert!(!holds("spark-role,!spark-exec-id"));
        assert!(holds(""));
    }

    #[test]
    fn a_bad_label_selector_is_refused() {
        for bad in ["a b=c", "x in 1,2", "=v", "!"] {
            assert!(Selector::labels(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selectors_compare_values() {
        let fields = BTreeMap::from([
            ("metadata.name", "p".to_string()),
            ("spec.nodeName", "n1".to_string()),
        ]);
        assert!(
            Selector::fields("metadata.name=p,spec.nodeName!=n2")
                .expect("ok")
                .matches(&fields)
        );
        assert!(
            !Selector::fields("spec.nodeName==n2")
                .expect("ok")
                .matches(&fields)
        );
        assert!(Selector::fields("nonsense").is_err());
    }
}
