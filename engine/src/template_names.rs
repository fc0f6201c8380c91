//! The filters and tests a template applies, checked before anything runs.
//!
//! minijinja looks a filter up only when a render reaches it, so `{{ x | uper }}`
//! compiles, and a runbook that misspells a filter fails at that step, after the
//! cluster was made. `validate` (and `run`, which validates first) find every
//! `| name` and `is [not] name` in a template's tokens and ask the engine's
//! environment whether it has that filter or test.

use std::collections::BTreeMap;

use minijinja::machinery::{Token, WhitespaceConfig, tokenize};
use minijinja::{Environment, ErrorKind};

/// A filter or test a template names that the environment does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// `filter` or `test`.
    pub kind: &'static str,
    pub name: String,
    /// Where the name starts: its byte offset in the template text.
    pub offset: usize,
}

/// The filters `runbook` templates have (minijinja's built-ins), for did-you-mean
/// suggestions; a unit test keeps each known to the environment.
pub const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "zip",
];

/// The tests `runbook` templates have, for suggestions.
pub const TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "escaped",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Every filter and test `text` applies that `env` does not have, in order. A text
/// that does not tokenize is left to the compiler, which reports it.
pub fn unknown_names(env: &Environment<'_>, text: &str) -> Vec<UnknownName> {
    let Ok(tokens) = tokenize(text, false, Default::default(), WhitespaceConfig::default())
        .collect::<Result<Vec<_>, _>>()
    else {
        return Vec::new();
    };
    let mut known: BTreeMap<(&'static str, String), bool> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (i, (token, _)) in tokens.iter().enumerate() {
        let named = match token {
            Token::Pipe => name_at(&tokens, i + 1).map(|at| ("filter", at)),
            Token::Ident("is") => {
                let at = match tokens.get(i + 1) {
                    Some((Token::Ident("not"), _)) => i + 2,
                    _ => i + 1,
                };
                name_at(&tokens, at).map(|at| ("test", at))
            }
            _ => None,
        };
        let Some((kind, at)) = named else {
            continue;
        };
        let (Token::Ident(name), span) = &tokens[at] else {
            continue;
        };
        let exists = *known
            .entry((kind, (*name).to_string()))
            .or_insert_with(|| has(env, kind, name));
        if !exists {
            unknown.push(UnknownName {
                kind,
                name: (*name).to_string(),
                offset: span.start_offset as usize,
            });
        }
    }
    unknown
}

/// The index of an identifier token at `at`, if that is one.
fn name_at(tokens: &[(Token<'_>, minijinja::machinery::Span)], at: usize) -> Option<usize> {
    matches!(tokens.get(at), Some((Token::Ident(_), _))).then_some(at)
}

/// Whether `env` has the filter or test `name`: applying it to nothing fails with
/// "unknown filter"/"unknown test" only if it does not exist.
fn has(env: &Environment<'_>, kind: &str, name: &str) -> bool {
    let probe = match kind {
        "filter" => format!("none | {name}"),
        _ => format!("none is {name}"),
    };
    let missing = match kind {
        "filter" => ErrorKind::UnknownFilter,
        _ => ErrorKind::UnknownTest,
    };
    match env.compile_expression(&probe) {
        Ok(expr) => !matches!(expr.eval(()), Err(e) if e.kind() == missing),
        Err(e) => e.kind() != missing,
    }
}

#[cfg(test)]
mod tests {
    use super::{FILTERS, TESTS, UnknownName, has, unknown_names};
    use crate::template::environment;

    #[test]
    fn the_suggested_names_are_the_environments() {
        for name in FILTERS {
            assert!(has(environment(), "filter", name), "filter {name}");
        }
        for name in TESTS {
            assert!(has(environment(), "test", name), "test {name}");
        }
        assert!(!has(environment(), "filter", "uper"));
        assert!(!has(environment(), "test", "evn"));
    }

    /// The README's format section lists every filter and test a template can use.
    #[test]
    fn the_readme_lists_the_filters_and_tests() {
        let readme = include_str!("../../README.md");
        for name in FILTERS.iter().chain(TESTS) {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README lacks `{name}`"
            );
        }
    }

    #[test]
    fn misspelt_filters_and_tests_are_found_where_they_are() {
        let text =
            "{{ params.name | uper }}-{% if x is not evn %}{{ y | lower | tojsn }}{% endif %}";
        assert_eq!(
            unknown_names(environment(), text),
            [
                UnknownName {
                    kind: "filter",
                    name: "uper".into(),
                    offset: 17
                },
                UnknownName {
                    kind: "test",
                    name: "evn".into(),
                    offset: 40
                },
                UnknownName {
                    kind: "filter",
                    name: "tojsn".into(),
                    offset: 61
                },
            ]
        );
    }

    #[test]
    fn names_inside_strings_and_known_ones_are_not_flagged() {
        let text = r#"{{ "a | uper" ~ params.x | upper }}{% if y is defined %}ok{% endif %}"#;
        assert!(unknown_names(environment(), text).is_empty());
    }
}
