//! A `when` that reads a value known only when the execution runs, as a Choice state:
//! comparisons of a plain reference (`steps.<id>.outputs.<name>`, `item`) with a
//! literal (`'text'`, a number, `true`/`false`), which Choice rules compare as the
//! template would (text by its characters, numbers as numbers), and whether a step
//! succeeded (`steps.<id>.status == 'succeeded'` or `!=`: its outputs are in the
//! execution's state exactly when it succeeded), joined with `and`, `or`, `not` and
//! parentheses (Choice's And, Or, Not). Anything else has no exact Choice rule and is
//! refused.

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
    let mut rule = condition(when, scope, "this `when`")?;
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

/// The Choice rule (without its `Next`) that holds when the condition `node` does;
/// a refusal names the condition as `what` (`this \`when\``, `this condition`).
pub(crate) fn condition(node: &Node, scope: &Scope<'_>, what: &str) -> Result<Value, Diagnostic> {
    let when = node;
    let refuse = |why: &str| {
        Diagnostic::new(
            format!("{what} is not exported: {why}"),
            when.pos,
            when.width(),
        )
    };
    let expr = when
        .as_str()
        .and_then(crate::template::lone_expression)
        .ok_or_else(|| refuse("it is not one `{{ expression }}`"))?;
    let tokens = tokens(expr).map_err(|why| refuse(&why))?;
    let mut parser = Parser {
        tokens: &tokens,
        at: 0,
        when,
        scope,
    };
    let rule = parser.or().map_err(|e| e.into_diagnostic(&refuse))?;
    if parser.at != tokens.len() {
        return Err(refuse(&format!(
            "`{}` is not understood after a complete condition",
            tokens[parser.at].text()
        )));
    }
    Ok(rule)
}

/// One token of a `when` expression.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A name or a dotted path (`steps.job.outputs.state`), or a keyword.
    Word(String),
    /// A number or a quoted text, as written.
    Literal(String),
    Operator(&'static str),
    Open,
    Close,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(text) | Token::Literal(text) => text.clone(),
            Token::Operator(op) => (*op).to_string(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
        }
    }
}

fn tokens(expr: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..].iter().take(2).collect();
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(if c == '(' { Token::Open } else { Token::Close });
            i += 1;
        } else if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            out.push(Token::Operator(op));
            i += op.len();
        } else if c == '\'' || c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| "a quoted text is not closed".to_string())?;
            out.push(Token::Literal(chars[i..i + end + 2].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
            let end = chars[i..]
                .iter()
                .position(|d| !(d.is_ascii_alphanumeric() || matches!(d, '_' | '.' | '-')))
                .map_or(chars.len(), |n| i + n);
            let text: String = chars[i..end].iter().collect();
            let numeric = c.is_ascii_digit() || (c == '-' && text.len() > 1);
            out.push(if numeric {
                Token::Literal(text)
            } else {
                Token::Word(text)
            });
            i = end;
        } else if c == '|' {
            let filter: String = chars[i + 1..]
                .iter()
                .skip_while(|d| d.is_whitespace())
                .take_while(|d| d.is_ascii_alphanumeric() || **d == '_')
                .collect();
            return Err(format!(
                "the filter `{filter}` has no Choice rule; only comparisons of a step output with a literal, joined with and/or/not, do"
            ));
        } else {
            return Err(format!(
                "`{c}` (arithmetic, or an expression of the template language) has no Choice rule; only comparisons of a step output with a literal, joined with and/or/not, do"
            ));
        }
    }
    Ok(out)
}

/// Why a condition is refused: a sentence, or a diagnostic a reference already made.
enum Refused {
    Why(String),
    At(Diagnostic),
}

impl Refused {
    fn into_diagnostic(self, refuse: &dyn Fn(&str) -> Diagnostic) -> Diagnostic {
        match self {
            Refused::Why(why) => refuse(&why),
            Refused::At(diagnostic) => diagnostic,
        }
    }
}

/// Recursive descent over `or` / `and` / `not` / `( )` / comparisons, as the template
/// language binds them (`not` tighter than `and`, `and` than `or`).
struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    when: &'t Node,
    scope: &'t Scope<'t>,
}

impl Parser<'_> {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w == word)
    }

    fn joined(
        &mut self,
        word: &str,
        kind: &str,
        next: fn(&mut Self) -> Result<Value, Refused>,
    ) -> Result<Value, Refused> {
        let mut rules = vec![next(self)?];
        while self.peek_word(word) {
            self.at += 1;
            rules.push(next(self)?);
        }
        Ok(if rules.len() == 1 {
            rules.remove(0)
        } else {
            json!({ kind: rules })
        })
    }

    fn or(&mut self) -> Result<Value, Refused> {
        self.joined("or", "Or", Self::and)
    }

    fn and(&mut self) -> Result<Value, Refused> {
        self.joined("and", "And", Self::not)
    }

    fn not(&mut self) -> Result<Value, Refused> {
        if self.peek_word("not") {
            self.at += 1;
            return Ok(json!({"Not": self.not()?}));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return Err(Refused::Why("a `(` is not closed".into()));
            }
            self.at += 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Value, Refused> {
        let why = "only comparisons (`==`, `!=`, `<`, `<=`, `>`, `>=`) of a step output with a literal, and whether a step succeeded, become a Choice";
        let (Some(Token::Word(left)), Some(Token::Operator(operator)), Some(right)) = (
            self.tokens.get(self.at),
            self.tokens.get(self.at + 1),
            self.tokens.get(self.at + 2),
        ) else {
            return Err(Refused::Why(why.into()));
        };
        self.at += 3;
        let path = plain_path(left).ok_or_else(|| {
            Refused::Why("the left of the comparison must be a plain reference".into())
        })?;
        let literal = match right {
            Token::Literal(text) => literal(text),
            Token::Word(word) if word == "true" || word == "false" => literal(word),
            _ => None,
        }
        .ok_or_else(|| {
            Refused::Why(
                "the right of the comparison must be a text in quotes, a number, true or false"
                    .into(),
            )
        })?;
        if let ["steps", id, "status"] = path.as_slice() {
            return self.succeeded(id, operator, &literal);
        }
        let variable = reference(&path, self.when, self.scope).map_err(Refused::At)?;
        let variable = variable
            .strip_prefix("<\u{1}")
            .and_then(|v| v.strip_suffix('>'))
            .filter(|v| v.starts_with('$'))
            .ok_or_else(|| Refused::Why("the value is not a path of the execution's state".into()))?
            .to_string();
        rule(&variable, operator, &literal)
            .ok_or_else(|| Refused::Why("true and false compare only with `==` and `!=`".into()))
    }

    /// `steps.<id>.status == 'succeeded'` (or `!=`): whether the step's outputs are in
    /// the execution's state, which its last state puts there when it succeeds. A
    /// failed step and a skipped one both have none, so they cannot be told apart.
    fn succeeded(&self, id: &str, operator: &str, literal: &Value) -> Result<Value, Refused> {
        if literal != &json!("succeeded") || !matches!(operator, "==" | "!=") {
            return Err(Refused::Why(format!(
                "`steps.{id}.status` becomes a Choice only compared with 'succeeded' by `==` or `!=`: a failed step and a skipped one both leave no outputs in the execution's state"
            )));
        }
        let kept =
            self.scope.exported.get(id).ok_or_else(|| {
                Refused::Why(format!("step `{id}` is not exported before this step"))
            })?;
        if kept.names.is_empty() {
            return Err(Refused::Why(format!(
                "step `{id}` keeps no outputs in the execution's state (a wait folded into its submit-job's .sync task), so whether it succeeded is not there; export with --integration-style sdk to keep the two apart"
            )));
        }
        let present = json!({"Variable": format!("$.steps.{id}"), "IsPresent": true});
        Ok(if operator == "==" {
            present
        } else {
            json!({"Not": present})
        })
    }
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
            item_known: false,
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
            "this `when` is not exported: the filter `lower` has no Choice rule; only comparisons of a step output with a literal, joined with and/or/not, do"
        );
    }

    #[test]
    fn comparisons_join_with_and_or_not_and_a_step_status_is_whether_its_outputs_are_kept() {
        let mut exported = kept("job", "job_id");
        exported.extend(kept("done", "state"));
        exported.insert(
            "fused".into(),
            crate::export::step_input::KeptOutputs {
                names: Vec::new(),
                list: false,
            },
        );
        let scope = Scope {
            context: minijinja::Value::from_serialize(json!({})),
            in_for_each: false,
            item_known: false,
            exported: &exported,
        };
        let rule = |text: &str| {
            choice(&when(text), &scope, "w".into(), "t")
                .map(|state| state.body["Choices"][0].clone())
        };
        assert_eq!(
            rule("{{ steps.job.status == 'succeeded' and steps.done.status != 'succeeded' }}")
                .expect("a choice"),
            json!({"And": [
                {"Variable": "$.steps.job", "IsPresent": true},
                {"Not": {"Variable": "$.steps.done", "IsPresent": true}},
            ], "Next": "t"})
        );
        assert_eq!(
            rule("{{ not (steps.done.outputs.state == 'FAILED' or steps.done.outputs.state == \"CANCELLED\") and steps.job.outputs.job_id != '' }}")
                .expect("a choice"),
            json!({"And": [
                {"Not": {"Or": [
                    {"Variable": "$.steps.done.state", "StringEquals": "FAILED"},
                    {"Variable": "$.steps.done.state", "StringEquals": "CANCELLED"},
                ]}},
                {"Not": {"Variable": "$.steps.job.job_id", "StringEquals": ""}},
            ], "Next": "t"})
        );
        let refused = |text: &str| rule(text).expect_err("refused").message;
        assert!(
            refused("{{ steps.done.status == 'failed' }}")
                .contains("a failed step and a skipped one both leave no outputs"),
        );
        assert!(
            refused("{{ steps.fused.status == 'succeeded' }}").contains("--integration-style sdk")
        );
        assert!(
            refused("{{ steps.job.outputs.job_id | length > 3 }}").contains("the filter `length`")
        );
        assert!(refused("{{ (steps.done.outputs.state == 'x' }}").contains("a `(` is not closed"));
        assert!(
            refused("{{ steps.done.outputs.state == 'x' steps }}")
                .contains("`steps` is not understood after a complete condition")
        );
    }
}
