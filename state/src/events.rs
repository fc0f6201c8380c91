//! Events: every observable change of a run, numbered 1, 2, 3, ... within the run.

use rusqlite::{Row, Transaction, params};

use crate::error::StateError;
use crate::records::{EventRecord, NewEvent};
use crate::runs::run_exists;
use crate::store::Store;

impl Store {
    /// Appends events to a run, in order, in one transaction.
    pub fn append_events(&mut self, run_id: &str, events: &[NewEvent]) -> Result<(), StateError> {
        if events.is_empty() {
            return Ok(());
        }
        self.write("append events", false, |tx| {
            if !run_exists(tx, run_id)? {
                return Err(StateError::RunNotFound(run_id.to_owned()));
            }
            insert_events(tx, run_id, events)
        })
    }

    /// The latest event time of a run (virtual time on `sim`), without loading the
    /// events: a resumed simulation continues from there.
    pub fn last_event_at(&self, run_id: &str) -> Result<Option<i64>, StateError> {
        self.conn
            .prepare_cached("SELECT MAX(at_ms) FROM events WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.query_row([run_id], |row| row.get(0)))
            .map_err(StateError::sqlite("read the latest event time"))
    }

    /// All events of a run, in `seq` order.
    pub fn events(&self, run_id: &str) -> Result<Vec<EventRecord>, StateError> {
        self.events_since(run_id, 0)
    }

    /// The events of a run with `seq > after_seq`, in `seq` order (for following a run:
    /// pass the last `seq` seen).
    pub fn events_since(
        &self,
        run_id: &str,
        after_seq: i64,
    ) -> Result<Vec<EventRecord>, StateError> {
        const OP: &str = "load events";
        let raws = self
            .conn
            .prepare_cached(
                "SELECT seq, run_id, at_ms, kind, step_key, subject, data FROM events \
                 WHERE run_id = ?1 AND seq > ?2 ORDER BY seq",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![run_id, after_seq], RawEvent::from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(StateError::sqlite(OP))?;
        raws.into_iter().map(|raw| raw.into_record(OP)).collect()
    }
}

/// Inserts `events` after the run's last one, inside the caller's transaction (so
/// numbering cannot race: write transactions are serialized by `BEGIN IMMEDIATE`).
pub(crate) fn insert_events(
    tx: &Transaction<'_>,
    run_id: &str,
    events: &[NewEvent],
) -> Result<(), StateError> {
    const OP: &str = "append events";
    if events.is_empty() {
        return Ok(());
    }
    let last: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?1")
        .and_then(|mut stmt| stmt.query_row([run_id], |row| row.get(0)))
        .map_err(StateError::sqlite(OP))?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO events (run_id, seq, at_ms, kind, step_key, subject, data) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(StateError::sqlite(OP))?;
    for (seq, event) in (last + 1..).zip(events) {
        let data = serde_json::to_string(&event.data).map_err(|source| StateError::Json {
            op: OP,
            column: "data",
            source,
        })?;
        insert
            .execute(params![
                run_id,
                seq,
                event.at_ms,
                event.kind,
                event.step_key,
                event.subject,
                data
            ])
            .map_err(StateError::sqlite(OP))?;
    }
    Ok(())
}

struct RawEvent {
    seq: i64,
    run_id: String,
    at_ms: i64,
    kind: String,
    step_key: Option<String>,
    subject: Option<String>,
    data: String,
}

impl RawEvent {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
        Ok(RawEvent {
            seq: row.get(0)?,
            run_id: row.get(1)?,
            at_ms: row.get(2)?,
            kind: row.get(3)?,
            step_key: row.get(4)?,
            subject: row.get(5)?,
            data: row.get(6)?,
        })
    }

    fn into_record(self, op: &'static str) -> Result<EventRecord, StateError> {
        Ok(EventRecord {
            data: serde_json::from_str(&self.data).map_err(|source| StateError::Json {
                op,
                column: "data",
                source,
            })?,
            seq: self.seq,
            run_id: self.run_id,
            at_ms: self.at_ms,
            kind: self.kind,
            step_key: self.step_key,
            subject: self.subject,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::{event, new_run};

    fn kinds(events: &[EventRecord]) -> Vec<(i64, &str)> {
        events.iter().map(|e| (e.seq, e.kind.as_str())).collect()
    }

    #[test]
    fn events_keep_append_order_and_count_per_run() {
        let mut store = Store::open_in_memory().expect("open");
        store.create_run(&new_run("r1", 1_000)).expect("create");
        store.create_run(&new_run("r2", 1_000)).expect("create");
        // Timestamps out of order (virtual time of concurrent steps): seq is what orders.
        store
            .append_events("r1", &[event("a", 30), event("b", 10)])
            .expect("append");
        store.append_events("r2", &[event("x", 5)]).expect("append");
        store
            .append_events(
                "r1",
                &[NewEvent {
                    at_ms: 20,
                    kind: "pod.preempted".into(),
                    step_key: Some("wait_low".into()),
                    subject: Some("exec-1".into()),
                    data: json!({"by": "high-driver"}),
                }],
            )
            .expect("append");
        store.append_events("r1", &[]).expect("nothing to append");

        let r1 = store.events("r1").expect("events");
        assert_eq!(kinds(&r1), [(1, "a"), (2, "b"), (3, "pod.preempted")]);
        assert_eq!(
            r1[2],
            EventRecord {
                seq: 3,
                run_id: "r1".into(),
                at_ms: 20,
                kind: "pod.preempted".into(),
                step_key: Some("wait_low".into()),
                subject: Some("exec-1".into()),
                data: json!({"by": "high-driver"}),
            }
        );
        assert_eq!(kinds(&store.events("r2").expect("events")), [(1, "x")]);
    }

    #[test]
    fn events_since_returns_only_newer_events() {
        let mut store = Store::open_in_memory().expect("open");
        store.create_run(&new_run("r1", 1_000)).expect("create");
        store
            .append_events("r1", &[event("a", 1), event("b", 2), event("c", 3)])
            .expect("append");
        assert_eq!(
            kinds(&store.events_since("r1", 1).expect("since")),
            [(2, "b"), (3, "c")]
        );
        assert!(store.events_since("r1", 3).expect("since").is_empty());
        store.append_events("r1", &[event("d", 4)]).expect("append");
        assert_eq!(
            kinds(&store.events_since("r1", 3).expect("since")),
            [(4, "d")]
        );
        assert_eq!(store.events_since("r1", -5).expect("since").len(), 4);
    }

    #[test]
    fn events_need_an_existing_run_and_a_kind() {
        let mut store = Store::open_in_memory().expect("open");
        store.create_run(&new_run("r1", 1_000)).expect("create");
        assert!(matches!(
            store.append_events("nope", &[event("a", 1)]),
            Err(StateError::RunNotFound(id)) if id == "nope"
        ));
        // One bad event rejects the whole batch.
        assert!(
            store
                .append_events("r1", &[event("a", 1), event("", 2)])
                .is_err()
        );
        assert!(store.events("r1").expect("events").is_empty());
    }
}
