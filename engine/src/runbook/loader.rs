//! Loading and validating a runbook: every problem is found before anything runs and
//! reported with `file:line:col`, the source line and a caret.

use crate::template_names;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Environment;
use runbook_backend::duration::{duration_from_secs, parse_duration};
use sha2::{Digest, Sha256};

use super::format::{
    DEFAULTS_KEYS, IDENTIFIER_PATTERN, MAX_ATTEMPTS, MAX_PARALLEL, MIN_ATTEMPTS, MIN_BACKOFF,
    MIN_PARALLEL, PARAM_KEYS, RETRY_KEYS, RUNBOOK_KEYS, STEP_KEYS,
};
use super::graph;
use super::include;
use super::model::{ParamDef, ParamType, RetryPolicy, Runbook, StepDef, VarDef};
use super::with_check::{check_with, node_at};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::template::{self, is_template};
use crate::yaml::{self, Node, NodeKind, Pos};

const SCOPES: [&str; 7] = ["params", "vars", "steps", "item", "index", "env", "run"];
const RUN_FIELDS: [&str; 5] = ["id", "started_at", "target", "account_id", "region"];

/// A runbook file, loaded and valid.
pub struct LoadedRunbook {
    /// The path as the user gave it (for messages).
    pub display_path: String,
    /// The canonical path (for matching runs to their runbook).
    pub path: PathBuf,
    pub source: String,
    /// SHA-256 of the file's bytes: a resumed run refuses a changed file.
    pub content_hash: String,
    pub runbook: Runbook,
}

/// Why a runbook could not be loaded: every problem found, renderable with source lines.
#[derive(Debug)]
pub struct LoadError {
    pub file: String,
    pub source_text: String,
    pub diagnostics: Vec<Diagnostic>,
    /// The errors of runbooks this one includes (`action: runbook`), each in its own
    /// file: a diagnostic here points at the `file:` that names it.
    pub included: Vec<LoadError>,
}

impl LoadError {
    /// Every diagnostic with the file and source it is in: this file's, then those of
    /// the runbooks it includes.
    pub fn all(&self) -> Vec<(&str, &str, &Diagnostic)> {
        let mut all: Vec<(&str, &str, &Diagnostic)> = self
            .diagnostics
            .iter()
            .map(|d| (self.file.as_str(), self.source_text.as_str(), d))
            .collect();
        for included in &self.included {
            all.extend(included.all());
        }
        all
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (file, source, d)) in self.all().into_iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", d.render(file, source))?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// The most bytes a runbook file may have: far above any real runbook (the 10,000-step
/// benchmark is under 2 MB), and a guard against `file: /dev/zero` in an include.
const MAX_RUNBOOK_BYTES: u64 = 64 << 20;

/// Reads, parses and validates a runbook file, and the runbooks it includes.
pub fn load_file(path: &Path) -> Result<LoadedRunbook, LoadError> {
    load_file_within(path, &path.display().to_string(), &[])
}

/// [`load_file`] of a file included by the files on `stack` (outermost first), shown
/// in messages as `display_path`.
fn load_file_within(
    path: &Path,
    display_path: &str,
    stack: &[PathBuf],
) -> Result<LoadedRunbook, LoadError> {
    let display_path = display_path.to_string();
    let unreadable = |message: String, line: usize| LoadError {
        file: display_path.clone(),
        source_text: String::new(),
        diagnostics: vec![Diagnostic::new(message, Pos { line, col: 1 }, 1)],
        included: Vec::new(),
    };
    let bytes = read_runbook_bytes(path)
        .map_err(|e| unreadable(format!("failed to read the runbook: {e}"), 0))?;
    let source = String::from_utf8(bytes.clone())
        .map_err(|e| unreadable(format!("the runbook is not UTF-8: {e}"), 1))?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut within = stack.to_vec();
    within.push(canonical.clone());
    let base = Includes {
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        display_dir: Path::new(&display_path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        stack: within,
    };
    let (runbook, included_hashes) =
        load_text(&source, base).map_err(|(diagnostics, included)| LoadError {
            file: display_path.clone(),
            source_text: source.clone(),
            diagnostics,
            included,
        })?;
    // A resumed run refuses a changed file, and an included file is part of it.
    let mut hash = Sha256::digest(&bytes);
    for included in &included_hashes {
        hash = Sha256::new()
            .chain_update(hash)
            .chain_update(included.as_bytes())
            .finalize();
    }
    Ok(LoadedRunbook {
        path: canonical,
        display_path,
        content_hash: hex::encode(hash),
        source,
        runbook,
    })
}

/// A runbook file's bytes, refusing what is not a regular file of a runbook's size.
fn read_runbook_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_RUNBOOK_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes is more than a runbook may have ({MAX_RUNBOOK_BYTES})",
            meta.len()
        )));
    }
    std::fs::read(path)
}

/// Parses and validates runbook text, returning every problem found. A `runbook` step
/// in it names its file relative to the current directory.
pub fn load_str(source: &str) -> Result<Runbook, Vec<Diagnostic>> {
    let base = Includes {
        dir: PathBuf::new(),
        display_dir: PathBuf::new(),
        stack: Vec::new(),
    };
    load_text(source, base)
        .map(|(runbook, _)| runbook)
        .map_err(|(mut diagnostics, included)| {
            // Text has no file to show an included file's errors against: they are told
            // at the `file:` that names it, by their messages.
            for error in included {
                for (file, _, d) in error.all() {
                    diagnostics.push(Diagnostic::new(
                        format!("{file}:{}:{}: {}", d.pos.line, d.pos.col, d.message),
                        d.pos,
                        d.width,
                    ));
                }
            }
            diagnostics
        })
}

/// Where the runbooks a runbook includes are found, and the files including it.
struct Includes {
    /// The directory of the including file: `file:` is relative to it.
    dir: PathBuf,
    /// The same directory as the user named it, for messages.
    display_dir: PathBuf,
    /// The canonical paths of the including files, outermost first, this file last:
    /// including one of them again would be a cycle.
    stack: Vec<PathBuf>,
}

/// `dir` joined with `file`, with each `..` taking back a name before it, as the user
/// would write the path (`runbooks/../lib/x.yaml` is `lib/x.yaml`). Only for messages:
/// the file is read through the real path.
fn lexical_join(dir: &Path, file: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in dir.join(file).components() {
        match part {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A runbook that did not load: its own diagnostics, and the errors of files it
/// includes.
type LoadFailure = (Vec<Diagnostic>, Vec<LoadError>);

/// Parses and validates runbook text; with the content hashes of the files it includes.
fn load_text(source: &str, includes: Includes) -> Result<(Runbook, Vec<String>), LoadFailure> {
    let root = yaml::parse(source).map_err(|e| {
        (
            vec![Diagnostic::new(
                format!("invalid YAML: {}", e.message),
                e.pos,
                1,
            )],
            Vec::new(),
        )
    })?;
    let mut loader = Loader {
        diags: Vec::new(),
        env: template::environment(),
        schemas: BTreeMap::new(),
        includes,
        included_errors: Vec::new(),
        included_hashes: Vec::new(),
        defaults: StepDefaults::default(),
    };
    let runbook = loader.runbook(&root);
    match runbook {
        Some(r) if loader.diags.is_empty() && loader.included_errors.is_empty() => {
            Ok((r, loader.included_hashes))
        }
        _ => {
            let mut diags = loader.diags;
            diags.sort_by_key(|d| d.pos);
            diags.dedup();
            Err((diags, loader.included_errors))
        }
    }
}

struct Loader {
    diags: Vec<Diagnostic>,
    /// Input schemas by action name: generating one is costly, and a runbook uses few
    /// actions many times.
    schemas: BTreeMap<&'static str, serde_json::Value>,
    env: &'static Environment<'static>,
    includes: Includes,
    /// The errors of included runbooks that did not load.
    included_errors: Vec<LoadError>,
    /// The content hashes of the included runbooks, in file order.
    included_hashes: Vec<String>,
    /// The runbook's `defaults:`, for steps that do not say.
    defaults: StepDefaults,
}

/// The runbook's `defaults:` for its steps' `retry` and `timeout`.
#[derive(Default)]
struct StepDefaults {
    retry: Option<RetryPolicy>,
    timeout: Option<std::time::Duration>,
}

/// What templates in one place may refer to.
struct Scope<'a> {
    params: &'a BTreeSet<String>,
    vars: &'a [String],
    /// The steps, and where this place is among them.
    graph: Option<(&'a Graph<'a>, Place)>,
    has_item: bool,
    /// What the place is, for messages: "step `a`", "var `x`".
    place: String,
}

/// Both phases' steps and dependencies.
struct Graph<'a> {
    main: &'a [RawStep<'a>],
    main_deps: &'a [Vec<usize>],
    finally: &'a [RawStep<'a>],
    finally_deps: &'a [Vec<usize>],
    /// False when `needs` form a cycle (reported once): then which step runs before
    /// which is unknown, and no reference is judged by it.
    order_known: bool,
}

/// Where a template is: in a main step or a finally step (by index).
#[derive(Clone, Copy)]
enum Place {
    Main(usize),
    Finally(usize),
}

impl<'a> Graph<'a> {
    fn ids(&self) -> impl Iterator<Item = &str> {
        self.main.iter().chain(self.finally).map(|r| r.id.as_str())
    }

    /// Whether step `name` runs after `at` because it needs it, directly or not: then
    /// `at` cannot be made to need `name` (that would be a cycle).
    fn runs_after(&self, name: &str, at: Place) -> bool {
        let (deps, steps, i) = match at {
            Place::Main(i) => (self.main_deps, self.main, i),
            Place::Finally(i) => (self.finally_deps, self.finally, i),
        };
        steps
            .iter()
            .position(|r| r.id == name)
            .is_some_and(|j| graph::is_ancestor(deps, i, j))
    }

    /// The step called `name`.
    fn step(&self, name: &str) -> Option<&RawStep<'a>> {
        self.main.iter().chain(self.finally).find(|r| r.id == name)
    }

    /// `None` if no step is called `name`; else whether `at` may read it (it always
    /// finishes first). Finally steps may read every main step: its status tells
    /// whether it ran.
    fn visible(&self, name: &str, at: Place) -> Option<bool> {
        let main = self.main.iter().position(|r| r.id == name);
        let finally = self.finally.iter().position(|r| r.id == name);
        match (at, main, finally) {
            (_, None, None) => None,
            _ if !self.order_known => Some(true),
            (Place::Main(i), Some(j), _) => Some(graph::is_ancestor(self.main_deps, j, i)),
            (Place::Main(_), None, Some(_)) => Some(false),
            (Place::Finally(_), Some(_), _) => Some(true),
            (Place::Finally(i), None, Some(j)) => Some(graph::is_ancestor(self.finally_deps, j, i)),
        }
    }
}

impl Loader {
    fn error(&mut self, message: impl Into<String>, node: &Node) {
        self.diags
            .push(Diagnostic::new(message, node.pos, node.width()));
    }

    fn error_help(&mut self, message: impl Into<String>, node: &Node, help: Option<String>) {
        self.diags
            .push(Diagnostic::new(message, node.pos, node.width()).with_help(help));
    }

    /// Reports each key of `map` that is not in `allowed` (a format type's property
    /// names, see `format`).
    fn unknown_keys(&mut self, map: &[(Node, Node)], allowed: &[String], what: &str) {
        for (key, _) in map {
            let name = key.key_text();
            if !allowed.contains(&name) {
                let list = allowed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.diags.push(
                    Diagnostic::new(
                        format!("unknown field `{name}` in {what}, expected one of {list}"),
                        key.pos,
                        name.chars().count(),
                    )
                    .with_help(did_you_mean(&name, allowed.iter().map(String::as_str))),
                );
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    format!("{what} must be a string, not {}", node.type_name()),
                    node,
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> bool {
        match node.kind {
            NodeKind::Bool(b) => b,
            _ => {
                self.error(
                    format!("{what} must be `true` or `false`, not {}", node.type_name()),
                    node,
                );
                false
            }
        }
    }

    fn identifier(&mut self, node: &Node, what: &str) -> Option<String> {
        let name = self.string(node, what)?;
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            let help = Some(format!(
                "use lowercase letters, digits and `_`, e.g. `{}`",
                suggest_identifier(&name)
            ));
            self.error_help(
                format!(
                    "{what} `{name}` is not a valid identifier ({})",
                    IDENTIFIER_PATTERN
                        .trim_start_matches('^')
                        .trim_end_matches('$')
                ),
                node,
                help,
            );
            return None;
        }
        Some(name)
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<std::time::Duration> {
        let parsed = match &node.kind {
            NodeKind::Int(i) if *i >= 0 => duration_from_secs(i.unsigned_abs()),
            NodeKind::Str { value, .. } => parse_duration(value),
            _ => Err(format!(
                "must be a duration such as `90s` or `10m`, not {}",
                node.type_name()
            )),
        };
        match parsed {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(format!("{what}: {e}"), node);
                None
            }
        }
    }

    fn runbook(&mut self, root: &Node) -> Option<Runbook> {
        let Some(map) = root.as_map() else {
            self.error(
                format!(
                    "a runbook must be a mapping with `name` and `steps`, not {}",
                    root.type_name()
                ),
                root,
            );
            return None;
        };
        self.unknown_keys(map, &RUNBOOK_KEYS, "the runbook");
        let name = match root.get("name") {
            Some(n) => self.string(n, "`name`"),
            None => {
                self.diags.push(Diagnostic::new(
                    "missing field `name` in the runbook",
                    root.pos,
                    1,
                ));
                None
            }
        };
        let description = root
            .get("description")
            .and_then(|d| self.string(d, "`description`"));
        let params = root
            .get("params")
            .map(|p| self.params(p))
            .unwrap_or_default();
        let param_names: BTreeSet<String> = params.iter().map(|p| p.name.clone()).collect();
        let vars = root
            .get("vars")
            .map(|v| self.vars(v, &param_names))
            .unwrap_or_default();
        let var_names: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
        if let Some(d) = root.get("defaults") {
            self.step_defaults(d);
        }

        let steps_node = root.get("steps");
        if steps_node.is_none() {
            self.diags.push(Diagnostic::new(
                "missing field `steps` in the runbook",
                root.pos,
                1,
            ));
        }
        let main_raw = steps_node
            .map(|s| self.step_list(s, "steps"))
            .unwrap_or_default();
        let finally_raw = root
            .get("finally")
            .map(|s| self.step_list(s, "finally"))
            .unwrap_or_default();

        // Ids are unique across both phases.
        let mut seen: BTreeMap<String, Pos> = BTreeMap::new();
        for raw in main_raw.iter().chain(finally_raw.iter()) {
            if let Some(first) = seen.get(&raw.id) {
                let message = format!(
                    "duplicate step id `{}` (first used at line {})",
                    raw.id, first.line
                );
                self.error(message, raw.id_node);
            } else {
                seen.insert(raw.id.clone(), raw.id_node.pos);
            }
        }

        let main_ids: Vec<String> = main_raw.iter().map(|r| r.id.clone()).collect();
        let main_deps = self.dependencies(&main_raw, &[]);
        let finally_deps = self.dependencies(&finally_raw, &main_ids);
        let graph = Graph {
            main: &main_raw,
            main_deps: main_deps.as_deref().unwrap_or_default(),
            finally: &finally_raw,
            finally_deps: finally_deps.as_deref().unwrap_or_default(),
            order_known: main_deps.is_some() && finally_deps.is_some(),
        };
        let mut steps = Vec::new();
        for (i, raw) in main_raw.iter().enumerate() {
            let at = Place::Main(i);
            steps.push(self.finish_step(
                raw,
                graph.main_deps.get(i).cloned().unwrap_or_default(),
                &param_names,
                &var_names,
                &graph,
                at,
            ));
        }
        let mut finally = Vec::new();
        for (i, raw) in finally_raw.iter().enumerate() {
            let at = Place::Finally(i);
            finally.push(self.finish_step(
                raw,
                graph.finally_deps.get(i).cloned().unwrap_or_default(),
                &param_names,
                &var_names,
                &graph,
                at,
            ));
        }
        let steps: Option<Vec<StepDef>> = steps.into_iter().collect();
        let finally: Option<Vec<StepDef>> = finally.into_iter().collect();
        Some(Runbook {
            name: name?,
            description,
            params,
            vars,
            steps: steps?,
            finally: finally?,
        })
    }

    fn params(&mut self, node: &Node) -> Vec<ParamDef> {
        let Some(map) = node.as_map() else {
            self.error(
                format!(
                    "`params` must be a mapping of names to definitions, not {}",
                    node.type_name()
                ),
                node,
            );
            return Vec::new();
        };
        let mut params = Vec::new();
        for (key, def) in map {
            let Some(name) = self.identifier(key, "parameter name") else {
                continue;
            };
            let what = format!("parameter `{name}`");
            let mut param = ParamDef {
                name: name.clone(),
                ty: ParamType::String,
                default: None,
                required: false,
                secret: false,
                description: None,
                pos: key.pos,
            };
            match &def.kind {
                NodeKind::Null => {}
                NodeKind::Map(entries) => {
                    self.unknown_keys(entries, &PARAM_KEYS, &what);
                    let explicit_type = def.get("type");
                    let mut type_known = true;
                    if let Some(t) = explicit_type {
                        match t.as_str().and_then(ParamType::parse) {
                            Some(ty) => param.ty = ty,
                            None => {
                                type_known = false;
                                let given = t.key_text();
                                let list = ParamType::names().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                                self.error_help(
                                    format!("unknown type `{given}` of {what}, expected one of {list}"),
                                    t,
                                    did_you_mean(&given, ParamType::names()),
                                );
                            }
                        }
                    }
                    if let Some(d) = def.get("default") {
                        let value = d.to_json();
                        if explicit_type.is_none() {
                            param.ty = infer_type(&value);
                        }
                        if type_known && !param.ty.accepts(&value) && !value.is_null() {
                            self.error(
                                format!("the default of {what} is {}, but its type is {}", d.type_name(), param.ty.as_str()),
                                d,
                            );
                        }
                        param.default = Some(value);
                    }
                    if let Some(r) = def.get("required") {
                        param.required = self.boolean(r, &format!("`required` of {what}"));
                        if param.required && param.default.is_some() {
                            self.error(format!("{what} is required and has a default; keep one of them"), r);
                        }
                    }
                    if let Some(s) = def.get("secret") {
                        param.secret = self.boolean(s, &format!("`secret` of {what}"));
                    }
                    if let Some(d) = def.get("description") {
                        param.description = self.string(d, &format!("`description` of {what}"));
                    }
                }
                _ => self.error(
                    format!(
                        "{what} must be a mapping such as `{{ type: string, default: ... }}`, not {}",
                        def.type_name()
                    ),
                    def,
                ),
            }
            params.push(param);
        }
        params
    }

    fn vars(&mut self, node: &Node, params: &BTreeSet<String>) -> Vec<VarDef> {
        let Some(map) = node.as_map() else {
            self.error(
                format!(
                    "`vars` must be a mapping of names to values, not {}",
                    node.type_name()
                ),
                node,
            );
            return Vec::new();
        };
        let mut vars: Vec<VarDef> = Vec::new();
        for (key, value) in map {
            let Some(name) = self.identifier(key, "variable name") else {
                continue;
            };
            let earlier: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
            let scope = Scope {
                params,
                vars: &earlier,
                graph: None,
                has_item: false,
                place: format!("var `{name}`"),
            };
            self.templates_in(value, &scope);
            vars.push(VarDef {
                name,
                value: value.clone(),
                pos: key.pos,
            });
        }
        vars
    }

    fn step_list<'n>(&mut self, node: &'n Node, what: &str) -> Vec<RawStep<'n>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.error(
                format!("`{what}` must be a list of steps, not {}", node.type_name()),
                node,
            );
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.raw_step(item))
            .collect()
    }

    fn raw_step<'n>(&mut self, node: &'n Node) -> Option<RawStep<'n>> {
        let Some(map) = node.as_map() else {
            self.error(
                format!(
                    "a step must be a mapping with `id` and `action`, not {}",
                    node.type_name()
                ),
                node,
            );
            return None;
        };
        self.unknown_keys(map, &STEP_KEYS, "a step");
        let Some(id_node) = node.get("id") else {
            self.diags
                .push(Diagnostic::new("missing field `id` in a step", node.pos, 1));
            return None;
        };
        let id = self.identifier(id_node, "step id")?;
        let action = match node.get("action") {
            None => {
                self.diags.push(Diagnostic::new(
                    format!("missing field `action` in step `{id}`"),
                    node.pos,
                    1,
                ));
                None
            }
            Some(a) => match a.as_str() {
                None => {
                    self.error(
                        format!(
                            "`action` of step `{id}` must be a string, not {}",
                            a.type_name()
                        ),
                        a,
                    );
                    None
                }
                Some(name) => match crate::runbook::find_action(name) {
                    Some(found) => Some(found),
                    None => {
                        let names = crate::runbook::all_actions().iter().map(|a| a.name());
                        let help = did_you_mean(name, names)
                            .or_else(|| Some("`runbook actions` lists every action".to_string()));
                        self.error_help(format!("unknown action `{name}` in step `{id}`"), a, help);
                        None
                    }
                },
            },
        };
        let needs = match node.get("needs") {
            None => None,
            Some(n) => match &n.kind {
                NodeKind::Str { .. } => Some(vec![n]),
                NodeKind::Seq(items) => {
                    let mut list = Vec::new();
                    for item in items {
                        if item.as_str().is_some() {
                            list.push(item);
                        } else {
                            self.error(
                                format!(
                                    "`needs` of step `{id}` lists step ids, not {}",
                                    item.type_name()
                                ),
                                item,
                            );
                        }
                    }
                    Some(list)
                }
                _ => {
                    self.error(
                        format!(
                            "`needs` of step `{id}` must be a list of step ids, not {}",
                            n.type_name()
                        ),
                        n,
                    );
                    None
                }
            },
        };
        Some(RawStep {
            id,
            id_node,
            action,
            node,
            needs,
        })
    }

    /// Each step's dependencies: its `needs`, or else every earlier step of its phase
    /// (file order). Reports unknown names and cycles.
    /// Each step's dependencies (indices into `raws`); `None` after reporting a cycle.
    fn dependencies(
        &mut self,
        raws: &[RawStep<'_>],
        other_phase: &[String],
    ) -> Option<Vec<Vec<usize>>> {
        let index: BTreeMap<&str, usize> = raws
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let mut explicit: Vec<Option<Vec<usize>>> = Vec::new();
        for (i, raw) in raws.iter().enumerate() {
            let Some(needs) = &raw.needs else {
                explicit.push(None);
                continue;
            };
            let mut list = Vec::new();
            for need in needs {
                let name = need.as_str().unwrap_or_default();
                match index.get(name) {
                    Some(&j) if j == i => self.error(format!("step `{}` needs itself", raw.id), need),
                    Some(&j) => list.push(j),
                    None if other_phase.iter().any(|s| s == name) => self.error(
                        format!("finally step `{}` cannot need `{name}`: finally steps run after all steps anyway", raw.id),
                        need,
                    ),
                    None => {
                        let help = did_you_mean(name, raws.iter().map(|r| r.id.as_str()));
                        self.error_help(format!("step `{}` needs `{name}`, which is not a step", raw.id), need, help);
                    }
                }
            }
            list.sort_unstable();
            list.dedup();
            explicit.push(Some(list));
        }
        let deps = graph::build_deps(&explicit);
        if let Some(cycle) = find_cycle(&deps) {
            let names: Vec<&str> = cycle.iter().map(|&i| raws[i].id.as_str()).collect();
            let first = &raws[cycle[0]];
            let at = first.node.get("needs").unwrap_or(first.id_node).clone();
            self.error(format!("dependency cycle: {}", names.join(" -> ")), &at);
            return None;
        }
        Some(deps)
    }

    fn finish_step(
        &mut self,
        raw: &RawStep<'_>,
        deps: Vec<usize>,
        params: &BTreeSet<String>,
        vars: &[String],
        graph: &Graph<'_>,
        at: Place,
    ) -> Option<StepDef> {
        let is_finally = matches!(at, Place::Finally(_));
        let node = &raw.node;
        let id = &raw.id;
        let for_each = node.get("for_each").cloned();
        if let Some(items) = &for_each {
            let ok = matches!(items.kind, NodeKind::Seq(_))
                || items
                    .as_str()
                    .is_some_and(|s| template::lone_expression(s).is_some());
            if !ok {
                self.error(
                    format!(
                        "`for_each` of step `{id}` must be a list or a lone `{{{{ expression }}}}` giving a list, not {}",
                        items.type_name()
                    ),
                    items,
                );
            }
            let scope = Scope {
                params,
                vars,
                graph: Some((graph, at)),
                has_item: false,
                place: format!("`for_each` of step `{id}`"),
            };
            self.templates_in(items, &scope);
        }
        let scope = Scope {
            params,
            vars,
            graph: Some((graph, at)),
            has_item: for_each.is_some(),
            place: format!("step `{id}`"),
        };
        let when = node.get("when").cloned();
        if let Some(w) = &when {
            match &w.kind {
                NodeKind::Bool(_) => {}
                NodeKind::Str { value, .. } if template::lone_expression(value).is_some() => self.templates_in(w, &scope),
                _ => self.error(
                    format!("`when` of step `{id}` must be a boolean or a lone `{{{{ expression }}}}`, not {}", w.type_name()),
                    w,
                ),
            }
        }
        let with_key = node.entry("with").map_or(*node, |(k, _)| k).clone();
        let with = match node.get("with") {
            None => Node {
                kind: NodeKind::Map(Vec::new()),
                pos: node.pos,
            },
            Some(w) if matches!(w.kind, NodeKind::Null) => Node {
                kind: NodeKind::Map(Vec::new()),
                pos: w.pos,
            },
            Some(w) => w.clone(),
        };
        self.templates_in(&with, &scope);
        if let Some(action) = raw.action {
            let mut found = Vec::new();
            let schema = self
                .schemas
                .entry(action.name())
                .or_insert_with(|| action.input_schema());
            check_with(action.name(), &with, &with_key, schema, &mut found);
            let literal = !contains_template(&with);
            if found.is_empty() && literal {
                if let Err(e) = action.check_input(&with.to_json()) {
                    let at = node_at(&with, &e.path);
                    found.push(Diagnostic::new(
                        format!("invalid `with` of `{}`: {e}", action.name()),
                        at.pos,
                        at.width().max(1),
                    ));
                }
            }
            self.diags.extend(found);
        }
        let include = match raw.action {
            Some(action) if include::is_runbook_step(action) => self.include(id, node, &with),
            _ => None,
        };
        let retry = match node.get("retry") {
            None if include.is_some() => RetryPolicy::default(),
            None => self.defaults.retry.clone().unwrap_or_default(),
            Some(r) => self.retry(r, id),
        };
        let timeout = match node.get("timeout") {
            None => self.defaults.timeout,
            Some(t) => self.duration(t, &format!("`timeout` of step `{id}`")),
        };
        if timeout.is_some_and(|t| t.is_zero()) {
            if let Some(t) = node.get("timeout") {
                self.error(
                    format!("`timeout` of step `{id}` must be longer than zero"),
                    t,
                );
            }
        }
        let continue_on_error = node
            .get("continue_on_error")
            .is_some_and(|c| self.boolean(c, &format!("`continue_on_error` of step `{id}`")));
        let parallel = match node.get("parallel") {
            None => 1,
            Some(p) => match p.kind {
                NodeKind::Int(n)
                    if for_each.is_some() && (MIN_PARALLEL..=MAX_PARALLEL).contains(&n) =>
                {
                    usize::try_from(n).unwrap_or(1)
                }
                NodeKind::Int(_) if for_each.is_none() => {
                    self.error(
                        format!("`parallel` of step `{id}` needs `for_each`: it bounds how many of its instances run at once"),
                        p,
                    );
                    1
                }
                _ => {
                    self.error(
                        format!("`parallel` of step `{id}` must be an integer from {MIN_PARALLEL} to {MAX_PARALLEL}"),
                        p,
                    );
                    1
                }
            },
        };
        Some(StepDef {
            id: id.clone(),
            action: raw.action?,
            with,
            when,
            for_each,
            deps,
            retry,
            timeout,
            continue_on_error,
            parallel,
            is_finally,
            include,
            pos: node.pos,
        })
    }

    /// The runbook an `action: runbook` step includes, loaded and checked: its file
    /// (a literal path, relative to this file), no include cycle, and its params.
    fn include(&mut self, id: &str, node: &Node, with: &Node) -> Option<Arc<LoadedRunbook>> {
        if let Some((key, _)) = node.entry("retry") {
            let key = key.clone();
            self.error_help(
                format!("step `{id}` runs a runbook, which is not retried as a whole"),
                &key,
                Some(
                    "give its steps `retry`, or the included runbook `defaults: { retry: ... }`"
                        .into(),
                ),
            );
        }
        // A missing or non-string `file` is reported by the check of `with`.
        let file_node = with.get("file")?;
        let file = file_node.as_str()?;
        if is_template(file) {
            self.error(
                format!("the `file` of step `{id}` must be a literal path, not a template: the included runbook is loaded and checked before anything runs"),
                file_node,
            );
            return None;
        }
        let path = self.includes.dir.join(file);
        let display = lexical_join(&self.includes.display_dir, file)
            .display()
            .to_string();
        let canonical = match std::fs::canonicalize(&path) {
            Ok(c) => c,
            Err(e) => {
                self.error(
                    format!("cannot read the runbook `{display}` that step `{id}` includes: {e}"),
                    file_node,
                );
                return None;
            }
        };
        if let Some(first) = self.includes.stack.iter().position(|p| *p == canonical) {
            let chain: Vec<String> = self.includes.stack[first..]
                .iter()
                .chain([&canonical])
                .map(|p| {
                    p.file_name().map_or_else(
                        || p.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    )
                })
                .collect();
            self.error_help(
                format!("include cycle: {}", chain.join(" -> ")),
                file_node,
                Some("a runbook cannot include itself, directly or through another runbook".into()),
            );
            return None;
        }
        let loaded = match load_file_within(&path, &display, &self.includes.stack) {
            Ok(loaded) => loaded,
            Err(e) => {
                self.error(
                    format!("the runbook `{display}` that step `{id}` includes has errors (shown after this one)"),
                    file_node,
                );
                self.included_errors.push(e);
                return None;
            }
        };
        self.included_hashes.push(loaded.content_hash.clone());
        self.include_params(id, &display, with, &loaded.runbook.params);
        Some(Arc::new(loaded))
    }

    /// Checks the `params` a `runbook` step gives against the included runbook's:
    /// every name declared, every required one given, literal values of the right type.
    fn include_params(&mut self, id: &str, display: &str, with: &Node, defs: &[ParamDef]) {
        let given: &[(Node, Node)] = match with.get("params") {
            None => &[],
            Some(p) => match p.as_map() {
                Some(map) => map,
                // Its type is reported by the check of `with`.
                None => return,
            },
        };
        for (key, value) in given {
            let name = key.key_text();
            match defs.iter().find(|d| d.name == name) {
                None => self.error_help(
                    format!(
                        "step `{id}` gives parameter `{name}`, which `{display}` does not declare"
                    ),
                    key,
                    did_you_mean(&name, defs.iter().map(|d| d.name.as_str())),
                ),
                Some(def) if !contains_template(value) => {
                    let json = value.to_json();
                    if !def.ty.accepts(&json) && !json.is_null() {
                        self.error(
                            format!("parameter `{name}` of `{display}` has type {}, but step `{id}` gives {}", def.ty.as_str(), value.type_name()),
                            value,
                        );
                    }
                }
                Some(_) => {}
            }
        }
        for def in defs.iter().filter(|d| d.required) {
            if !given.iter().any(|(k, _)| k.key_text() == def.name) {
                self.error(
                    format!(
                        "step `{id}` must give parameter `{}` of `{display}`, which is required",
                        def.name
                    ),
                    with,
                );
            }
        }
    }

    /// Reads `defaults:` into [`Loader::defaults`], for the steps read after it.
    fn step_defaults(&mut self, node: &Node) {
        let Some(map) = node.as_map() else {
            self.error(
                format!("`defaults` must be a mapping such as `{{ retry: {{ attempts: 3 }}, timeout: 10m }}`, not {}", node.type_name()),
                node,
            );
            return;
        };
        self.unknown_keys(map, &DEFAULTS_KEYS, "`defaults`");
        if let Some(r) = node.get("retry") {
            self.defaults.retry = Some(self.retry_policy(r, "`retry` of `defaults`"));
        }
        if let Some(t) = node.get("timeout") {
            let timeout = self.duration(t, "`timeout` of `defaults`");
            if timeout.is_some_and(|t| t.is_zero()) {
                self.error("`timeout` of `defaults` must be longer than zero", t);
            }
            self.defaults.timeout = timeout;
        }
    }

    fn retry(&mut self, node: &Node, id: &str) -> RetryPolicy {
        self.retry_policy(node, &format!("`retry` of step `{id}`"))
    }

    /// A `retry` mapping; `what` names it in messages.
    fn retry_policy(&mut self, node: &Node, what: &str) -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        let Some(map) = node.as_map() else {
            self.error(
                format!(
                    "{what} must be a mapping such as `{{ attempts: 3, delay: 5s }}`, not {}",
                    node.type_name()
                ),
                node,
            );
            return policy;
        };
        self.unknown_keys(map, &RETRY_KEYS, what);
        if let Some(a) = node.get("attempts") {
            match a.kind {
                NodeKind::Int(n) if (MIN_ATTEMPTS..=MAX_ATTEMPTS).contains(&n) => {
                    policy.attempts = u32::try_from(n).unwrap_or(1)
                }
                _ => self.error(
                    format!("`attempts` in {what} must be an integer from {MIN_ATTEMPTS} to {MAX_ATTEMPTS}"),
                    a,
                ),
            }
        }
        if let Some(d) = node.get("delay") {
            if let Some(delay) = self.duration(d, &format!("`delay` in {what}")) {
                policy.delay = delay;
            }
        }
        if let Some(b) = node.get("backoff") {
            match b.kind {
                NodeKind::Int(n) if n as f64 >= MIN_BACKOFF => policy.backoff = n as f64,
                NodeKind::Float(f) if f >= MIN_BACKOFF => policy.backoff = f,
                _ => self.error(
                    format!("`backoff` in {what} must be a number of at least {MIN_BACKOFF:.1}"),
                    b,
                ),
            }
        }
        if let Some(m) = node.get("max_delay") {
            if let Some(max) = self.duration(m, &format!("`max_delay` in {what}")) {
                policy.max_delay = max;
            }
        }
        policy
    }

    /// Checks every template string under `node`: syntax, and that each variable it
    /// reads exists and is visible from here.
    fn templates_in(&mut self, node: &Node, scope: &Scope<'_>) {
        match &node.kind {
            NodeKind::Str { value, .. } if is_template(value) => {
                match template::referenced_variables(self.env, value) {
                    Err(message) => self.error(format!("{message} in {}", scope.place), node),
                    Ok(paths) => {
                        for path in paths {
                            if let Some((message, help)) = check_reference(&path, scope) {
                                let (pos, width) = locate_in_scalar(node, value, &path);
                                self.diags
                                    .push(Diagnostic::new(message, pos, width).with_help(help));
                            }
                        }
                        for unknown in template_names::unknown_names(self.env, value) {
                            let known = match unknown.kind {
                                "filter" => template_names::FILTERS,
                                _ => template_names::TESTS,
                            };
                            let (pos, width) =
                                locate_offset(node, value, unknown.offset, &unknown.name);
                            self.diags.push(
                                Diagnostic::new(
                                    format!(
                                        "unknown {} `{}` in {}",
                                        unknown.kind, unknown.name, scope.place
                                    ),
                                    pos,
                                    width,
                                )
                                .with_help(did_you_mean(&unknown.name, known.iter().copied())),
                            );
                        }
                    }
                }
            }
            NodeKind::Seq(items) => items.iter().for_each(|n| self.templates_in(n, scope)),
            NodeKind::Map(entries) => entries
                .iter()
                .for_each(|(_, v)| self.templates_in(v, scope)),
            _ => {}
        }
    }
}

/// A step as written, before its dependencies are known; borrows the YAML tree.
struct RawStep<'n> {
    id: String,
    id_node: &'n Node,
    action: Option<&'static dyn runbook_actions::ErasedAction>,
    node: &'n Node,
    needs: Option<Vec<&'n Node>>,
}

/// Where `path` is written inside a one-line scalar, for a caret under just that
/// reference; the whole scalar otherwise.
fn locate_in_scalar(node: &Node, value: &str, path: &str) -> (Pos, usize) {
    let quoted = matches!(node.kind, NodeKind::Str { quoted: true, .. });
    // The dotted path as written may stop early (`steps.x` of `steps.x.outputs`).
    let root = path.split('.').take(2).collect::<Vec<_>>().join(".");
    if !value.contains('\n') {
        if let Some(offset) = value.find(path).or_else(|| value.find(&root)) {
            let shown = if value.find(path).is_some() {
                path
            } else {
                root.as_str()
            };
            let col = node.pos.col + usize::from(quoted) + value[..offset].chars().count();
            return (
                Pos {
                    line: node.pos.line,
                    col,
                },
                shown.chars().count(),
            );
        }
    }
    (node.pos, node.width())
}

/// Where the text at byte `offset` of a one-line scalar is, for a caret under `shown`;
/// the whole scalar otherwise.
fn locate_offset(node: &Node, value: &str, offset: usize, shown: &str) -> (Pos, usize) {
    let quoted = matches!(node.kind, NodeKind::Str { quoted: true, .. });
    match value.get(..offset) {
        Some(before) if !value.contains('\n') => (
            Pos {
                line: node.pos.line,
                col: node.pos.col + usize::from(quoted) + before.chars().count(),
            },
            shown.chars().count(),
        ),
        _ => (node.pos, node.width()),
    }
}

/// Whether step `name` (running `step.action`) has the output `key`, from the action's
/// typed output schema; the problem if not. A `for_each` step's outputs are a list
/// (one entry per item), indexed before a key is read, so it is not checked here.
fn check_output_key(
    name: &str,
    step: &RawStep<'_>,
    key: &str,
    place: &str,
) -> Option<(String, Option<String>)> {
    if step.node.get("for_each").is_some() {
        return None;
    }
    let action = step.action?;
    let schema = action.output_schema();
    let keys: Vec<&str> = schema
        .get("properties")?
        .as_object()?
        .keys()
        .map(String::as_str)
        .collect();
    if keys.contains(&key) {
        return None;
    }
    Some((
        format!(
            "`steps.{name}.outputs.{key}` in {place}: `{}` has no output `{key}` (it has {})",
            action.name(),
            keys.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        did_you_mean(key, keys.iter().copied()),
    ))
}

fn contains_template(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Str { value, .. } => is_template(value),
        NodeKind::Seq(items) => items.iter().any(contains_template),
        NodeKind::Map(entries) => entries.iter().any(|(_, v)| contains_template(v)),
        _ => false,
    }
}

/// Whether `path` (a dotted variable path) may be read from `scope`; the problem if not.
fn check_reference(path: &str, scope: &Scope<'_>) -> Option<(String, Option<String>)> {
    let mut parts = path.split('.');
    let root = parts.next().unwrap_or_default();
    let second = parts.next();
    let third = parts.next();
    let fourth = parts.next();
    let place = &scope.place;
    match root {
        "params" => {
            let name = second?;
            if scope.params.contains(name) {
                return None;
            }
            Some((
                format!("undefined parameter `params.{name}` in {place}"),
                did_you_mean(name, scope.params.iter().map(String::as_str)),
            ))
        }
        "vars" => {
            let name = second?;
            if scope.vars.iter().any(|v| v == name) {
                return None;
            }
            Some((
                format!(
                    "undefined variable `vars.{name}` in {place} (vars are computed in order, from params)"
                ),
                did_you_mean(name, scope.vars.iter().map(String::as_str)),
            ))
        }
        "steps" if scope.graph.is_none() => Some((
            format!("{place} cannot read `steps`: vars are computed before any step runs"),
            None,
        )),
        "steps" => {
            let name = second?;
            let visible = scope.graph.and_then(|(g, at)| g.visible(name, at));
            match visible {
                None => Some((
                    format!("`steps.{name}` in {place} refers to a step that does not exist"),
                    scope.graph.and_then(|(g, _)| did_you_mean(name, g.ids())),
                )),
                Some(false) if scope.graph.is_some_and(|(g, at)| g.runs_after(name, at)) => Some((
                    format!(
                        "`steps.{name}` in {place} refers to a step that runs after it (`{name}` needs it, directly or not)"
                    ),
                    Some(format!(
                        "read it in a step that runs after `{name}`; making this step need `{name}` would be a cycle"
                    )),
                )),
                Some(false) => Some((
                    format!(
                        "`steps.{name}` in {place} refers to a step that has not run by then (a later step, or one it does not need)"
                    ),
                    Some(format!(
                        "add `needs: [{name}]`, or move the step after `{name}`"
                    )),
                )),
                Some(true) => match third {
                    Some("outputs") => {
                        let step = scope.graph.and_then(|(g, _)| g.step(name))?;
                        check_output_key(name, step, fourth?, place)
                    }
                    None | Some("status") => None,
                    Some(other) => Some((
                        format!(
                            "`steps.{name}.{other}` in {place}: a step has `outputs` and `status`"
                        ),
                        did_you_mean(other, ["outputs", "status"]),
                    )),
                },
            }
        }
        "item" | "index" if scope.has_item => None,
        "item" | "index" => Some((
            format!("`{root}` in {place} is only defined in a step with `for_each`"),
            None,
        )),
        "env" => None,
        // minijinja's global functions.
        "range" | "dict" | "namespace" | "debug" => None,
        "run" => match second {
            None => None,
            Some(field) if RUN_FIELDS.contains(&field) => None,
            Some(field) => Some((
                format!(
                    "`run.{field}` in {place}: `run` has `id`, `started_at`, `target`, `account_id` and `region`"
                ),
                did_you_mean(field, RUN_FIELDS),
            )),
        },
        other => Some((
            format!(
                "undefined variable `{other}` in {place}; templates can read {}",
                SCOPES.join(", ")
            ),
            did_you_mean(other, SCOPES),
        )),
    }
}

fn infer_type(value: &serde_json::Value) -> ParamType {
    use serde_json::Value;
    match value {
        Value::Bool(_) => ParamType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => ParamType::Integer,
        Value::Number(_) => ParamType::Number,
        Value::Array(_) => ParamType::List,
        Value::Object(_) => ParamType::Map,
        Value::String(_) | Value::Null => ParamType::String,
    }
}

fn suggest_identifier(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, 's');
    }
    out
}

/// A dependency cycle as a list of indices that starts and ends with the same step.
fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[i] = Mark::Active;
        stack.push(i);
        for &d in &deps[i] {
            match marks[d] {
                Mark::Active => {
                    let start = stack.iter().position(|&s| s == d).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[start..].to_vec();
                    cycle.push(d);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(d, deps, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[i] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; deps.len()];
    for i in 0..deps.len() {
        if marks[i] == Mark::New {
            if let Some(c) = visit(i, deps, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}
