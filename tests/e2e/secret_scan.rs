//! Finding a secret anywhere in what a run leaves behind: every column of every table
//! of the state DB (text and blobs, with JSON decoded recursively, arrays of byte
//! values decoded as bytes, strings that hold JSON decoded again), the DB's files as
//! raw bytes (main file, WAL, shared memory), and any other file.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

/// The `table.column` places of the state DB that hold `secret` in any encoding.
pub(crate) fn db_places(db: &Path, secret: &str) -> BTreeSet<String> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("failed to open {}: {e}", db.display()));
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .expect("list the tables");
    assert!(
        tables.iter().any(|t| t == "snapshots"),
        "not a state DB: {tables:?}"
    );
    let mut places = BTreeSet::new();
    for table in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .expect("select a table");
        let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
        let mut rows = stmt.query([]).expect("query a table");
        while let Some(row) = rows.next().expect("read a row") {
            for (i, column) in columns.iter().enumerate() {
                let cell = row.get_ref(i).expect("read a cell");
                if cell_holds(cell, secret) {
                    places.insert(format!("{table}.{column}"));
                }
            }
        }
    }
    places
}

fn cell_holds(cell: ValueRef<'_>, secret: &str) -> bool {
    match cell {
        ValueRef::Null => false,
        ValueRef::Integer(n) => n.to_string().contains(secret),
        ValueRef::Real(x) => x.to_string().contains(secret),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes_hold(bytes, secret),
    }
}

/// Whether bytes hold the secret as they are, or once decoded as JSON.
pub(crate) fn bytes_hold(bytes: &[u8], secret: &str) -> bool {
    contains(bytes, secret.as_bytes())
        || serde_json::from_slice::<Value>(bytes).is_ok_and(|v| json_holds(&v, secret))
}

fn json_holds(value: &Value, secret: &str) -> bool {
    match value {
        // A string may hold JSON itself (a program's output); decoding it again ends,
        // as each decoding is shorter.
        Value::String(s) => {
            s.contains(secret)
                || serde_json::from_str::<Value>(s).is_ok_and(|inner| json_holds(&inner, secret))
        }
        Value::Array(items) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            bytes.is_some_and(|b| contains(&b, secret.as_bytes()))
                || items.iter().any(|v| json_holds(v, secret))
        }
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains(secret) || json_holds(v, secret)),
        Value::Number(n) => n.to_string().contains(secret),
        Value::Null | Value::Bool(_) => false,
    }
}

/// The files of the state DB (`state.db`, `state.db-wal`, ...) that hold the secret as
/// raw bytes, and the names of all of them.
pub(crate) fn raw_db_files(dir: &Path, secret: &str) -> (Vec<String>, Vec<String>) {
    let mut all = Vec::new();
    let mut holding = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the test dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        // Files only: the run locks live in the directory `state.db.locks/`.
        if name.starts_with("state.db") && entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).expect("read a DB file");
            if contains(&bytes, secret.as_bytes()) {
                holding.push(name.clone());
            }
            all.push(name);
        }
    }
    all.sort();
    holding.sort();
    (all, holding)
}

/// Whether a file holds the secret (as bytes, or in JSON it holds).
pub(crate) fn file_holds(path: &Path, secret: &str) -> bool {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    bytes_hold(&bytes, secret)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The scan must find a secret in each encoding the engine could store it in, or a
/// test that finds nothing proves nothing.
#[test]
fn the_scan_finds_a_secret_in_every_stored_encoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("scan.db");
    let conn = Connection::open(&db).expect("create");
    conn.execute_batch(
        "CREATE TABLE snapshots (data BLOB); CREATE TABLE events (n INTEGER, data TEXT);",
    )
    .expect("schema");
    // With a quote, so that none of the encodings holds it as plain bytes.
    let secret = "hun\"ter2";
    let bytes: Vec<u8> = format!("key={secret}\n").into_bytes();
    let inner = serde_json::json!({ "t": secret }).to_string();
    let cases = [
        // Bytes as an array of numbers (how serde writes a `Vec<u8>`).
        serde_json::json!({"objects": {"k": bytes}}).to_string(),
        // An object key, JSON-escaped.
        serde_json::json!({ format!("c-{secret}"): 1 }).to_string(),
        // JSON inside a JSON string: escaped twice.
        serde_json::json!({ "stdout": inner }).to_string(),
    ];
    for (n, case) in cases.iter().enumerate() {
        assert!(
            !contains(case.as_bytes(), secret.as_bytes()),
            "{case} holds the secret as plain bytes"
        );
        assert!(
            bytes_hold(case.as_bytes(), secret),
            "the scan misses {case}"
        );
        conn.execute(
            "INSERT INTO events (n, data) VALUES (?1, ?2)",
            rusqlite::params![n, case],
        )
        .expect("insert");
    }
    conn.execute(
        "INSERT INTO snapshots (data) VALUES (?1)",
        [cases[0].as_bytes()],
    )
    .expect("insert a blob");
    drop(conn);
    assert_eq!(
        db_places(&db, secret),
        BTreeSet::from(["events.data".to_string(), "snapshots.data".to_string()])
    );
    assert!(db_places(&db, "hunter3").is_empty());
}
