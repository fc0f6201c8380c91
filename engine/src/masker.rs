//! Hiding secret values (secret params, secret-looking environment variables) in
//! everything a run stores or prints: step inputs, outputs and errors, events, the
//! simulator's snapshots, the log file and, through the state DB, the report.
//!
//! A secret rarely travels as itself only: our own code writes it JSON-escaped (stored
//! JSON, `tojson`), Rust-escaped (`{:?}` in error messages), HTML-escaped (the report,
//! minijinja's `escape`), percent-encoded (URLs) and, in older simulator snapshots, as
//! an array of byte values; programs an `exec` step runs may print it base64-encoded.
//! So each secret is masked in each of those forms, and JSON is masked after decoding
//! (strings, object keys and arrays of byte values), never as its serialized text.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

/// What a secret is replaced by.
pub const MASK: &str = "***";

/// Substrings of an environment variable's name that make its value a secret.
const SECRET_NAME_PARTS: [&str; 7] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "PRIVATE",
];

/// Endings of an environment variable's name that make its value a secret
/// (`STRIPE_API_KEY`, `DB_PASS`).
const SECRET_NAME_ENDINGS: [&str; 2] = ["_KEY", "_PASS"];

/// Shorter values of secret-looking variables are flags or placeholders (`1`, `true`,
/// `none`), and masking them everywhere would hide ordinary words.
const MIN_ENV_SECRET_LEN: usize = 6;

/// Shorter secrets get no base64 forms: theirs would be a few base64 characters, which
/// also occur by chance in ordinary text.
const MIN_BASE64_SECRET_LEN: usize = 8;

/// Replaces secret values by [`MASK`] in text, bytes and JSON.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Every form of every secret, longest first, so a secret that contains another
    /// is hidden whole.
    forms: Vec<String>,
}

impl Masker {
    /// A masker for these secret values (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Masker {
        let mut forms: Vec<String> = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .flat_map(|s| encoded_forms(&s))
            .collect();
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        Masker { forms }
    }

    /// A masker that hides this one's secrets and `other`'s: a runbook included by a
    /// step hides the run's secrets and its own secret params.
    pub fn extended(&self, other: Masker) -> Masker {
        let mut forms = self.forms.clone();
        forms.extend(other.forms);
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        Masker { forms }
    }

    /// Whether there is nothing to hide (every method then returns its input).
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every secret replaced by `***`.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        self.text_in_place(&mut out);
        out
    }

    /// Masks `text` in place; says whether anything was hidden.
    fn text_in_place(&self, text: &mut String) -> bool {
        let mut changed = false;
        for form in &self.forms {
            if text.contains(form.as_str()) {
                *text = text.replace(form.as_str(), MASK);
                changed = true;
            }
        }
        changed
    }

    /// `bytes` with every secret replaced by `***` (for content that is not text).
    pub fn bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        self.bytes_in_place(&mut out);
        out
    }

    fn bytes_in_place(&self, bytes: &mut Vec<u8>) -> bool {
        let mut changed = false;
        for form in &self.forms {
            let form = form.as_bytes();
            if find(bytes, form, 0).is_none() {
                continue;
            }
            let mut out = Vec::with_capacity(bytes.len());
            let mut from = 0;
            while let Some(at) = find(bytes, form, from) {
                out.extend_from_slice(&bytes[from..at]);
                out.extend_from_slice(MASK.as_bytes());
                from = at + form.len();
            }
            out.extend_from_slice(&bytes[from..]);
            *bytes = out;
            changed = true;
        }
        changed
    }

    /// `value` with every secret hidden in its strings, object keys and arrays of byte
    /// values.
    pub fn json(&self, value: &Value) -> Value {
        let mut out = value.clone();
        self.json_in_place(&mut out);
        out
    }

    /// Masks `value` in place; says whether anything was hidden.
    pub fn json_in_place(&self, value: &mut Value) -> bool {
        if self.is_empty() {
            return false;
        }
        match value {
            Value::String(s) => self.text_in_place(s),
            Value::Array(items) => match as_bytes(items) {
                Some(mut bytes) => {
                    let changed = self.bytes_in_place(&mut bytes);
                    if changed {
                        *items = bytes.into_iter().map(Value::from).collect();
                    }
                    changed
                }
                None => items
                    .iter_mut()
                    .fold(false, |changed, item| self.json_in_place(item) | changed),
            },
            Value::Object(map) => self.map_in_place(map),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    fn map_in_place(&self, map: &mut Map<String, Value>) -> bool {
        let mut changed = map
            .values_mut()
            .fold(false, |changed, v| self.json_in_place(v) | changed);
        if map.keys().any(|k| self.forms.iter().any(|f| k.contains(f))) {
            // Renaming keeps the order; two keys that mask alike keep the later value.
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, v)| (self.text(&k), v))
                .collect();
            changed = true;
        }
        changed
    }

    /// Serialized state (a simulator snapshot): JSON is masked after decoding and
    /// encoded again only if something was hidden; anything else is masked as bytes.
    pub fn serialized(&self, data: Vec<u8>) -> Vec<u8> {
        if self.is_empty() {
            return data;
        }
        match serde_json::from_slice::<Value>(&data) {
            Ok(mut value) => {
                if !self.json_in_place(&mut value) {
                    return data;
                }
                // A `Value` always serializes; the fallback still hides the secret.
                serde_json::to_vec(&value).unwrap_or_else(|_| self.bytes(&data))
            }
            Err(_) => self.bytes(&data),
        }
    }
}

/// The items as bytes, if every one is an integer from 0 to 255 (how serde writes a
/// `Vec<u8>`).
fn as_bytes(items: &[Value]) -> Option<Vec<u8>> {
    if items.is_empty() {
        return None;
    }
    items
        .iter()
        .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
        .collect()
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + from)
}

/// The forms a secret takes in what the engine, the templates and the simulator write.
fn encoded_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![
        secret.to_string(),
        json_escaped(secret),
        tojson_escaped(secret),
        debug_escaped(secret),
        crate::report::svg::esc(secret),
        minijinja::HtmlEscape(secret).to_string(),
        percent_encoded(secret),
    ];
    forms.extend(base64_forms(secret.as_bytes()));
    forms
}

/// As inside a JSON string written by serde_json.
fn json_escaped(secret: &str) -> String {
    let quoted = Value::from(secret).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// As inside a JSON string written by minijinja's `tojson`, which also escapes the
/// characters that matter in HTML.
fn tojson_escaped(secret: &str) -> String {
    json_escaped(secret)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027")
}

/// As inside a Rust string written with `{:?}` (error messages).
fn debug_escaped(secret: &str) -> String {
    let quoted = format!("{secret:?}");
    quoted[1..quoted.len() - 1].to_string()
}

/// Percent-encoded as in a URL (every byte but the unreserved characters).
fn percent_encoded(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len());
    for b in secret.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The base64 characters that depend on the secret alone, for each of the three
/// places it can start at relative to a 3-byte group (base64 of `user:secret` contains
/// none of the characters of base64 of `secret`), in both alphabets.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = Vec::new();
    if secret.len() < MIN_BASE64_SECRET_LEN {
        return forms;
    }
    for shift in 0..3_usize {
        let mut shifted = vec![0_u8; shift];
        shifted.extend_from_slice(secret);
        // Characters wholly inside the secret's bits: from ceil(8*shift/6) to
        // floor(8*(shift+len)/6), exclusive.
        let first = (8 * shift).div_ceil(6);
        let end = 8 * (shift + secret.len()) / 6;
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&shifted);
            if let Some(form) = encoded.get(first..end) {
                forms.push(form.to_string());
            }
        }
    }
    forms
}

/// The values of the environment variables whose names look secret (see the README's
/// runbook format section): they can reach a run through the `env` scope of templates
/// and through the environment `exec` programs inherit.
pub fn secret_env_values(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<String> {
    vars.into_iter()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(name, value)| looks_secret(name) && value.chars().count() >= MIN_ENV_SECRET_LEN)
        .map(|(_, value)| value)
        .collect()
}

/// Whether an environment variable of this name holds a secret.
fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
        || SECRET_NAME_ENDINGS.iter().any(|end| name.ends_with(end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masker(secret: &str) -> Masker {
        Masker::new([secret.to_string()])
    }

    #[test]
    fn text_in_every_escaped_form_is_masked() {
        let secret = r#"p"a\s<s>&'/w"#;
        let m = masker(secret);
        let json = json!({"k": secret}).to_string();
        let debug = format!("{secret:?}");
        let written = [
            (format!("plain {secret} end"), "plain *** end".to_string()),
            (json, r#"{"k":"***"}"#.to_string()),
            (debug, r#""***""#.to_string()),
            (
                format!("<td>{}</td>", crate::report::svg::esc(secret)),
                "<td>***</td>".to_string(),
            ),
            (
                format!("<p>{}</p>", minijinja::HtmlEscape(secret)),
                "<p>***</p>".to_string(),
            ),
            (
                format!("https://x/{}?a", percent_encoded(secret)),
                "https://x/***?a".to_string(),
            ),
        ];
        for (text, expected) in written {
            assert_eq!(m.text(&text), expected, "masking {text}");
        }
        let rendered = crate::template::environment()
            .render_str("{{ s | tojson }}", minijinja::context! { s => secret })
            .expect("renders");
        assert_eq!(m.text(&rendered), "\"***\"", "masking {rendered}");
    }

    #[test]
    fn base64_of_the_secret_is_masked_wherever_it_starts() {
        let secret = "hunter2-s3cr3t";
        let m = masker(secret);
        for prefix in ["", "u:", "us:", "use:"] {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{prefix}{secret} and more"));
            let masked = m.text(&encoded);
            assert!(masked.contains(MASK), "{prefix}: {encoded} -> {masked}");
        }
        // A short secret has no base64 form: it would match ordinary text.
        assert_eq!(masker("abcdefg").forms, ["abcdefg"]);
    }

    #[test]
    fn json_strings_keys_and_byte_arrays_are_masked() {
        let m = masker("hunter2");
        let bytes: Vec<Value> = b"a hunter2 b".iter().map(|&b| Value::from(b)).collect();
        let value = json!({
            "s": "x hunter2 y",
            "hunter2-key": [1, "hunter2", {"deep": "hunter2"}],
            "object": bytes,
            "numbers": [1, 2, 300],
        });
        let masked = m.json(&value);
        let expected: Vec<Value> = b"a *** b".iter().map(|&b| Value::from(b)).collect();
        assert_eq!(
            masked,
            json!({
                "s": "x *** y",
                "***-key": [1, "***", {"deep": "***"}],
                "object": expected,
                "numbers": [1, 2, 300],
            })
        );
        // Key order is kept.
        let keys: Vec<&String> = masked.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["s", "***-key", "object", "numbers"]);
    }

    #[test]
    fn serialized_json_is_masked_after_decoding_and_kept_when_clean() {
        let m = masker("hunter2");
        let clean = br#"{"a":   1}"#.to_vec();
        assert_eq!(m.serialized(clean.clone()), clean);
        let bytes: Vec<u8> = b"hunter2".to_vec();
        let data = serde_json::to_vec(&json!({"o": bytes, "s": "hunter2"})).expect("json");
        let masked: Value = serde_json::from_slice(&m.serialized(data)).expect("still JSON");
        assert_eq!(masked, json!({"o": [42, 42, 42], "s": "***"}));
        assert_eq!(m.serialized(b"\xffhunter2\xff".to_vec()), b"\xff***\xff");
    }

    #[test]
    fn longer_secrets_are_hidden_whole() {
        let m = Masker::new(["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(m.text("abcdef abc"), "*** ***");
        assert!(Masker::new([String::new()]).is_empty());
    }

    #[test]
    fn secret_looking_environment_variables_are_chosen_by_name_and_length() {
        let vars = [
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
            ("AWS_SESSION_TOKEN", "FwoGZXIvYXdzE"),
            ("github_token", "ghp_abcdef"),
            ("PGPASSWORD", "postgres"),
            ("STRIPE_API_KEY", "sk_live_123"),
            ("DB_PASS", "letmein"),
            ("MY_PRIVATE_THING", "private!"),
            ("SECRET_FLAG", "true"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("HOME", "/home/someone"),
            ("KEYBOARD", "us-intl-layout"),
        ];
        let values = secret_env_values(vars.map(|(k, v)| (k.into(), v.into())));
        assert_eq!(
            values,
            [
                "wJalrXUtnFEMI",
                "FwoGZXIvYXdzE",
                "ghp_abcdef",
                "postgres",
                "sk_live_123",
                "letmein",
                "private!"
            ]
        );
    }
}
