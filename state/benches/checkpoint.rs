//! What a checkpoint costs, against the floor of a bare SQLite commit in the same mode
//! on the same disk.
//!
//! `cargo bench -p runbook-state --bench checkpoint [-- DIR]`
//!
//! The databases are created in DIR, by default cargo's `target/tmp` (on the same disk
//! as the build, unlike `/tmp`, which may be a tmpfs where fsync is free). Each figure
//! is the median (and the best) of five rounds, each on a fresh database: fsync
//! times on shared virtual disks vary a lot from one second to the next.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runbook_state::{NewEvent, NewRun, StepFinish, StepStart, StepStatus, Store};
use rusqlite::{Connection, TransactionBehavior};
use serde_json::json;

const ROUNDS: usize = 5;
const FAST_OPS: u32 = 10_000;
const DURABLE_OPS: u32 = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from);
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::tempdir_in(&base)?;
    println!("databases in {}", dir.path().display());
    println!(
        "{:<58} {:>7} {:>12} {:>10} {:>10}",
        "operation (WAL)", "ops", "median us/op", "best", "total ms"
    );

    let mut fresh = {
        let mut n = 0;
        move || {
            n += 1;
            dir.path().join(format!("db-{n}.sqlite"))
        }
    };

    report(
        "floor: bare commit of a one-row insert, synchronous=NORMAL",
        FAST_OPS,
        || bare_commits(&fresh(), "NORMAL", FAST_OPS),
    )?;
    report("record_attempt, non-durable, no events", FAST_OPS, || {
        record_attempts(&fresh(), FAST_OPS, 0)
    })?;
    report("record_attempt, non-durable, 2 events", FAST_OPS, || {
        record_attempts(&fresh(), FAST_OPS, 2)
    })?;
    report(
        "begin_attempt + finish_attempt (2 events), non-durable",
        FAST_OPS,
        || begin_finish(&fresh(), FAST_OPS, false),
    )?;
    report(
        "floor: bare commit of a one-row insert, synchronous=FULL",
        DURABLE_OPS,
        || bare_commits(&fresh(), "FULL", DURABLE_OPS),
    )?;
    report("begin_attempt, durable", DURABLE_OPS, || {
        durable_begins(&fresh(), DURABLE_OPS)
    })?;
    report(
        "begin_attempt durable + finish_attempt (2 events)",
        DURABLE_OPS,
        || begin_finish(&fresh(), DURABLE_OPS, true),
    )?;
    Ok(())
}

type BenchResult = Result<Duration, Box<dyn std::error::Error>>;

fn report(
    name: &str,
    ops: u32,
    mut round: impl FnMut() -> BenchResult,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut times = (0..ROUNDS)
        .map(|_| round())
        .collect::<Result<Vec<_>, _>>()?;
    times.sort();
    let per_op = |time: Duration| time.as_secs_f64() * 1e6 / f64::from(ops);
    let median = times[ROUNDS / 2];
    println!(
        "{:<58} {:>7} {:>12.2} {:>10.2} {:>10.1}",
        name,
        ops,
        per_op(median),
        per_op(times[0]),
        median.as_secs_f64() * 1e3
    );
    Ok(())
}

/// The floor: what SQLite itself needs to commit one small row in this mode.
fn bare_commits(path: &Path, synchronous: &str, ops: u32) -> BenchResult {
    let mut conn = Connection::open(path)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
        row.get::<_, String>(0)
    })?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")?;
    let started = Instant::now();
    for i in 0..ops {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached("INSERT INTO t (id, v) VALUES (?1, ?2)")?
            .execute(rusqlite::params![i, "step"])?;
        tx.commit()?;
    }
    Ok(started.elapsed())
}

fn store_with_run(path: &Path) -> Result<Store, Box<dyn std::error::Error>> {
    let mut store = Store::open(path)?;
    store.create_run(&NewRun {
        id: "bench".into(),
        runbook_name: "bench".into(),
        runbook_path: "bench.yaml".into(),
        content_hash: "hash".into(),
        params: json!({"steps": FAST_OPS}),
        lock_key: "bench".into(),
        target: "sim".into(),
        started_at_ms: 0,
        pid: std::process::id(),
        host: "bench".into(),
        settings: json!({"target": "sim"}),
        world: None,
    })?;
    Ok(store)
}

/// What a `log` step writes: its input, a small output.
fn start(i: u32, durable: bool) -> StepStart {
    StepStart {
        step_key: format!("log_{i}"),
        step_id: format!("log_{i}"),
        item_index: None,
        is_finally: false,
        attempt: 1,
        idempotency_key: format!("bench-log_{i}-1"),
        input: json!({"message": format!("step {i} of the benchmark")}),
        started_at_ms: i64::from(i),
        clock_started_at_ms: None,
        durable,
    }
}

fn finish(i: u32) -> StepFinish {
    StepFinish {
        status: StepStatus::Succeeded,
        outputs: Some(json!({"message": format!("step {i} of the benchmark")})),
        error: None,
        failure: None,
        finished_at_ms: i64::from(i),
    }
}

fn events(i: u32, count: usize) -> Vec<NewEvent> {
    ["step.started", "step.finished"]
        .into_iter()
        .take(count)
        .map(|kind| NewEvent {
            at_ms: i64::from(i),
            kind: kind.into(),
            step_key: Some(format!("log_{i}")),
            subject: None,
            data: json!({"attempt": 1}),
        })
        .collect()
}

fn record_attempts(path: &Path, ops: u32, event_count: usize) -> BenchResult {
    let mut store = store_with_run(path)?;
    // Built outside the timed loop: we measure the store, not serde_json's allocator.
    let inputs: Vec<_> = (0..ops)
        .map(|i| (start(i, false), finish(i), events(i, event_count)))
        .collect();
    let started = Instant::now();
    for (start, finish, events) in &inputs {
        store.record_attempt("bench", start, finish, events, None)?;
    }
    Ok(started.elapsed())
}

fn durable_begins(path: &Path, ops: u32) -> BenchResult {
    let mut store = store_with_run(path)?;
    let inputs: Vec<_> = (0..ops).map(|i| start(i, true)).collect();
    let started = Instant::now();
    for start in &inputs {
        store.begin_attempt("bench", start)?;
    }
    Ok(started.elapsed())
}

fn begin_finish(path: &Path, ops: u32, durable: bool) -> BenchResult {
    let mut store = store_with_run(path)?;
    let inputs: Vec<_> = (0..ops)
        .map(|i| (start(i, durable), finish(i), events(i, 2)))
        .collect();
    let started = Instant::now();
    for (start, finish, events) in &inputs {
        store.begin_attempt("bench", start)?;
        store.finish_attempt(
            "bench",
            &start.step_key,
            start.attempt,
            finish,
            events,
            None,
        )?;
    }
    Ok(started.elapsed())
}
