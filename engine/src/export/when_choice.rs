//! A `when` that reads a value known only when the execution runs, as a Choice state:
//! exactly one comparison of a plain reference (`steps.<id>.outputs.<name>`, `item`)
//! with a literal (`'text'`, a number, `true`/`false`), which Choice rules compare as
//! the template would (text by its characters, numbers as numbers). Anything else has
//! no exact Choice rule and is refused.

use serde_json::{Map, Value, json};

use super::states::{NEXT_STEP, State};
use super::step_input::{Scope, plain_path, reference};
use crate::diagnostic::Diagnostic;
use crate::yaml::Node;

const OPERATORS: [&str; 6] = ["==", "!=", ">=", "<=", ">", "<"];

/// A Choice going on to `then` when `when` holds, else to the next step.
pub(crate) fn choice(
    when: &Node,
    scope: &Scope<'_>,
    name: String,
    then: &str,
) -> Result<State, Diagnostic> {
    let refuse = |why: &str| {
        Diagnostic::new(
            format!("this `when` is not exported: {why}"),
            when.pos,
            when.width(),
        )
    };
    let expr = when
        .as_str()
        .and_then(crate::template::lone_expression)
        .ok_or_else(|| refuse("it is not one `{{ expression }}`"))?;
    let (left, operator, right) = OPERATORS
        .iter()
        .find_map(|op| {
            let at = expr.find(op)?;
            Some((expr[..at].trim(), *op, expr[at + op.len()..].trim()))
        })
        .ok_or_else(|| refuse("only a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`) of a step output with a literal becomes a Choice"))?;
    let path = plain_path(left)
        .ok_or_else(|| refuse("the left of the comparison must be a plain reference"))?;
    let variable = reference(&path, when, scope)?;
    let variable = variable
        .strip_prefix("<\u{1}")
        .and_then(|v| v.strip_suffix('>'))
        .filter(|v| v.starts_with('$'))
        .ok_or_else(|| refuse("the value is not a path of the execution's state"))?
        .to_string();
    let literal = literal(right).ok_or_else(|| {
        refuse("the right of the comparison must be a text in quotes, a number, true or false")
    })?;
    let rule = rule(&variable, operator, &literal)
        .ok_or_else(|| refuse("true and false compare only with `==` and `!=`"))?;
    let mut rule = rule;
    rule["Next"] = json!(then);
    Ok(State {
        name,
        body: Map::from_iter([
            ("Type".to_string(), json!("Choice")),
            ("Choices".to_string(), json!([rule])),
            ("Default".to_string(), json!(NEXT_STEP)),
        ]),
    })
}

/// A literal of the template language as JSON.
fn literal(text: &str) -> Option<Value> {
    let quoted = |q: char| {
        text.strip_prefix(q)
            .and_then(|t| t.strip_suffix(q))
            .filter(|inner| !inner.contains(q) && !inner.contains('\\'))
    };
    if let Some(inner) = quoted('\'').or_else(|| quoted('"')) {
        return Some(json!(inner));
    }
    match text {
        "true" => return Some(json!(true)),
        "false" => return Some(json!(false)),
        _ => {}
    }
    text.parse::<i64>()
        .map(Value::from)
        .ok()
        .or_else(|| text.parse::<f64>().ok().map(Value::from))
}

/// The Choice rule comparing `variable` with `literal`.
fn rule(variable: &str, operator: &str, literal: &Value) -> Option<Value> {
    let kind = match literal {
        Value::String(_) => "String",
        Value::Number(_) => "Numeric",
        Value::Bool(_) if matches!(operator, "==" | "!=") => "Boolean",
        _ => return None,
    };
    let comparison = match operator {
        "==" | "!=" => "Equals",
        ">" => "GreaterThan",
        ">=" => "GreaterThanEquals",
        "<" => "LessThan",
        _ => "LessThanEquals",
    };
    let test = json!({"Variable": variable, format!("{kind}{comparison}"): literal});
    Some(if operator == "!=" {
        json!({"Not": test})
    } else {
        test
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::step_input::tests::kept;

    fn when(text: &str) -> Node {
        crate::yaml::parse(&format!("when: {text:?}"))
            .expect("yaml")
            .get("when")
            .expect("when")
            .clone()
    }

    #[test]
    fn a_comparison_of_an_output_with_a_literal_is_a_choice() {
        let exported = kept("job", "state");
        let scope = Scope {
            context: minijinja::Value::from_serialize(json!({})),
            in_for_each: false,
            exported: &exported,
        };
        let state = choice(
            &when("{{ steps.job.outputs.state != 'COMPLETED' }}"),
            &scope,
            "report when".into(),
            "report outputs",
        )
        .expect("a choice");
        assert_eq!(
            state.body["Choices"],
            json!([{"Not": {"Variable": "$.steps.job.state", "StringEquals": "COMPLETED"}, "Next": "report outputs"}])
        );
        let refused = choice(
            &when("{{ steps.job.outputs.state | lower == 'x' }}"),
            &scope,
            "w".into(),
            "t",
        )
        .expect_err("a filter");
        assert_eq!(
            refused.message,
            "this `when` is not exported: the left of the comparison must be a plain reference"
        );
    }
}
