//! Runbook errors that point at the source: `file:line:col`, the offending line and a
//! caret under the part that is wrong, in the style of rustc and `just`.

use std::fmt;

use crate::yaml::Pos;

/// One problem found in a runbook, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub message: String,
    pub pos: Pos,
    /// How many characters to underline (at least 1).
    pub width: usize,
    /// A hint such as "did you mean `submit-job`?".
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, pos: Pos, width: usize) -> Self {
        Diagnostic {
            message: message.into(),
            pos,
            width: width.max(1),
            help: None,
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Renders the diagnostic against the file it came from.
    pub fn render(&self, file: &str, source: &str) -> String {
        Rendered {
            diagnostic: self,
            file,
            source,
        }
        .to_string()
    }
}

struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    file: &'a str,
    source: &'a str,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnostic;
        writeln!(f, "error: {}", d.message)?;
        writeln!(f, " --> {}:{}:{}", self.file, d.pos.line, d.pos.col)?;
        let line_text = self.source.lines().nth(d.pos.line.saturating_sub(1));
        let number = d.pos.line.to_string();
        let gutter = " ".repeat(number.len());
        if let Some(text) = line_text {
            let text = text.trim_end();
            let available = text.chars().count().saturating_sub(d.pos.col - 1).max(1);
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{number} | {text}")?;
            writeln!(
                f,
                "{gutter} | {}{}",
                " ".repeat(d.pos.col.saturating_sub(1)),
                "^".repeat(d.width.min(available))
            )?;
        }
        if let Some(help) = &d.help {
            writeln!(f, "{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `unknown`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(unknown, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_source_and_caret() {
        let source = "steps:\n  - id: a\n    actoin: log\n";
        let d = Diagnostic::new("unknown field `actoin`", Pos { line: 3, col: 5 }, 6)
            .with_help(Some("did you mean `action`?".into()));
        assert_eq!(
            d.render("x.yaml", source),
            "error: unknown field `actoin`\n --> x.yaml:3:5\n  |\n3 |     actoin: log\n  |     ^^^^^^\n  = help: did you mean `action`?\n"
        );
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(
            did_you_mean("submit-jbo", ["submit-job", "log"]),
            Some("did you mean `submit-job`?".into())
        );
        assert_eq!(did_you_mean("zzz", ["submit-job", "log"]), None);
    }
}
