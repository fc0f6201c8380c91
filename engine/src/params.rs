//! Parameters: declared defaults, `--set key=value` overrides converted to the declared
//! type, required and secret parameters.

use serde_json::{Map, Value};

use crate::diagnostic::did_you_mean;
use crate::masker::{self, Masker};
use crate::runbook::{ParamDef, ParamType};

/// The parameters of a run, with the real values of secrets (never stored).
#[derive(Debug, Clone, Default)]
pub struct ResolvedParams {
    pub values: Map<String, Value>,
    /// Names of the parameters marked `secret`.
    pub secret_names: Vec<String>,
}

impl ResolvedParams {
    /// The values as they may be stored and printed: secrets replaced by `***`.
    pub fn masked(&self) -> Value {
        Value::Object(
            self.values
                .iter()
                .map(|(k, v)| {
                    let shown = if self.secret_names.contains(k) {
                        Value::from(masker::MASK)
                    } else {
                        v.clone()
                    };
                    (k.clone(), shown)
                })
                .collect(),
        )
    }

    /// A masker that hides every secret of the run wherever it appears: the values of
    /// secret params (each string and number inside a list or map one too) and of the
    /// environment variables whose names look secret (see [`masker::secret_env_values`]).
    pub fn masker(&self) -> Masker {
        let mut secrets = Vec::new();
        for name in &self.secret_names {
            if let Some(value) = self.values.get(name) {
                scalars(value, &mut secrets);
            }
        }
        secrets.extend(masker::secret_env_values(std::env::vars_os()));
        Masker::new(secrets)
    }
}

/// The strings and numbers in a value, as text (booleans and null reveal nothing).
fn scalars(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| scalars(v, out)),
        Value::Object(map) => map.values().for_each(|v| scalars(v, out)),
        Value::Null | Value::Bool(_) => {}
    }
}

/// A problem with the parameters given on the command line.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParamError {
    #[error("`--set {0}` must have the form key=value")]
    Malformed(String),
    #[error("unknown parameter `{name}`{}", help.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    Unknown { name: String, help: Option<String> },
    #[error("parameter `{name}` must be {expected}: {problem}")]
    WrongType {
        name: String,
        expected: &'static str,
        problem: String,
    },
    #[error("missing required parameter `{name}`{}; pass it with --set {name}=...", description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Missing {
        name: String,
        description: Option<String>,
    },
    #[error(
        "parameter `{0}` is secret and was not stored with the run; pass it again with --set {0}=..."
    )]
    SecretNotStored(String),
}

/// Parses `key=value` arguments.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, ParamError> {
    sets.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| ParamError::Malformed(s.clone()))
        })
        .collect()
}

/// Resolves every declared parameter: `--set` value, else the stored value of a resumed
/// run, else the default.
pub fn resolve(
    defs: &[ParamDef],
    sets: &[(String, String)],
    stored: Option<&Value>,
) -> Result<ResolvedParams, ParamError> {
    for (name, _) in sets {
        if !defs.iter().any(|d| &d.name == name) {
            return Err(ParamError::Unknown {
                name: name.clone(),
                help: did_you_mean(name, defs.iter().map(|d| d.name.as_str())),
            });
        }
    }
    let mut resolved = ResolvedParams::default();
    for def in defs {
        if def.secret {
            resolved.secret_names.push(def.name.clone());
        }
        let given = sets
            .iter()
            .rev()
            .find(|(k, _)| k == &def.name)
            .map(|(_, v)| v);
        let value = match given {
            Some(text) => convert(def, text)?,
            None => match stored.and_then(|s| s.get(&def.name)) {
                Some(_) if def.secret => match &def.default {
                    Some(d) => d.clone(),
                    None => return Err(ParamError::SecretNotStored(def.name.clone())),
                },
                Some(v) => v.clone(),
                None => match &def.default {
                    Some(d) => d.clone(),
                    None if def.required => {
                        return Err(ParamError::Missing {
                            name: def.name.clone(),
                            description: def.description.clone(),
                        });
                    }
                    None => Value::Null,
                },
            },
        };
        resolved.values.insert(def.name.clone(), value);
    }
    Ok(resolved)
}

fn convert(def: &ParamDef, text: &str) -> Result<Value, ParamError> {
    let wrong = |expected: &'static str, problem: String| ParamError::WrongType {
        name: def.name.clone(),
        expected,
        problem,
    };
    match def.ty {
        ParamType::String => Ok(Value::String(text.to_string())),
        ParamType::Integer => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| wrong("an integer", format!("`{text}` is not one"))),
        ParamType::Number => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| wrong("a number", format!("`{text}` is not one"))),
        ParamType::Boolean => match text.trim() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(wrong("a boolean", format!("`{text}` is not true or false"))),
        },
        ParamType::List | ParamType::Map => {
            let expected = if def.ty == ParamType::List {
                "a list such as [a, b]"
            } else {
                "a map such as {k: v}"
            };
            let node = crate::yaml::parse(text).map_err(|e| wrong(expected, e.message))?;
            let value = node.to_json();
            if def.ty.accepts(&value) {
                Ok(value)
            } else {
                Err(wrong(expected, format!("`{text}` is {}", node.type_name())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Pos;

    fn def(name: &str, ty: ParamType) -> ParamDef {
        ParamDef {
            name: name.into(),
            ty,
            default: None,
            required: false,
            secret: false,
            description: None,
            pos: Pos::default(),
        }
    }

    #[test]
    fn sets_are_converted_to_the_declared_type() {
        let defs = vec![
            def("n", ParamType::Integer),
            def("l", ParamType::List),
            def("b", ParamType::Boolean),
        ];
        let sets =
            parse_sets(&["n=3".into(), "l=[a, b]".into(), "b=true".into()]).expect("well formed");
        let r = resolve(&defs, &sets, None).expect("valid");
        assert_eq!(r.values["n"], Value::from(3));
        assert_eq!(r.values["l"], serde_json::json!(["a", "b"]));
        assert_eq!(r.values["b"], Value::Bool(true));
    }

    #[test]
    fn wrong_types_unknown_and_missing_params_are_errors() {
        let mut required = def("account_id", ParamType::String);
        required.required = true;
        let defs = vec![def("n", ParamType::Integer), required];
        let sets = parse_sets(&["n=three".into()]).expect("well formed");
        assert!(matches!(
            resolve(&defs, &sets, None),
            Err(ParamError::WrongType { .. })
        ));
        let sets = parse_sets(&["nn=3".into()]).expect("well formed");
        let err = resolve(&defs, &sets, None).expect_err("unknown");
        assert_eq!(err.to_string(), "unknown parameter `nn`; did you mean `n`?");
        let err = resolve(&defs, &[], None).expect_err("missing");
        assert!(matches!(err, ParamError::Missing { .. }));
        assert!(parse_sets(&["novalue".into()]).is_err());
    }

    #[test]
    fn secrets_are_masked_and_must_be_given_again_on_resume() {
        let mut secret = def("token", ParamType::String);
        secret.secret = true;
        let defs = vec![secret];
        let sets = parse_sets(&["token=hunter2".into()]).expect("well formed");
        let r = resolve(&defs, &sets, None).expect("valid");
        assert_eq!(r.masked(), serde_json::json!({"token": "***"}));
        assert_eq!(r.masker().text("Bearer hunter2!"), "Bearer ***!");
        let stored = r.masked();
        assert_eq!(
            resolve(&defs, &[], Some(&stored)).expect_err("not stored"),
            ParamError::SecretNotStored("token".into())
        );
    }
}
