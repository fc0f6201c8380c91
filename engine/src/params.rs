//! Parameters: declared defaults, `--set key=value` overrides converted to the declared
//! type, required and secret parameters.

use std::collections::BTreeMap;
use std::fmt;

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
    /// Where each value came from, for messages about a value that does not fit.
    pub origins: BTreeMap<String, ParamOrigin>,
}

/// Where a parameter's value came from: a message about a bad value says so, since
/// the fix is made there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamOrigin {
    /// `--set name=value`, as given.
    Set(String),
    /// Stored with the run being resumed (from its first invocation).
    Stored,
    /// The runbook's `default:`.
    Default,
    /// Neither given nor defaulted: `null`.
    Unset,
    /// Given by the `runbook` step (by its key) that includes the runbook.
    Included(String),
    /// Given in the `--params-file` (by its path as given).
    File(String),
}

impl fmt::Display for ParamOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamOrigin::Set(arg) => write!(f, "set by --set {arg}"),
            ParamOrigin::Stored => write!(f, "stored with the run when it started"),
            ParamOrigin::Default => write!(f, "its default in the runbook"),
            ParamOrigin::Unset => write!(f, "not set, and without a default"),
            ParamOrigin::File(path) => write!(f, "set in --params-file {path}"),
            ParamOrigin::Included(step) => {
                write!(f, "given by step `{step}`, which includes the runbook")
            }
        }
    }
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
    /// The value is not repeated: it may be a secret under a mistyped name.
    #[error("unknown parameter `{name}` given with --set{}", help.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    Unknown { name: String, help: Option<String> },
    #[error("parameter `{name}` must be {expected}: {problem} (set by --set {name}={value})")]
    WrongType {
        name: String,
        value: String,
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
    #[error("cannot read --params-file {path}: {reason}")]
    FileUnreadable { path: String, reason: String },
    #[error("unknown parameter `{name}` in --params-file {path}{}", help.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnknownInFile {
        name: String,
        path: String,
        help: Option<String>,
    },
    #[error("parameter `{name}` in --params-file {path} must be {expected}: {problem}")]
    WrongTypeInFile {
        name: String,
        path: String,
        expected: &'static str,
        problem: String,
    },
}

/// The parameters of a `--params-file`: a YAML (or JSON) mapping of names to values.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamsFile {
    /// The path as given, for messages.
    pub path: String,
    pub values: Map<String, Value>,
}

impl ParamsFile {
    /// Reads a params file. YAML is a superset of JSON, so one parser reads both.
    pub fn read(path: &std::path::Path) -> Result<ParamsFile, ParamError> {
        let shown = path.display().to_string();
        let unreadable = |reason: String| ParamError::FileUnreadable {
            path: shown.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let node = crate::yaml::parse(&text).map_err(|e| {
            unreadable(format!(
                "invalid YAML at line {}, column {}: {}",
                e.pos.line, e.pos.col, e.message
            ))
        })?;
        match node.to_json() {
            Value::Object(values) => Ok(ParamsFile {
                path: shown,
                values,
            }),
            Value::Null => Ok(ParamsFile {
                path: shown,
                values: Map::new(),
            }),
            other => Err(unreadable(format!(
                "it must be a mapping of parameter names to values, not {}",
                crate::template::json_type_name(&other)
            ))),
        }
    }

    /// The value the file gives `def`, typed as `def` declares: text where another
    /// type is declared is converted as `--set` would convert it.
    fn value_of(&self, def: &ParamDef) -> Option<Result<Value, ParamError>> {
        let value = self.values.get(&def.name)?;
        let wrong = |problem: String| ParamError::WrongTypeInFile {
            name: def.name.clone(),
            path: self.path.clone(),
            expected: def.ty.as_str(),
            problem: if def.secret {
                "the value given is not one".into()
            } else {
                problem
            },
        };
        Some(match value {
            Value::String(text) if def.ty != ParamType::String => {
                convert(def, text).map_err(|e| match e {
                    ParamError::WrongType { problem, .. } => wrong(problem),
                    other => other,
                })
            }
            v if def.ty.accepts(v) || v.is_null() => Ok(v.clone()),
            // An integer is a number too, and any scalar can be a string.
            Value::Number(n) if def.ty == ParamType::String => Ok(Value::String(n.to_string())),
            Value::Bool(b) if def.ty == ParamType::String => Ok(Value::String(b.to_string())),
            v => Err(wrong(format!(
                "it is {}",
                crate::template::json_type_name(v)
            ))),
        })
    }
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
    resolve_with_file(defs, sets, None, stored)
}

/// [`resolve`] with a `--params-file`: a `--set` value wins over the file's, which wins
/// over the stored value and the default.
pub fn resolve_with_file(
    defs: &[ParamDef],
    sets: &[(String, String)],
    file: Option<&ParamsFile>,
    stored: Option<&Value>,
) -> Result<ResolvedParams, ParamError> {
    if let Some(file) = file {
        for name in file.values.keys() {
            if !defs.iter().any(|d| &d.name == name) {
                return Err(ParamError::UnknownInFile {
                    name: name.clone(),
                    path: file.path.clone(),
                    help: did_you_mean(name, defs.iter().map(|d| d.name.as_str())),
                });
            }
        }
    }
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
        let from_file = file.and_then(|f| f.value_of(def).map(|v| (v, &f.path)));
        let (value, origin) = match (given, from_file) {
            (Some(text), _) => (
                convert(def, text)?,
                ParamOrigin::Set(format!("{}={}", def.name, shown(def, text))),
            ),
            (None, Some((value, path))) => (value?, ParamOrigin::File(path.clone())),
            (None, None) => match stored.and_then(|s| s.get(&def.name)) {
                Some(_) if def.secret => match &def.default {
                    Some(d) => (d.clone(), ParamOrigin::Default),
                    None => return Err(ParamError::SecretNotStored(def.name.clone())),
                },
                Some(v) => (v.clone(), ParamOrigin::Stored),
                None => match &def.default {
                    Some(d) => (d.clone(), ParamOrigin::Default),
                    None if def.required => {
                        return Err(ParamError::Missing {
                            name: def.name.clone(),
                            description: def.description.clone(),
                        });
                    }
                    None => (Value::Null, ParamOrigin::Unset),
                },
            },
        };
        resolved.origins.insert(def.name.clone(), origin);
        resolved.values.insert(def.name.clone(), value);
    }
    Ok(resolved)
}

/// Resolves the parameters of a runbook that step `step` includes, from the values
/// the step gives (rendered, so typed): a given value, else the default. Text given
/// where another type is declared is converted as `--set` would convert it.
pub fn resolve_included(
    defs: &[ParamDef],
    given: &Map<String, Value>,
    step: &str,
) -> Result<ResolvedParams, IncludedParamError> {
    let mut resolved = ResolvedParams::default();
    for def in defs {
        if def.secret {
            resolved.secret_names.push(def.name.clone());
        }
        let (value, origin) = match given.get(&def.name) {
            Some(Value::String(text)) if def.ty != ParamType::String => (
                convert(def, text)
                    .map_err(|e| IncludedParamError::new(def, step, e.to_string()))?,
                ParamOrigin::Included(step.to_string()),
            ),
            Some(value) if def.ty.accepts(value) || value.is_null() => {
                (value.clone(), ParamOrigin::Included(step.to_string()))
            }
            Some(value) => {
                let problem = format!("it is {}", crate::template::json_type_name(value));
                return Err(IncludedParamError::new(def, step, problem));
            }
            None => match &def.default {
                Some(d) => (d.clone(), ParamOrigin::Default),
                None if def.required => {
                    return Err(IncludedParamError::new(
                        def,
                        step,
                        "it is required and not given".into(),
                    ));
                }
                None => (Value::Null, ParamOrigin::Unset),
            },
        };
        resolved.origins.insert(def.name.clone(), origin);
        resolved.values.insert(def.name.clone(), value);
    }
    Ok(resolved)
}

/// A parameter value a `runbook` step gives that the included runbook cannot take.
#[derive(Debug, thiserror::Error)]
#[error("parameter `{name}` ({expected}) given by step `{step}` does not fit: {problem}")]
pub struct IncludedParamError {
    name: String,
    expected: &'static str,
    step: String,
    problem: String,
}

impl IncludedParamError {
    fn new(def: &ParamDef, step: &str, problem: String) -> Self {
        IncludedParamError {
            name: def.name.clone(),
            expected: def.ty.as_str(),
            step: step.to_string(),
            problem: if def.secret {
                "the value given is not one".into()
            } else {
                problem
            },
        }
    }
}

/// A `--set` value as messages may show it: `***` for a secret.
fn shown<'a>(def: &ParamDef, text: &'a str) -> &'a str {
    if def.secret { "***" } else { text }
}

fn convert(def: &ParamDef, text: &str) -> Result<Value, ParamError> {
    let wrong = |expected: &'static str, problem: String| ParamError::WrongType {
        name: def.name.clone(),
        value: shown(def, text).to_string(),
        expected,
        problem: if def.secret {
            "the value given is not one".into()
        } else {
            problem
        },
    };
    match def.ty {
        ParamType::String => Ok(Value::String(text.to_string())),
        ParamType::Integer => text.trim().parse::<i64>().map(Value::from).map_err(|e| {
            let problem = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    format!("`{text}` is out of range ({} to {})", i64::MIN, i64::MAX)
                }
                _ => format!("`{text}` is not one"),
            };
            wrong("an integer", problem)
        }),
        ParamType::Number => match text.trim().parse::<f64>() {
            Ok(n) => serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| wrong("a number", format!("`{text}` is not a finite number"))),
            Err(_) => Err(wrong("a number", format!("`{text}` is not one"))),
        },
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
        assert_eq!(r.origins["n"], ParamOrigin::Set("n=3".into()));
    }

    #[test]
    fn every_conversion_error_names_the_param_and_the_set_it_came_from() {
        let defs = vec![
            def("n", ParamType::Integer),
            def("x", ParamType::Number),
            def("b", ParamType::Boolean),
            def("l", ParamType::List),
        ];
        for (set, expected) in [
            (
                "n=99999999999999999999",
                "parameter `n` must be an integer: `99999999999999999999` is out of range (-9223372036854775808 to 9223372036854775807) (set by --set n=99999999999999999999)",
            ),
            (
                "n=1.5",
                "parameter `n` must be an integer: `1.5` is not one (set by --set n=1.5)",
            ),
            (
                "x=1e400",
                "parameter `x` must be a number: `1e400` is not a finite number (set by --set x=1e400)",
            ),
            (
                "x=NaN",
                "parameter `x` must be a number: `NaN` is not a finite number (set by --set x=NaN)",
            ),
            (
                "b=maybe",
                "parameter `b` must be a boolean: `maybe` is not true or false (set by --set b=maybe)",
            ),
            (
                "l=3",
                "parameter `l` must be a list such as [a, b]: `3` is an integer (set by --set l=3)",
            ),
        ] {
            let sets = parse_sets(&[set.into()]).expect("well formed");
            let err = resolve(&defs, &sets, None).expect_err(set);
            assert_eq!(err.to_string(), expected);
        }
    }

    #[test]
    fn origins_say_where_each_value_came_from() {
        let mut with_default = def("d", ParamType::Integer);
        with_default.default = Some(Value::from(2));
        let defs = vec![
            with_default,
            def("s", ParamType::Integer),
            def("u", ParamType::String),
        ];
        let stored = serde_json::json!({"s": 7});
        let r = resolve(&defs, &[], Some(&stored)).expect("valid");
        assert_eq!(r.origins["d"], ParamOrigin::Default);
        assert_eq!(r.origins["s"], ParamOrigin::Stored);
        assert_eq!(r.origins["u"], ParamOrigin::Unset);
        assert_eq!(
            ParamOrigin::Set("n=-1".into()).to_string(),
            "set by --set n=-1"
        );
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
        assert_eq!(
            err.to_string(),
            "unknown parameter `nn` given with --set; did you mean `n`?"
        );
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
        assert_eq!(r.origins["token"], ParamOrigin::Set("token=***".into()));
        let mut pin = def("pin", ParamType::Integer);
        pin.secret = true;
        let sets = parse_sets(&["pin=12x34".into()]).expect("well formed");
        assert_eq!(
            resolve(&[pin], &sets, None)
                .expect_err("not an integer")
                .to_string(),
            "parameter `pin` must be an integer: the value given is not one (set by --set pin=***)"
        );
        let stored = r.masked();
        assert_eq!(
            resolve(&defs, &[], Some(&stored)).expect_err("not stored"),
            ParamError::SecretNotStored("token".into())
        );
    }

    fn params_file(yaml: &str) -> ParamsFile {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("params.yaml");
        std::fs::write(&path, yaml).expect("write");
        let mut file = ParamsFile::read(&path).expect("a valid params file");
        file.path = "params.yaml".into();
        file
    }

    #[test]
    fn a_params_file_gives_typed_values_and_set_wins_over_it() {
        let defs = vec![
            def("n", ParamType::Integer),
            def("l", ParamType::List),
            def("s", ParamType::String),
            def("d", ParamType::Integer),
        ];
        let file = params_file("n: 3\nl: [a, b]\ns: 42\nd: '7'\n");
        let sets = parse_sets(&["n=5".into()]).expect("well formed");
        let r = resolve_with_file(&defs, &sets, Some(&file), None).expect("valid");
        assert_eq!(r.values["n"], Value::from(5), "--set wins");
        assert_eq!(r.values["l"], serde_json::json!(["a", "b"]));
        assert_eq!(
            r.values["s"],
            Value::from("42"),
            "a number is text for a string"
        );
        assert_eq!(
            r.values["d"],
            Value::from(7),
            "text is converted as --set would"
        );
        assert_eq!(r.origins["l"], ParamOrigin::File("params.yaml".into()));
        assert_eq!(
            r.origins["l"].to_string(),
            "set in --params-file params.yaml"
        );
    }

    #[test]
    fn a_params_file_with_unknown_names_or_wrong_types_is_refused_with_its_path() {
        let defs = vec![def("nodes", ParamType::Integer)];
        let err = resolve_with_file(&defs, &[], Some(&params_file("node: 2\n")), None)
            .expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown parameter `node` in --params-file params.yaml; did you mean `nodes`?"
        );
        let err = resolve_with_file(&defs, &[], Some(&params_file("nodes: [1]\n")), None)
            .expect_err("a list");
        assert_eq!(
            err.to_string(),
            "parameter `nodes` in --params-file params.yaml must be integer: it is a list"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let list = dir.path().join("list.json");
        std::fs::write(&list, "[1, 2]").expect("write");
        let err = ParamsFile::read(&list).expect_err("not a mapping");
        assert!(
            err.to_string()
                .ends_with("it must be a mapping of parameter names to values, not a list"),
            "{err}"
        );
    }
}
